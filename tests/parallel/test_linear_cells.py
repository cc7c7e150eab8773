"""Linear recurrent cells (lru, mingru, minlstm) against NumPy, and unroll(method="associative")
against the sequential scan, NumPy loops and per-segment runs."""

import math

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import rnnjax
from rnnjax.parallel import affine_scan, matrix_affine_scan
from tests.test_cells import random_params

LINEAR = {
    "lru": lambda: rnnjax.cells.lru(4, output_size=5),
    "mingru": lambda: rnnjax.cells.mingru(4),
    "minlstm": lambda: rnnjax.cells.minlstm(4),
}


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def numpy_step(name, p, h, x):
    """The papers' sequential equations, written from them."""
    p = jax.tree.map(np.asarray, p)
    if name == "lru":
        lam = np.exp(-np.exp(p.nu_log) + 1j * np.exp(p.theta_log))
        h = lam * h + np.exp(p.gamma_log) * (x @ (p.b_re + 1j * p.b_im))
        return h, np.real(h @ (p.c_re + 1j * p.c_im)) + x @ p.d
    u = x @ p.w_x + p.b
    H = h.shape[-1]
    if name == "mingru":
        z, h_tilde = sigmoid(u[..., :H]), u[..., H:]
        h = (1 - z) * h + z * h_tilde
    else:
        f, i, h_tilde = sigmoid(u[..., :H]), sigmoid(u[..., H:2 * H]), u[..., 2 * H:]
        h = f / (f + i) * h + i / (f + i) * h_tilde
    return h, h


def initial(cell, p, batch, value=0.3):
    return jax.tree.map(lambda c: c + value * (1 + 1j if jnp.iscomplexobj(c) else 1),
                        cell.initial_carry(p, batch))


