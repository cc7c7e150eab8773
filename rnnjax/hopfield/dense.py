"""Dense associative memories: polynomial (Krotov & Hopfield 2016) and exponential
(Demircigil et al. 2017) interaction functions.

``K`` bipolar patterns ``ξ^μ ∈ {±1}^N`` (rows of ``patterns``), state ``σ ∈ {±1}^N``::

    E(σ) = -Σ_μ F(ξ^μ · σ),     F(x) = x^n  ("poly"),  max(x, 0)^n  ("rectified"),  e^x  ("exp")

A unit takes the sign that gives the lower energy, the others fixed (Krotov & Hopfield eq. 3)::

    σ_i ← sign( Σ_μ [ F(ξ_i^μ + s_i^μ) - F(-ξ_i^μ + s_i^μ) ] ),     s_i^μ = Σ_{j≠i} ξ_j^μ σ_j

(unchanged on a tie). ``n = 2`` is the classical Hopfield network: the bracket is then
``4 ξ_i^μ s_i^μ`` and the sum is ``4 (W σ)_i`` with Hebbian ``W``. The capacity grows like
``N^{n-1}`` for the polynomial and exponentially in ``N`` for the exponential function.
For ``"exp"`` the gap is computed in the log domain, ``lse(s + ξ_i) - lse(s - ξ_i)``, which has
the same sign and never overflows.

Everything is for one state; batch with ``jax.vmap``.
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
from jax import lax

from rnnjax.hopfield._common import _check_values, count, real_array, stored_patterns
from rnnjax.hopfield.asynchronous import AsyncResult, _check_key, _check_order

Array = jax.Array

KINDS = ("poly", "rectified", "exp")

__all__ = ["KINDS", "energy", "energy_gap", "interaction", "is_fixed_point", "run_async", "update"]


def _check(patterns, state, kind, n):
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    if kind != "exp" and (int(n) != n or n < 1):
        raise ValueError(f"n must be a positive integer for kind={kind!r}, got {n!r}")
    patterns = stored_patterns(patterns, "patterns", "(K, N)")
    state = real_array(state, "state")
    if state.shape != patterns.shape[1:]:
        raise ValueError(
            f"state must have shape ({patterns.shape[1]},) to match patterns (K, N) = "
            f"{patterns.shape} (batch with jax.vmap), got shape {state.shape}"
        )
    _check_values(patterns, False, "patterns")
    _check_values(state, False, "state")
    dtype = jnp.result_type(patterns, state, float)
    return patterns.astype(dtype), state.astype(dtype)


def interaction(kind: str, n: int = 3):
    """The interaction function ``F``: ``x^n``, ``max(x, 0)^n`` or ``exp(x)``."""
    if kind == "poly":
        return lambda x: x**n
    if kind == "rectified":
        return lambda x: jnp.maximum(x, 0) ** n
    if kind == "exp":
        return jnp.exp
    raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")


def energy(patterns: Array, state: Array, *, kind: str = "poly", n: int = 3) -> Array:
    """``E(σ) = -Σ_μ F(ξ^μ · σ)`` (for ``"exp"`` this overflows float32 once ``N ≳ 88``)."""
    patterns, state = _check(patterns, state, kind, n)
    return -jnp.sum(interaction(kind, n)(patterns @ state))


def _gap(patterns, state, kind, n):
    """Per-unit energy gap ``E(σ_i = -1) - E(σ_i = +1)`` (log-domain for exp), ``(N,)``."""
    m = patterns @ state                                 # (K,) overlaps
    s = m[None, :] - patterns.T * state[:, None]         # (N, K): s_i^μ, unit i left out
    xi = patterns.T                                      # (N, K): ξ_i^μ
    if kind == "exp":
        return jax.nn.logsumexp(s + xi, axis=-1) - jax.nn.logsumexp(s - xi, axis=-1)
    f = interaction(kind, n)
    return jnp.sum(f(s + xi) - f(s - xi), axis=-1)


def energy_gap(patterns: Array, state: Array, *, kind: str = "poly", n: int = 3) -> Array:
    """``Σ_μ F(ξ_i^μ + s_i^μ) - F(-ξ_i^μ + s_i^μ)`` for every unit ``i``, ``(N,)``.

    Positive means ``σ_i = +1`` has the lower energy. For ``"exp"``, the log-domain
    ``lse(s_i + ξ_i) - lse(s_i - ξ_i)`` (same sign).
    """
    patterns, state = _check(patterns, state, kind, n)
    return _gap(patterns, state, kind, n)


def update(patterns: Array, state: Array, *, kind: str = "poly", n: int = 3) -> Array:
    """One synchronous update of all units (each from the same old state)."""
    patterns, state = _check(patterns, state, kind, n)
    g = _gap(patterns, state, kind, n)
    return jnp.where(g > 0, 1.0, jnp.where(g < 0, -1.0, state)).astype(state.dtype)


def is_fixed_point(patterns: Array, state: Array, *, kind: str = "poly", n: int = 3) -> Array:
    """Whether no single-unit update changes ``state`` (a bool scalar)."""
    return jnp.all(update(patterns, state, kind=kind, n=n) == jnp.asarray(state))


def run_async(patterns: Array, state: Array, *, key: Array | None = None,
              order: Array | None = None, kind: str = "poly", n: int = 3,
              max_sweeps: int = 50) -> AsyncResult:
    """Asynchronous updates until a sweep changes nothing (random order per sweep with ``key``,
    ``permutation(fold_in(key, sweep), N)``, else ``order`` or ``0..N-1``).

    Keeps the overlaps ``m = X σ`` up to date, so one unit update costs ``O(K)``.

    Returns:
      :class:`rnnjax.hopfield.discrete.AsyncResult` ``(state, energies, sweeps, converged)``
      as :func:`rnnjax.hopfield.discrete.run_async` with ``trace="sweep"``: ``energies`` is
      ``E = -Σ_μ F(ξ^μ · σ)`` before the first sweep and after every sweep,
      ``(max_sweeps + 1,)`` (for ``"exp"`` it overflows to ``-inf`` in float32 once
      ``N ≳ 88``; the dynamics do not).
    """
    patterns, state = _check(patterns, state, kind, n)
    if key is not None and order is not None:
        raise ValueError("pass either key (random order) or order (a given order), not both")
    max_sweeps = count(max_sweeps, "max_sweeps", 1)
    key = _check_key(key)
    num_units = patterns.shape[1]
    order = jnp.arange(num_units) if order is None else _check_order(order, num_units)
    return _run_async(patterns, state, key, order, kind=kind, n=n, max_sweeps=max_sweeps)


@partial(jax.jit, static_argnames=("kind", "n", "max_sweeps"))
def _run_async(patterns, state, key, order, *, kind, n, max_sweeps):
    f = interaction(kind, n)
    num_units = patterns.shape[1]

    def unit(carry, i):
        sigma, m = carry
        xi = patterns[:, i]
        s = m - xi * sigma[i]
        if kind == "exp":
            g = jax.nn.logsumexp(s + xi) - jax.nn.logsumexp(s - xi)
        else:
            g = jnp.sum(f(s + xi) - f(s - xi))
        new = jnp.where(g > 0, 1.0, jnp.where(g < 0, -1.0, sigma[i])).astype(sigma.dtype)
        m = m + xi * (new - sigma[i])
        return (sigma.at[i].set(new), m), new != sigma[i]

    def sweep(c):
        t, sigma, m, _, buf = c
        visit = order if key is None else jax.random.permutation(jax.random.fold_in(key, t),
                                                                 num_units)
        (sigma, m), changed = lax.scan(unit, (sigma, m), visit)
        return t + 1, sigma, m, jnp.any(changed), buf.at[t + 1].set(-jnp.sum(f(m)))

    def cond(c):
        return c[3] & (c[0] < max_sweeps)

    m0 = patterns @ state
    buf = jnp.zeros((max_sweeps + 1,), state.dtype).at[0].set(-jnp.sum(f(m0)))
    t, sigma, m, changed, buf = lax.while_loop(cond, sweep, (0, state, m0, jnp.array(True), buf))
    energies = jnp.where(jnp.arange(max_sweeps + 1) <= t, buf, -jnp.sum(f(m)))
    return AsyncResult(sigma, energies, t, ~changed)
