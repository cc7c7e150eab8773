"""The input checks shared by the Hopfield modules, and the float16/bfloat16 softmax path.

Every refusal is one line naming what was expected; the low-precision results are compared with
a float64 NumPy computation on the same (rounded) inputs.
"""

import jax.numpy as jnp
import ml_dtypes
import numpy as np
import pytest

from rnnjax.hopfield import dense, discrete, layers, modern

RNG = np.random.default_rng(3)
X = RNG.normal(size=(6, 4))
Q = RNG.normal(size=(3, 4))
BIPOLAR = np.sign(RNG.normal(size=(3, 8)))


def _identity(d=4, dtype=np.float32):
    """One head whose projections are the identity: the layer is the modern update on the inputs."""
    eye = np.eye(d, dtype=dtype)
    zeros = np.zeros((1, d), dtype)
    return layers.Projections(eye[:, None, :], zeros, eye[:, None, :], zeros, eye[:, None, :],
                              zeros, eye[None], np.zeros((d,), dtype))


def _one_line(excinfo):
    assert "\n" not in str(excinfo.value), str(excinfo.value)


def _softmax64(z, beta):
    """``softmax(β z)`` in float64 (``β = inf``: uniform over the maximisers)."""
    z = np.asarray(z, np.float64)
    if np.isinf(beta):
        top = (z == z.max(-1, keepdims=True)).astype(np.float64)
        return top / top.sum(-1, keepdims=True)
    e = np.exp(beta * (z - z.max(-1, keepdims=True)))
    return e / e.sum(-1, keepdims=True)


# ----------------------------------------------------------------------------- at least one pattern

NO_PATTERNS = {
    "modern.update": lambda: modern.update(np.zeros((0, 4)), Q, 1.0),
    "modern.retrieve": lambda: modern.retrieve(np.zeros((0, 4)), Q, 1.0, steps=2),
    "modern.energy": lambda: modern.energy(np.zeros((0, 4)), Q, 1.0),
    "modern.fixed_point": lambda: modern.fixed_point(np.zeros((0, 4)), Q, 1.0),
    "modern.mass_count": lambda: modern.mass_count(np.zeros((0, 4)), Q, 1.0),
    "modern.separation": lambda: modern.separation(np.zeros((0, 4))),
    "discrete.store": lambda: discrete.store(np.zeros((0, 8))),
    "discrete.run_async_patterns": lambda: discrete.run_async_patterns(np.zeros((0, 8)),
                                                                       BIPOLAR[0]),
    "dense.update": lambda: dense.update(np.zeros((0, 8)), BIPOLAR[0]),
    "layers.hopfield": lambda: layers.hopfield(_identity(), Q[None], np.zeros((1, 0, 4))),
    "layers.hopfield_pooling": lambda: layers.hopfield_pooling(
        layers.PoolingParams(_identity(), Q), np.zeros((0, 4))),
    "layers.hopfield_layer": lambda: layers.hopfield_layer(
        layers.LayerParams(_identity(), np.zeros((0, 4))), Q),
}


@pytest.mark.parametrize("call", NO_PATTERNS)
def test_at_least_one_stored_pattern(call):
    with pytest.raises(ValueError, match=r"must hold at least one pattern \(shape \(.*\) with "
                                         r"\w >= 1\), got \(.*0, \d\)$") as e:
        NO_PATTERNS[call]()
    _one_line(e)


def test_init_layer_and_pooling_need_one_pattern_and_one_query(key):
    with pytest.raises(ValueError, match="num_stored must be a positive int, got 0"):
        layers.init_layer(key=key, input_size=4, num_stored=0)
    with pytest.raises(ValueError, match="num_queries must be a positive int, got 0"):
        layers.init_pooling(key=key, input_size=4, num_queries=0)


# ----------------------------------------------------------------------------- beta


@pytest.mark.parametrize("bad", [0.0, -1.0, float("nan"), -np.inf])
def test_layers_refuse_beta_at_most_zero_or_nan(bad):
    with pytest.raises(ValueError, match=r"^beta must be > 0 \(inf is the hard-max limit\)"):
        layers.hopfield(_identity(), Q[None], X[None], beta=bad)


