"""Flax NNX modules around the pure cells, for use inside any Flax model.

    from flax import nnx
    import rnnjax

    class Classifier(nnx.Module):
        def __init__(self, rngs):
            self.rnn = rnnjax.nnx.RNN(rnnjax.cells.lstm(64), input_size=8, rngs=rngs)
            self.head = nnx.Linear(64, 2, rngs=rngs)
        def __call__(self, xs, lengths):
            carry, _ = self.rnn(xs, lengths=lengths, return_carry=True)
            return self.head(carry.h)

Each array of the cell's params becomes one ``nnx.Param`` (so ``nnx.Optimizer``, ``nnx.grad``,
``nnx.jit`` and checkpointing see ordinary parameters), and :attr:`RNN.params` reassembles the
cell's NamedTuple view for the pure functions.
"""

from __future__ import annotations

from typing import Any

import jax
from flax import nnx

from rnnjax.cell import Cell
from rnnjax.unroll import unroll

Array = jax.Array


class RNN(nnx.Module):
    """Runs an :class:`rnnjax.Cell` over sequences; the cell's params are the module's params.

    Args:
      cell: any cell (also stacks, bidirectional compositions, Hopfield update cells).
      input_size: the size of the last axis of the inputs.
      rngs: ``nnx.Rngs`` with a ``params`` stream (and a ``dropout`` stream if the cell uses
        randomness and the module is called with ``deterministic=False``).
      **unroll_options: defaults for :func:`rnnjax.unroll` (``unroll``, ``remat``, ``reverse``).
    """

    def __init__(self, cell: Cell, input_size: int, *, rngs: nnx.Rngs, **unroll_options: Any):
        if not isinstance(cell, Cell):
            raise TypeError(f"RNN: expected an rnnjax.Cell, got {type(cell).__name__}")
        self.cell = nnx.static(cell) if hasattr(nnx, "static") else cell
        leaves, self.treedef = jax.tree.flatten(cell.init(rngs.params(), input_size))
        self.weights = nnx.List([nnx.Param(leaf) for leaf in leaves])
        self.unroll_options = dict(unroll_options)
        self.rngs = rngs

    @property
    def params(self) -> Any:
        """The cell's params (a NamedTuple, or tuples of them for compositions)."""
        return self.treedef.unflatten([w[...] for w in self.weights])

    def initial_carry(self, batch_shape: tuple[int, ...] = ()) -> Any:
        return self.cell.initial_carry(self.params, batch_shape)

    def __call__(self, xs: Array, carry: Any = None, *, lengths: Array | None = None,
                 return_carry: bool = False, deterministic: bool = True, **options: Any):
        """``ys`` of shape ``(*batch, T, output_size)``, or ``(carry, ys)`` with ``return_carry``."""
        kw = {**self.unroll_options, **options}
        if not deterministic:
            kw["key"] = self.rngs.dropout()
        carry, ys = unroll(self.cell, self.params, xs, carry, lengths=lengths, **kw)
        return (carry, ys) if return_carry else ys
