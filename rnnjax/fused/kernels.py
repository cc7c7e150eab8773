"""The two Pallas kernels: the forward recurrence and the backward recurrence through time.

Each kernel program owns a block of ``block_b`` sequences and runs the whole time loop
(``lax.fori_loop`` inside the kernel), so the carry stays in registers for all ``T`` steps and
there is one kernel launch per sequence batch instead of one loop iteration of XLA per step.
When the recurrent weights are small enough (:func:`resident`), they are loaded once before the
loop and stay on chip; otherwise each step reads them again (from the L2 cache on a GPU).

All arrays are time-major and already padded: ``T × B × H`` with ``B`` a multiple of
``block_b`` and ``H`` a power of two ≥ 16 (the tile sizes of Triton's matrix product), see
:mod:`rnnjax.fused.recurrence`. Per step ``t`` the kernels read the masks ``m_t`` (step is real:
``t < length``) and ``r_t`` (reset before the step), each ``(B, 1)`` with values 0 or 1:

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

from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax.experimental import pallas as pl
from jax.experimental.pallas import triton as pl_triton

from rnnjax.fused.cells import KernelCell

Array = jax.Array

RESIDENT_BYTES = 64 * 1024  # recurrent weights up to this size are loaded once per kernel


class Config(NamedTuple):
    """Static kernel settings: batch rows per program, Triton warps, interpret mode."""

    block_b: int = 16
    num_warps: int = 4
    interpret: bool = False


def resident(kc: KernelCell, H: int, dtype) -> bool:
    """Whether the ``G`` recurrent ``(H, H)`` blocks are kept on chip for the whole loop."""
    return kc.gates * H * H * jnp.dtype(dtype).itemsize <= RESIDENT_BYTES


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


def forward(kc: KernelCell, cfg: Config, ws, b_hn, us, c0, rc, m, r, *, save: bool):
    """Run the recurrence. Returns ``(carries, saved)``: the carry after every step (tuples of
    ``(T, B, H)``) and, when ``save``, the activations the backward kernel needs."""
    T, B, H = us[0].shape
    dt, bb, G, nc = us[0].dtype, cfg.block_b, kc.gates, kc.n_carry
    keep = resident(kc, H, dt)
    n_saved = kc.n_saved if save else 0
    extra = (b_hn,) if kc.has_b_hn else ()

    def kernel(*refs):
        u_refs, w_refs = refs[:G], refs[G:2 * G]
        rest = refs[2 * G:]
        b_ref, rest = (rest[0], rest[1:]) if kc.has_b_hn else (None, rest)
        c0_refs, rc_refs, (m_ref, r_ref), rest = rest[:nc], rest[nc:2 * nc], rest[2 * nc:2 * nc + 2], \
            rest[2 * nc + 2:]
        out_refs, saved_refs = rest[:nc], rest[nc:]
        weights = tuple(w[...] for w in w_refs) if keep else None
        b = None if b_ref is None else b_ref[...]
        reset_to = tuple(ref[...] for ref in rc_refs)

        def body(t, carry):
            real, reset = m_ref[t] > 0, r_ref[t] > 0
            c_in = tuple(jnp.where(reset, c0_, c) for c0_, c in zip(reset_to, carry, strict=True))
            ws_t = weights if keep else tuple(w[...] for w in w_refs)
            new, saved = kc.forward(tuple(u[t] for u in u_refs), ws_t, b, c_in)
            carry = tuple(jnp.where(real, n, c) for n, c in zip(new, carry, strict=True))
            for ref, v in zip(out_refs, carry, strict=True):
                ref[t] = v
            for ref, v in zip(saved_refs, saved[:n_saved], strict=True):
                ref[t] = v
            return carry

        jax.lax.fori_loop(0, T, body, tuple(ref[...] for ref in c0_refs))

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
    keep = resident(kc, H, dt)
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
        weights = tuple(w[...] for w in wt_refs) if keep else None
        b = None if b_ref is None else b_ref[...]

        def body(i, state):
            t = T - 1 - i
            g_next, g_rc = state
            real, reset = m_ref[t] > 0, r_ref[t] > 0
            g_after = tuple(g + ref[t] for g, ref in zip(g_next, g_refs, strict=True))
            g_new = tuple(jnp.where(real, g, 0.0) for g in g_after)
            wts_t = weights if keep else tuple(w[...] for w in wt_refs)
            g_in, du, extra = kc.backward(tuple(ref[t] for ref in saved_refs),
                                          tuple(ref[t] for ref in new_refs),
                                          tuple(ref[t] for ref in in_refs), g_new, wts_t, b)
            for ref, v in zip(du_refs + extra_refs, du + extra, strict=True):
                ref[t] = v
            g_prev = tuple(jnp.where(real, 0.0, ga) + jnp.where(reset, 0.0, gi)
                           for ga, gi in zip(g_after, g_in, strict=True))
            g_rc = tuple(acc + jnp.where(reset, gi, 0.0) for acc, gi in zip(g_rc, g_in, strict=True))
            return g_prev, g_rc

        zeros = tuple(jnp.zeros((bb, H), dt) for _ in range(nc))
        g0, grc = jax.lax.fori_loop(0, T, body, (zeros, zeros))
        for ref, v in zip(g0_refs + grc_refs, g0 + grc, strict=True):
            ref[...] = v

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
