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

Packed sequences: a batch ``(inputs, targets, mask, resets)`` with boolean ``resets (B, T)``
restores the initial carry before every step where ``resets`` is true (see
:func:`rnnjax.unroll`), so the segments of a packed sequence never see each other, across window
boundaries too. ``apply_fn`` is then called with two more keywords, ``resets`` (the chunk's
``(B, t)`` slice) and ``reset_carry`` (the initial carry), to pass on to :func:`rnnjax.unroll`.

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
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from rnnjax import _checks
from rnnjax.train.state import TrainState
from rnnjax.train.step import apply_gradients

PyTree = Any


class Geometry(NamedTuple):
    """Time in units of ``g = gcd(k1, k2)`` steps: ``k1 = a`` units, ``k2 = b`` units."""

    g: int  # steps per unit
    a: int  # k1 in units: the losses of one update
    b: int  # k2 in units: how far back gradients flow
    units: int  # T in units
    window: int  # units a window recomputes: min(max(a, b), units)
    updates: int  # T // k1


def _check_k(k1, k2, reset: bool) -> tuple[int, int]:
    k1, k2 = _checks.positive_int(k1, "k1"), _checks.positive_int(k2, "k2")
    if reset and k1 != k2:
        raise ValueError(f"split-and-reset uses chunks of k1 = k2 steps, got k1={k1}, k2={k2}")
    return k1, k2


def _geometry(T: int, k1: int, k2: int) -> Geometry:
    if T % k1:
        raise ValueError(f"the sequence length T={T} must be a multiple of k1={k1}")
    g = math.gcd(k1, k2)
    a, b, U = k1 // g, k2 // g, T // g
    return Geometry(g, a, b, U, min(max(a, b), U), T // k1)


def _split_batch(batch):
    if not isinstance(batch, (tuple, list)) or len(batch) not in (2, 3, 4):
        raise TypeError("a truncated-BPTT batch is (inputs, targets), (inputs, targets, mask) "
                        "or (inputs, targets, mask, resets)")
    xs, ys = batch[0], batch[1]
    mask = batch[2] if len(batch) >= 3 and batch[2] is not None else None
    resets = batch[3] if len(batch) == 4 else None
    if xs.ndim < 2 or ys.shape[:2] != xs.shape[:2]:
        raise ValueError(
            f"inputs and targets must be batch-first (B, T, ...) with equal B, T; got "
            f"{tuple(xs.shape)} and {tuple(ys.shape)}"
        )
    if mask is None:
        mask = jnp.ones(xs.shape[:2], jnp.float32)
    elif mask.shape != xs.shape[:2]:
        raise ValueError(f"mask must have shape (B, T) = {tuple(xs.shape[:2])}, got {tuple(mask.shape)}")
    if resets is not None and (resets.dtype != jnp.bool_ or resets.shape != xs.shape[:2]):
        raise ValueError(f"resets must be boolean of shape (B, T) = {tuple(xs.shape[:2])}, got "
                         f"{resets.dtype} {tuple(resets.shape)}")
    return xs, ys, mask.astype(jnp.float32), resets


def _units(x: jax.Array, U: int, g: int) -> jax.Array:
    """(B, T, ...) -> (U, B, g, ...): time in units of g steps, unit axis first."""
    return jnp.moveaxis(x.reshape((x.shape[0], U, g) + x.shape[2:]), 1, 0)


def _window_fn(apply_fn, loss_fn, initial_carry, geo: Geometry, denom, batch_size: int):
    a, b, W = geo.a, geo.b, geo.window

    def window(params, carry0, n, units):
        """Loss of window n (normalised), and the carries at its W + 1 unit boundaries."""
        end = (n + 1) * a
        start = jnp.maximum(0, end - W)
        sliced = jax.tree.map(lambda v: jax.lax.dynamic_slice_in_dim(v, start, W, axis=0), units)
        fresh = None if units[3] is None else initial_carry(params, (batch_size,))

        def unit(c, inp):
            j, (x, y, m, r) = inp
            u = start + j
            cut = u <= end - b  # the carry entering unit u is a constant: k2 = b units of grad
            c = jax.tree.map(lambda v: jnp.where(cut, jax.lax.stop_gradient(v), v), c)
            kw = {} if r is None else {"resets": r, "reset_carry": fresh}
            c, out = apply_fn(params, c, x, **kw)
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

        _, (sums, carries) = jax.lax.scan(unit, carry0, (jnp.arange(W), sliced))
        boundaries = jax.tree.map(
            lambda c0, cs: jnp.concatenate([jax.lax.stop_gradient(c0)[None], cs], axis=0),
            carry0, carries,
        )
        next_start = jnp.maximum(0, end + a - W)
        nxt = jax.tree.map(lambda bs: bs[next_start - start], boundaries)
        return jnp.sum(sums) / denom, nxt

    return window


def _scan_windows(apply_fn, loss_fn, initial_carry, k1: int, k2: int, reset: bool, batch,
                  state, params_of, update):
    """The ``T // k1`` windows in order, each ``update(state, loss, grads) -> (state, out)``.

    Returns the final state and the stacked outputs. ``params_of(state)`` gives the parameters
    the next window is computed with; with ``reset`` every window starts from the initial carry.
    """
    xs, ys, mask, resets = _split_batch(batch)
    geo = _geometry(xs.shape[1], k1, k2)
    units = tuple(None if v is None else _units(v, geo.units, geo.g)
                  for v in (xs, ys, mask, resets))
    denom = jnp.maximum(1.0, jnp.sum(mask))
    B = xs.shape[0]
    grad_fn = jax.value_and_grad(_window_fn(apply_fn, loss_fn, initial_carry, geo, denom, B),
                                 has_aux=True)

    def body(carry, n):
        st, c0 = carry
        (loss, nxt), grads = grad_fn(params_of(st), c0, n, units)
        st, out = update(st, loss, grads)
        if reset:
            nxt = initial_carry(params_of(st), (B,))
        return (st, nxt), out

    carry0 = initial_carry(params_of(state), (B,))
    (state, _), outs = jax.lax.scan(body, (state, carry0), jnp.arange(geo.updates))
    return state, outs


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
    k1, k2 = _check_k(k1, k2, reset)

    def step(state: TrainState, batch) -> tuple[TrainState, dict]:
        update = lambda st, loss, grads: apply_gradients(st, optimizer, loss, grads)
        new, ms = _scan_windows(apply_fn, loss_fn, initial_carry, k1, k2, reset, batch, state,
                                lambda st: st.params, update)
        new = new._replace(step=state.step + 1)
        metrics = {
            "loss": jnp.sum(ms["loss"]),
            "grad_norm": jnp.mean(ms["grad_norm"]),
            "update_norm": jnp.mean(ms["update_norm"]),
            "param_norm": ms["param_norm"][-1],
            "finite": jnp.min(ms["finite"]),
            "updates": jnp.asarray(ms["loss"].shape[0], jnp.float32),
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
    k1, k2 = _check_k(k1, k2, reset)

    def update(acc, loss, grads):
        p, total, gsum = acc
        return (p, total + loss, jax.tree.map(jnp.add, gsum, grads)), None

    zeros = jax.tree.map(jnp.zeros_like, params)
    (_, total, grads), _ = _scan_windows(apply_fn, loss_fn, initial_carry, k1, k2, reset, batch,
                                         (params, jnp.zeros(()), zeros), lambda acc: acc[0], update)
    return total, grads
