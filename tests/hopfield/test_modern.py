"""Modern continuous Hopfield networks against NumPy references in float64."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import rnnjax
from rnnjax.hopfield import modern


def np_softmax(z):
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def np_energy(x, xi, beta):
    z = beta * x @ xi
    lse = (np.log(np.sum(np.exp(z - z.max()))) + z.max()) / beta
    return -lse + 0.5 * xi @ xi + np.log(len(x)) / beta + 0.5 * np.max(np.sum(x * x, axis=1))


def test_retrieve_and_energy_match_numpy_loop():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(20, 6))
    queries = rng.normal(size=(3, 6))
    with jax.enable_x64(True):
        for beta in (0.3, 2.0):
            got = modern.retrieve(x, queries, beta, steps=3)
            for q, g in zip(queries, got, strict=True):
                xi = q.copy()
                for _ in range(3):
                    xi = x.T @ np_softmax(beta * x @ xi)
                np.testing.assert_allclose(g, xi, rtol=1e-12, atol=1e-12)
            e = modern.energy(x, queries, beta)
            np.testing.assert_allclose(e, [np_energy(x, q, beta) for q in queries], rtol=1e-12)
        np.testing.assert_array_equal(modern.retrieve(x, queries, 1.0, steps=0), queries)


def test_update_never_increases_energy():
    """Random stored patterns, scales, queries and β (10⁻² … 10^1.5): five updates each."""
    rng = np.random.default_rng(1)

    @jax.jit
    def energies(x, xi, beta):
        def body(xi, _):
            new = modern.update(x, xi, beta)
            return new, modern.energy(x, new, beta)
        _, e = jax.lax.scan(body, xi, None, length=5)
        return jnp.concatenate([modern.energy(x, xi, beta)[None], e])

    with jax.enable_x64(True):
        for trial in range(16):
            n, d = (3, 50)[trial % 2], (4, 12)[trial % 4 // 2]     # four shapes
            x = rng.normal(size=(n, d)) * rng.uniform(0.2, 3)
            xi = rng.normal(size=(5, d)) * 2
            e = np.asarray(energies(x, xi, 10 ** rng.uniform(-2, 1.5)))
            assert np.all(np.diff(e, axis=0) <= 1e-10), (trial, e)
            assert np.all(e >= -1e-10)           # with its constants the energy is >= 0


def test_fixed_point_stopping_rule(key):
    x = jax.random.normal(key, (30, 8))
    q = jax.random.normal(jax.random.fold_in(key, 1), (4, 8))
    fp = modern.fixed_point(x, q, 0.5, eps=1e-5, max_steps=200)
    assert bool(jnp.all(fp.converged))
    # the last update moved less than eps; one more update moves it less still
    assert float(jnp.max(jnp.linalg.norm(modern.update(x, fp.state, 0.5) - fp.state, axis=-1))) < 1e-5
    # per query, state = `steps` plain updates
    for i in range(4):
        np.testing.assert_allclose(fp.state[i], modern.retrieve(x, q[i], 0.5, steps=int(fp.steps[i])),
                                   atol=1e-6)


def test_large_beta_retrieves_separated_patterns_in_one_step(key):
    d = 64
    x = jax.random.rademacher(key, (200, d)).astype(jnp.float32) / jnp.sqrt(d)
    flips = jax.random.bernoulli(jax.random.fold_in(key, 2), 0.1, (200, d))
    cues = jnp.where(flips, -x, x)
    # separation is about 1 - O(1/sqrt(d)); β = 50 satisfies Ramsauer's Theorem 3 bound
    assert float(jnp.min(modern.separation(x))) > 0.4
    out = modern.retrieve(x, cues, 50.0)
    np.testing.assert_allclose(out, x, atol=1e-3)
    np.testing.assert_array_equal(modern.mass_count(x, cues, 50.0), jnp.ones(200, jnp.int32))


def test_mass_count_matches_sorted_cumsum():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(50, 5))
    q = rng.normal(size=(7, 5))
    for beta in (0.01, 1.0, 10.0):
        p = np_softmax(beta * q @ x.T)
        want = [int(np.searchsorted(np.cumsum(np.sort(r)[::-1]), 0.9) + 1) for r in p]
        np.testing.assert_array_equal(modern.mass_count(x, q, beta), want)


def test_cell_iterates_the_update_under_unroll(key):
    x = jax.random.normal(key, (40, 8))
    cues = jax.random.normal(jax.random.fold_in(key, 1), (3, 8))
    cell = modern.cell(40, 8, 2.0)
    xs = jnp.zeros((3, 6, 8)).at[:, 0].set(cues)       # the cue at t = 0, then no input
    carry, ys = rnnjax.unroll(cell, modern.CellParams(x), xs)
    for t in range(6):
        np.testing.assert_allclose(ys[:, t], modern.retrieve(x, cues, 2.0, steps=t + 1), atol=1e-5)
    np.testing.assert_allclose(carry, ys[:, -1])
    params = cell.init(key, 8)
    assert params.stored.shape == (40, 8)


def test_bad_shapes():
    with pytest.raises(ValueError, match=r"\(N, d\)"):
        modern.retrieve(np.ones(5), np.ones(5), 1.0)
    with pytest.raises(ValueError, match="query"):
        modern.retrieve(np.ones((4, 5)), np.ones(3), 1.0)
    with pytest.raises(ValueError, match="steps"):
        modern.retrieve(np.ones((4, 5)), np.ones(5), 1.0, steps=-1)


def test_beta_must_be_positive_and_inf_is_the_hard_max():
    rng = np.random.default_rng(5)
    x = rng.normal(size=(12, 5))
    queries = rng.normal(size=(4, 5))
    for bad in (0.0, -1.0, float("nan"), -np.inf, np.array([1.0, -2.0])):
        with pytest.raises(ValueError, match="beta must be > 0"):
            modern.retrieve(x, queries, bad)
        with pytest.raises(ValueError, match="beta must be > 0"):
            modern.energy(x, queries, bad)
    with pytest.raises(ValueError, match="beta must be > 0"):
        modern.fixed_point(x, queries, 0.0)
    with pytest.raises(ValueError, match="beta must be > 0"):
        modern.cell(3, 5, beta=-1.0)
    with pytest.raises(TypeError, match="beta"):
        modern.update(x, queries, "8")
    # β = inf: the stored pattern nearest by dot product (NumPy argmax), and the energy's limit
    nearest = x[np.argmax(queries @ x.T, axis=1)]
    np.testing.assert_allclose(modern.retrieve(x, queries, np.inf), nearest, rtol=1e-6)
    want = (-np.max(queries @ x.T, axis=1) + 0.5 * np.sum(queries**2, axis=1)
            + 0.5 * np.max(np.sum(x * x, axis=1)))
    np.testing.assert_allclose(modern.energy(x, queries, np.inf), want, rtol=1e-5)
    with jax.enable_x64(True):   # the finite-β values approach the limit
        np.testing.assert_allclose(modern.retrieve(x, queries, 1e4), nearest, atol=1e-6)
        np.testing.assert_allclose(modern.energy(x, queries, 1e6), want, atol=1e-4)
    # an array of β mixing finite and infinite entries, broadcast over queries
    betas = np.array([[2.0], [np.inf], [2.0], [np.inf]])
    got = modern.update(x, queries, betas)
    np.testing.assert_allclose(got[1], nearest[1], rtol=1e-6)
    np.testing.assert_allclose(got[0], np_softmax(2.0 * x @ queries[0]) @ x, rtol=1e-4)
    # an exact tie splits the hard max equally (the limit of softmax)
    tied = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]])
    np.testing.assert_allclose(modern.update(tied, np.array([1.0, 1.0]), np.inf), [0.5, 0.5])
