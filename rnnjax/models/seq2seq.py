"""Encoder–decoder (sequence-to-sequence) models from any two cells.

The encoder reads the whole source; its final carry is the decoder's initial carry (the
"context"); the decoder then emits one output per step (Sutskever, Vinyals & Le 2014)::

    c_0 = encoder carry after x_1..x_S          (so the two cells' carries must match)
    (c_t, h_t) = decoder(c_{t-1}, e(y_{t-1})),  o_t = h_t W_out + b_out,  t = 1..L

``y_0`` is the start token (or, for real-valued series, the last observed value) and ``e`` the
target embedding (a learned table for tokens, the identity for real vectors). What is fed back as
``y_{t-1}`` is the difference between training modes:

- **teacher forcing**: the true previous output (:meth:`Seq2Seq.teacher_forced`); every position
  is trained on a correct prefix, cheap and stable.
- **free running**: the model's own previous prediction (:meth:`Seq2Seq.free_running`; ``argmax``
  of the logits for tokens, the prediction itself for real values): what happens at test time.
  A model trained only with teacher forcing never saw its own mistakes, so at test time one error
  compounds ("exposure bias", Bengio et al. 2015). ``teacher=p`` mixes the two per step
  (scheduled sampling): the true input with probability ``p``, the own prediction otherwise.

:meth:`Seq2Seq.greedy` decodes tokens from the start token until the end token (or ``max_len``).

::

    enc, dec = rnnjax.cells.lstm(64), rnnjax.cells.lstm(64)
    model = seq2seq(enc, dec, src_vocab=11, tgt_vocab=40, embed_size=32)
    params = model.init(jax.random.key(0))
    logits = model.teacher_forced(params, src, shift_right(tgt, BOS), src_len=src_len)
    tokens, lengths = model.greedy(params, src, max_len=7, src_len=src_len)
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


class Seq2SeqParams(NamedTuple):
    """Parameters of a :func:`seq2seq` model.

    Attributes:
      src_embed: ``(src_vocab, embed_size)`` source embedding, or None (real-valued source).
      tgt_embed: ``(tgt_vocab, embed_size)`` target embedding, or None (real-valued target).
      encoder, decoder: the cells' parameters.
      w_out: ``(decoder.output_size, out)`` readout weights (``out`` = vocabulary or features).
      b_out: ``(out,)`` readout bias.
    """

    src_embed: Array | None
    tgt_embed: Array | None
    encoder: PyTree
    decoder: PyTree
    w_out: Array
    b_out: Array


class Seq2Seq(NamedTuple):
    """An encoder–decoder as pure functions (see the module docstring).

    Attributes:
      init: ``key -> Seq2SeqParams``.
      encode: ``(params, src, *, src_len=None) -> carry``: the context.
      teacher_forced: ``(params, src, tgt_in, *, src_len=None) -> outputs (*batch, L, out)``.
      free_running: ``(params, src, first, steps, *, src_len=None, tgt_in=None, teacher=0.0,
        key=None) -> outputs (*batch, steps, out)``: own predictions fed back, except where the
        true ``tgt_in`` is used (probability ``teacher`` per step and sequence).
      greedy: ``(params, src, max_len, *, src_len=None) -> (tokens, lengths)`` for token targets:
        argmax decoding from the start token until the end token; ``lengths`` count the end token;
        positions after it hold ``pad``.
      step: ``(params, carry, y_prev) -> (carry, output)``: one decoder step.
    """

    init: Callable[[Array], Seq2SeqParams]
    encode: Callable[..., PyTree]
    teacher_forced: Callable[..., Array]
    free_running: Callable[..., Array]
    greedy: Callable[..., tuple[Array, Array]]
    step: Callable[..., tuple[PyTree, Array]]


def affine(x: Array, w: Array, b: Array) -> Array:
    """``x W + b`` for ``x`` of shape ``(*batch, n)`` with the bias broadcast explicitly."""
    y = x @ w
    return y + jnp.reshape(b, (1,) * (y.ndim - 1) + b.shape)


def shift_right(tgt: Array, first: int | Array) -> Array:
    """Teacher-forced decoder inputs ``(first, y_1, …, y_{L-1})`` from targets ``(y_1, …, y_L)``
    (tokens ``(*batch, L)`` with an int ``first``, or vectors ``(*batch, L, F)`` with ``first``
    of shape ``(*batch, F)``)."""
    tgt = jnp.asarray(tgt)
    if jnp.ndim(first) == 0 and jnp.issubdtype(tgt.dtype, jnp.integer):
        head = jnp.full(tgt.shape[:-1] + (1,), first, tgt.dtype)
        return jnp.concatenate([head, tgt[..., :-1]], axis=-1)
    first = jnp.asarray(first, tgt.dtype)
    return jnp.concatenate([first[..., None, :], tgt[..., :-1, :]], axis=-2)


def _check_side(name: str, vocab: int | None, features: int | None) -> None:
    if (vocab is None) == (features is None):
        raise ValueError(f"give exactly one of {name}_vocab (tokens) or {name}_features (vectors)")
    size = vocab if vocab is not None else features
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise ValueError(f"{name} size must be a positive int, got {size!r}")


def seq2seq(encoder: Cell, decoder: Cell, *, src_vocab: int | None = None,
            src_features: int | None = None, tgt_vocab: int | None = None,
            tgt_features: int | None = None, embed_size: int = 32, eos: int = 2,
            pad: int = 0) -> Seq2Seq:
    """An encoder–decoder from two cells whose carries have the same structure and sizes.

    Args:
      encoder, decoder: any :class:`rnnjax.Cell` (stacks too), e.g. two LSTMs of one size.
      src_vocab / src_features: token source with this vocabulary, or real vectors of this size.
      tgt_vocab / tgt_features: token target with this vocabulary (readout = logits), or real
        vectors of this size (readout = the prediction itself).
      embed_size: size of the learned embeddings of token sides.
      eos, pad: end and padding token ids of the target vocabulary (for :meth:`Seq2Seq.greedy`).
    """
    for c, name in ((encoder, "encoder"), (decoder, "decoder")):
        if not isinstance(c, Cell):
            raise TypeError(f"{name} must be an rnnjax.Cell, got {type(c).__name__}")
    _check_side("src", src_vocab, src_features)
    _check_side("tgt", tgt_vocab, tgt_features)
    if isinstance(embed_size, bool) or not isinstance(embed_size, int) or embed_size < 1:
        raise ValueError(f"embed_size must be a positive int, got {embed_size!r}")
    src_tokens, tgt_tokens = src_vocab is not None, tgt_vocab is not None
    enc_in = embed_size if src_tokens else src_features
    dec_in = embed_size if tgt_tokens else tgt_features
    out_size = tgt_vocab if tgt_tokens else tgt_features

    def init(key: Array) -> Seq2SeqParams:
        k_se, k_te, k_enc, k_dec, k_out = jax.random.split(key, 5)
        enc_p, dec_p = encoder.init(k_enc, enc_in), decoder.init(k_dec, dec_in)
        e = jax.eval_shape(lambda p: encoder.initial_carry(p, ()), enc_p)
        d = jax.eval_shape(lambda p: decoder.initial_carry(p, ()), dec_p)
        if jax.tree.structure(e) != jax.tree.structure(d) or any(
                a.shape != b.shape for a, b in zip(jax.tree.leaves(e), jax.tree.leaves(d),
                                                   strict=True)):
            raise ValueError("the decoder starts from the encoder's final carry: their carries "
                             f"must match, got {e} and {d}")
        h = decoder.output_size
        return Seq2SeqParams(
            src_embed=jax.random.normal(k_se, (src_vocab, embed_size)) if src_tokens else None,
            tgt_embed=jax.random.normal(k_te, (tgt_vocab, embed_size)) if tgt_tokens else None,
            encoder=enc_p, decoder=dec_p,
            w_out=jax.random.normal(k_out, (h, out_size)) / jnp.sqrt(h),
            b_out=jnp.zeros(out_size))

    def embed_src(params, src):
        src = jnp.asarray(src)
        if src_tokens:
            if not jnp.issubdtype(src.dtype, jnp.integer):
                raise TypeError(f"expected integer source tokens, got dtype {src.dtype}")
            return params.src_embed[src]
        if src.shape[-1:] != (src_features,):
            raise ValueError(f"expected source of shape (*batch, S, {src_features}), "
                             f"got {tuple(src.shape)}")
        return src

    def embed_tgt(params, y):
        return params.tgt_embed[y] if tgt_tokens else y

    def encode(params: Seq2SeqParams, src: Array, *, src_len: Array | None = None) -> PyTree:
        carry, _ = rnnjax.unroll(encoder, params.encoder, embed_src(params, src), lengths=src_len)
        return carry

    def readout(params, h):
        return affine(h, params.w_out, params.b_out)

    def step(params: Seq2SeqParams, carry: PyTree, y_prev: Array) -> tuple[PyTree, Array]:
        carry, h = decoder.step(params.decoder, carry, embed_tgt(params, y_prev))
        return carry, readout(params, h)

    def teacher_forced(params: Seq2SeqParams, src: Array, tgt_in: Array, *,
                       src_len: Array | None = None) -> Array:
        carry = encode(params, src, src_len=src_len)
        _, hs = rnnjax.unroll(decoder, params.decoder, embed_tgt(params, jnp.asarray(tgt_in)),
                              carry)
        return readout(params, hs)

    def feedback(out: Array) -> Array:
        return jnp.argmax(out, axis=-1) if tgt_tokens else out

    def free_running(params: Seq2SeqParams, src: Array, first: Array, steps: int, *,
                     src_len: Array | None = None, tgt_in: Array | None = None,
                     teacher: float | Array = 0.0, key: Array | None = None) -> Array:
        first = jnp.asarray(first)
        carry = encode(params, src, src_len=src_len)
        batch = first.shape if tgt_tokens else first.shape[:-1]
        if tgt_in is not None:
            if key is None:
                raise ValueError("free_running with tgt_in (scheduled sampling) needs a key")
            use_true = jax.random.bernoulli(key, teacher, (steps, *batch))
            true_in = jnp.moveaxis(jnp.asarray(tgt_in), len(batch), 0)[:steps]
        else:
            use_true = jnp.zeros((steps, *batch), bool)
            true_in = jnp.broadcast_to(first, (steps, *first.shape))

        def body(state, inp):
            c, y_prev = state
            use, y_true = inp
            if tgt_tokens:
                y_in = jnp.where(use, y_true, y_prev)
            else:
                y_in = jnp.where(use[..., None], y_true, y_prev)
            c, out = step(params, c, y_in)
            y_next = jax.lax.stop_gradient(feedback(out)).astype(first.dtype)
            return (c, y_next), out

        # step 0 always reads `first` (the start token / last observation)
        use_true = use_true.at[0].set(True)
        true_in = true_in.at[0].set(first)
        _, outs = jax.lax.scan(body, (carry, first), (use_true, true_in))
        return jnp.moveaxis(outs, 0, len(batch))

    def greedy(params: Seq2SeqParams, src: Array, max_len: int, *, src_len: Array | None = None,
               bos: int = 1) -> tuple[Array, Array]:
        if not tgt_tokens:
            raise ValueError("greedy decoding needs a token target (tgt_vocab)")
        carry = encode(params, src, src_len=src_len)
        batch = jax.tree.leaves(carry)[0].shape[:-1]
        return decode_until_end(lambda c, y: step(params, c, y), carry,
                                jnp.full(batch, bos, jnp.int32), max_len, eos=eos, pad=pad)

    return Seq2Seq(init, encode, teacher_forced, free_running, greedy, step)


def decode_until_end(step: Callable[[PyTree, Array], tuple[PyTree, Array]], carry: PyTree,
                     first: Array, max_len: int, *, eos: int, pad: int = 0
                     ) -> tuple[Array, Array]:
    """Greedy decoding: ``y_t = argmax step(c_{t-1}, y_{t-1})`` from ``first`` for ``max_len``
    steps; after a sequence emits ``eos`` its later positions are ``pad``.

    Returns ``(tokens (*batch, max_len), lengths (*batch,))`` with lengths counting the end
    token (``max_len`` when it never came).
    """
    if isinstance(max_len, bool) or not isinstance(max_len, int) or max_len < 1:
        raise ValueError(f"max_len must be a positive int, got {max_len!r}")
    first = jnp.asarray(first, jnp.int32)

    def body(state, _):
        c, y, done = state
        c, logits = step(c, y)
        y = jnp.argmax(logits, axis=-1).astype(jnp.int32)
        out = jnp.where(done, pad, y)
        return (c, y, done | (y == eos)), out

    init = (carry, first, jnp.zeros(first.shape, bool))
    _, toks = jax.lax.scan(body, init, None, length=max_len)
    toks = jnp.moveaxis(toks, 0, -1)
    is_end = toks == eos
    lengths = jnp.where(is_end.any(-1), jnp.argmax(is_end, axis=-1) + 1, max_len)
    return toks, lengths.astype(jnp.int32)
