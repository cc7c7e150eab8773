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
    Never forms an ``N x N`` matrix and never stores the trajectory. ``k`` probe vectors, aimed
    at ``k`` log-spaced times :math:`t_j`, each get ``sweeps`` rounds of power iteration

    .. math::

        w_j \leftarrow P_{t_j}^\top P_{t_j} w_j / \|P_{t_j}^\top P_{t_j} w_j\| ,

    all at once: a forward sweep pushes the block through the ``jvp`` of every step, a backward
    sweep pulls it back through the ``vjp``. A last forward sweep pushes
    :math:`Q_0 = \mathrm{orth}(w_1..w_k)` through every step, :math:`P_t Q_0 = Q_t M_t` with
    :math:`Q_t` re-orthonormalised by QR and the ``k x k`` factor :math:`M_t` kept, so
    :math:`\sigma_{\max}(P_t Q_0) = \sigma_{\max}(M_t) \le \sigma_{\max}(P_t)` for every ``t``:
    the top right singular vectors turn slowly with ``t``, so :math:`Q_0` holds them for the
    times between the targets as well and the bound is tight. The first 16 products, whose
    singular vectors turn fastest, get a power iteration each (100 rounds on those steps only).
    ``O(T N k)`` Jacobian-vector products per sweep.

    Memory: the backward sweep needs the carry :math:`h_{t-1}` at every step in reverse order.
    It is recomputed from checkpoints, the carry at the start of each of :math:`\sqrt{T}`
    blocks (one extra evaluation of the cell per step), so memory is
    :math:`O(N k + \sqrt{T} N)`, not :math:`O(T N)`: at ``N = 1024``, ``k = 32`` the compiled
    program's temporaries are 1.0 MiB at ``T = 1000`` and 2.3 MiB at ``T = 16000``.

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

import math
from collections.abc import Sequence
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
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


def _check_length(length, T: int, where: str, minimum: int = 0):
    """``None``, or ``length`` as an int32 scalar (traced values are clipped to ``minimum..T``)."""
    if length is None:
        return None
    try:
        integer = jnp.issubdtype(jnp.result_type(length), jnp.integer)
    except TypeError:
        integer = False
    if not integer or jnp.ndim(length) != 0:
        raise TypeError(f"{where}: length must be an integer scalar (it may be traced), got "
                        f"{type(length).__name__} of shape {jnp.shape(length)}")
    if not isinstance(length, jax.core.Tracer) and not minimum <= int(length) <= T:
        raise ValueError(f"{where}: length must lie in {minimum}..{T} (T = {T}), got {int(length)}")
    return jnp.clip(jnp.asarray(length, jnp.int32), minimum, T)


def _with_length(f, xs: Array, length):
    """The map with steps past ``length`` replaced by the identity.

    The step's liveness rides along as an extra last input column (1 live, 0 padded), so every
    sweep over ``xs`` (blocked, sliced, reversed) sees it without bookkeeping. Padded inputs are
    replaced by zeros before they reach the cell, so non-finite padding never reaches a gradient.
    """
    if length is None:
        return f, xs
    live = (jnp.arange(1, xs.shape[0] + 1) <= length).astype(xs.dtype)
    xs = jnp.concatenate([xs, live[:, None]], axis=1)

    def masked(h: Array, x: Array) -> tuple[Array, Array]:
        keep = x[-1] > 0
        h_next, y = f(h, jnp.where(keep, x[:-1], jnp.zeros_like(x[:-1])))
        y = jax.tree.map(lambda a: jnp.where(keep, a, jnp.zeros_like(a)), y)
        return jnp.where(keep, h_next, h), y

    return masked, xs


def _setup(cell, params, xs, carry, where):
    xs = _check_xs(xs, where)
    f, h0, _ = flat_step(cell, params, carry)
    if carry is not None:
        _check_carry_unbatched(h0, carry, where)
    return xs, f, h0


def _columns(fn):
    """``fn`` (vector -> vector) applied to every column of an ``(N, m)`` block."""
    return jax.vmap(fn, in_axes=1, out_axes=1)


def _safe_log(x: Array) -> Array:
    return jnp.log(jnp.where(x > 0, x, 0.0))  # log(0) = -inf, never nan


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


# ----------------------------------------------------------------------------- matrix-free


def _orthonormal(key, n: int, k: int, dtype) -> Array:
    q, _ = jnp.linalg.qr(jax.random.normal(key, (n, k), dtype))
    return q


def _normalised(z: Array) -> tuple[Array, Array]:
    """The columns of ``z`` scaled to unit norm (zero columns stay zero), and their norms."""
    nz = jnp.linalg.norm(z, axis=0)
    return z / jnp.where(nz > 0, nz, 1.0)[None, :], nz


