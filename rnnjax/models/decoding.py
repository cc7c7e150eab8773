"""Decoding modes as free functions of any generating model (one with ``step`` and ``feedback``).

Each mode iterates ``(c_t, o_t) = step(c_{t-1}, y_{t-1})`` from a carry ``c_0`` (a model's
``initial_carry``: the encoder's context, the image, the state after a prompt) and differs only
in what is fed back as ``y_t``:

- :func:`free_running`: the model's own prediction, ``y_t = feedback(o_t)`` (``argmax`` for
  tokens, the value itself for real outputs): what happens at test time. A model trained only on
  true previous outputs (teacher forcing, the models' ``apply``) never saw its own mistakes, so
  at test time one error compounds ("exposure bias", Bengio et al. 2015).
- :func:`scheduled_sampling`: per step and sequence, the true input with probability ``teacher``
  and the own prediction otherwise (Bengio et al. 2015); ``teacher=1`` is teacher forcing.
- :func:`greedy`: free running on tokens from the start token until the end token.
- :func:`sample`: ``y_t ~ softmax(o_t / temperature)``.

Fed-back predictions are not differentiated through (``stop_gradient``), as in the papers; the
outputs ``o_t`` are, so free running and scheduled sampling can be trained on.

::

    carry = model.initial_carry(params, src, src_lengths=src_lengths)
    _, logits = free_running(model, params, carry, first=bos_tokens, steps=7)
    tokens, lengths = greedy(model, params, carry, max_len=7)
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from rnnjax import _checks
from rnnjax.models.model import Model

Array = jax.Array
PyTree = Any


def _check(model: Model, fn: str) -> None:
    if not isinstance(model, Model):
        raise TypeError(f"{fn}: expected an rnnjax.models.Model, got {type(model).__name__}")
    if model.step is None or model.feedback is None:
        raise ValueError(f"{fn}: {model!r} cannot feed its outputs back as inputs")


def free_running(model: Model, params: PyTree, carry: PyTree, first: Array, steps: int
                 ) -> tuple[PyTree, Array]:
    """Feed the model's own predictions back for ``steps`` steps.

    Args:
      model, params: a generating model and its parameters.
      carry: the carry before the first step (e.g. ``model.initial_carry(params, ...)``).
      first: ``y_0``, the first input: tokens ``(*batch,)`` or vectors ``(*batch, F)``.
      steps: number of steps.

    Returns:
      ``(carry, outputs)``, outputs ``(*batch, steps, out)``: ``o_t`` for ``t = 1..steps``, where
      ``y_t = feedback(o_t)`` was the input of step ``t + 1``.
    """
    _check(model, "free_running")
    steps = _checks.nonnegative_int(steps, "steps")
    first = jnp.asarray(first)

    def body(state, _):
        c, y = state
        c, out = model.step(params, c, y)
        y = jax.lax.stop_gradient(model.feedback(out)).astype(first.dtype)
        return (c, y), out

    (carry, _), outs = jax.lax.scan(body, (carry, first), None, length=steps)
    return carry, jnp.moveaxis(outs, 0, -2)


def scheduled_sampling(model: Model, params: PyTree, carry: PyTree, tgt_in: Array, *,
                       teacher: float | Array, key: Array) -> tuple[PyTree, Array]:
    """Per step and sequence, feed the true input with probability ``teacher``, else the own
    prediction (Bengio et al. 2015). Step 1 always reads ``tgt_in[..., 0]`` (the start token).

    Args:
      model, params, carry: as in :func:`free_running`.
      tgt_in: the teacher-forced inputs, tokens ``(*batch, L)`` or vectors ``(*batch, L, F)``
        (the targets shifted right, :func:`rnnjax.models.seq2seq.shift_right`).
      teacher: probability of the true input (may be traced, e.g. a decaying schedule).
      key: draws which steps are teacher-forced.

    Returns:
      ``(carry, outputs)``, outputs ``(*batch, L, out)``.
    """
    _check(model, "scheduled_sampling")
    tgt_in = jnp.asarray(tgt_in)
    tokens = jnp.issubdtype(tgt_in.dtype, jnp.integer)
    if tgt_in.ndim < (1 if tokens else 2):
        raise ValueError("tgt_in must be tokens (*batch, L) or vectors (*batch, L, F), got shape "
                         f"{tuple(tgt_in.shape)}")
    time = tgt_in.ndim - (1 if tokens else 2)
    steps, batch = tgt_in.shape[time], tgt_in.shape[:time]
    true_in = jnp.moveaxis(tgt_in, time, 0)
    use_true = jax.random.bernoulli(key, teacher, (steps, *batch)).at[0].set(True)

    def body(state, inp):
        c, y_prev = state
        use, y_true = inp
        y = jnp.where(use if tokens else use[..., None], y_true, y_prev)
        c, out = model.step(params, c, y)
        return (c, jax.lax.stop_gradient(model.feedback(out)).astype(tgt_in.dtype)), out

    (carry, _), outs = jax.lax.scan(body, (carry, true_in[0]), (use_true, true_in))
    return carry, jnp.moveaxis(outs, 0, -2)


def greedy(model: Model, params: PyTree, carry: PyTree, max_len: int, *,
           first: Array | None = None) -> tuple[Array, Array]:
    """Greedy decoding until the end token: ``y_t = argmax step(c_{t-1}, y_{t-1})`` from
    ``y_0 = first`` (default: ``model.bos`` for every sequence of the carry's batch) for
    ``max_len`` steps; after a sequence emits ``model.eos`` its later positions are ``model.pad``.

    Returns:
      ``(tokens (*batch, max_len), lengths (*batch,))``, lengths counting the end token
      (``max_len`` when it never came).
    """
    _check(model, "greedy")
    if model.eos is None:
        raise ValueError(f"greedy: {model!r} has no end token (a token decoder has eos)")
    max_len = _checks.positive_int(max_len, "max_len")
    if first is None:
        if model.bos is None:
            raise ValueError(f"greedy: {model!r} has no start token; pass first=")
        first = jnp.full(jax.tree.leaves(carry)[0].shape[:-1], model.bos, jnp.int32)
    first = jnp.asarray(first, jnp.int32)
    eos, pad = model.eos, model.pad if model.pad is not None else 0

    def body(state, _):
        c, y, done = state
        c, logits = model.step(params, c, y)
        y = jnp.argmax(logits, axis=-1).astype(jnp.int32)
        return (c, y, done | (y == eos)), jnp.where(done, pad, y)

    _, toks = jax.lax.scan(body, (carry, first, jnp.zeros(first.shape, bool)), None,
                           length=max_len)
    toks = jnp.moveaxis(toks, 0, -1)
    is_end = toks == eos
    lengths = jnp.where(is_end.any(-1), jnp.argmax(is_end, axis=-1) + 1, max_len)
    return toks, lengths.astype(jnp.int32)


def sample(model: Model, params: PyTree, carry: PyTree, first: Array, steps: int, *,
           key: Array, temperature: float | Array = 1.0) -> tuple[PyTree, Array, Array]:
    """Sample tokens: ``y_t ~ softmax(o_t / temperature)`` fed back, ``steps`` times from token
    ``first (*batch,)``; ``temperature = 0`` is ``argmax`` (it may be traced: one compiled
    sampler for every temperature).

    Returns:
      ``(carry, tokens (*batch, steps), logits (*batch, steps, V))``: ``y_1..y_steps`` and the
      distributions they were drawn from.
    """
    _check(model, "sample")
    steps = _checks.nonnegative_int(steps, "steps")
    first = jnp.asarray(first)
    if not jnp.issubdtype(first.dtype, jnp.integer):
        raise TypeError(f"sample: first must be integer tokens, got dtype {first.dtype}")
    if isinstance(temperature, (int, float)) and temperature < 0:
        raise ValueError(f"temperature must be >= 0, got {temperature!r}")
    temperature = jnp.asarray(temperature, jnp.float32)

    def body(state, k):
        c, y = state
        c, logits = model.step(params, c, y)
        drawn = jax.random.categorical(k, logits / jnp.maximum(temperature, 1e-6), axis=-1)
        y = jnp.where(temperature > 0, drawn, jnp.argmax(logits, axis=-1)).astype(first.dtype)
        return (c, y), (y, logits)

    (carry, _), (toks, logits) = jax.lax.scan(body, (carry, first), jax.random.split(key, steps))
    return carry, jnp.moveaxis(toks, 0, -1), jnp.moveaxis(logits, 0, -2)
