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
``k = N`` and, in the tests, within 1e-2 in log for ``k < N``):

``"dense"``
    Accumulates :math:`P_t` (``N x N``) with one batched ``jvp`` per step and takes its SVD.
    Exact; ``O(T N^3)`` time (an SVD per step), ``O(N^2)`` memory. For ``N`` up to about a hundred.

``"matfree"``
    Never forms an ``N x N`` matrix. Block power (subspace) iteration with ``k`` probe vectors:
    a forward sweep pushes an orthonormal block :math:`Q_0` (``N x k``) through the ``jvp`` of
    every step, :math:`P_t Q_0 = Q_t M_t` with :math:`Q_t` re-orthonormalised by QR and the small
    ``k x k`` factor :math:`M_t` kept, so :math:`\sigma_{\max}(P_t Q_0) = \sigma_{\max}(M_t)`.
    A backward sweep (``vjp``) pulls the current left singular vectors back to time 0,

    .. math::

        g_j = \sum_{t \in S_j} P_t^\top u_t / \sigma_t \;\approx\; \sum_{t\in S_j} v_t ,

    one column per block :math:`S_j` of log-spaced times, and :math:`Q_0 \leftarrow
    \mathrm{orth}(g_1..g_k)`. This is a power iteration for every :math:`P_t` at once: after a
    few sweeps :math:`Q_0` spans the top right singular vectors of all the products (they turn
    slowly with ``t``), and :math:`\sigma_{\max}(P_t Q_0) \le \sigma_{\max}(P_t)` is tight.
    The first 16 products, whose singular vectors turn fastest, additionally get one power
    iteration each (40 jvp/vjp round trips, batched); the larger of the two lower bounds is kept.
    ``O(T N k)`` Jacobian-vector products per sweep, ``O(T N + N k)`` memory (the carry trajectory
    is kept for the ``vjp``).

Both methods keep a running log-scale, so products like :math:`1.5^{1000}` or :math:`0.5^{1000}`
neither overflow nor underflow: :func:`log_jacobian_norms` returns :math:`\log\|P_t\|_2`
directly. For long products in float64 run under ``with jax.enable_x64(True):`` with float64
parameters and inputs (see :func:`astype`).

Every function here analyses one sequence, ``xs`` of shape ``(T, input_size)``, and one carry
without batch dimensions; ``jax.vmap`` over parameters, inputs or carries batches them (over
spectral radii, seeds, or cells that share a parameter structure).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial

import jax
import jax.numpy as jnp
from jax.flatten_util import ravel_pytree

from rnnjax.cell import Cell, PyTree

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


# ----------------------------------------------------------------------------- plumbing


def astype(tree: PyTree, dtype) -> PyTree:
    """Cast every floating-point leaf of ``tree`` to ``dtype`` (e.g. params to float64)."""
    return jax.tree.map(
        lambda a: a.astype(dtype) if jnp.issubdtype(jnp.result_type(a), jnp.floating) else a,
        tree,
    )


def flat_step(cell: Cell, params: PyTree, carry: PyTree | None = None):
    """The cell's transition on a flat carry vector.

    Returns ``(f, h0, unravel)`` with ``f(h, x) -> (h_next, y)`` where ``h`` is the carry
    flattened by ``jax.flatten_util.ravel_pytree`` (size ``N``), ``h0`` the flattened initial
    carry (``cell.initial_carry(params, batch_shape=())`` when ``carry`` is None) and
    ``unravel`` the inverse of the flattening.
    """
    if not isinstance(cell, Cell):
        raise TypeError(f"expected an rnnjax.Cell, got {type(cell).__name__}")
    if carry is None:
        carry = cell.initial_carry(params, batch_shape=())
    h0, unravel = ravel_pytree(carry)

    def f(h: Array, x: Array) -> tuple[Array, Array]:
        new_carry, y = cell.step(params, unravel(h), x)
        h_next, _ = ravel_pytree(new_carry)
        return h_next.astype(h.dtype), y

    return f, h0, unravel


def _check_xs(xs: Array, where: str) -> Array:
    xs = jnp.asarray(xs)
    if xs.ndim != 2:
        raise ValueError(
            f"{where}: expected xs of shape (T, input_size) for one sequence (vmap for a batch), "
            f"got shape {tuple(xs.shape)}"
        )
    if xs.shape[0] < 1:
        raise ValueError(f"{where}: expected at least one time step, got T = {xs.shape[0]}")
    return xs