@pytest.mark.parametrize("bad", ["8", 1j, np.array([1 + 1j])])
def test_beta_must_be_real(bad):
    for call in (lambda: modern.update(X, Q, bad),
                 lambda: layers.hopfield(_identity(), Q[None], X[None], beta=bad)):
        with pytest.raises(TypeError, match=r"^beta must be a real number > 0") as e:
            call()
        _one_line(e)


def test_layers_beta_inf_is_the_hard_max_as_in_modern():
    x = np.concatenate([X, X[:1]]).astype(np.float32)          # an exact tie: split equally
    q = np.concatenate([Q, X[:1]]).astype(np.float32)
    want = _softmax64(q.astype(np.float64) @ x.T.astype(np.float64), np.inf) @ x
    got = layers.hopfield(_identity(), q[None], x[None], beta=np.inf)[0]
    np.testing.assert_allclose(got, want, rtol=1e-6)
    np.testing.assert_allclose(modern.update(x, q, np.inf), want, rtol=1e-6)
    # with a key mask the maximiser is taken among the allowed patterns only
    mask = np.ones((1, len(x)), bool)
    mask[0, np.argmax(q[0] @ x.T)] = False
    z = np.where(mask[0], q.astype(np.float64) @ x.T, -np.inf)
    got = layers.hopfield(_identity(), q[None], x[None], beta=np.inf, mask=mask)[0]
    np.testing.assert_allclose(got, _softmax64(z, np.inf) @ x, rtol=1e-6)
    # three steps at beta = inf: the retrieved pattern is a fixed point
    np.testing.assert_allclose(layers.hopfield(_identity(), q[None], x[None], beta=np.inf,
                                               steps=3)[0], want, rtol=1e-6)


# ----------------------------------------------------------------------------- integer counts

COUNTS = {
    "modern.retrieve steps": lambda v: modern.retrieve(X, Q, 1.0, steps=v),
    "modern.fixed_point max_steps": lambda v: modern.fixed_point(X, Q, 1.0, max_steps=v),
    "layers.hopfield steps": lambda v: layers.hopfield(_identity(), Q[None], X[None], steps=v),
    "discrete.run_sync max_steps": lambda v: discrete.run_sync(discrete.store(BIPOLAR),
                                                               BIPOLAR[0], max_steps=v),
    "discrete.run_async max_sweeps": lambda v: discrete.run_async(discrete.store(BIPOLAR),
                                                                  BIPOLAR[0], max_sweeps=v),
    "discrete.run_async_patterns max_sweeps": lambda v: discrete.run_async_patterns(
        BIPOLAR, BIPOLAR[0], max_sweeps=v),
    "dense.run_async max_sweeps": lambda v: dense.run_async(BIPOLAR, BIPOLAR[0], max_sweeps=v),
}


@pytest.mark.parametrize("value", [2.7, 2.0, True, "3"])
@pytest.mark.parametrize("call", COUNTS)
def test_step_counts_are_ints(call, value):
    name = call.split()[1]
    with pytest.raises(ValueError, match=rf"^{name} must be a (non-negative|positive) int, "
                                         rf"got {value!r}$"):
        COUNTS[call](value)


def test_integer_steps_of_numpy_type_run_that_many_updates():
    np.testing.assert_allclose(modern.retrieve(X, Q, 1.0, steps=np.int64(2)),
                               modern.update(X, modern.update(X, Q, 1.0), 1.0), rtol=1e-6)


# ----------------------------------------------------------------------------- mass


@pytest.mark.parametrize("bad", [1.5, 0.0, -0.1, float("nan")])
def test_mass_lies_in_zero_one(bad):
    with pytest.raises(ValueError, match=r"^mass must be in \(0, 1\], got "):
        modern.mass_count(X, Q, 1.0, mass=bad)


