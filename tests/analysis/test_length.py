"""``length=`` in every analysis function: a vmapped padded batch equals slicing each sequence.

Every row of the padded batch starts with the same real steps (then NaN padding), so for the
quantities that are causal (Jacobian products, running Lyapunov estimates) the sliced references
are prefixes of one unpadded run: one reference compile instead of one per length.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import rnnjax
from rnnjax import analysis

I, H, T = 2, 3, 7
N = 2 * H  # the LSTM's flattened carry (h, c)
LENGTHS = np.array([7, 4, 2, 3])
CELL = rnnjax.cells.lstm(H)


def setup():
    rng = np.random.default_rng(0)
    params = rnnjax.cells.LSTMParams(*(jnp.asarray(rng.normal(0, 0.8, s), jnp.float32)
                                       for s in ((I, 4 * H), (H, 4 * H), (4 * H,))))
    xs = np.repeat(rng.normal(size=(1, T, I)).astype(np.float32), len(LENGTHS), axis=0)
    for b, n in enumerate(LENGTHS):
        xs[b, n:] = np.nan  # padding never reaches the cell
    return params, jnp.asarray(xs)


def padded_equals_sliced(batched, one, past, atol=1e-5):
    """Row b of ``batched`` (time on axis 0) equals ``one(b, L)`` up to the length and ``past(b, L)``
    after it. ``one`` is called with the unpadded sequence; a causal one only once."""
    full = np.asarray(one(0, T))
    for b, n in enumerate(LENGTHS):
        got = np.asarray(batched[b])
        want = full[:n] if one.causal else np.asarray(one(b, n))
        assert np.all(np.isfinite(got))
        np.testing.assert_allclose(got[: len(want)], want, rtol=1e-5, atol=atol)
        np.testing.assert_allclose(got[len(want):], np.broadcast_to(past(b, n, got), got[len(want):].shape),
                                   rtol=1e-5, atol=atol)


def causal(one):
    one.causal = True
    return one


@pytest.mark.parametrize("method", ["dense", "matfree"])
def test_log_jacobian_norms_with_length(method):
    params, xs = setup()
    f = jax.jit(jax.vmap(lambda x, n: analysis.log_jacobian_norms(CELL, params, x, length=n,
                                                                  method=method, k=N)))
    got = f(xs, jnp.asarray(LENGTHS))
    again = f(xs[::-1], jnp.asarray(LENGTHS[::-1].copy()))  # other lengths: no new compile
    assert f._cache_size() == 1
    np.testing.assert_allclose(again[::-1], got, rtol=1e-6, atol=1e-6)
    one = causal(lambda b, n: analysis.log_jacobian_norms(CELL, params, xs[b, :n], method=method, k=N))
    padded_equals_sliced(got, one, lambda b, n, g: g[n - 1])


def test_jacobian_norms_singular_values_and_step_jacobians_with_length():
    params, xs = setup()
    lengths = jnp.asarray(LENGTHS)
    norms = jax.vmap(lambda x, n: analysis.jacobian_norms(CELL, params, x, length=n))(xs, lengths)
    sv = jax.vmap(lambda x, n: analysis.jacobian_singular_values(CELL, params, x, length=n,
                                                                 log=False))(xs, lengths)
    jacs = jax.vmap(lambda x, n: analysis.step_jacobians(CELL, params, x, length=n))(xs, lengths)
    padded_equals_sliced(norms, causal(lambda b, n: analysis.jacobian_norms(CELL, params, xs[b, :n])),
                         lambda b, n, g: g[n - 1])
    padded_equals_sliced(sv, causal(lambda b, n: analysis.jacobian_singular_values(
        CELL, params, xs[b, :n], log=False)), lambda b, n, g: g[n - 1])
    padded_equals_sliced(jacs, causal(lambda b, n: analysis.step_jacobians(CELL, params, xs[b, :n])),
                         lambda b, n, g: np.eye(N))
    # A zero length: P_t = I for every t. Traced lengths outside 0..T are clipped.
    clipped = jax.vmap(lambda x, n: analysis.log_jacobian_norms(CELL, params, x, length=n))(
        jnp.stack([xs[1], xs[0]]), jnp.array([-3, T + 5]))
    np.testing.assert_array_equal(clipped[0], 0.0)
    np.testing.assert_allclose(clipped[1], np.log(norms[0]), rtol=1e-5, atol=1e-6)


@pytest.mark.slow
def test_lyapunov_spectrum_with_length():
    params, xs = setup()
    f = lambda x, n: analysis.lyapunov_spectrum(CELL, params, x, k=N, warmup=1, length=n,
                                                return_history=True)
    exps, hist = jax.vmap(f)(xs, jnp.asarray(LENGTHS))
    # The sliced runs' running estimates are the unpadded run's, up to the order of the exponents.
    _, full = analysis.lyapunov_spectrum(CELL, params, xs[0], k=N, warmup=1, return_history=True)
    desc = lambda a: -np.sort(-np.asarray(a), axis=-1)
    for b, n in enumerate(LENGTHS):
        np.testing.assert_allclose(exps[b], desc(full[n - 2]), rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(desc(hist[b, : n - 1]), desc(full[: n - 1]), rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(hist[b, n - 1:], np.broadcast_to(exps[b], hist[b, n - 1:].shape),
                                   rtol=1e-5, atol=1e-5)
    e3 = analysis.lyapunov_spectrum(CELL, params, xs[3, :3], k=N, warmup=1)  # one sliced run
    np.testing.assert_allclose(exps[3], e3, rtol=1e-5, atol=1e-5)
    nan = jax.vmap(lambda x, n: analysis.lyapunov_spectrum(CELL, params, x, warmup=1, length=n))(
        xs[:1], jnp.array([1]))  # no step counted
    assert np.all(np.isnan(nan))


def test_gradient_flow_with_length():
    params, xs = setup()
    loss = lambda c, ys: jnp.sum(jnp.tanh(c.h) * jnp.arange(1.0, H + 1.0)) + jnp.sum(ys ** 2)
    f = lambda x, n: analysis.carry_gradients(CELL, params, x, loss, length=n)
    grads = jax.vmap(f)(xs, jnp.asarray(LENGTHS))
    flow = jax.vmap(lambda x, n: analysis.gradient_flow(CELL, params, x, loss, length=n))(
        xs, jnp.asarray(LENGTHS))
    one = lambda b, n: analysis.carry_gradients(CELL, params, xs[b, :n], loss)
    one.causal = False  # the loss is on the final carry: slice every length
    padded_equals_sliced(grads, one, lambda b, n, g: g[n])
    np.testing.assert_allclose(flow, np.linalg.norm(grads, axis=-1), rtol=1e-6)


def test_length_bad_input():
    params, xs = setup()
    x = xs[0]
    for bad in (1.5, True, jnp.array([3]), "3"):
        with pytest.raises(TypeError, match="length must be an integer scalar"):
            analysis.log_jacobian_norms(CELL, params, x, length=bad)
    for fn in (analysis.jacobian_norms, analysis.jacobian_singular_values, analysis.step_jacobians):
        with pytest.raises(ValueError, match=rf"length must lie in 0..{T}"):
            fn(CELL, params, x, length=T + 1)
    with pytest.raises(ValueError, match=rf"length must lie in 0..{T}"):
        analysis.gradient_flow(CELL, params, x, lambda c, ys: jnp.sum(ys), length=-1)
    with pytest.raises(ValueError, match=rf"length must lie in 3..{T}"):
        analysis.lyapunov_spectrum(CELL, params, x, warmup=2, length=np.int64(2))
