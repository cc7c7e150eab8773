"""Classical Hopfield networks: the lecture's worked examples, energy descent, references."""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rnnjax.hopfield import discrete

# The lecture's 4-unit network storing O = (1, 1, 1, -1), and its weight matrix as printed.
PATTERN = np.array([[1, 1, 1, -1]])
LECTURE_W = np.array([[0, 1, 1, -1], [1, 0, 1, -1], [1, 1, 0, -1], [-1, -1, -1, 0]])

# The lecture's energy table (θ = 0). Row P is printed as (-1, 1, 1, -1), which repeats O:
# a typo. The only state of the 16 missing from the table is (-1, 1, 1, 1); the printed
# energy 2 is that state's energy, so P is checked as (-1, 1, 1, 1).
TABLE = {
    "A": ((1, 1, 1, 1), 0), "B": ((1, 1, 1, -1), -6), "C": ((1, 1, -1, -1), 0),
    "D": ((1, 1, -1, 1), 2), "E": ((1, -1, -1, 1), 0), "F": ((1, -1, -1, -1), 2),
    "G": ((1, -1, 1, -1), 0), "H": ((1, -1, 1, 1), 2), "I": ((-1, -1, 1, 1), 0),
    "J": ((-1, -1, 1, -1), 2), "K": ((-1, -1, -1, -1), 0), "L": ((-1, -1, -1, 1), -6),
    "M": ((-1, 1, -1, 1), 0), "N": ((-1, 1, -1, -1), 2), "O": ((-1, 1, 1, -1), 0),
    "P": ((-1, 1, 1, 1), 2),
}


def energy_loop(w, y, theta=None, x=None):
    """E = -½ Σ_i Σ_j w_ij y_i y_j + Σ θ_i y_i - Σ x_i y_i, as written, with Python loops."""
    n = len(y)
    e = 0.0
    for i in range(n):
        for j in range(n):
            e -= 0.5 * w[i][j] * y[i] * y[j]
        e += (0.0 if theta is None else theta[i]) * y[i]
        e -= (0.0 if x is None else x[i]) * y[i]
    return e


def async_loop(w, y, order, x=None, theta=None, lo=-1, hi=1, max_sweeps=100):
    """The lecture's algorithm (Steps 2–7) in plain NumPy: returns final state, net inputs seen."""
    w, y = np.asarray(w, float), np.array(y, float)
    n = len(y)
    x = np.zeros(n) if x is None else np.asarray(x, float)
    theta = np.zeros(n) if theta is None else np.asarray(theta, float)
    nets = []
    for _ in range(max_sweeps):
        changed = False
        for i in order:
            net = x[i] + sum(y[j] * w[j, i] for j in range(n))
            nets.append(net)
            new = hi if net > theta[i] else lo if net < theta[i] else y[i]
            changed |= new != y[i]
            y[i] = new
        if not changed:
            break
    return y, nets


def test_lecture_weight_matrix():
    np.testing.assert_array_equal(discrete.store(PATTERN), LECTURE_W)
    # the same network from the binary pattern (1, 1, 1, 0) with the binary Hebbian rule
    np.testing.assert_array_equal(discrete.store(np.array([[1, 1, 1, 0]]), binary=True), LECTURE_W)


def test_store_is_hebbian_outer_product_sum(key):
    patterns = np.asarray(jax.random.rademacher(key, (5, 9), dtype=jnp.int32))
    w = np.zeros((9, 9))
    for p in patterns:
        for i, j in itertools.product(range(9), range(9)):
            if i != j:
                w[i, j] += p[i] * p[j]
    np.testing.assert_array_equal(discrete.store(patterns), w)


def test_energy_of_all_16_states():
    w = discrete.store(PATTERN)
    states = list(itertools.product((1, -1), repeat=4))
    assert {code for code, _ in TABLE.values()} == set(states)   # the corrected table: 16 states
    for code in states:
        assert float(discrete.energy(w, jnp.array(code))) == energy_loop(LECTURE_W, code)
    for name, (code, e) in TABLE.items():
        assert float(discrete.energy(w, jnp.array(code))) == e, name


