"""The dynamics of every run: log ||dh_T/dh_0|| and the largest Lyapunov exponent.

For a run's recurrent cell with parameters ``θ`` driven by a test sequence ``x_1..x_T``, the
carry Jacobian ``P_T = ∂h_T/∂h_0 = J_T ⋯ J_1`` (``J_t = ∂h_t/∂h_{t-1}``, the whole carry, e.g.
``(h, c)`` for the LSTM) bounds how much of the loss gradient at step T reaches step 0 (Bengio,
Simard & Frasconi 1994; Pascanu, Mikolov & Bengio 2013): ``log ||P_T||_2`` near 0 lets the
gradient through, very negative means it vanishes. ``λ_max`` is the largest Lyapunov exponent of
the driven network, ``lim (1/t) log ||P_t v||``, estimated over a longer driven sequence
(:func:`rnnjax.analysis.lyapunov_spectrum`). Both come from :mod:`rnnjax.analysis`, exact
products for the small carries here.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from rnnjax.analysis import log_jacobian_norms, lyapunov_spectrum

LYAPUNOV_LENGTH = 1000  # driven steps of the λ_max estimate
LYAPUNOV_WARMUP = 200   # of which burn-in


def cell_inputs(model, inputs: jax.Array) -> jax.Array:
    """What the model's cell reads: one-hot tokens (no embedding in this study) or the vectors."""
    return jax.nn.one_hot(inputs, model.vocab_size) if model.vocab_size else inputs


def has_real_carry(model, params) -> bool:
    """Whether the analysis applies (the LRU's carry is complex)."""
    carry = model.cell.initial_carry(params.cell, ())
    return all(not jnp.iscomplexobj(x) for x in jax.tree.leaves(carry))


def run_dynamics(model, params, xs: jax.Array, lyap_xs: jax.Array | None = None) -> dict:
    """``log_jacobian`` (``log ||∂h_T/∂h_0||`` over ``xs``, shape ``(T, in)``) and, with
    ``lyap_xs``, ``lambda_max`` (driven by ``lyap_xs``) of one run's cell; vmap over runs."""
    cell, p = model.cell, params.cell
    out = {"log_jacobian": log_jacobian_norms(cell, p, cell_inputs(model, xs), method="dense")[-1]}
    if lyap_xs is not None:
        out["lambda_max"] = lyapunov_spectrum(cell, p, cell_inputs(model, lyap_xs), k=1,
                                              warmup=LYAPUNOV_WARMUP)[0]
    return out
