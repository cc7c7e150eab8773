"""The two Pallas kernels: the forward recurrence and the backward recurrence through time.

Each kernel program owns a block of ``block_b`` sequences and runs the whole time loop
(``lax.fori_loop`` inside the kernel), so the carry stays in registers for all ``T`` steps and
there is one kernel launch per batch block instead of one loop iteration of XLA per step.

The hidden units are split into chunks of ``n = min(H, chunk)`` and the carry is held as one
array per chunk; a recurrent product is a sum of ``(block_b, n) × (n, n)`` tile products,
``a^k_j = Σ_i h_i W^k_{ij}``, so no operand exceeds a tile however large ``H`` is (a GPU's
shared memory holds a ``64 × 64`` float32 tile, not a ``256 × 256`` one). When all ``G`` blocks
of ``W_h`` fit in ``resident_bytes`` they are loaded once before the loop and stay on chip;
otherwise each step reads its tiles again (from the L2 cache on a GPU).

All arrays are time-major and already padded: ``T × B × H`` with ``B`` a multiple of
``block_b`` and ``H`` a power of two ≥ 16 (the tile sizes of Triton's matrix product), see
:mod:`rnnjax.fused.recurrence`. Per step ``t`` the kernels read the masks ``m_t`` (the step is
real: ``t < length``) and ``r_t`` (reset before the step), each ``(B, 1)`` holding 0 or 1:

.. math::

    \\tilde c = r_t\\,?\\,c^{reset} : c_{t-1},\\qquad
    c_t = m_t\\,?\\,\\text{step}(\\tilde c, u_t) : c_{t-1}

and the backward kernel applies the transpose of this routing: the cotangent of ``c_t`` goes to
the step where ``m_t``, to ``c_{t-1}`` where not; the step's carry cotangent goes to ``c_{t-1}``
unless ``r_t``, else it is summed into the reset carry's cotangent.

On CPU the kernels run in Pallas interpret mode (``interpret=True``): the same kernel code,
evaluated by XLA, which is what the tests check against ``lax.scan``. On a GPU they compile with
the Triton backend.
"""

from __future__ import annotations

import functools
import operator
from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax.experimental import pallas as pl
from jax.experimental.pallas import triton as pl_triton

from rnnjax.fused.cells import KernelCell

Array = jax.Array


class Config(NamedTuple):
    """Static kernel settings.

    Attributes:
      block_b: sequences per kernel program (a multiple of 16 for Triton's matrix product).
      chunk: hidden units per tile.
      resident_bytes: recurrent weights up to this size are loaded once per kernel.
      num_warps: Triton warps per program.
      interpret: Pallas interpret mode (CPU).
    """

    block_b: int = 16
    chunk: int = 64
    resident_bytes: int = 32 * 1024
    num_warps: int = 4
    interpret: bool = False


