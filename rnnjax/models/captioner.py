"""One-to-many captioning: a small CNN encodes an image into a recurrent decoder's initial state.

As in the lecture's captioning slide (Vinyals et al. 2015, "Show and Tell"): the image is seen once,
as the decoder's starting state, and the words are generated one by one from the start token
until the end token::

    f = CNN(image)                                   conv 3×3 → relu → 2×2 mean-pool, per stage,
                                                     then flatten → dense (feature_size)
    c_0 = tanh(f W_c + b_c)                          one affine map per leaf of the carry
                                                     (for an LSTM: h_0 and c_0)
    (c_t, h_t) = decoder(c_{t-1}, E[y_{t-1}]),  logits_t = h_t W_out + b_out,  y_0 = <s>

Training uses teacher forcing (:meth:`Captioner.teacher_forced` on the caption shifted right);
:meth:`Captioner.greedy` decodes with ``argmax`` until ``</s>``. The CNN is a ``flax.linen``
module (:class:`ConvEncoder`); its variables sit inside the parameter NamedTuple, so the whole
model is one pytree for optax, Orbax and ``vmap``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp

import rnnjax
from rnnjax.cell import Cell
from rnnjax.models.seq2seq import affine, decode_until_end

Array = jax.Array
PyTree = Any


class ConvEncoder(nn.Module):
    """``(B, H, W, C)`` images -> ``(B, out_size)`` features: per stage a 3×3 convolution, ReLU
    and 2×2 average pooling, then flatten (keeping where things are) and a dense layer."""

    features: Sequence[int] = (16, 32)
    out_size: int = 64

    @nn.compact
    def __call__(self, x: Array) -> Array:
        for f in self.features:
            x = nn.relu(nn.Conv(f, (3, 3))(x))
            x = nn.avg_pool(x, (2, 2), strides=(2, 2))
        x = x.reshape(x.shape[0], -1)
        return nn.Dense(self.out_size)(x)


class CaptionerParams(NamedTuple):
    """``cnn``: the :class:`ConvEncoder` variables; ``bridge``: ``(W_c, b_c)`` per carry leaf;
    ``embed (V, E)``; ``decoder``: the cell's parameters; ``w_out (H, V)``, ``b_out (V,)``."""

    cnn: PyTree
    bridge: tuple
    embed: Array
    decoder: PyTree
    w_out: Array
    b_out: Array


class Captioner(NamedTuple):
    """A captioner as pure functions.

    Attributes:
      init: ``key -> CaptionerParams``.
      initial_carry: ``(params, images (B, H, W, C)) -> carry``: the image as decoder state.
      teacher_forced: ``(params, images, tokens_in (B, L)) -> logits (B, L, V)``.
      greedy: ``(params, images, max_len) -> (tokens (B, max_len), lengths (B,))``.
      step: ``(params, carry, y_prev (B,)) -> (carry, logits)``.
    """

    init: Callable[[Array], CaptionerParams]
    initial_carry: Callable[[CaptionerParams, Array], PyTree]
    teacher_forced: Callable[[CaptionerParams, Array, Array], Array]
    greedy: Callable[..., tuple[Array, Array]]
    step: Callable[..., tuple[PyTree, Array]]


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
    if not isinstance(decoder, Cell):
        raise TypeError(f"decoder must be an rnnjax.Cell, got {type(decoder).__name__}")
    for name, v in (("vocab_size", vocab_size), ("feature_size", feature_size),
                    ("embed_size", embed_size), *((f"features[{i}]", f)
                                                  for i, f in enumerate(features))):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"{name} must be a positive int, got {v!r}")
    image_shape = tuple(int(s) for s in image_shape)
    if len(image_shape) != 3:
        raise ValueError(f"image_shape must be (H, W, C), got {image_shape}")
    cnn = ConvEncoder(tuple(features), feature_size)

    def carry_template(dec_params):
        return jax.eval_shape(lambda p: decoder.initial_carry(p, ()), dec_params)

    def init(key: Array) -> CaptionerParams:
        k_cnn, k_bridge, k_embed, k_dec, k_out = jax.random.split(key, 5)
        cnn_vars = cnn.init(k_cnn, jnp.zeros((1, *image_shape)))
        dec_params = decoder.init(k_dec, embed_size)
        leaves = jax.tree.leaves(carry_template(dec_params))
        bridge = tuple(
            (jax.random.normal(k, (feature_size, leaf.shape[-1])) / jnp.sqrt(feature_size),
             jnp.zeros(leaf.shape[-1]))
            for k, leaf in zip(jax.random.split(k_bridge, len(leaves)), leaves, strict=True))
        h = decoder.output_size
        return CaptionerParams(cnn_vars, bridge, jax.random.normal(k_embed, (vocab_size, embed_size)),
                               dec_params, jax.random.normal(k_out, (h, vocab_size)) / jnp.sqrt(h),
                               jnp.zeros(vocab_size))

    def initial_carry(params: CaptionerParams, images: Array) -> PyTree:
        images = jnp.asarray(images)
        if images.ndim != 4 or tuple(images.shape[1:]) != image_shape:
            raise ValueError(f"expected images of shape (B, {', '.join(map(str, image_shape))}), "
                             f"got {tuple(images.shape)}")
        f = cnn.apply(params.cnn, images)
        treedef = jax.tree.structure(carry_template(params.decoder))
        return jax.tree.unflatten(treedef, [jnp.tanh(affine(f, w, b)) for w, b in params.bridge])

    def step(params: CaptionerParams, carry: PyTree, y_prev: Array) -> tuple[PyTree, Array]:
        carry, h = decoder.step(params.decoder, carry, params.embed[y_prev])
        return carry, affine(h, params.w_out, params.b_out)

    def teacher_forced(params: CaptionerParams, images: Array, tokens_in: Array) -> Array:
        carry = initial_carry(params, images)
        _, hs = rnnjax.unroll(decoder, params.decoder, params.embed[jnp.asarray(tokens_in)], carry)
        return affine(hs, params.w_out, params.b_out)

    def greedy(params: CaptionerParams, images: Array, max_len: int) -> tuple[Array, Array]:
        carry = initial_carry(params, images)
        first = jnp.full(jnp.shape(images)[:1], bos, jnp.int32)
        return decode_until_end(lambda c, y: step(params, c, y), carry, first, max_len,
                                eos=eos, pad=pad)

    return Captioner(init, initial_carry, teacher_forced, greedy, step)
