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

from rnnjax import _checks
from rnnjax import init as initializers
from rnnjax.cell import Affine, Cell, cast, cell_constructor, check_input, lead, zeros_carry

Array = jax.Array


class MinLSTMParams(NamedTuple):
    """``w_x: (I, 3H)``, ``b: (3H,)``; blocks along the last axis: ``f``, ``i``, ``h̃``."""

    w_x: Array
    b: Array


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
    hidden_size = _checks.positive_int(hidden_size, "hidden_size")
    dtype = _checks.float_dtype(dtype, "minlstm dtype")
    param_dtype = _checks.float_dtype(param_dtype, "minlstm param_dtype")
    H = hidden_size
    k_init = initializers.resolve(kernel_init, "minlstm kernel_init")

    def init(key: Array, input_size: int) -> MinLSTMParams:
        input_size = _checks.positive_int(input_size, "input_size")
        pdt = _checks.resolve_float(param_dtype)
        return MinLSTMParams(k_init(key, (input_size, 3 * H), pdt),
                             jnp.zeros((3 * H,), pdt))

    def project(params: MinLSTMParams, x: Array) -> Array:
        x = jnp.asarray(x)
        check_input(x, params.w_x.shape[0], "minlstm")
        dt = _checks.resolve_float(dtype)
        w_x, b = cast((params.w_x, params.b), dt)
        u = cast(x, dt) @ w_x
        return u + lead(b, u.ndim)

    def maps(u: Array) -> tuple[Array, Array]:
        u_f, u_i, u_h = jnp.split(u, 3, axis=-1)
        f, i = jax.nn.sigmoid(u_f), jax.nn.sigmoid(u_i)
        return f / (f + i), i / (f + i) * u_h

    def recur(params: MinLSTMParams, h: Array, u: Array) -> tuple[Array, Array]:
        a, b = maps(u)
        h = cast(a * h + b, a.dtype)
        return h, h

    def step(params: MinLSTMParams, h: Array, x: Array) -> tuple[Array, Array]:
        return recur(params, h, project(params, x))

    affine = Affine(lambda params, x: maps(project(params, x)), lambda params, h, x: h)
    return Cell(init, zeros_carry(H, dtype=dtype), step, H, project, recur, f"minlstm({H})",
                affine=affine)
