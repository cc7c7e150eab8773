"""An rnnjax LSTM through cuDNN's fused RNN (``jax.experimental.rnn.lstm``), GPU only.

cuDNN keeps one flat weight vector per layer, PyTorch's layout: ``W_ih: (4H, I)``,
``W_hh: (4H, H)``, then the biases ``b_ih, b_hh: (4H,)``, gates in the order i, f, g, o — the
order of :func:`rnnjax.cells.lstm`. So ``W_ih = W_x^T``, ``W_hh = W_h^T``, ``b_ih = b`` and
``b_hh = 0`` (:func:`cudnn_weights`). Matrix products run in full float32 (no TF32), so the
results differ from ``method="scan"`` only by rounding.

Applies to an LSTM in float32 without ``resets`` (cuDNN has no resets), ``remat`` or
``return_carries``. Lengths are passed to cuDNN; a sequence of length 0 (which cuDNN's backward
pass does not accept) runs one step that is then discarded: its carry is the initial carry and
its outputs are zeros, with the gradients of that selection. ``reverse`` reverses each sequence
within its length outside the call.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

from rnnjax.cell import Cell
from rnnjax.cells.lstm import LSTMParams, LSTMState
from rnnjax.fused import sequence
from rnnjax.fused.cells import LSTM, kernel_cell

Array = jax.Array


def cudnn_weights(params: LSTMParams) -> Array:
    """The flat cuDNN weight vector of one unidirectional layer."""
    w_x, w_h, b = (a.astype(jnp.float32) for a in (params.w_x, params.w_h, params.b))
    return jnp.concatenate([w_x.T.ravel(), w_h.T.ravel(), b, jnp.zeros_like(b)])


def applies(cell: Cell, dtype, *, resets, remat, return_carries, key) -> str | None:
    """``None`` when the cuDNN path computes this call, else the reason it does not."""
    try:
        if kernel_cell(cell) is not LSTM:
            return f"cuDNN runs an LSTM only, got {cell.name}"
    except ValueError:
        return f"cuDNN runs an lstm built by rnnjax.cells, got {cell.name}"
    if jnp.dtype(dtype) != jnp.float32:
        return f"cuDNN's LSTM here is float32 only, got {jnp.dtype(dtype).name}"
    for name, value in (("resets", resets is not None), ("remat", remat is not False),
                        ("return_carries", return_carries), ("key", key is not None)):
        if value:
            return f"{name} is not supported by cuDNN"
    if jax.default_backend() != "gpu":
        return f"cuDNN needs a CUDA GPU; the backend is {jax.default_backend()}"
    return None


def cudnn_unroll(cell: Cell, params: LSTMParams, xs: Array, carry: LSTMState, *, lengths,
                 reverse) -> tuple[LSTMState, Array]:
    """``rnnjax.unroll(cell, params, xs, carry, method="cudnn")`` for ``T ≥ 1``; inputs already
    validated and :func:`applies` checked."""
    from jax.experimental import rnn

    batch_shape, I = tuple(xs.shape[:-2]), xs.shape[-1]
    B, H = math.prod(batch_shape), cell.output_size
    prep = sequence.prepare(xs.astype(jnp.float32), lengths, None, reverse)
    L = jnp.sum(prep.real, axis=0).astype(jnp.int32)  # (B,)
    h0, c0 = (a.reshape(1, B, H) for a in carry)
    y, h, c = rnn.lstm(jnp.moveaxis(prep.xs, 0, 1), h0, c0, cudnn_weights(params),
                       jnp.maximum(L, 1), input_size=I, hidden_size=H, num_layers=1,
                       dropout=0.0, bidirectional=False, precision=jax.lax.Precision.HIGHEST)
    empty = (L == 0)[None, :, None]
    h, c = jnp.where(empty, h0, h)[0], jnp.where(empty, c0, c)[0]
    ys = sequence.finish(jnp.where(prep.real[..., None], jnp.moveaxis(y, 0, 1), 0), prep,
                         batch_shape)
    return LSTMState(h.reshape(batch_shape + (H,)), c.reshape(batch_shape + (H,))), ys