@pytest.mark.parametrize("name", LINEAR)
def test_step_matches_numpy_and_affine_form(name, key):
    cell = LINEAR[name]()
    p = random_params(cell, key)
    x = jax.random.normal(jax.random.fold_in(key, 2), (2, 3))
    h0 = initial(cell, p, (2,))
    h, y = jax.jit(cell.step)(p, h0, x)
    want_h, want_y = numpy_step(name, p, np.asarray(h0), np.asarray(x))
    np.testing.assert_allclose(h, want_h, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(y, want_y, rtol=1e-5, atol=1e-6)
    a, b = cell.affine.coefficients(p, x)
    assert a.shape == b.shape == h0.shape
    np.testing.assert_allclose(a * h0 + b, h, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(cell.affine.readout(p, h, x), y, rtol=1e-6, atol=1e-6)
    assert y.shape == (2, cell.output_size) and y.dtype == jnp.float32


def test_lru_init_ring_and_normalisation(key):
    cell = rnnjax.cells.lru(512, r_min=0.4, r_max=0.9, max_phase=math.pi / 10)
    p = cell.init(key, 3)
    mod = np.exp(-np.exp(np.asarray(p.nu_log)))
    assert 0.4 - 1e-5 <= mod.min() and mod.max() <= 0.9 + 1e-5
    # |λ| is uniform on the ring's area: |λ|² uniform on [r_min², r_max²]
    assert abs(np.mean(mod ** 2) - (0.4 ** 2 + 0.9 ** 2) / 2) < 0.03
    assert np.exp(np.asarray(p.theta_log)).max() <= math.pi / 10 + 1e-6
    np.testing.assert_allclose(np.exp(p.gamma_log), np.sqrt(1 - mod ** 2), rtol=1e-4)
    assert cell.initial_carry(p, (2,)).dtype == jnp.complex64
    with pytest.raises(ValueError, match="r_min"):
        rnnjax.cells.lru(4, r_min=0.9, r_max=0.5)


@pytest.mark.parametrize("reverse", [False, True])
def test_affine_scans_match_numpy_loop(reverse, key):
    k1, k2, k3 = jax.random.split(key, 3)
    T, D = 9, 3
    a, b = jax.random.normal(k1, (T, 2, D)), jax.random.normal(k2, (T, 2, D))
    h0 = jax.random.normal(k3, (2, D))
    A = 0.5 * jax.random.normal(k1, (T, D, D))
    want, want_m = np.zeros((T, 2, D)), np.zeros((T, D))
    h, hm = np.asarray(h0), np.asarray(h0[0])
    for t in (range(T - 1, -1, -1) if reverse else range(T)):
        h = np.asarray(a[t]) * h + np.asarray(b[t])
        hm = np.asarray(A[t]) @ hm + np.asarray(b[t, 0])
        want[t], want_m[t] = h, hm
    got = jax.jit(affine_scan, static_argnames="reverse")(a, b, h0, reverse=reverse)
    got_m = jax.jit(matrix_affine_scan, static_argnames="reverse")(A, b[:, 0], h0[0], reverse=reverse)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(got_m, want_m,
                               rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", LINEAR)
@pytest.mark.parametrize("reverse", [False, True])
def test_associative_equals_scan_with_carry_lengths_and_carries(name, reverse, key):
    cell = LINEAR[name]()
    p = random_params(cell, key)
    xs = jax.random.normal(jax.random.fold_in(key, 3), (2, 3, 7, 3))
    c0 = initial(cell, p, (2, 3))
    lengths = jnp.array([[7, 0, 2], [1, 5, 7]])
    run = jax.jit(lambda lengths, method: rnnjax.unroll(
        cell, p, xs, c0, lengths=lengths, reverse=reverse, return_carries=True, method=method),
        static_argnums=1)
    for ls in [None, lengths]:
        chex.assert_trees_all_close(run(ls, "associative"), run(ls, "scan"), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", LINEAR)
def test_associative_gradients_equal_scan(name, key):
    cell = LINEAR[name]()
    p = random_params(cell, key)
    xs = jax.random.normal(jax.random.fold_in(key, 3), (2, 6, 3))

    def loss(p, method):
        carry, ys = rnnjax.unroll(cell, p, xs, lengths=jnp.array([6, 3]), method=method)
        return jnp.sum(ys ** 2) + jnp.sum(jnp.abs(carry) ** 2)

    grad = jax.jit(jax.grad(loss), static_argnums=1)
    chex.assert_trees_all_close(grad(p, "associative"), grad(p, "scan"),
                                rtol=1e-4, atol=1e-5)


def segment_reference(name, p, xs, c0, resets, length, reverse, output_size):
    """One sequence: every segment of xs[:length] (starting where resets is true) run alone by a
    NumPy loop, backward within the segment when ``reverse``."""
    starts = [0] + [t for t in range(1, length) if resets[t]]
    ys = np.zeros((xs.shape[0], output_size))
    finals = []
    for s, e in zip(starts, starts[1:] + [length]):
        h = np.asarray(c0)
        for t in (range(e - 1, s - 1, -1) if reverse else range(s, e)):
            h, ys[t] = numpy_step(name, p, h, np.asarray(xs[t]))
        finals.append(h)
    final = c0 if length == 0 else finals[0 if reverse else -1]
    return final, ys


@pytest.mark.parametrize("name", LINEAR)
@pytest.mark.parametrize("reverse", [False, True])
def test_associative_resets_equal_per_segment_runs_and_scan(name, reverse, key):
    cell = LINEAR[name]()
    p = random_params(cell, key)
    xs = jax.random.normal(jax.random.fold_in(key, 3), (3, 8, 3))
    c0 = initial(cell, p, (3,))
    resets = np.zeros((3, 8), bool)
    resets[0, [3, 5]] = True
    resets[1, [0, 1, 6]] = True  # the 6 lies past length 5: ignored
    resets[2, [2, 7]] = True
    lengths = jnp.array([8, 5, 8])
    run = jax.jit(lambda xs, method: rnnjax.unroll(
        cell, p, xs, c0, lengths=lengths, reverse=reverse, resets=jnp.asarray(resets), method=method),
        static_argnums=1)
    final, ys = run(xs, "associative")
    chex.assert_trees_all_close((final, ys), run(xs, "scan"), rtol=1e-5, atol=1e-5)
    for i in range(3):
        want_c, want_y = segment_reference(name, p, xs[i], c0[i], resets[i], int(lengths[i]),
                                           reverse, cell.output_size)
        np.testing.assert_allclose(ys[i], want_y, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(final[i], want_c, rtol=1e-5, atol=1e-5)


def test_associative_needs_affine_form_and_valid_method(key):
    cell = rnnjax.cells.lstm(4)
    p = cell.init(key, 3)
    xs = jnp.zeros((2, 5, 3))
    with pytest.raises(ValueError, match="affine form"):
        rnnjax.unroll(cell, p, xs, method="associative")
    with pytest.raises(ValueError, match="method must be"):
        rnnjax.unroll(rnnjax.cells.mingru(4), p, xs, method="parallel")


@pytest.mark.slow
def test_reset_carry_bidirectional_dtypes_and_equality(key):
    cell = rnnjax.cells.mingru(4)
    p = random_params(cell, key)
    xs = jax.random.normal(key, (2, 6, 3))
    resets = jnp.array([[False, False, True, False, False, True]] * 2)
    c0, r0 = 0.5 * jnp.ones((2, 4)), -0.5 * jnp.ones((2, 4))
    run = lambda method: rnnjax.unroll(cell, p, xs, c0, resets=resets, reset_carry=r0, method=method)
    chex.assert_trees_all_close(run("associative"), run("scan"), rtol=1e-5, atol=1e-5)
    bi = rnnjax.bidirectional(rnnjax.cells.minlstm(3), rnnjax.cells.lru(2))
    pb = bi.init(key, 3)
    chex.assert_trees_all_close(rnnjax.unroll(bi, pb, xs, method="associative"),
                                rnnjax.unroll(bi, pb, xs), rtol=1e-5, atol=1e-5)
    for make in LINEAR.values():
        assert make() == make() and hash(make()) == hash(make())
    for make in [rnnjax.cells.lru, rnnjax.cells.mingru, rnnjax.cells.minlstm]:
        c = make(4, dtype=jnp.bfloat16)
        pc = c.init(key, 3)
        carry, ys = rnnjax.unroll(c, pc, xs, method="associative")
        assert jax.tree.leaves(pc)[0].dtype == jnp.float32 and ys.dtype == jnp.bfloat16
        assert carry.dtype == (jnp.complex64 if make is rnnjax.cells.lru else jnp.bfloat16)
