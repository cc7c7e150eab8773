"""The uRNN cell and the residual LRU / minRNN blocks against NumPy loops over their equations."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import rnnjax
from rnnjax.cells.urnn import permutation, urnn
from rnnjax.models.blocks import lru_block, minrnn_block
from tests.reference import sigmoid

T, B, I = 7, 3, 4


def _xs(key):
    return np.asarray(jax.random.normal(key, (B, T, I)))


def _unitary_matrix(p, perm):
    """W = D3 R2 F^-1 D2 Π R1 F D1 as an explicit N x N matrix (column convention)."""
    N = p.theta.shape[1]
    d = [np.diag(np.exp(1j * np.asarray(p.theta[j], np.float64))) for j in range(3)]
    v = np.asarray(p.v_re, np.float64) + 1j * np.asarray(p.v_im, np.float64)
    r = [np.eye(N) - 2 * np.outer(v[j], v[j].conj()) / np.vdot(v[j], v[j]).real for j in range(2)]
    f = np.fft.fft(np.eye(N), axis=0, norm="ortho")
    pi = np.eye(N)[perm]  # (Π h)_i = h_perm[i]
    return d[2] @ r[1] @ np.linalg.inv(f) @ d[1] @ pi @ r[0] @ f @ d[0]


def test_urnn_equals_a_numpy_loop_and_its_transition_is_unitary(key):
    N = 8
    cell = urnn(N, permutation_seed=3)
    p = cell.init(key, I)
    p = p._replace(b=jnp.linspace(-0.5, 0.2, N))  # some units switched off by modReLU
    xs = _xs(jax.random.fold_in(key, 1))
    _, ys = rnnjax.unroll(cell, p, jnp.asarray(xs))
    W = _unitary_matrix(p, permutation(N, 3))
    np.testing.assert_allclose(W.conj().T @ W, np.eye(N), atol=1e-10)
    V = np.asarray(p.w_re, np.float64) + 1j * np.asarray(p.w_im, np.float64)
    b = np.asarray(p.b, np.float64)
    h = np.zeros((B, N), complex)
    for t in range(T):
        z = h @ W.T + xs[:, t] @ V
        mag = np.abs(z)
        h = np.maximum(mag + b, 0.0) / (mag + 1e-5) * z  # modReLU, with its epsilon
        np.testing.assert_allclose(ys[:, t], np.concatenate([h.real, h.imag], -1), atol=2e-5)


def _ln(s, g, beta):
    mu = s.mean(-1, keepdims=True)
    return (s - mu) / np.sqrt(((s - mu) ** 2).mean(-1, keepdims=True) + 1e-5) * g + beta


def _gelu(x):  # tanh approximation, jax.nn.gelu's default
    return 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x ** 3)))


def _np(tree):
    return jax.tree.map(lambda a: np.asarray(a, np.float64), tree)


def test_lru_block_equals_a_numpy_loop(key):
    cell = lru_block(6, n_layers=2, state_size=5)
    p = cell.init(key, I)
    xs = _xs(jax.random.fold_in(key, 1))
    _, ys = rnnjax.unroll(cell, p, jnp.asarray(xs))
    q = _np(p)
    hs = [np.zeros((B, 5), complex) for _ in q.layers]
    for t in range(T):
        s = xs[:, t] @ q.w_in + q.b_in
        for li, lp in enumerate(q.layers):
            u = _ln(s, *lp.norm)
            r = lp.rnn
            lam = np.exp(-np.exp(r.nu_log) + 1j * np.exp(r.theta_log))
            hs[li] = lam * hs[li] + np.exp(r.gamma_log) * (u @ (r.b_re + 1j * r.b_im))
            y = (hs[li] @ (r.c_re + 1j * r.c_im)).real + u @ r.d
            y = _gelu(y)
            w_a, b_a, w_b, b_b = lp.mix
            s = s + (y @ w_a + b_a) * sigmoid(y @ w_b + b_b)
        np.testing.assert_allclose(ys[:, t], s, atol=2e-4, rtol=1e-4)


@pytest.mark.parametrize("kind", ["mingru", "minlstm"])
def test_minrnn_block_equals_a_numpy_loop(key, kind):
    cell = minrnn_block(6, kind=kind, n_layers=2)
    p = cell.init(key, I)
    xs = _xs(jax.random.fold_in(key, 1))
    _, ys = rnnjax.unroll(cell, p, jnp.asarray(xs))
    q = _np(p)
    hs = [np.zeros((B, 6)) for _ in q.layers]
    for t in range(T):
        s = xs[:, t] @ q.w_in + q.b_in
        for li, lp in enumerate(q.layers):
            u = _ln(s, *lp.norm) @ lp.rnn.w_x + lp.rnn.b
            if kind == "mingru":  # Feng et al.: h = (1 - z) h + z h~
                z = sigmoid(u[:, :6])
                hs[li] = (1 - z) * hs[li] + z * u[:, 6:]
            else:  # normalised forget and input gates: h = f' h + i' h~
                f, i_, h_tilde = sigmoid(u[:, :6]), sigmoid(u[:, 6:12]), u[:, 12:]
                hs[li] = (f * hs[li] + i_ * h_tilde) / (f + i_)
            s = s + hs[li]
            w1, b1, w2, b2, g, beta = lp.mix
            s = s + _gelu(_ln(s, g, beta) @ w1 + b1) @ w2 + b2
        np.testing.assert_allclose(ys[:, t], s, atol=2e-4, rtol=1e-4)


def test_block_arguments_are_checked():
    with pytest.raises(ValueError, match="kind must be one of"):
        minrnn_block(4, kind="gru")


BLOCKS = {"lru": lambda: lru_block(6, n_layers=2, state_size=5),
          "mingru": lambda: minrnn_block(6, kind="mingru"),
          "minlstm": lambda: minrnn_block(6, kind="minlstm")}
OPTIONS = {"plain": {}, "reverse": {"reverse": True}, "carries": {"return_carries": True},
           "lengths": {"lengths": np.array([7, 0, 3])},
           "lengths_reverse": {"lengths": np.array([5, 7, 2]), "reverse": True},
           "resets": {"resets": np.eye(3, 7, 2, dtype=bool)}}
DEFAULT_TIER = {("lru", "lengths_reverse"), ("mingru", "resets"), ("minlstm", "lengths")}


@pytest.mark.parametrize("block,option", [
    pytest.param(b, o, marks=() if (b, o) in DEFAULT_TIER else pytest.mark.slow)
    for b in BLOCKS for o in OPTIONS])
def test_a_block_run_layer_by_layer_equals_its_step_scanned(key, block, option):
    """``unroll`` of a block runs each recurrence over the whole sequence, then the
    position-wise parts; it equals ``lax.scan`` of the block's ``step`` (outputs, final carry,
    gradients), with padding (NaN there), lengths 0, reversal and resets."""
    cell, options = BLOCKS[block](), OPTIONS[option]
    stepwise = cell._replace(sequence=None)
    p = cell.init(key, I)
    xs = jnp.asarray(_xs(jax.random.fold_in(key, 1)))
    if "lengths" in options:
        pad = np.arange(T)[None, :] >= options["lengths"][:, None]
        xs = jnp.where(pad[..., None], jnp.nan, xs)

    def run(c, p):
        carry, out = rnnjax.unroll(c, p, xs, **options)
        ys = out[0] if options.get("return_carries") else out
        real = jax.tree.leaves(jax.tree.map(lambda a: jnp.abs(a) if jnp.iscomplexobj(a) else a,
                                            carry))
        return jnp.sum(ys ** 2) + sum(jnp.sum(a) for a in real), (carry, out)

    (la, (ca, oa)), ga = jax.value_and_grad(lambda p: run(cell, p), has_aux=True)(p)
    (lb, (cb, ob)), gb = jax.value_and_grad(lambda p: run(stepwise, p), has_aux=True)(p)
    for a, b in zip(jax.tree.leaves((ca, oa, ga)), jax.tree.leaves((cb, ob, gb)), strict=True):
        assert np.all(np.isfinite(np.asarray(a)))
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=2e-4, atol=2e-5)


def test_the_lru_block_runs_as_a_parallel_scan(key):
    cell = lru_block(6, n_layers=2, state_size=5)
    p = cell.init(key, I)
    xs = jnp.asarray(_xs(jax.random.fold_in(key, 1)))
    ca, ya = rnnjax.unroll(cell, p, xs, method="associative")
    cb, yb = rnnjax.unroll(cell._replace(sequence=None), p, xs)
    np.testing.assert_allclose(np.asarray(ya), np.asarray(yb), rtol=1e-4, atol=1e-5)
    for a, b in zip(jax.tree.leaves(ca), jax.tree.leaves(cb), strict=True):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-4, atol=1e-5)
