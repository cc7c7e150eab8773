"""Fused recurrent layers: the whole time loop of an Elman, LSTM or GRU layer in one kernel.

``rnnjax.unroll(cell, params, xs, method="fused")`` computes exactly what ``method="scan"``
computes (lengths, resets, reverse, initial and reset carries, any batch rank, gradients w.r.t.
params, inputs and carries), with:

- the input projection of all steps hoisted out of the loop as one matrix product;
- a Pallas kernel (:mod:`rnnjax.fused.kernels`) per batch block that keeps the carry, and the
  recurrent weights when they fit, on chip for all ``T`` steps;
- a second kernel for the backward recurrence through time, paired with the first by a
  ``custom_vjp`` (:mod:`rnnjax.fused.recurrence`); weight gradients are one product outside it.

On a GPU the kernels compile with Pallas's Triton backend; on CPU they run in interpret mode
(correct, for tests, not fast). ``method="cudnn"`` runs an LSTM through cuDNN's fused RNN
(``jax.experimental.rnn``, GPU only; :mod:`rnnjax.fused.cudnn`). ``method="auto"`` picks per
backend (:func:`choose_method`): ``"scan"`` on CPU.

Supported: :data:`rnnjax.fused.cells.SUPPORTED`. Anything else (another cell, ``remat``, a cell
needing a key) is refused with one line naming what is supported; compositions (``stack``,
``bidirectional``) pass the method to each layer, and a cell with a learned initial carry
(:func:`rnnjax.init.learned_initial_carry`) runs its wrapped cell's kernels from that carry.
"""

from rnnjax.fused.cells import SUPPORTED, kernel_cell
from rnnjax.fused.dispatch import choose_method, fused_unroll

__all__ = ["SUPPORTED", "choose_method", "fused_unroll", "kernel_cell"]
