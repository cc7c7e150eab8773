"""Classical (discrete) Hopfield networks: Hebbian storage, energy, asynchronous and synchronous runs.

Two representations of a state ``y`` of ``N`` units are supported everywhere through the
keyword ``binary``:

- bipolar (default): ``y_i ∈ {-1, +1}``;
- binary (``binary=True``): ``y_i ∈ {0, 1}``, the lecture's algorithm with 0/1 activations.

Storage (Hebbian, zero diagonal, *unscaled* as in the lecture)::

    bipolar patterns s(p) ∈ {±1}^N:  w_ij = Σ_p s_i(p) s_j(p),                 w_ii = 0
    binary patterns  s(p) ∈ {0,1}^N:  w_ij = Σ_p (2 s_i(p) - 1)(2 s_j(p) - 1),  w_ii = 0

(The lecture writes the binary rule as ``(2s_i(p) - 1)(2s_i(p) - 1)``, repeating the index
``i``: a typo. The standard rule above, with ``j`` in the second factor, is what is meant and
what its worked example uses.)

The update of unit ``i`` (the lecture's Step 5), with external input ``x`` and threshold ``θ``::

    y_in_i = x_i + Σ_j y_j w_ji
    y_i ← hi  if y_in_i > θ_i,   y_i  if y_in_i = θ_i,   lo  if y_in_i < θ_i

where ``(lo, hi) = (-1, 1)`` (bipolar) or ``(0, 1)`` (binary). The energy::

    E(y) = -½ Σ_ij w_ij y_i y_j  -  Σ_i x_i y_i  +  Σ_i θ_i y_i

is the lecture's ``E = -½ Σ_{i≠j} w_ij y_i y_j + Σ θ_i y_i`` plus the external-input term
(zero when ``external`` is None). The asynchronous dynamics (:func:`run_async`,
:func:`run_async_patterns`, :func:`sweep_orders`, one unit at a time, with ``E`` as a Lyapunov
function) live in :mod:`rnnjax.hopfield.asynchronous` and are re-exported here.

All functions work on one network and one state; batch with ``jax.vmap`` (over patterns,
cues, trials or whole networks). The inputs go through the checks shared by the Hopfield modules
(:mod:`rnnjax.hopfield._common`): real numbers (complex or string arrays raise one line), at
least one stored pattern, int step counts. Pattern and state values are checked when they are
concrete; under ``jit``/``vmap`` only dtypes and shapes are checked.
"""

from __future__ import annotations

from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax import lax

from rnnjax.hopfield._common import (
    _check_state,
    _check_values,
    _check_weights,
    _levels,
    _threshold_update,
    _vector,
    count,
    real_array,
    stored_patterns,
)
from rnnjax.hopfield.asynchronous import AsyncResult, run_async, run_async_patterns, sweep_orders

Array = jax.Array

__all__ = [
    "AsyncResult",
    "SyncResult",
    "energy",
    "is_fixed_point",
    "local_field",
    "overlap",
    "run_async",
    "run_async_patterns",
    "run_sync",
    "sweep_orders",
    "store",
    "to_binary",
    "to_bipolar",
]


# ----------------------------------------------------------------------------- storage, energy


def to_bipolar(patterns: Array) -> Array:
    """``{0, 1} -> {-1, +1}``: ``2 s - 1``."""
    return 2 * jnp.asarray(patterns) - 1


def to_binary(patterns: Array) -> Array:
    """``{-1, +1} -> {0, 1}``: ``(s + 1) / 2``."""
    return (jnp.asarray(patterns) + 1) // 2


def store(patterns: Array, *, binary: bool = False, dtype=None) -> Array:
    """Hebbian weights ``W = Σ_p s(p) s(p)ᵀ`` with a zero diagonal (unscaled, as in the lecture).

    Args:
      patterns: ``(P, N)`` in ±1, or in {0, 1} with ``binary=True`` (then ``2s - 1`` is stored).
      binary: whether ``patterns`` are 0/1.
      dtype: dtype of the weights (default: the default float dtype).

    Returns:
      ``(N, N)`` symmetric weights with ``w_ii = 0``.
    """
    patterns = stored_patterns(patterns, "patterns", "(P, N)")
    _check_values(patterns, binary, "patterns")
    dtype = dtype or jnp.result_type(float)
    s = patterns.astype(dtype)
    if binary:
        s = 2 * s - 1
    w = s.T @ s
    n = w.shape[0]
    return w * (1 - jnp.eye(n, dtype=dtype))


