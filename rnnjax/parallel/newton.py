"""Newton's method over the whole trajectory: parallel-in-time evaluation of any cell.

The sequential recurrence ``s_t = f(s_{t-1}, x_t)``, ``t = 1..T`` (``s`` the flattened carry,
``s_0`` the initial carry) is the root of the residual ``r_t(s) = s_t − f(s_{t-1}, x_t)`` over the
whole trajectory ``s = (s_1 … s_T)``. DEER (Lim et al. 2023, "Parallelizing non-linear sequential
models over the sequence length") solves it by Newton's method: linearising every step around the
current guess ``s^{(i)}``, with ``J_t = ∂f/∂s (s^{(i)}_{t-1}, x_t)``,

.. math::  s^{(i+1)}_t = J_t\\, s^{(i+1)}_{t-1} + \\big(f(s^{(i)}_{t-1}, x_t) − J_t s^{(i)}_{t-1}\\big)

a *linear* recurrence, solved by an associative scan of matrix affine maps in ``O(log T)`` depth
(:func:`~rnnjax.parallel.associative.matrix_affine_scan`). The first ``i`` steps are exact after
``i`` iterations, so Newton is exact after ``T``; it converges far sooner (quadratically) where the
dynamics forget their past (λ_max < 0), and can diverge in the chaotic regime.

``jacobian="diagonal"``: quasi-DEER (Gonzalez et al. 2024, "Towards scalable and stable
parallelization of nonlinear RNNs") keeps only ``diag(J_t)``, so the scan is elementwise (``O(T D)``
work instead of ``O(T D³)``); still exact after ``T`` iterations, usually more iterations than DEER.
Here the diagonal is read off the full ``jax.jacfwd`` Jacobian (``D`` forward-mode passes per step),
which saves the scan's cost and memory, not the Jacobian's.

``damping=λ``: ELK (Gonzalez et al. 2024, "Evaluating Levenberg–Marquardt via Kalman"). Each
iteration takes the Levenberg–Marquardt step of the linearised problem,

.. math::  s^{(i+1)} = \\arg\\min_{s'} \\sum_t \\lVert s'_t − J_t s'_{t-1} − b_t \\rVert^2
           + λ \\sum_t \\lVert s'_t − s^{(i)}_t \\rVert^2,\\qquad s'_0 = s_0

(``b_t`` as above; ``λ = 0`` is DEER, large ``λ`` a small step), which is the posterior mean of
the linear-Gaussian state-space model ``s'_t = J_t s'_{t-1} + b_t + N(0, I)`` observed as
``s^{(i)}_t = s'_t + N(0, λ^{-1} I)``: one Kalman filter and Rauch–Tung–Striebel smoother. With
``jacobian="diagonal"`` this is quasi-ELK (scalar filters per unit). ``smoother="sequential"``
(the default) runs the filter and smoother as two ``lax.scan`` passes (depth ``2T`` per
iteration); ``smoother="parallel"`` as two associative scans (depth ``O(log T)``, Särkkä &
García-Fernández 2021), as in the paper: see :mod:`rnnjax.parallel.kalman`.

Convergence: the residual ``max_t ‖s_t − f(s_{t-1}, x_t)‖_∞`` at most ``tol``; iterations stop
there, at ``max_iters`` (``T`` by default), or when the iterate overflows (undamped Newton
linearised around a poor guess can multiply Jacobians of norm > 1 over many steps; the residual
is then ``inf``), and ``info.converged`` says which.

Gradients differentiate the solution implicitly (a ``jax.custom_vjp``): at the fixed point, the
cotangent ``ḡ`` of the trajectory is pulled back by the adjoint recurrence
``λ_t = ḡ_t + J_{t+1}^T λ_{t+1}``, ``λ_T = ḡ_T`` — linear, solved backward with the same matrix
scan using the full Jacobians (also for ``"diagonal"``, so gradients are exact) — and
``∂L/∂θ = Σ_t (∂f/∂θ)^T λ_t``. The Newton iterations themselves are never differentiated.
"""

from __future__ import annotations

from functools import partial
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from rnnjax import _sequence as seq
from rnnjax.cell import Cell, require_cell
from rnnjax.parallel.associative import affine_scan, matrix_affine_scan
from rnnjax.parallel.kalman import SMOOTHERS, lm_step

Array = jax.Array
PyTree = Any

