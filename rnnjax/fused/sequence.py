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
from typing import NamedTuple

import jax
import jax.numpy as jnp

Array = jax.Array


class Prepared(NamedTuple):
    """Time-major ``xs: (T, B, I)``, masks ``real``/``reset`` ``(T, B)`` in processing order,
    and ``order`` (``(T, B)`` time indices, or ``None`` when the order is the identity)."""

    xs: Array
    real: Array
    reset: Array
    order: Array | None


def prepare(xs: Array, lengths: Array | None, resets: Array | None, reverse: bool) -> Prepared:
    """``xs: (*batch, T, I)`` and the options of :func:`rnnjax.unroll` in the kernels' form."""
    T, B = xs.shape[-2], math.prod(xs.shape[:-2])
    x = jnp.moveaxis(xs.reshape(B, T, xs.shape[-1]), 1, 0)
    t = jnp.arange(T)[:, None]
    L = jnp.full((1, B), T) if lengths is None else lengths.reshape(1, B)
    real = jnp.broadcast_to(t < L, (T, B))
    if lengths is not None:
        x = jnp.where(real[..., None], x, 0)
    reset = jnp.zeros((T, B), bool) if resets is None else resets.reshape(B, T).T
    if reverse and resets is not None:
        reset = jnp.concatenate([reset[1:], jnp.zeros_like(reset[:1])]) & (t + 1 < L)
    order = None
    if reverse:
        order = jnp.where(real, L - 1 - t, t)
        x, reset = permute(x, order), permute(reset, order)
    return Prepared(x, real, reset, order)


def permute(a: Array, order: Array | None) -> Array:
    """``a[order[t, b], b]`` for time-major ``a``; the reversal maps are their own inverses."""
    if order is None:
        return a
    idx = order.reshape(order.shape + (1,) * (a.ndim - 2))
    return jnp.take_along_axis(a, jnp.broadcast_to(idx, a.shape), axis=0)


def finish(per_step: Array, prep: Prepared, batch_shape: tuple[int, ...]) -> Array:
    """Time-major ``(T, B, F)`` in processing order → batch-first ``(*batch, T, F)``."""
    a = jnp.moveaxis(permute(per_step, prep.order), 0, 1)
    return a.reshape(batch_shape + a.shape[1:])
