"""The non-recurrent baselines of the lecture: a bag-of-words classifier and a fixed-window
feed-forward forecaster.

Bag of words (order-blind by construction)::

    m = (1/L) Σ_{t ≤ L} E[x_t]                   mean embedding of the real tokens
    logits = relu(m W_1 + b_1) W_2 + b_2         (hidden_size=None: logits = m W_2 + b_2, linear)

Any permutation of the tokens gives the same logits, so on data where word order decides the
label it cannot beat chance.

Fixed-window forecaster (the lecture's "feed x_{n-3}, x_{n-2}, x_{n-1}, predict x_n")::

    ŷ = tanh(w W_1 + b_1) W_2 + b_2,   w = (x_{t-k}, …, x_{t-1})

with ``horizon`` outputs ``(x̂_t, …, x̂_{t+horizon-1})``; :func:`iterate_window` forecasts
further by feeding its own predictions back into the window.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp

from rnnjax.models.seq2seq import affine

Array = jax.Array


def _positive(name: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")


def _dense(key: Array, n_in: int, n_out: int) -> tuple[Array, Array]:
    """LeCun-normal weights ``(n_in, n_out)`` and zero bias."""
    return jax.random.normal(key, (n_in, n_out)) / jnp.sqrt(n_in), jnp.zeros(n_out)


# ----------------------------------------------------------------------------- bag of words


class BagOfWordsParams(NamedTuple):
    """``embed (V, E)``; ``w1 (E, H), b1 (H,)`` (None for the linear model); ``w2, b2`` readout."""

    embed: Array
    w1: Array | None
    b1: Array | None
    w2: Array
    b2: Array


class BagOfWords(NamedTuple):
    """``init(key) -> params``; ``apply(params, tokens, lengths=None) -> logits (*batch, C)``."""

    init: Callable[[Array], BagOfWordsParams]
    apply: Callable[..., Array]


def bag_of_words(vocab_size: int, num_classes: int, *, embed_size: int = 32,
                 hidden_size: int | None = 64) -> BagOfWords:
    """A mean-of-embeddings classifier; ``hidden_size=None`` makes it linear in the word counts."""
    _positive("vocab_size", vocab_size)
    _positive("num_classes", num_classes)
    _positive("embed_size", embed_size)
    if hidden_size is not None:
        _positive("hidden_size", hidden_size)

    def init(key: Array) -> BagOfWordsParams:
        k_e, k_1, k_2 = jax.random.split(key, 3)
        embed = jax.random.normal(k_e, (vocab_size, embed_size))
        if hidden_size is None:
            return BagOfWordsParams(embed, None, None, *_dense(k_2, embed_size, num_classes))
        return BagOfWordsParams(embed, *_dense(k_1, embed_size, hidden_size),
                                *_dense(k_2, hidden_size, num_classes))

    def apply(params: BagOfWordsParams, tokens: Array, lengths: Array | None = None) -> Array:
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

    return BagOfWords(init, apply)


# ----------------------------------------------------------------------------- window forecaster


class WindowParams(NamedTuple):
    """``w1 (k, H), b1 (H,), w2 (H, horizon), b2 (horizon,)``."""

    w1: Array
    b1: Array
    w2: Array
    b2: Array


class WindowForecaster(NamedTuple):
    """``init(key) -> params``; ``apply(params, window (*batch, k)) -> (*batch, horizon)``."""

    init: Callable[[Array], WindowParams]
    apply: Callable[[WindowParams, Array], Array]
    window: int
    horizon: int


def window_forecaster(window: int, *, hidden_size: int = 64, horizon: int = 1
                      ) -> WindowForecaster:
    """A one-hidden-layer tanh network from the last ``window`` values to the next ``horizon``."""
    _positive("window", window)
    _positive("hidden_size", hidden_size)
    _positive("horizon", horizon)

    def init(key: Array) -> WindowParams:
        k1, k2 = jax.random.split(key)
        return WindowParams(*_dense(k1, window, hidden_size), *_dense(k2, hidden_size, horizon))

    def apply(params: WindowParams, x: Array) -> Array:
        x = jnp.asarray(x)
        if x.shape[-1:] != (window,):
            raise ValueError(f"expected a window of shape (*batch, {window}), got {tuple(x.shape)}")
        return affine(jnp.tanh(affine(x, params.w1, params.b1)), params.w2, params.b2)

    return WindowForecaster(init, apply, window, horizon)


def iterate_window(model: WindowForecaster, params: WindowParams, context: Array, steps: int
                   ) -> Array:
    """Multi-step forecast by feeding predictions back: from the last ``window`` values of
    ``context (*batch, C)``, predict ``x̂_t`` (the first output), slide the window to include it,
    and repeat ``steps`` times. Returns ``(*batch, steps)``."""
    context = jnp.asarray(context)
    if context.shape[-1] < model.window:
        raise ValueError(f"context needs at least window={model.window} values, "
                         f"got {context.shape[-1]}")
    _positive("steps", steps)

    def body(w, _):
        y = model.apply(params, w)[..., 0]
        return jnp.concatenate([w[..., 1:], y[..., None]], axis=-1), y

    _, ys = jax.lax.scan(body, context[..., -model.window:], None, length=steps)
    return jnp.moveaxis(ys, 0, -1)