def _check_carry_unbatched(h0: Array, carry: PyTree, where: str) -> None:
    del h0
    leaves = jax.tree.leaves(carry)
    if any(jnp.ndim(leaf) != 1 for leaf in leaves):
        shapes = [tuple(jnp.shape(leaf)) for leaf in leaves]
        raise ValueError(
            f"{where}: expected a carry for one sequence (every leaf of shape (size,)), "
            f"got leaf shapes {shapes}; vmap over a batch instead"
        )


def _setup(cell, params, xs, carry, where):
    xs = _check_xs(xs, where)
    f, h0, _ = flat_step(cell, params, carry)
    if carry is not None:
        _check_carry_unbatched(h0, carry, where)
    return xs, f, h0


def _safe_log(x: Array) -> Array:
    return jnp.log(jnp.where(x > 0, x, 0.0))  # log(0) = -inf, never nan


# ----------------------------------------------------------------------------- dense


def step_jacobians(cell: Cell, params: PyTree, xs: Array, carry: PyTree | None = None) -> Array:
    """Per-step Jacobians ``J_t = dh_t/dh_{t-1}`` along the trajectory, shape ``(T, N, N)``.

    ``J_t[i, j] = d h_t[i] / d h_{t-1}[j]`` for the flattened carry. Memory ``O(T N^2)``: for
    inspection and tests at small sizes; :func:`jacobian_norms` never stores them.
    """
    xs, _, _ = _setup(cell, params, xs, carry, "step_jacobians")
    return _step_jacobians_jit(cell, params, xs, carry)


@partial(jax.jit, static_argnums=0)
def _step_jacobians_jit(cell, params, xs, carry):
    f, h0, _ = flat_step(cell, params, carry)

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
        (h_next, _), jvp = jax.linearize(lambda hh: f(hh, x), h)
        p = jax.vmap(lambda col: jvp(col)[0], in_axes=1, out_axes=1)(p)
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
) -> Array:
    """The full singular-value spectrum of ``P_t = dh_t/dh_0`` (dense method).

    Args:
      at: the times ``t`` (1-based, ``1 <= t <= T``) to return; all ``T`` when None.
      log: return ``log sigma_i`` (default; safe for products that over/underflow) or
        ``sigma_i``.

    Returns:
      ``(len(at), N)`` (or ``(T, N)``), singular values in descending order.
    """
    xs, f, h0 = _setup(cell, params, xs, carry, "jacobian_singular_values")
    del f, h0
    log_sv = _log_sv_jit(cell, params, xs, carry)
    if at is not None:
        idx = [int(t) for t in at]
        T = xs.shape[0]
        if any(t < 1 or t > T for t in idx):
            raise ValueError(f"jacobian_singular_values: times in `at` must lie in 1..{T}, got {idx}")
        log_sv = log_sv[jnp.asarray(idx) - 1]
    return log_sv if log else jnp.exp(log_sv)


# ----------------------------------------------------------------------------- matrix-free


def _orthonormal(key, n: int, k: int, dtype) -> Array:
    q, _ = jnp.linalg.qr(jax.random.normal(key, (n, k), dtype))
    return q


def _segments(T: int, k: int) -> Array:
    """Column index of each time ``t = 1..T``: ``k`` log-spaced blocks of times, shape (T,)."""
    t = jnp.arange(1, T + 1)
    seg = jnp.floor(k * jnp.log(t) / jnp.log(T + 1.0)).astype(jnp.int32)
    return jnp.clip(seg, 0, k - 1)


def _matfree_forward(f, h0: Array, xs: Array, q0: Array):
    """``log sigma_max(P_t Q0)``, left and right singular vectors, and the trajectory.

    Returns ``(log_sig (T,), u (T, N), hs (T, N))`` with ``u_t = Q_t a_t`` the top left singular
    vector of ``P_t Q0`` (sign chosen so that its right vector turns continuously in ``t``) and
    ``hs[t-1] = h_{t-1}``, the carry each step was linearised at.
    """
    k = q0.shape[1]

    def body(state, x):
        h, q, m, logc, v_prev = state
        (h_next, _), jvp = jax.linearize(lambda hh: f(hh, x), h)
        z = jax.vmap(lambda col: jvp(col)[0], in_axes=1, out_axes=1)(q)
        q, r = jnp.linalg.qr(z)
        m = r @ m
        a, s, vt = jnp.linalg.svd(m)
        sign = jnp.where(vt[0] @ v_prev >= 0, 1.0, -1.0).astype(m.dtype)
        a0, v0 = sign * a[:, 0], sign * vt[0]
        top = s[0]
        scale = jnp.where(top > 0, top, 1.0)
        log_sig = logc + _safe_log(top)
        return (h_next, q, m / scale, logc + jnp.log(scale), v0), (log_sig, q @ a0, h)

    dtype = h0.dtype
    v_init = jnp.zeros((k,), dtype).at[0].set(1.0)
    init = (h0, q0, jnp.eye(k, dtype=dtype), jnp.zeros((), dtype), v_init)
    _, (log_sig, u, hs) = jax.lax.scan(body, init, xs)
    return log_sig, u, hs


