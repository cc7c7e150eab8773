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
- many-to-one (``pool="last"`` or ``"mean"``): one output per sequence, ``(*batch, output_size)``
  from ``h_L`` (the last real position) or from the mean of ``h_1..h_L``.

::

    cell = rnnjax.cells.lstm(64)
    lm = sequence_model(cell, vocab_size=27, embed_size=32, output_size=27)    # char LM
    params = lm.init(jax.random.key(0))
    carry, logits = lm.apply(params, tokens)                  # tokens (B, T) -> logits (B, T, 27)
    _, tokens, logits = generate(lm, params, start, 100, key=key, temperature=0.8)   # sampling

    clf = sequence_model(cell, vocab_size=1000, embed_size=32, output_size=2, pool="last")
    _, logits = clf.apply(params, tokens, lengths=lengths)   # (B, 2)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

import rnnjax
from rnnjax.cell import Cell

Array = jax.Array
PyTree = Any

POOLS = (None, "last", "mean")


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


class SequenceModel(NamedTuple):
    """A sequence model: pure functions closed over the architecture.

    Attributes:
      init: ``key -> SequenceParams``.
      apply: ``(params, inputs, carry=None, *, lengths=None) -> (carry, outputs)``; inputs are
        integer tokens ``(*batch, T)`` or vectors ``(*batch, T, input_size)``.
      initial_carry: ``(params, batch_shape=()) -> carry``.
      step: ``(params, carry, x) -> (carry, output)`` for one position (token ``(*batch,)`` or
        vector ``(*batch, input_size)``): what free-running generation iterates.
      encode: ``(params, inputs) -> cell inputs``: the input layer alone.
      cell, vocab_size, input_size, output_size, pool: the architecture.
    """

    init: Callable[[Array], SequenceParams]
    apply: Callable[..., tuple[PyTree, Array]]
    initial_carry: Callable[..., PyTree]
    step: Callable[..., tuple[PyTree, Array]]
    encode: Callable[[SequenceParams, Array], Array]
    cell: Cell
    vocab_size: int | None
    input_size: int
    output_size: int
    pool: str | None


