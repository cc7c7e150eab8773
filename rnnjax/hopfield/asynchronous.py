"""Asynchronous dynamics of classical Hopfield networks: one unit at a time (the lecture's Steps 4–6).

Each sweep visits the units one at a time; the visited unit's net input, with external input
``x`` and threshold ``θ``, is computed from the current state (updates are broadcast
immediately, Step 6) and thresholded (Steps 4–5)::

    y_in_i = x_i + Σ_j y_j w_ji
    y_i ← hi  if y_in_i > θ_i,   y_i  if y_in_i = θ_i,   lo  if y_in_i < θ_i

where ``(lo, hi) = (-1, 1)`` (bipolar) or ``(0, 1)`` (binary). The energy of
:func:`rnnjax.hopfield.discrete.energy` is a Lyapunov function of these dynamics with input:
for symmetric ``W`` with zero diagonal one update changes it by
``ΔE = -(y_in_i - θ_i) Δy_i ≤ 0``.

The public names are re-exported by :mod:`rnnjax.hopfield.discrete`, where they are documented
as part of the classical network's interface (``discrete.run_async``, ...).
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
    _is_concrete,
    _levels,
    _threshold_update,
    _vector,
    count,
    real_array,
    stored_patterns,
)

Array = jax.Array

__all__ = ["AsyncResult", "run_async", "run_async_patterns", "sweep_orders"]


class AsyncResult(NamedTuple):
    """Outcome of an asynchronous run (:func:`run_async`, :func:`run_async_patterns`,
    :func:`rnnjax.hopfield.dense.run_async`). With a batch of ``B`` states every field gains a
    leading ``B`` axis.

    Attributes:
      state: ``(N,)`` final state.
      energies: the energy before any update, then after every unit update (``trace="update"``,
        shape ``(max_sweeps * L + 1,)``, ``L = len(order)``) or after every sweep
        (``trace="sweep"``, shape ``(max_sweeps + 1,)``); entries after convergence repeat the
        final energy.
      sweeps: number of sweeps run, including the last one that changed nothing.
      converged: whether a full sweep changed no unit within ``max_sweeps``.
    """

    state: Array
    energies: Array
    sweeps: Array
    converged: Array


def _check_order(order, n: int) -> Array:
    order = jnp.asarray(order)
    if order.ndim != 1 or not jnp.issubdtype(order.dtype, jnp.integer) or order.size == 0:
        raise ValueError(f"order must be a non-empty 1-D integer array of unit indices, "
                         f"got {order!r}")
    if _is_concrete(order) and (int(order.min()) < 0 or int(order.max()) >= n):
        raise ValueError(f"order must index units 0..{n - 1}, got {order.tolist()}")
    return order


def _check_key(key):
    if key is not None and jnp.issubdtype(jnp.asarray(key).dtype, jax.dtypes.prng_key):
        if jnp.shape(key) != ():
            raise ValueError(f"key must be a single key (one order per sweep, shared by a batch "
                             f"of states; for an order per state use jax.vmap), got shape "
                             f"{jnp.shape(key)}")
    return key


def sweep_orders(key: Array, n: int, max_sweeps: int) -> Array:
    """The unit orders of :func:`run_async` with ``key``: row ``s`` is
    ``permutation(fold_in(key, s), n)``, the order of sweep ``s``; shape ``(max_sweeps, n)``."""
    n, max_sweeps = count(n, "n", 1), count(max_sweeps, "max_sweeps", 1)
    return jax.vmap(lambda s: jax.random.permutation(jax.random.fold_in(key, s), n))(
        jnp.arange(max_sweeps))


def run_async(weights: Array, state: Array, *, key: Array | None = None,
              order: Array | None = None, external: Array | None = None, threshold=0.0,
              binary: bool = False, max_sweeps: int = 100, trace: str = "update") -> AsyncResult:
    """Asynchronous dynamics until a full sweep changes no unit (the lecture's algorithm).

    Each sweep visits the units one at a time, in a fresh random permutation per sweep when
    ``key`` is given (row ``s`` of :func:`sweep_orders`), in ``order`` when it is given, and in
    index order ``0..N-1`` otherwise. The visited unit's net input ``y_in_i = x_i + (W y)_i`` is
    computed from the current state (updates are broadcast immediately, Step 6) and
    thresholded (Step 5); a unit at its threshold keeps its value.

    Event-driven: the local fields ``h = W y`` are kept, and since they change only when a unit
    flips, the units a sweep visits between two flips all keep their values. So each step jumps
    to the next unit in the sweep's order (from the current position on) whose thresholded net
    input differs from its value, flips it and updates the fields by a rank-one step
    ``h += W[:, i] Δy_i``: ``O(N)`` per flip, and a whole sweep without a flip in ``O(N)``. A
    batch of states ``(B, N)`` runs together on the same weights with fields ``(N, B)``, one
    flip per state per step, each state at its own position and sweep; each stops exactly as if
    it ran alone. With integer weights (Hebbian, :func:`~rnnjax.hopfield.discrete.store`) every
    field is exact, so the states are those of a unit-by-unit loop computing ``W y`` afresh, bit
    for bit.

    Jit-compiled; vmappable over states, keys and networks (under ``vmap`` a per-example key
    gives each example its own orders).

    Args:
      weights: ``(N, N)``, symmetric (from :func:`~rnnjax.hopfield.discrete.store`).
      state: ``(N,)`` initial activations (the lecture sets them to the external input), or
        ``(B, N)``: a batch of trials on the same network.
      key: one key; randomises the order of every sweep (the same orders for a whole batch).
      order: ``(L,)`` unit indices visited in each sweep (e.g. the lecture's ``[0, 3, 2, 1]``).
      external: ``(N,)`` external input ``x`` added to every net input, or None.
      threshold: scalar or ``(N,)`` thresholds ``θ``.
      binary: 0/1 activations instead of ±1.
      max_sweeps: cap on the number of sweeps.
      trace: ``"update"`` (energy after every unit update) or ``"sweep"`` (after every sweep).

    Returns:
      :class:`AsyncResult` ``(state, energies, sweeps, converged)``.
    """
    weights = _check_weights(weights)
    n = weights.shape[0]
    state = real_array(state, "state")
    if state.ndim not in (1, 2) or state.shape[-1] != n:
        raise ValueError(f"state must have shape ({n},) or (B, {n}) to match the weights, "
                         f"got shape {state.shape}")
    _check_values(state, binary, "state")
    if key is not None and order is not None:
        raise ValueError("pass either key (random order) or order (a given order), not both")
    if trace not in ("update", "sweep"):
        raise ValueError(f"trace must be 'update' or 'sweep', got {trace!r}")
    max_sweeps = count(max_sweeps, "max_sweeps", 1)
    key = _check_key(key)
    dtype = weights.dtype
    if key is not None:
        orders = sweep_orders(key, n, max_sweeps)
    else:
        orders = (jnp.arange(n) if order is None else _check_order(order, n))[None, :]
    # permutations (random or index order): each unit's position in the sweep
    ranks = None if order is not None else jnp.argsort(orders, axis=1).astype(orders.dtype)
    theta = _vector(threshold, n, "threshold", dtype)
    x = jnp.zeros((n,), dtype) if external is None else _vector(external, n, "external", dtype)
    y0 = jnp.atleast_2d(state).astype(dtype)
    result = _run_async(weights, y0, orders, ranks, x, theta, binary=binary,
                        max_sweeps=max_sweeps, trace=trace)
    if state.ndim == 1:
        result = AsyncResult(*(r[0] for r in result))
    return result


@partial(jax.jit, static_argnames=("binary", "max_sweeps", "trace"))
def _run_async(weights, y0, orders, ranks, x, theta, *, binary, max_sweeps, trace):
    lo, hi = _levels(binary)
    batch, length = y0.shape[0], orders.shape[1]
    b = jnp.arange(batch)
    w_t = weights.T                                    # row i is W[:, i]
    per_sweep = length if trace == "update" else 1
    rows = max_sweeps * per_sweep + 1
    # Layout (B, N): row b holds the fields (W y_b)ᵀ of state b, so that a flip reads one
    # contiguous row of Wᵀ.
    y = y0
    h = jnp.matmul(y, w_t, precision=lax.Precision.HIGHEST)
    e0 = -0.5 * jnp.sum(y * h, axis=1) + y @ (theta - x)

    def step(c):
        y, h, e, s, pos, changed, done, sweeps, conv, buf, mark = c
        net = h + x[None, :]
        unstable = _threshold_update(net, theta[None, :], y, lo, hi) != y   # (B, N)
        row = jnp.minimum(s, orders.shape[0] - 1)     # this sweep's order, per state
        if ranks is None:                              # any order: look along its positions
            visit = orders[row]                                              # (B, L)
            ahead = (jnp.take_along_axis(unstable, visit, axis=1)
                     & (jnp.arange(length)[None, :] >= pos[:, None]))
            k = jnp.argmax(ahead, axis=1)             # the next position whose unit flips
            flip = ahead[b, k] & ~done
        else:                                          # a permutation: by each unit's rank
            rank = ranks[row]                                                # (B, N)
            k = jnp.min(jnp.where(unstable & (rank >= pos[:, None]), rank, length), axis=1)
            flip = (k < length) & ~done
            k = jnp.minimum(k, length - 1)
        i = orders[row, k]
        old = y[b, i]
        new = jnp.where(flip, _threshold_update(net[b, i], theta[i], old, lo, hi), old)
        dy = new - old
        # ΔE = -(y_in_i - θ_i) Δy_i - ½ w_ii Δy_i² (exact also for a non-zero diagonal)
        e = e - (net[b, i] - theta[i]) * dy - 0.5 * weights[i, i] * dy * dy
        h = h + dy[:, None] * w_t[i]
        y = y.at[b, i].set(new)
        end = ~flip & ~done                            # no flip left in this sweep
        if trace == "update":                          # row 1 + s L + k: after that update
            at = jnp.where(flip, s * length + k + 1, rows)
        else:                                          # row 1 + s: after sweep s
            at = jnp.where(end, s + 1, rows)
        buf = buf.at[at, b].set(e, mode="drop")        # rows: out of range, dropped
        mark = mark.at[at, b].set(True, mode="drop")
        stop = end & (~changed | (s + 1 >= max_sweeps))
        conv = conv | (end & ~changed)
        sweeps = jnp.where(stop, s + 1, sweeps)
        s = jnp.where(end & ~stop, s + 1, s)
        pos = jnp.where(flip, k + 1, jnp.where(end, 0, pos))
        changed = jnp.where(flip, True, jnp.where(end, False, changed))
        return y, h, e, s, pos, changed, done | stop, sweeps, conv, buf, mark

    zeros = jnp.zeros((batch,), jnp.int32)
    false = jnp.zeros((batch,), bool)
    buf = jnp.zeros((rows, batch), y0.dtype).at[0].set(e0)
    mark = jnp.zeros((rows, batch), bool).at[0].set(True)
    init = (y, h, e0, zeros, zeros, false, false, zeros, false, buf, mark)
    y, _, _, _, _, _, _, sweeps, conv, buf, mark = lax.while_loop(
        lambda c: ~jnp.all(c[6]), step, init)
    # entries between recorded energies repeat the last one (nothing changed in between)
    last = lax.cummax(jnp.where(mark, jnp.arange(rows)[:, None], 0), axis=0)
    energies = jnp.take_along_axis(buf, last, axis=0)
    return AsyncResult(y, energies.T, sweeps, conv)


def run_async_patterns(patterns: Array, state: Array, *, key: Array | None = None,
                   order: Array | None = None, external: Array | None = None, threshold=0.0,
                   binary: bool = False, max_sweeps: int = 100) -> AsyncResult:
    """:func:`run_async` on ``store(patterns)`` without forming the ``N × N`` weights (one state).

    Keeps the overlaps ``m = X y`` (``X`` the ``(P, N)`` bipolar patterns) up to date, so that a
    unit's net input is ``y_in_i = x_i + Σ_μ X_μi m_μ - c_i y_i`` with ``c_i = Σ_μ X_μi²`` (the
    removed diagonal): ``O(P)`` work per unit update and ``O(P N)`` memory instead of ``O(N²)``.
    The dynamics, tie rule and results are those of ``run_async(store(patterns), ...)`` with
    ``trace="sweep"``; it updates one unit at a time, so :func:`run_async` is faster. Rows of
    zeros (bipolar) are ignored: pad to a fixed ``P`` under ``vmap``.
    """
    patterns = stored_patterns(patterns, "patterns", "(P, N)")
    n = patterns.shape[1]
    if _is_concrete(patterns) and not binary:
        real = jnp.any(patterns != 0, axis=1)
        _check_values(patterns[real], False, "patterns (apart from all-zero padding rows)")
    else:
        _check_values(patterns, binary, "patterns")
    state = _check_state(state, n, binary)
    if key is not None and order is not None:
        raise ValueError("pass either key (random order) or order (a given order), not both")
    max_sweeps = count(max_sweeps, "max_sweeps", 1)
    dtype = jnp.result_type(float)
    x_mat = patterns.astype(dtype)
    if binary:
        x_mat = 2 * x_mat - 1
    order = jnp.arange(n) if order is None else jnp.asarray(order)
    theta = _vector(threshold, n, "threshold", dtype)
    ext = jnp.zeros((n,), dtype) if external is None else _vector(external, n, "external", dtype)
    return _run_async_patterns(x_mat.T, state.astype(dtype), key, order, ext, theta, binary=binary,
                           max_sweeps=max_sweeps)


@partial(jax.jit, static_argnames=("binary", "max_sweeps"))
def _run_async_patterns(xt, y0, key, order, x, theta, *, binary, max_sweeps):
    lo, hi = _levels(binary)
    n = xt.shape[0]
    diag = jnp.sum(xt * xt, axis=1)                          # c_i, the removed diagonal

    def en(y, m):
        return -0.5 * (m @ m - diag @ (y * y)) + (theta - x) @ y

    def unit(carry, i):
        y, m = carry
        h = xt[i] @ m - diag[i] * y[i] + x[i]
        new = _threshold_update(h, theta[i], y[i], lo, hi)
        m = m + xt[i] * (new - y[i])
        return (y.at[i].set(new), m), new != y[i]

    def sweep(c):
        s, y, m, _, buf = c
        visit = order if key is None else jax.random.permutation(jax.random.fold_in(key, s), n)
        (y, m), changed = lax.scan(unit, (y, m), visit, unroll=8)
        buf = buf.at[s + 1].set(en(y, m))
        return s + 1, y, m, jnp.any(changed), buf

    def cond(c):
        return c[3] & (c[0] < max_sweeps)

    m0 = y0 @ xt
    buf = jnp.zeros((max_sweeps + 1,), y0.dtype).at[0].set(en(y0, m0))
    s, y, m, changed, buf = lax.while_loop(cond, sweep, (0, y0, m0, jnp.array(True), buf))
    energies = jnp.where(jnp.arange(max_sweeps + 1) <= s, buf, en(y, m))
    return AsyncResult(y, energies, s, ~changed)
