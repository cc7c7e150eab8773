"""Analysis of recurrent dynamics: Jacobians through time, Lyapunov spectra, gradient flow.

    from rnnjax import analysis
    norms = analysis.jacobian_norms(cell, params, xs)          # ||dh_t/dh_0||_2, t = 1..T
    lyap = analysis.lyapunov_spectrum(cell, params, xs, k=10)  # 10 largest exponents, per step
    flow = analysis.gradient_flow(cell, params, xs, loss_fn)   # ||dL/dh_t||, t = 0..T

All functions take one sequence ``xs: (T, input_size)`` and an unbatched carry; ``jax.vmap``
batches them over parameters (spectral radii, seeds), inputs and carries. For a right-padded
batch, ``length=`` (a traced scalar) makes the steps past each sequence's length the identity:
``jax.vmap(lambda x, n: analysis.jacobian_norms(cell, params, x, length=n))(xs, lengths)``.
"""

from rnnjax.analysis import mean_field as mean_field
from rnnjax.analysis.gradients import carry_gradients, gradient_flow
from rnnjax.analysis.jacobians import (
    astype,
    flat_step,
    jacobian_norms,
    jacobian_singular_values,
    log_jacobian_norms,
    step_jacobians,
)
from rnnjax.analysis.lyapunov import logistic_map, lyapunov_spectrum

__all__ = [
    "astype",
    "carry_gradients",
    "flat_step",
    "gradient_flow",
    "jacobian_norms",
    "jacobian_singular_values",
    "log_jacobian_norms",
    "logistic_map",
    "lyapunov_spectrum",
    "step_jacobians",
]
