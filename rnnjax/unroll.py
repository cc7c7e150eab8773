"""Running a cell over a sequence: ``lax.scan`` with lengths, reversal and rematerialisation.

``unroll(cell, params, xs)`` computes, for ``t = 1..T``,

.. math::  (c_t, y_t) = \\text{step}(θ, c_{t-1}, x_t), \\qquad c_0 = \\text{initial\\_carry}(θ)

and returns ``(c_T, [y_1 … y_T])`` with ``xs`` and ``ys`` batch-first: ``(*batch, T, features)``.

Right-padded sequences (``lengths``): for a sequence of length ``L``, steps ``t > L`` leave the
carry unchanged and output zeros, so the returned carry is ``c_L`` (``c_0`` when ``L = 0``).
Lengths outside ``[0, T]`` are clipped to it (under ``jit`` they cannot raise, so they never do).
The padding never reaches the cell: padded inputs are replaced by zeros before the step (the
"double where"), so NaN or inf padding gives finite outputs *and* finite gradients.
``reverse=True`` runs each sequence from its last real element back to its first and writes
``y_t`` at position ``t``: the backward half of a bidirectional layer.

Resets (``resets``, boolean ``(*batch, T)``): packed sequences and episode boundaries. Where
``resets[..., t]`` is true, the carry is replaced by the initial carry before step ``t``:

.. math::

    (c_t, y_t) = \\text{step}(θ, \\tilde c_{t-1}, x_t), \\qquad
    \\tilde c_{t-1} = c_0 \\text{ if } r_t \\text{ else } c_{t-1}

so each segment (a maximal run of steps starting at a reset) is computed as if run alone from
``c_0``. Backward in time (``reverse=True``) a segment runs from its end to its start: the carry
is reset before step ``t`` when ``t + 1`` starts a segment, so the backward half of a
bidirectional layer also sees each segment alone. Resets compose with ``lengths`` (resets in
the padding are ignored), stacks, ``remat`` and ``vmap``. ``reset_carry`` sets what a reset
restores when it is not the carry the run starts from: truncated BPTT and RL rollouts start a
chunk from the previous chunk's carry, but an episode boundary inside it restores the fresh
``cell.initial_carry``.

Hoisting the input projection (``hoist``): when the cell splits off its input projection
(``Cell.project``/``Cell.recur``), the projection of all ``T`` inputs can be one matrix product
outside the scan, with only the recurrence inside — the standard optimisation on GPUs (cuDNN).
On XLA:CPU hoisting is usually slower (the benchmarks page of the docs gives the measured ratios,
from ``benchmarks/bench_cells``): small per-step GEMMs run at a higher FLOP rate than one
``(T·B) × I`` GEMM, and the stacked ``(T, B, gates)`` pre-activations cost memory traffic. So
the default is to hoist on GPU/TPU and not on CPU; pass ``hoist=True/False`` to choose.

Memory for long sequences (``remat``): reverse-mode autodiff of a scan stores every step's
residuals. ``remat=True`` stores only the carries and recomputes each step in the backward pass;
``remat=k`` (an int) scans over blocks of ``k`` steps and stores only the carries at block
boundaries, recomputing each block — ``k ≈ √T`` gives memory ``O(√T)`` carries instead of ``O(T)``
residuals, which is what lets ``T = 100 000`` train on a laptop.
"""

from __future__ import annotations

from typing import Any

import jax

from rnnjax import _checks
from rnnjax import _sequence as seq
from rnnjax.cell import Cell, Layer
from rnnjax.fused import choose_method, fused_unroll
from rnnjax.parallel.associative import associative_unroll
from rnnjax.scan import scan_unroll

Array = jax.Array
PyTree = Any

METHODS = ("scan", "associative", "fused", "cudnn", "auto")