def test_transitions_j_g_b():
    w = discrete.store(PATTERN)
    j, g, b = (jnp.array(TABLE[s][0]) for s in "JGB")
    # Transition 1 updates o_1 (J -> G), transition 2 updates o_2 (G -> B); then nothing changes.
    state = discrete.run_async(w, j, order=jnp.array([0]), max_sweeps=1).state
    np.testing.assert_array_equal(state, g)
    state = discrete.run_async(w, j, order=jnp.array([0, 1]), max_sweeps=1).state
    np.testing.assert_array_equal(state, b)
    result = discrete.run_async(w, j, order=jnp.arange(4))
    np.testing.assert_array_equal(result.state, b)
    # energies after each unit update: J (2) -> G (0) -> B (-6), then flat
    np.testing.assert_array_equal(result.energies[:5], [2, 0, -6, -6, -6])
    assert int(result.sweeps) == 2 and bool(result.converged)
    assert bool(discrete.is_fixed_point(w, b))


def test_binary_example_from_input_0010():
    """Input x = (0, 0, 1, 0), update order Y1, Y4, Y3, Y2: converges to (1, 1, 1, 0)."""
    w = discrete.store(np.array([[1, 1, 1, 0]]), binary=True)
    x = jnp.array([0, 0, 1, 0])
    order = [0, 3, 2, 1]
    expected_states = [(1, 0, 1, 0), (1, 0, 1, 0), (1, 0, 1, 0), (1, 1, 1, 0)]
    for k, want in enumerate(expected_states, start=1):
        result = discrete.run_async(w, x, order=jnp.array(order[:k]), external=x,
                                    binary=True, max_sweeps=1)
        np.testing.assert_array_equal(result.state, want)
    # the net inputs of the lecture: 0 + 1, 0 + (-2), 1 + 1, 0 + 2
    _, nets = async_loop(LECTURE_W, [0, 0, 1, 0], order, x=[0, 0, 1, 0], lo=0, max_sweeps=1)
    assert nets == [1, -2, 2, 2]
    result = discrete.run_async(w, x, order=jnp.array(order), external=x, binary=True)
    np.testing.assert_array_equal(result.state, (1, 1, 1, 0))
    assert bool(jnp.all(jnp.diff(result.energies) <= 0))


@pytest.mark.parametrize("binary", [False, True])
@pytest.mark.slow
def test_energy_never_increases_and_matches_numpy(binary):
    """Random networks, thresholds, inputs, states and orders: per-update energies never rise,
    the trace ends at the energy of the final state, and the final state equals a NumPy loop."""
    rng = np.random.default_rng(1 if binary else 0)
    lo = 0 if binary else -1
    for trial in range(12):
        n, p = (7, 16)[trial % 2], rng.integers(1, 8)   # two sizes: two compilations
        patterns = rng.choice([lo, 1], size=(p, n))
        w = discrete.store(patterns, binary=binary)
        theta = rng.normal(size=n) * (trial % 2)
        x = rng.normal(size=n) * (trial % 3 == 0)
        y0 = rng.choice([lo, 1], size=n)
        order = rng.permutation(n)
        result = discrete.run_async(w, y0, order=order, external=x, threshold=theta, binary=binary)
        e = np.asarray(result.energies)
        assert np.all(np.diff(e) <= 1e-4), e
        np.testing.assert_allclose(e[-1], energy_loop(np.asarray(w), result.state, theta, x),
                                   atol=1e-4)
        want, _ = async_loop(w, y0, order, x=x, theta=theta, lo=lo)
        np.testing.assert_array_equal(result.state, want)
        assert bool(result.converged)
        assert bool(discrete.is_fixed_point(w, result.state, theta, external=x, binary=binary))