def _target_times(first: int, T: int, k: int) -> np.ndarray:
    """At most ``k`` distinct, log-spaced integer times in ``first..T`` (static)."""
    if first > T:
        return np.zeros((0,), np.int32)
    return np.unique(np.round(np.geomspace(first, T, k))).astype(np.int32)


def _blocks(xs: Array) -> tuple[Array, Array]:
    """``xs`` in ``ceil(T / B)`` blocks of ``B = ceil(sqrt(T))`` steps (zero-padded at the end),
    shape ``(blocks, B, input_size)``, and the 1-based time of every step, ``(blocks, B)``."""
    T = xs.shape[0]
    size = math.isqrt(T - 1) + 1
    blocks = -(-T // size)
    padded = jnp.pad(xs, ((0, blocks * size - T), (0, 0)))
    return padded.reshape(blocks, size, xs.shape[1]), jnp.arange(1, blocks * size + 1).reshape(
        blocks, size
    )


def _advance(f, T: int, h: Array, x: Array, t: Array) -> Array:
    """One step of the map at time ``t``; the padding steps past ``T`` leave ``h`` as it is."""
    return jnp.where(t <= T, f(h, x)[0], h)


def _block_starts(f, h0: Array, xs_b: Array, times: Array, T: int) -> Array:
    """The carry at the start of every block, ``(blocks, N)``: the checkpoints of the trajectory."""

    def block(h, inputs):
        h_end, _ = jax.lax.scan(lambda hh, xt: (_advance(f, T, hh, *xt), None), h, inputs)
        return h_end, h

    _, starts = jax.lax.scan(block, h0, (xs_b, times))
    return starts


def _pull_back(f, T: int, xs_b: Array, times: Array, starts: Array, update, g: Array) -> Array:
    r"""Runs ``g <- update(g, t, vjp_t)`` for ``t = T, ..., 1``, where ``vjp_t(c) = J_t^T c``.

    ``update`` is also called for the padding steps ``t > T`` of the last block (first, since
    time runs backwards) and must return ``g`` unchanged there.

    The linearisation points :math:`h_{t-1}` are recomputed one block at a time from the
    checkpoints ``starts`` (one forward pass of ``f`` per block), so the trajectory is never
    stored: memory :math:`O(\sqrt{T} N)` instead of :math:`O(T N)`, for one extra evaluation
    of ``f`` per step.
    """

    def block(g, inputs):
        h_start, x_blk, t_blk = inputs
        _, hs = jax.lax.scan(  # hs[i] = the carry before step i of the block
            lambda h, xt: (_advance(f, T, h, *xt), h), h_start, (x_blk, t_blk)
        )

        def step(g, inputs):
            x, t, h = inputs
            _, vjp = jax.vjp(lambda hh: f(hh, x)[0], h)
            return update(g, t, lambda c: vjp(c)[0]), None

        g, _ = jax.lax.scan(step, g, (x_blk, t_blk, hs), reverse=True)
        return g, None

    g, _ = jax.lax.scan(block, g, (starts, xs_b, times), reverse=True)
    return g


def _power_iteration(f, h0: Array, xs: Array, targets: np.ndarray, w: Array, iters: int):
    r"""One power iteration per column: column ``j`` of ``w`` converges to the top right singular
    vector of :math:`P_{t_j}` (``t_j = targets[j]``), all columns in one jvp/vjp sweep.

    Each round is :math:`w_j \leftarrow P_{t_j}^\top P_{t_j} w_j / \|\cdot\|`: a forward sweep
    (``jvp``) carries every column to its target time, a backward sweep (``vjp``, trajectory
    recomputed from checkpoints) carries it back. Vectors are renormalised every step, so
    nothing over- or underflows.

    Returns ``(w, log_norms)``: the refined probes, and :math:`\log\|P_{t_j} w_j\|_2` for the
    probes the last round started from (measured by that round's forward sweep, so no extra
    sweep is spent on it), a lower bound on :math:`\log\sigma_{\max}(P_{t_j})`.
    """
    T = xs.shape[0]
    tgt = jnp.asarray(targets)
    xs_b, times = _blocks(xs)
    starts = _block_starts(f, h0, xs_b, times, T)

    def forward(w):  # -> (P_{t_j} w_j normalised, log ||P_{t_j} w_j||)
        def body(state, inputs):
            h, y, log_norm, out = state
            x, t = inputs
            h_next, jvp = jax.linearize(lambda hh: f(hh, x)[0], h)
            z, nz = _normalised(_columns(jvp)(y))
            active = t <= tgt
            y = jnp.where(active[None, :], z, y)
            log_norm = log_norm + jnp.where(active, _safe_log(nz), 0.0)
            out = jnp.where((t == tgt)[None, :], z, out)
            return (h_next, y, log_norm, out), None

        init = (h0, w, jnp.zeros(tgt.shape, w.dtype), jnp.zeros_like(w))
        (_, _, log_norm, out), _ = jax.lax.scan(body, init, (xs, jnp.arange(1, T + 1)))
        return out, log_norm

    def backward(u):  # -> P_{t_j}^T u_j, normalised
        def update(g, t, vjp):
            g = jnp.where((t == tgt)[None, :], u, g)
            z, _ = _normalised(_columns(vjp)(g))
            return jnp.where((t <= tgt)[None, :], z, g)

        return _pull_back(f, T, xs_b, times, starts, update, jnp.zeros_like(u))

    def round_(_, state):
        w, _ = state
        out, log_norm = forward(w)
        g, norms = _normalised(backward(out))
        w = jnp.where(norms[None, :] > 0, g, w)  # keep the old probe where nothing came back
        return w, log_norm

    if iters == 0:
        return w, forward(w)[1]
    return jax.lax.fori_loop(0, iters, round_, (w, jnp.zeros(tgt.shape, w.dtype)))


def _subspace_log_norms(f, h0: Array, xs: Array, q0: Array) -> Array:
    r"""``log sigma_max(P_t Q0)`` for ``t = 1..T`` in one forward sweep, nothing stored.

    :math:`P_t Q_0 = Q_t M_t` with :math:`Q_t` re-orthonormalised by QR every step and the
    ``k x k`` factor :math:`M_t` (kept at unit norm with a running log-scale), so
    :math:`\sigma_{\max}(P_t Q_0) = \sigma_{\max}(M_t)`.
    """
    k = q0.shape[1]

    def body(state, x):
        h, q, m, log_scale = state
        h_next, jvp = jax.linearize(lambda hh: f(hh, x)[0], h)
        q, r = jnp.linalg.qr(_columns(jvp)(q))
        m = r @ m
        top = jnp.linalg.svd(m, compute_uv=False)[0]
        scale = jnp.where(top > 0, top, 1.0)
        return (h_next, q, m / scale, log_scale + jnp.log(scale)), log_scale + _safe_log(top)

    dtype = h0.dtype
    init = (h0, q0, jnp.eye(k, dtype=dtype), jnp.zeros((), dtype))
    _, log_sig = jax.lax.scan(body, init, xs)
    return log_sig


_EARLY_STEPS = 16  # the first products get a power iteration each (see _matfree_log_norms)
_EARLY_ITERS = 100


def _matfree_log_norms(f, h0: Array, xs: Array, *, k: int, sweeps: int, key) -> Array:
    r"""Lower bounds on ``log sigma_max(P_t)``, tight after a few sweeps; exact for ``k = N``.

    1. ``k`` probes aimed at ``k`` log-spaced times :math:`t_j` after the first 16 steps get
       ``sweeps`` rounds of :func:`_power_iteration`: probe ``j`` turns towards the top right
       singular vector of :math:`P_{t_j}`.
    2. One forward sweep with :math:`Q_0 = \mathrm{orth}(\text{probes})` gives
       :math:`\sigma_{\max}(P_t Q_0) \le \sigma_{\max}(P_t)` for every ``t``
       (:func:`_subspace_log_norms`): the top right singular vectors turn slowly with ``t``,
       so :math:`Q_0` holds them for the times between the targets too.
    3. The first 16 products, whose singular vectors turn fastest, get their own power
       iteration (100 rounds on those steps only); the larger lower bound is kept.
    """
    n, T = h0.shape[0], xs.shape[0]
    k = min(k, n)
    q0 = _orthonormal(key, n, k, h0.dtype)
    if sweeps == 0 or k == n:  # with k = N any orthonormal basis is exact
        return _subspace_log_norms(f, h0, xs, q0)
    targets = _target_times(_EARLY_STEPS + 1, T, k)
    m = len(targets)
    if m:
        w, _ = _power_iteration(f, h0, xs, targets, q0[:, :m], sweeps)
        q0, _ = jnp.linalg.qr(jnp.concatenate([w, q0[:, m:]], axis=1))
    log_sig = _subspace_log_norms(f, h0, xs, q0)
    t0 = min(_EARLY_STEPS, T)
    probes, _ = _normalised(jax.random.normal(jax.random.fold_in(key, 1), (n, t0), h0.dtype))
    _, early = _power_iteration(f, h0, xs[:t0], np.arange(1, t0 + 1), probes, _EARLY_ITERS)
    return log_sig.at[:t0].max(early)


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
    return jnp.exp(log_jacobian_norms(cell, params, xs, carry, **kwargs))
