"""Hopfield layers (Ramsauer et al. 2020) as pure functions: ``hopfield``, ``hopfield_pooling``
(learned state pattern / query) and ``hopfield_layer`` (learned stored patterns).

State (query) patterns ``R`` (``(..., S, d_r)``) and stored patterns ``Y`` (``(..., N, d_y)``)
are projected per head ``h``::

    Q_h = R W_Q[h] + b_Q[h],    K_h = Y W_K[h] + b_K[h],    V_h = Y W_V[h] + b_V[h]

then the modern Hopfield update runs in the projected space, ``steps`` times or until
``‖ΔQ_h‖ < eps``::

    Q_h ← softmax(β Q_h K_hᵀ) K_h

and the retrieved patterns are read out through the values and the output projection::

    Z = Σ_h softmax(β Q_h K_hᵀ) V_h W_O[h] + b_O

With ``steps=1`` and ``β = 1/√d_k`` this is exactly multi-head softmax attention, with the
parameter layout of ``flax.nnx.MultiHeadAttention`` (kernels ``(in, heads, head_dim)``, output
kernel ``(heads, head_dim, out)``), so weights move between the two unchanged.

The inputs are checked as in :mod:`rnnjax.hopfield.modern` (the shared checks of
:mod:`rnnjax.hopfield._common`): at least one stored pattern, real numbers, ``β > 0`` with
``β = inf`` the hard-max limit (each state pattern retrieves the stored pattern with the largest
``Q_h K_hᵀ`` score, the mean of the tied ones), an int ``steps >= 1``. The scores and the
softmax are computed in float32 at least and cast back, so float16 and bfloat16 layers do not
overflow at a large ``β``.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax import lax

from rnnjax.hopfield._common import beta_softmax, check_beta, compute_dtype, count, real_array

Array = jax.Array

__all__ = [
    "LayerParams",
    "PoolingParams",
    "Projections",
    "hopfield",
    "hopfield_layer",
    "hopfield_pooling",
    "init_layer",
    "init_pooling",
    "init_projections",
]


class Projections(NamedTuple):
    """Per-head projections, laid out as in ``flax.nnx.MultiHeadAttention``.

    Attributes:
      w_q: ``(d_r, H, d_k)``, b_q: ``(H, d_k)`` — state (query) patterns.
      w_k: ``(d_y, H, d_k)``, b_k: ``(H, d_k)`` — stored patterns as keys.
      w_v: ``(d_y, H, d_v)``, b_v: ``(H, d_v)`` — stored patterns as values.
      w_o: ``(H, d_v, d_out)``, b_o: ``(d_out,)`` — output projection.
    """

    w_q: Array
    b_q: Array
    w_k: Array
    b_k: Array
    w_v: Array
    b_v: Array
    w_o: Array
    b_o: Array


class PoolingParams(NamedTuple):
    """``hopfield_pooling``: projections and the learned state patterns ``query`` ``(S, d_r)``."""

    proj: Projections
    query: Array


class LayerParams(NamedTuple):
    """``hopfield_layer``: projections and the learned stored patterns ``stored`` ``(N, d_y)``."""

    proj: Projections
    stored: Array


def init_projections(*, key: Array, query_size: int, stored_size: int, num_heads: int = 1,
                     head_dim: int | None = None, value_dim: int | None = None,
                     out_size: int | None = None, dtype=jnp.float32) -> Projections:
    """LeCun-normal kernels (as Flax's default), zero biases.

    ``head_dim`` defaults to ``stored_size // num_heads``, ``value_dim`` to ``head_dim`` and
    ``out_size`` to ``query_size``.
    """
    for name, v in (("query_size", query_size), ("stored_size", stored_size),
                    ("num_heads", num_heads)):
        if int(v) < 1:
            raise ValueError(f"{name} must be >= 1, got {v}")
    head_dim = head_dim or max(stored_size // num_heads, 1)
    value_dim = value_dim or head_dim
    out_size = out_size or query_size
    kq, kk, kv, ko = jax.random.split(key, 4)
    init = jax.nn.initializers.lecun_normal(in_axis=0, out_axis=(1, 2))
    init_o = jax.nn.initializers.lecun_normal(in_axis=(0, 1), out_axis=2)
    return Projections(
        w_q=init(kq, (query_size, num_heads, head_dim), dtype),
        b_q=jnp.zeros((num_heads, head_dim), dtype),
        w_k=init(kk, (stored_size, num_heads, head_dim), dtype),
        b_k=jnp.zeros((num_heads, head_dim), dtype),
        w_v=init(kv, (stored_size, num_heads, value_dim), dtype),
        b_v=jnp.zeros((num_heads, value_dim), dtype),
        w_o=init_o(ko, (num_heads, value_dim, out_size), dtype),
        b_o=jnp.zeros((out_size,), dtype),
    )


def _check_inputs(params: Projections, query: Array, stored: Array) -> None:
    d_r, d_y = params.w_q.shape[0], params.w_k.shape[0]
    if query.ndim < 2 or query.shape[-1] != d_r:
        raise ValueError(f"query (state patterns) must have shape (..., S, {d_r}), "
                         f"got {query.shape}")
    if stored.ndim < 2 or stored.shape[-1] != d_y:
        raise ValueError(f"stored patterns must have shape (..., N, {d_y}), got {stored.shape}")
    if stored.shape[-2] < 1:
        raise ValueError(f"stored patterns must hold at least one pattern (shape (..., N, {d_y}) "
                         f"with N >= 1), got {stored.shape}")


def hopfield(params: Projections, query: Array, stored: Array, *, beta=None, steps: int = 1,
             eps: float | None = None, mask: Array | None = None) -> Array:
    """Hopfield association of state patterns ``query`` with ``stored`` patterns.

    Args:
      params: :class:`Projections`.
      query: ``(..., S, d_r)`` state patterns ``R``.
      stored: ``(..., N, d_y)`` stored patterns ``Y`` (the same leading axes as ``query``).
      beta: inverse temperature ``> 0``; default ``1/√d_k`` (attention's scaling); ``inf``: the
        hard max over the scores.
      steps: updates of the projected state patterns (1 = attention); a static int ``>= 1``.
      eps: with ``steps > 1``, a head's state stops updating once ``‖ΔQ_h‖₂ < eps``.
      mask: boolean, broadcastable to ``(..., S, N)`` (or ``(..., N)`` for a key mask):
        ``True`` where a stored pattern may be attended.

    Returns:
      ``(..., S, d_out)``.
    """
    query, stored = real_array(query, "query"), real_array(stored, "stored")
    _check_inputs(params, query, stored)
    if query.ndim != stored.ndim:
        raise ValueError(f"query {query.shape} and stored {stored.shape} must have the same "
                         "number of leading (batch) axes")
    steps = count(steps, "steps", 1)
    d_k = params.w_k.shape[-1]
    beta = 1.0 / jnp.sqrt(d_k) if beta is None else check_beta(beta)
    q = _add(jnp.einsum("...sd,dhk->...shk", query, params.w_q), params.b_q)
    k = _add(jnp.einsum("...nd,dhk->...nhk", stored, params.w_k), params.b_k)
    v = _add(jnp.einsum("...nd,dhk->...nhk", stored, params.w_v), params.b_v)
    if mask is not None:
        mask = jnp.asarray(mask, bool)
        if mask.ndim == stored.ndim - 1:          # (..., N): a key mask
            mask = mask[..., None, :]
        if mask.ndim != stored.ndim:
            raise ValueError(f"mask must have shape (..., S, N) or (..., N) with the leading "
                             f"axes of stored {stored.shape}, got {mask.shape}")
        mask = mask[..., None, :, :]              # (..., 1, S, N): the same for every head

    def weights(q):
        c = compute_dtype(q.dtype)
        scores = jnp.einsum("...shk,...nhk->...hsn", q.astype(c), k.astype(c))
        return beta_softmax(scores, beta, where=mask).astype(q.dtype)

    if steps > 1:
        def body(carry, _):
            q, done = carry
            new = jnp.einsum("...hsn,...nhk->...shk", weights(q), k)
            if eps is None:
                return (new, done), None
            small = jnp.linalg.norm(new - q, axis=-1) < eps          # (..., S, H)
            new = jnp.where(done[..., None], q, new)
            return (new, done | small), None

        done = jnp.zeros(q.shape[:-1], bool)
        (q, _), _ = lax.scan(body, (q, done), None, length=steps - 1)
    z = jnp.einsum("...hsn,...nhk->...shk", weights(q), v)
    return _add(jnp.einsum("...shk,hko->...so", z, params.w_o), params.b_o)


def _add(x: Array, bias: Array) -> Array:
    """``x + bias`` with the bias's leading axes written out (rank promotion is explicit)."""
    return x + bias.reshape((1,) * (x.ndim - bias.ndim) + bias.shape)


def init_pooling(*, key: Array, input_size: int, num_queries: int = 1, num_heads: int = 1,
                 head_dim: int | None = None, out_size: int | None = None,
                 dtype=jnp.float32) -> PoolingParams:
    """Parameters of :func:`hopfield_pooling`: projections and ``num_queries >= 1`` learned queries."""
    num_queries = count(num_queries, "num_queries", 1)
    kp, kq = jax.random.split(key)
    proj = init_projections(key=kp, query_size=input_size, stored_size=input_size,
                            num_heads=num_heads, head_dim=head_dim, out_size=out_size,
                            dtype=dtype)
    query = jax.random.normal(kq, (num_queries, input_size), dtype) / jnp.sqrt(input_size)
    return PoolingParams(proj, query)


def hopfield_pooling(params: PoolingParams, stored: Array, *, beta=None, steps: int = 1,
                     eps: float | None = None, mask: Array | None = None) -> Array:
    """Pool a set or sequence ``stored`` (``(..., N, d)``) with learned state patterns.

    The state patterns are parameters (``params.query``, ``(S, d)``), the stored patterns are
    the inputs: ``(..., N, d) -> (..., S, d_out)``. ``mask`` ``(..., N)`` marks valid positions.
    """
    stored = real_array(stored, "stored")
    query = jnp.broadcast_to(params.query, (*stored.shape[:-2], *params.query.shape))
    return hopfield(params.proj, query, stored, beta=beta, steps=steps, eps=eps, mask=mask)


def init_layer(*, key: Array, input_size: int, num_stored: int, stored_size: int | None = None,
               num_heads: int = 1, head_dim: int | None = None, out_size: int | None = None,
               dtype=jnp.float32) -> LayerParams:
    """Parameters of :func:`hopfield_layer`: projections and ``num_stored >= 1`` learned patterns."""
    num_stored = count(num_stored, "num_stored", 1)
    stored_size = stored_size or input_size
    kp, ks = jax.random.split(key)
    proj = init_projections(key=kp, query_size=input_size, stored_size=stored_size,
                            num_heads=num_heads, head_dim=head_dim, out_size=out_size,
                            dtype=dtype)
    stored = jax.random.normal(ks, (num_stored, stored_size), dtype) / jnp.sqrt(stored_size)
    return LayerParams(proj, stored)


def hopfield_layer(params: LayerParams, query: Array, *, beta=None, steps: int = 1,
                   eps: float | None = None) -> Array:
    """Associate inputs ``query`` (``(..., S, d)``) with learned stored patterns ``params.stored``.

    ``(..., S, d) -> (..., S, d_out)``: a layer whose weights are a memory of ``N`` patterns
    (a learnable lookup table with softmax addressing).
    """
    query = real_array(query, "query")
    if query.ndim < 2:
        raise ValueError(f"query must have shape (..., S, d), got {query.shape}")
    stored = jnp.broadcast_to(params.stored, (*query.shape[:-2], *params.stored.shape))
    return hopfield(params.proj, query, stored, beta=beta, steps=steps, eps=eps)
