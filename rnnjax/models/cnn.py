"""A small convolutional image encoder as pure functions (the captioner's CNN).

``(B, H, W, C)`` images to ``(B, out_size)`` features: per stage a 3×3 convolution ("same"
padding), ReLU and 2×2 average pooling (stride 2, trailing odd rows and columns dropped), then
flatten (row-major, keeping where things are) and a dense layer::

    x ← avgpool₂ₓ₂(relu(conv₃ₓ₃(x; K_s) + b_s)),  s = 1..S;     f = flatten(x) W + b
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import jax
import jax.numpy as jnp

from rnnjax.models.model import Dense, affine

Array = jax.Array

_lecun = jax.nn.initializers.lecun_normal()


class Conv(NamedTuple):
    """A 3×3 convolution: ``w (3, 3, C_in, C_out)`` (HWIO), ``b (C_out,)``."""

    w: Array
    b: Array


class CNNParams(NamedTuple):
    """``convs``: one :class:`Conv` per stage; ``dense``: the final :class:`Dense` layer."""

    convs: tuple[Conv, ...]
    dense: Dense


def cnn_init(key: Array, image_shape: tuple[int, int, int], features: Sequence[int],
             out_size: int) -> CNNParams:
    """LeCun-normal (truncated) kernels and zero biases for images of shape ``(H, W, C)``."""
    h, w, c = image_shape
    keys = jax.random.split(key, len(features) + 1)
    convs = []
    for k, f in zip(keys[:-1], features, strict=True):
        convs.append(Conv(_lecun(k, (3, 3, c, f)), jnp.zeros(f)))
        h, w, c = h // 2, w // 2, f
    return CNNParams(tuple(convs), Dense(_lecun(keys[-1], (h * w * c, out_size)),
                                         jnp.zeros(out_size)))


def _avg_pool(x: Array) -> Array:
    b, h, w, c = x.shape
    x = x[:, : h // 2 * 2, : w // 2 * 2]
    return x.reshape(b, h // 2, 2, w // 2, 2, c).mean(axis=(2, 4))


def cnn_apply(params: CNNParams, images: Array) -> Array:
    """Features ``(B, out_size)`` of images ``(B, H, W, C)``."""
    x = images
    for conv in params.convs:
        x = jax.lax.conv_general_dilated(x, conv.w, (1, 1), "SAME",
                                         dimension_numbers=("NHWC", "HWIO", "NHWC"))
        x = _avg_pool(jax.nn.relu(x + conv.b.reshape(1, 1, 1, -1)))
    return affine(x.reshape(x.shape[0], -1), *params.dense)
