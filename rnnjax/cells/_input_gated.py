"""The shared body of the input-gated linear cells (minGRU, minLSTM; Feng et al. 2024).

Such a cell projects the input once, ``u_t = x_t W_x + b`` with ``W_x: (I, kH)``, and turns
``u_t`` into elementwise affine maps of the carry by a cell-specific ``maps``:

.. math::

    (a_t, b_t) = \\mathrm{maps}(u_t),\\qquad h_t = a_t ⊙ h_{t-1} + b_t

so the carry never enters a gate, and ``rnnjax.unroll(..., method="associative")`` composes the
maps with one ``lax.associative_scan``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

import rnnjax.init
from rnnjax import _checks
from rnnjax.cell import Affine, Cell, cast, check_input, lead, zeros_carry

Array = jax.Array


def input_gated_cell(name: str, params_type: type[NamedTuple], blocks: int,
                     maps: Callable[[Array], tuple[Array, Array]], hidden_size: int,
                     kernel_init: str | Callable, dtype: Any, param_dtype: Any) -> Cell:
    """A cell with params ``params_type(w_x: (I, blocks H), b: (blocks H,))``, carry ``h: (*batch,
    H)``, output ``h`` and the affine form ``(a_t, b_t) = maps(x_t W_x + b)``.

    ``name`` prefixes the error messages and the cell's repr; the other arguments are those of
    the public constructors (:func:`rnnjax.cells.mingru`, :func:`rnnjax.cells.minlstm`).
    """
    hidden_size = _checks.positive_int(hidden_size, "hidden_size")
    dtype = _checks.float_dtype(dtype, f"{name} dtype")
    param_dtype = _checks.float_dtype(param_dtype, f"{name} param_dtype")
    H = hidden_size
    k_init = rnnjax.init.resolve(kernel_init, f"{name} kernel_init")

    def init(key: Array, input_size: int):
        input_size = _checks.positive_int(input_size, "input_size")
        pdt = _checks.resolve_float(param_dtype)
        return params_type(k_init(key, (input_size, blocks * H), pdt),
                           jnp.zeros((blocks * H,), pdt))

    def project(params, x: Array) -> Array:
        x = jnp.asarray(x)
        check_input(x, params.w_x.shape[0], name)
        dt = _checks.resolve_float(dtype)
        w_x, b = cast((params.w_x, params.b), dt)
        u = cast(x, dt) @ w_x
        return u + lead(b, u.ndim)

    def recur(params, h: Array, u: Array) -> tuple[Array, Array]:
        a, b = maps(u)
        h = cast(a * h + b, a.dtype)
        return h, h

    def step(params, h: Array, x: Array) -> tuple[Array, Array]:
        return recur(params, h, project(params, x))

    affine = Affine(lambda params, x: maps(project(params, x)), lambda params, h, x: h)
    return Cell(init, zeros_carry(H, dtype=dtype), step, H, project, recur, f"{name}({H})",
                affine=affine)