@pytest.mark.slow
def test_random_order_is_vmappable_over_patterns_and_trials(key):
    n, p, trials = 40, 3, 4
    kp, kc, ko = jax.random.split(key, 3)
    patterns = jax.random.rademacher(kp, (p, n))
    w = discrete.store(patterns)
    flips = jax.random.bernoulli(kc, 0.1, (p, trials, n))
    cues = jnp.where(flips, -patterns[:, None, :], patterns[:, None, :])
    keys = jax.random.split(ko, (p, trials))
    def run(c, k):
        r = discrete.run_async(w, c, key=k, trace="sweep", max_sweeps=20)
        return r.state, r.energies

    states, energies = jax.vmap(jax.vmap(run))(cues, keys)
    assert states.shape == (p, trials, n) and energies.shape == (p, trials, 21)
    assert bool(jnp.all(jnp.diff(energies, axis=-1) <= 1e-4))
    for i, t in [(0, 0), (p - 1, trials - 1)]:
        s, e = run(cues[i, t], keys[i, t])
        np.testing.assert_array_equal(states[i, t], s)
        np.testing.assert_array_equal(energies[i, t], e)
    # low load, 10 % noise: every cue is cleaned up to its pattern
    np.testing.assert_array_equal(states, jnp.broadcast_to(patterns[:, None, :], states.shape))


def test_sync_two_cycle_and_fixed_point():
    w = discrete.store(PATTERN)
    j, d, b = (jnp.array(TABLE[s][0]) for s in "JDB")
    # all units at once: J -> D -> J (a two-cycle, where asynchronous updates reach B)
    result = discrete.run_sync(w, j)
    assert int(result.period) == 2
    np.testing.assert_array_equal(discrete.run_sync(w, j, max_steps=1).state, d)
    result = discrete.run_sync(w, b)
    np.testing.assert_array_equal(result.state, b)
    assert float(result.energies[-1]) == -6 and int(result.period) == 1
    # reference: NumPy sign iteration from J
    y = np.array(j, float)
    for _ in range(2):
        y = np.where(LECTURE_W @ y > 0, 1.0, np.where(LECTURE_W @ y < 0, -1.0, y))
    np.testing.assert_array_equal(y, j)


def test_overlap_and_conversions():
    patterns = jnp.array([[1, -1, 1, -1], [1, 1, 1, 1]])
    np.testing.assert_allclose(discrete.overlap(patterns, jnp.array([1, -1, 1, 1])), [0.5, 0.5])
    np.testing.assert_array_equal(discrete.to_binary(patterns[0]), [1, 0, 1, 0])
    np.testing.assert_array_equal(discrete.to_bipolar(discrete.to_binary(patterns)), patterns)


def test_bad_input_is_rejected():
    with pytest.raises(ValueError, match="bipolar"):
        discrete.store(np.array([[1, 0, 1]]))
    with pytest.raises(ValueError, match="binary 0/1"):
        discrete.store(np.array([[1, -1, 1]]), binary=True)
    with pytest.raises(ValueError, match=r"\(P, N\)"):
        discrete.store(np.array([1, -1, 1]))
    with pytest.raises(ValueError, match="bipolar"):
        discrete.store(np.array([[1, 2, 1]]))
    w = discrete.store(PATTERN)
    with pytest.raises(ValueError, match="shape"):
        discrete.run_async(w, jnp.ones(5))
    with pytest.raises(ValueError, match="bipolar"):
        discrete.run_async(w, jnp.array([1, 0, 1, 1]))
    with pytest.raises(ValueError, match="either key"):
        discrete.run_async(w, jnp.ones(4), key=jax.random.key(0), order=jnp.arange(4))
    with pytest.raises(ValueError, match="square"):
        discrete.energy(jnp.ones((3, 4)), jnp.ones(4))
    with pytest.raises(ValueError, match="threshold"):
        discrete.run_async(w, jnp.ones(4), threshold=jnp.zeros(3))
    with pytest.raises(ValueError, match="single key"):
        discrete.run_async(w, jnp.ones((2, 4)), key=jax.random.split(jax.random.key(0), 2))
    with pytest.raises(ValueError, match="non-empty"):
        discrete.run_async(w, jnp.ones(4), order=jnp.zeros((0,), int))
    with pytest.raises(ValueError, match=r"\(B, 4\)"):
        discrete.run_async(w, jnp.ones((2, 3)))


