r"""Jacobians of a recurrent map through time: norms and singular-value spectra.

A cell with parameters ``params`` and input sequence ``x_1..x_T`` defines the map
``h_t = F(h_{t-1}, x_t)`` on its carry. Everything here works on the carry *flattened* into one
vector of size ``N`` (for the LSTM ``h`` and ``c`` together, for a stack every layer's carry), so
any cell, composition or hand-written :class:`rnnjax.Cell` is analysed the same way.

The per-step Jacobian and the product that backpropagation multiplies are

.. math::

    J_k = \frac{\partial h_k}{\partial h_{k-1}}, \qquad
    P_t = \frac{\partial h_t}{\partial h_0} = J_t J_{t-1} \cdots J_1 ,

and :func:`jacobian_norms` returns :math:`\|P_t\|_2 = \sigma_{\max}(P_t)` for ``t = 1..T``.

Two methods give the same answer (the matrix-free one as a lower bound that is exact for
``k = N`` and, in the tests, within 1e-3 in log for ``k < N``):

``"dense"``
    Accumulates :math:`P_t` (``N x N``) with one batched ``jvp`` per step and takes its SVD.
    Exact; ``O(T N^3)`` time (an SVD per step), ``O(N^2)`` memory. For ``N`` up to about a hundred.

``"matfree"``
    Never forms an ``N x N`` matrix and never stores the trajectory: ``k`` probe vectors get
    a few rounds of block power iteration on ``jvp``/``vjp`` sweeps, memory
    :math:`O(N k + \sqrt{T} N)`. The method is described in :mod:`rnnjax.analysis.matfree`.

Both methods keep a running log-scale, so products like :math:`1.5^{1000}` or :math:`0.5^{1000}`
neither overflow nor underflow: :func:`log_jacobian_norms` returns :math:`\log\|P_t\|_2`
directly. For long products in float64 run under ``with jax.enable_x64(True):`` with float64
parameters and inputs (see :func:`astype`).

Every function here analyses one sequence, ``xs`` of shape ``(T, input_size)``, and one carry
without batch dimensions; ``jax.vmap`` over parameters, inputs or carries batches them (over
spectral radii, seeds, or cells that share a parameter structure).

Padded sequences: every function takes ``length`` (an integer scalar, which may be traced), the
number of real steps at the start of ``xs``. Steps past it are the identity map
(``J_t = I``, the carry is frozen, outputs are zero and the padded inputs never reach the cell),
so results past the length equal those at the length, and
``jax.vmap(lambda x, n: jacobian_norms(cell, params, x, length=n))(xs, lengths)`` over a
right-padded batch compiles once. A concrete length must lie in ``0..T``; a traced one is clipped to it.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial

import jax
import jax.numpy as jnp

from rnnjax.analysis._flat import (
    _check_length,
    _columns,
    _safe_log,
    _setup,
    _with_length,
    astype,
    flat_step,
)
from rnnjax.analysis.matfree import _matfree_log_norms
from rnnjax.cell import Cell, PyTree, require_cell

Array = jax.Array

__all__ = [
    "astype",
    "flat_step",
    "jacobian_norms",
    "jacobian_singular_values",
    "log_jacobian_norms",
    "step_jacobians",
]

_DENSE_MAX = 128  # "auto" switches to the matrix-free method above this flattened carry size


# ----------------------------------------------------------------------------- dense


def step_jacobians(cell: Cell, params: PyTree, xs: Array, carry: PyTree | None = None, *,
                   length=None) -> Array:
    """Per-step Jacobians ``J_t = dh_t/dh_{t-1}`` along the trajectory, shape ``(T, N, N)``.

    ``J_t[i, j] = d h_t[i] / d h_{t-1}[j]`` for the flattened carry (the identity for
    ``t > length``). Memory ``O(T N^2)``: for inspection and tests at small sizes;
    :func:`jacobian_norms` never stores them.
    """
    xs, _, _ = _setup(cell, params, xs, carry, "step_jacobians")
    length = _check_length(length, xs.shape[0], "step_jacobians")
    return _step_jacobians_jit(cell, params, xs, carry, length)


@partial(jax.jit, static_argnums=0)
def _step_jacobians_jit(cell, params, xs, carry, length):
    f, h0, _ = flat_step(cell, params, carry)
    f, xs = _with_length(f, xs, length)

    def body(h, x):
        jac = jax.jacfwd(lambda hh: f(hh, x)[0])(h)
        return f(h, x)[0], jac

    _, jacs = jax.lax.scan(body, h0, xs)
    return jacs


def _dense_log_singular_values(f, h0: Array, xs: Array) -> Array:
    """``log sigma_i(P_t)`` for t = 1..T, descending in i; shape ``(T, N)``.

    Carries ``P_t = exp(c_t) * Ptilde_t`` with ``||Ptilde_t||_2 = 1``; the per-step update is
    ``Ptilde <- J_t Ptilde`` computed as a batched jvp over the columns of ``Ptilde``.
    """
    n = h0.shape[0]

    def body(state, x):
        h, p, logc = state
        h_next, jvp = jax.linearize(lambda hh: f(hh, x)[0], h)
        p = _columns(jvp)(p)
        sv = jnp.linalg.svd(p, compute_uv=False)
        top = sv[0]
        log_sv = logc + _safe_log(sv)
        scale = jnp.where(top > 0, top, 1.0)
        return (h_next, p / scale, logc + jnp.log(scale)), log_sv

    init = (h0, jnp.eye(n, dtype=h0.dtype), jnp.zeros((), h0.dtype))
    _, log_sv = jax.lax.scan(body, init, xs)
    return log_sv


def jacobian_singular_values(
    cell: Cell,
    params: PyTree,
    xs: Array,
    carry: PyTree | None = None,
    *,
    at: Sequence[int] | None = None,
    log: bool = True,
    length=None,
) -> Array:
    """The full singular-value spectrum of ``P_t = dh_t/dh_0`` (dense method).

    Args:
      at: the times ``t`` (1-based, ``1 <= t <= T``) to return; all ``T`` when None.
      log: return ``log sigma_i`` (default; safe for products that over/underflow) or
        ``sigma_i``.
      length: real steps of a padded ``xs``; the spectrum stays at ``P_length`` after it.

    Returns:
      ``(len(at), N)`` (or ``(T, N)``), singular values in descending order.
    """
    xs, f, h0 = _setup(cell, params, xs, carry, "jacobian_singular_values")
    del f, h0
    length = _check_length(length, xs.shape[0], "jacobian_singular_values")
    log_sv = _log_sv_jit(cell, params, xs, carry, length)
    if at is not None:
        idx = [int(t) for t in at]
        T = xs.shape[0]
        if any(t < 1 or t > T for t in idx):
            raise ValueError(f"jacobian_singular_values: times in `at` must lie in 1..{T}, got {idx}")
        log_sv = log_sv[jnp.asarray(idx) - 1]
    return log_sv if log else jnp.exp(log_sv)


# ----------------------------------------------------------------------------- public


def log_jacobian_norms(
    cell: Cell,
    params: PyTree,
    xs: Array,
    carry: PyTree | None = None,
    *,
    method: str = "auto",
    k: int = 32,
    sweeps: int = 3,
    key: Array | None = None,
    length=None,
) -> Array:
    r"""``log ||dh_t/dh_0||_2`` for ``t = 1..T``, shape ``(T,)``, never over/underflowing.

    Args:
      cell, params: the recurrent map; ``h`` is the whole carry flattened.
      xs: inputs ``(T, input_size)`` of one sequence (zeros for the autonomous map).
      carry: the initial carry ``h_0`` (unbatched); the cell's initial carry when None.
      method: ``"dense"`` (exact; accumulated product and SVD), ``"matfree"`` (jvp/vjp block
        power iteration, never an ``N x N`` matrix) or ``"auto"`` (dense for ``N <= 128``).
      k: probe vectors of the matrix-free method (capped at ``N``; with ``k = N`` it is exact).
      sweeps: power-iteration rounds (a jvp sweep forward, a vjp sweep back) of the
        matrix-free method; 0 keeps the random probes.
      key: seeds the matrix-free method's first probe block; a fixed key when None.
      length: real steps of a padded ``xs`` (an integer scalar, may be traced); entries
        ``t > length`` equal entry ``length`` (``0`` for ``length = 0``).
    """
    xs, _, h0 = _setup(cell, params, xs, carry, "log_jacobian_norms")
    length = _check_length(length, xs.shape[0], "log_jacobian_norms")
    if method == "auto":
        method = "dense" if h0.shape[0] <= _DENSE_MAX else "matfree"
    if method == "dense":
        return _log_sv_jit(cell, params, xs, carry, length)[:, 0]
    if method == "matfree":
        if int(k) < 1 or int(sweeps) < 0:
            raise ValueError(f"matfree needs k >= 1 and sweeps >= 0, got k={k}, sweeps={sweeps}")
        key = jax.random.key(0) if key is None else key
        return _matfree_jit(cell, params, xs, carry, key, length, k=int(k), sweeps=int(sweeps))
    raise ValueError(f"method must be 'auto', 'dense' or 'matfree', got {method!r}")


# One compiled program per (cell, shapes): the cell is a static argument (a hashable NamedTuple
# of functions), so repeated calls with the same cell object reuse the compilation.


@partial(jax.jit, static_argnums=0)
def _log_sv_jit(cell, params, xs, carry, length):
    f, h0, _ = flat_step(cell, params, carry)
    f, xs = _with_length(f, xs, length)
    return _dense_log_singular_values(f, h0, xs)


@partial(jax.jit, static_argnums=0, static_argnames=("k", "sweeps"))
def _matfree_jit(cell, params, xs, carry, key, length, *, k, sweeps):
    f, h0, _ = flat_step(cell, params, carry)
    f, xs = _with_length(f, xs, length)
    return _matfree_log_norms(f, h0, xs, k=k, sweeps=sweeps, key=key)


def jacobian_norms(
    cell: Cell, params: PyTree, xs: Array, carry: PyTree | None = None, **kwargs
) -> Array:
    r"""``||dh_t/dh_0||_2 = sigma_max(J_t ... J_1)`` for ``t = 1..T``, shape ``(T,)``.

    ``h`` is the whole carry flattened (for the LSTM ``(h, c)`` together). ``xs`` is one sequence
    ``(T, input_size)``; ``jax.vmap`` batches over params, inputs and carries. Keyword arguments
    (``method``, ``k``, ``sweeps``, ``key``, ``length``) as in :func:`log_jacobian_norms`, which returns the
    logarithm and is the one to use for long products (this one over/underflows like the
    numbers themselves).

    Example: a linear RNN with ``W_h = rho * Q`` (``Q`` orthogonal) gives exactly ``rho ** t``.
    """
    require_cell(cell, "jacobian_norms")
    return jnp.exp(log_jacobian_norms(cell, params, xs, carry, **kwargs))