def _matfree_backward(f, xs: Array, hs: Array, u: Array, log_sig: Array, k: int) -> Array:
    r"""Pull the left vectors back to time 0: column j is ``sum_{t in S_j} P_t^T u_t / sigma_t``.

    Scaled recursion (exact algebra, every quantity O(1)): with ``g~_t = sigma_t g_t``,
    ``g~_{t} = (sigma_t / sigma_{t+1}) J_{t+1}^T g~_{t+1} + [t in S_j] u_t``; once a column has
    received all its injections it is only renormalised (its direction is all we need).
    """
    T = xs.shape[0]
    seg = _segments(T, k)
    # sigma_{t-1}/sigma_t for the step from t back to t-1 (sigma_0 = 1)
    log_prev = jnp.concatenate([jnp.zeros((1,), log_sig.dtype), log_sig[:-1]])
    ratio = jnp.exp(jnp.clip(log_prev - log_sig, -50.0, 50.0))
    ratio = jnp.where(jnp.isfinite(log_sig) & jnp.isfinite(log_prev), ratio, 0.0)
    # first[j]: 0-based index of the earliest time in block j (T for an empty block)
    first = jnp.full((k,), T, jnp.int32).at[seg].min(jnp.arange(T, dtype=jnp.int32))

    def body(g, inputs):
        # g: (N, k) = g~_t for every column; move from time t to time t-1.
        t_idx, x, h, u_t, seg_t, ratio_t = inputs  # t_idx = t - 1 (0-based)
        inject = (jnp.arange(k) == seg_t).astype(g.dtype)
        g = g + u_t[:, None] * inject[None, :]
        _, vjp = jax.vjp(lambda hh: f(hh, x)[0], h)
        g = jax.vmap(lambda col: vjp(col)[0], in_axes=1, out_axes=1)(g)
        done = t_idx <= first  # this column has had its last injection (times run backwards)
        norms = jnp.linalg.norm(g, axis=0)
        normalised = g / jnp.where(norms > 0, norms, 1.0)[None, :]
        g = jnp.where(done[None, :], normalised, ratio_t * g)
        return g, None

    n = hs.shape[1]
    g0 = jnp.zeros((n, k), hs.dtype)
    inputs = (jnp.arange(T), xs, hs, u, seg, ratio)
    g, _ = jax.lax.scan(body, g0, inputs, reverse=True)
    return g


def _early_log_norms(f, h0: Array, xs: Array, iters: int, key) -> Array:
    """``log sigma_max(P_t)`` for the first ``t0 = len(xs)`` steps by a separate power iteration
    per ``t`` (one probe column each, all ``t`` batched in one jvp/vjp sweep).

    The right singular vectors of the first few products turn fastest with ``t`` (for Gaussian
    ``W`` the top singular values of ``J_1`` are nearly degenerate), which is where one shared
    subspace is least tight; these ``t0`` short products are cheap to treat one by one.
    """
    n, t0 = h0.shape[0], xs.shape[0]
    _, hs = jax.lax.scan(lambda h, x: (f(h, x)[0], h), h0, xs)  # hs[s-1] = h_{s-1}
    steps = jnp.arange(1, t0 + 1)  # column j is the product up to t = j + 1
    inputs = (steps, xs, hs)

    def normalised(z):
        nz = jnp.linalg.norm(z, axis=0)
        return z / jnp.where(nz > 0, nz, 1.0)[None, :], nz

    def forward(v):
        def body(state, inp):
            y, logn = state
            s, x, h = inp
            _, jvp = jax.linearize(lambda hh: f(hh, x)[0], h)
            z, nz = normalised(jax.vmap(jvp, in_axes=1, out_axes=1)(y))
            active = s <= steps
            return (jnp.where(active[None, :], z, y),
                    logn + jnp.where(active, _safe_log(nz), 0.0)), None

        (y, logn), _ = jax.lax.scan(body, (v, jnp.zeros((t0,), v.dtype)), inputs)
        return y, logn

    def backward(u):
        def body(g, inp):
            s, x, h = inp
            _, vjp = jax.vjp(lambda hh: f(hh, x)[0], h)
            z, _ = normalised(jax.vmap(lambda c: vjp(c)[0], in_axes=1, out_axes=1)(g))
            return jnp.where((s <= steps)[None, :], z, g), None

        g, _ = jax.lax.scan(body, u, inputs, reverse=True)
        return g

    v, _ = normalised(jax.random.normal(jax.random.fold_in(key, 1), (n, t0), h0.dtype))
    v = jax.lax.fori_loop(0, iters, lambda _, v: backward(forward(v)[0]), v)
    return forward(v)[1]


