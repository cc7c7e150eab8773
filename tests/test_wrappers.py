"""Every constructor that wraps a cell keeps every capability of what it wraps.

The wrappers are found by walking ``rnnjax`` (every decorated constructor that takes a cell or a
layer and returns one), so a new wrapper fails :func:`test_every_wrapper_is_walked` until it is
added to ``WRAPPERS`` and so checked here. Each is applied to a cell of each capability:

- the input projection split (``project``/``recur``): with ``hoist=True`` the inner cell's
  ``project`` is applied to the whole sequence through the wrapper;
- the elementwise affine form (``affine``), alone or in a stack run layer by layer
  (``sequence``) or in a bidirectional layer: ``method="associative"`` runs through the wrapper
  and equals the scan, as it does for the bare cell;
- a complex carry (the LRU's) is learned as a complex parameter;
- a layer's structure: a wrapped bidirectional layer is still read as one by ``pool="ends"``.
"""

import importlib
import inspect
import pkgutil

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import rnnjax
from rnnjax import cells
from rnnjax.init import learned_initial_carry
from rnnjax.models import sequence_model

WRAPPERS = {
    "rnnjax.init.learned_initial_carry": learned_initial_carry,
    "rnnjax.compose.stack": lambda c: rnnjax.stack([c]),
    "rnnjax.compose.bidirectional": lambda c: rnnjax.bidirectional(c, c),
}

CELLS = {
    "elman": lambda: cells.elman(3),                                     # project/recur
    "mingru": lambda: cells.mingru(3),                                   # project/recur + affine
    "lru": lambda: cells.lru(3),                                         # affine
    "stack": lambda: rnnjax.stack([cells.mingru(3), cells.lru(3)]),      # sequence (a cell)
    "bidirectional": lambda: rnnjax.bidirectional(cells.minlstm(3), cells.lru(3)),  # a layer
}


def _wrappers_in_the_library() -> set[str]:
    found = set()
    for info in pkgutil.walk_packages(rnnjax.__path__, "rnnjax."):
        for obj in vars(importlib.import_module(info.name)).values():
            inner = getattr(obj, "__wrapped__", None)
            if inner is None or not callable(obj):
                continue
            signature = inspect.signature(inner)
            takes = any("Cell" in str(p.annotation) or "Layer" in str(p.annotation)
                        for p in signature.parameters.values())
            returns = str(signature.return_annotation)
            if takes and ("Cell" in returns or "Layer" in returns):
                found.add(f"{obj.__module__}.{obj.__qualname__}")
    return found


def test_every_wrapper_is_walked():
    assert _wrappers_in_the_library() == set(WRAPPERS)


def _shifted(params):
    """Every parameter moved off its initial value (a learned carry is zeros at init)."""
    return jax.tree.map(lambda a: a + 0.1 * jnp.cos(jnp.arange(a.size, dtype=a.dtype)).reshape(a.shape),
                        params)


# The wrappers that are compositions run their parts through unroll (covered by test_compose);
# the full matrix is in the slow tier, the parameter-view wrapper in the default one.
@pytest.mark.parametrize("cell_name", sorted(CELLS))
@pytest.mark.parametrize("wrapper", [
    pytest.param(w, marks=() if w == "rnnjax.init.learned_initial_carry" else pytest.mark.slow)
    for w in sorted(WRAPPERS)])
def test_a_wrapper_keeps_the_affine_form(wrapper, cell_name, key):
    inner = CELLS[cell_name]()
    wrapped = WRAPPERS[wrapper](inner)
    xs = jax.random.normal(jax.random.key(1), (2, 5, 3))
    params = _shifted(wrapped.init(key, 3))
    options = {"lengths": np.array([5, 3]), "reverse": True}
    c_scan, y_scan = rnnjax.unroll(wrapped, params, xs, **options)
    if cell_name == "elman":  # no affine form: refused, wrapped or not
        with pytest.raises((TypeError, ValueError)):
            rnnjax.unroll(wrapped, params, xs, method="associative", **options)
        return
    c_assoc, y_assoc = rnnjax.unroll(wrapped, params, xs, method="associative", **options)
    np.testing.assert_allclose(y_assoc, y_scan, rtol=1e-5, atol=1e-5)
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5),
                 c_assoc, c_scan)


@pytest.mark.parametrize("wrapper", sorted(WRAPPERS))
def test_a_wrapper_keeps_the_projection_split(wrapper, key):
    """``hoist=True`` reaches the inner cell's ``project``: it sees the whole sequence (a time
    axis) once, and the outputs equal the unhoisted run."""
    base = cells.elman(3)
    seen = []

    def project(params, x):
        seen.append(x.ndim)
        return base.project(params, x)

    wrapped = WRAPPERS[wrapper](base._replace(project=project))
    params = _shifted(wrapped.init(key, 3))
    xs = jax.random.normal(jax.random.key(2), (2, 5, 3))
    _, y_plain = rnnjax.unroll(wrapped, params, xs, hoist=False)
    assert seen == []
    _, y_hoist = rnnjax.unroll(wrapped, params, xs, hoist=True)
    assert seen and all(n == xs.ndim for n in seen)
    np.testing.assert_allclose(y_hoist, y_plain, rtol=1e-5, atol=1e-5)


def test_with_params_keeps_every_capability_and_the_kind():
    for inner in [f() for f in CELLS.values()] + [cells.urnn(3)]:
        wrapped = rnnjax.cell.with_params(inner, lambda p: p, init=inner.init,
                                          initial_carry=inner.initial_carry, name="same")
        assert type(wrapped) is type(inner)
        if isinstance(inner, rnnjax.Cell):
            for field in ("step", "project", "recur", "sequence", "affine", "output_size"):
                assert (getattr(wrapped, field) is None) == (getattr(inner, field) is None), field
        else:
            assert (wrapped.forward, wrapped.backward, wrapped.merge) == \
                (inner.forward, inner.backward, inner.merge)


def test_a_wrapped_bidirectional_layer_pools_its_ends(key):
    """``pool="ends"`` reads the bidirectional top layer through a learned initial carry:
    forward half at the last position, backward half at the first."""
    layer = learned_initial_carry(rnnjax.bidirectional(cells.gru(3), cells.gru(3)))
    model = sequence_model(layer, input_size=2, output_size=1, pool="ends")
    params = model.init(key)
    params = params._replace(cell=_shifted(params.cell))
    xs = jax.random.normal(jax.random.key(3), (4, 2))
    _, out = model.apply(params, xs)
    _, ys = rnnjax.unroll(layer, params.cell, xs)
    feature = jnp.concatenate([ys[-1, :3], ys[0, 3:]])
    np.testing.assert_allclose(out, feature @ params.w_out + params.b_out, rtol=1e-5, atol=1e-6)


def test_a_learned_complex_carry_stays_complex(key):
    cell = learned_initial_carry(cells.lru(3))
    params = cell.init(key, 2)
    assert jnp.iscomplexobj(params.carry0)
    params = params._replace(carry0=params.carry0 + 0.5j)
    carry = cell.initial_carry(params, (2,))
    np.testing.assert_allclose(carry.imag, 0.5)
