"""The Linear Recurrent Unit (Orvieto et al. 2023, "Resurrecting recurrent neural networks for
long sequences"): a complex diagonal linear recurrence with an exponential parametrisation.

.. math::

    λ_j = \\exp(−\\exp(ν_j) + i \\exp(θ_j)),\\qquad γ_j = \\exp(γ^{\\log}_j)

    h_t = λ ⊙ h_{t-1} + γ ⊙ (x_t B),\\qquad y_t = \\mathrm{Re}(h_t C) + x_t D

with ``B = B_re + i B_im: (I, N)``, ``C = C_re + i C_im: (N, O)`` and ``D: (I, O)``. ``|λ_j| =
exp(−exp(ν_j)) < 1`` for every real ``ν``, so the recurrence is stable throughout training.

Initialisation (the paper's appendix): ``|λ|`` uniform on the ring ``[r_min, r_max]`` of the complex
plane (``ν = log(−½ log(u₁ (r_max² − r_min²) + r_min²))``), phase ``θ = log(max_phase · u₂)``,
normalisation ``γ = √(1 − |λ|²)`` (so a white-noise input keeps unit variance), ``B`` with entries
``N(0, 1/(2I))`` per real and imaginary part, ``C`` with ``N(0, 1/N)``. The paper's ``D`` is
diagonal (input size = output size); here ``D`` is a dense ``(I, O)`` matrix, drawn ``N(0, 1/I)``,
so that any input size works (a diagonal ``D`` is the special case).

The carry is **complex**: ``h: (*batch, N)`` of dtype ``complex64`` (``complex128`` with x64), so
that the recurrence is literally elementwise (``Cell.affine``: ``a_t = λ``, ``b_t = γ ⊙ x_t B``).
Parameters are real. Defaults ``r_min = 0, r_max = 1, max_phase = 2π`` are the paper's; its
long-range settings are ``r_min = 0.9, r_max = 0.999, max_phase = π/10``.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from rnnjax import _checks
from rnnjax.cell import Affine, Cell, cast, cell_constructor, check_input

Array = jax.Array


class LRUParams(NamedTuple):
    """``nu_log, theta_log, gamma_log: (N,)``; ``b_re, b_im: (I, N)``; ``c_re, c_im: (N, O)``;
    ``d: (I, O)``."""

    nu_log: Array
    theta_log: Array
    gamma_log: Array
    b_re: Array
    b_im: Array
    c_re: Array
    c_im: Array
    d: Array


@cell_constructor
def lru(hidden_size: int, *, output_size: int | None = None, r_min: float = 0.0,
        r_max: float = 1.0, max_phase: float = 2 * math.pi,
        dtype: Any = None, param_dtype: Any = jnp.float32) -> Cell:
    """An LRU cell with complex carry ``h: (*batch, N)`` and real output ``(*batch, O)``.

    Args:
      hidden_size: ``N``, the number of complex state units.
      output_size: ``O``; ``N`` when ``None``.
      r_min, r_max: the ring ``r_min ≤ |λ| ≤ r_max`` the eigenvalues are drawn on, ``0 ≤ r_min <
        r_max ≤ 1``.
      max_phase: eigenvalue phases are drawn uniformly in ``[0, max_phase]``.
      dtype: computation and output dtype (the carry is its complex counterpart: complex64 for
        float32 and bfloat16, complex128 for float64); ``None`` is float32 (float64 under x64).
      param_dtype: dtype of the params ``init`` returns (float32 by default, as in Flax).
    """
    N = _checks.positive_int(hidden_size, "hidden_size")
    O = N if output_size is None else _checks.positive_int(output_size, "output_size")
    dtype = _checks.float_dtype(dtype, "lru dtype")
    param_dtype = _checks.float_dtype(param_dtype, "lru param_dtype")
    if not 0.0 <= r_min < r_max <= 1.0:
        raise ValueError(f"lru: expected 0 <= r_min < r_max <= 1, got r_min={r_min}, r_max={r_max}")
    if not max_phase > 0:
        raise ValueError(f"lru: max_phase must be positive, got {max_phase}")

    def init(key: Array, input_size: int) -> LRUParams:
        I = _checks.positive_int(input_size, "input_size")
        pdt = _checks.resolve_float(param_dtype)
        k1, k2, kbr, kbi, kcr, kci, kd = jax.random.split(key, 7)
        u1, u2 = jax.random.uniform(k1, (N,)), jax.random.uniform(k2, (N,))
        nu_log = jnp.log(-0.5 * jnp.log(u1 * (r_max ** 2 - r_min ** 2) + r_min ** 2))
        theta_log = jnp.log(max_phase * u2)
        gamma_log = jnp.log(jnp.sqrt(1.0 - jnp.exp(-2.0 * jnp.exp(nu_log))))
        normal = lambda k, shape, var: jax.random.normal(k, shape, pdt) * math.sqrt(var)
        return LRUParams(*cast((nu_log, theta_log, gamma_log), pdt),
                         normal(kbr, (I, N), 1 / (2 * I)), normal(kbi, (I, N), 1 / (2 * I)),
                         normal(kcr, (N, O), 1 / N), normal(kci, (N, O), 1 / N),
                         normal(kd, (I, O), 1 / I))

    def coefficients(params: LRUParams, x: Array) -> tuple[Array, Array]:
        x = jnp.asarray(x)
        check_input(x, params.b_re.shape[0], "lru")
        p, x = cast((params, x), _checks.resolve_float(dtype))
        lam = jnp.exp(-jnp.exp(p.nu_log) + 1j * jnp.exp(p.theta_log)).astype(complex_dtype())
        gamma = jnp.exp(p.gamma_log).reshape((1,) * (x.ndim - 1) + (N,))
        b = ((x @ p.b_re) * gamma + 1j * ((x @ p.b_im) * gamma)).astype(complex_dtype())
        return jnp.broadcast_to(lam, b.shape), b

    def readout(params: LRUParams, h: Array, x: Array) -> Array:
        dt = _checks.resolve_float(dtype)
        p, x = cast(params, dt), cast(jnp.asarray(x), dt)
        return cast(jnp.real(h), dt) @ p.c_re - cast(jnp.imag(h), dt) @ p.c_im + x @ p.d

    def step(params: LRUParams, h: Array, x: Array) -> tuple[Array, Array]:
        a, b = coefficients(params, x)
        h = cast(a * h + b, a.dtype)
        return h, readout(params, h, x)

    def complex_dtype():
        return jnp.promote_types(_checks.resolve_float(dtype), jnp.complex64)

    def initial_carry(params: LRUParams, batch_shape=()) -> Array:
        del params
        return jnp.zeros((*_checks.batch_shape(batch_shape), N), complex_dtype())

    return Cell(init, initial_carry, step, O, name=f"lru({N}, out={O})",
                affine=Affine(coefficients, readout))
