r"""Theory for Jacobian products: mean-field λ_max of random tanh networks, and the exact product of
gated cells (LSTM, GRU) at the zero state.

**Mean field.** For ``h_{t+1} = tanh(g W h_t + u_t)`` with ``W_ij ~ N(0, 1/N)`` and i.i.d. input
drive of variance ``σ_u²``, the pre-activations ``a = g W h + u`` are Gaussian as ``N → ∞`` with
variance ``q`` solving

.. math::

    q = g^2\, \mathbb E_z[\tanh^2(\sqrt q\, z)] + σ_u^2, \qquad z \sim N(0, 1),

and the largest Lyapunov exponent is half the log of the mean squared slope (Molgedey,
Schuchhardt & Schuster 1992, "Suppressing chaos in neural networks by noise"; Poole et al. 2016,
"Exponential expressivity in deep neural networks through transient chaos", their ``χ₁``):

.. math::

    λ_{max} = \tfrac12 \ln χ_1, \qquad χ_1 = g^2\, \mathbb E_z[\operatorname{sech}^4(\sqrt q\, z)].

Without input, ``q = 0`` for ``g ≤ 1`` (then ``λ_max = ln g``) and ``q > 0`` for ``g > 1``.

**Gated cells at the zero state.** With zero input, ``h = 0`` (for the LSTM ``(h, c) = 0``) is a
fixed point when the candidate's bias vanishes (LSTM ``b_g = 0``; GRU ``n = 0``), so the Jacobian
``J`` of every step is the same and ``∂h_t/∂h_0 = J^t`` exactly. In the column convention
(``J[k, j] = ∂h'_k/∂h_j``), with ``W^x`` the gate block of ``W_h`` (rows index ``h``) and
``σ_x = σ(b_x)``:

- LSTM, carry ``(h, c)`` flattened in that order::

      J = [[diag(σ_o σ_i) W^gᵀ,  diag(σ_o σ_f)],
           [diag(σ_i) W^gᵀ,      diag(σ_f)    ]]

- GRU (``reset_after``): ``J = diag(z) + diag((1 - z) r) W^nᵀ + diag((1 - z) b_hn r (1 - r)) W^rᵀ``;
  (``reset_before``): ``J = diag(z) + diag(1 - z) W^nᵀ diag(r)``, with ``r = σ_r``, ``z = σ_z``.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

__all__ = ["MeanField", "mean_field_lyapunov", "zero_state_jacobian", "zero_state_norms"]

_TOL = 1e-6   # how far from zero the candidate at h = 0 may be (float32 parameters)


def _gaussian_expectation(f, q: np.ndarray, points: int) -> np.ndarray:
    """``E[f(√q z)]``, ``z ~ N(0, 1)``, by the trapezoid rule on ``z ∈ [-12, 12]``.

    For integrands analytic in a strip around the real axis and decaying fast, the trapezoid
    rule converges exponentially (error ``~ exp(-2π d / h)`` for strip half-width ``d``, step
    ``h``). ``tanh`` and ``sech`` have poles at ``|Im z| = π/(2√q)``, so Gauss–Hermite
    quadrature needs hundreds of nodes once ``q ≳ 5`` (101 nodes are 0.5 % off at ``q = 7``);
    2001 points (``h = 0.012``) keep the error below ``1e-10`` up to ``q ≈ 900``.
    """
    z = np.linspace(-12.0, 12.0, points)
    weights = np.exp(-0.5 * z * z) * (z[1] - z[0]) / np.sqrt(2 * np.pi)
    return f(np.sqrt(q)[..., None] * z) @ weights


class MeanField(NamedTuple):
    """Outcome of :func:`mean_field_lyapunov`, each shaped like ``g``.

    Attributes:
      q: the fixed-point pre-activation variance.
      chi: ``χ₁ = g² E[sech⁴(√q z)]``, the mean squared slope of the map.
      lambda_max: ``½ ln χ₁``.
    """

    q: np.ndarray
    chi: np.ndarray
    lambda_max: np.ndarray


def mean_field_lyapunov(g, input_variance: float = 0.0, *, points: int = 2001,
                        iters: int = 200) -> MeanField:
    """Mean-field ``q`` and ``λ_max`` of ``h_{t+1} = tanh(g W h_t + u_t)`` (see the module).

    ``q`` is found by bisection on ``[0, g² + σ_u²]`` for the fixed point of the map
    ``q ↦ g² E[tanh²(√q z)] + σ_u²`` (it is increasing and concave in ``q``, so the root is unique;
    and ``q ≤ g² + σ_u²`` since ``tanh² ≤ 1``); the Gaussian expectations use the trapezoid rule
    on ``points`` nodes (see ``_gaussian_expectation``), in float64, vectorised over ``g``.

    Args:
      g: gain(s) ``> 0``, any shape.
      input_variance: ``σ_u² ≥ 0`` of the i.i.d. input drive.
      points: quadrature nodes.
      iters: bisection steps (each halves the bracket).
    """
    g = np.asarray(g, float)
    var = float(input_variance)
    if np.any(~(g > 0)) or not np.all(np.isfinite(g)):
        raise ValueError(f"g must be finite and > 0, got {g}")
    if not (var >= 0 and np.isfinite(var)):
        raise ValueError(f"input_variance must be finite and >= 0, got {input_variance}")
    lo, hi = np.zeros_like(g), g**2 + var
    for _ in range(int(iters)):
        mid = (lo + hi) / 2
        above = g**2 * _gaussian_expectation(lambda a: np.tanh(a) ** 2, mid, points) + var > mid
        lo, hi = np.where(above, mid, lo), np.where(above, hi, mid)
    q = (lo + hi) / 2
    chi = g**2 * _gaussian_expectation(_sech4, q, points)
    return MeanField(q, chi, 0.5 * np.log(chi))


def _sech4(a):
    e = np.exp(-2 * np.abs(a))
    return 16 * e * e / (1 + e) ** 4


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


def zero_state_jacobian(params) -> np.ndarray:
    """The step Jacobian of an LSTM or GRU at the zero state with zero input, float64, ``(N, N)``.

    ``N`` is the flattened carry (``2H`` for the LSTM, ``H`` for the GRU), ordered as
    :func:`rnnjax.analysis.flat_step` flattens it. Raises if the zero state is not a fixed point
    (LSTM ``|b_g| > 1e-6``; GRU ``|tanh(b_n + σ(b_r) b_hn)| > 1e-6``): the product is then not
    ``J^t``.

    Args:
      params: :class:`rnnjax.cells.lstm.LSTMParams` or :class:`rnnjax.cells.gru.GRUParams`.
    """
    from rnnjax.cells.gru import GRUParams
    from rnnjax.cells.lstm import LSTMParams

    if isinstance(params, LSTMParams):
        w = np.asarray(params.w_h, float)
        hidden = w.shape[0]
        b_i, b_f, b_g, b_o = np.split(np.asarray(params.b, float), 4)
        if np.any(np.abs(b_g) > _TOL):
            raise ValueError("zero_state_jacobian: the LSTM's zero state is a fixed point only "
                             "with b_g = 0 (the candidate bias)")
        s_i, s_f, s_o = _sigmoid(b_i), _sigmoid(b_f), _sigmoid(b_o)
        wg_t = w[:, 2 * hidden:3 * hidden].T
        top = np.concatenate([(s_o * s_i)[:, None] * wg_t, np.diag(s_o * s_f)], axis=1)
        bottom = np.concatenate([s_i[:, None] * wg_t, np.diag(s_f)], axis=1)
        return np.concatenate([top, bottom], axis=0)
    if isinstance(params, GRUParams):
        w = np.asarray(params.w_h, float)
        hidden = w.shape[0]
        b_r, b_z, b_n = np.split(np.asarray(params.b, float), 3)
        r, z = _sigmoid(b_r), _sigmoid(b_z)
        wr_t, wn_t = w[:, :hidden].T, w[:, 2 * hidden:].T
        if params.b_hn is None:                                       # reset_before
            n0 = np.tanh(b_n)
            jac = np.diag(z) + (1 - z)[:, None] * wn_t * r[None, :]
        else:                                                         # reset_after
            b_hn = np.asarray(params.b_hn, float)
            n0 = np.tanh(b_n + r * b_hn)
            jac = (np.diag(z) + ((1 - z) * r)[:, None] * wn_t
                   + ((1 - z) * b_hn * r * (1 - r))[:, None] * wr_t)
        if np.any(np.abs(n0) > _TOL):
            raise ValueError("zero_state_jacobian: the GRU's zero state is a fixed point only "
                             "when tanh(b_n + r b_hn) = 0 (zero candidate at h = 0)")
        return jac
    raise TypeError(f"zero_state_jacobian: params must be LSTMParams or GRUParams, got "
                    f"{type(params).__name__}")


def zero_state_norms(params, steps: int) -> np.ndarray:
    """``‖J^t‖₂`` for ``t = 1..steps`` (float64, shape ``(steps,)``): the exact
    ``‖∂h_t/∂h_0‖₂`` of an LSTM or GRU started at the zero state with zero input, as
    :func:`rnnjax.analysis.jacobian_norms` measures it. See :func:`zero_state_jacobian`.
    """
    steps = int(steps)
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    jac = zero_state_jacobian(params)
    prod = np.eye(jac.shape[0])
    out = np.empty(steps)
    for t in range(steps):
        prod = jac @ prod
        out[t] = np.linalg.norm(prod, 2)
    return out
