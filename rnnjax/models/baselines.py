"""The non-recurrent baselines of the lecture: a bag-of-words classifier and a fixed-window
feed-forward forecaster.

Bag of words (order-blind by construction)::

    m = (1/L) Σ_{t ≤ L} E[x_t]                   mean embedding of the real tokens
    logits = relu(m W_1 + b_1) W_2 + b_2         (hidden_size=None: logits = m W_2 + b_2, linear)

Any permutation of the tokens gives the same logits, so on data where word order decides the
label it cannot beat chance.

Fixed-window forecaster (the lecture's "feed x_{n-3}, x_{n-2}, x_{n-1}, predict x_n")::

    ŷ = tanh(w W_1 + b_1) W_2 + b_2,   w = (x_{t-k}, …, x_{t-1})

with ``horizon`` outputs ``(x̂_t, …, x̂_{t+horizon-1})``. To forecast further, its ``step``
slides the window over its own first prediction, so :func:`rnnjax.models.decoding.free_running`
iterates it::

    carry = model.initial_carry(params, context)            # the window minus its newest value
    _, ys = free_running(model, params, carry, context[..., -1:], steps)   # (*batch, steps, 1)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import jax
import jax.numpy as jnp

from rnnjax import _checks
from rnnjax.models.model import Model, affine, dense_init, identity_feedback, model_constructor

Array = jax.Array


# ----------------------------------------------------------------------------- bag of words


class BagOfWordsParams(NamedTuple):
    """``embed (V, E)``; ``w1 (E, H), b1 (H,)`` (None for the linear model); ``w2, b2`` readout."""

    embed: Array
    w1: Array | None
    b1: Array | None
    w2: Array
    b2: Array


@dataclass(frozen=True, kw_only=True, eq=False)
class BagOfWords(Model):
    """``apply(params, tokens (*batch, T), *, lengths=None) -> logits (*batch, C)``;
    ``vocab_size``, ``num_classes``: the architecture."""

    vocab_size: int
    num_classes: int


@model_constructor
def bag_of_words(vocab_size: int, num_classes: int, *, embed_size: int = 32,
                 hidden_size: int | None = 64) -> BagOfWords:
    """A mean-of-embeddings classifier; ``hidden_size=None`` makes it linear in the word counts."""
    vocab_size = _checks.positive_int(vocab_size, "vocab_size")
    num_classes = _checks.positive_int(num_classes, "num_classes")
    embed_size = _checks.positive_int(embed_size, "embed_size")
    if hidden_size is not None:
        hidden_size = _checks.positive_int(hidden_size, "hidden_size")

    def init(key: Array) -> BagOfWordsParams:
        k_e, k_1, k_2 = jax.random.split(key, 3)
        embed = jax.random.normal(k_e, (vocab_size, embed_size))
        if hidden_size is None:
            return BagOfWordsParams(embed, None, None, *dense_init(k_2, embed_size, num_classes))
        return BagOfWordsParams(embed, *dense_init(k_1, embed_size, hidden_size),
                                *dense_init(k_2, hidden_size, num_classes))

    def apply(params: BagOfWordsParams, tokens: Array, *, lengths: Array | None = None) -> Array:
        tokens = jnp.asarray(tokens)
        if tokens.ndim < 1 or not jnp.issubdtype(tokens.dtype, jnp.integer):
            raise TypeError(f"expected integer tokens of shape (*batch, T), got {tokens.dtype} "
                            f"{tuple(tokens.shape)}")
        T = tokens.shape[-1]
        if lengths is None:
            lengths = jnp.full(tokens.shape[:-1], T, jnp.int32)
        lengths = jnp.asarray(lengths)
        steps = jnp.arange(T).reshape((1,) * lengths.ndim + (T,))
        mask = (steps < lengths[..., None]).astype(params.embed.dtype)
        total = jnp.einsum("...t,...te->...e", mask, params.embed[tokens])
        m = total / jnp.maximum(mask.sum(-1), 1.0)[..., None]
        if params.w1 is not None:
            m = jax.nn.relu(affine(m, params.w1, params.b1))
        return affine(m, params.w2, params.b2)

    kind = "linear" if hidden_size is None else f"hidden={hidden_size}"
    return BagOfWords(init=init, apply=apply, name=f"bag_of_words({kind})",
                      vocab_size=vocab_size, num_classes=num_classes)


# ----------------------------------------------------------------------------- window forecaster


class WindowParams(NamedTuple):
    """``w1 (k, H), b1 (H,), w2 (H, horizon), b2 (horizon,)``."""

    w1: Array
    b1: Array
    w2: Array
    b2: Array


@dataclass(frozen=True, kw_only=True, eq=False)
class WindowForecaster(Model):
    """The :class:`~rnnjax.models.Model` contract for a window of ``k`` values.

    Attributes:
      apply: ``(params, window (*batch, k)) -> (*batch, horizon)``.
      initial_carry: ``(params, context (*batch, C)) -> (*batch, k - 1)``: the last window of
        the context without its newest value (which is fed to ``step`` as the first input).
      step: ``(params, carry (*batch, k - 1), x (*batch, 1)) -> (carry, x̂ (*batch, 1))``:
        append ``x`` to make a window, predict its next value (the first output), slide.
      feedback: the identity. window, horizon: the architecture.
    """

    window: int
    horizon: int


@model_constructor
def window_forecaster(window: int, *, hidden_size: int = 64, horizon: int = 1
                      ) -> WindowForecaster:
    """A one-hidden-layer tanh network from the last ``window`` values to the next ``horizon``."""
    window = _checks.positive_int(window, "window")
    hidden_size = _checks.positive_int(hidden_size, "hidden_size")
    horizon = _checks.positive_int(horizon, "horizon")

    def init(key: Array) -> WindowParams:
        k1, k2 = jax.random.split(key)
        return WindowParams(*dense_init(k1, window, hidden_size),
                            *dense_init(k2, hidden_size, horizon))

    def apply(params: WindowParams, x: Array) -> Array:
        x = jnp.asarray(x)
        if x.shape[-1:] != (window,):
            raise ValueError(f"expected a window of shape (*batch, {window}), got {tuple(x.shape)}")
        return affine(jnp.tanh(affine(x, params.w1, params.b1)), params.w2, params.b2)

    def initial_carry(params: WindowParams, context: Array) -> Array:
        del params
        context = jnp.asarray(context)
        if context.ndim < 1 or context.shape[-1] < window:
            raise ValueError(f"context needs at least window={window} values on its last axis, "
                             f"got shape {tuple(context.shape)}")
        return context[..., context.shape[-1] - window:-1]

    def step(params: WindowParams, carry: Array, x: Array) -> tuple[Array, Array]:
        w = jnp.concatenate([carry, x], axis=-1)
        return w[..., 1:], apply(params, w)[..., :1]

    return WindowForecaster(init=init, apply=apply, name=f"window_forecaster({window})",
                            initial_carry=initial_carry, step=step, feedback=identity_feedback,
                            window=window, horizon=horizon)
