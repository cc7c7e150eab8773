"""Masked losses for padded sequences.

All losses take per-position predictions with any leading shape ``(*batch, T, ...)`` and an
optional ``mask`` of shape ``(*batch, T)`` (1 = real position, 0 = padding), and return the
mean over the real positions:

.. math::  L = \\frac{\\sum_{b,t} m_{bt}\\, \\ell(\\hat y_{bt}, y_{bt})}{\\max(1, \\sum_{b,t} m_{bt})}

so padding contributes neither to the value nor to the gradient, and an all-padding batch gives
0 rather than NaN. ``lengths`` (one integer per sequence) can be turned into a mask with
:func:`length_mask`.

::

    logits, _ = model.apply(params, tokens)                  # (B, T, V)
    loss = cross_entropy(logits, targets, mask=length_mask(lengths, T))
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax

Array = jax.Array


def length_mask(lengths: Array, max_len: int) -> Array:
    """``mask[..., t] = t < lengths[...]`` as float32, shape ``(*lengths.shape, max_len)``."""
    lengths = jnp.asarray(lengths)
    if not jnp.issubdtype(lengths.dtype, jnp.integer):
        raise TypeError(f"lengths must be integers, got dtype {lengths.dtype}")
    t = jnp.arange(max_len).reshape((1,) * lengths.ndim + (max_len,))
    return (t < lengths[..., None]).astype(jnp.float32)


def masked_mean(values: Array, mask: Array | None = None) -> Array:
    """``sum(mask * values) / max(1, sum(mask))``; the plain mean when ``mask`` is None."""
    if mask is None:
        return jnp.mean(values)
    mask = jnp.asarray(mask)
    if mask.shape != values.shape:
        raise ValueError(
            f"mask must have the shape of the per-position losses {tuple(values.shape)}, "
            f"got {tuple(mask.shape)}"
        )
    mask = mask.astype(values.dtype)
    return jnp.sum(values * mask) / jnp.maximum(1.0, jnp.sum(mask))


def cross_entropy_per_position(logits: Array, labels: Array) -> Array:
    """``-log softmax(logits)[label]`` per position: logits ``(..., C)``, labels ``(...)`` ints."""
    if logits.shape[:-1] != labels.shape:
        raise ValueError(
            f"labels must have shape logits.shape[:-1] = {tuple(logits.shape[:-1])}, "
            f"got {tuple(labels.shape)}"
        )
    if not jnp.issubdtype(labels.dtype, jnp.integer):
        raise TypeError(f"labels must be integer class indices, got dtype {labels.dtype}")
    return optax.softmax_cross_entropy_with_integer_labels(logits, labels)


def cross_entropy(logits: Array, labels: Array, mask: Array | None = None) -> Array:
    """Mean softmax cross-entropy (nats) over the unmasked positions."""
    return masked_mean(cross_entropy_per_position(logits, labels), mask)


def accuracy(logits: Array, labels: Array, mask: Array | None = None) -> Array:
    """Fraction of unmasked positions where ``argmax(logits) == label``."""
    correct = (jnp.argmax(logits, axis=-1) == labels).astype(jnp.float32)
    return masked_mean(correct, mask)


def mse_per_position(predictions: Array, targets: Array) -> Array:
    """Elementwise squared error ``(prediction - target)**2`` (shapes must match)."""
    if predictions.shape != targets.shape:
        raise ValueError(
            f"targets must have the shape of the predictions {tuple(predictions.shape)}, "
            f"got {tuple(targets.shape)}"
        )
    return jnp.square(predictions - targets)


def mse(predictions: Array, targets: Array, mask: Array | None = None) -> Array:
    """Mean squared error over the unmasked positions.

    ``mask`` has the shape of ``predictions`` or of ``predictions.shape[:-1]`` (one flag per
    position of a vector-valued output, in which case the mean is over positions and features).
    """
    sq = mse_per_position(predictions, targets)
    if mask is not None and jnp.ndim(mask) == sq.ndim - 1:
        return masked_mean(jnp.mean(sq, axis=-1), mask)
    return masked_mean(sq, mask)