def _call(kernel, cfg: Config, in_arrays, out_shapes, in_blocks, out_blocks):
    """``pallas_call`` over batch blocks; a block spec is ``(shape, batch_axis | None)``."""
    def spec(shape, batch_axis):
        def index(i):
            return tuple(i if d == batch_axis else 0 for d in range(len(shape)))
        return pl.BlockSpec(shape, index)

    B = next(a.shape[axis] for a, (_, axis) in zip(in_arrays, in_blocks, strict=True)
             if axis is not None)
    return pl.pallas_call(
        kernel, grid=(B // cfg.block_b,),
        in_specs=[spec(*b) for b in in_blocks], out_specs=[spec(*b) for b in out_blocks],
        out_shape=out_shapes, interpret=cfg.interpret,
        compiler_params=pl_triton.CompilerParams(num_warps=cfg.num_warps, num_stages=1),
    )(*in_arrays)


class _Tiles:
    """Tile ``(i, j)`` of each of ``G`` square weight refs: once (resident) or at every use."""

    def __init__(self, refs, n: int, H: int, resident: bool):
        self.refs, self.n, self.m, self.resident = refs, n, H // n, resident
        self.loaded = [[[self._load(w, i, j) for j in range(self.m)] for i in range(self.m)]
                       for w in refs] if resident else None

    def _load(self, ref, i, j):
        n = self.n
        return ref[i * n:(i + 1) * n, j * n:(j + 1) * n]

    def __call__(self, k: int, i: int, j: int) -> Array:
        return self.loaded[k][i][j] if self.resident else self._load(self.refs[k], i, j)


def _dot(a: Array, b: Array) -> Array:
    return jnp.dot(a, b, preferred_element_type=a.dtype)


def _sum(terms) -> Array:
    return functools.reduce(operator.add, terms)


def _chunks(ref, n: int, m: int, t=None) -> tuple:
    """The ``m`` column chunks of width ``n`` of ``ref[t]`` (or of ``ref`` when ``t`` is None)."""
    if t is None:
        return tuple(ref[:, j * n:(j + 1) * n] for j in range(m))
    return tuple(ref[t, :, j * n:(j + 1) * n] for j in range(m))


def _at(refs, t, j: int, n: int) -> tuple:
    """Chunk ``j`` of step ``t`` of each ref."""
    return tuple(ref[t, :, j * n:(j + 1) * n] for ref in refs)


def _store(ref, t, chunks, n: int) -> None:
    for j, v in enumerate(chunks):
        ref[t, :, j * n:(j + 1) * n] = v


def forward(kc: KernelCell, cfg: Config, ws, b_hn, us, c0, rc, m, r, *, save: bool):
    """Run the recurrence. Returns ``(carries, saved)``: the carry after every step (tuples of
    ``(T, B, H)``) and, when ``save``, the activations the backward kernel needs."""
    T, B, H = us[0].shape
    dt, bb, G, nc = us[0].dtype, cfg.block_b, kc.gates, kc.n_carry
    n = min(H, cfg.chunk)
    nch = H // n
    keep = G * H * H * jnp.dtype(dt).itemsize <= cfg.resident_bytes
    n_saved = kc.n_saved if save else 0
    extra = (b_hn,) if kc.has_b_hn else ()

    def kernel(*refs):
        u_refs, w_refs, rest = refs[:G], refs[G:2 * G], refs[2 * G:]
        b_ref, rest = (rest[0], rest[1:]) if kc.has_b_hn else (None, rest)
        c0_refs, rc_refs, rest = rest[:nc], rest[nc:2 * nc], rest[2 * nc:]
        m_ref, r_ref, rest = rest[0], rest[1], rest[2:]
        out_refs, saved_refs = rest[:nc], rest[nc:]
        tiles = _Tiles(w_refs, n, H, keep)
        b = None if b_ref is None else _chunks(b_ref, n, nch)
        reset_to = tuple(_chunks(ref, n, nch) for ref in rc_refs)

        def body(t, carry):
            real, reset = m_ref[t] > 0, r_ref[t] > 0
            c_in = tuple(tuple(jnp.where(reset, x0, x) for x0, x in zip(c0_, c, strict=True))
                         for c0_, c in zip(reset_to, carry, strict=True))
            h = c_in[0]
            new_chunks, saved_chunks = [], []
            for j in range(nch):
                a = tuple(_sum(_dot(h[i], tiles(k, i, j)) for i in range(nch)) for k in range(G))
                us_j = tuple(u[t, :, j * n:(j + 1) * n] for u in u_refs)
                new, saved = kc.forward(us_j, a, None if b is None else b[j],
                                        tuple(c[j] for c in c_in))
                new_chunks.append(tuple(jnp.where(real, x, c[j])
                                        for x, c in zip(new, carry, strict=True)))
                saved_chunks.append(saved)
            carry = tuple(tuple(chunks[q] for chunks in new_chunks) for q in range(nc))
            for ref, chunks in zip(out_refs, carry, strict=True):
                _store(ref, t, chunks, n)
            for q, ref in enumerate(saved_refs):
                _store(ref, t, [s[q] for s in saved_chunks], n)
            return carry

        jax.lax.fori_loop(0, T, body, tuple(_chunks(ref, n, nch) for ref in c0_refs))

    seq, mat, row = ((T, bb, H), 1), ((H, H), None), ((bb, H), 0)
    mask = ((T, bb, 1), 1)
    in_blocks = [seq] * G + [mat] * G + [((1, H), None)] * len(extra) + [row] * (2 * nc) + [mask] * 2
    n_out = nc + n_saved
    outs = _call(kernel, cfg, (*us, *ws, *extra, *c0, *rc, m, r),
                 [jax.ShapeDtypeStruct((T, B, H), dt)] * n_out, in_blocks, [seq] * n_out)
    return tuple(outs[:nc]), tuple(outs[nc:])


def backward(kc: KernelCell, cfg: Config, wts, b_hn, saved, carries, carries_in, g_carries,
             m, r):
    """The backward recurrence, from ``t = T − 1`` down to 0.

    Args: the transposed recurrent blocks ``wts``, the forward's ``saved`` activations and
    ``carries`` (after each step), ``carries_in`` (the carry each step started from, after the
    reset), ``g_carries`` (cotangents of the carries after each step), the masks.

    Returns ``(du, extra, g_c0, g_rc)``: per-step cotangents of the projected inputs (``G``
    arrays ``(T, B, H)``), the cell's extra per-step cotangents (the GRU's ``da^n``), and the
    cotangents of the initial carry and of the reset carry (each a tuple of ``(B, H)``).
    """
    T, B, H = carries[0].shape
    dt, bb, G, nc = carries[0].dtype, cfg.block_b, kc.gates, kc.n_carry
    n = min(H, cfg.chunk)
    nch = H // n
    keep = G * H * H * jnp.dtype(dt).itemsize <= cfg.resident_bytes
    n_extra = 1 if kc.has_b_hn else 0
    extra_in = (b_hn,) if kc.has_b_hn else ()
    ns = kc.n_saved

    def kernel(*refs):
        wt_refs, rest = refs[:G], refs[G:]
        b_ref, rest = (rest[0], rest[1:]) if kc.has_b_hn else (None, rest)
        saved_refs, rest = rest[:ns], rest[ns:]
        new_refs, in_refs, g_refs, rest = rest[:nc], rest[nc:2 * nc], rest[2 * nc:3 * nc], rest[3 * nc:]
        m_ref, r_ref, rest = rest[0], rest[1], rest[2:]
        du_refs, extra_refs = rest[:G], rest[G:G + n_extra]
        g0_refs, grc_refs = rest[G + n_extra:G + n_extra + nc], rest[G + n_extra + nc:]
        tiles = _Tiles(wt_refs, n, H, keep)
        b = None if b_ref is None else _chunks(b_ref, n, nch)

        def body(s, state):
            t = T - 1 - s
            g_next, g_rc = state
            real, reset = m_ref[t] > 0, r_ref[t] > 0
            g_after = tuple(tuple(g[j] + ref[t, :, j * n:(j + 1) * n] for j in range(nch))
                            for g, ref in zip(g_next, g_refs, strict=True))
            through_a = [None] * nch  # cotangent of h_in through the recurrent products
            direct = [[None] * nch for _ in range(nc)]
            for j in range(nch):
                g_new = tuple(jnp.where(real, g[j], 0.0) for g in g_after)
                g_direct, du, extra = kc.backward(
                    _at(saved_refs, t, j, n), _at(new_refs, t, j, n), _at(in_refs, t, j, n), g_new,
                    None if b is None else b[j])
                for ref, v in zip(du_refs + extra_refs, du + extra, strict=True):
                    ref[t, :, j * n:(j + 1) * n] = v
                da = kc.da(du, extra)
                for i in range(nch):
                    p = _sum(_dot(da[k], tiles(k, j, i)) for k in range(G))
                    through_a[i] = p if through_a[i] is None else through_a[i] + p
                for q in range(nc):
                    direct[q][j] = g_direct[q]
            g_in = [[d if d is not None else jnp.zeros((bb, n), dt) for d in direct[q]]
                    for q in range(nc)]
            g_in[0] = [g + a for g, a in zip(g_in[0], through_a, strict=True)]
            g_prev = tuple(tuple(jnp.where(real, 0.0, ga) + jnp.where(reset, 0.0, gi)
                                 for ga, gi in zip(g_after[q], g_in[q], strict=True))
                           for q in range(nc))
            g_rc = tuple(tuple(acc + jnp.where(reset, gi, 0.0)
                               for acc, gi in zip(g_rc[q], g_in[q], strict=True)) for q in range(nc))
            return g_prev, g_rc

        zeros = tuple(tuple(jnp.zeros((bb, n), dt) for _ in range(nch)) for _ in range(nc))
        g0, grc = jax.lax.fori_loop(0, T, body, (zeros, zeros))
        for ref, chunks in zip(g0_refs + grc_refs, g0 + grc, strict=True):
            for j, v in enumerate(chunks):
                ref[:, j * n:(j + 1) * n] = v

    seq, mat, row = ((T, bb, H), 1), ((H, H), None), ((bb, H), 0)
    mask = ((T, bb, 1), 1)
    in_blocks = ([mat] * G + [((1, H), None)] * n_extra + [seq] * (ns + 3 * nc) + [mask] * 2)
    out_blocks = [seq] * (G + n_extra) + [row] * (2 * nc)
    out_shapes = ([jax.ShapeDtypeStruct((T, B, H), dt)] * (G + n_extra)
                  + [jax.ShapeDtypeStruct((B, H), dt)] * (2 * nc))
    outs = _call(kernel, cfg, (*wts, *extra_in, *saved, *carries, *carries_in, *g_carries, m, r),
                 out_shapes, in_blocks, out_blocks)
    k = G + n_extra
    return tuple(outs[:G]), tuple(outs[G:k]), tuple(outs[k:k + nc]), tuple(outs[k + nc:])
