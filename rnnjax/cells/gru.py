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
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

import rnnjax.init
from rnnjax import _checks
from rnnjax.cell import Cell, cast, cell_constructor, check_input, lead, zeros_carry

Array = jax.Array

VARIANTS = ("reset_after", "reset_before")


class GRUParams(NamedTuple):
    """``w_x: (I, 3H)``, ``w_h: (H, 3H)``, ``b: (3H,)`` (blocks r, z, n); ``b_hn: (H,)`` or ``None``."""

    w_x: Array
    w_h: Array
    b: Array
    b_hn: Array | None


@cell_constructor
def gru(hidden_size: int, *, variant: str = "reset_after",
        kernel_init: str | Callable = "lecun_normal",
        recurrent_init: str | Callable = "orthogonal",
        dtype: Any = None, param_dtype: Any = jnp.float32) -> Cell:
    """A GRU cell with carry ``h: (*batch, H)`` and output ``h``.

    Args:
      hidden_size: ``H``.
      variant: ``"reset_after"`` (PyTorch/cuDNN/Flax, default) or ``"reset_before"`` (Cho et al.).
      kernel_init, recurrent_init: initialisers of ``W_x`` and of each gate's block of ``W_h``.
      dtype: computation, carry and output dtype; ``None`` is float32 (float64 under x64).
      param_dtype: dtype of the params ``init`` returns (float32 by default, as in Flax).
    """
    hidden_size = _checks.positive_int(hidden_size, "hidden_size")
    dtype = _checks.float_dtype(dtype, "gru dtype")
    param_dtype = _checks.float_dtype(param_dtype, "gru param_dtype")
    if variant not in VARIANTS:
        raise ValueError(f"gru variant must be one of {VARIANTS}, got {variant!r}")
    H = hidden_size
    k_init = rnnjax.init.resolve(kernel_init, "gru kernel_init")
    r_init = rnnjax.init.resolve(recurrent_init, "gru recurrent_init")
    reset_after = variant == "reset_after"

    def init(key: Array, input_size: int) -> GRUParams:
        input_size = _checks.positive_int(input_size, "input_size")
        pdt = _checks.resolve_float(param_dtype)
        kx, kh = jax.random.split(key)
        return GRUParams(k_init(kx, (input_size, 3 * H), pdt),
                         rnnjax.init.init_recurrent(r_init, kh, H, 3, pdt),
                         jnp.zeros((3 * H,), pdt),
                         jnp.zeros((H,), pdt) if reset_after else None)

    def project(params: GRUParams, x: Array) -> Array:
        x = jnp.asarray(x)
        check_input(x, params.w_x.shape[0], "gru")
        dt = _checks.resolve_float(dtype)
        w_x, b = cast((params.w_x, params.b), dt)
        u = cast(x, dt) @ w_x
        return u + lead(b, u.ndim)

    def recur(params: GRUParams, h: Array, u: Array) -> tuple[Array, Array]:
        dt = _checks.resolve_float(dtype)
        w_h, b_hn = cast((params.w_h, params.b_hn), dt)
        h = cast(h, dt)
        u_r, u_z, u_n = jnp.split(u, 3, axis=-1)
        if reset_after:
            a_r, a_z, a_n = jnp.split(h @ w_h, 3, axis=-1)
            r, z = jax.nn.sigmoid(u_r + a_r), jax.nn.sigmoid(u_z + a_z)
            n = jnp.tanh(u_n + r * (a_n + lead(b_hn, a_n.ndim)))
        else:
            a_r, a_z = jnp.split(h @ w_h[:, : 2 * H], 2, axis=-1)
            r, z = jax.nn.sigmoid(u_r + a_r), jax.nn.sigmoid(u_z + a_z)
            n = jnp.tanh(u_n + (r * h) @ w_h[:, 2 * H:])
        h = cast((1.0 - z) * n + z * h, dt)
        return h, h

    def step(params: GRUParams, h: Array, x: Array) -> tuple[Array, Array]:
        return recur(params, h, project(params, x))

    return Cell(init, zeros_carry(H, dtype=dtype), step, H, project, recur, f"gru({H}, {variant})")