def test_mass_one_counts_every_pattern_with_weight():
    # at beta -> 0 every pattern carries weight 1/N: a mass of 1 needs all of them (not N + 1)
    counts = modern.mass_count(X, Q, 1e-6, mass=1.0)
    assert counts.tolist() == [len(X)] * len(Q)


# ----------------------------------------------------------------------------- dtypes

DTYPE_CALLS = {
    "modern.update stored": lambda a: modern.update(a, Q, 1.0),
    "modern.update query": lambda a: modern.update(X, a, 1.0),
    "modern.energy query": lambda a: modern.energy(X, a, 1.0),
    "layers.hopfield query": lambda a: layers.hopfield(_identity(), a, X[None]),
    "layers.hopfield stored": lambda a: layers.hopfield(_identity(), Q[None], a),
    "discrete.store patterns": lambda a: discrete.store(a),
    "discrete.energy state": lambda a: discrete.energy(discrete.store(BIPOLAR), a),
    "discrete.run_async state": lambda a: discrete.run_async(discrete.store(BIPOLAR), a),
    "dense.update patterns": lambda a: dense.update(a, BIPOLAR[0]),
}


def _bad_array(call, kind):
    """An array of the shape the call expects, of a complex or a string dtype."""
    shape = {"stored": X.shape, "query": Q.shape, "patterns": BIPOLAR.shape,
             "state": BIPOLAR[0].shape}[call.split()[1]]
    if call.startswith("layers"):
        shape = (1, *shape)
    if call.startswith(("discrete", "dense")):
        base = np.ones(shape)
    else:
        base = np.full(shape, 0.5)
    return base.astype(np.complex64) if kind == "complex" else base.astype(str)


@pytest.mark.parametrize("kind", ["complex", "string"])
@pytest.mark.parametrize("call", DTYPE_CALLS)
def test_complex_and_string_arrays_are_refused_in_one_line(call, kind):
    name = call.split()[1]
    with pytest.raises(TypeError, match=rf"^{name} must be an array of real numbers "
                                        rf"\(float, int or bool\), got dtype ") as e:
        DTYPE_CALLS[call](_bad_array(call, kind))
    _one_line(e)


LOW = {"float16": np.float16, "bfloat16": ml_dtypes.bfloat16}


@pytest.mark.parametrize("beta", [1e4, 3e5, np.inf])
@pytest.mark.parametrize("dtype", LOW)
def test_low_precision_at_large_beta_matches_float64(dtype, beta):
    dt = LOW[dtype]
    x = (3 * RNG.normal(size=(16, 8))).astype(dt)                 # beta * z overflows float16
    q = (3 * RNG.normal(size=(5, 8))).astype(dt)
    x64, q64 = x.astype(np.float64), q.astype(np.float64)
    z = q64 @ x64.T
    p = _softmax64(z, beta)
    want = p @ x64
    tol = {"float16": 2e-3, "bfloat16": 2e-2}[dtype] * np.abs(x64).max()
    got = modern.update(x, q, beta)
    assert got.dtype == jnp.dtype(dt)
    np.testing.assert_allclose(np.asarray(got, np.float64), want, atol=tol)
    got = layers.hopfield(_identity(8, dt), q[None], x[None], beta=beta)[0]
    assert got.dtype == jnp.dtype(dt)
    np.testing.assert_allclose(np.asarray(got, np.float64), want, atol=tol)
    lse = z.max(-1) if np.isinf(beta) else (
        z.max(-1) + np.log(np.exp(beta * (z - z.max(-1, keepdims=True))).sum(-1)) / beta)
    log_n = 0.0 if np.isinf(beta) else np.log(len(x)) / beta
    energy = -lse + 0.5 * (q64**2).sum(-1) + log_n + 0.5 * (x64**2).sum(-1).max()
    got = modern.energy(x, q, beta)
    assert got.dtype == jnp.dtype(dt)
    np.testing.assert_allclose(np.asarray(got, np.float64), energy, rtol=2e-2)
    np.testing.assert_array_equal(modern.mass_count(x, q, beta, mass=0.9),
                                  (np.cumsum(-np.sort(-p, -1), -1) < 0.9).sum(-1) + 1)
