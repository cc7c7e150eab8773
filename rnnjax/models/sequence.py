"""Sequence models from any cell: input layer, recurrence, linear readout.

.. math::

    e_t = \\text{input}(x_t), \\qquad (c_t, h_t) = \\text{cell}(c_{t-1}, e_t), \\qquad
    o_t = h_t W_\\text{out} + b_\\text{out}

The input layer is a learned embedding table ``E[x_t]`` (tokens, ``embed_size``), the one-hot
vector of the token (tokens, ``embed_size=None``: the lecture's ``[h, e, l, o]`` model, where
``one_hot(x_t) W_x`` is the cell's own input projection), or the identity (real-valued inputs,
``input_size``). The recurrence is :func:`rnnjax.unroll`, so any cell, stack or bidirectional
composition works, with ``lengths`` for right-padded batches.

- many-to-many (``pool=None``): one output per position, ``(*batch, T, output_size)``.
- many-to-one: one output per sequence, ``(*batch, output_size)``, read out from
  ``"last"``: ``h_L`` (the last real position); ``"mean"``: the mean of ``h_1..h_L``;
  ``"ends"``: for a bidirectional top layer ``[→h_L, ←h_1]``, each direction where it has read
  the whole sequence (Schuster & Paliwal 1997); for a unidirectional cell ``h_L``.

::

    cell = rnnjax.cells.lstm(64)
    lm = sequence_model(cell, vocab_size=27, embed_size=32, output_size=27)    # char LM
    params = lm.init(jax.random.key(0))
    carry, logits = lm.apply(params, tokens)                  # tokens (B, T) -> logits (B, T, 27)
    _, toks, _ = decoding.sample(lm, params, carry, tokens[:, -1], 100, key=key)   # continue

    clf = sequence_model(rnnjax.bidirectional(cell, cell), vocab_size=1000, embed_size=32,
                         output_size=2, pool="ends")
    _, logits = clf.apply(params, tokens, lengths=lengths)   # (B, 2)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

import rnnjax
from rnnjax import _checks
from rnnjax.cell import Cell, Layer
from rnnjax.compose import BidirectionalLayer, StackLayer
from rnnjax.models.model import (
    Model,
    argmax_feedback,
    identity_feedback,
    model_constructor,
    randomness,
)

Array = jax.Array
PyTree = Any

POOLS = (None, "last", "mean", "ends")


class SequenceParams(NamedTuple):
    """Parameters of a :func:`sequence_model`.

    Attributes:
      embed: ``(vocab_size, embed_size)`` embedding table, or ``None`` (one-hot or real inputs).
      cell: the cell's parameters.
      w_out: ``(cell.output_size, output_size)`` readout weights.
      b_out: ``(output_size,)`` readout bias.
    """

    embed: Array | None
    cell: PyTree
    w_out: Array
    b_out: Array


@dataclass(frozen=True, kw_only=True, eq=False)
class SequenceModel(Model):
    """A sequence model (see the module docstring); the :class:`~rnnjax.models.Model` contract.

    Attributes:
      apply: ``(params, inputs, carry=None, *, lengths=None, key=None, deterministic=False)
        -> (carry, outputs)``; inputs are integer tokens ``(*batch, T)`` or vectors
        ``(*batch, T, input_size)``; ``key``/``deterministic`` reach a cell with dropout as in
        :func:`rnnjax.unroll`.
      initial_carry: ``(params, batch_shape=()) -> carry``, the cell's.
      step: ``(params, carry, x, *, key=None, deterministic=False) -> (carry, output)`` for one
        position (token ``(*batch,)`` or vector ``(*batch, input_size)``); ``None`` for a
        :class:`rnnjax.Layer` (a bidirectional pass has no one-step map).
      feedback: ``argmax`` for a token model whose outputs are its vocabulary, the identity for a
        vector model whose outputs have its input size, else ``None``.
      cell, vocab_size, input_size, output_size, pool: the architecture (``input_size`` is the
        vocabulary for token models).
    """

    cell: Cell | Layer
    vocab_size: int | None
    input_size: int
    output_size: int
    pool: str | None


def _bidirectional_half(cell: Cell | Layer, cell_input: int) -> int | None:
    """Size of the forward half of ``cell``'s output if its top layer is a concatenating
    bidirectional pair of alike directions (same parameter shapes); ``None`` if it is not
    bidirectional. Read from the structure of the object (a stack's last part)."""
    top, size = cell, cell_input
    while isinstance(top, StackLayer):
        for part in top.layers[:-1]:
            size = part.output_size
        top = top.layers[-1]
    if not isinstance(top, BidirectionalLayer):
        return None
    shapes = [jax.tree.map(lambda a: (a.shape, a.dtype),
                           jax.eval_shape(lambda k, c=c: c.init(k, size), jax.random.key(0)))
              for c in (top.forward, top.backward)]
    if top.merge != "concat" or shapes[0] != shapes[1] or (top is not cell and cell.residual):
        raise ValueError("pool='ends' needs a bidirectional top layer that concatenates two "
                         f"directions of one architecture, got {cell.name}")
    return top.forward.output_size


@model_constructor
def sequence_model(
    cell: Cell | Layer,
    *,
    output_size: int,
    vocab_size: int | None = None,
    embed_size: int | None = None,
    input_size: int | None = None,
    pool: str | None = None,
) -> SequenceModel:
    """A many-to-many (``pool=None``) or many-to-one (``pool="last"|"mean"|"ends"``) model.

    Args:
      cell: any :class:`rnnjax.Cell` or :class:`rnnjax.Layer`.
      output_size: size of the readout (classes, vocabulary, regression targets).
      vocab_size: inputs are integer tokens in ``[0, vocab_size)``.
      embed_size: with ``vocab_size``: size of a learned embedding; ``None``: one-hot inputs.
      input_size: inputs are real vectors of this size (exclusive with ``vocab_size``).
      pool: ``None`` (an output per position), ``"last"`` (output at each sequence's last real
        position), ``"mean"`` (readout of the mean hidden output over the real positions) or
        ``"ends"`` (a bidirectional top layer's forward half at the last real position and
        backward half at the first; ``"last"`` for a unidirectional cell).
    """
    if not isinstance(cell, (Cell, Layer)):
        raise TypeError(f"cell must be an rnnjax.Cell or rnnjax.Layer, got {type(cell).__name__}")
    output_size = _checks.positive_int(output_size, "output_size")
    if (vocab_size is None) == (input_size is None):
        raise ValueError("give exactly one of vocab_size (token inputs) or input_size (vectors)")
    if vocab_size is not None:
        vocab_size = _checks.positive_int(vocab_size, "vocab_size")
        if embed_size is not None:
            embed_size = _checks.positive_int(embed_size, "embed_size")
        cell_input = embed_size if embed_size is not None else vocab_size
    else:
        input_size = _checks.positive_int(input_size, "input_size")
        if embed_size is not None:
            raise ValueError("embed_size needs vocab_size (token inputs)")
        cell_input = input_size
    if pool not in POOLS:
        raise ValueError(f"pool must be one of {POOLS}, got {pool!r}")
    tokens = vocab_size is not None
    hidden = cell.output_size
    half = _bidirectional_half(cell, cell_input) if pool == "ends" else None

    def init(key: Array) -> SequenceParams:
        k_embed, k_cell, k_out = jax.random.split(key, 3)
        embed = (jax.random.normal(k_embed, (vocab_size, embed_size))
                 if tokens and embed_size is not None else None)
        w_out = jax.random.normal(k_out, (hidden, output_size)) / jnp.sqrt(hidden)
        return SequenceParams(embed, cell.init(k_cell, cell_input), w_out, jnp.zeros(output_size))

    def encode(params: SequenceParams, inputs: Array) -> Array:
        inputs = jnp.asarray(inputs)
        if tokens:
            if not jnp.issubdtype(inputs.dtype, jnp.integer):
                raise TypeError(f"expected integer tokens, got dtype {inputs.dtype}")
            if params.embed is not None:
                return params.embed[inputs]
            return jax.nn.one_hot(inputs, vocab_size)
        if inputs.shape[-1:] != (input_size,):
            raise ValueError(
                f"expected inputs of shape (*batch, T, {input_size}), got {tuple(inputs.shape)}"
            )
        return inputs

    def readout(params: SequenceParams, h: Array) -> Array:
        return h @ params.w_out + params.b_out.reshape((1,) * (h.ndim - 1) + (-1,))

    def initial_carry(params: SequenceParams, batch_shape=()) -> PyTree:
        return cell.initial_carry(params.cell, batch_shape)

    def pooled(hs: Array, lengths: Array | None) -> Array:
        T = hs.shape[-2]
        lengths_ = (jnp.full(hs.shape[:-2], T, jnp.int32) if lengths is None
                    else jnp.asarray(lengths))
        if pool == "mean":  # padded outputs are zeros
            return jnp.sum(hs, axis=-2) / jnp.maximum(lengths_, 1)[..., None].astype(hs.dtype)
        idx = jnp.clip(lengths_ - 1, 0, T - 1)[..., None, None]
        last = jnp.take_along_axis(hs, idx, axis=-2)[..., 0, :]
        last = jnp.where((lengths_ > 0)[..., None], last, jnp.zeros_like(last))
        if half is None:
            return last
        # backward half at the first position (zeros for an empty sequence: padded outputs)
        return jnp.concatenate([last[..., :half], hs[..., 0, half:]], axis=-1)

    def apply(params: SequenceParams, inputs: Array, carry: PyTree = None, *,
              lengths: Array | None = None, key: Array | None = None,
              deterministic: bool = False) -> tuple[PyTree, Array]:
        inputs = jnp.asarray(inputs)
        if inputs.ndim < (1 if tokens else 2):
            shape = "(*batch, T)" if tokens else f"(*batch, T, {input_size})"
            raise ValueError(f"expected inputs of shape {shape}, got {tuple(inputs.shape)}")
        carry, hs = rnnjax.unroll(cell, params.cell, encode(params, inputs), carry,
                                  lengths=lengths, **randomness(cell, key, deterministic))
        if pool is None:
            return carry, readout(params, hs)
        return carry, readout(params, pooled(hs, lengths))

    def step(params: SequenceParams, carry: PyTree, x: Array, *, key: Array | None = None,
             deterministic: bool = False) -> tuple[PyTree, Array]:
        carry, h = cell.step(params.cell, carry, encode(params, x),
                             **randomness(cell, key, deterministic))
        return carry, readout(params, h)

    one_step = isinstance(cell, Cell)
    feedback = None
    if one_step and pool is None and output_size == (vocab_size if tokens else input_size):
        feedback = argmax_feedback if tokens else identity_feedback
    return SequenceModel(
        init=init, apply=apply, name=f"sequence_model({cell.name}, pool={pool})",
        initial_carry=initial_carry, step=step if one_step else None, feedback=feedback, cell=cell,
        vocab_size=vocab_size, input_size=vocab_size if tokens else cell_input,
        output_size=output_size, pool=pool)
