r"""Matrix-free norms of Jacobian products: block power iteration on ``jvp``/``vjp`` sweeps.

For the map ``h_t = F(h_{t-1}, x_t)`` on the flattened carry (size ``N``) and the product
:math:`P_t = J_t J_{t-1} \cdots J_1` of its per-step Jacobians (see
:mod:`rnnjax.analysis.jacobians`), :func:`_matfree_log_norms` gives lower bounds on
:math:`\log\sigma_{\max}(P_t)` for ``t = 1..T``, exact for ``k = N`` and, in the tests, within
1e-3 in log for ``k < N``. It never forms an ``N x N`` matrix and never stores the trajectory.

``k`` probe vectors, aimed at ``k`` log-spaced times :math:`t_j`, each get ``sweeps`` rounds of
power iteration

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
:math:`O(N k + \sqrt{T} N)`, not :math:`O(T N)` (``benchmarks/bench_jacobians.py`` measures the
compiled program's temporaries against ``T``; docs/benchmarks.md).

Vectors and factors are renormalised every step with a running log-scale, so nothing over- or
underflows. The public entry point is :func:`rnnjax.analysis.log_jacobian_norms` with
``method="matfree"``.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

from rnnjax.analysis._flat import _columns, _safe_log

Array = jax.Array


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
