"""Recurrent cells, one per module, each a constructor returning a :class:`rnnjax.Cell`.

- :func:`elman` — the simple recurrent network, ``h_t = act(x_t W_x + h_{t-1} W_h + b)``.
- :func:`lstm` — long short-term memory, gates ``i, f, g, o`` (PyTorch order), carry ``(h, c)``.
- :func:`gru` — gated recurrent unit, PyTorch/cuDNN ``reset_after`` form or Cho et al.'s original.

Linear recurrent cells, whose recurrence is an elementwise affine map of the carry with
input-only coefficients (``Cell.affine``), so ``rnnjax.unroll(..., method="associative")`` can
evaluate them in ``O(log T)`` parallel depth:

- :func:`lru` — the Linear Recurrent Unit (Orvieto et al. 2023), complex diagonal, complex carry.
- :func:`mingru`, :func:`minlstm` — minGRU and minLSTM (Feng et al. 2024).

A unitary recurrence: :func:`urnn` — the uRNN (Arjovsky et al. 2016), complex carry, transition
``W = D_3 R_2 F^{-1} D_2 Π R_1 F D_1`` unitary by construction, modReLU.

Residual blocks of the linear cells (LRU, minGRU, minLSTM), as one cell each, are in
:mod:`rnnjax.models.blocks`.
"""

from rnnjax.cells.elman import ElmanParams, elman
from rnnjax.cells.gru import GRUParams, gru
from rnnjax.cells.lru import LRUParams, lru
from rnnjax.cells.lstm import LSTMParams, LSTMState, lstm
from rnnjax.cells.mingru import MinGRUParams, mingru
from rnnjax.cells.minlstm import MinLSTMParams, minlstm
from rnnjax.cells.urnn import URNNParams, urnn

__all__ = ["ElmanParams", "GRUParams", "LRUParams", "LSTMParams", "LSTMState", "MinGRUParams",
           "MinLSTMParams", "URNNParams", "elman", "gru", "lru", "lstm", "mingru", "minlstm", "urnn"]