_EARLY_STEPS = 16  # the first steps get their own power iteration (see _early_log_norms)
_EARLY_ITERS = 40


def _matfree_log_norms(f, h0: Array, xs: Array, *, k: int, sweeps: int, key) -> Array:
    n = h0.shape[0]
    k = min(k, n)
    q0 = _orthonormal(key, n, k, h0.dtype)
    for _ in range(sweeps):
        log_sig, u, hs = _matfree_forward(f, h0, xs, q0)
        g = _matfree_backward(f, xs, hs, u, log_sig, k)
        empty = jnp.linalg.norm(g, axis=0) == 0
        g = jnp.where(empty[None, :], q0, g)  # keep the old probe where a block got nothing
        q0, _ = jnp.linalg.qr(g)
    log_sig, _, _ = _matfree_forward(f, h0, xs, q0)
    if sweeps > 0 and k < n:  # both are lower bounds on log sigma_max: keep the tighter one
        t0 = min(_EARLY_STEPS, xs.shape[0])
        early = _early_log_norms(f, h0, xs[:t0], _EARLY_ITERS, key)
        log_sig = log_sig.at[:t0].max(early)
    return log_sig


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
) -> Array:
    r"""``log ||dh_t/dh_0||_2`` for ``t = 1..T``, shape ``(T,)``, never over/underflowing.

    Args:
      cell, params: the recurrent map; ``h`` is the whole carry flattened.
      xs: inputs ``(T, input_size)`` of one sequence (zeros for the autonomous map).
      carry: the initial carry ``h_0`` (unbatched); the cell's initial carry when None.
      method: ``"dense"`` (exact; accumulated product and SVD), ``"matfree"`` (jvp/vjp block
        power iteration, never an ``N x N`` matrix) or ``"auto"`` (dense for ``N <= 128``).
      k: probe vectors of the matrix-free method (capped at ``N``; with ``k = N`` it is exact).
      sweeps: forward/backward refinement sweeps of the matrix-free method.
      key: seeds the matrix-free method's first probe block; a fixed key when None.
    """
    xs, _, h0 = _setup(cell, params, xs, carry, "log_jacobian_norms")
    if method == "auto":
        method = "dense" if h0.shape[0] <= _DENSE_MAX else "matfree"
    if method == "dense":
        return _log_sv_jit(cell, params, xs, carry)[:, 0]
    if method == "matfree":
        if int(k) < 1 or int(sweeps) < 0:
            raise ValueError(f"matfree needs k >= 1 and sweeps >= 0, got k={k}, sweeps={sweeps}")
        key = jax.random.key(0) if key is None else key
        return _matfree_jit(cell, params, xs, carry, key, k=int(k), sweeps=int(sweeps))
    raise ValueError(f"method must be 'auto', 'dense' or 'matfree', got {method!r}")


# One compiled program per (cell, shapes): the cell is a static argument (a hashable NamedTuple
# of functions), so repeated calls with the same cell object reuse the compilation.


@partial(jax.jit, static_argnums=0)
def _log_sv_jit(cell, params, xs, carry):
    f, h0, _ = flat_step(cell, params, carry)
    return _dense_log_singular_values(f, h0, xs)


@partial(jax.jit, static_argnums=0, static_argnames=("k", "sweeps"))
def _matfree_jit(cell, params, xs, carry, key, *, k, sweeps):
    f, h0, _ = flat_step(cell, params, carry)
    return _matfree_log_norms(f, h0, xs, k=k, sweeps=sweeps, key=key)


def jacobian_norms(
    cell: Cell, params: PyTree, xs: Array, carry: PyTree | None = None, **kwargs
) -> Array:
    r"""``||dh_t/dh_0||_2 = sigma_max(J_t ... J_1)`` for ``t = 1..T``, shape ``(T,)``.

    ``h`` is the whole carry flattened (for the LSTM ``(h, c)`` together). ``xs`` is one sequence
    ``(T, input_size)``; ``jax.vmap`` batches over params, inputs and carries. Keyword arguments
    (``method``, ``k``, ``sweeps``, ``key``) as in :func:`log_jacobian_norms`, which returns the
    logarithm and is the one to use for long products (this one over/underflows like the
    numbers themselves).

    Example: a linear RNN with ``W_h = rho * Q`` (``Q`` orthogonal) gives exactly ``rho ** t``.
    """
    return jnp.exp(log_jacobian_norms(cell, params, xs, carry, **kwargs))
