"""Generated images of coloured shapes with generated captions (one-to-many captioning).

An image is ``16 × 32`` RGB (NHWC, values in ``[0, 1]``), made of a left and a right ``16 × 16``
half. It holds one object (in either half) or two (one per half); each object has a shape
(square, circle, triangle, cross), a colour (red, green, blue, yellow) and a size (small: half-width
3 px, large: 5.5 px), placed at a random position inside its half. The caption names the objects
from left to right and ends with the end token::

    "a large red circle </s>"
    "a small blue cross and a large yellow square </s>"

so a captioner must read shape, colour, size, count and left-right order off the pixels, and
decide when to stop. :func:`generate` is a pure, jittable function of its key.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

PAD, BOS, EOS = 0, 1, 2
SHAPES = ("square", "circle", "triangle", "cross")
COLOURS = ("red", "green", "blue", "yellow")
SIZES = ("small", "large")
RGB = np.array([[1.0, 0.1, 0.1], [0.1, 0.85, 0.1], [0.15, 0.35, 1.0], [1.0, 0.9, 0.1]], np.float32)
HALF_WIDTHS = (3.0, 5.5)  # pixels, by size
VOCAB: tuple[str, ...] = ("<pad>", "<s>", "</s>", "a", "and", *SIZES, *COLOURS, *SHAPES)
HEIGHT, WIDTH = 16, 32
CAPTION_LEN = 10  # "a size colour shape and a size colour shape </s>"
_V = {w: i for i, w in enumerate(VOCAB)}


class Captions(NamedTuple):
    """A batch of captioned images.

    Attributes:
      images: ``(N, 16, 32, 3)`` float32 RGB in ``[0, 1]``.
      tokens: ``(N, CAPTION_LEN)`` caption word ids (``VOCAB``) ending with ``EOS``, then ``PAD``.
      lengths: ``(N,)`` caption length including ``EOS`` (5 or 10).
      objects: ``(N, 2, 3)`` int32 ``(shape, colour, size)`` of the left and the right object
        slot, ``-1`` where a slot is empty.
    """

    images: jax.Array
    tokens: jax.Array
    lengths: jax.Array
    objects: jax.Array


def shape_mask(shape: jax.Array, half_width: jax.Array, cx: jax.Array, cy: jax.Array,
               size: int = 16) -> jax.Array:
    """Boolean ``(size, size)`` mask of a shape centred at ``(cx, cy)`` (pixel units, x right,
    y down) with half-width ``r``: square ``max(|dx|,|dy|) ≤ r``; circle ``dx² + dy² ≤ r²``;
    triangle (apex up) ``|dy| ≤ r, |dx| ≤ (dy + r)/2``; cross: two bars of half-width ``r/3``."""
    y, x = jnp.meshgrid(jnp.arange(size, dtype=jnp.float32), jnp.arange(size, dtype=jnp.float32),
                        indexing="ij")
    dx, dy, r = x - cx, y - cy, half_width
    masks = jnp.stack([
        (jnp.abs(dx) <= r) & (jnp.abs(dy) <= r),
        dx**2 + dy**2 <= r**2,
        (jnp.abs(dy) <= r) & (jnp.abs(dx) <= (dy + r) / 2),
        ((jnp.abs(dx) <= r / 3) & (jnp.abs(dy) <= r)) | ((jnp.abs(dy) <= r / 3) & (jnp.abs(dx) <= r)),
    ])
    return masks[shape]


def _half(key: jax.Array, attrs: jax.Array, present: jax.Array) -> jax.Array:
    """One ``16 × 16 × 3`` half holding the object ``attrs = (shape, colour, size)`` if present."""
    r = jnp.asarray(HALF_WIDTHS)[attrs[2]]
    lo, hi = r, 15.0 - r
    cx, cy = jax.random.uniform(key, (2,), minval=lo, maxval=hi)
    mask = shape_mask(attrs[0], r, cx, cy) & present
    return jnp.where(mask[:, :, None], jnp.asarray(RGB)[attrs[1]][None, None, :], 0.0)


def generate_one(key: jax.Array, p_two: float = 0.5, noise: float = 0.05):
    """One captioned image: ``(image, tokens, length, objects)``."""
    k_two, k_side, k_attr, k_left, k_right, k_noise = jax.random.split(key, 6)
    two = jax.random.bernoulli(k_two, p_two)
    right_only = ~two & jax.random.bernoulli(k_side)
    present = jnp.stack([~right_only, two | right_only])
    attrs = jnp.stack([jax.random.randint(k, (2,), 0, n) for k, n in
                       zip(jax.random.split(k_attr, 3), (len(SHAPES), len(COLOURS), len(SIZES)),
                           strict=True)], axis=-1)  # (2 slots, 3 attributes)
    image = jnp.concatenate([_half(k_left, attrs[0], present[0]),
                             _half(k_right, attrs[1], present[1])], axis=1)
    image = jnp.clip(image + noise * jax.random.normal(k_noise, image.shape), 0.0, 1.0)

    def words(a):  # "a <size> <colour> <shape>"
        return jnp.stack([jnp.int32(_V["a"]), a[2] + _V[SIZES[0]], a[1] + _V[COLOURS[0]],
                          a[0] + _V[SHAPES[0]]])

    slots = jnp.concatenate([words(attrs[0]), jnp.array([_V["and"]], jnp.int32),
                             words(attrs[1]), jnp.array([EOS], jnp.int32)])
    keep = jnp.concatenate([jnp.repeat(present[0], 4), two[None], jnp.repeat(present[1], 4),
                            jnp.array([True])])
    order = jnp.argsort(~keep, stable=True)
    length = keep.sum().astype(jnp.int32)
    tokens = jnp.where(jnp.arange(CAPTION_LEN) < length, slots[order], PAD)
    objects = jnp.where(present[:, None], attrs, -1).astype(jnp.int32)
    return image, tokens, length, objects


def generate(n: int, *, key: jax.Array, p_two: float = 0.5, noise: float = 0.05) -> Captions:
    """``n`` captioned images; ``p_two`` is the probability of two objects, ``noise`` the
    standard deviation of the Gaussian pixel noise (clipped to ``[0, 1]``)."""
    if int(n) < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    if not 0.0 <= p_two <= 1.0:
        raise ValueError(f"p_two must be a probability, got {p_two}")
    return Captions(*_generate_batch(jax.random.split(key, int(n)), p_two, noise))


_generate_batch = jax.jit(jax.vmap(generate_one, in_axes=(0, None, None)))


def decode(tokens: Sequence[int]) -> str:
    """Caption words up to (not including) the end token."""
    out = []
    for i in np.asarray(tokens).tolist():
        if i in (PAD, EOS):
            break
        if i != BOS:
            out.append(VOCAB[i])
    return " ".join(out)
