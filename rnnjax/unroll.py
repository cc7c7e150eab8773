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
On XLA:CPU it measured *slower* here (0.5–0.7× at both benchmark shapes, ``benchmarks/bench_cells``):
small per-step GEMMs run at a higher FLOP rate than one ``(T·B) × I`` GEMM, and the stacked
``(T, B, gates)`` pre-activations cost memory traffic. So the default is to hoist on GPU/TPU and
not on CPU; pass ``hoist=True/False`` to choose.

Memory for long sequences (``remat``): reverse-mode autodiff of a scan stores every step's
residuals. ``remat=True`` stores only the carries and recomputes each step in the backward pass;
``remat=k`` (an int) scans over blocks of ``k`` steps and stores only the carries at block
boundaries, recomputing each block — ``k ≈ √T`` gives memory ``O(√T)`` carries instead of ``O(T)``
residuals, which is what lets ``T = 100 000`` train on a laptop.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from rnnjax import _checks
from rnnjax.cell import Cell

Array = jax.Array
PyTree = Any

METHODS = ("scan", "associative", "fused", "cudnn", "auto")


def unroll(cell: Cell, params: PyTree, xs: Array, carry: PyTree | None = None, *,
           lengths: Array | None = None, resets: Array | None = None,
           reset_carry: PyTree | None = None, reverse: bool = False, unroll: int = 1,
           remat: bool | int = False, return_carries: bool = False,
           key: Array | None = None, deterministic: bool = False,
           hoist: bool | None = None, method: str = "scan") -> tuple[PyTree, Any]:
    """Scan ``cell`` over the time axis of ``xs``.

    Args:
      cell: any :class:`rnnjax.Cell`, including stacks and bidirectional compositions.
      params: the cell's parameters.
      xs: inputs of shape ``(*batch, T, input_size)`` (any number of batch dims, also none).
      carry: the initial carry, ``cell.initial_carry(params, batch)`` when ``None``; cast to the
        cell's carry dtype.
      lengths: integer array of shape ``batch``: right-padded sequences. Values are clipped to
        ``[0, T]``.
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
    if not isinstance(cell, Cell):
        raise TypeError(f"unroll: expected an rnnjax.Cell, got {type(cell).__name__}")
    if method not in METHODS:
        raise ValueError(f"unroll: method must be one of {METHODS}, got {method!r}")
    xs = jnp.asarray(xs)
    if xs.ndim < 2:
        raise ValueError(f"unroll: expected xs of shape (*batch, T, input_size), "
                         f"got shape {tuple(xs.shape)}")
    batch_shape, T = tuple(xs.shape[:-2]), xs.shape[-2]
    expected = jax.eval_shape(lambda p: cell.initial_carry(p, batch_shape), params)
    if carry is None:
        carry = cell.initial_carry(params, batch_shape)
    else:
        carry = _check_carry(carry, expected, batch_shape, "carry")
    lengths = _check_lengths(lengths, batch_shape, T)
    resets = _check_resets(resets, batch_shape, T)
    if resets is None:
        reset_carry = None
    elif reset_carry is None:
        reset_carry = carry
    else:
        reset_carry = _check_carry(reset_carry, expected, batch_shape, "reset_carry")
    if not isinstance(remat, bool):
        remat = _checks.positive_int(remat, "unroll: remat (a bool or a block size)")
    unroll = _checks.positive_int(unroll, "unroll: unroll")
    kw = {} if key is None else {"key": key}
    options = dict(lengths=lengths, resets=resets, reset_carry=reset_carry, reverse=reverse,
                   unroll=unroll, remat=remat, return_carries=return_carries, hoist=hoist)
    if cell.sequence is not None:  # a composition runs its parts, passing the method on
        if deterministic:
            kw["deterministic"] = True
        return cell.sequence(params, xs, carry, **options, method=method, **kw)
    # The evaluation methods of a single cell dispatch here.
    if method == "auto":
        from rnnjax.fused import choose_method
        method = choose_method(cell, remat=remat, key=key)
    if method in ("fused", "cudnn"):
        from rnnjax.fused import fused_unroll
        return fused_unroll(cell, params, xs, carry, **options, method=method, **kw)
    if method == "scan":
        return scan_cell(cell, params, xs, carry, **options, **kw)
    if method == "associative":
        from rnnjax.parallel.associative import associative_unroll
        return associative_unroll(cell, params, xs, carry, lengths=lengths, resets=resets,
                                  reset_carry=reset_carry, reverse=reverse,
                                  return_carries=return_carries)
    raise AssertionError(method)  # unreachable: checked above


def scan_cell(cell: Cell, params: PyTree, xs: Array, carry: PyTree, *, lengths, reverse,
              unroll, remat, return_carries, resets=None, reset_carry=None, hoist=None,
              **kw) -> tuple[PyTree, Any]:
    """The scan behind :func:`unroll` for a single cell (inputs already validated)."""
    T = xs.shape[-2]
    xs_tm = jnp.moveaxis(xs, -2, 0)  # (T, *batch, I): transpose the narrow input, not the gates
    t = lambda: jnp.arange(T).reshape((T,) + (1,) * (xs.ndim - 2))  # time index (T, 1, ...)
    resets_tm = None if resets is None else jnp.moveaxis(resets, -1, 0)  # (T, *batch)
    if resets_tm is not None and reverse:
        # Backward in time a segment starts at its last step: reset before t when t + 1 starts one.
        resets_tm = jnp.concatenate([resets_tm[1:], jnp.zeros_like(resets_tm[:1])], axis=0)
        if lengths is not None:
            resets_tm = resets_tm & (t() + 1 < lengths[None])
    if lengths is not None:
        # The double where: padding is zeroed before the cell sees it, so NaN padding cannot
        # reach the gradients through the masked-out branch of the where below.
        xs_tm = jnp.where(_expand(t() < lengths[None], xs_tm), xs_tm, 0)
    padded_reverse = reverse and lengths is not None
    if padded_reverse:
        xs_tm = _reverse_within_lengths(xs_tm, lengths)
        if resets_tm is not None:
            resets_tm = _reverse_within_lengths(resets_tm, lengths)
    block = remat if not isinstance(remat, bool) else 0
    n_steps = -(-T // block) * block if block else T  # T rounded up to whole blocks
    if n_steps != T:
        xs_tm = jnp.pad(xs_tm, [(0, n_steps - T)] + [(0, 0)] * (xs_tm.ndim - 1))
        if resets_tm is not None:
            resets_tm = jnp.pad(resets_tm, [(0, n_steps - T)] + [(0, 0)] * (resets_tm.ndim - 1))
        if lengths is None:
            lengths = jnp.full(xs.shape[:-2], T, jnp.int32)
    mask = None
    if lengths is not None:
        steps = jnp.arange(n_steps).reshape((n_steps,) + (1,) * lengths.ndim)
        mask = steps < lengths[None]

    if hoist is None:
        hoist = jax.default_backend() != "cpu"
    if hoist and cell.project is not None:
        project = lambda x: cell.project(params, x)
        transition = lambda c, u: cell.recur(params, c, u, **kw)
    else:
        project = lambda x: x
        transition = lambda c, x: cell.step(params, c, x, **kw)

    def body(c, inp):
        u, m, r = inp
        c_in = c
        if r is not None:
            c_in = jax.tree.map(lambda c0, o: jnp.where(_expand(r, o), c0, o), reset_carry, c)
        new_c, y = transition(c_in, u)
        if m is not None:
            new_c = jax.tree.map(lambda n, o: jnp.where(_expand(m, n), n, o), new_c, c)
            y = jnp.where(_expand(m, y), y, jnp.zeros_like(y))
        return new_c, ((y, new_c) if return_carries else y)

    scan_reverse = reverse and not padded_reverse
    if not block:
        # The input projection of all T steps is one matrix product, outside the loop.
        f = jax.checkpoint(body) if remat else body
        carry, out = jax.lax.scan(f, carry, (project(xs_tm), mask, resets_tm),
                                  reverse=scan_reverse, unroll=unroll)
    else:
        # Blocks of `block` steps; each block projects its own inputs (still one product per
        # block) so nothing of size T × gates is stored, and only block-boundary carries are kept.
        blocks = jax.tree.map(lambda a: a.reshape((n_steps // block, block) + a.shape[1:]),
                              (xs_tm, mask, resets_tm))

        @jax.checkpoint
        def block_body(c, inp):
            x, m, r = inp
            return jax.lax.scan(body, c, (project(x), m, r), reverse=scan_reverse, unroll=unroll)

        carry, out = jax.lax.scan(block_body, carry, blocks, reverse=scan_reverse)
        out = jax.tree.map(lambda a: a.reshape((n_steps,) + a.shape[2:]), out)
    out = jax.tree.map(lambda a: a[:T], out)
    if padded_reverse:
        out = jax.tree.map(lambda a: _reverse_within_lengths(a, lengths), out)
    return carry, jax.tree.map(lambda a: jnp.moveaxis(a, 0, -2), out)


def _expand(m: Array, like: Array) -> Array:
    """Append trailing unit axes to the batch mask so it broadcasts against ``like``."""
    return m.reshape(m.shape + (1,) * (like.ndim - m.ndim))


def _reverse_within_lengths(a: Array, lengths: Array) -> Array:
    """Time-major ``a``: reverse ``a[:L]`` of every sequence, leave the padding in place.

    Position ``t < L`` takes element ``L − 1 − t``; the map is its own inverse.
    """
    T = a.shape[0]
    t = jnp.arange(T).reshape((T,) + (1,) * lengths.ndim)
    idx = jnp.where(t < lengths[None], lengths[None] - 1 - t, t)  # (T, *batch)
    idx = idx.reshape(idx.shape + (1,) * (a.ndim - idx.ndim))
    return jnp.take_along_axis(a, jnp.broadcast_to(idx, a.shape), axis=0)


def _check_lengths(lengths, batch_shape: tuple[int, ...], T: int) -> Array | None:
    """Integer lengths of shape ``batch_shape``, clipped to ``[0, T]``."""
    if lengths is None:
        return None
    if isinstance(lengths, (list, tuple)) or np.isscalar(lengths):
        lengths = np.asarray(lengths)
    if not jnp.issubdtype(lengths.dtype, jnp.integer):
        raise TypeError(f"unroll: lengths must be integers, got dtype {lengths.dtype}")
    if tuple(lengths.shape) != batch_shape:
        raise ValueError(f"unroll: expected lengths of shape {batch_shape} (the batch dims of xs),"
                         f" got shape {tuple(lengths.shape)}")
    return jnp.clip(jnp.asarray(lengths), 0, T)


def _check_resets(resets, batch_shape: tuple[int, ...], T: int) -> Array | None:
    if resets is None:
        return None
    if isinstance(resets, (list, tuple)):
        resets = np.asarray(resets)
    if not hasattr(resets, "dtype") or resets.dtype != np.bool_:
        raise TypeError(f"unroll: resets must be a boolean array of shape (*batch, T) = "
                        f"{(*batch_shape, T)}, got dtype {getattr(resets, 'dtype', type(resets))}")
    if tuple(resets.shape) != (*batch_shape, T):
        raise ValueError(f"unroll: expected resets of shape (*batch, T) = {(*batch_shape, T)}, "
                         f"got shape {tuple(resets.shape)}")
    return jnp.asarray(resets)


def _check_carry(carry: PyTree, expected: PyTree, batch_shape: tuple[int, ...], what: str
                 ) -> PyTree:
    """``carry`` with the structure and shapes of ``expected``, cast to its dtypes."""
    c_leaves, c_def = jax.tree.flatten(carry)
    e_leaves, e_def = jax.tree.flatten(expected)
    if c_def != e_def:
        raise TypeError(f"unroll: expected a {what} with structure {e_def}, got {c_def}")
    for c, e in zip(c_leaves, e_leaves, strict=True):
        if tuple(jnp.shape(c)) != tuple(e.shape):
            raise ValueError(f"unroll: expected {what} leaves of shape {tuple(e.shape)} for batch "
                             f"shape {batch_shape}, got shape {tuple(jnp.shape(c))}")
    return jax.tree.map(lambda c, e: jnp.asarray(c, e.dtype), carry, expected)
