"""``unroll(..., method="fused" | "cudnn" | "auto")`` for a single cell, and the rule of ``"auto"``.

The rule (:func:`choose_method`): on CPU (and TPU) ``"scan"``; on a GPU ``"fused"`` for the cells
and options the fused kernels compute (:data:`rnnjax.fused.cells.SUPPORTED`, without ``remat``)
in float32 or float64, ``"scan"`` otherwise. Both then compute the same function in the same
dtype, so the choice changes results only by floating-point rounding (the order of the sums in
the matrix products). A cell computing in a narrower dtype (bfloat16) runs the fused kernels in
float32 inside (only the outputs are rounded to bfloat16), which is not the scan's per-step
rounding; ``method="fused"`` gives it, ``"auto"`` does not.
"""

from __future__ import annotations

import math
from typing import Any

import jax
import jax.numpy as jnp

from rnnjax import _checks
from rnnjax.cell import Cell
from rnnjax.fused import sequence
from rnnjax.fused.cells import KernelCell, kernel_cell, stepping
from rnnjax.fused.kernels import Config
from rnnjax.fused.recurrence import recurrence

Array = jax.Array
PyTree = Any


def choose_method(cell: Cell, *, remat: bool | int = False, key: Array | None = None,
                  backend: str | None = None) -> str:
    """What ``method="auto"`` runs for a single cell: ``"fused"`` on a GPU where supported."""
    backend = jax.default_backend() if backend is None else backend
    if backend != "gpu" or remat is not False or key is not None:
        return "scan"
    try:
        kernel_cell(cell)
    except ValueError:
        return "scan"
    dtype = _checks.resolve_float(dict(stepping(cell)[0].spec[1])["dtype"])
    return "fused" if dtype in (jnp.float32, jnp.float64) else "scan"


def config(backend: str | None = None) -> Config:
    """Kernel settings for the backend: compiled Triton on a GPU, interpret mode on CPU."""
    backend = jax.default_backend() if backend is None else backend
    if backend not in ("gpu", "cpu"):
        raise ValueError(f"unroll(method='fused'): runs on GPU (Triton) or CPU (interpret mode), "
                         f"not on {backend}; use method='scan'")
    return Config(interpret=backend == "cpu")


def _check(cell: Cell, method: str, dtype, *, resets, remat, return_carries, key
           ) -> KernelCell | None:
    """The cell's :class:`KernelCell` (``None`` for cuDNN), or a one-line ``ValueError``."""
    where = f"unroll(method={method!r})"
    if method == "cudnn":
        from rnnjax.fused.cudnn import applies
        reason = applies(cell, dtype, resets=resets, remat=remat, return_carries=return_carries,
                         key=key)
        if reason is not None:
            raise ValueError(f"{where}: {reason}")
        return None
    kc = kernel_cell(cell, where)
    if remat is not False:
        raise ValueError(f"{where}: remat does not apply (the kernels keep each step's gates); "
                         f"use method='scan' for remat")
    if key is not None:
        raise ValueError(f"{where}: cells with randomness (a key) are not supported")
    return kc


def fused_unroll(cell: Cell, params: PyTree, xs: Array, carry: PyTree, *, lengths, resets,
                 reset_carry, reverse, return_carries, remat, method: str = "fused",
                 key: Array | None = None, cfg: Config | None = None, **ignored
                 ) -> tuple[PyTree, Any]:
    """The fused (or cuDNN) evaluation of :func:`rnnjax.unroll`; inputs already validated.

    ``unroll`` and ``hoist`` are ignored: the kernels always hoist the input projection and
    run the whole time loop inside one kernel.
    """
    cell, params = stepping(cell, params)  # a learned initial carry is already in ``carry``
    leaves, treedef = jax.tree.flatten(carry)
    dt = leaves[0].dtype
    kc = _check(cell, method, dt, resets=resets, remat=remat, return_carries=return_carries,
                key=key)
    batch_shape, T, H = tuple(xs.shape[:-2]), xs.shape[-2], cell.output_size
    B = math.prod(batch_shape)
    if T == 0 or B == 0:  # nothing to run: the carry as given, outputs of size zero
        ys = jnp.zeros(batch_shape + (T, H), dt)
        carries = jax.tree.map(lambda c: jnp.zeros(batch_shape + (T,) + c.shape[-1:], c.dtype), carry)
        return carry, ((ys, carries) if return_carries else ys)
    if method == "cudnn":
        from rnnjax.fused.cudnn import cudnn_unroll
        return cudnn_unroll(cell, params, xs, carry, lengths=lengths, reverse=reverse)
    cfg = config() if cfg is None else cfg
    flat = lambda tree: tuple(a.reshape(B, H) for a in jax.tree.leaves(tree))
    c0 = flat(carry)
    rc = c0 if reset_carry is None else flat(reset_carry)
    prep = sequence.prepare(xs, lengths, resets, reverse)
    u = cell.project(params, prep.xs)  # (T, B, G·H): the input projection of all steps at once
    cdt = jnp.promote_types(dt, jnp.float32)  # the kernels compute in float32 or float64
    b_hn = params.b_hn.astype(cdt) if kc.has_b_hn else None
    cast = lambda tree: tuple(a.astype(cdt) for a in tree)
    carries = recurrence(kc, cfg, params.w_h.astype(cdt), b_hn, u.astype(cdt), cast(c0), cast(rc),
                         prep.real, prep.reset)
    carries = tuple(c.astype(dt) for c in carries)
    final = jax.tree.unflatten(treedef, [c[-1].reshape(batch_shape + (H,)) for c in carries])
    ys = sequence.finish(jnp.where(prep.real[..., None], carries[0], 0), prep, batch_shape)
    if not return_carries:
        return final, ys
    per_step = jax.tree.unflatten(treedef, [sequence.finish(c, prep, batch_shape) for c in carries])
    return final, (ys, per_step)
