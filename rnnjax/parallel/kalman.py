"""The Levenberg–Marquardt step of ELK as a Kalman smoother: sequential and parallel-in-time.

One ELK iteration (Gonzalez et al. 2024, "Towards scalable and stable parallelization of nonlinear
RNNs") solves the damped linear least-squares problem

.. math::  \\min_{m} \\sum_{t=1}^T \\lVert m_t − J_t m_{t-1} − b_t \\rVert^2
           + λ \\sum_{t=1}^T \\lVert m_t − s_t \\rVert^2, \\qquad m_0 = c_0,

whose solution is the posterior mean of the linear-Gaussian state-space model
``m_t = J_t m_{t-1} + b_t + N(0, I)`` observed as ``s_t = m_t + N(0, I/λ)``, with ``m_0 = c_0``
exactly. Two ways to compute it, equal up to rounding:

- :func:`sequential_smoother`: the Kalman filter and the Rauch–Tung–Striebel smoother, two
  ``lax.scan`` passes (depth ``2T``).
- :func:`parallel_smoother`: the temporal parallelisation of Särkkä & García-Fernández (2021,
  "Temporal parallelization of Bayesian smoothers", IEEE TAC 66(1)), two associative scans
  (depth ``O(log T)``). The filter's elements ``(A, b, C, η, Z)`` (the paper's ``J`` is ``Z``
  here) are, with the constant gain ``κ = λ / (1 + λ)`` of unit process noise and observation
  noise ``1/λ``,

  .. math::  A_t = (1 − κ) J_t,\\; b_t' = (1 − κ) b_t + κ s_t,\\; C_t = (1 − κ) I,\\;
             η_t = κ J_t^T (s_t − b_t),\\; Z_t = κ J_t^T J_t,

  with ``A_1 = 0``, ``η_1 = Z_1 = 0`` and ``b_1 = J_1 c_0`` folded into ``b_1``; they combine as

  .. math::  M = (I + C_i Z_j)^{-1},\\quad A = A_j M A_i,\\quad b = A_j M (b_i + C_i η_j) + b_j,
             \\quad C = A_j M C_i A_j^T + C_j,

  .. math::  η = A_i^T M^T (η_j − Z_j b_i) + η_i,\\quad Z = A_i^T M^T Z_j A_i + Z_i,

  and the prefixes are the filtered means ``m_t`` and covariances ``P_t``. The smoothed mean is
  then the backward affine recurrence ``m^s_t = E_t m^s_{t+1} + (m_t − E_t(J_{t+1} m_t + b_{t+1}))``,
  ``E_t = P_t J_{t+1}^T (J_{t+1} P_t J_{t+1}^T + I)^{-1}``, ``m^s_T = m_T``: one more associative
  scan (:func:`~rnnjax.parallel.associative.matrix_affine_scan`). Only means are needed, so the
  smoothed covariances are never formed.

``J`` is ``(T, D, D)``, or ``(T, D)`` with ``diagonal=True`` (quasi-ELK: every matrix above is
diagonal, so every operation is elementwise).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from rnnjax.parallel.associative import affine_scan, matrix_affine_scan

Array = jax.Array

SMOOTHERS = ("sequential", "parallel")


def sequential_smoother(J: Array, b: Array, s: Array, c0: Array, lam: float,
                        diagonal: bool) -> Array:
    """The LM step by a Kalman filter and RTS smoother, two sequential scans: ``(T, D)``."""
    D = c0.shape[0]
    if diagonal:
        matvec, outer = jnp.multiply, lambda j, P: j * P * j
        eye = jnp.ones((D,), c0.dtype)
        gain = lambda Pm: lam * Pm / (lam * Pm + 1.0)
        smooth_gain = lambda P, j, Pm: P * j / Pm
    else:
        matvec, outer = jnp.matmul, lambda j, P: j @ P @ j.T
        eye = jnp.eye(D, dtype=c0.dtype)
        # K = λP⁻(λP⁻ + I)⁻¹ and G = P J^T (P⁻)⁻¹, through solves with symmetric matrices.
        gain = lambda Pm: jnp.linalg.solve(lam * Pm + eye, lam * Pm).T
        smooth_gain = lambda P, j, Pm: jnp.linalg.solve(Pm, j @ P).T

    def forward(state, inp):
        m, P = state
        j, bt, st = inp
        m_pred, P_pred = matvec(j, m) + bt, outer(j, P) + eye
        K = gain(P_pred)
        m = m_pred + matvec(K, st - m_pred)
        P = P_pred - (K * P_pred if diagonal else K @ P_pred)
        if not diagonal:
            P = 0.5 * (P + P.T)
        return (m, P), (m, P, m_pred, P_pred)

    P0 = jnp.zeros_like(eye)
    _, (m, P, m_pred, P_pred) = jax.lax.scan(forward, (c0, P0), (J, b, s))

    def backward(m_next, inp):
        m_t, P_t, j_next, m_pred_next, P_pred_next = inp
        G = smooth_gain(P_t, j_next, P_pred_next)
        m_s = m_t + matvec(G, m_next - m_pred_next)
        return m_s, m_s

    _, m_smooth = jax.lax.scan(backward, m[-1], (m[:-1], P[:-1], J[1:], m_pred[1:], P_pred[1:]),
                               reverse=True)
    return jnp.concatenate([m_smooth, m[-1:]])


def parallel_smoother(J: Array, b: Array, s: Array, c0: Array, lam: float,
                      diagonal: bool) -> Array:
    """The LM step by the associative-scan filter and smoother (module docstring): ``(T, D)``."""
    T, D = b.shape
    kappa = lam / (1.0 + lam)
    if diagonal:
        mT = lambda x: x                                  # transpose
        mm = jnp.multiply                                 # matrix · matrix
        mv = jnp.multiply                                 # matrix · vector
        inv_apply = lambda X, Y: Y / X                    # X⁻¹ Y
        eye = jnp.ones((D,), b.dtype)
        gram = lambda j: j * j
    else:
        mT = lambda x: jnp.swapaxes(x, -1, -2)
        mm = jnp.matmul
        mv = lambda A, v: jnp.einsum("...ij,...j->...i", A, v)
        inv_apply = jnp.linalg.solve
        eye = jnp.eye(D, dtype=b.dtype)
        gram = lambda j: mT(j) @ j

    def solves(X, A, C, u, Z, v):
        """``X⁻¹A, X⁻¹C, X⁻¹u, X⁻ᵀZ, X⁻ᵀv``. Full matrices: both systems in one batched solve
        (one LU call; several batched LAPACK calls side by side can deadlock jaxlib's CPU thread
        pool, see the known issues)."""
        if diagonal:
            return A / X, C / X, u / X, Z / X, v / X
        r1 = jnp.concatenate([A, C, u[..., None]], axis=-1)
        r2 = jnp.concatenate([Z, v[..., None], jnp.zeros_like(A)], axis=-1)
        out = jnp.linalg.solve(jnp.stack([X, mT(X)]), jnp.stack([r1, r2]))
        return out[0, ..., :D], out[0, ..., D:2 * D], out[0, ..., 2 * D], out[1, ..., :D], \
            out[1, ..., D]

    plus_eye = lambda X: X + jnp.broadcast_to(eye, X.shape)
    first = mv(J[0], c0) + b[0]                            # the known m_0 folded into step 1
    b_in = b.at[0].set(first)
    A = (1 - kappa) * J.at[0].set(0)
    bb = (1 - kappa) * b_in + kappa * s
    C = jnp.broadcast_to((1 - kappa) * eye, J.shape)
    eta = kappa * mv(mT(J), s - b_in).at[0].set(0)
    Z = kappa * gram(J).at[0].set(0)

    def combine(first, second):
        Ai, bi, Ci, ei, Zi = first
        Aj, bj, Cj, ej, Zj = second
        # M = (I + C_i Z_j)⁻¹ and N = (I + Z_j C_i)⁻¹ = M^T for symmetric C, Z
        MAi, MC, Mb, NZ, Ne = solves(plus_eye(mm(Ci, Zj)), Ai, Ci, bi + mv(Ci, ej), Zj,
                                     ej - mv(Zj, bi))
        A_ = mm(Aj, MAi)
        b_ = mv(Aj, Mb) + bj
        C_ = mm(mm(Aj, MC), mT(Aj)) + Cj
        e_ = mv(mT(Ai), Ne) + ei
        Z_ = mm(mm(mT(Ai), NZ), Ai) + Zi
        if not diagonal:
            C_, Z_ = 0.5 * (C_ + mT(C_)), 0.5 * (Z_ + mT(Z_))
        return A_, b_, C_, e_, Z_

    _, m, P, _, _ = jax.lax.associative_scan(combine, (A, bb, C, eta, Z))
    # Smoothing: m^s_t = E_t m^s_{t+1} + g_t, E_T = 0, g_T = m_T.
    Jn, bn, Pt, mt = J[1:], b[1:], P[:-1], m[:-1]
    Pp = plus_eye(mm(mm(Jn, Pt), mT(Jn)))
    E = mT(inv_apply(Pp, mm(Jn, Pt)))                     # P_t J^T Pp⁻¹ (Pp, P_t symmetric)
    g = mt - mv(E, mv(Jn, mt) + bn)
    E = jnp.concatenate([E, jnp.zeros((1,) + E.shape[1:], E.dtype)])
    g = jnp.concatenate([g, m[-1:]])
    if diagonal:
        return affine_scan(E, g, jnp.zeros_like(c0), reverse=True)
    return matrix_affine_scan(E, g, jnp.zeros_like(c0), reverse=True)


def lm_step(J: Array, b: Array, s: Array, c0: Array, lam: float, diagonal: bool,
            smoother: str = "sequential") -> Array:
    """The LM step with the named smoother (``"sequential"`` or ``"parallel"``)."""
    fn = parallel_smoother if smoother == "parallel" else sequential_smoother
    return fn(J, b, s, c0, lam, diagonal)
