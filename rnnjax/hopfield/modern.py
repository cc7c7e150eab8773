"""Modern continuous Hopfield networks (Ramsauer et al. 2020, "Hopfield Networks is All You Need").

Stored patterns are the rows of ``X`` (shape ``(N, d)``: N patterns of dimension d; the
paper's ``X`` is its transpose). For a state (query) pattern ``ξ ∈ R^d``::

    E(ξ) = -lse(β, X ξ) + ½ ξᵀξ + β⁻¹ log N + ½ M²,
    lse(β, z) = β⁻¹ log Σ_i exp(β z_i),     M = max_i ‖x_i‖

and the update (the concave–convex procedure on E, so it never increases the energy)::

    ξ ← Xᵀ softmax(β X ξ)

One update is softmax attention with the query ``ξ``, keys and values ``X``. Iterating it
converges to a fixed point: a single pattern (large β, separated patterns), a metastable
state averaging a subset of similar patterns, or the global average (small β).

The inputs are checked by the checks shared with the other Hopfield modules
(:mod:`rnnjax.hopfield._common`): at least one stored pattern, real numbers (complex or string
arrays raise one line), integer step counts (``steps=2.7`` raises), ``mass`` in ``(0, 1]``.
The inverse temperature must be positive: ``β > 0`` (``β ≤ 0`` or NaN raises when ``beta`` is
concrete; under ``jit`` it cannot be checked). Float16 and bfloat16 inputs are computed in
float32 where it matters (dot products, softmax, energy) and returned in their own dtype, so a
large ``β`` does not overflow. ``β = inf`` is the hard-max limit:
``softmax(β z)`` becomes uniform over the maximisers of ``z`` (one-hot on the stored pattern
with the largest dot product ``x_iᵀξ``, split equally on exact ties), ``lse(β, z)`` becomes
``max z`` and ``β⁻¹ log N`` vanishes.

All functions take a query of shape ``(..., d)`` and broadcast over its leading axes.
"""

from __future__ import annotations

from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax import lax

from rnnjax.cell import Cell, check_input, zeros_carry
from rnnjax.hopfield._common import (
    beta_softmax,
    check_beta,
    check_mass,
    compute_dtype,
    count,
    real_array,
    stored_patterns,
)

Array = jax.Array

__all__ = [
    "CellParams",
    "FixedPoint",
    "cell",
    "energy",
    "fixed_point",
    "mass_count",
    "retrieve",
    "separation",
    "update",
]


def _check(stored, query) -> tuple[Array, Array]:
    stored = stored_patterns(stored)
    query = real_array(query, "query")
    if query.ndim < 1 or query.shape[-1] != stored.shape[1]:
        raise ValueError(
            f"query must have shape (..., {stored.shape[1]}) to match stored (N, d) = "
            f"{stored.shape}, got {query.shape}"
        )
    dtype = jnp.result_type(stored, query, float)
    return stored.astype(dtype), query.astype(dtype)


_check_beta = check_beta


def _attention(stored: Array, query: Array, beta) -> Array:
    """``softmax(β X ξ)`` over the N stored patterns, ``(..., N)``, in ``stored``'s dtype;
    uniform over the maximisers of ``X ξ`` where ``β = inf``. The dot products and the softmax
    are computed in float32 at least (float16 inputs with a large β do not overflow)."""
    c = compute_dtype(stored.dtype)
    z = query.astype(c) @ stored.astype(c).T
    return beta_softmax(z, beta).astype(stored.dtype)


def update(stored: Array, query: Array, beta) -> Array:
    """One update ``ξ ← Xᵀ softmax(β X ξ)`` for a query ``(..., d)`` (``β > 0``, inf: hard max)."""
    stored, query = _check(stored, query)
    beta = _check_beta(beta)
    return _attention(stored, query, beta) @ stored


def retrieve(stored: Array, query: Array, beta, steps: int = 1) -> Array:
    """``steps`` updates ``ξ ← Xᵀ softmax(β X ξ)`` from ``query`` (shape ``(..., d)``).

    Args:
      stored: ``(N, d)`` stored patterns, one per row.
      query: ``(..., d)`` state (query) patterns.
      beta: inverse temperature ``> 0`` (scalar, or an array broadcasting against
        ``(..., 1)``); ``inf`` gives the hard-max limit, the stored pattern with the largest
        dot product with the state (the mean of the tied ones on an exact tie).
      steps: number of updates, an int >= 0 (0 returns the query).
    """
    stored, query = _check(stored, query)
    beta = _check_beta(beta)
    steps = count(steps, "steps", 0)
    return lax.fori_loop(0, steps, lambda _, q: _attention(stored, q, beta) @ stored, query)


def energy(stored: Array, query: Array, beta) -> Array:
    """``E = -β⁻¹ log Σ_i exp(β x_iᵀξ) + ½ ξᵀξ + β⁻¹ log N + ½ M²``, shape ``(...)``.

    The two constants make ``E >= 0`` (Ramsauer et al., Lemma A1); they do not change the
    dynamics. ``β > 0``; at ``β = inf`` the limit ``E = -max_i x_iᵀξ + ½ ξᵀξ + ½ M²``.
    """
    stored, query = _check(stored, query)
    beta = _check_beta(beta)
    dtype = stored.dtype
    stored, query = (a.astype(compute_dtype(dtype)) for a in (stored, query))
    n = stored.shape[0]
    z = query @ stored.T
    hard = beta == jnp.inf
    finite = jnp.where(hard, 1.0, beta)
    lse = jnp.where(hard, jnp.max(z, axis=-1), jax.nn.logsumexp(finite * z, axis=-1) / finite)
    log_n = jnp.where(hard, 0.0, jnp.log(n) / finite)
    m2 = jnp.max(jnp.sum(stored * stored, axis=-1))
    return (-lse + 0.5 * jnp.sum(query * query, axis=-1) + log_n + 0.5 * m2).astype(dtype)


