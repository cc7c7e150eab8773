"""minLSTM (Feng et al. 2024, "Were RNNs all we needed?"): an LSTM whose gates and candidate
depend on the input alone, with the forget and input gates normalised to sum to one.

With ``u_t = x_t W_x + b`` split on its last axis into ``(f, i, h̃)`` blocks:

.. math::

    f_t = σ(u^f_t),\\quad i_t = σ(u^i_t),\\quad \\tilde h_t = u^h_t,\\qquad
    f'_t = \\frac{f_t}{f_t + i_t},\\quad i'_t = \\frac{i_t}{f_t + i_t}

    h_t = f'_t ⊙ h_{t-1} + i'_t ⊙ \\tilde h_t

These are the paper's sequential-mode equations (with its time-independence normalisation), in
linear space; the log-space parallel mode (which also maps ``h̃`` through a positive ``g``) is not
used. ``rnnjax.unroll(..., method="associative")`` composes the maps ``a_t = f'_t``,
``b_t = i'_t ⊙ h̃_t`` directly. There is no separate cell state: the carry is ``h``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from rnnjax.cell import Cell, cell_constructor
from rnnjax.cells._input_gated import input_gated_cell

Array = jax.Array


class MinLSTMParams(NamedTuple):
    """``w_x: (I, 3H)``, ``b: (3H,)``; blocks along the last axis: ``f``, ``i``, ``h̃``."""

    w_x: Array
    b: Array


def _maps(u: Array) -> tuple[Array, Array]:
    """The minLSTM maps ``(a_t, b_t)`` from the projected input ``u_t``."""
    u_f, u_i, u_h = jnp.split(u, 3, axis=-1)
    f, i = jax.nn.sigmoid(u_f), jax.nn.sigmoid(u_i)
    return f / (f + i), i / (f + i) * u_h


@cell_constructor
def minlstm(hidden_size: int, *, kernel_init: str | Callable = "lecun_normal",
            dtype: Any = None, param_dtype: Any = jnp.float32) -> Cell:
    """A minLSTM cell with carry ``h: (*batch, H)`` and output ``h``, and an affine form.

    Args:
      hidden_size: ``H``.
      kernel_init: initialiser of ``W_x`` (a name in :data:`rnnjax.init.NAMES` or a callable).
      dtype: computation, carry and output dtype; ``None`` is float32 (float64 under x64).
      param_dtype: dtype of the params ``init`` returns (float32 by default, as in Flax).
    """
    return input_gated_cell("minlstm", MinLSTMParams, 3, _maps, hidden_size, kernel_init, dtype,
                            param_dtype)
