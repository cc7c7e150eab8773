"""The Elman network (simple recurrent network).

.. math::  h_t = \\phi(x_t W_x + h_{t-1} W_h + b)

with ``W_x: (I, H)``, ``W_h: (H, H)``, ``b: (H,)`` and ``φ`` the activation (``tanh`` by
default; ``relu`` with an identity ``W_h`` is the IRNN of Le et al. 2015; the identity function
gives a linear RNN). The output is the hidden state itself; put a readout on top for predictions.
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


class ElmanParams(NamedTuple):
    """``w_x: (I, H)`` input kernel, ``w_h: (H, H)`` recurrent kernel, ``b: (H,)`` bias."""

    w_x: Array
    w_h: Array
    b: Array


@cell_constructor
def elman(hidden_size: int, *, activation: Callable[[Array], Array] = jnp.tanh,
          kernel_init: str | Callable = "lecun_normal",
          recurrent_init: str | Callable = "orthogonal",
          spectral_radius: float | None = None,
          use_bias: bool = True, dtype: Any = None, param_dtype: Any = jnp.float32) -> Cell:
    """The simple recurrent network ``h_t = act(x_t W_x + h_{t-1} W_h + b)``.

    Args:
      hidden_size: ``H``.
      activation: ``act``; ``jnp.tanh`` (default), ``jax.nn.sigmoid``, ``jax.nn.relu`` or any
        elementwise function (``lambda z: z`` for a linear RNN).
      kernel_init: initialiser of ``W_x`` (a name in :data:`rnnjax.init.NAMES` or a callable).
      recurrent_init: initialiser of ``W_h``; ``"orthogonal"`` (default) or ``"identity"`` (IRNN).
      spectral_radius: if given, ``W_h`` is rescaled at init so that ``ρ(W_h)`` equals it.
      use_bias: if False, ``b`` is kept at zero and receives no gradient.
      dtype: computation, carry and output dtype; ``None`` is float32 (float64 under x64).
      param_dtype: dtype of the params ``init`` returns (float32 by default, as in Flax).

    Returns:
      A :class:`rnnjax.Cell` with params :class:`ElmanParams` and carry ``h: (*batch, H)``.
    """
    hidden_size = _checks.positive_int(hidden_size, "hidden_size")
    dtype = _checks.float_dtype(dtype, "elman dtype")
    param_dtype = _checks.float_dtype(param_dtype, "elman param_dtype")
    k_init = rnnjax.init.resolve(kernel_init, "elman kernel_init")
    r_init = rnnjax.init.resolve(recurrent_init, "elman recurrent_init")

    def init(key: Array, input_size: int) -> ElmanParams:
        input_size = _checks.positive_int(input_size, "input_size")
        pdt = _checks.resolve_float(param_dtype)
        kx, kh = jax.random.split(key)
        w_h = r_init(kh, (hidden_size, hidden_size), jnp.promote_types(pdt, jnp.float32))
        if spectral_radius is not None:
            w_h = rnnjax.init.scale_spectral_radius(w_h, spectral_radius)
        return ElmanParams(k_init(kx, (input_size, hidden_size), pdt), w_h.astype(pdt),
                           jnp.zeros((hidden_size,), pdt))

    def project(params: ElmanParams, x: Array) -> Array:
        x = jnp.asarray(x)
        check_input(x, params.w_x.shape[0], "elman")
        dt = _checks.resolve_float(dtype)
        w_x, b = cast((params.w_x, params.b), dt)
        u = cast(x, dt) @ w_x
        return u + lead(b, u.ndim) if use_bias else u

    def recur(params: ElmanParams, h: Array, u: Array) -> tuple[Array, Array]:
        dt = _checks.resolve_float(dtype)
        h = cast(activation(u + cast(h, dt) @ cast(params.w_h, dt)), dt)
        return h, h

    def step(params: ElmanParams, h: Array, x: Array) -> tuple[Array, Array]:
        return recur(params, h, project(params, x))

    return Cell(init, zeros_carry(hidden_size, dtype=dtype), step, hidden_size, project, recur,
                f"elman({hidden_size}, {getattr(activation, '__name__', 'act')})")