class FixedPoint(NamedTuple):
    """Outcome of :func:`fixed_point`: the state, the number of updates, whether ``‖Δξ‖ < ε``."""

    state: Array
    steps: Array
    converged: Array


def fixed_point(stored: Array, query: Array, beta, *, eps: float = 1e-4,
                max_steps: int = 100) -> FixedPoint:
    """Iterate the update until ``‖ξ_{t+1} - ξ_t‖₂ < eps`` (every query in the batch) or ``max_steps``.

    The stopping rule is per query: converged queries stop changing while others continue.
    """
    stored, query = _check(stored, query)
    beta = _check_beta(beta)
    max_steps = count(max_steps, "max_steps", 1)
    if not eps > 0:
        raise ValueError(f"eps must be > 0, got {eps}")
    return _fixed_point(stored, query, beta, eps, max_steps=max_steps)


@partial(jax.jit, static_argnames=("max_steps",))
def _fixed_point(stored, query, beta, eps, *, max_steps):
    batch = query.shape[:-1]

    def body(c):
        t, q, steps, done = c
        new = _attention(stored, q, beta) @ stored
        small = jnp.linalg.norm(new - q, axis=-1) < eps
        q = jnp.where(done[..., None], q, new)
        steps = jnp.where(done, steps, steps + 1)
        return t + 1, q, steps, done | small

    def cond(c):
        t, _, _, done = c
        return (t < max_steps) & ~jnp.all(done)

    init = (0, query, jnp.zeros(batch, jnp.int32), jnp.zeros(batch, bool))
    _, q, steps, done = lax.while_loop(cond, body, init)
    return FixedPoint(q, steps, done)


def mass_count(stored: Array, query: Array, beta, mass: float = 0.9) -> Array:
    """How many stored patterns carry ``mass`` of ``softmax(β X ξ)``: the fewest whose
    probabilities sum to at least ``mass`` (1 at a single-pattern fixed point, about N at the
    global average). ``mass`` in ``(0, 1]``. Shape ``(...)``."""
    stored, query = _check(stored, query)
    beta = _check_beta(beta)
    mass = check_mass(mass)
    p = jnp.sort(_attention(stored, query, beta), axis=-1)[..., ::-1]
    k = jnp.sum(jnp.cumsum(p, axis=-1) < mass, axis=-1) + 1
    return jnp.minimum(k, p.shape[-1])  # a rounded sum may fall short of mass = 1


def separation(stored: Array) -> Array:
    """Separation ``Δ_i = x_iᵀx_i - max_{j≠i} x_iᵀx_j`` of each stored pattern, ``(N,)``.

    Ramsauer et al. (Theorem 3): pattern ``i`` is retrieved in one update with exponentially
    small error when ``Δ_i ≥ 2/(βN) + (1/β) log(2 (N-1) N β M²)``. A single pattern has
    ``Δ = inf``.
    """
    stored = stored_patterns(stored)
    g = stored @ stored.T
    n = g.shape[0]
    off = jnp.where(jnp.eye(n, dtype=bool), -jnp.inf, g)
    return jnp.diagonal(g) - jnp.max(off, axis=-1)


# ----------------------------------------------------------------------------- as a cell


class CellParams(NamedTuple):
    """Parameters of :func:`cell`: the stored patterns ``x`` of shape ``(N, d)``."""

    stored: Array


def cell(num_patterns: int, dim: int, beta: float) -> Cell:
    """The update as a recurrent cell, so that :func:`rnnjax.unroll` iterates it.

    ``carry`` is the state pattern ``ξ`` (``(*batch, d)``, zeros initially); the input ``u_t``
    (``(*batch, d)``) is added to it before the update, and the output is the new state::

        ξ_t = Xᵀ softmax(β X (ξ_{t-1} + u_t)),      y_t = ξ_t

    Feeding the cue at ``t = 0`` and zeros afterwards runs ``T`` updates from the cue (the
    lecture's "initial activations equal the external input"). ``init(key, dim)`` draws
    ``N = num_patterns`` stored patterns from ``N(0, 1/d)``; usually one passes stored patterns
    directly as ``CellParams(stored)``.
    """
    num_patterns, dim = int(num_patterns), int(dim)
    _check_beta(beta)
    if num_patterns < 1 or dim < 1:
        raise ValueError(f"num_patterns and dim must be >= 1, got {num_patterns}, {dim}")

    def init(key, input_size):
        if input_size != dim:
            raise ValueError(f"modern Hopfield cell: input_size must equal dim={dim}, "
                             f"got {input_size}")
        stored = jax.random.normal(key, (num_patterns, dim)) / jnp.sqrt(dim)
        return CellParams(stored)

    def initial_carry(params, batch_shape=()):
        return zeros_carry(dim)(params, batch_shape)

    def step(params, carry, u):
        check_input(u, dim, "modern Hopfield cell")
        new = _attention(params.stored, carry + u, beta) @ params.stored
        return new, new

    return Cell(init=init, initial_carry=initial_carry, step=step, output_size=dim,
                name=f"modern_hopfield(N={num_patterns}, d={dim}, beta={beta:g})")
