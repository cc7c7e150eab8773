"""One-to-many captioning: a small CNN encodes an image into a recurrent decoder's initial state.

As in the lecture's captioning slide (Vinyals et al. 2015, "Show and Tell"): the image is seen once,
as the decoder's starting state, and the words are generated one by one from the start token
until the end token::

    f = CNN(image)                                   conv 3×3 → relu → 2×2 mean-pool, per stage,
                                                     then flatten → dense (feature_size)
    c_0 = tanh(f W_c + b_c)                          one affine map per leaf of the carry
                                                     (for an LSTM: h_0 and c_0)
    (c_t, h_t) = decoder(c_{t-1}, E[y_{t-1}]),  logits_t = h_t W_out + b_out,  y_0 = <s>

``apply`` is teacher forcing (on the caption shifted right); greedy decoding until ``</s>`` is
:func:`rnnjax.models.decoding.greedy` from ``initial_carry(params, images)``. The CNN is
:mod:`rnnjax.models.cnn`; the whole model is one NamedTuple pytree for optax, Orbax and ``vmap``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

import rnnjax
from rnnjax import _checks
from rnnjax.cell import Cell, require_cell
from rnnjax.models.cnn import CNNParams, cnn_apply, cnn_init
from rnnjax.models.model import (
    Dense,
    Model,
    affine,
    argmax_feedback,
    carry_template,
    dense_init,
    model_constructor,
    randomness,
)

Array = jax.Array
PyTree = Any


class CaptionerParams(NamedTuple):
    """Parameters of a :func:`captioner`.

    Attributes:
      cnn: the image encoder's :class:`~rnnjax.models.cnn.CNNParams`.
      bridge: one :class:`~rnnjax.models.model.Dense` ``(W_c, b_c)`` per leaf of the carry.
      embed: ``(V, E)`` word embeddings.
      decoder: the cell's parameters.
      w_out: ``(H, V)`` readout weights; b_out: ``(V,)`` readout bias.
    """

    cnn: CNNParams
    bridge: tuple[Dense, ...]
    embed: Array
    decoder: PyTree
    w_out: Array
    b_out: Array


@dataclass(frozen=True, kw_only=True, eq=False)
class Captioner(Model):
    """A captioner; the :class:`~rnnjax.models.Model` contract.

    Attributes:
      apply: ``(params, images (B, H, W, C), *, tgt_in (B, L), key=None, deterministic=False)
        -> (carry, logits (B, L, V))``, teacher forcing; ``key``/``deterministic`` reach a
        decoder with dropout.
      initial_carry: ``(params, images) -> carry``: the image as the decoder's state.
      step: ``(params, carry, y_prev (B,), *, key=None, deterministic=False) -> (carry, logits)``;
        feedback: ``argmax``.
      decoder: the cell; image_shape: ``(H, W, C)``.
    """

    decoder: Cell
    image_shape: tuple[int, int, int]


@model_constructor
def captioner(decoder: Cell, *, vocab_size: int, image_shape: tuple[int, int, int] = (16, 32, 3),
              features: Sequence[int] = (16, 32), feature_size: int = 64, embed_size: int = 32,
              bos: int = 1, eos: int = 2, pad: int = 0) -> Captioner:
    """A CNN-encoder / recurrent-decoder captioner (see the module docstring).

    Args:
      decoder: any :class:`rnnjax.Cell` (an LSTM in the lecture).
      vocab_size: caption vocabulary, including pad, start and end tokens.
      image_shape: ``(H, W, C)`` of the images.
      features: channels of the convolution stages.
      feature_size: size of the image feature ``f``.
      embed_size: size of the word embeddings.
      bos, eos, pad: start, end and padding token ids.
    """
    require_cell(decoder, "captioner decoder")
    vocab_size = _checks.positive_int(vocab_size, "vocab_size")
    feature_size = _checks.positive_int(feature_size, "feature_size")
    embed_size = _checks.positive_int(embed_size, "embed_size")
    features = tuple(_checks.positive_int(f, f"features[{i}]") for i, f in enumerate(features))
    image_shape = tuple(int(s) for s in image_shape)
    if len(image_shape) != 3:
        raise ValueError(f"image_shape must be (H, W, C), got {image_shape}")

    def init(key: Array) -> CaptionerParams:
        k_cnn, k_bridge, k_embed, k_dec, k_out = jax.random.split(key, 5)
        dec_params = decoder.init(k_dec, embed_size)
        leaves = jax.tree.leaves(carry_template(decoder, dec_params))
        bridge = tuple(dense_init(k, feature_size, leaf.shape[-1])
                       for k, leaf in zip(jax.random.split(k_bridge, len(leaves)), leaves,
                                          strict=True))
        h = decoder.output_size
        return CaptionerParams(cnn_init(k_cnn, image_shape, features, feature_size), bridge,
                               jax.random.normal(k_embed, (vocab_size, embed_size)), dec_params,
                               jax.random.normal(k_out, (h, vocab_size)) / jnp.sqrt(h),
                               jnp.zeros(vocab_size))

    def initial_carry(params: CaptionerParams, images: Array) -> PyTree:
        images = jnp.asarray(images)
        if images.ndim != 4 or tuple(images.shape[1:]) != image_shape:
            raise ValueError(f"expected images of shape (B, {', '.join(map(str, image_shape))}), "
                             f"got {tuple(images.shape)}")
        f = cnn_apply(params.cnn, images)
        treedef = jax.tree.structure(carry_template(decoder, params.decoder))
        return jax.tree.unflatten(treedef, [jnp.tanh(affine(f, *d)) for d in params.bridge])

    def step(params: CaptionerParams, carry: PyTree, y_prev: Array, *, key: Array | None = None,
             deterministic: bool = False) -> tuple[PyTree, Array]:
        carry, h = decoder.step(params.decoder, carry, params.embed[y_prev],
                                **randomness(decoder, key, deterministic))
        return carry, affine(h, params.w_out, params.b_out)

    def apply(params: CaptionerParams, images: Array, *, tgt_in: Array, key: Array | None = None,
              deterministic: bool = False) -> tuple[PyTree, Array]:
        carry = initial_carry(params, images)
        carry, hs = rnnjax.unroll(decoder, params.decoder, params.embed[jnp.asarray(tgt_in)],
                                  carry, **randomness(decoder, key, deterministic))
        return carry, affine(hs, params.w_out, params.b_out)

    return Captioner(init=init, apply=apply, name=f"captioner({decoder.name})",
                     initial_carry=initial_carry, step=step, feedback=argmax_feedback,
                     bos=bos, eos=eos, pad=pad, decoder=decoder, image_shape=image_shape)
