"""Compositions of cells that are cells themselves: deep (stacked) and bidirectional RNNs.

Because a composition is a :class:`rnnjax.Cell`, :func:`rnnjax.unroll`, ``jax.vmap``,
checkpointing and the analysis tools work on it unchanged.

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

from rnnjax.cell import Cell, cell_constructor
from rnnjax.unroll import unroll

Array = jax.Array
PyTree = Any


# ----------------------------------------------------------------------------- stack


@cell_constructor
def stack(cells: Sequence[Cell], *, dropout: float = 0.0, residual: bool = False) -> Cell:
    """A deep RNN: the output of each cell is the input of the next.

    Args:
      cells: the layers, first to last.
      dropout: probability of dropping each unit of a layer's output before the next layer
        (not after the last). Needs a ``key`` (training) or ``deterministic=True`` (evaluation,
        no dropout) to be passed (to ``step`` or
        :func:`rnnjax.unroll`); the mask is the same at every time step.
      residual: add each layer's input to its output, from the second layer on; those layers
        need equal input and output sizes.

    Returns:
      A cell whose params and carry are tuples of the layers' params and carries.
    """
    cells = tuple(cells)
    if not cells or not all(isinstance(c, Cell) for c in cells):
        raise TypeError("stack: expected a non-empty sequence of rnnjax.Cell")
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

    def sequence(params, xs, carry, *, key=None, deterministic=False, reset_carry=None, **options):
        finals, per_step, x = [], [], xs
        for i, cell in enumerate(cells):
            r = None if reset_carry is None else reset_carry[i]
            inner = {}  # a nested composition gets its own randomness switch
            if cell.sequence is not None:
                inner = {"deterministic": deterministic,
                         "key": None if key is None else jax.random.fold_in(key, len(cells) + i)}
            c, out = unroll(cell, params[i], x, carry[i], reset_carry=r, **options, **inner)
            y, cs = out if options["return_carries"] else (out, None)
            finals.append(c)
            per_step.append(cs)
            x = between(i, y, x, key, True, deterministic)
        return tuple(finals), ((x, tuple(per_step)) if options["return_carries"] else x)

    name = "stack(" + ", ".join(c.name for c in cells) + ")"
    return Cell(init, initial_carry, step, cells[-1].output_size, project, recur, name, sequence)


# ----------------------------------------------------------------------------- bidirectional


class Bidirectional(NamedTuple):
    """Params or carry of a bidirectional cell: one entry per direction."""

    forward: Any
    backward: Any


MERGES: dict[str, Callable[[Array, Array], Array]] = {
    "concat": lambda f, b: jnp.concatenate([f, b], axis=-1),
    "sum": lambda f, b: f + b,
    "mean": lambda f, b: 0.5 * (f + b),
}


@cell_constructor
def bidirectional(forward: Cell, backward: Cell, *, merge: str = "concat") -> Cell:
    """Run ``forward`` over the sequence and ``backward`` over it reversed; merge per position.

    Args:
      forward, backward: the two cells (often two instances of the same constructor).
      merge: ``"concat"`` (output size ``F + B``), ``"sum"`` or ``"mean"`` (sizes must match).

    Returns:
      A cell with params and carry :class:`Bidirectional` ``(forward, backward)``. Over a
      sequence (:func:`rnnjax.unroll`, padding-aware with ``lengths``), position ``t`` of the
      output merges ``→h_t`` (having read ``x_1..x_t``) and ``←h_t`` (having read ``x_t..x_L``);
      the final carry holds ``→h_L`` and ``←h_1``. Its ``step`` advances both directions on the
      same input, which is the transition of the pair but not a bidirectional pass.
    """
    if not isinstance(forward, Cell) or not isinstance(backward, Cell):
        raise TypeError("bidirectional: expected two rnnjax.Cell, got "
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

    def step(params: Bidirectional, carry: Bidirectional, x: Array):
        _check_params(params)
        cf, yf = forward.step(params.forward, carry.forward, x)
        cb, yb = backward.step(params.backward, carry.backward, x)
        return Bidirectional(cf, cb), combine(yf, yb)

    def sequence(params, xs, carry, *, reverse, key=None, deterministic=False, reset_carry=None,
                 **options):
        _check_params(params)
        rf, rb = (None, None) if reset_carry is None else reset_carry

        def inner(cell, i):  # a direction that is a composition gets its own randomness switch
            if cell.sequence is None:
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

    return Cell(init, initial_carry, step, out_size, None, None,
                f"bidirectional({forward.name}, {backward.name}, {merge})", sequence)


def _check_params(params) -> None:
    if not isinstance(params, Bidirectional):
        raise TypeError("bidirectional: expected params of type rnnjax.Bidirectional(forward, "
                        f"backward), got {type(params).__name__}")