@pytest.mark.parametrize("binary", [pytest.param(False, marks=pytest.mark.slow), True])
def test_pattern_form_equals_run_async_on_stored_weights(binary, key):
    """The O(P)-per-update form gives the states, sweeps and energies of run_async(store(X))."""
    n, p = 30, 9
    lo = 0 if binary else -1
    rng = np.random.default_rng(5)
    patterns = rng.choice([lo, 1], size=(p, n))
    theta = rng.normal(size=n) * 0.5
    w = discrete.store(patterns, binary=binary)
    for t in range(3):
        y0 = rng.choice([lo, 1], size=n)
        k = jax.random.fold_in(key, t)
        want = discrete.run_async(w, y0, key=k, threshold=theta, binary=binary, trace="sweep")
        got = discrete.run_async_patterns(patterns, y0, key=k, threshold=theta, binary=binary)
        np.testing.assert_array_equal(got.state, want.state)
        assert int(got.sweeps) == int(want.sweeps)
        np.testing.assert_allclose(got.energies, want.energies, atol=1e-3)
    if not binary:   # all-zero rows are padding
        padded = np.concatenate([patterns, np.zeros((4, n), int)])
        got = discrete.run_async_patterns(padded, y0, key=k, threshold=theta)
        np.testing.assert_array_equal(got.state, want.state)


@pytest.mark.parametrize("binary", [False, True])
@pytest.mark.slow
def test_batched_run_is_bit_equal_to_unit_by_unit_loops(binary):
    """A batch of states on one network (fields h: (N, B), one flip per state per step, each
    state at its own position and sweep) ends in exactly the states and sweep counts of the
    one-unit-at-a-time scan and of a NumPy loop that computes every net input afresh; per-update
    energies match the NumPy energy of each state visited. Random permutations (found by rank)
    and a given order that repeats units (found by position); thresholds and inputs make ties
    and non-trivial fields."""
    rng = np.random.default_rng(11 + binary)
    lo = 0 if binary else -1
    n, p, b = 45, 7, 6
    patterns = rng.choice([lo, 1], size=(p, n))
    w = discrete.store(patterns, binary=binary)
    theta = rng.integers(-2, 3, size=n).astype(float)          # integer: exact ties occur
    x = rng.integers(-1, 2, size=n).astype(float)
    y0 = rng.choice([lo, 1], size=(b, n))
    key = jax.random.key(4)
    got = discrete.run_async(w, y0, key=key, external=x, threshold=theta, binary=binary,
                             trace="sweep", max_sweeps=30)
    for t in range(b):
        one = discrete.run_async_patterns(patterns, y0[t], key=key, external=x, threshold=theta,
                                          binary=binary, max_sweeps=30)
        np.testing.assert_array_equal(got.state[t], one.state)
        assert int(got.sweeps[t]) == int(one.sweeps) and bool(got.converged[t])
        np.testing.assert_allclose(got.energies[t], one.energies, atol=1e-3)
        orders = [np.asarray(jax.random.permutation(jax.random.fold_in(key, s), n))
                  for s in range(int(one.sweeps))]
        y = np.array(y0[t], float)
        for o in orders:
            y, _ = async_loop(w, y, o, x=x, theta=theta, lo=lo, max_sweeps=1)
        np.testing.assert_array_equal(got.state[t], y)
    assert len(set(np.asarray(got.sweeps).tolist())) > 1          # states stop on their own
    # a given order with repeated units (several copies in one block), per-update energies
    order = np.concatenate([rng.permutation(n), [3, 3, 7, 3]])
    got = discrete.run_async(w, y0, order=order, external=x, threshold=theta, binary=binary)
    for t in (0, b - 1):
        want, _ = async_loop(w, y0[t], order, x=x, theta=theta, lo=lo)
        np.testing.assert_array_equal(got.state[t], want)
        y = np.array(y0[t], float)
        e = [energy_loop(np.asarray(w), y, theta, x)]
        for i in order:                                  # one sweep, unit by unit
            y, _ = async_loop(w, y, [i], x=x, theta=theta, lo=lo, max_sweeps=1)
            e.append(energy_loop(np.asarray(w), y, theta, x))
        np.testing.assert_allclose(got.energies[t, : len(e)], e, atol=1e-3)
