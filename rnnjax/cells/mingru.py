"""minGRU (Feng et al. 2024, "Were RNNs all we needed?"): a GRU whose gate and candidate depend
on the input alone, so that the recurrence is linear in the carry.

With ``u_t = x_t W_x + b`` split on its last axis into ``(z, h̃)`` blocks:

.. math::

    z_t = σ(u^z_t),\\qquad \\tilde h_t = u^{h}_t,\\qquad
    h_t = (1 − z_t) ⊙ h_{t-1} + z_t ⊙ \\tilde h_t

These are the paper's sequential-mode equations (its Algorithm "minGRU, sequential"), in linear
space. The paper's log-space parallel mode additionally maps ``h̃`` through a positive function
``g`` so that it can take logarithms; that changes the model, and is not done here: the affine
maps ``a_t = 1 − z_t``, ``b_t = z_t ⊙ h̃_t`` are composed directly by
``rnnjax.unroll(..., method="associative")``, which only multiplies numbers in ``(0, 1)``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from rnnjax.cell import Cell, cell_constructor
from rnnjax.cells._input_gated import input_gated_cell

Array = jax.Array


class MinGRUParams(NamedTuple):
    """``w_x: (I, 2H)``, ``b: (2H,)``; blocks along the last axis: ``z`` (update gate), ``h̃``."""

    w_x: Array
    b: Array


def _maps(u: Array) -> tuple[Array, Array]:
    """The minGRU maps ``(a_t, b_t)`` from the projected input ``u_t``."""
    u_z, u_h = jnp.split(u, 2, axis=-1)
    z = jax.nn.sigmoid(u_z)
    return 1.0 - z, z * u_h


@cell_constructor
def mingru(hidden_size: int, *, kernel_init: str | Callable = "lecun_normal",
           dtype: Any = None, param_dtype: Any = jnp.float32) -> Cell:
    """A minGRU cell with carry ``h: (*batch, H)`` and output ``h``, and an affine form.

    Args:
      hidden_size: ``H``.
      kernel_init: initialiser of ``W_x`` (a name in :data:`rnnjax.init.NAMES` or a callable).
      dtype: computation, carry and output dtype; ``None`` is float32 (float64 under x64).
      param_dtype: dtype of the params ``init`` returns (float32 by default, as in Flax).
    """
    return input_gated_cell("mingru", MinGRUParams, 2, _maps, hidden_size, kernel_init, dtype,
                            param_dtype)
