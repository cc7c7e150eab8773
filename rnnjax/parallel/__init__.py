"""Parallel-in-time evaluation of recurrent cells.

- :mod:`~rnnjax.parallel.associative` — affine recurrences ``h_t = a_t h_{t-1} + b_t`` by
  ``jax.lax.associative_scan`` in ``O(log T)`` depth: elementwise (linear recurrent cells with
  ``Cell.affine``, evaluated by ``rnnjax.unroll(..., method="associative")``) and matrix-valued.
- :mod:`~rnnjax.parallel.newton` — :func:`newton_unroll`: any cell, by Newton's method over the
  whole trajectory (DEER, Lim et al. 2023), its diagonal quasi-Newton variant and the damped
  Levenberg–Marquardt variant (quasi-DEER and ELK, Gonzalez et al. 2024).
- :mod:`~rnnjax.parallel.outlook` — :func:`newton_outlook`: from a short driven run, whether a
  network is worth evaluating by Newton (λ_max < 0) and the iterations it will need.
"""

from rnnjax.parallel.associative import affine_scan, associative_unroll, matrix_affine_scan
from rnnjax.parallel.newton import NewtonInfo, newton_unroll
from rnnjax.parallel.outlook import Outlook, extrapolate_iterations, newton_outlook

__all__ = ["NewtonInfo", "Outlook", "affine_scan", "associative_unroll", "extrapolate_iterations",
           "matrix_affine_scan", "newton_outlook", "newton_unroll"]
