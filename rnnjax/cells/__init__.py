"""Recurrent cells, one per module, each a constructor returning a :class:`rnnjax.Cell`.

- :func:`elman` — the simple recurrent network, ``h_t = act(x_t W_x + h_{t-1} W_h + b)``.
- :func:`lstm` — long short-term memory, gates ``i, f, g, o`` (PyTorch order), carry ``(h, c)``.
- :func:`gru` — gated recurrent unit, PyTorch/cuDNN ``reset_after`` form or Cho et al.'s original.
"""

from rnnjax.cells.elman import ElmanParams, elman
from rnnjax.cells.gru import GRUParams, gru
from rnnjax.cells.lstm import LSTMParams, LSTMState, lstm

__all__ = ["ElmanParams", "GRUParams", "LSTMParams", "LSTMState", "elman", "gru", "lstm"]