JACOBIANS = ("full", "diagonal")


class NewtonInfo(NamedTuple):
    """What a :func:`newton_unroll` solve did, one entry per sequence (shape ``batch``).

    Attributes:
      iterations: Newton (or LM) iterations taken.
      residual: ``max_t ‖s_t − f(s_{t-1}, x_t)‖_∞`` of the returned trajectory (``inf`` when it
        is not finite: the iteration diverged).
      converged: ``residual <= tol``.
    """

    iterations: Array
    residual: Array
    converged: Array


class _Options(NamedTuple):
    diagonal: bool
    damping: float | None
    max_iters: int
    tol: float
    smoother: str


def newton_unroll(cell: Cell, params: PyTree, xs: Array, carry: PyTree | None = None, *,
                  jacobian: str = "full", damping: float | None = None,
                  max_iters: int | None = None, tol: float = 1e-6,
                  smoother: str = "sequential") -> tuple[PyTree, Array, NewtonInfo]:
    """Evaluate ``cell`` over ``xs`` by Newton iterations on the whole trajectory.

    Computes what ``rnnjax.unroll(cell, params, xs, carry)`` computes (once converged), with
    ``O(log T)``-depth associative scans in place of the ``T``-step sequential scan.

    Args:
      cell: any cell with a real floating carry (the carry pytree is flattened to one vector).
      params: the cell's parameters.
      xs: inputs ``(*batch, T, input_size)``, batch-first.
      carry: the initial carry; ``cell.initial_carry(params, batch)`` when ``None``.
      jacobian: ``"full"`` (DEER) or ``"diagonal"`` (quasi-DEER).
      damping: ``None`` or ``0`` for Newton; ``λ > 0`` for the Levenberg–Marquardt step solved by a
        Kalman smoother (ELK; quasi-ELK with ``"diagonal"``).
      max_iters: at most this many iterations; ``T`` when ``None``.
      tol: convergence threshold on the max-norm of the residual.
      smoother: with ``damping``, how the Kalman smoother runs: ``"sequential"`` (two
        ``lax.scan`` passes) or ``"parallel"`` (two associative scans, ``O(log T)`` depth); the
        same step up to rounding.

    Returns:
      ``(final_carry, ys, info)``: ``ys: (*batch, T, output_size)``; :class:`NewtonInfo` ``info``.
      A solve that did not reach ``tol`` returns its last iterate with ``info.converged`` False.
    """
    cell = require_cell(cell, "newton_unroll")
    if jacobian not in JACOBIANS:
        raise ValueError(f"newton_unroll: jacobian must be one of {JACOBIANS}, got {jacobian!r}")
    if damping is not None and not (np.isscalar(damping) and np.isreal(damping) and 0 <= damping < np.inf):
        raise ValueError(f"newton_unroll: damping must be None or a finite number >= 0, got {damping!r}")
    if max_iters is not None and (isinstance(max_iters, bool)
                                  or not isinstance(max_iters, (int, np.integer)) or max_iters < 1):
        raise ValueError(f"newton_unroll: max_iters must be None or a positive int, got {max_iters!r}")
    if not (np.isscalar(tol) and tol > 0):
        raise ValueError(f"newton_unroll: tol must be a positive number, got {tol!r}")
    if smoother not in SMOOTHERS:
        raise ValueError(f"newton_unroll: smoother must be one of {SMOOTHERS}, got {smoother!r}")
    xs = seq.check_xs(xs, "newton_unroll")
    batch_shape, T = tuple(xs.shape[:-2]), xs.shape[-2]
    carry = seq.resolve_carry(cell, params, carry, batch_shape, "newton_unroll")
    for leaf in jax.tree.leaves(carry):
        if not jnp.issubdtype(leaf.dtype, jnp.floating):
            raise TypeError(f"newton_unroll: needs a real floating carry, {cell.name} has dtype "
                            f"{leaf.dtype} (for a linear cell use unroll(..., method='associative'))")
    options = _Options(jacobian == "diagonal", float(damping) if damping else None,
                       T if max_iters is None else int(max_iters), float(tol), smoother)

    solve = partial(_solve_one, cell, options, params)
    for _ in batch_shape:
        solve = jax.vmap(solve)
    return solve(xs, carry)


