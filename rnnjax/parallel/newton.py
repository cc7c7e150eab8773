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

Convergence: the residual ``r = max_t ‖s_t − f(s_{t-1}, x_t)‖_∞`` at most
``tol + rtol · max_t ‖f(s_{t-1}, x_t)‖_∞`` (absolute and relative). Both default by the carry's
dtype (:data:`DEFAULT_TOL`): ``1e-7`` in float64 and ``1e-4`` in float32, the DEER authors'
choices, and ``1e-2`` in float16 / bfloat16 — above each dtype's rounding floor, so that a
converged solve stops instead of iterating on rounding noise. Iterations stop there, at
``max_iters`` (``T`` by default), or when the iterate stops being finite (``info.residual`` is
then ``inf``: the solve *diverged*, as opposed to running out of iterations with a finite
residual); ``info.converged`` says which.

Overflow safeguard. Linearised around a poor guess (the initial carry repeated over time), the
Jacobians of an expanding network multiply over many steps: the exact solution of the linear
recurrence grows like ``‖Π_t J_t‖``, which exceeds float32's range (``log ‖Π J_t‖ > 88.7``) at a
few hundred steps even for networks whose true trajectory forgets (λ_max < 0), while the
sequential scan never leaves ``[−1, 1]``. Every time step whose new value is not finite or exceeds
``√max(dtype)`` in magnitude (``1.8e19`` in float32, ``1.3e154`` in float64) therefore takes the
fixed-point (Picard) value ``f(s^{(i)}_{t-1}, x_t)`` instead, a step with ``J_t`` replaced by 0.
Either value is exact wherever ``s^{(i)}_{t-1}`` is, so the exact prefix still grows by at least
one step per iteration and the solve is still exact after ``T`` iterations; where no step
overflows the iteration is plain Newton. ``init=`` replaces the constant initial guess by a
trajectory (the previous solution in a training loop, or ``rnnjax.unroll(...,
return_carries=True)`` of a neighbouring input).

Adaptive damping (``damping_rule="adaptive"``, with ``damping=λ₀ > 0``): a Levenberg–Marquardt
trust region on the merit ``φ(s) = ½ Σ_t ‖s_t − f(s_{t-1}, x_t)‖²`` (Levenberg 1944, Marquardt
1963, in the simple form of Nielsen 1999): a step that lowers ``φ`` is taken and ``λ ← λ/3``
(towards DEER's quadratic convergence); one that does not is discarded and ``λ ← 2λ`` (a shorter
step). ``λ`` stays in ``[1e-8, 1e8]``. Each try counts as an iteration.

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
DAMPING_RULES = ("fixed", "adaptive")
DEFAULT_TOL = {"float64": 1e-7, "float32": 1e-4, "float16": 1e-2, "bfloat16": 1e-2}
"""Default ``tol`` and ``rtol`` by the carry's dtype name."""
_LAMBDA_RANGE = (1e-8, 1e8)  # the adaptive damping's bounds


class NewtonInfo(NamedTuple):
    """What a :func:`newton_unroll` solve did, one entry per sequence (shape ``batch``).

    Attributes:
      iterations: Newton (or LM) iterations taken (with adaptive damping, rejected tries count).
      residual: ``max_t ‖s_t − f(s_{t-1}, x_t)‖_∞`` of the last iterate; ``inf`` when the iterate
        is not finite (the solve diverged).
      converged: ``residual <= tol + rtol · max_t ‖f(s_{t-1}, x_t)‖_∞``.
    """

    iterations: Array
    residual: Array
    converged: Array


class _Options(NamedTuple):
    diagonal: bool
    damping: float | None
    adaptive: bool
    max_iters: int
    tol: float | None
    rtol: float | None
    smoother: str
    safeguard: bool


def default_tol(dtype) -> float:
    """The default ``tol`` (and ``rtol``) for a carry of ``dtype``: :data:`DEFAULT_TOL`."""
    name = jnp.dtype(dtype).name
    if name not in DEFAULT_TOL:
        raise TypeError(f"newton_unroll: no default tolerance for dtype {name}; pass tol= and rtol=")
    return DEFAULT_TOL[name]


