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

from rnnjax import _checks
from rnnjax import init as initializers
from rnnjax.cell import Affine, Cell, cast, cell_constructor, check_input, lead, zeros_carry

Array = jax.Array


class MinGRUParams(NamedTuple):
    """``w_x: (I, 2H)``, ``b: (2H,)``; blocks along the last axis: ``z`` (update gate), ``h̃``."""

    w_x: Array
    b: Array


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
    hidden_size = _checks.positive_int(hidden_size, "hidden_size")
    dtype = _checks.float_dtype(dtype, "mingru dtype")
    param_dtype = _checks.float_dtype(param_dtype, "mingru param_dtype")
    H = hidden_size
    k_init = initializers.resolve(kernel_init, "mingru kernel_init")

    def init(key: Array, input_size: int) -> MinGRUParams:
        input_size = _checks.positive_int(input_size, "input_size")
        pdt = _checks.resolve_float(param_dtype)
        return MinGRUParams(k_init(key, (input_size, 2 * H), pdt),
                            jnp.zeros((2 * H,), pdt))

    def project(params: MinGRUParams, x: Array) -> Array:
        x = jnp.asarray(x)
        check_input(x, params.w_x.shape[0], "mingru")
        dt = _checks.resolve_float(dtype)
        w_x, b = cast((params.w_x, params.b), dt)
        u = cast(x, dt) @ w_x
        return u + lead(b, u.ndim)

    def maps(u: Array) -> tuple[Array, Array]:
        u_z, u_h = jnp.split(u, 2, axis=-1)
        z = jax.nn.sigmoid(u_z)
        return 1.0 - z, z * u_h

    def recur(params: MinGRUParams, h: Array, u: Array) -> tuple[Array, Array]:
        a, b = maps(u)
        h = cast(a * h + b, a.dtype)
        return h, h

    def step(params: MinGRUParams, h: Array, x: Array) -> tuple[Array, Array]:
        return recur(params, h, project(params, x))

    affine = Affine(lambda params, x: maps(project(params, x)), lambda params, h, x: h)
    return Cell(init, zeros_carry(H, dtype=dtype), step, H, project, recur, f"mingru({H})",
                affine=affine)
