"""The unitary evolution RNN (Arjovsky, Shah & Bengio 2016, "Unitary evolution recurrent neural
networks"): a complex recurrence whose transition matrix is unitary by construction.

.. math::

    W = D_3 R_2 F^{-1} D_2 Π R_1 F D_1,\\qquad
    h_t = \\mathrm{modReLU}(W h_{t-1} + x_t V,\\ b),\\qquad y_t = [\\mathrm{Re}\\,h_t,\\ \\mathrm{Im}\\,h_t]

- ``D_j = diag(e^{iθ_j})``, ``θ_j ∈ R^N`` (three learned diagonal phase matrices);
- ``R_j = I − 2 v_j v_j^* / ||v_j||^2``, ``v_j ∈ C^N`` (two learned complex reflections);
- ``F`` the unitary discrete Fourier transform (``norm="ortho"``), ``Π`` a fixed permutation
  (drawn once from ``permutation_seed``);
- ``V = V_re + i V_im: (I, N)`` the complex input matrix;
- ``modReLU(z, b) = (|z| + b) z / |z|`` where ``|z| + b ≥ 0``, else 0 (the paper's §4.3),
  computed as ``relu(|z| + b) z / (|z| + ε)`` with ``ε = 1e-5`` so its gradient exists at 0.

Every factor of ``W`` is unitary, so ``||W h|| = ||h||``: the linear part of the recurrence
neither amplifies nor shrinks a gradient through time, which is why the paper reports the
uRNN solving the copy task at delays where the LSTM stays at the memoryless baseline. Applying
``W`` costs ``O(N log N)`` per step (two FFTs), and the carry is **complex** ``(*batch, N)``.

Initialisation as in the paper: ``θ ~ U[−π, π]``, reflection vectors with real and imaginary
parts ``U[−1, 1]``, ``V`` Glorot-uniform over ``(I, 2N)``, ``b = 0``.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from rnnjax import _checks
from rnnjax.cell import Cell, cast, cell_constructor, check_input, lead

Array = jax.Array
MODRELU_EPS = 1e-5


class URNNParams(NamedTuple):
    """``theta: (3, N)`` phases of ``D_1, D_2, D_3``; ``v_re, v_im: (2, N)`` reflections ``R_1,
    R_2``; ``w_re, w_im: (I, N)`` the input matrix ``V``; ``b: (N,)`` the modReLU bias."""

    theta: Array
    v_re: Array
    v_im: Array
    w_re: Array
    w_im: Array
    b: Array


def permutation(hidden_size: int, seed: int) -> np.ndarray:
    """The fixed permutation ``Π`` of a :func:`urnn` with this size and ``permutation_seed``."""
    return np.random.default_rng(seed).permutation(hidden_size)


def _reflect(h: Array, v: Array) -> Array:
    """``(I − 2 v v^* / ||v||^2) h`` for each row ``h`` of ``(*batch, N)``."""
    coef = jnp.sum(lead(jnp.conj(v), h.ndim) * h, axis=-1, keepdims=True) / jnp.sum(jnp.abs(v) ** 2)
    return h - 2.0 * coef * lead(v, h.ndim)


def unitary_apply(params: URNNParams, h: Array, perm: np.ndarray) -> Array:
    """``W h`` for every row ``h`` of ``(*batch, N)``: the factors right to left."""
    d = jnp.exp(1j * params.theta.astype(h.real.dtype)).astype(h.dtype)
    v = (params.v_re + 1j * params.v_im).astype(h.dtype)
    h = h * lead(d[0], h.ndim)
    h = jnp.fft.fft(h, axis=-1, norm="ortho")
    h = _reflect(h, v[0])
    h = h[..., perm]
    h = h * lead(d[1], h.ndim)
    h = jnp.fft.ifft(h, axis=-1, norm="ortho")
    h = _reflect(h, v[1])
    return h * lead(d[2], h.ndim)


def modrelu(z: Array, b: Array) -> Array:
    """``relu(|z| + b) z / (|z| + ε)``: the modReLU nonlinearity of a complex ``z``."""
    mag = jnp.abs(z)
    scale = jax.nn.relu(mag + lead(b, z.ndim)) / (mag + MODRELU_EPS)
    return z * scale.astype(z.dtype)


@cell_constructor
def urnn(hidden_size: int, *, permutation_seed: int = 0, dtype: Any = None,
         param_dtype: Any = jnp.float32) -> Cell:
    """A uRNN cell with complex carry ``h: (*batch, N)`` and real output ``(*batch, 2N)``.

    Args:
      hidden_size: ``N``, the number of complex units.
      permutation_seed: seed of the fixed permutation ``Π`` (:func:`permutation`).
      dtype: computation dtype (the carry is its complex counterpart, the output real);
        ``None`` is float32 (float64 under x64).
      param_dtype: dtype of the params ``init`` returns (float32 by default, as in Flax).
    """
    N = _checks.positive_int(hidden_size, "hidden_size")
    dtype = _checks.float_dtype(dtype, "urnn dtype")
    param_dtype = _checks.float_dtype(param_dtype, "urnn param_dtype")
    perm = permutation(N, permutation_seed)

    def complex_dtype():
        return jnp.promote_types(_checks.resolve_float(dtype), jnp.complex64)

    def init(key: Array, input_size: int) -> URNNParams:
        I = _checks.positive_int(input_size, "input_size")
        pdt = _checks.resolve_float(param_dtype)
        k_theta, k_vr, k_vi, k_wr, k_wi = jax.random.split(key, 5)
        glorot = math.sqrt(6.0 / (I + 2 * N))
        uniform = lambda k, shape, a: jax.random.uniform(k, shape, pdt, -a, a)
        return URNNParams(uniform(k_theta, (3, N), math.pi), uniform(k_vr, (2, N), 1.0),
                          uniform(k_vi, (2, N), 1.0), uniform(k_wr, (I, N), glorot),
                          uniform(k_wi, (I, N), glorot), jnp.zeros((N,), pdt))

    def step(params: URNNParams, h: Array, x: Array) -> tuple[Array, Array]:
        x = jnp.asarray(x)
        check_input(x, params.w_re.shape[0], "urnn")
        dt = _checks.resolve_float(dtype)
        p, x = cast((params, x), dt)
        u = (x @ p.w_re + 1j * (x @ p.w_im)).astype(complex_dtype())
        h = modrelu(unitary_apply(p, h, perm) + u, p.b)
        return h, jnp.concatenate([jnp.real(h), jnp.imag(h)], axis=-1).astype(dt)

    def initial_carry(params: URNNParams, batch_shape=()) -> Array:
        del params
        return jnp.zeros((*_checks.batch_shape(batch_shape), N), complex_dtype())

    return Cell(init, initial_carry, step, 2 * N, name=f"urnn({N})")
