r"""Gradient flow through time: the backpropagation view of the Jacobian products.

For a loss :math:`L` computed from the outputs of an unrolled cell, backpropagation through
time carries the adjoint :math:`\delta_t = \partial L / \partial h_t` backwards,

.. math::

    \delta_{t-1} = J_t^\top \delta_t + \frac{\partial L_{\text{direct}}}{\partial h_{t-1}},
    \qquad J_t = \frac{\partial h_t}{\partial h_{t-1}} ,

so for a loss at the last step only, :math:`\delta_{T-\tau} = (J_T\cdots J_{T-\tau+1})^\top
\delta_T` and :math:`\|\delta_{T-\tau}\|` against the lag :math:`\tau` is the vanishing /
exploding gradient of Bengio et al. (1994) and Pascanu et al. (2013).

:func:`gradient_flow` measures it without touching the cell: a zero perturbation
:math:`\varepsilon_t` is added to the carry after every step, :math:`h_t = F(h_{t-1}, x_t) +
\varepsilon_t`, and :math:`\partial L/\partial \varepsilon_t = \partial L/\partial h_t` is read off
one reverse-mode pass.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import jax
import jax.numpy as jnp

from rnnjax.analysis._flat import (
    _check_carry_unbatched,
    _check_length,
    _check_xs,
    _with_length,
    flat_step,
)
from rnnjax.cell import Cell, PyTree, require_cell

Array = jax.Array

__all__ = ["carry_gradients", "gradient_flow"]


def carry_gradients(
    cell: Cell,
    params: PyTree,
    xs: Array,
    loss_fn: Callable[[PyTree, Array], Array],
    carry: PyTree | None = None,
    *,
    length=None,
) -> Array:
    r"""``dL/dh_t`` for ``t = 0..T`` (flattened carry), shape ``(T + 1, N)``.

    Args:
      cell, params, xs, carry: one sequence ``(T, input_size)`` and its initial carry, as in
        :func:`rnnjax.analysis.jacobian_norms`.
      loss_fn: ``(final_carry, ys) -> scalar`` with ``ys`` the stacked outputs
        ``(T, output_size)``; e.g. ``lambda c, ys: jnp.sum((c @ w_out - target) ** 2)`` for an
        Elman cell read out at the last step. Readout parameters and targets are closed over.

    Row ``t`` is the gradient with respect to the carry after step ``t`` (row 0: the initial
    carry ``h_0``, row ``T``: the final carry). A step's output ``y_t`` is computed inside the
    step from ``(h_{t-1}, x_t)``, so a loss written on ``ys[-1]`` is first felt at ``h_{T-1}``;
    write a last-step loss on the final carry to include lag 0.

    ``length`` (an integer scalar, may be traced): real steps of a padded ``xs``. The steps past
    it leave the carry as it is and output zeros (as :func:`rnnjax.unroll` with ``lengths``), so
    the final carry is the carry at the length and rows ``t >= length`` all equal
    ``dL/dh_length``; a ``loss_fn`` that ignores zero outputs gives what the sliced sequence
    gives.
    """
    xs = _check_xs(xs, "carry_gradients")
    f, h0, unravel = flat_step(cell, params, carry, where="carry_gradients")
    if carry is not None:
        _check_carry_unbatched(h0, carry, "carry_gradients")
    length = _check_length(length, xs.shape[0], "carry_gradients")
    return _carry_gradients_jit(cell, loss_fn, params, xs, carry, length)


@partial(jax.jit, static_argnums=(0, 1))
def _carry_gradients_jit(cell, loss_fn, params, xs, carry, length):
    f, h0, unravel = flat_step(cell, params, carry)
    f, xs = _with_length(f, xs, length)

    def loss_of_perturbations(eps: Array) -> Array:
        def body(h, inputs):
            x, e = inputs
            h_next, y = f(h, x)
            return h_next + e, y

        h_final, ys = jax.lax.scan(body, h0 + eps[0], (xs, eps[1:]))
        loss = jnp.asarray(loss_fn(unravel(h_final), ys))
        if loss.shape != ():
            raise ValueError(f"loss_fn must return a scalar, got shape {loss.shape}")
        return loss

    eps = jnp.zeros((xs.shape[0] + 1, h0.shape[0]), h0.dtype)
    return jax.grad(loss_of_perturbations)(eps)


def gradient_flow(
    cell: Cell,
    params: PyTree,
    xs: Array,
    loss_fn: Callable[[PyTree, Array], Array],
    carry: PyTree | None = None,
    *,
    length=None,
) -> Array:
    r"""``||dL/dh_t||_2`` for ``t = 0..T``, shape ``(T + 1,)``.

    For a loss at the last step, entry ``T - tau`` is the gradient that reaches ``tau`` steps
    back: plot it against the lag ``tau`` (``flow[::-1]``). ``jax.vmap`` over ``xs`` (and the
    targets closed over in ``loss_fn``) for a batch, with ``length`` for padded sequences. See
    :func:`carry_gradients`.
    """
    require_cell(cell, "gradient_flow")
    return jnp.linalg.norm(carry_gradients(cell, params, xs, loss_fn, carry, length=length),
                           axis=-1)
