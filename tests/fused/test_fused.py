"""``unroll(method="fused")`` against ``method="scan"``: outputs, final carry and gradients w.r.t.
params, inputs, initial and reset carries, with lengths (0 included), resets, reverse and batch
ranks. On CPU the Pallas kernels run in interpret mode (compiles take seconds: the default tier
keeps two cases, the rest are slow)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import rnnjax
from rnnjax.fused import choose_method, kernel_cell


def random_like(key, tree):
    leaves, treedef = jax.tree.flatten(tree)
    keys = jax.random.split(key, len(leaves))
    return jax.tree.unflatten(treedef, [jax.random.normal(k, a.shape, a.dtype)
                                        for k, a in zip(keys, leaves)])


def run(cell, batch, T, I, method, *, lengths=None, resets=None, reverse=False, seed=0,
        reset_carry=False, return_carries=False):
    """Value and gradients of a loss weighting every output and the final carry at random."""
    k = jax.random.split(jax.random.key(seed), 6)
    params = cell.init(k[0], I)
    xs = jax.random.normal(k[1], (*batch, T, I))
    carry = random_like(k[2], cell.initial_carry(params, batch))
    rc = random_like(k[3], carry) if reset_carry else None
    w_y = jax.random.normal(k[4], (*batch, T, cell.output_size))
    w_c = random_like(k[5], carry)

    def loss(params, xs, carry, rc):
        c, out = rnnjax.unroll(cell, params, xs, carry, lengths=lengths, resets=resets,
                               reset_carry=rc, reverse=reverse, method=method,
                               return_carries=return_carries)
        ys = out[0] if return_carries else out
        total = jnp.sum(w_y * ys) + sum(jnp.sum(a * b) for a, b in
                                        zip(jax.tree.leaves(w_c), jax.tree.leaves(c)))
        return total, (c, out)

    argnums = (0, 1, 2, 3) if reset_carry else (0, 1, 2)
    f = jax.jit(jax.value_and_grad(loss, argnums=argnums, has_aux=True))
    (_, aux), grads = f(params, xs, carry, rc)
    return aux, grads


def assert_same(cell, batch, T, I, **options):
    a = run(cell, batch, T, I, "scan", **options)
    b = run(cell, batch, T, I, "fused", **options)
    la, lb = jax.tree.leaves(a), jax.tree.leaves(b)
    assert jax.tree.structure(a) == jax.tree.structure(b)
    for x, y in zip(la, lb):
        np.testing.assert_allclose(np.asarray(y), np.asarray(x), rtol=1e-4, atol=2e-5)
    return a


def test_lstm_reverse_with_lengths_zero_resets_and_reset_carry():
    lengths = jnp.array([6, 0, 3, 1])
    resets = jnp.array([[0, 0, 1, 0, 1, 0], [1, 0, 0, 0, 0, 0], [0, 1, 0, 1, 0, 0],
                        [1, 1, 1, 1, 1, 1]], bool)
    (carry, ys), grads = assert_same(rnnjax.cells.lstm(5), (4,), 6, 3, lengths=lengths,
                                     resets=resets, reverse=True, reset_carry=True)
    # The empty sequence keeps its initial carry and outputs zeros; some gradient is non-zero.
    assert float(jnp.max(jnp.abs(ys[1]))) == 0.0
    assert float(jnp.max(jnp.abs(grads[0].w_h))) > 1e-3


def test_gru_in_tiles_and_batch_blocks_with_lengths_and_resets(monkeypatch):
    """H = 20 pads to 32 and runs as 2 chunks of 16, weights re-read at every step (not
    resident); B = 3 runs as 2 programs of 2 sequences (one padded)."""
    from rnnjax.fused import dispatch
    from rnnjax.fused.kernels import Config
    monkeypatch.setattr(dispatch, "config",
                        lambda: Config(block_b=2, chunk=16, resident_bytes=0, interpret=True))
    lengths = jnp.array([7, 2, 0])
    resets = jnp.array([[0, 0, 0, 1, 0, 0, 1], [0, 1, 0, 0, 0, 0, 0], [0] * 7], bool)
    assert_same(rnnjax.cells.gru(20), (3,), 7, 2, lengths=lengths, resets=resets)


def test_refuses_what_it_does_not_compute():
    xs = jax.ShapeDtypeStruct((2, 3, 4), jnp.float32)
    cases = [
        (rnnjax.cells.lru(8), {}, "supports elman"),
        (rnnjax.cells.gru(8, variant="reset_before"), {}, "supports elman"),
        (rnnjax.cells.elman(8, activation=lambda z: z), {}, "supports elman"),
        (rnnjax.cells.lstm(8)._replace(step=lambda p, c, x: (c, c.h)), {}, "supports elman"),
        (rnnjax.cells.lstm(8), {"remat": True}, "remat does not apply"),
        (rnnjax.cells.lstm(8), {"method": "fast"}, "unroll: method must be one of"),
    ]
    for cell, options, message in cases:  # traced only: the refusal comes before any compute
        params = jax.eval_shape(lambda k: cell.init(k, 4), jax.random.key(0))
        options = {"method": "fused", **options}
        with pytest.raises(ValueError, match=message):
            jax.eval_shape(lambda p, xs: rnnjax.unroll(cell, p, xs, **options), params, xs)


def test_auto_is_scan_on_cpu_and_fused_on_gpu_where_supported():
    lstm, lru = rnnjax.cells.lstm(4), rnnjax.cells.lru(4)
    assert choose_method(lstm, backend="cpu") == "scan"
    assert choose_method(lstm, backend="gpu") == "fused"
    assert choose_method(lstm, backend="gpu", remat=True) == "scan"
    assert choose_method(lru, backend="gpu") == "scan"
    assert choose_method(lstm, backend="tpu") == "scan"
    assert choose_method(rnnjax.cells.lstm(4, dtype=jnp.bfloat16), backend="gpu") == "scan"
    if jax.default_backend() == "cpu":  # auto is the scan itself: identical results
        params = lstm.init(jax.random.key(0), 3)
        xs = jax.random.normal(jax.random.key(1), (2, 5, 3))
        a = rnnjax.unroll(lstm, params, xs, method="auto")
        b = rnnjax.unroll(lstm, params, xs, method="scan")
        for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)):
            np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


def test_kernel_cell_recognises_the_supported_constructors():
    assert kernel_cell(rnnjax.cells.lstm(3)).name == "lstm"
    assert kernel_cell(rnnjax.cells.gru(3)).name == "gru"
    assert kernel_cell(rnnjax.cells.elman(3, activation=jax.nn.relu)).name == "elman"


@pytest.mark.slow
@pytest.mark.parametrize("activation", [jnp.tanh, jax.nn.relu, jax.nn.sigmoid])
def test_elman_activations(activation):
    assert_same(rnnjax.cells.elman(5, activation=activation), (3,), 5, 2,
                lengths=jnp.array([5, 0, 2]), resets=jnp.array([[0, 0, 1, 0, 0]] * 3, bool),
                reverse=True)


@pytest.mark.slow
@pytest.mark.parametrize("batch", [(), (2, 3)])
def test_batch_ranks_and_carries_per_step(batch):
    assert_same(rnnjax.cells.lstm(4), batch, 4, 3, return_carries=True)
    assert_same(rnnjax.cells.gru(4), batch, 4, 3, return_carries=True, reverse=True)


@pytest.mark.slow
def test_batch_over_several_blocks_and_hidden_in_several_tiles():
    """B = 20 spans two batch blocks of 16; H = 100 pads to 128: two tiles of 64, reloaded at
    every step (the default configuration)."""
    lengths = jnp.arange(20) % 4
    assert_same(rnnjax.cells.lstm(100), (20,), 3, 2, lengths=lengths, reset_carry=True,
                resets=jnp.zeros((20, 3), bool).at[:, 1].set(True), reverse=True)


@pytest.mark.slow
def test_empty_sequence_and_compositions():
    cell = rnnjax.cells.lstm(3)
    params = cell.init(jax.random.key(0), 2)
    carry, ys = rnnjax.unroll(cell, params, jnp.zeros((2, 0, 2)), method="fused")
    assert ys.shape == (2, 0, 3) and float(jnp.abs(carry.c).max()) == 0.0
    carry, ys = rnnjax.unroll(cell, params, jnp.zeros((0, 4, 2)), method="fused")
    assert ys.shape == (0, 4, 3) and carry.h.shape == (0, 3)
    both = rnnjax.bidirectional(rnnjax.cells.gru(3), rnnjax.cells.lstm(3))
    assert_same(rnnjax.stack([both, rnnjax.cells.elman(4)]), (2,), 4, 2,
                lengths=jnp.array([4, 2]))


@pytest.mark.slow
def test_float64_agrees_to_float64_rounding():
    with jax.enable_x64(True):
        cell = rnnjax.cells.lstm(4, dtype=jnp.float64, param_dtype=jnp.float64)
        a = run(cell, (2,), 5, 3, "scan", lengths=jnp.array([5, 2]))
        b = run(cell, (2,), 5, 3, "fused", lengths=jnp.array([5, 2]))
        for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)):
            assert y.dtype == jnp.float64
            np.testing.assert_allclose(np.asarray(y), np.asarray(x), rtol=1e-12, atol=1e-13)


@pytest.mark.slow
def test_bfloat16_cell_runs_in_float32_inside_and_returns_bfloat16():
    cell = rnnjax.cells.gru(4, dtype=jnp.bfloat16)
    params = cell.init(jax.random.key(0), 3)
    xs = jax.random.normal(jax.random.key(1), (2, 6, 3))
    c_scan, y_scan = rnnjax.unroll(cell, params, xs, method="scan")
    c, y = rnnjax.unroll(cell, params, xs, method="fused")
    assert y.dtype == c.dtype == jnp.bfloat16
    # The scan rounds to bfloat16 at every step, the kernels only at the end: bfloat16's 2^-8.
    np.testing.assert_allclose(np.asarray(y, np.float32), np.asarray(y_scan, np.float32), atol=3e-2)


@pytest.mark.parametrize("make", [lambda: rnnjax.cells.lstm(5), lambda: rnnjax.cells.gru(5)])
def test_a_learned_initial_carry_runs_fused_and_its_gradient_matches_the_scan(make):
    """The kernels run the wrapped cell; the learned ``carry0`` enters as the initial carry and
    as what resets restore, and receives the same gradient as through the scan."""
    from rnnjax.init import learned_initial_carry

    cell = learned_initial_carry(make())
    assert kernel_cell(cell) is kernel_cell(make())
    k = jax.random.split(jax.random.key(3), 3)
    params = cell.init(k[0], 3)
    params = params._replace(carry0=random_like(k[1], params.carry0))
    xs = jax.random.normal(k[2], (4, 6, 3))
    lengths = jnp.array([6, 0, 3, 5])
    resets = jnp.array([[0, 0, 1, 0, 0, 0]] * 4, bool)

    def loss(params, method):
        c, ys = rnnjax.unroll(cell, params, xs, lengths=lengths, resets=resets, method=method)
        return jnp.sum(ys * jnp.cos(ys)) + sum(jnp.sum(a ** 2) for a in jax.tree.leaves(c))

    a = jax.value_and_grad(loss)(params, "scan")
    b = jax.value_and_grad(loss)(params, "fused")
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
        np.testing.assert_allclose(np.asarray(y), np.asarray(x), rtol=1e-4, atol=2e-5)
    assert float(jnp.max(jnp.abs(jax.tree.leaves(b[1].carry0)[0]))) > 1e-3
    assert choose_method(cell, backend="gpu") == "fused"