def _positive(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")


def sequence_model(
    cell: Cell,
    *,
    output_size: int,
    vocab_size: int | None = None,
    embed_size: int | None = None,
    input_size: int | None = None,
    pool: str | None = None,
) -> SequenceModel:
    """A many-to-many (``pool=None``) or many-to-one (``pool="last"|"mean"``) model.

    Args:
      cell: any :class:`rnnjax.Cell`.
      output_size: size of the readout (classes, vocabulary, regression targets).
      vocab_size: inputs are integer tokens in ``[0, vocab_size)``.
      embed_size: with ``vocab_size``: size of a learned embedding; ``None``: one-hot inputs.
      input_size: inputs are real vectors of this size (exclusive with ``vocab_size``).
      pool: ``None`` (an output per position), ``"last"`` (output at each sequence's last real
        position) or ``"mean"`` (readout of the mean hidden output over the real positions).
    """
    if not isinstance(cell, Cell):
        raise TypeError(f"cell must be an rnnjax.Cell, got {type(cell).__name__}")
    _positive("output_size", output_size)
    if (vocab_size is None) == (input_size is None):
        raise ValueError("give exactly one of vocab_size (token inputs) or input_size (vectors)")
    if vocab_size is not None:
        _positive("vocab_size", vocab_size)
        if embed_size is not None:
            _positive("embed_size", embed_size)
        cell_input = embed_size if embed_size is not None else vocab_size
    else:
        _positive("input_size", input_size)
        if embed_size is not None:
            raise ValueError("embed_size needs vocab_size (token inputs)")
        cell_input = input_size
    if pool not in POOLS:
        raise ValueError(f"pool must be one of {POOLS}, got {pool!r}")
    tokens = vocab_size is not None
    hidden = cell.output_size

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

    def apply(params: SequenceParams, inputs: Array, carry: PyTree = None, *,
              lengths: Array | None = None) -> tuple[PyTree, Array]:
        inputs = jnp.asarray(inputs)
        min_rank = 1 if tokens else 2
        if inputs.ndim < min_rank:
            shape = "(*batch, T)" if tokens else f"(*batch, T, {input_size})"
            raise ValueError(f"expected inputs of shape {shape}, got {tuple(inputs.shape)}")
        xs = encode(params, inputs)
        carry, hs = rnnjax.unroll(cell, params.cell, xs, carry, lengths=lengths)
        if pool is None:
            return carry, readout(params, hs)
        T = hs.shape[-2]
        if lengths is None:
            lengths_ = jnp.full(hs.shape[:-2], T, jnp.int32)
        else:
            lengths_ = jnp.asarray(lengths)
        if pool == "last":
            idx = jnp.clip(lengths_ - 1, 0, T - 1)[..., None, None]
            h = jnp.take_along_axis(hs, idx, axis=-2)[..., 0, :]
            h = jnp.where((lengths_ > 0)[..., None], h, jnp.zeros_like(h))
        else:  # mean over the real positions (padded outputs are zeros)
            h = jnp.sum(hs, axis=-2) / jnp.maximum(lengths_, 1)[..., None].astype(hs.dtype)
        return carry, readout(params, h)

    def step(params: SequenceParams, carry: PyTree, x: Array) -> tuple[PyTree, Array]:
        carry, h = cell.step(params.cell, carry, encode(params, x))
        return carry, readout(params, h)

    return SequenceModel(init, apply, initial_carry, step, encode, cell, vocab_size,
                         cell_input if not tokens else vocab_size, output_size, pool)


def generate(
    model: SequenceModel,
    params: SequenceParams,
    first: Array,
    steps: int,
    carry: PyTree = None,
    *,
    key: Array | None = None,
    temperature: float = 1.0,
) -> tuple[PyTree, Array, Array]:
    """Free running: feed each output back as the next input, ``steps`` times.

    From token ``first`` (shape ``(*batch,)``) and ``carry`` (default: the initial carry), each
    step computes ``logits_t = step(x_t)`` and draws ``x_{t+1} ~ softmax(logits_t / temperature)``
    (``temperature=0`` or ``key=None``: ``argmax``, greedy decoding).

    Returns ``(carry, tokens, logits)``: ``tokens (*batch, steps)`` are the generated tokens
    ``x_2 .. x_{steps+1}`` and ``logits (*batch, steps, vocab)`` the distributions they were drawn
    from (differentiable in ``params``, e.g. to train with free running instead of teacher
    forcing).
    """
    if model.vocab_size is None or model.pool is not None:
        raise ValueError("generate needs a many-to-many token model (vocab_size set, pool=None)")
    if model.output_size != model.vocab_size:
        raise ValueError(
            f"generate feeds outputs back as inputs: output_size ({model.output_size}) must equal "
            f"vocab_size ({model.vocab_size})"
        )
    if not isinstance(steps, int) or steps < 0:
        raise ValueError(f"steps must be a non-negative int, got {steps!r}")
    if isinstance(temperature, (int, float)) and temperature < 0:
        raise ValueError(f"temperature must be >= 0, got {temperature!r}")
    first = jnp.asarray(first)
    if carry is None:
        carry = model.initial_carry(params, first.shape)
    greedy = key is None
    keys = jax.random.split(key if key is not None else jax.random.key(0), steps)
    temperature = jnp.asarray(temperature, jnp.float32)  # may be traced: one compiled sampler

    def body(state, k):
        c, x = state
        c, logits = model.step(params, c, x)
        nxt = jnp.argmax(logits, axis=-1)
        if not greedy:
            drawn = jax.random.categorical(k, logits / jnp.maximum(temperature, 1e-6), axis=-1)
            nxt = jnp.where(temperature > 0, drawn, nxt)
        return (c, nxt.astype(first.dtype)), (nxt.astype(first.dtype), logits)

    (carry, _), (toks, logits) = jax.lax.scan(body, (carry, first), keys)
    return carry, jnp.moveaxis(toks, 0, -1), jnp.moveaxis(logits, 0, -2)
