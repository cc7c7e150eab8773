"""The recurrent map on a flat carry vector, and the checks shared by the analysis modules.

:func:`flat_step` turns any :class:`rnnjax.Cell` into ``f(h, x) -> (h_next, y)`` on its carry
flattened into one vector; :func:`_with_length` makes the steps past a sequence's length the
identity map. The ``_check_*`` helpers validate one sequence and one unbatched carry.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.flatten_util import ravel_pytree

from rnnjax.cell import Cell, PyTree, require_cell

Array = jax.Array

__all__ = ["astype", "flat_step"]


def astype(tree: PyTree, dtype) -> PyTree:
    """Cast every floating-point leaf of ``tree`` to ``dtype`` (e.g. params to float64)."""
    return jax.tree.map(
        lambda a: a.astype(dtype) if jnp.issubdtype(jnp.result_type(a), jnp.floating) else a,
        tree,
    )


def flat_step(cell: Cell, params: PyTree, carry: PyTree | None = None, *,
              where: str = "flat_step"):
    """The cell's transition on a flat carry vector.

    Returns ``(f, h0, unravel)`` with ``f(h, x) -> (h_next, y)`` where ``h`` is the carry
    flattened by ``jax.flatten_util.ravel_pytree`` (size ``N``), ``h0`` the flattened initial
    carry (``cell.initial_carry(params, batch_shape=())`` when ``carry`` is None) and
    ``unravel`` the inverse of the flattening.
    """
    require_cell(cell, where)  # a layer (bidirectional pass) has no one-step map
    if carry is None:
        carry = cell.initial_carry(params, batch_shape=())
    h0, unravel = ravel_pytree(carry)

    def f(h: Array, x: Array) -> tuple[Array, Array]:
        new_carry, y = cell.step(params, unravel(h), x)
        h_next, _ = ravel_pytree(new_carry)
        return h_next.astype(h.dtype), y

    return f, h0, unravel


def _check_xs(xs: Array, where: str) -> Array:
    xs = jnp.asarray(xs)
    if xs.ndim != 2:
        raise ValueError(
            f"{where}: expected xs of shape (T, input_size) for one sequence (vmap for a batch), "
            f"got shape {tuple(xs.shape)}"
        )
    if xs.shape[0] < 1:
        raise ValueError(f"{where}: expected at least one time step, got T = {xs.shape[0]}")
    return xs


def _check_carry_unbatched(h0: Array, carry: PyTree, where: str) -> None:
    del h0
    leaves = jax.tree.leaves(carry)
    if any(jnp.ndim(leaf) != 1 for leaf in leaves):
        shapes = [tuple(jnp.shape(leaf)) for leaf in leaves]
        raise ValueError(
            f"{where}: expected a carry for one sequence (every leaf of shape (size,)), "
            f"got leaf shapes {shapes}; vmap over a batch instead"
        )


def _check_length(length, T: int, where: str, minimum: int = 0):
    """``None``, or ``length`` as an int32 scalar (traced values are clipped to ``minimum..T``)."""
    if length is None:
        return None
    try:
        integer = jnp.issubdtype(jnp.result_type(length), jnp.integer)
    except TypeError:
        integer = False
    if not integer or jnp.ndim(length) != 0:
        raise TypeError(f"{where}: length must be an integer scalar (it may be traced), got "
                        f"{type(length).__name__} of shape {jnp.shape(length)}")
    if not isinstance(length, jax.core.Tracer) and not minimum <= int(length) <= T:
        raise ValueError(f"{where}: length must lie in {minimum}..{T} (T = {T}), got {int(length)}")
    return jnp.clip(jnp.asarray(length, jnp.int32), minimum, T)


def _with_length(f, xs: Array, length):
    """The map with steps past ``length`` replaced by the identity.

    The step's liveness rides along as an extra last input column (1 live, 0 padded), so every
    sweep over ``xs`` (blocked, sliced, reversed) sees it without bookkeeping. Padded inputs are
    replaced by zeros before they reach the cell, so non-finite padding never reaches a gradient.
    """
    if length is None:
        return f, xs
    live = (jnp.arange(1, xs.shape[0] + 1) <= length).astype(xs.dtype)
    xs = jnp.concatenate([xs, live[:, None]], axis=1)

    def masked(h: Array, x: Array) -> tuple[Array, Array]:
        keep = x[-1] > 0
        h_next, y = f(h, jnp.where(keep, x[:-1], jnp.zeros_like(x[:-1])))
        y = jax.tree.map(lambda a: jnp.where(keep, a, jnp.zeros_like(a)), y)
        return jnp.where(keep, h_next, h), y

    return masked, xs


def _setup(cell, params, xs, carry, where):
    xs = _check_xs(xs, where)
    f, h0, _ = flat_step(cell, params, carry, where=where)
    if carry is not None:
        _check_carry_unbatched(h0, carry, where)
    return xs, f, h0


def _columns(fn):
    """``fn`` (vector -> vector) applied to every column of an ``(N, m)`` block."""
    return jax.vmap(fn, in_axes=1, out_axes=1)


def _safe_log(x: Array) -> Array:
    return jnp.log(jnp.where(x > 0, x, 0.0))  # log(0) = -inf, never nan
