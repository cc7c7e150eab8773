"""Long short-term memory (Hochreiter & Schmidhuber 1997; forget gate of Gers et al. 2000).

With ``z_t = x_t W_x + h_{t-1} W_h + b`` split on its last axis into four blocks ``(i, f, g, o)``
(the PyTorch/cuDNN gate order):

.. math::

    i_t = σ(z^i_t),\\quad f_t = σ(z^f_t),\\quad g_t = \\tanh(z^g_t),\\quad o_t = σ(z^o_t)

    c_t = f_t ⊙ c_{t-1} + i_t ⊙ g_t,\\qquad h_t = o_t ⊙ \\tanh(c_t)

The cell state ``c`` is the "constant error carousel": ``∂c_t/∂c_{t-1} = diag(f_t)`` (plus the
paths through ``h``), so with ``f ≈ 1`` information and gradients survive many steps.
Lecture example: ``c_{t-1} = 0.8, f = 0.9, i = 0.7, g = 0.6`` gives ``c_t = 0.72 + 0.42 = 1.14``.
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


class LSTMParams(NamedTuple):
    """``w_x: (I, 4H)``, ``w_h: (H, 4H)``, ``b: (4H,)``; blocks along the last axis: i, f, g, o."""

    w_x: Array
    w_h: Array
    b: Array


class LSTMState(NamedTuple):
    """The LSTM carry: hidden state ``h`` (the output) and cell state ``c``, both ``(*batch, H)``."""

    h: Array
    c: Array


@cell_constructor
def lstm(hidden_size: int, *, forget_bias: float = 1.0, chrono_t_max: float | None = None,
         kernel_init: str | Callable = "lecun_normal",
         recurrent_init: str | Callable = "orthogonal",
         dtype: Any = None, param_dtype: Any = jnp.float32) -> Cell:
    """An LSTM cell with carry :class:`LSTMState` ``(h, c)`` and output ``h``.

    Args:
      hidden_size: ``H``.
      forget_bias: initial value of the forget-gate bias ``b_f`` (Gers et al. 2000; Jozefowicz
        et al. 2015 recommend 1). It is an initial value, not a constant added in the step, so
        weights converted from PyTorch compute exactly what PyTorch computes.
      chrono_t_max: if given, chrono initialisation (Tallec & Ollivier 2018) replaces
        ``forget_bias``: ``b_f = log U[1, T_max − 1]``, ``b_i = −b_f``.
      kernel_init, recurrent_init: initialisers of ``W_x`` and of each gate's block of ``W_h``.
      dtype: computation, carry and output dtype; ``None`` is float32 (float64 under x64).
      param_dtype: dtype of the params ``init`` returns (float32 by default, as in Flax).
    """
    H = hidden_size = _checks.positive_int(hidden_size, "hidden_size")
    dtype = _checks.float_dtype(dtype, "lstm dtype")
    param_dtype = _checks.float_dtype(param_dtype, "lstm param_dtype")
    k_init = rnnjax.init.resolve(kernel_init, "lstm kernel_init")
    r_init = rnnjax.init.resolve(recurrent_init, "lstm recurrent_init")

    def init(key: Array, input_size: int) -> LSTMParams:
        input_size = _checks.positive_int(input_size, "input_size")
        pdt = _checks.resolve_float(param_dtype)
        kx, kh, kb = jax.random.split(key, 3)
        w_x = k_init(kx, (input_size, 4 * H), pdt)
        w_h = rnnjax.init.init_recurrent(r_init, kh, H, 4, pdt)
        if chrono_t_max is not None:
            b_i, b_f = rnnjax.init.chrono_bias(kb, H, chrono_t_max, pdt)
        else:
            b_i, b_f = jnp.zeros((H,), pdt), jnp.full((H,), forget_bias, pdt)
        b = jnp.concatenate([b_i, b_f, jnp.zeros((2 * H,), pdt)])
        return LSTMParams(w_x, w_h, b)

    def project(params: LSTMParams, x: Array) -> Array:
        x = jnp.asarray(x)
        check_input(x, params.w_x.shape[0], "lstm")
        dt = _checks.resolve_float(dtype)
        w_x, b = cast((params.w_x, params.b), dt)
        u = cast(x, dt) @ w_x
        return u + lead(b, u.ndim)

    def recur(params: LSTMParams, carry: LSTMState, u: Array) -> tuple[LSTMState, Array]:
        dt = _checks.resolve_float(dtype)
        h, c = cast(tuple(carry), dt)
        z = u + h @ cast(params.w_h, dt)
        i, f, g, o = jnp.split(z, 4, axis=-1)
        c = cast(jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * jnp.tanh(g), dt)
        h = cast(jax.nn.sigmoid(o) * jnp.tanh(c), dt)
        return LSTMState(h, c), h

    def step(params: LSTMParams, carry: LSTMState, x: Array) -> tuple[LSTMState, Array]:
        return recur(params, carry, project(params, x))

    def initial_carry(params: LSTMParams, batch_shape=()) -> LSTMState:
        return LSTMState(*zeros_carry(H, H, dtype=dtype)(params, batch_shape))

    return Cell(init, initial_carry, step, H, project, recur, f"lstm({H})")
