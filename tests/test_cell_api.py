"""Cells as static values (equality, hashing, jit caching) and the dtype policy of every cell."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import rnnjax
from rnnjax.init import learned_initial_carry

BUILDERS = {
    "elman": lambda **kw: rnnjax.cells.elman(4, **kw),
    "lstm": lambda **kw: rnnjax.cells.lstm(4, **kw),
    "gru": lambda **kw: rnnjax.cells.gru(4, **kw),
    "gru_reset_before": lambda **kw: rnnjax.cells.gru(4, variant="reset_before", **kw),
    "stack": lambda **kw: rnnjax.stack([rnnjax.cells.lstm(4, **kw), rnnjax.cells.elman(4, **kw)]),
    "bidirectional": lambda **kw: rnnjax.bidirectional(rnnjax.cells.gru(4, **kw),
                                                       rnnjax.cells.lstm(4, **kw)),
    "learned_carry": lambda **kw: learned_initial_carry(
        rnnjax.cells.lstm(4, **kw), **{k: v for k, v in kw.items() if k == "param_dtype"}),
}


@pytest.mark.parametrize("name", BUILDERS)
def test_equal_arguments_give_equal_hashable_cells(name):
    a, b = BUILDERS[name](), BUILDERS[name]()
    assert a is not b and a == b and not a != b and hash(a) == hash(b)
    assert len({a, b}) == 1
    assert a != BUILDERS[name](dtype=jnp.bfloat16)


def test_arguments_are_normalised_and_compared():
    assert rnnjax.cells.lstm(np.int64(8)) == rnnjax.cells.lstm(8)
    assert rnnjax.cells.lstm(8, forget_bias=np.float32(1.0)) == rnnjax.cells.lstm(8)
    assert rnnjax.cells.lstm(8, dtype="bfloat16") == rnnjax.cells.lstm(8, dtype=jnp.bfloat16)
    assert rnnjax.cells.lstm(8) != rnnjax.cells.lstm(9)
    assert rnnjax.cells.lstm(8) != rnnjax.cells.lstm(8, forget_bias=0.0)
    assert rnnjax.cells.elman(8) != rnnjax.cells.elman(8, activation=jax.nn.relu)
    assert rnnjax.cells.gru(8) != rnnjax.cells.gru(8, variant="reset_before")
    assert rnnjax.cells.elman(4) != rnnjax.cells.gru(4)
    assert rnnjax.stack([rnnjax.cells.gru(3)]) != rnnjax.stack([rnnjax.cells.gru(3)], dropout=0.1)


def test_replaced_function_and_hand_built_cells_compare_by_identity():
    cell = rnnjax.cells.elman(3)
    other = cell._replace(step=lambda p, c, x: (c, x))
    assert other != cell and other == other
    hand = rnnjax.Cell(cell.init, cell.initial_carry, cell.step, 3)
    assert hand == rnnjax.Cell(cell.init, cell.initial_carry, cell.step, 3)
    assert hand != cell
    hash(hand)


@pytest.mark.parametrize("options", [{"hoist": True}, {"hoist": False}, {"method": "associative"}])
def test_a_replaced_step_is_what_unroll_runs(key, options):
    """Replacing ``step`` drops the hoisted (project / recur), associative and layer-by-layer
    forms of the old one, so every unroll runs the new step."""
    cell = rnnjax.cells.mingru(4)  # has project, recur and affine
    assert cell.project is not None and cell.affine is not None
    double = cell._replace(step=lambda p, c, x: (c, 2.0 * x[..., :4]))
    assert double.project is double.recur is double.affine is double.sequence is None
    xs = jax.random.normal(key, (2, 5, 4))
    params = cell.init(key, 4)
    if options.get("method") == "associative":
        with pytest.raises(ValueError):
            rnnjax.unroll(double, params, xs, **options)
        return
    _, ys = rnnjax.unroll(double, params, xs, **options)
    np.testing.assert_allclose(np.asarray(ys), 2.0 * np.asarray(xs), rtol=1e-6)
    kept = cell._replace(step=cell.step, project=cell.project, recur=cell.recur)
    assert kept.project is cell.project and kept.affine is None


def test_jit_with_the_cell_static_compiles_once(key):
    traces = []

    def run(cell, params, xs):
        traces.append(1)
        return rnnjax.unroll(cell, params, xs)

    f = jax.jit(run, static_argnums=0)
    direct = jax.jit(rnnjax.unroll, static_argnums=0)
    params = rnnjax.stack([rnnjax.cells.lstm(3), rnnjax.cells.gru(3)]).init(key, 2)
    xs = jnp.ones((2, 4, 2))
    for _ in range(3):  # a fresh cell each time
        cell = rnnjax.stack([rnnjax.cells.lstm(3), rnnjax.cells.gru(3)])
        f(cell, params, xs)
        direct(cell, params, xs)
    assert len(traces) == 1
    assert direct._cache_size() == 1


@pytest.mark.parametrize("name", BUILDERS)
def test_default_dtypes_are_float32(name, key):
    _check_dtypes(BUILDERS[name](), key, jnp.float32, jnp.float32, jnp.float32)


@pytest.mark.parametrize("name", BUILDERS)
def test_bfloat16_compute_with_float32_params(name, key):
    cell = BUILDERS[name](dtype=jnp.bfloat16, param_dtype=jnp.float32)
    _check_dtypes(cell, key, jnp.float32, jnp.bfloat16, jnp.float32, grads=True)
    # a float32 carry passed in is cast to the cell's carry dtype
    params = cell.init(key, 3)
    carry = jax.tree.map(lambda c: c.astype(jnp.float32), cell.initial_carry(params, (2,)))
    out, ys = rnnjax.unroll(cell, params, jnp.ones((2, 5, 3)), carry)
    assert ys.dtype == jnp.bfloat16
    assert {c.dtype for c in jax.tree.leaves(out)} == {jnp.dtype(jnp.bfloat16)}


@pytest.mark.parametrize("name", BUILDERS)
def test_float64_under_x64(name, key):
    with jax.enable_x64(True):
        _check_dtypes(BUILDERS[name](param_dtype=jnp.float64), key, jnp.float64, jnp.float64,
                      jnp.float64)
        # dtype=None follows x64 at call time; the default param_dtype stays float32 (Flax)
        _check_dtypes(BUILDERS[name](), key, jnp.float32, jnp.float64, jnp.float32)


def _check_dtypes(cell, key, params_dtype, compute_dtype, input_dtype, grads=False):
    params = cell.init(key, 3)
    leaves = jax.tree.leaves(params)
    assert {a.dtype for a in leaves} == {jnp.dtype(params_dtype)}
    carry0 = cell.initial_carry(params, (2,))
    assert {c.dtype for c in jax.tree.leaves(carry0)} == {jnp.dtype(compute_dtype)}
    xs = jnp.ones((2, 5, 3), input_dtype)
    carry, ys = rnnjax.unroll(cell, params, xs)
    assert ys.dtype == compute_dtype
    assert {c.dtype for c in jax.tree.leaves(carry)} == {jnp.dtype(compute_dtype)}
    if isinstance(cell, rnnjax.Cell):  # a layer (bidirectional) has no step
        carry, y = cell.step(params, carry0, xs[:, 0])
        assert y.dtype == compute_dtype
        assert {c.dtype for c in jax.tree.leaves(carry)} == {jnp.dtype(compute_dtype)}
    if not grads:
        return
    grads = jax.grad(lambda p: jnp.sum(rnnjax.unroll(cell, p, xs)[1].astype(jnp.float32)))(params)
    assert {g.dtype for g in jax.tree.leaves(grads)} == {jnp.dtype(params_dtype)}


def test_bfloat16_outputs_close_to_float32(key):
    f32, bf16 = rnnjax.cells.lstm(8), rnnjax.cells.lstm(8, dtype=jnp.bfloat16)
    params = f32.init(key, 3)
    xs = jax.random.normal(key, (2, 6, 3))
    np.testing.assert_allclose(np.asarray(rnnjax.unroll(bf16, params, xs)[1], np.float32),
                               rnnjax.unroll(f32, params, xs)[1], atol=3e-2)


@pytest.mark.parametrize("kw", [{"dtype": jnp.int32}, {"param_dtype": "banana"}])
def test_bad_dtype_is_a_type_error(kw):
    with pytest.raises(TypeError, match="floating dtype"):
        rnnjax.cells.lstm(4, **kw)


def test_numpy_integers_are_sizes(key):
    cell = rnnjax.cells.gru(np.int64(4))
    params = cell.init(key, np.int32(3))
    assert params.w_x.shape == (3, 12)
    carry = cell.initial_carry(params, (np.int64(2),))
    assert carry.shape == (2, 4)
    with pytest.raises(ValueError, match="input_size"):
        cell.init(key, np.float32(3))


def test_modern_hopfield_cell_follows_the_cell_contract(key):
    from rnnjax.hopfield import modern

    assert modern.cell(3, np.int64(4), 2.0) == modern.cell(3, 4, 2.0)
    assert modern.cell(3, 4, 2.0) != modern.cell(3, 4, 2.0, dtype=jnp.bfloat16)
    for bad in (4.7, 0, True):
        with pytest.raises(ValueError, match="num_patterns must be a positive int"):
            modern.cell(bad, 4, 1.0)
    cell = modern.cell(3, 4, 2.0, dtype=jnp.bfloat16)
    params = cell.init(key, 4)
    assert params.stored.dtype == jnp.float32
    carry, ys = rnnjax.unroll(cell, params, jnp.ones((2, 3, 4)))
    assert ys.dtype == carry.dtype == jnp.bfloat16
    f32 = modern.cell(3, 4, 2.0)
    np.testing.assert_allclose(np.asarray(ys, np.float32),
                               rnnjax.unroll(f32, params, jnp.ones((2, 3, 4)))[1], atol=3e-2)


def test_cells_are_immutable_values_not_pytrees():
    cell = rnnjax.cells.gru(3)
    assert jax.tree.leaves(cell) == [cell]
    with pytest.raises(AttributeError, match="immutable"):
        cell.name = "other"
    renamed = cell._replace(name="other")
    assert renamed.name == "other" and cell.name != "other" and renamed != cell
