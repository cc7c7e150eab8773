"""Sequence bookkeeping shared by the fused and cuDNN paths: batch flattening, the step and reset
masks, and reversal within lengths.

The kernels always run forward in time over a flat batch ``B``. :func:`prepare` turns
:func:`rnnjax.unroll`'s options into that form, with exactly the semantics of ``method="scan"``:

- ``lengths``: step ``t`` of a sequence is real when ``t < L``; padded inputs are replaced by
  zeros before the cell sees them (NaN padding stays out of the values and the gradients).
- ``reverse``: each sequence runs from its last real element back to its first; this is a
  permutation of the time axis within each sequence (``t ↦ L − 1 − t`` for ``t < L``, the
  padding stays in place), applied to the inputs before and to the outputs after.
- ``resets``: backward in time the carry is reset before ``t`` when ``t + 1`` starts a segment
  (resets in the padding are ignored).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp

from rnnjax import _sequence as seq

Array = jax.Array


class Prepared(NamedTuple):
    """Time-major ``xs: (T, B, I)``, masks ``real``/``reset`` ``(T, B)`` in processing order,
    and ``order``, the time reordering (its own inverse) from and back to the sequences' order."""

    xs: Array
    real: Array
    reset: Array
    order: Callable[[Array], Array]


def prepare(xs: Array, lengths: Array | None, resets: Array | None, reverse: bool) -> Prepared:
    """``xs: (*batch, T, I)`` and the options of :func:`rnnjax.unroll` in the kernels' form, built
    from the plumbing every evaluator shares (:mod:`rnnjax._sequence`)."""
    T, B = xs.shape[-2], math.prod(xs.shape[:-2])
    x = seq.time_major(xs.reshape(B, T, xs.shape[-1]))
    L = None if lengths is None else lengths.reshape(B)
    real = jnp.ones((T, B), bool) if L is None else seq.valid(T, L)
    x = seq.zero_padding(x, L)
    reset = jnp.zeros((T, B), bool) if resets is None else resets.reshape(B, T).T
    if reverse and resets is not None:
        reset = seq.backward_resets(reset, L)
    order = seq.reversal(reverse, L)
    return Prepared(order(x), real, order(reset), order)


def finish(per_step: Array, prep: Prepared, batch_shape: tuple[int, ...]) -> Array:
    """Time-major ``(T, B, F)`` in processing order → batch-first ``(*batch, T, F)``."""
    a = jnp.moveaxis(prep.order(per_step), 0, 1)
    return a.reshape(batch_shape + a.shape[1:])
