"""Sequence plumbing shared by the evaluators (scan, associative scan, Newton).

One place for what every way of running a cell over ``xs: (*batch, T, features)`` needs:
checking the inputs (``xs``, ``lengths``, ``resets``, a carry), moving the time axis to the front
and back, the padding mask ``t < L``, the "double where" that zeroes padded inputs before a cell
sees them (so NaN padding cannot reach gradients through the masked-out branch), reversing each
sequence within its length, and shifting resets for a backward pass.

Time-major arrays have shape ``(T, *batch, ...)``; ``nb`` is the number of batch dims.
Checks raise one line beginning with ``where`` (the public function's name).
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

Array = jax.Array
PyTree = Any


# ----------------------------------------------------------------------------- checks


def check_xs(xs: Any, where: str) -> Array:
    """``xs`` as an array of shape ``(*batch, T, features)``."""
    xs = jnp.asarray(xs)
    if xs.ndim < 2:
        raise ValueError(f"{where}: expected xs of shape (*batch, T, input_size), "
                         f"got shape {tuple(xs.shape)}")
    return xs


def check_lengths(lengths: Any, batch_shape: tuple[int, ...], T: int, where: str) -> Array | None:
    """Integer lengths of shape ``batch_shape``, clipped to ``[0, T]``.

    Concrete (NumPy or Python) lengths are clipped in their own dtype before they become a JAX
    array, so ``2**40`` means "the whole sequence" rather than wrapping to a 32-bit value.
    """
    if lengths is None:
        return None
    if isinstance(lengths, (list, tuple)) or np.isscalar(lengths):
        lengths = np.asarray(lengths)
    dtype = getattr(lengths, "dtype", None)
    if dtype is None or not np.issubdtype(dtype, np.integer):
        raise TypeError(f"{where}: lengths must be integers, got "
                        f"{'dtype ' + str(dtype) if dtype is not None else type(lengths).__name__}")
    if tuple(lengths.shape) != batch_shape:
        raise ValueError(f"{where}: expected lengths of shape {batch_shape} (the batch dims of xs),"
                         f" got shape {tuple(lengths.shape)}")
    if isinstance(lengths, np.ndarray):
        lengths = np.clip(lengths, 0, T)  # in the original dtype: no wrap-around on the cast
    return jnp.clip(jnp.asarray(lengths), 0, T)


def check_resets(resets: Any, batch_shape: tuple[int, ...], T: int, where: str) -> Array | None:
    """Boolean resets of shape ``(*batch, T)``."""
    if resets is None:
        return None
    if isinstance(resets, (list, tuple)):
        resets = np.asarray(resets)
    if not hasattr(resets, "dtype") or resets.dtype != np.bool_:
        raise TypeError(f"{where}: resets must be a boolean array of shape (*batch, T) = "
                        f"{(*batch_shape, T)}, got dtype {getattr(resets, 'dtype', type(resets))}")
    if tuple(resets.shape) != (*batch_shape, T):
        raise ValueError(f"{where}: expected resets of shape (*batch, T) = {(*batch_shape, T)}, "
                         f"got shape {tuple(resets.shape)}")
    return jnp.asarray(resets)


def check_carry(carry: PyTree, expected: PyTree, batch_shape: tuple[int, ...], what: str,
                where: str) -> PyTree:
    """``carry`` with the structure and shapes of ``expected``, cast to its dtypes."""
    c_leaves, c_def = jax.tree.flatten(carry)
    e_leaves, e_def = jax.tree.flatten(expected)
    if c_def != e_def:
        raise TypeError(f"{where}: expected a {what} with structure {e_def}, got {c_def}")
    for c, e in zip(c_leaves, e_leaves, strict=True):
        if tuple(jnp.shape(c)) != tuple(e.shape):
            raise ValueError(f"{where}: expected {what} leaves of shape {tuple(e.shape)} for batch "
                             f"shape {batch_shape}, got shape {tuple(jnp.shape(c))}")
    return jax.tree.map(lambda c, e: jnp.asarray(c, e.dtype), carry, expected)


def resolve_carry(cell: Any, params: PyTree, carry: PyTree | None, batch_shape: tuple[int, ...],
                  where: str, what: str = "carry") -> PyTree:
    """The initial carry: ``cell.initial_carry(params, batch_shape)`` when ``carry`` is None, else
    ``carry`` checked against it."""
    if carry is None:
        return cell.initial_carry(params, batch_shape)
    expected = jax.eval_shape(lambda p: cell.initial_carry(p, batch_shape), params)
    return check_carry(carry, expected, batch_shape, what, where)


# ----------------------------------------------------------------------------- the time axis


def time_major(a: Array) -> Array:
    """``(*batch, T, features)`` to ``(T, *batch, features)``."""
    return jnp.moveaxis(a, -2, 0)


def batch_major(tree: PyTree, nb: int) -> PyTree:
    """Every leaf ``(T, *batch, ...)`` to ``(*batch, T, ...)``."""
    return jax.tree.map(lambda a: jnp.moveaxis(a, 0, nb), tree)


def expand(m: Array, like: Array) -> Array:
    """Append trailing unit axes to a ``(T, *batch)`` or ``batch`` mask to broadcast on ``like``."""
    return m.reshape(m.shape + (1,) * (like.ndim - m.ndim))


def time_index(T: int, nb: int) -> Array:
    """``t = 0..T-1`` shaped ``(T, 1, ..., 1)`` against ``nb`` batch dims."""
    return jnp.arange(T).reshape((T,) + (1,) * nb)


def valid(T: int, lengths: Array) -> Array:
    """The padding mask ``t < L``: ``(T, *batch)`` booleans."""
    return time_index(T, lengths.ndim) < lengths[None]


def zero_padding(xs_tm: Array, lengths: Array | None) -> Array:
    """Time-major inputs with the padding replaced by zeros (the first where of the double where:
    the cell never sees padding, so NaN or inf there gives finite outputs and gradients)."""
    if lengths is None:
        return xs_tm
    return jnp.where(expand(valid(xs_tm.shape[0], lengths), xs_tm), xs_tm, 0)


def reverse_within_lengths(a: Array, lengths: Array) -> Array:
    """Time-major ``a``: reverse ``a[:L]`` of every sequence, leave the padding in place.

    Position ``t < L`` takes element ``L − 1 − t``; the map is its own inverse.
    """
    T = a.shape[0]
    t = time_index(T, lengths.ndim)
    idx = jnp.where(t < lengths[None], lengths[None] - 1 - t, t)  # (T, *batch)
    idx = idx.reshape(idx.shape + (1,) * (a.ndim - idx.ndim))
    return jnp.take_along_axis(a, jnp.broadcast_to(idx, a.shape), axis=0)


def reversal(reverse: bool, lengths: Array | None):
    """The time-major reordering a backward pass reads its inputs in (its own inverse): none,
    a flip, or a flip within each sequence's length."""
    if not reverse:
        return lambda a: a
    if lengths is None:
        return lambda a: jnp.flip(a, 0)
    return lambda a: reverse_within_lengths(a, lengths)


def backward_resets(resets_tm: Array, lengths: Array | None) -> Array:
    """Time-major resets for a backward pass, before reordering.

    Backward in time a segment starts at its last step, so the carry is reset before ``t`` when
    ``t + 1`` starts a segment; a segment also ends at each sequence's last real element.
    """
    r = jnp.concatenate([resets_tm[1:], jnp.zeros_like(resets_tm[:1])], axis=0)
    if lengths is not None:
        r = r & (time_index(r.shape[0], lengths.ndim) + 1 < lengths[None])
    return r
