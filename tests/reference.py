"""Independent NumPy re-implementations of the cell equations, and a finite-difference checker.

Written from the equations (and PyTorch's documented ones), not from rnnjax's code, so the tests
that compare against them can fail.
"""

import jax
import numpy as np


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def elman_step(w_x, w_h, b, h, x, act=np.tanh):
    return act(x @ w_x + h @ w_h + b)


def lstm_step(w_x, w_h, b, h, c, x):
    z = x @ w_x + h @ w_h + b
    H = h.shape[-1]
    i, f, g, o = (z[..., k * H:(k + 1) * H] for k in range(4))
    c = sigmoid(f) * c + sigmoid(i) * np.tanh(g)
    return sigmoid(o) * np.tanh(c), c


def gru_step(w_x, w_h, b, b_hn, h, x, reset_after=True):
    H = h.shape[-1]
    gx = x @ w_x + b
    r = sigmoid(gx[..., :H] + h @ w_h[:, :H])
    z = sigmoid(gx[..., H:2 * H] + h @ w_h[:, H:2 * H])
    if reset_after:
        n = np.tanh(gx[..., 2 * H:] + r * (h @ w_h[:, 2 * H:] + b_hn))
    else:
        n = np.tanh(gx[..., 2 * H:] + (r * h) @ w_h[:, 2 * H:])
    return (1 - z) * n + z * h


def torch_rnn(sd, xs, h0, nonlinearity=np.tanh):
    """PyTorch ``nn.RNN`` equations, one layer, time-major xs (T, B, I)."""
    h, out = h0, []
    for x in xs:
        h = nonlinearity(x @ sd["weight_ih_l0"].T + sd["bias_ih_l0"] + h @ sd["weight_hh_l0"].T
                         + sd["bias_hh_l0"])
        out.append(h)
    return np.stack(out), h


def torch_lstm(sd, xs, h0, c0):
    """PyTorch ``nn.LSTM`` equations (gates i, f, g, o), one layer, time-major xs."""
    h, c, out = h0, c0, []
    H = h0.shape[-1]
    for x in xs:
        g = x @ sd["weight_ih_l0"].T + sd["bias_ih_l0"] + h @ sd["weight_hh_l0"].T + sd["bias_hh_l0"]
        i, f, gg, o = sigmoid(g[:, :H]), sigmoid(g[:, H:2 * H]), np.tanh(g[:, 2 * H:3 * H]), sigmoid(g[:, 3 * H:])
        c = f * c + i * gg
        h = o * np.tanh(c)
        out.append(h)
    return np.stack(out), (h, c)


def torch_gru(sd, xs, h0):
    """PyTorch ``nn.GRU`` equations (gates r, z, n), one layer, time-major xs."""
    h, out = h0, []
    H = h0.shape[-1]
    for x in xs:
        gi = x @ sd["weight_ih_l0"].T + sd["bias_ih_l0"]
        gh = h @ sd["weight_hh_l0"].T + sd["bias_hh_l0"]
        r = sigmoid(gi[:, :H] + gh[:, :H])
        z = sigmoid(gi[:, H:2 * H] + gh[:, H:2 * H])
        n = np.tanh(gi[:, 2 * H:] + r * gh[:, 2 * H:])
        h = (1 - z) * n + z * h
        out.append(h)
    return np.stack(out), h


def check_grad_fd(f, params, *, key, eps=1e-6, rtol=1e-6, n_dirs=3):
    """Compare ``jax.grad(f)`` with central finite differences along random directions (float64).

    ``f`` maps a pytree of float64 arrays to a scalar; the directional derivative
    ``(f(p + εv) − f(p − εv)) / 2ε`` must equal ``⟨∇f(p), v⟩``.
    """
    f = jax.jit(f)
    grad = jax.jit(jax.grad(f))(params)
    leaves, treedef = jax.tree.flatten(params)
    for k in jax.random.split(key, n_dirs):
        ks = jax.random.split(k, len(leaves))
        v = treedef.unflatten([jax.random.normal(kk, leaf.shape, leaf.dtype)
                               for kk, leaf in zip(ks, leaves, strict=True)])
        plus = jax.tree.map(lambda p, d: p + eps * d, params, v)
        minus = jax.tree.map(lambda p, d: p - eps * d, params, v)
        fd = (f(plus) - f(minus)) / (2 * eps)
        an = sum(float(np.vdot(g, d)) for g, d in zip(jax.tree.leaves(grad), jax.tree.leaves(v),
                                                       strict=True))
        np.testing.assert_allclose(float(fd), an, rtol=rtol, atol=1e-8)
