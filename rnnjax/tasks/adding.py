"""The adding problem: remember two marked numbers across a long sequence and add them.

Two forms are provided; the sweep and the papers' numbers use the modern one.

Modern form (Le, Jaitly & Hinton 2015; Arjovsky, Shah & Bengio 2016), ``form="modern"``
---------------------------------------------------------------------------------------
Input ``x`` of shape ``(T, 2)``. Column 0 holds values ``v_t ~ U[0, 1]``; column 1 is zero except
for exactly two markers ``m_t = 1``, one at a uniformly chosen position ``i`` in the first half
``[0, ⌊T/2⌋)`` and one at ``j`` in the second half ``[⌊T/2⌋, T)``. The target is

    y = v_i + v_j,    loss = (ŷ - y)²  (MSE).

Predicting the constant ``E[y] = 1`` scores ``E[(y - 1)²] = Var(v_i) + Var(v_j) = 2/12 = 1/6``:
the baseline every model must beat (:data:`MODERN_BASELINE`). The lag between the first marker
and the end of the sequence is at least ``T/2``.

Hochreiter & Schmidhuber (1997, experiment 4) form, ``form="hs97"``
------------------------------------------------------------------
Column 0 holds ``v_t ~ U[-1, 1]``. Column 1 is ``-1`` at the first and last position, ``0``
elsewhere, except for two markers ``1``: one at a position ``i`` among the first ten, another at a
different position ``j`` among the first ``T/2 - 1``. When position 0 is marked its value is set to
zero (as in the paper). The target is

    y = 0.5 + (v_i + v_j) / 4  ∈ [0, 1],

and a sequence counts as solved when ``|ŷ - y| < 0.04`` (:func:`solved`). The constant
predictor ``0.5`` scores ``Var(v_i + v_j)/16 = (2/3)/16 = 1/24`` (:data:`HS97_BASELINE`; slightly
less in expectation when position 0 is marked, probability ≈ 1/10 · 2/(T-2)).
Deviation, stated: the paper draws the sequence length at random from ``[T, T + T/10]``; here
every sequence has exactly length ``T`` so that batches have one shape (the lag is still at
least ``T/2``).

Data
----
:func:`example` draws one ``(inputs (T, 2), target ())`` pair from a key; :func:`batch` vmaps it
over ``batch_size`` keys (a fresh stream: fold the step into the key); :func:`split` returns a fixed
``(train, test)`` pair of :class:`Batch` from one key. All are jit-compatible with ``length``,
``batch_size`` and ``form`` static.

    from rnnjax.tasks import adding
    data = adding.batch(key=jax.random.fold_in(key, step), batch_size=64, length=100)
    data.inputs.shape, data.targets.shape      # (64, 100, 2), (64,)
    adding.baseline()                          # 1/6
"""

from __future__ import annotations

from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp

from rnnjax import _checks

Array = jax.Array

FORMS = ("modern", "hs97")
INPUT_SIZE = 2
MODERN_BASELINE = 1.0 / 6.0
HS97_BASELINE = 1.0 / 24.0
HS97_TOLERANCE = 0.04


class Batch(NamedTuple):
    """A batch of adding-problem sequences.

    Attributes:
      inputs: ``(*batch, T, 2)`` float: column 0 the values, column 1 the markers.
      targets: ``(*batch,)`` float: the sum (modern) or ``0.5 + sum/4`` (hs97).
    """

    inputs: Array
    targets: Array


def _check(length, form: str) -> int:
    if form not in FORMS:
        raise ValueError(f"form must be one of {FORMS}, got {form!r}")
    if not _checks.is_int(length):
        raise TypeError(f"length must be an int (the sequence length T), got {length!r}")
    length = int(length)
    minimum = 2 if form == "modern" else 6
    if length < minimum:
        raise ValueError(f"length must be >= {minimum} for form={form!r}, got {length}")
    return length


def baseline(form: str = "modern") -> float:
    """MSE of the best constant predictor: 1/6 (modern, predict 1) or 1/24 (hs97, predict 0.5)."""
    if form not in FORMS:
        raise ValueError(f"form must be one of {FORMS}, got {form!r}")
    return MODERN_BASELINE if form == "modern" else HS97_BASELINE


def example(*, key: Array, length: int, form: str = "modern") -> tuple[Array, Array]:
    """One sequence: ``(inputs (length, 2), target ())``, float32 whatever jax's x64 flag (a
    float64 computation sees the same draws). See the module docstring for the forms."""
    length = _check(length, form)
    return _example(key, length, form)


@partial(jax.jit, static_argnums=(1, 2))
def _example(key: Array, length: int, form: str) -> tuple[Array, Array]:
    k_values, k_first, k_second = jax.random.split(key, 3)
    t = jnp.arange(length)
    if form == "modern":
        half = length // 2
        values = jax.random.uniform(k_values, (length,), jnp.float32)
        i = jax.random.randint(k_first, (), 0, half, jnp.int32)
        j = jax.random.randint(k_second, (), half, length, jnp.int32)
        marked = (t == i) | (t == j)
        markers = marked.astype(values.dtype)
        target = jnp.sum(jnp.where(marked, values, 0.0))
    else:  # hs97
        m = length // 2 - 1  # the second marker lies among the first T/2 - 1 positions
        values = jax.random.uniform(k_values, (length,), jnp.float32, minval=-1.0, maxval=1.0)
        i = jax.random.randint(k_first, (), 0, min(10, m), jnp.int32)
        j = jax.random.randint(k_second, (), 0, m - 1, jnp.int32)
        j = j + (j >= i)  # uniform over the first m positions other than i
        marked = (t == i) | (t == j)
        values = jnp.where(marked & (t == 0), 0.0, values)  # "X1 is set to zero"
        ends = (t == 0) | (t == length - 1)
        markers = jnp.where(marked, 1.0, jnp.where(ends, -1.0, 0.0)).astype(values.dtype)
        target = 0.5 + jnp.sum(jnp.where(marked, values, 0.0)) / 4.0
    return jnp.stack([values, markers], axis=-1), target


def batch(*, key: Array, batch_size: int, length: int, form: str = "modern") -> Batch:
    """``batch_size`` independent sequences from one key (a fresh stream: fold in the step)."""
    length = _check(length, form)
    batch_size = _checks.positive_int(batch_size, "batch_size")
    keys = jax.random.split(key, batch_size)
    inputs, targets = jax.vmap(lambda k: _example(k, length, form))(keys)
    return Batch(inputs, targets)


def split(*, key: Array, n_train: int, n_test: int, length: int,
          form: str = "modern") -> tuple[Batch, Batch]:
    """A fixed ``(train, test)`` split, independent of each other, reproducible from ``key``."""
    k_train, k_test = jax.random.split(key)
    return (batch(key=k_train, batch_size=n_train, length=length, form=form),
            batch(key=k_test, batch_size=n_test, length=length, form=form))


def solved(predictions: Array, targets: Array, tolerance: float = HS97_TOLERANCE) -> Array:
    """Hochreiter & Schmidhuber's per-sequence criterion: ``|ŷ - y| < tolerance`` (bool array)."""
    predictions, targets = jnp.asarray(predictions), jnp.asarray(targets)
    if predictions.shape != targets.shape:
        raise ValueError(f"predictions {predictions.shape} and targets {targets.shape} must have "
                         "the same shape")
    return jnp.abs(predictions - targets) < tolerance