def energy(weights: Array, state: Array, threshold=0.0, *, external: Array | None = None) -> Array:
    """``E = -½ yᵀ W y - xᵀ y + θᵀ y`` (the lecture's energy; ``x = 0`` when ``external`` is None)."""
    weights = _check_weights(weights)
    n = weights.shape[0]
    y = real_array(state, "state").astype(weights.dtype)
    if y.shape != (n,):
        raise ValueError(f"state must have shape ({n},), got shape {y.shape}")
    theta = _vector(threshold, n, "threshold", weights.dtype)
    e = -0.5 * y @ weights @ y + theta @ y
    if external is not None:
        e = e - _vector(external, n, "external", weights.dtype) @ y
    return e


def local_field(weights: Array, state: Array, *, external: Array | None = None) -> Array:
    """Net inputs ``y_in = x + W y`` of all units (``W`` symmetric, so ``Σ_j y_j w_ji = (W y)_i``)."""
    weights = _check_weights(weights)
    h = weights @ real_array(state, "state").astype(weights.dtype)
    if external is not None:
        h = h + _vector(external, weights.shape[0], "external", weights.dtype)
    return h


def overlap(patterns: Array, state: Array, *, binary: bool = False) -> Array:
    """Overlaps ``m_p = s(p) · y / N`` of a state with each stored pattern (bipolar form), ``(P,)``."""
    patterns = real_array(patterns, "patterns")
    state = real_array(state, "state")
    if binary:
        patterns, state = to_bipolar(patterns), to_bipolar(state)
    return (patterns @ state) / patterns.shape[-1]


def is_fixed_point(weights: Array, state: Array, threshold=0.0, *,
                   external: Array | None = None, binary: bool = False) -> Array:
    """Whether no single unit would change: ``y = update(y)`` for every unit (a bool scalar)."""
    weights = _check_weights(weights)
    n = weights.shape[0]
    y = real_array(state, "state").astype(weights.dtype)
    theta = _vector(threshold, n, "threshold", weights.dtype)
    lo, hi = _levels(binary)
    h = local_field(weights, y, external=external)
    return jnp.all(_threshold_update(h, theta, y, lo, hi) == y)


# ----------------------------------------------------------------------------- synchronous


class SyncResult(NamedTuple):
    """Outcome of :func:`run_sync`.

    Attributes:
      state: ``(N,)`` final state.
      energies: ``(max_steps + 1,)`` energy before and after every synchronous step; entries
        after the stop repeat the last one.
      steps: number of synchronous steps run.
      period: 1 for a fixed point, 2 for a two-cycle (``y_{t+1} = y_{t-1} ≠ y_t``), 0 if
        neither was reached within ``max_steps``.
    """

    state: Array
    energies: Array
    steps: Array
    period: Array


def run_sync(weights: Array, state: Array, *, external: Array | None = None, threshold=0.0,
             binary: bool = False, max_steps: int = 100) -> SyncResult:
    """Synchronous (Little) dynamics: all units at once, ``y ← update(x + W y)``.

    With symmetric weights the only attractors are fixed points and two-cycles (Goles et al.
    1985); the run stops at either or after ``max_steps``. The energy need not decrease.
    One state ``(N,)``; batch with ``jax.vmap``.

    Returns:
      :class:`SyncResult` ``(state, energies, steps, period)``.
    """
    weights = _check_weights(weights)
    n = weights.shape[0]
    state = _check_state(state, n, binary)
    max_steps = count(max_steps, "max_steps", 1)
    dtype = weights.dtype
    theta = _vector(threshold, n, "threshold", dtype)
    x = jnp.zeros((n,), dtype) if external is None else _vector(external, n, "external", dtype)
    return _run_sync(weights, state.astype(dtype), x, theta, binary=binary, max_steps=max_steps)


@partial(jax.jit, static_argnames=("binary", "max_steps"))
def _run_sync(weights, y0, x, theta, *, binary, max_steps):
    lo, hi = _levels(binary)

    def en(y):
        return -0.5 * y @ weights @ y + (theta - x) @ y

    def body(c):
        t, prev, y, _, buf = c
        new = _threshold_update(weights @ y + x, theta, y, lo, hi)
        period = jnp.where(jnp.all(new == y), 1, jnp.where(jnp.all(new == prev), 2, 0))
        buf = buf.at[t + 1].set(en(new))
        return t + 1, y, new, period, buf

    def cond(c):
        t, _, _, period, _ = c
        return (period == 0) & (t < max_steps)

    buf = jnp.zeros((max_steps + 1,), y0.dtype).at[0].set(en(y0))
    t, _, y, period, buf = lax.while_loop(cond, body, (0, jnp.full_like(y0, jnp.nan), y0, 0, buf))
    energies = jnp.where(jnp.arange(max_steps + 1) <= t, buf, en(y))
    return SyncResult(y, energies, t, period)
