"""Flax NNX modules around the pure Hopfield layers of :mod:`rnnjax.hopfield.layers`.

``Hopfield`` (state and stored patterns both inputs), ``HopfieldPooling`` (learned state
patterns pool a set/sequence) and ``HopfieldLayer`` (learned stored patterns). Each holds its
weights as ``nnx.Param`` in the layout of ``flax.nnx.MultiHeadAttention`` and calls the pure
function, so ``module.params`` gives the NamedTuple the pure functions take::

    layer = Hopfield(query_size=16, stored_size=16, num_heads=4, rngs=nnx.Rngs(0))
    z = layer(r, y)                                  # (..., S, 16), (..., N, 16) -> (..., S, 16)
    z == layers.hopfield(layer.params, r, y)
"""

from __future__ import annotations

import jax
from flax import nnx

from rnnjax.hopfield import layers

__all__ = ["Hopfield", "HopfieldLayer", "HopfieldPooling"]


class _Projected(nnx.Module):
    """Holds a :class:`layers.Projections` as ``nnx.Param`` leaves with the same field names."""

    def _set_projections(self, proj: layers.Projections) -> None:
        for name, value in proj._asdict().items():
            setattr(self, name, nnx.Param(value))

    @property
    def projections(self) -> layers.Projections:
        return layers.Projections(*(getattr(self, f)[...] for f in layers.Projections._fields))


class Hopfield(_Projected):
    """``Z = Σ_h softmax(β Q_h K_hᵀ) V_h W_O[h] + b_O`` after ``steps`` updates of ``Q``.

    With ``steps=1`` and ``beta=None`` (``1/√d_k``) this is multi-head attention.
    """

    def __init__(self, query_size: int, stored_size: int, *, num_heads: int = 1,
                 head_dim: int | None = None, value_dim: int | None = None,
                 out_size: int | None = None, beta: float | None = None, steps: int = 1,
                 eps: float | None = None, rngs: nnx.Rngs):
        self._set_projections(layers.init_projections(
            key=rngs.params(), query_size=query_size, stored_size=stored_size,
            num_heads=num_heads, head_dim=head_dim, value_dim=value_dim, out_size=out_size))
        self.beta, self.steps, self.eps = beta, steps, eps

    @property
    def params(self) -> layers.Projections:
        return self.projections

    def __call__(self, query: jax.Array, stored: jax.Array, *,
                 mask: jax.Array | None = None) -> jax.Array:
        return layers.hopfield(self.projections, query, stored, beta=self.beta,
                               steps=self.steps, eps=self.eps, mask=mask)


class HopfieldPooling(_Projected):
    """Learned state patterns (``num_queries`` of them) pool the stored patterns (the inputs):
    ``(..., N, d) -> (..., num_queries, d_out)``."""

    def __init__(self, input_size: int, *, num_queries: int = 1, num_heads: int = 1,
                 head_dim: int | None = None, out_size: int | None = None,
                 beta: float | None = None, steps: int = 1, eps: float | None = None,
                 rngs: nnx.Rngs):
        p = layers.init_pooling(key=rngs.params(), input_size=input_size,
                                num_queries=num_queries, num_heads=num_heads, head_dim=head_dim,
                                out_size=out_size)
        self._set_projections(p.proj)
        self.query = nnx.Param(p.query)
        self.beta, self.steps, self.eps = beta, steps, eps

    @property
    def params(self) -> layers.PoolingParams:
        return layers.PoolingParams(self.projections, self.query[...])

    def __call__(self, stored: jax.Array, *, mask: jax.Array | None = None) -> jax.Array:
        return layers.hopfield_pooling(self.params, stored, beta=self.beta, steps=self.steps,
                                       eps=self.eps, mask=mask)


class HopfieldLayer(_Projected):
    """Inputs are state patterns; ``num_stored`` learned stored patterns:
    ``(..., S, d) -> (..., S, d_out)``."""

    def __init__(self, input_size: int, *, num_stored: int, stored_size: int | None = None,
                 num_heads: int = 1, head_dim: int | None = None, out_size: int | None = None,
                 beta: float | None = None, steps: int = 1, eps: float | None = None,
                 rngs: nnx.Rngs):
        p = layers.init_layer(key=rngs.params(), input_size=input_size, num_stored=num_stored,
                              stored_size=stored_size, num_heads=num_heads, head_dim=head_dim,
                              out_size=out_size)
        self._set_projections(p.proj)
        self.stored = nnx.Param(p.stored)
        self.beta, self.steps, self.eps = beta, steps, eps

    @property
    def params(self) -> layers.LayerParams:
        return layers.LayerParams(self.projections, self.stored[...])

    def __call__(self, query: jax.Array) -> jax.Array:
        return layers.hopfield_layer(self.params, query, beta=self.beta, steps=self.steps,
                                     eps=self.eps)
