"""Whether a network is worth evaluating in parallel, and the Newton iterations it will need.

DEER's iterations follow the largest Lyapunov exponent ``λ_max`` of the driven network
(Gonzalez et al. 2025, "Predictability enables parallelization of nonlinear state space
models"): where the network forgets (``λ_max < 0``) they mostly grow sublinearly in ``T``, and
Newton converges in a handful of iterations at any length; where it is chaotic (``λ_max ≥ 0``)
they grow like ``T``, Newton's worst case (one exact step per iteration), and a float32 solve
fails once ``λ_max · T`` nears ``ln(1/u) ≈ 16.6``, when a Newton step's linear scan keeps no
correct digit. The sign of ``λ_max`` alone does not decide: rnnjax's parallel study
(``docs/studies/parallel.md``) found networks with ``λ_max < 0`` whose iterations grow like ``T``.

:func:`newton_outlook` estimates both from the input one will run: ``λ_max`` from a short driven
run (:func:`rnnjax.analysis.lyapunov_spectrum`), and the iterations at the full length ``T``
from two short solves, at ``probe`` and ``2·probe`` steps, extrapolated by their growth exponent
(:func:`extrapolate_iterations`):

.. math::  p = \\operatorname{clip}\\big(\\log_2(i_{2\\,\\text{probe}} / i_{\\text{probe}}),
           0, 1\\big),\\qquad i(T) \\approx \\min\\big(T,\\; i_{2\\,\\text{probe}}
           (T / 2\\,\\text{probe})^{p}\\big).

A probe that does not converge predicts ``T`` (the worst case). ``λ_max < 0`` is necessary for
parallel evaluation to pay but not sufficient: a saturated tanh network forgets (``λ_max < 0``)
while Newton, linearised around the constant initial guess far from its saturated trajectory,
still gains about one exact step per iteration; the probes see that (``exponent`` near 1), so
:attr:`Outlook.worthwhile` asks for both.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import jax.numpy as jnp

from rnnjax.analysis.lyapunov import lyapunov_spectrum
from rnnjax.cell import Cell
from rnnjax.parallel.newton import newton_unroll

PyTree = Any


class Outlook(NamedTuple):
    """What :func:`newton_outlook` expects of ``newton_unroll`` on one input sequence.

    Attributes:
      lambda_max: the largest Lyapunov exponent of the network driven by the input (per step).
      contracting: ``lambda_max < 0`` (otherwise the iterations grow like ``T`` and the
        sequential scan is the method).
      exponent: the growth exponent ``p`` measured between the two probes (in [0, 1]).
      worthwhile: ``contracting`` and ``exponent < 1/2``: the iterations grow sublinearly, so
        Newton's parallel depth can beat the scan's ``T`` steps at long ``T`` (by how much, the
        benchmarks of your device say).
      iterations: the estimated Newton iterations at the full length ``T``.
      probe_iterations: the iterations of the solves at ``probe`` and ``2·probe`` steps
        (``None`` for one that did not converge).
    """

    lambda_max: float
    contracting: bool
    exponent: float
    worthwhile: bool
    iterations: int
    probe_iterations: tuple[int | None, int | None]


def extrapolate_iterations(short: int | None, long: int | None, long_length: int,
                           length: int) -> tuple[float, int]:
    """``(p, i(T))``: the growth exponent between solves of ``long_length / 2`` and
    ``long_length`` steps that took ``short`` and ``long`` iterations, and the iterations it
    predicts at ``length`` (module docstring); ``(1.0, length)`` when either did not converge
    (``None``)."""
    if short is None or long is None:
        return 1.0, int(length)
    p = min(max(math.log2(max(long, 1) / max(short, 1)), 0.0), 1.0)
    return p, int(min(length, math.ceil(long * (length / long_length) ** p)))


def newton_outlook(cell: Cell, params: PyTree, xs, carry: PyTree | None = None, *,
                   probe: int = 64, warmup: int = 200, lyapunov_steps: int = 1000,
                   **newton_kwargs) -> Outlook:
    """Estimate ``λ_max`` and ``newton_unroll``'s iterations on ``xs`` (module docstring).

    Args:
      cell, params: the network (a cell, not a bidirectional layer).
      xs: one input sequence ``(T, input_size)``, the kind the network will be run on;
        ``T ≥ 2·probe`` and ``T > warmup``.
      carry: the initial carry (unbatched); the cell's initial carry when None.
      probe: steps of the shorter probe solve (the longer has ``2·probe``).
      warmup, lyapunov_steps: ``λ_max`` is averaged over the ``lyapunov_steps`` steps after
        ``warmup`` burn-in steps of ``xs`` (fewer when ``xs`` is shorter).
      newton_kwargs: passed to both probe solves (``jacobian``, ``damping``, ``tol``, ...);
        the probes and the solve they predict should use the same ones, in the same dtype.

    The estimate assumes the solve converges. On a chaotic network in float32 it may not
    converge at all once ``λ_max · T`` passes about 9 to 15 (the parallel study's networks,
    against ``ln(1/u) ≈ 16.6``): check ``lambda_max * T`` too.

    Costs one driven run of ``warmup + lyapunov_steps`` steps and two Newton solves of
    ``probe`` and ``2·probe`` steps.
    """
    xs = jnp.asarray(xs)
    T = xs.shape[0] if xs.ndim else 0
    if xs.ndim != 2:
        raise ValueError(f"newton_outlook: xs must be one sequence (T, input_size), got shape "
                         f"{xs.shape}")
    if probe < 1 or T < 2 * probe or T <= warmup:
        raise ValueError(f"newton_outlook: needs T >= 2 * probe ({2 * probe}) and T > warmup "
                         f"({warmup}), got T = {T}")
    n = min(T, warmup + lyapunov_steps)
    lam = float(lyapunov_spectrum(cell, params, xs[:n], carry, k=1, warmup=warmup)[0])
    probes = []
    for steps in (probe, 2 * probe):
        info = newton_unroll(cell, params, xs[:steps], carry, **newton_kwargs)[2]
        probes.append(int(info.iterations) if bool(info.converged) else None)
    p, iterations = extrapolate_iterations(probes[0], probes[1], 2 * probe, T)
    return Outlook(lam, lam < 0, p, lam < 0 and p < 0.5, iterations, tuple(probes))
