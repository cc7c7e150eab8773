"""Gated recurrent unit (Cho et al. 2014), in both of its published forms.

With blocks ``(r, z, n)`` along the last axis (the PyTorch/cuDNN order) and ``u_t = x_t W_x + b``:

.. math::

    r_t = σ(u^r_t + h_{t-1} W^r_h),\\qquad z_t = σ(u^z_t + h_{t-1} W^z_h)

    \\text{reset\\_after:}\\quad n_t = \\tanh(u^n_t + r_t ⊙ (h_{t-1} W^n_h + b_{hn}))

    \\text{reset\\_before:}\\quad n_t = \\tanh(u^n_t + (r_t ⊙ h_{t-1}) W^n_h)

    h_t = (1 − z_t) ⊙ n_t + z_t ⊙ h_{t-1}

``reset_after`` is what PyTorch, cuDNN and Flax compute; it needs the separate bias ``b_hn`` inside
the reset product. ``reset_before`` is Cho et al.'s original; there ``b_hn`` would fold into ``b``,
so it is ``None``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp

from rnnjax import init as initializers
from rnnjax.cell import Cell, check_input, lead, zeros_carry
from rnnjax.cells.elman import _check_size

Array = jax.Array

VARIANTS = ("reset_after", "reset_before")


class GRUParams(NamedTuple):
    """``w_x: (I, 3H)``, ``w_h: (H, 3H)``, ``b: (3H,)`` (blocks r, z, n); ``b_hn: (H,)`` or ``None``."""

    w_x: Array
    w_h: Array
    b: Array
    b_hn: Array | None


def gru(hidden_size: int, *, variant: str = "reset_after",
        kernel_init: str | Callable = "lecun_normal",
        recurrent_init: str | Callable = "orthogonal") -> Cell:
    """A GRU cell with carry ``h: (*batch, H)`` and output ``h``.

    Args:
      hidden_size: ``H``.
      variant: ``"reset_after"`` (PyTorch/cuDNN/Flax, default) or ``"reset_before"`` (Cho et al.).
      kernel_init, recurrent_init: initialisers of ``W_x`` and of each gate's block of ``W_h``.
    """
    _check_size(hidden_size)
    if variant not in VARIANTS:
        raise ValueError(f"gru variant must be one of {VARIANTS}, got {variant!r}")
    H = hidden_size
    k_init = initializers.resolve(kernel_init, "gru kernel_init")
    r_init = initializers.resolve(recurrent_init, "gru recurrent_init")
    reset_after = variant == "reset_after"

    def init(key: Array, input_size: int) -> GRUParams:
        _check_size(input_size, "input_size")
        kx, kh = jax.random.split(key)
        return GRUParams(k_init(kx, (input_size, 3 * H), jnp.float32),
                         initializers.init_recurrent(r_init, kh, H, 3),
                         jnp.zeros((3 * H,), jnp.float32),
                         jnp.zeros((H,), jnp.float32) if reset_after else None)

    def project(params: GRUParams, x: Array) -> Array:
        check_input(x, params.w_x.shape[0], "gru")
        u = x @ params.w_x
        return u + lead(params.b, u.ndim)

    def recur(params: GRUParams, h: Array, u: Array) -> tuple[Array, Array]:
        u_r, u_z, u_n = jnp.split(u, 3, axis=-1)
        if reset_after:
            a_r, a_z, a_n = jnp.split(h @ params.w_h, 3, axis=-1)
            r, z = jax.nn.sigmoid(u_r + a_r), jax.nn.sigmoid(u_z + a_z)
            n = jnp.tanh(u_n + r * (a_n + lead(params.b_hn, a_n.ndim)))
        else:
            a_r, a_z = jnp.split(h @ params.w_h[:, : 2 * H], 2, axis=-1)
            r, z = jax.nn.sigmoid(u_r + a_r), jax.nn.sigmoid(u_z + a_z)
            n = jnp.tanh(u_n + (r * h) @ params.w_h[:, 2 * H:])
        h = (1.0 - z) * n + z * h
        return h, h

    def step(params: GRUParams, h: Array, x: Array) -> tuple[Array, Array]:
        return recur(params, h, project(params, x))

    return Cell(init, zeros_carry(H), step, H, project, recur, f"gru({H}, {variant})")
