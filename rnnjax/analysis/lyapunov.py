r"""Lyapunov spectra of recurrent maps by QR re-orthonormalisation.

For the map ``h_t = F(h_{t-1}, x_t)`` on the flattened carry (size ``N``), the Lyapunov
exponents are the asymptotic growth rates of the singular values of :math:`P_t = J_t\cdots J_1`,

.. math::

    \lambda_i = \lim_{t\to\infty} \frac1t \log \sigma_i(P_t) \qquad (\text{natural log, per step}).

They are computed the standard way (Benettin et al. 1980; Engelken, Wolf & Abbott 2023): push
an orthonormal block :math:`Q` (``N x k``) through the Jacobian of every step and
re-orthonormalise,

.. math::

    J_t Q_{t-1} = Q_t R_t, \qquad
    \lambda_i \approx \frac{1}{T - T_w}\sum_{t > T_w} \log |(R_t)_{ii}| ,

with the QR sign-fixed so that :math:`\mathrm{diag}(R_t) > 0` (then :math:`Q_t` turns
continuously and the accumulated logs are those of the diagonal itself). ``J_t Q`` is a batched
``jvp``: no ``N x N`` matrix is formed. The first ``warmup`` steps (:math:`T_w`) let the
trajectory reach its attractor and :math:`Q` align with the Lyapunov vectors; they are run but not
counted.

``lambda_max > 0`` means chaos: nearby trajectories separate like ``exp(lambda_max t)``. The same
machinery applied to a one-dimensional map gives its classical exponent
:math:`\lambda = \lim \frac1T\sum_t \log|f'(x_t)|`; :func:`logistic_map` is the lecture's
population-growth model, whose exponent at ``r = 4`` is exactly ``ln 2``.
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp

from rnnjax.analysis._flat import _check_length, _columns, _setup, _with_length, flat_step
from rnnjax.cell import Cell, PyTree

Array = jax.Array

__all__ = ["logistic_map", "lyapunov_spectrum"]


def _sign_fixed_qr(z: Array) -> tuple[Array, Array]:
    """QR with ``diag(R) >= 0``: flip the columns of Q and rows of R where the diagonal is negative."""
    q, r = jnp.linalg.qr(z)
    d = jnp.diagonal(r)
    s = jnp.where(d < 0, -1.0, 1.0).astype(z.dtype)
    return q * s[None, :], r * s[:, None]


def lyapunov_spectrum(
    cell: Cell,
    params: PyTree,
    xs: Array,
    carry: PyTree | None = None,
    k: int | None = None,
    *,
    warmup: int = 0,
    key: Array | None = None,
    return_history: bool = False,
    length=None,
) -> Array | tuple[Array, Array]:
    r"""The ``k`` largest Lyapunov exponents (natural log, per step), shape ``(k,)``, descending.

    Args:
      cell, params: the recurrent map; the carry is flattened (size ``N``).
      xs: inputs ``(T, input_size)`` of one sequence (zeros for the autonomous network);
        its first ``warmup`` steps are burn-in.
      carry: the initial carry (unbatched); the cell's initial carry when None. Start off a fixed
        point (e.g. a random carry) to study the autonomous network's attractor.
      k: how many exponents; all ``N`` when None.
      warmup: steps run but not averaged (trajectory transient, alignment of ``Q``).
      key: seeds the initial orthonormal block; a fixed key when None.
      return_history: also return the running estimate after every counted step,
        ``(T - warmup, k)`` (for convergence plots).
      length: real steps of a padded ``xs`` (an integer scalar, may be traced): the average
        runs over steps ``warmup + 1..length`` and the history stays at its last value after
        it. A concrete length must lie in ``warmup + 1..T``; a traced one is clipped to
        ``0..T``, and gives NaN exponents when it is ``<= warmup`` (no step counted).
    """
    xs, f, h0 = _setup(cell, params, xs, carry, "lyapunov_spectrum")
    n = h0.shape[0]
    k = n if k is None else int(k)
    if not 1 <= k <= n:
        raise ValueError(f"lyapunov_spectrum: k must lie in 1..{n} (the flattened carry), got {k}")
    T = xs.shape[0]
    warmup = int(warmup)
    if not 0 <= warmup < T:
        raise ValueError(f"lyapunov_spectrum: warmup must lie in 0..{T - 1} (T = {T}), got {warmup}")
    if length is not None and not isinstance(length, jax.core.Tracer):
        _check_length(length, T, "lyapunov_spectrum", minimum=warmup + 1)
    length = _check_length(length, T, "lyapunov_spectrum")
    key = jax.random.key(0) if key is None else key
    exponents, history = _lyapunov_jit(cell, params, xs, carry, key, length, k=k, warmup=warmup)
    if return_history:
        return exponents, history
    return exponents


@partial(jax.jit, static_argnums=0, static_argnames=("k", "warmup"))
def _lyapunov_jit(cell, params, xs, carry, key, length, *, k, warmup):
    f, h0, _ = flat_step(cell, params, carry)
    f, xs = _with_length(f, xs, length)
    n, T = h0.shape[0], xs.shape[0]
    end = T if length is None else length  # steps 0..end-1 (0-based) are real
    q0, _ = _sign_fixed_qr(jax.random.normal(key, (n, k), h0.dtype))

    def body(state, inputs):
        h, q, total = state
        t, x = inputs
        h_next, jvp = jax.linearize(lambda hh: f(hh, x)[0], h)
        z = _columns(jvp)(q)
        q, r = _sign_fixed_qr(z)
        logs = jnp.log(jnp.abs(jnp.diagonal(r)))
        counted = (t >= warmup) & (t < end)
        total = total + jnp.where(counted, logs, 0.0)
        running = total / jnp.maximum(jnp.minimum(t + 1, end) - warmup, 1).astype(total.dtype)
        return (h_next, q, total), running

    init = (h0, q0, jnp.zeros((k,), h0.dtype))
    (_, _, total), history = jax.lax.scan(body, init, (jnp.arange(T), xs))
    counted = jnp.asarray(end - warmup, total.dtype)
    exponents = jnp.where(counted > 0, total / jnp.maximum(counted, 1), jnp.nan)
    order = jnp.argsort(-exponents)
    return exponents[order], history[warmup:][:, order]


def logistic_map(r: float) -> Cell:
    r"""The lecture's population-growth model as a cell: ``x_{t+1} = r x_t (1 - x_t)``.

    The carry is the population fraction ``x`` (shape ``(*batch, 1)``) and the input is ignored
    (pass zeros of shape ``(T, 1)``); ``params`` is the growth rate ``r``, so ``jax.vmap`` over
    ``params`` sweeps it. The Lyapunov exponent is ``lambda = <log|r (1 - 2x)|>`` along the orbit:
    negative on stable cycles, positive in the chaotic band, exactly ``ln 2`` at ``r = 4``
    (conjugacy to the tent map). ``initial_carry`` starts at ``x_0 = 0.2``.
    """

    def init(key: Array, input_size: int = 1) -> Array:
        del key, input_size
        return jnp.asarray(r, dtype=jnp.result_type(float))

    def initial_carry(params: Array, batch_shape: tuple[int, ...] = ()) -> Array:
        return jnp.full((*tuple(batch_shape), 1), 0.2, dtype=jnp.result_type(params))

    def step(params: Array, x: Array, inp: Array) -> tuple[Array, Array]:
        del inp
        x = params * x * (1.0 - x)
        return x, x

    return Cell(init=init, initial_carry=initial_carry, step=step, output_size=1,
                name=f"logistic(r={r})")
