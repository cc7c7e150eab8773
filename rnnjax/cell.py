"""The cell: a recurrent transition as an immutable bundle of pure functions.

A cell is to a recurrent network what ``optax.GradientTransformation`` is to an optimiser:
a constructor closes over the hyper-parameters and returns a :class:`Cell`::

    cell = rnnjax.cells.lstm(hidden_size=128)
    params = cell.init(key, input_size)               # a NamedTuple of arrays
    carry = cell.initial_carry(params, batch_shape=())
    carry, y = cell.step(params, carry, x)            # x: (*batch, I) -> y: (*batch, output_size)

``step`` is exactly a ``lax.scan`` body once ``params`` is bound, so
``lax.scan(partial(cell.step, params), carry, xs_time_major)`` runs the recurrence;
:func:`rnnjax.unroll` does this with batch-first inputs, lengths, reversal and remat.

Splitting off the input projection
----------------------------------
Most cells start with an affine map of the input, ``u_t = x_t W_x + b``, that does not depend
on the carry. A cell may expose that split as two optional functions::

    step(params, carry, x) == recur(params, carry, project(params, x))

``project`` can then be applied to the whole sequence at once (one large matrix product instead
of ``T`` small ones) with only ``recur`` inside the scan: the standard optimisation on GPUs.
:func:`rnnjax.unroll` does so by default on GPU/TPU (not on CPU, where it measured slower; see
its ``hoist`` argument).

Elementwise affine recurrences
------------------------------
Linear recurrent cells (LRU, minGRU, minLSTM) have a transition that is an elementwise affine
map of the carry whose coefficients depend on the input alone::

    carry_t = a_t ⊙ carry_{t-1} + b_t,    (a_t, b_t) = coefficients(params, x_t)
    y_t = readout(params, carry_t, x_t)

Such a cell sets ``Cell.affine`` to an :class:`Affine` holding these two functions, with
``step(p, c, x) == (a ⊙ c + b, readout(p, a ⊙ c + b, x))``. ``a`` and ``b`` have the carry's
pytree structure and shapes (with ``x``'s batch dims; no broadcasting), so ``coefficients`` applied
to a whole sequence ``(*batch, T, I)`` gives every step's map at once, and the maps compose
associatively: ``(a_2, b_2) ∘ (a_1, b_1) = (a_2 a_1, a_2 b_1 + b_2)``.
:func:`rnnjax.unroll` with ``method="associative"`` evaluates the recurrence with
``jax.lax.associative_scan`` in ``O(log T)`` parallel depth (see :mod:`rnnjax.parallel`).

Randomness
----------
``step`` and ``recur`` may take a keyword-only ``key`` (a stack with dropout does). The same key
is passed at every time step, so masks drawn from it are the same through time: variational
dropout (Gal & Ghahramani 2016). Cells without randomness do not take ``key``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

Array = jax.Array
PyTree = Any


class Affine(NamedTuple):
    """The elementwise affine form of a linear recurrent cell (see the module docstring).

    Attributes:
      coefficients: ``(params, x) -> (a, b)`` with ``x: (*batch, I)`` and ``a``, ``b`` pytrees
        shaped like the carry for that batch: ``carry_t = a ⊙ carry_{t-1} + b``.
      readout: ``(params, carry, x) -> y``, the output computed from the new carry and the input.
    """

    coefficients: Callable[[PyTree, Array], tuple[PyTree, PyTree]]
    readout: Callable[[PyTree, PyTree, Array], Array]


class Cell(NamedTuple):
    """A recurrent cell: ``init``, ``initial_carry`` and ``step`` as pure functions.

    Attributes:
      init: ``(key, input_size) -> params``.
      initial_carry: ``(params, batch_shape=()) -> carry``; zeros unless the cell learns it.
      step: ``(params, carry, x) -> (carry, y)`` for ``x`` of shape ``(*batch, input_size)``.
      output_size: size of the last axis of ``y``.
      project: optional ``(params, x) -> u``, the carry-independent part of ``step``; applied
        to whole sequences at once by :func:`rnnjax.unroll`.
      recur: optional ``(params, carry, u) -> (carry, y)`` such that
        ``step(p, c, x) == recur(p, c, project(p, x))``.
      name: a short human-readable description, used in reprs and figure legends.
      sequence: optional ``(params, xs, carry, *, lengths, reverse, unroll, remat,
        return_carries, hoist, key) -> (carry, ys)`` for compositions that cannot be run one step at a
        time (a bidirectional layer needs the whole sequence); :func:`rnnjax.unroll` delegates to
        it, with ``xs`` batch-first and ``carry`` already resolved.
      affine: optional :class:`Affine`, for cells whose recurrence is an elementwise affine map
        with input-only coefficients; enables ``rnnjax.unroll(..., method="associative")``.
    """

    init: Callable[[Array, int], PyTree]
    initial_carry: Callable[..., PyTree]
    step: Callable[[PyTree, PyTree, Array], tuple[PyTree, Array]]
    output_size: int
    project: Callable[[PyTree, Array], Array] | None = None
    recur: Callable[[PyTree, PyTree, Array], tuple[PyTree, Array]] | None = None
    name: str = "cell"
    sequence: Callable[..., tuple[PyTree, Array]] | None = None
    affine: Affine | None = None

    def __repr__(self) -> str:  # the default repr prints function addresses
        return f"Cell({self.name}, output_size={self.output_size})"


def zeros_carry(*sizes: int) -> Callable[..., PyTree]:
    """An ``initial_carry`` returning zeros: one array per size (a tuple when several)."""

    def initial_carry(params: PyTree, batch_shape: tuple[int, ...] = ()) -> PyTree:
        del params
        batch_shape = _check_batch_shape(batch_shape)
        dtype = jnp.result_type(float)
        arrays = tuple(jnp.zeros((*batch_shape, n), dtype) for n in sizes)
        return arrays[0] if len(arrays) == 1 else arrays

    return initial_carry


def _check_batch_shape(batch_shape) -> tuple[int, ...]:
    if isinstance(batch_shape, int):
        batch_shape = (batch_shape,)
    try:
        batch_shape = tuple(int(b) for b in batch_shape)
    except TypeError:
        raise TypeError(
            f"batch_shape must be a tuple of ints, e.g. () or (32,), got {batch_shape!r}"
        ) from None
    if any(b < 0 for b in batch_shape):
        raise ValueError(f"batch_shape must be non-negative, got {batch_shape}")
    return batch_shape


def lead(v: Array, ndim: int) -> Array:
    """Prepend unit axes to ``v`` until it has ``ndim`` axes: explicit broadcasting of a bias
    ``(H,)`` against ``(*batch, H)``, valid under ``jax_numpy_rank_promotion="raise"``."""
    return v.reshape((1,) * (ndim - v.ndim) + v.shape)


def check_input(x: Array, input_size: int, where: str) -> None:
    """Raise a clear error unless ``x`` has shape ``(*batch, input_size)``."""
    if x.ndim < 1 or x.shape[-1] != input_size:
        raise ValueError(
            f"{where}: expected input of shape (*batch, {input_size}), got shape {tuple(x.shape)}"
        )


def check_carry(carry: PyTree, expected: PyTree, where: str) -> None:
    """Raise a clear error unless ``carry`` has the structure and trailing sizes of ``expected``."""
    c_leaves, c_def = jax.tree.flatten(carry)
    e_leaves, e_def = jax.tree.flatten(expected)
    if c_def != e_def:
        raise TypeError(f"{where}: expected a carry with structure {e_def}, got {c_def}")
    for c, e in zip(c_leaves, e_leaves, strict=True):
        if jnp.shape(c)[-1:] != jnp.shape(e)[-1:]:
            raise ValueError(
                f"{where}: expected carry leaves of shape (*batch, {jnp.shape(e)[-1]}), "
                f"got shape {tuple(jnp.shape(c))}"
            )
