"""Truncated backpropagation through time with the lecture's ``(k1, k2)``, and split-and-reset.

Truncated BPTT (Williams & Peng 1990, "BPTT(h; h')"; Sutskever 2013 writes it TBPTT(k1, k2)):
the sequence is processed once, front to back, and the hidden state is carried across the whole
sequence, never reset. Every ``k1`` steps one optimiser update is made from the losses of those
``k1`` steps, backpropagating ``k2`` steps into the past:

.. math::

    g_n = \\nabla_θ \\sum_{t=e_n-k_1+1}^{e_n} \\ell_t
          \\Big|_{\\;h_{e_n-k_2}\\ \\text{held constant}}, \\qquad e_n = n k_1

A loss at the last step of a window is thus backpropagated ``k2`` steps, one at its first step
``k2 - k1 + 1`` steps. A dependency longer than ``k2`` steps gets no gradient at all. (Williams
& Peng take ``k2 >= k1``; with ``k2 < k1`` the backward pass covers only the last ``k2`` steps,
so the losses of the earlier ``k1 - k2`` steps are measured but give no gradient.) The
forward pass of each window starts from the carry at ``e_n - k2`` computed with the parameters
of the time (the window is recomputed with the current parameters, which is exactly the
lecture's "keep the hidden state, update every k1 steps").

``reset=True`` is the naive "split and reset" variant of the lecture: the sequence is cut into
chunks of ``k1 = k2`` steps and each chunk starts from the initial carry, so nothing can be
carried across a chunk boundary even in the forward pass. Full BPTT is ``k1 = k2 = T``.

Losses are normalised by the number of real (unmasked) positions in the whole batch of
sequences, so the window losses sum to the sequence's mean loss; with the parameters held fixed
the summed window gradients of ``k2 >= T`` equal the full-BPTT gradient
(:func:`truncated_gradient`).

::

    def apply_fn(params, carry, xs):            # a chunk of the sequence, carry in and out
        return model.apply(params, xs, carry)

    loss_fn = rnnjax.train.cross_entropy_per_position       # (outputs, targets) -> (B, t)
    step = make_tbptt_step(apply_fn, loss_fn, opt, initial_carry=model.initial_carry, k1=5, k2=10)
    state, metrics = step(state, (xs, targets, mask))       # T // k1 updates; one state.step
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import optax

from rnnjax.train.state import TrainState
from rnnjax.train.step import apply_gradients

PyTree = Any


def _check_k(k1: int, k2: int, reset: bool) -> None:
    for name, k in (("k1", k1), ("k2", k2)):
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise ValueError(f"{name} must be a positive int, got {k!r}")
    if reset and k1 != k2:
        raise ValueError(f"split-and-reset uses chunks of k1 = k2 steps, got k1={k1}, k2={k2}")


def _geometry(T: int, k1: int, k2: int) -> tuple[int, int, int, int, int, int]:
    """Units of ``g = gcd(k1, k2)`` steps: k1 = a units, k2 = b units, window W units."""
    if T % k1:
        raise ValueError(f"the sequence length T={T} must be a multiple of k1={k1}")
    g = math.gcd(k1, k2)
    a, b, U = k1 // g, k2 // g, T // g
    W = min(max(a, b), U)
    return g, a, b, U, W, T // k1


def _split_batch(batch):
    if not isinstance(batch, (tuple, list)) or len(batch) not in (2, 3):
        raise TypeError("a truncated-BPTT batch is (inputs, targets) or (inputs, targets, mask)")
    xs, ys = batch[0], batch[1]
    mask = batch[2] if len(batch) == 3 and batch[2] is not None else None
    if xs.ndim < 2 or ys.shape[:2] != xs.shape[:2]:
        raise ValueError(
            f"inputs and targets must be batch-first (B, T, ...) with equal B, T; got "
            f"{tuple(xs.shape)} and {tuple(ys.shape)}"
        )
    if mask is None:
        mask = jnp.ones(xs.shape[:2], jnp.float32)
    elif mask.shape != xs.shape[:2]:
        raise ValueError(f"mask must have shape (B, T) = {tuple(xs.shape[:2])}, got {tuple(mask.shape)}")
    return xs, ys, mask.astype(jnp.float32)


def _units(x: jax.Array, U: int, g: int) -> jax.Array:
    """(B, T, ...) -> (U, B, g, ...): time in units of g steps, unit axis first."""
    return jnp.moveaxis(x.reshape((x.shape[0], U, g) + x.shape[2:]), 1, 0)


def _window_fn(apply_fn, loss_fn, geometry, denom):
    g, a, b, U, W, N = geometry

    def window(params, carry0, n, xu, yu, mu):
        """Loss of window n (normalised), and the carries at its W + 1 unit boundaries."""
        end = (n + 1) * a
        start = jnp.maximum(0, end - W)
        xw, yw, mw = (jax.lax.dynamic_slice_in_dim(v, start, W, axis=0) for v in (xu, yu, mu))

        def unit(c, inp):
            j, x, y, m = inp
            u = start + j
            cut = u <= end - b  # the carry entering unit u is a constant: k2 = b units of grad
            c = jax.tree.map(lambda v: jnp.where(cut, jax.lax.stop_gradient(v), v), c)
            c, out = apply_fn(params, c, x)
            in_loss = (u >= end - a) & (u < end)
            per = loss_fn(out, y)
            if per.shape != m.shape:
                raise ValueError(
                    f"loss_fn must return one loss per position, shape {tuple(m.shape)}, "
                    f"got {tuple(per.shape)}"
                )
            s = jnp.sum(jnp.where(in_loss, per * m, 0.0))
            s = jnp.where(u >= end - b, s, jax.lax.stop_gradient(s))  # only k2 < k1: see above
            return c, (s, jax.lax.stop_gradient(c))

        _, (sums, carries) = jax.lax.scan(unit, carry0, (jnp.arange(W), xw, yw, mw))
        boundaries = jax.tree.map(
            lambda c0, cs: jnp.concatenate([jax.lax.stop_gradient(c0)[None], cs], axis=0),
            carry0, carries,
        )
        next_start = jnp.maximum(0, end + a - W)
        nxt = jax.tree.map(lambda bs: bs[next_start - start], boundaries)
        return jnp.sum(sums) / denom, nxt

    return window


def _prepare(batch, k1, k2):
    xs, ys, mask = _split_batch(batch)
    geometry = _geometry(xs.shape[1], k1, k2)
    g, a, b, U, W, N = geometry
    xu, yu, mu = (_units(v, U, g) for v in (xs, ys, mask))
    denom = jnp.maximum(1.0, jnp.sum(mask))
    return xs, geometry, (xu, yu, mu), denom


def make_tbptt_step(
    apply_fn: Callable[[PyTree, PyTree, jax.Array], tuple[PyTree, jax.Array]],
    loss_fn: Callable[[jax.Array, jax.Array], jax.Array],
    optimizer: optax.GradientTransformation,
    *,
    initial_carry: Callable[..., PyTree],
    k1: int,
    k2: int,
    reset: bool = False,
    jit: bool = True,
    donate: bool = True,
) -> Callable[[TrainState, PyTree], tuple[TrainState, dict]]:
    """A step that trains on a batch of long sequences with ``T // k1`` truncated updates.

    Args:
      apply_fn: ``(params, carry, xs) -> (carry, outputs)`` on a chunk ``xs (B, t, ...)``.
      loss_fn: ``(outputs, targets) -> (B, t)`` per-position losses (masked and normalised here).
      optimizer: the optax transformation of the state.
      initial_carry: ``(params, batch_shape) -> carry`` (e.g. ``model.initial_carry``).
      k1: update every ``k1`` steps (``T`` must be a multiple of it).
      k2: backpropagate ``k2`` steps (any positive int; ``k2 >= T`` is full BPTT per window).
      reset: the naive split-and-reset variant (needs ``k1 == k2``).

    The step takes ``(state, (inputs, targets[, mask]))`` with batch-first ``(B, T, ...)`` arrays
    and returns the state after all updates (``state.step`` advances by one per batch) and
    metrics: ``loss`` (sum of the window losses = the sequence's mean loss, each window measured
    before its update), mean ``grad_norm``/``update_norm`` over windows, final ``param_norm``,
    ``finite`` (all updates finite) and ``updates`` (``T // k1``).
    """
    _check_k(k1, k2, reset)

    def step(state: TrainState, batch) -> tuple[TrainState, dict]:
        xs, geometry, (xu, yu, mu), denom = _prepare(batch, k1, k2)
        N = geometry[-1]
        window = _window_fn(apply_fn, loss_fn, geometry, denom)
        grad_fn = jax.value_and_grad(window, has_aux=True)
        carry_init = initial_carry(state.params, (xs.shape[0],))

        def body(carry, n):
            st, c0 = carry
            (loss, nxt), grads = grad_fn(st.params, c0, n, xu, yu, mu)
            st, m = apply_gradients(st, optimizer, loss, grads)
            if reset:
                nxt = initial_carry(st.params, (xs.shape[0],))
            return (st, nxt), m

        (new, _), ms = jax.lax.scan(body, (state, carry_init), jnp.arange(N))
        new = new._replace(step=state.step + 1)
        metrics = {
            "loss": jnp.sum(ms["loss"]),
            "grad_norm": jnp.mean(ms["grad_norm"]),
            "update_norm": jnp.mean(ms["update_norm"]),
            "param_norm": ms["param_norm"][-1],
            "finite": jnp.min(ms["finite"]),
            "updates": jnp.asarray(N, jnp.float32),
            "_grad_finite": jnp.all(ms["_grad_finite"], axis=0),
        }
        return new, metrics

    return jax.jit(step, donate_argnums=(0,) if donate else ()) if jit else step


def truncated_gradient(
    apply_fn: Callable[[PyTree, PyTree, jax.Array], tuple[PyTree, jax.Array]],
    loss_fn: Callable[[jax.Array, jax.Array], jax.Array],
    params: PyTree,
    batch,
    *,
    initial_carry: Callable[..., PyTree],
    k1: int,
    k2: int,
    reset: bool = False,
) -> tuple[jax.Array, PyTree]:
    """The summed window losses and gradients of TBPTT(k1, k2) with the parameters held fixed.

    ``k1 = k2 = T`` (or ``k2 >= T``) gives the full-BPTT loss and gradient. Useful to study the
    bias truncation introduces (compare with the full gradient), and what the tests check.
    """
    _check_k(k1, k2, reset)
    xs, geometry, (xu, yu, mu), denom = _prepare(batch, k1, k2)
    N = geometry[-1]
    window = _window_fn(apply_fn, loss_fn, geometry, denom)
    grad_fn = jax.value_and_grad(window, has_aux=True)
    carry_init = initial_carry(params, (xs.shape[0],))

    def body(carry, n):
        c0, total, gsum = carry
        (loss, nxt), grads = grad_fn(params, c0, n, xu, yu, mu)
        if reset:
            nxt = carry_init
        return (nxt, total + loss, jax.tree.map(jnp.add, gsum, grads)), None

    zeros = jax.tree.map(jnp.zeros_like, params)
    (_, total, grads), _ = jax.lax.scan(body, (carry_init, jnp.zeros(()), zeros), jnp.arange(N))
    return total, grads
