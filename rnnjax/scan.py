"""The sequential evaluator: one cell over a sequence by ``lax.scan`` (``method="scan"``).

``scan_unroll`` is what :func:`rnnjax.unroll` calls for a cell with validated inputs; the
semantics (lengths, resets, reversal, hoisting, remat) are documented there.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from rnnjax import _sequence as seq
from rnnjax.cell import Cell

Array = jax.Array
PyTree = Any


def scan_unroll(cell: Cell, params: PyTree, xs: Array, carry: PyTree, *, lengths, reverse,
                unroll, remat, return_carries, resets=None, reset_carry=None, hoist=None,
                **kw) -> tuple[PyTree, Any]:
    """``(final_carry, ys)`` (or ``(final_carry, (ys, carries))``) by ``lax.scan``.

    ``xs: (*batch, T, I)`` batch-first, ``carry`` the initial carry, ``lengths`` clipped to
    ``[0, T]`` or ``None``, ``resets: (*batch, T)`` or ``None``, ``reset_carry`` what a reset
    restores; ``kw`` (``key``, ``deterministic``) is passed to every step.
    """
    T, nb = xs.shape[-2], xs.ndim - 2
    xs_tm = seq.zero_padding(seq.time_major(xs), lengths)  # transpose the input, not the gates
    resets_tm = None if resets is None else jnp.moveaxis(resets, -1, 0)  # (T, *batch)
    if resets_tm is not None and reverse:
        resets_tm = seq.backward_resets(resets_tm, lengths)
    padded_reverse = reverse and lengths is not None
    if padded_reverse:
        xs_tm = seq.reverse_within_lengths(xs_tm, lengths)
        if resets_tm is not None:
            resets_tm = seq.reverse_within_lengths(resets_tm, lengths)
    block = remat if not isinstance(remat, bool) else 0
    n_steps = -(-T // block) * block if block else T  # T rounded up to whole blocks
    if n_steps != T:
        xs_tm = jnp.pad(xs_tm, [(0, n_steps - T)] + [(0, 0)] * (xs_tm.ndim - 1))
        if resets_tm is not None:
            resets_tm = jnp.pad(resets_tm, [(0, n_steps - T)] + [(0, 0)] * (resets_tm.ndim - 1))
        if lengths is None:
            lengths = jnp.full(xs.shape[:-2], T, jnp.int32)
    mask = None if lengths is None else seq.valid(n_steps, lengths)

    if hoist is None:
        hoist = jax.default_backend() != "cpu"
    if hoist and cell.project is not None:
        project = lambda x: cell.project(params, x)
        transition = lambda c, u: cell.recur(params, c, u, **kw)
    else:
        project = lambda x: x
        transition = lambda c, x: cell.step(params, c, x, **kw)

    def body(c, inp):
        u, m, r = inp
        c_in = c
        if r is not None:
            c_in = jax.tree.map(lambda c0, o: jnp.where(seq.expand(r, o), c0, o), reset_carry, c)
        new_c, y = transition(c_in, u)
        if m is not None:
            new_c = jax.tree.map(lambda n, o: jnp.where(seq.expand(m, n), n, o), new_c, c)
            y = jnp.where(seq.expand(m, y), y, jnp.zeros_like(y))
        return new_c, ((y, new_c) if return_carries else y)

    scan_reverse = reverse and not padded_reverse
    if not block:
        # The input projection of all T steps is one matrix product, outside the loop.
        f = jax.checkpoint(body) if remat else body
        carry, out = jax.lax.scan(f, carry, (project(xs_tm), mask, resets_tm),
                                  reverse=scan_reverse, unroll=unroll)
    else:
        # Blocks of `block` steps; each block projects its own inputs (still one product per
        # block) so nothing of size T × gates is stored, and only block-boundary carries are kept.
        blocks = jax.tree.map(lambda a: a.reshape((n_steps // block, block) + a.shape[1:]),
                              (xs_tm, mask, resets_tm))

        @jax.checkpoint
        def block_body(c, inp):
            x, m, r = inp
            return jax.lax.scan(body, c, (project(x), m, r), reverse=scan_reverse, unroll=unroll)

        carry, out = jax.lax.scan(block_body, carry, blocks, reverse=scan_reverse)
        out = jax.tree.map(lambda a: a.reshape((n_steps,) + a.shape[2:]), out)
    out = jax.tree.map(lambda a: a[:T], out)
    if padded_reverse:
        out = jax.tree.map(lambda a: seq.reverse_within_lengths(a, lengths), out)
    return carry, seq.batch_major(out, nb)