def _solve_one(cell: Cell, options: _Options, params: PyTree, xs: Array, carry: PyTree):
    """One sequence ``xs: (T, I)`` with a per-example ``carry``."""
    c0, unravel = ravel_pytree(carry)
    T, dtype = xs.shape[0], c0.dtype

    def f(c, x, p):
        return ravel_pytree(cell.step(p, unravel(c), x)[0])[0]

    if T == 0:
        ys = jnp.zeros((0, cell.output_size), dtype)
        info = NewtonInfo(jnp.zeros((), jnp.int32), jnp.zeros((), dtype), jnp.ones((), bool))
        return carry, ys, info
    s, iterations, residual = _solve(f, options, params, xs, c0)
    iterations, residual = jax.lax.stop_gradient((iterations, residual))
    s_prev = jnp.concatenate([c0[None], s[:-1]])
    ys = jax.vmap(lambda c, x: cell.step(params, unravel(c), x)[1])(s_prev, xs)
    return unravel(s[-1]), ys, NewtonInfo(iterations, residual, residual <= options.tol)


def _maps(f, params, xs, s_prev):
    """``f(s_{t-1}, x_t)`` and the Jacobians ``∂f/∂s`` at every step: ``(T, D)``, ``(T, D, D)``."""
    fs = jax.vmap(f, in_axes=(0, 0, None))(s_prev, xs, params)
    J = jax.vmap(jax.jacfwd(f), in_axes=(0, 0, None))(s_prev, xs, params)
    return fs, J


@partial(jax.custom_vjp, nondiff_argnums=(0, 1))
def _solve(f, options: _Options, params, xs, c0):
    """The Newton / LM iterations: ``(s: (T, D), iterations, residual)``."""
    shift = lambda s: jnp.concatenate([c0[None], s[:-1]])
    apply = lambda s: jax.vmap(f, in_axes=(0, 0, None))(shift(s), xs, params)

    def update(s):
        fs, J = _maps(f, params, xs, shift(s))
        if options.diagonal:
            J = jnp.diagonal(J, axis1=-2, axis2=-1)
            b = fs - J * shift(s)
        else:
            b = fs - jnp.einsum("tij,tj->ti", J, shift(s))
        if options.damping is not None:
            return lm_step(J, b, s, c0, options.damping, options.diagonal, options.smoother)
        if options.diagonal:
            return affine_scan(J, b, c0)
        return matrix_affine_scan(J, b, c0)

    def cond(state):  # stop at tol, at max_iters, or once the iterate is no longer finite
        i, _, res = state
        return (i < options.max_iters) & (res > options.tol) & jnp.isfinite(res)

    def body(state):
        i, s, _ = state
        s = update(s)
        return i + 1, s, _residual(s - apply(s))

    s = jnp.broadcast_to(c0, (xs.shape[0], c0.shape[0]))
    state = (jnp.zeros((), jnp.int32), s, _residual(s - apply(s)))
    iterations, s, residual = jax.lax.while_loop(cond, body, state)
    return s, iterations, residual


def _residual(d: Array) -> Array:
    """``max |d|``, or ``inf`` when any entry is not finite (a max-reduction may skip NaNs)."""
    return jnp.where(jnp.all(jnp.isfinite(d)), jnp.max(jnp.abs(d)), jnp.inf)


def _solve_fwd(f, options, params, xs, c0):
    out = _solve(f, options, params, xs, c0)
    return out, (params, xs, c0, out[0])


def _solve_bwd(f, options, residuals, cotangents):
    params, xs, c0, s = residuals
    g = cotangents[0]  # the integer and residual outputs carry no gradient
    s_prev = jnp.concatenate([c0[None], s[:-1]])
    _, J = _maps(f, params, xs, s_prev)
    # λ_t = ḡ_t + J_{t+1}^T λ_{t+1}, run from t = T down (λ_{T+1} = 0).
    A = jnp.concatenate([jnp.swapaxes(J[1:], -1, -2), jnp.zeros_like(J[:1])])
    lam = matrix_affine_scan(A, g, jnp.zeros_like(c0), reverse=True)
    _, vjp = jax.vjp(lambda p, xs, sp: jax.vmap(f, in_axes=(0, 0, None))(sp, xs, p),
                     params, xs, s_prev)
    d_params, d_xs, d_prev = vjp(lam)
    return d_params, d_xs, d_prev[0]


_solve.defvjp(_solve_fwd, _solve_bwd)
