"""Dense associative memories against brute-force energies and the classical network."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rnnjax.hopfield import dense, discrete


def brute_gap(patterns, state, f):
    """E(σ with σ_i = -1) - E(σ with σ_i = +1) from the energy E = -Σ_μ F(ξ^μ·σ), unit by unit."""
    patterns = np.asarray(patterns, np.float64)
    out = []
    for i in range(len(state)):
        plus, minus = np.array(state, np.float64), np.array(state, np.float64)
        plus[i], minus[i] = 1, -1
        out.append(-np.sum(f(patterns @ minus)) + np.sum(f(patterns @ plus)))
    return np.array(out)


@pytest.mark.parametrize("kind,n", [("poly", 2), ("poly", 3), ("poly", 4), ("rectified", 3)])
def test_gap_matches_brute_force_energies(kind, n):
    rng = np.random.default_rng(n)
    patterns = rng.choice([-1, 1], size=(6, 11))
    state = rng.choice([-1, 1], size=11)
    f = {"poly": lambda x: x**n, "rectified": lambda x: np.maximum(x, 0) ** n}[kind]
    np.testing.assert_allclose(dense.energy_gap(patterns, state, kind=kind, n=n),
                               brute_gap(patterns, state, f), rtol=1e-5, atol=1e-3)
    np.testing.assert_allclose(dense.energy(patterns, state, kind=kind, n=n),
                               -np.sum(f(patterns @ state)), rtol=1e-6)


def test_exp_gap_has_the_sign_of_the_brute_force_gap():
    rng = np.random.default_rng(3)
    patterns = rng.choice([-1, 1], size=(30, 12))
    for _ in range(5):
        state = rng.choice([-1, 1], size=12)
        brute = brute_gap(patterns, state, np.exp)
        got = dense.energy_gap(patterns, state, kind="exp")
        # log-domain: lse(s + ξ) - lse(s - ξ) = log(Σ e^{s+ξ}) - log(Σ e^{s-ξ})
        plus = np.array([np.sum(np.exp(patterns @ np.where(np.arange(12) == i, 1, state)))
                         for i in range(12)])
        minus = np.array([np.sum(np.exp(patterns @ np.where(np.arange(12) == i, -1, state)))
                          for i in range(12)])
        np.testing.assert_allclose(got, np.log(plus) - np.log(minus), rtol=1e-4, atol=1e-4)
        np.testing.assert_array_equal(np.sign(got), np.sign(brute))


def test_n2_is_the_classical_network(key):
    """F(x) = x²: the gap is 4 (W σ)_i with Hebbian W, so the updates coincide."""
    kp, ks = jax.random.split(key)
    patterns = jax.random.rademacher(kp, (7, 30))
    state = jax.random.rademacher(ks, (30,))
    w = discrete.store(patterns)
    np.testing.assert_allclose(dense.energy_gap(patterns, state, kind="poly", n=2), 4 * w @ state,
                               atol=1e-4)
    got = dense.run_async(patterns, state, order=jnp.arange(30), kind="poly", n=2)
    want = discrete.run_async(w, state, order=jnp.arange(30), trace="sweep", max_sweeps=50)
    np.testing.assert_array_equal(got.state, want.state)
    assert int(got.sweeps) == int(want.sweeps) and bool(got.converged)
    # E_dense(x²) = -Σ_μ (ξ^μ·σ)² = 2 E_classical - P N: the same trajectory of energies
    np.testing.assert_allclose(got.energies, 2 * want.energies - 7 * 30, atol=1e-3)


@pytest.mark.parametrize("kind,n", [("poly", 3), ("exp", 0)])
def test_async_run_lowers_energy_and_ends_at_a_fixed_point(kind, n):
    rng = np.random.default_rng(7)
    patterns = rng.choice([-1, 1], size=(40, 16))
    for _ in range(3):
        state = rng.choice([-1, 1], size=16)
        result = dense.run_async(patterns, state, key=jax.random.key(int(rng.integers(99))),
                                 kind=kind, n=n)
        final = result.state
        assert int(result.sweeps) >= 1 and bool(result.converged)
        if kind != "exp":
            assert bool(jnp.all(jnp.diff(result.energies) <= 0))
            np.testing.assert_allclose(result.energies[-1],
                                       dense.energy(patterns, final, kind=kind, n=n), rtol=1e-6)
        assert bool(dense.is_fixed_point(patterns, final, kind=kind, n=n))
        if kind != "exp":
            assert float(dense.energy(patterns, final, kind=kind, n=n)) <= float(
                dense.energy(patterns, state, kind=kind, n=n))
        # reference: the same sweep order in NumPy with brute-force energies
        f = np.exp if kind == "exp" else (lambda x: x**n)
        y = np.array(state, float)
        for _ in range(50):
            before = y.copy()
            for i in range(16):
                g = brute_gap(patterns, y, f)[i]
                y[i] = 1 if g > 0 else -1 if g < 0 else y[i]
            if np.array_equal(before, y):
                break
        ordered = dense.run_async(patterns, state, kind=kind, n=n)
        np.testing.assert_array_equal(ordered.state, y)


def test_bad_input():
    with pytest.raises(ValueError, match="kind"):
        dense.update(np.ones((2, 3)), np.ones(3), kind="cubic")
    with pytest.raises(ValueError, match="bipolar"):
        dense.update(np.zeros((2, 3)), np.ones(3))
    with pytest.raises(ValueError, match="shape"):
        dense.update(np.ones((2, 3)), np.ones(4))
