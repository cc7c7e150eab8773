"""Linear recurrences in ``O(log T)`` parallel depth with ``jax.lax.associative_scan``.

An affine recurrence ``h_t = a_t h_{t-1} + b_t`` is the composition of the maps
``φ_t(h) = a_t h + b_t``, and composition is associative:

.. math::  φ_2 ∘ φ_1 = (a_2 a_1,\\; a_2 b_1 + b_2)

so all prefixes ``φ_t ∘ … ∘ φ_1`` come out of a parallel prefix scan (Blelloch 1990) with
``O(log T)`` sequential combines instead of ``T`` steps; ``h_t`` is the prefix applied to ``h_0``.
The initial carry is folded into the first map (``b_1 ← a_1 h_0 + b_1``), so every prefix's ``b``
is ``h_t`` itself. Two forms: elementwise ``a_t`` (linear recurrent cells, quasi-DEER) and matrix
``A_t`` (DEER, where the composed map is ``(A_2 A_1, A_2 b_1 + b_2)``).

:func:`associative_unroll` is what ``rnnjax.unroll(..., method="associative")`` calls for a cell
with an :class:`rnnjax.cell.Affine` form, with the same ``lengths``, ``reverse`` and ``resets``
semantics as the sequential scan.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from rnnjax import _sequence as seq
from rnnjax.cell import Cell

Array = jax.Array
PyTree = Any


def affine_scan(a: PyTree, b: PyTree, h0: PyTree, *, reverse: bool = False) -> PyTree:
    """All ``h_t = a_t ⊙ h_{t-1} + b_t`` for time-major ``a, b: (T, ...)`` and ``h0: (...)``.

    ``a``, ``b`` and ``h0`` are pytrees of the same structure (leaves broadcast elementwise).
    With ``reverse=True`` the recurrence runs from ``t = T`` down: ``h_t = a_t ⊙ h_{t+1} + b_t``,
    ``h_{T+1} = h0``. Returns ``h`` shaped like ``b``.
    """
    def combine(first, second):  # second ∘ first, elementwise
        (a1, b1), (a2, b2) = first, second
        return (jax.tree.map(jnp.multiply, a2, a1),
                jax.tree.map(lambda a2, b1, b2: a2 * b1 + b2, a2, b1, b2))

    return _prefix(combine, a, b, h0, lambda a, h: a * h, reverse)


def matrix_affine_scan(A: Array, b: Array, h0: Array, *, reverse: bool = False) -> Array:
    """All ``h_t = A_t h_{t-1} + b_t`` for ``A: (T, D, D)``, ``b: (T, D)``, ``h0: (D,)``.

    ``reverse=True`` runs from ``t = T`` down as in :func:`affine_scan`. Each combine is a
    ``D × D`` matrix product, so the scan costs ``O(T D³)`` work in ``O(log T)`` depth.
    """
    def combine(first, second):
        (A1, b1), (A2, b2) = first, second
        return A2 @ A1, jnp.einsum("...ij,...j->...i", A2, b1) + b2

    return _prefix(combine, A, b, h0, lambda A, h: A @ h, reverse)


def _prefix(combine, a, b, h0, apply, reverse):
    if reverse:
        a, b = jax.tree.map(lambda v: jnp.flip(v, 0), (a, b))
    if jax.tree.leaves(b)[0].shape[0] == 0:
        return b
    first = jax.tree.map(lambda a, b, h: apply(a[0], h) + b[0], a, b, h0)
    b = jax.tree.map(lambda b, f: b.at[0].set(f), b, first)
    _, h = jax.lax.associative_scan(combine, (a, b))
    return jax.tree.map(lambda v: jnp.flip(v, 0), h) if reverse else h


def associative_unroll(cell: Cell, params: PyTree, xs: Array, carry: PyTree, *,
                       lengths: Array | None = None, reverse: bool = False,
                       resets: Array | None = None, reset_carry: PyTree | None = None,
                       return_carries: bool = False) -> tuple[PyTree, Any]:
    """``rnnjax.unroll`` for a cell with an affine form, by one associative scan.

    Inputs are already validated: ``xs: (*batch, T, I)`` batch-first, ``carry`` the initial carry,
    ``lengths: batch`` or ``None``, ``resets: (*batch, T)`` booleans or ``None``, ``reset_carry``
    what a reset restores (``carry`` when ``None``). The result equals the sequential scan's:

    - past a sequence's length the map is the identity ``(1, 0)``, so the carry stays ``c_L``, and
      the outputs there are zero;
    - a reset before step ``t`` makes that step's map the constant map to the initial carry's image,
      ``(a_t, b_t) ← (0, a_t ⊙ c_0 + b_t)`` with ``c_0`` the reset carry;
    - ``reverse`` runs each sequence from its last real element to its first (a segment of a packed
      sequence from its end to its start, so the reset moves to each segment's last element).
    """
    if cell.affine is None:
        raise ValueError(f"unroll: method='associative' needs a cell with an affine form "
                         f"(lru, mingru, minlstm); {cell.name} has none")
    T, nb = xs.shape[-2], xs.ndim - 2
    order = seq.reversal(reverse, lengths)
    xs_tm = order(seq.zero_padding(seq.time_major(xs), lengths))  # padding never reaches the cell
    a, b = cell.affine.coefficients(params, xs_tm)  # time acts as one more batch dim
    if resets is not None:
        reset_carry = carry if reset_carry is None else reset_carry
        r = jnp.moveaxis(jnp.asarray(resets, bool), -1, 0)  # (T, *batch)
        if reverse:  # reset before each segment's last element: where the next one starts
            r = seq.backward_resets(r, lengths)
        r = order(r)
        a, b = (jax.tree.map(lambda a: jnp.where(seq.expand(r, a), jnp.zeros_like(a), a), a),
                jax.tree.map(lambda a, b, c: jnp.where(seq.expand(r, b), a * c[None] + b, b),
                             a, b, reset_carry))
    mask = None
    if lengths is not None:
        mask = seq.valid(T, lengths)
        a = jax.tree.map(lambda v: jnp.where(seq.expand(mask, v), v, jnp.ones_like(v)), a)
        b = jax.tree.map(lambda v: jnp.where(seq.expand(mask, v), v, jnp.zeros_like(v)), b)
    hs = affine_scan(a, b, carry)
    ys = cell.affine.readout(params, hs, xs_tm)
    if mask is not None:
        ys = jnp.where(seq.expand(mask, ys), ys, jnp.zeros_like(ys))
    final = carry if T == 0 else jax.tree.map(lambda h: h[-1], hs)
    ys, hs = jax.tree.map(order, (ys, hs))
    return final, seq.batch_major((ys, hs) if return_carries else ys, nb)
