"""Encoder–decoder (sequence-to-sequence) models from any two cells.

The encoder reads the whole source; its final carry is the decoder's initial carry (the
"context"); the decoder then emits one output per step (Sutskever, Vinyals & Le 2014)::

    c_0 = encoder carry after x_1..x_S          (so the two cells' carries must match)
    (c_t, h_t) = decoder(c_{t-1}, e(y_{t-1})),  o_t = h_t W_out + b_out,  t = 1..L

``y_0`` is the start token (or, for real-valued series, the last observed value) and ``e`` the
target embedding (a learned table for tokens, the identity for real vectors). ``apply`` is
teacher forcing: ``y_{t-1}`` is the true previous output (``tgt_in``, the targets shifted right
by :func:`shift_right`); the other decoding modes (free running, scheduled sampling, greedy) are
the functions of :mod:`rnnjax.models.decoding`, started from ``initial_carry``::

    enc, dec = rnnjax.cells.lstm(64), rnnjax.cells.lstm(64)
    model = seq2seq(enc, dec, src_vocab=11, tgt_vocab=40, embed_size=32)
    params = model.init(jax.random.key(0))
    _, logits = model.apply(params, src, tgt_in=shift_right(tgt, BOS), src_lengths=src_lengths)
    carry = model.initial_carry(params, src, src_lengths=src_lengths)
    tokens, lengths = decoding.greedy(model, params, carry, max_len=7)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

import rnnjax
from rnnjax import _checks
from rnnjax.cell import Cell, require_cell
from rnnjax.models.model import (
    Model,
    affine,
    argmax_feedback,
    carry_template,
    identity_feedback,
    model_constructor,
    randomness,
)

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


@dataclass(frozen=True, kw_only=True, eq=False)
class Seq2Seq(Model):
    """An encoder–decoder; the :class:`~rnnjax.models.Model` contract.

    Attributes:
      apply: ``(params, src, *, tgt_in, src_lengths=None, key=None, deterministic=False) ->
        (carry, outputs (*batch, L, out))``, teacher forcing; ``key``/``deterministic`` reach
        cells with dropout (the encoder and decoder draw different masks).
      initial_carry: ``(params, src, *, src_lengths=None, key=None, deterministic=False) -> carry``:
        the encoder's final carry.
      step: ``(params, carry, y_prev, *, key=None, deterministic=False) -> (carry, output)``: one
        decoder step.
      feedback: ``argmax`` (token target) or the identity (real-valued target).
      encoder, decoder: the cells.
    """

    encoder: Cell
    decoder: Cell


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


def _check_side(name: str, vocab: int | None, features: int | None) -> tuple:
    """``(vocab, features)`` as Python ints, exactly one of them given."""
    if (vocab is None) == (features is None):
        raise ValueError(f"give exactly one of {name}_vocab (tokens) or {name}_features (vectors)")
    if vocab is not None:
        return _checks.positive_int(vocab, f"{name} size"), None
    return None, _checks.positive_int(features, f"{name} size")


@model_constructor
def seq2seq(encoder: Cell, decoder: Cell, *, src_vocab: int | None = None,
            src_features: int | None = None, tgt_vocab: int | None = None,
            tgt_features: int | None = None, embed_size: int = 32, bos: int = 1, eos: int = 2,
            pad: int = 0) -> Seq2Seq:
    """An encoder–decoder from two cells whose carries have the same structure and sizes.

    Args:
      encoder, decoder: any :class:`rnnjax.Cell` (stacks too), e.g. two LSTMs of one size.
      src_vocab / src_features: token source with this vocabulary, or real vectors of this size.
      tgt_vocab / tgt_features: token target with this vocabulary (readout = logits), or real
        vectors of this size (readout = the prediction itself).
      embed_size: size of the learned embeddings of token sides.
      bos, eos, pad: start, end and padding token ids of a token target (greedy decoding).
    """
    require_cell(encoder, "seq2seq encoder")
    require_cell(decoder, "seq2seq decoder")
    src_vocab, src_features = _check_side("src", src_vocab, src_features)
    tgt_vocab, tgt_features = _check_side("tgt", tgt_vocab, tgt_features)
    embed_size = _checks.positive_int(embed_size, "embed_size")
    src_tokens, tgt_tokens = src_vocab is not None, tgt_vocab is not None
    enc_in = embed_size if src_tokens else src_features
    dec_in = embed_size if tgt_tokens else tgt_features
    out_size = tgt_vocab if tgt_tokens else tgt_features

    def init(key: Array) -> Seq2SeqParams:
        k_se, k_te, k_enc, k_dec, k_out = jax.random.split(key, 5)
        enc_p, dec_p = encoder.init(k_enc, enc_in), decoder.init(k_dec, dec_in)
        e, d = carry_template(encoder, enc_p), carry_template(decoder, dec_p)
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

    def initial_carry(params: Seq2SeqParams, src: Array, *, src_lengths: Array | None = None,
                      key: Array | None = None, deterministic: bool = False) -> PyTree:
        carry, _ = rnnjax.unroll(encoder, params.encoder, embed_src(params, src), lengths=src_lengths,
                                 **randomness(encoder, key, deterministic, 0))
        return carry

    def step(params: Seq2SeqParams, carry: PyTree, y_prev: Array, *, key: Array | None = None,
             deterministic: bool = False) -> tuple[PyTree, Array]:
        carry, h = decoder.step(params.decoder, carry, embed_tgt(params, y_prev),
                                **randomness(decoder, key, deterministic, 1))
        return carry, affine(h, params.w_out, params.b_out)

    def apply(params: Seq2SeqParams, src: Array, *, tgt_in: Array, src_lengths: Array | None = None,
              key: Array | None = None, deterministic: bool = False) -> tuple[PyTree, Array]:
        carry = initial_carry(params, src, src_lengths=src_lengths, key=key, deterministic=deterministic)
        carry, hs = rnnjax.unroll(decoder, params.decoder,
                                  embed_tgt(params, jnp.asarray(tgt_in)), carry,
                                  **randomness(decoder, key, deterministic, 1))
        return carry, affine(hs, params.w_out, params.b_out)

    return Seq2Seq(
        init=init, apply=apply, name=f"seq2seq({encoder.name}, {decoder.name})",
        initial_carry=initial_carry, step=step,
        feedback=argmax_feedback if tgt_tokens else identity_feedback,
        bos=bos if tgt_tokens else None, eos=eos if tgt_tokens else None,
        pad=pad if tgt_tokens else None, encoder=encoder, decoder=decoder)
