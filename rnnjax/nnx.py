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

Each array of the cell's params becomes one ``nnx.Param`` named after its field, so ``nnx.state``,
checkpoints and ``optax`` masks see ``rnn/w_x``, ``rnn/w_h``, ``rnn/b``; a stack's layers are
``rnn/layers/0/w_x``, …, a bidirectional cell's directions ``rnn/forward/w_x``, … . ``nnx.Optimizer``,
``nnx.grad``, ``nnx.jit`` see ordinary parameters, and :attr:`RNN.params` reassembles the cell's
NamedTuple view for the pure functions.
"""

from __future__ import annotations

import operator
from typing import Any

import jax
from flax import nnx

from rnnjax.cell import Cell, Layer, takes_key
from rnnjax.unroll import unroll

Array = jax.Array

_RESERVED = frozenset({"cell", "treedef", "paths", "unroll_options", "rngs", "deterministic",
                       "rng_collection", "params", "initial_carry", "layers", "weights"})


def _name(key) -> str | int:
    """A key of ``jax.tree_util.tree_flatten_with_path`` as an NNX attribute or index."""
    for attr in ("name", "key", "idx"):
        if hasattr(key, attr):
            return getattr(key, attr)
    raise TypeError(f"RNN: cannot name a parameter at the pytree key {key!r}")


def _group(entries: list[tuple[tuple, Any]]) -> dict:
    """``(path, nnx.Param)`` entries (non-empty paths) grouped by their first key, nested below."""
    groups: dict = {}
    for path, leaf in entries:
        groups.setdefault(path[0], []).append((path[1:], leaf))
    return {k: v[0][1] if v[0][0] == () else _nest(v) for k, v in groups.items()}


def _nest(entries: list[tuple[tuple, Any]]):
    """``nnx.List`` (integer keys) or ``nnx.Dict`` nesting of ``(path, nnx.Param)`` entries."""
    built = _group(entries)
    if all(isinstance(k, int) for k in built):
        return nnx.List([built[i] for i in range(len(built))])
    return nnx.Dict({str(k): v for k, v in built.items()})


class RNN(nnx.Module):
    """Runs an :class:`rnnjax.Cell` or :class:`rnnjax.Layer` over sequences; its params are the
    module's params.

    Args:
      cell: any cell (also stacks, Hopfield update cells) or layer (bidirectional passes).
      input_size: the size of the last axis of the inputs.
      rngs: ``nnx.Rngs`` with a ``params`` stream, and a ``dropout`` stream (or a default one)
        if the cell takes a random ``key`` (a stack with dropout).
      deterministic: NNX's switch for dropout, as on ``nnx.Dropout``: ``model.train()`` sets it
        to False (dropout on, the default), ``model.eval()`` to True; a call's
        ``deterministic=`` overrides it. Only cells and layers that take a ``key`` are affected.
      rng_collection: the ``rngs`` stream that dropout keys are drawn from.
      **unroll_options: defaults for :func:`rnnjax.unroll` (``unroll``, ``remat``, ``reverse``).

    Parameters are named after the params' fields (see the module docstring): a NamedTuple's
    fields become attributes of the module, a stack's tuple the list ``layers``, any other
    pytree (a dict, a bare array) sits under ``weights``.
    """

    def __init__(self, cell: Cell | Layer, input_size: int, *, rngs: nnx.Rngs, deterministic: bool = False,
                 rng_collection: str = "dropout", **unroll_options: Any):
        if not isinstance(cell, (Cell, Layer)):
            raise TypeError(f"RNN: expected an rnnjax.Cell or rnnjax.Layer, got {type(cell).__name__}")
        if isinstance(input_size, bool) or not hasattr(input_size, "__index__"):
            raise TypeError(f"RNN: input_size must be an int, got {input_size!r}")
        self.cell = nnx.static(cell) if hasattr(nnx, "static") else cell
        params = cell.init(rngs.params(), operator.index(input_size))  # NumPy ints too
        with_path, self.treedef = jax.tree_util.tree_flatten_with_path(params)
        self.paths = tuple(tuple(_name(k) for k in path) for path, _ in with_path)
        if isinstance(params, tuple) and hasattr(params, "_fields"):
            root = None
            clash = _RESERVED.intersection(params._fields)
            if clash:
                raise ValueError(f"RNN: params fields {sorted(clash)} clash with the module's "
                                 "attributes; rename them")
        else:
            root = "layers" if type(params) in (tuple, list) else "weights"
        self.paths = tuple((root, *p) if root else p for p in self.paths)
        entries = [(p, nnx.Param(leaf)) for p, (_, leaf) in zip(self.paths, with_path, strict=True)]
        for name, node in _group(entries).items():
            setattr(self, name, node)
        self.unroll_options = dict(unroll_options)
        self.rngs = rngs
        self.deterministic = deterministic
        self.rng_collection = rng_collection
        self.takes_key = takes_key(cell)

    def _param(self, path: tuple) -> Array:
        node = getattr(self, path[0])
        for k in path[1:]:
            node = node[k]
        return node[...]

    @property
    def params(self) -> Any:
        """The cell's params (a NamedTuple, or tuples of them for compositions)."""
        return self.treedef.unflatten([self._param(p) for p in self.paths])

    def initial_carry(self, batch_shape: tuple[int, ...] = ()) -> Any:
        return self.cell.initial_carry(self.params, batch_shape)

    def __call__(self, xs: Array, carry: Any = None, *, lengths: Array | None = None,
                 return_carry: bool = False, deterministic: bool | None = None,
                 **options: Any):
        """``ys`` of shape ``(*batch, T, output_size)``, or ``(carry, ys)`` with ``return_carry``.

        ``deterministic``: overrides the module's attribute for this call. ``options``: as
        :func:`rnnjax.unroll` (an explicit ``key`` replaces the ``rngs`` stream's unless
        deterministic).
        """
        kw = {**self.unroll_options, **options}
        deterministic = self.deterministic if deterministic is None else deterministic
        if self.takes_key and not deterministic and kw.get("key") is None:
            try:
                stream = self.rngs[self.rng_collection]
            except KeyError:
                raise ValueError(
                    f"RNN: {self.cell.name} draws dropout masks but rngs has no "
                    f"{self.rng_collection!r} stream; build it with nnx.Rngs(params=..., "
                    f"{self.rng_collection}=...), or call model.eval() for no dropout") from None
            kw["key"] = stream()
        elif deterministic:
            kw.pop("key", None)
            kw["deterministic"] = True
        carry, ys = unroll(self.cell, self.params, xs, carry, lengths=lengths, **kw)
        return (carry, ys) if return_carry else ys