def unroll(cell: Cell | Layer, params: PyTree, xs: Array, carry: PyTree | None = None, *,
           lengths: Array | None = None, resets: Array | None = None,
           reset_carry: PyTree | None = None, reverse: bool = False, unroll: int = 1,
           remat: bool | int = False, return_carries: bool = False,
           key: Array | None = None, deterministic: bool = False,
           hoist: bool | None = None, method: str = "scan") -> tuple[PyTree, Any]:
    """Run ``cell`` (a :class:`rnnjax.Cell`, or a :class:`rnnjax.Layer`) over the time axis of ``xs``.

    Args:
      cell: any :class:`rnnjax.Cell` (including stacks of cells) or :class:`rnnjax.Layer`
        (bidirectional passes and stacks containing them).
      params: the cell's parameters.
      xs: inputs of shape ``(*batch, T, input_size)`` (any number of batch dims, also none).
      carry: the initial carry, ``cell.initial_carry(params, batch)`` when ``None``; cast to the
        cell's carry dtype.
      lengths: integer array of shape ``batch``: right-padded sequences. Values are clipped to
        ``[0, T]`` (concrete values in their own dtype, before any cast).
      resets: boolean array ``(*batch, T)``; where true the carry is replaced by ``reset_carry``
        before that step (packed sequences, episode boundaries).
      reset_carry: what a reset restores; the initial carry (``carry``, or the cell's) when
        ``None``. Ignored without ``resets``.
      reverse: process each sequence from its end (padding-aware when ``lengths`` is given).
      unroll: how many steps ``lax.scan`` unrolls per loop iteration (speed, not semantics).
      remat: ``False``; ``True`` to rematerialise every step; an int ``k`` to rematerialise
        blocks of ``k`` steps (memory ``O(T/k + k)`` instead of ``O(T)``).
      return_carries: if True, return ``(ys, carries)`` in place of ``ys``; ``carries`` has the
        carry's structure with leaves ``(*batch, T, ...)``: the carry after each step.
      key: passed to cells that use randomness (a stack with dropout); same key at every step.
      deterministic: run such cells without their randomness (evaluation: no dropout). A stack
        with dropout given neither ``key`` nor ``deterministic=True`` raises, rather than
        silently training without dropout.
      hoist: compute the input projection outside the time loop (whole sequence, or per block
        with block remat); ``None`` chooses by backend: on for GPU/TPU, off for CPU.
      method: ``"scan"`` (sequential ``lax.scan``) or ``"associative"``: for a cell with an
        elementwise affine recurrence (``Cell.affine``: lru, mingru, minlstm), one
        ``lax.associative_scan`` of depth ``O(log T)`` (:mod:`rnnjax.parallel`); ``unroll``,
        ``remat`` and ``hoist`` do not apply to it. ``"fused"``: Elman/LSTM/GRU with the whole
        time loop in one Pallas kernel (:mod:`rnnjax.fused`); ``"cudnn"``: an LSTM through
        cuDNN (GPU); ``"auto"``: ``"fused"`` on a GPU where supported, else ``"scan"``.

    Returns:
      ``(final_carry, ys)`` with ``ys`` of shape ``(*batch, T, cell.output_size)``.
    """
    if not isinstance(cell, (Cell, Layer)):
        raise TypeError(f"unroll: expected an rnnjax.Cell or rnnjax.Layer, got {type(cell).__name__}")
    if method not in METHODS:
        raise ValueError(f"unroll: method must be one of {METHODS}, got {method!r}")
    xs = seq.check_xs(xs, "unroll")
    batch_shape, T = tuple(xs.shape[:-2]), xs.shape[-2]
    carry = seq.resolve_carry(cell, params, carry, batch_shape, "unroll")
    lengths = seq.check_lengths(lengths, batch_shape, T, "unroll")
    resets = seq.check_resets(resets, batch_shape, T, "unroll")
    if resets is None:
        reset_carry = None
    elif reset_carry is None:
        reset_carry = carry
    else:
        reset_carry = seq.resolve_carry(cell, params, reset_carry, batch_shape, "unroll",
                                        "reset_carry")
    if not isinstance(remat, bool):
        remat = _checks.positive_int(remat, "unroll: remat (a bool or a block size)")
    unroll = _checks.positive_int(unroll, "unroll: unroll")
    kw = {} if key is None else {"key": key}
    options = dict(lengths=lengths, resets=resets, reset_carry=reset_carry, reverse=reverse,
                   unroll=unroll, remat=remat, return_carries=return_carries, hoist=hoist)
    if isinstance(cell, Layer) or cell.sequence is not None:
        # A layer or a composition runs its parts, passing the method on.
        if deterministic:
            kw["deterministic"] = True
        return cell.sequence(params, xs, carry, **options, method=method, **kw)
    # The evaluation methods of a single cell dispatch here.
    if method == "auto":
        method = choose_method(cell, remat=remat, key=key)
    if method in ("fused", "cudnn"):
        return fused_unroll(cell, params, xs, carry, **options, method=method, **kw)
    if method == "associative":
        return associative_unroll(cell, params, xs, carry, lengths=lengths, resets=resets,
                                  reset_carry=reset_carry, reverse=reverse,
                                  return_carries=return_carries)
    return scan_unroll(cell, params, xs, carry, **options, **kw)
