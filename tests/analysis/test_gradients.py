"""Gradient flow through time against a hand-written numpy backward pass."""

import jax
import jax.numpy as jnp
import numpy as np

import rnnjax
from rnnjax import analysis


def test_gradient_flow_matches_numpy_bptt(key):
    """tanh RNN, loss 0.5||h_T - target||^2: delta_T = h_T - target,
    delta_{t-1} = W_h (delta_t * (1 - h_t^2))  (row-vector convention h_t = tanh(x W_x + h W_h + b))."""
    n, T = 7, 15
    cell = rnnjax.cells.elman(n)
    with jax.enable_x64(True):
        params = analysis.astype(cell.init(key, 3), jnp.float64)
        params = params._replace(w_h=1.4 * params.w_h)
        xs = jax.random.normal(jax.random.key(1), (T, 3), jnp.float64)
        target = jnp.linspace(-0.5, 0.5, n)
        h0 = 0.1 * jnp.ones(n)
        loss = lambda c, ys: 0.5 * jnp.sum((c - target) ** 2)
        grads = analysis.carry_gradients(cell, params, xs, loss, h0)
        flow = analysis.gradient_flow(cell, params, xs, loss, h0)

        w_x, w_h, b = (np.asarray(a) for a in params)
        hs = [np.asarray(h0)]
        for x in np.asarray(xs):
            hs.append(np.tanh(x @ w_x + hs[-1] @ w_h + b))
        delta = hs[-1] - np.asarray(target)
        ref = [delta]
        for t in range(T, 0, -1):
            delta = w_h @ (delta * (1.0 - hs[t] ** 2))
            ref.append(delta)
        ref = np.stack(ref[::-1])
        np.testing.assert_allclose(grads, ref, rtol=1e-10, atol=1e-14)
        np.testing.assert_allclose(flow, np.linalg.norm(ref, axis=1), rtol=1e-10)


def test_gradient_flow_lstm_carry_and_outputs(key):
    """LSTM: the gradient covers (h, c) together; a loss on ys[-1] equals one on h_T, and the
    gradient at h_0 equals the one jax.grad gives through rnnjax.unroll."""
    cell = rnnjax.cells.lstm(4)
    params = cell.init(key, 2)
    xs = jax.random.normal(jax.random.key(2), (10, 2))
    on_ys = lambda c, ys: jnp.sum(jnp.sin(ys[-1]))
    grads = analysis.carry_gradients(cell, params, xs, on_ys)
    assert grads.shape == (11, 8)
    np.testing.assert_array_equal(grads[-1], 0.0)  # y_T is computed from h_{T-1}
    carry0 = cell.initial_carry(params)

    def through_unroll(c0):
        _, ys = rnnjax.unroll(cell, params, xs, carry=c0)
        return jnp.sum(jnp.sin(ys[-1]))

    g0 = jax.grad(through_unroll)(carry0)
    np.testing.assert_allclose(grads[0], jnp.concatenate([g0.h, g0.c]), rtol=1e-5, atol=1e-7)
