"""Compositions of cells: deep (stacked) and bidirectional RNNs.

A stack of cells is a :class:`rnnjax.Cell` (its ``step`` is the exact one-step map of the deep
RNN), so :func:`rnnjax.unroll`, ``jax.vmap``, checkpointing, Newton evaluation and the analysis
tools work on it unchanged. A bidirectional pass reads the whole sequence, so it is a
:class:`rnnjax.Layer` (:class:`BidirectionalLayer`), and so is a stack containing a layer
(:class:`StackLayer`): :func:`rnnjax.unroll` runs both; functions that need one step refuse them.

Stack (deep RNN, layer index ``ℓ``)::

    h^ℓ_t = cell_ℓ(h^ℓ_{t-1}, x^ℓ_t),   x^1_t = x_t,   x^{ℓ+1}_t = D_ℓ ⊙ (h^ℓ_t [+ x^ℓ_t])

with optional residual connections (``+ x^ℓ_t`` for ``ℓ ≥ 2``, Wu et al. 2016) and variational
dropout masks ``D_ℓ`` between layers, drawn once per sequence (Gal & Ghahramani 2016).

Bidirectional (Schuster & Paliwal 1997)::

    y_t = merge(→h_t, ←h_t),   →h runs over x_1..x_L,   ←h runs over x_L..x_1

Both are run over a whole sequence by :func:`rnnjax.unroll`: a stack layer by layer (so each
layer's input projection is one matrix product), a bidirectional pair as two unrolls.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from rnnjax.cell import Cell, Layer, cell_constructor, takes_key
from rnnjax.unroll import unroll

Array = jax.Array
PyTree = Any


# ----------------------------------------------------------------------------- stack


class StackLayer(Layer):
    """A stack containing at least one :class:`rnnjax.Layer`; built by :func:`stack`.

    Attributes (besides :class:`rnnjax.Layer`'s): ``layers`` (the parts, first to last),
    ``dropout``, ``residual``.
    """


class BidirectionalLayer(Layer):
    """A bidirectional pass; built by :func:`bidirectional`.

    Attributes (besides :class:`rnnjax.Layer`'s): ``forward``, ``backward`` (the two directions)
    and ``merge`` (``"concat"``, ``"sum"`` or ``"mean"``).
    """


def _is_layer(part: Cell | Layer) -> bool:
    """Whether ``unroll`` runs ``part`` through ``sequence`` (a layer or a composition), which
    then takes its own ``key``/``deterministic``."""
    return isinstance(part, Layer) or part.sequence is not None


@cell_constructor
def stack(cells: Sequence[Cell | Layer], *, dropout: float = 0.0,
          residual: bool = False) -> Cell | Layer:
    """A deep RNN: the output of each cell is the input of the next.

    Args:
      cells: the layers (cells or :class:`rnnjax.Layer`), first to last.
      dropout: probability of dropping each unit of a layer's output before the next layer
        (not after the last). Needs a ``key`` (training) or ``deterministic=True`` (evaluation,
        no dropout) to be passed (to ``step`` or
        :func:`rnnjax.unroll`); the mask is the same at every time step.
      residual: add each layer's input to its output, from the second layer on; those layers
        need equal input and output sizes.

    Returns:
      A cell (a :class:`StackLayer` when any part is a layer) whose params and carry are tuples of
      the parts' params and carries.
    """
    cells = tuple(cells)
    if not cells or not all(isinstance(c, (Cell, Layer)) for c in cells):
        raise TypeError("stack: expected a non-empty sequence of rnnjax.Cell or rnnjax.Layer")
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"stack: dropout must lie in [0, 1), got {dropout}")
    if residual:
        for lower, upper in zip(cells[:-1], cells[1:], strict=True):
            if lower.output_size != upper.output_size:
                raise ValueError("stack: residual connections need equal layer sizes, got "
                                 f"{[c.output_size for c in cells]}")
    last = len(cells) - 1

    def between(i: int, y: Array, x: Array, key: Array | None, time_axis: bool,
                deterministic: bool = False) -> Array:
        """Residual and dropout applied to layer ``i``'s output ``y`` (input ``x``)."""
        if residual and i > 0:
            y = y + x
        if dropout > 0.0 and i < last:
            if key is None:
                if deterministic:
                    return y
                raise ValueError(f"stack(dropout={dropout}): pass key= to draw the dropout masks "
                                 "(training) or deterministic=True for none (evaluation)")
            shape = y.shape[:-2] + y.shape[-1:] if time_axis else y.shape
            keep = jax.random.bernoulli(jax.random.fold_in(key, i), 1.0 - dropout, shape)
            keep = jnp.expand_dims(keep, -2) if time_axis else keep
            y = jnp.where(keep, y / (1.0 - dropout), jnp.zeros_like(y))
        return y

    def init(key: Array, input_size: int) -> tuple:
        params, size = [], input_size
        for cell, k in zip(cells, jax.random.split(key, len(cells)), strict=True):
            params.append(cell.init(k, size))
            size = cell.output_size
        return tuple(params)

    def initial_carry(params: tuple, batch_shape=()) -> tuple:
        return tuple(c.initial_carry(p, batch_shape) for c, p in zip(cells, params, strict=True))

    def run_layers(params, carry, x, start: int, key, deterministic):
        carries = list(carry)
        for i in range(start, len(cells)):
            carries[i], y = cells[i].step(params[i], carry[i], x)
            x = between(i, y, x, key, False, deterministic)
        return tuple(carries), x

    def sequence(params, xs, carry, *, key=None, deterministic=False, reset_carry=None, **options):
        finals, per_step, x = [], [], xs
        for i, cell in enumerate(cells):
            r = None if reset_carry is None else reset_carry[i]
            inner = {}  # a nested composition gets its own randomness switch
            if _is_layer(cell):
                inner = {"deterministic": deterministic,
                         "key": None if key is None else jax.random.fold_in(key, len(cells) + i)}
            c, out = unroll(cell, params[i], x, carry[i], reset_carry=r, **options, **inner)
            y, cs = out if options["return_carries"] else (out, None)
            finals.append(c)
            per_step.append(cs)
            x = between(i, y, x, key, True, deterministic)
        return tuple(finals), ((x, tuple(per_step)) if options["return_carries"] else x)

    name = "stack(" + ", ".join(c.name for c in cells) + ")"
    if any(isinstance(c, Layer) for c in cells):
        return StackLayer(init, initial_carry, sequence, cells[-1].output_size, name,
                          random=dropout > 0.0 or any(takes_key(c) for c in cells),
                          layers=cells, dropout=float(dropout), residual=bool(residual))

    def step(params: tuple, carry: tuple, x: Array, *, key: Array | None = None,
             deterministic: bool = False):
        return run_layers(params, carry, x, 0, key, deterministic)

    project = recur = None
    if cells[0].project is not None:
        project = lambda params, x: cells[0].project(params[0], x)

        def recur(params: tuple, carry: tuple, u: Array, *, key: Array | None = None,
                  deterministic: bool = False):
            c0, y = cells[0].recur(params[0], carry[0], u)
            y = between(0, y, None, key, False, deterministic)
            carry, y = run_layers(params, (c0,) + tuple(carry[1:]), y, 1, key, deterministic)
            return carry, y

    return Cell(init, initial_carry, step, cells[-1].output_size, project, recur, name, sequence)


# ----------------------------------------------------------------------------- bidirectional


class Bidirectional(NamedTuple):
    """Params or carry of a bidirectional layer: one entry per direction."""

    forward: Any
    backward: Any


MERGES: dict[str, Callable[[Array, Array], Array]] = {
    "concat": lambda f, b: jnp.concatenate([f, b], axis=-1),
    "sum": lambda f, b: f + b,
    "mean": lambda f, b: 0.5 * (f + b),
}


@cell_constructor
def bidirectional(forward: Cell | Layer, backward: Cell | Layer, *,
                  merge: str = "concat") -> BidirectionalLayer:
    """Run ``forward`` over the sequence and ``backward`` over it reversed; merge per position.

    Args:
      forward, backward: the two directions, cells or layers (often two instances of the same
        constructor).
      merge: ``"concat"`` (output size ``F + B``), ``"sum"`` or ``"mean"`` (sizes must match).

    Returns:
      A :class:`BidirectionalLayer` with params and carry :class:`Bidirectional`
      ``(forward, backward)``. Over a sequence (:func:`rnnjax.unroll`, padding-aware with
      ``lengths``), position ``t`` of the output merges ``→h_t`` (having read ``x_1..x_t``) and
      ``←h_t`` (having read ``x_t..x_L``); the final carry holds ``→h_L`` and ``←h_1``. It has no
      one-step map: functions that need one (Newton evaluation, the analysis tools) refuse it.
    """
    if not all(isinstance(c, (Cell, Layer)) for c in (forward, backward)):
        raise TypeError("bidirectional: expected two rnnjax.Cell or rnnjax.Layer, got "
                        f"{type(forward).__name__} and {type(backward).__name__}")
    if merge not in MERGES:
        raise ValueError(f"bidirectional: merge must be one of {sorted(MERGES)}, got {merge!r}")
    if merge != "concat" and forward.output_size != backward.output_size:
        raise ValueError(f"bidirectional: merge={merge!r} needs equal output sizes, got "
                         f"{forward.output_size} and {backward.output_size}")
    combine = MERGES[merge]
    out_size = (forward.output_size + backward.output_size if merge == "concat"
                else forward.output_size)

    def init(key: Array, input_size: int) -> Bidirectional:
        kf, kb = jax.random.split(key)
        return Bidirectional(forward.init(kf, input_size), backward.init(kb, input_size))

    def initial_carry(params: Bidirectional, batch_shape=()) -> Bidirectional:
        _check_params(params)
        return Bidirectional(forward.initial_carry(params.forward, batch_shape),
                             backward.initial_carry(params.backward, batch_shape))

    def sequence(params, xs, carry, *, reverse, key=None, deterministic=False, reset_carry=None,
                 **options):
        _check_params(params)
        rf, rb = (None, None) if reset_carry is None else reset_carry

        def inner(cell, i):  # a direction that is a composition gets its own randomness switch
            if not _is_layer(cell):
                return {}
            return {"deterministic": deterministic,
                    "key": None if key is None else jax.random.fold_in(key, i)}

        cf, of = unroll(forward, params.forward, xs, carry.forward, reverse=reverse,
                        reset_carry=rf, **options, **inner(forward, 0))
        cb, ob = unroll(backward, params.backward, xs, carry.backward, reverse=not reverse,
                        reset_carry=rb, **options, **inner(backward, 1))
        if options["return_carries"]:
            (yf, csf), (yb, csb) = of, ob
            return Bidirectional(cf, cb), (combine(yf, yb), Bidirectional(csf, csb))
        return Bidirectional(cf, cb), combine(of, ob)

    return BidirectionalLayer(init, initial_carry, sequence, out_size,
                              f"bidirectional({forward.name}, {backward.name}, {merge})",
                              random=takes_key(forward) or takes_key(backward),
                              forward=forward, backward=backward, merge=merge)


def _check_params(params) -> None:
    if not isinstance(params, Bidirectional):
        raise TypeError("bidirectional: expected params of type rnnjax.Bidirectional(forward, "
                        f"backward), got {type(params).__name__}")