def newton_unroll(cell: Cell, params: PyTree, xs: Array, carry: PyTree | None = None, *,
                  jacobian: str = "full", damping: float | None = None,
                  max_iters: int | None = None, tol: float | None = None,
                  rtol: float | None = None, smoother: str = "sequential",
                  damping_rule: str = "fixed", init: PyTree | None = None,
                  safeguard: bool = True) -> tuple[PyTree, Array, NewtonInfo]:
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
      tol: absolute convergence threshold on the max-norm residual; by dtype when ``None``
        (:data:`DEFAULT_TOL`: 1e-4 in float32, 1e-7 in float64).
      rtol: relative threshold, times ``max_t ‖f(s_{t-1}, x_t)‖_∞``; by dtype when ``None``.
      smoother: with ``damping``, how the Kalman smoother runs: ``"sequential"`` (two
        ``lax.scan`` passes) or ``"parallel"`` (two associative scans, ``O(log T)`` depth); the
        same step up to rounding.
      damping_rule: ``"fixed"`` (``λ = damping`` throughout) or ``"adaptive"`` (the trust-region
        rule of the module docstring, starting at ``λ = damping``, which must then be > 0).
      init: an initial guess of the trajectory, the carry pytree with a time axis after the batch
        axes (``(*batch, T, ...)``, as ``rnnjax.unroll(..., return_carries=True)`` returns it);
        the initial carry repeated over time when ``None``. It changes the iterations, not the
        solution, and gets no gradient.
      safeguard: the overflow rule of the module docstring; ``False`` gives plain Newton / LM
        steps, whose overflow stops the solve as diverged (for studying that failure).

    Returns:
      ``(final_carry, ys, info)``: ``ys: (*batch, T, output_size)``; :class:`NewtonInfo` ``info``.
      Both come from one ``cell.step`` applied to every state of the last iterate ``s``:
      ``(c_t, y_t) = step(s_{t-1}, x_t)``, ``final_carry = c_T``, so ``ys[..., -1, :]`` is the
      output of the step that produced ``final_carry`` also when the solve did not converge
      (``info.converged`` False; the last iterate then differs from the sequential scan).
    """
    cell = require_cell(cell, "newton_unroll")
    if jacobian not in JACOBIANS:
        raise ValueError(f"newton_unroll: jacobian must be one of {JACOBIANS}, got {jacobian!r}")
    if damping is not None and not (np.isscalar(damping) and np.isreal(damping) and 0 <= damping < np.inf):
        raise ValueError(f"newton_unroll: damping must be None or a finite number >= 0, got {damping!r}")
    if damping_rule not in DAMPING_RULES:
        raise ValueError(f"newton_unroll: damping_rule must be one of {DAMPING_RULES}, "
                         f"got {damping_rule!r}")
    if damping_rule == "adaptive" and not damping:
        raise ValueError("newton_unroll: damping_rule='adaptive' needs an initial damping > 0, "
                         f"got damping={damping!r}")
    if max_iters is not None and (isinstance(max_iters, bool)
                                  or not isinstance(max_iters, (int, np.integer)) or max_iters < 1):
        raise ValueError(f"newton_unroll: max_iters must be None or a positive int, got {max_iters!r}")
    for name, value in (("tol", tol), ("rtol", rtol)):
        if value is not None and not (np.isscalar(value) and value >= 0 and np.isfinite(value)):
            raise ValueError(f"newton_unroll: {name} must be None or a finite number >= 0, "
                             f"got {value!r}")
    if tol == 0 and rtol == 0:
        raise ValueError("newton_unroll: tol and rtol cannot both be 0")
    if smoother not in SMOOTHERS:
        raise ValueError(f"newton_unroll: smoother must be one of {SMOOTHERS}, got {smoother!r}")
    xs = seq.check_xs(xs, "newton_unroll")
    batch_shape, T = tuple(xs.shape[:-2]), xs.shape[-2]
    carry = seq.resolve_carry(cell, params, carry, batch_shape, "newton_unroll")
    for leaf in jax.tree.leaves(carry):
        if not jnp.issubdtype(leaf.dtype, jnp.floating):
            raise TypeError(f"newton_unroll: needs a real floating carry, {cell.name} has dtype "
                            f"{leaf.dtype} (for a linear cell use unroll(..., method='associative'))")
    if init is not None:
        init = _check_init(init, carry, len(batch_shape), T)
    options = _Options(jacobian == "diagonal", float(damping) if damping else None,
                       damping_rule == "adaptive", T if max_iters is None else int(max_iters),
                       None if tol is None else float(tol), None if rtol is None else float(rtol),
                       smoother, bool(safeguard))

    solve = partial(_solve_one, cell, options, params)
    for _ in batch_shape:
        solve = jax.vmap(solve)
    return solve(xs, carry, init)


def _check_init(init: PyTree, carry: PyTree, nb: int, T: int) -> PyTree:
    """``init`` shaped like ``carry`` with a time axis of length ``T`` after the batch axes."""
    want = [(*c.shape[:nb], T, *c.shape[nb:]) for c in jax.tree.leaves(carry)]
    got = [tuple(jnp.shape(v)) for v in jax.tree.leaves(init)]
    if jax.tree.structure(init) != jax.tree.structure(carry) or got != want:
        raise ValueError(f"newton_unroll: init must be the carry with a time axis (shapes {want}), "
                         f"got shapes {got}")
    return jax.tree.map(lambda v, c: jnp.asarray(v, c.dtype), init, carry)


def _solve_one(cell: Cell, options: _Options, params: PyTree, xs: Array, carry: PyTree, init):
    """One sequence ``xs: (T, I)`` with a per-example ``carry`` and guess ``init`` (or None)."""
    c0, unravel = ravel_pytree(carry)
    T, dtype = xs.shape[0], c0.dtype
    options = options._replace(tol=default_tol(dtype) if options.tol is None else options.tol,
                               rtol=default_tol(dtype) if options.rtol is None else options.rtol)

    def f(c, x, p):
        return ravel_pytree(cell.step(p, unravel(c), x)[0])[0]

    if T == 0:
        ys = jnp.zeros((0, cell.output_size), dtype)
        info = NewtonInfo(jnp.zeros((), jnp.int32), jnp.zeros((), dtype), jnp.ones((), bool))
        return carry, ys, info
    if init is None:
        s0 = jnp.broadcast_to(c0, (T, c0.shape[0]))
    else:
        s0 = jax.vmap(lambda c: ravel_pytree(c)[0])(init)
    s, iterations, residual, converged = _solve(f, options, params, xs, c0, s0)
    iterations, residual, converged = jax.lax.stop_gradient((iterations, residual, converged))
    s_prev = jnp.concatenate([c0[None], s[:-1]])
    carries, ys = jax.vmap(lambda c, x: cell.step(params, unravel(c), x))(s_prev, xs)
    final = jax.tree.map(lambda v: v[-1], carries)
    return final, ys, NewtonInfo(iterations, residual, converged)


def _maps(f, params, xs, s_prev):
    """``f(s_{t-1}, x_t)`` and the Jacobians ``∂f/∂s`` at every step: ``(T, D)``, ``(T, D, D)``."""
    fs = jax.vmap(f, in_axes=(0, 0, None))(s_prev, xs, params)
    J = jax.vmap(jax.jacfwd(f), in_axes=(0, 0, None))(s_prev, xs, params)
    return fs, J


def _safeguard(new: Array, fs: Array) -> Array:
    """``new_t``, or the Picard value ``fs_t = f(s_{t-1}, x_t)`` at every step where ``new_t`` is
    not finite or exceeds ``√max(dtype)`` in magnitude (the module docstring's overflow rule)."""
    bound = np.sqrt(np.finfo(new.dtype).max)
    ok = jnp.all(jnp.isfinite(new) & (jnp.abs(new) <= bound), axis=-1, keepdims=True)
    return jnp.where(ok, new, fs)


@partial(jax.custom_vjp, nondiff_argnums=(0, 1))
def _solve(f, options: _Options, params, xs, c0, s0):
    """The Newton / LM iterations from the guess ``s0``: ``(s: (T, D), iterations, residual,
    converged)``."""
    shift = lambda s: jnp.concatenate([c0[None], s[:-1]])
    apply = lambda s: jax.vmap(f, in_axes=(0, 0, None))(shift(s), xs, params)

    def update(s, lam):
        fs, J = _maps(f, params, xs, shift(s))
        if options.diagonal:
            J = jnp.diagonal(J, axis1=-2, axis2=-1)
            b = fs - J * shift(s)
        else:
            b = fs - jnp.einsum("tij,tj->ti", J, shift(s))
        if options.damping is not None:
            new = lm_step(J, b, s, c0, lam, options.diagonal, options.smoother)
        elif options.diagonal:
            new = affine_scan(J, b, c0)
        else:
            new = matrix_affine_scan(J, b, c0)
        return _safeguard(new, fs) if options.safeguard else new

    def measure(s):  # (max-norm residual, merit ½Σr², threshold)
        fs = apply(s)
        d = s - fs
        merit = jnp.where(jnp.all(jnp.isfinite(d)), 0.5 * jnp.sum(d * d), jnp.inf)
        scale = jnp.where(jnp.all(jnp.isfinite(fs)), jnp.max(jnp.abs(fs)), 0.0)
        return _residual(d), merit, options.tol + options.rtol * scale

    def cond(state):  # stop at tol, at max_iters, or once the iterate is no longer finite
        i, _, res, _, threshold, _ = state
        return (i < options.max_iters) & (res > threshold) & jnp.isfinite(res)

    def body(state):
        i, s, res, merit, threshold, lam = state
        new = update(s, lam)
        new_res, new_merit, new_threshold = measure(new)
        if not options.adaptive:
            return i + 1, new, new_res, new_merit, new_threshold, lam
        better = new_merit < merit
        lo, hi = _LAMBDA_RANGE
        lam = jnp.clip(jnp.where(better, lam / 3, lam * 2), lo, hi)
        pick = lambda a, b: jnp.where(better, a, b)
        return (i + 1, pick(new, s), pick(new_res, res), pick(new_merit, merit),
                pick(new_threshold, threshold), lam)

    lam = jnp.asarray(options.damping or 0.0, c0.dtype)
    state = (jnp.zeros((), jnp.int32), s0, *measure(s0), lam)
    iterations, s, residual, _, threshold, _ = jax.lax.while_loop(cond, body, state)
    return s, iterations, residual, residual <= threshold


def _residual(d: Array) -> Array:
    """``max |d|``, or ``inf`` when any entry is not finite (a max-reduction may skip NaNs)."""
    return jnp.where(jnp.all(jnp.isfinite(d)), jnp.max(jnp.abs(d)), jnp.inf)


def _solve_fwd(f, options, params, xs, c0, s0):
    out = _solve(f, options, params, xs, c0, s0)
    return out, (params, xs, c0, out[0], s0)


def _solve_bwd(f, options, residuals, cotangents):
    params, xs, c0, s, s0 = residuals
    g = cotangents[0]  # the iterations, residual and flag carry no gradient; nor does the guess
    s_prev = jnp.concatenate([c0[None], s[:-1]])
    _, J = _maps(f, params, xs, s_prev)
    # λ_t = ḡ_t + J_{t+1}^T λ_{t+1}, run from t = T down (λ_{T+1} = 0).
    A = jnp.concatenate([jnp.swapaxes(J[1:], -1, -2), jnp.zeros_like(J[:1])])
    lam = matrix_affine_scan(A, g, jnp.zeros_like(c0), reverse=True)
    _, vjp = jax.vjp(lambda p, xs, sp: jax.vmap(f, in_axes=(0, 0, None))(sp, xs, p),
                     params, xs, s_prev)
    d_params, d_xs, d_prev = vjp(lam)
    return d_params, d_xs, d_prev[0], jnp.zeros_like(s0)


_solve.defvjp(_solve_fwd, _solve_bwd)
