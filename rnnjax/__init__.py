"""rnnjax: recurrent neural networks as pure JAX functions.

    import rnnjax
    cell = rnnjax.cells.lstm(hidden_size=128)
    params = cell.init(key, input_size)
    carry, ys = rnnjax.unroll(cell, params, xs)        # xs: (*batch, T, input_size)

A :class:`Cell` is one step; a :class:`Layer` (``bidirectional``, a ``stack`` containing one)
runs over whole sequences only; ``unroll`` runs both.

Submodules: ``cells`` (Elman, LSTM, GRU), ``init`` (initialisers), ``hopfield`` (classical,
dense and modern Hopfield networks), ``analysis`` (Jacobians, Lyapunov spectra, gradient flow),
``parallel`` (associative scans and Newton/DEER evaluation),
``convert`` (PyTorch weight layouts), ``nnx`` (Flax NNX modules), ``tasks``, ``models``, ``train``.
"""

import importlib

from rnnjax import cells, init
from rnnjax.cell import Cell, Layer
from rnnjax.compose import Bidirectional, bidirectional, stack
from rnnjax.unroll import unroll

__all__ = ["Bidirectional", "Cell", "Layer", "bidirectional", "cells", "init", "stack", "unroll"]
__version__ = "0.1.0"

_LAZY = {"analysis", "convert", "hopfield", "models", "nnx", "parallel", "tasks", "train"}


def __getattr__(name):  # import heavier submodules (Flax, Orbax) only when used
    if name in _LAZY:
        return importlib.import_module(f"rnnjax.{name}")
    raise AttributeError(f"module 'rnnjax' has no attribute {name!r}")
