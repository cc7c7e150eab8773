"""The per-step arithmetic of the fused kernels: Elman, LSTM and GRU, forward and backward.

The input projection ``u_t = x_t W_x + b`` is computed outside the kernels (one matrix product
over the whole sequence) and the recurrent products ``a^k = h_{t-1} W^k`` inside them
(:mod:`rnnjax.fused.kernels`), with ``W^k`` the ``(H, H)`` columns of ``W_h`` for gate ``k``.
What is left per cell is elementwise: given the gate blocks ``u^k_t``, ``a^k`` and the carry
entering the step, the new carry. Gate blocks are separate arrays because the GPU kernel
language needs power-of-two tile sizes, and ``3H`` is not one.

Forward (``a^k = h_{t-1} W^k``):

- Elman: ``h_t = φ(u_t + a)`` with ``φ`` ∈ {tanh, relu, sigmoid}.
- LSTM (gates i, f, g, o): ``c_t = σ(u^f + a^f) c_{t-1} + σ(u^i + a^i) tanh(u^g + a^g)``,
  ``h_t = σ(u^o + a^o) tanh(c_t)`` (Hochreiter & Schmidhuber 1997; Gers et al. 2000).
- GRU, reset-after (gates r, z, n; Cho et al. 2014 as in cuDNN):
  ``r = σ(u^r + a^r)``, ``z = σ(u^z + a^z)``, ``n = tanh(u^n + r ⊙ (a^n + b_hn))``,
  ``h_t = (1 − z) n + z h_{t-1}``.

Backward: given the cotangent ``ḡ`` of the new carry, a step returns ``du^k`` (the cotangent of
``u^k``), ``da^k`` (of ``a^k``; they differ only for the GRU's ``n`` block, where
``da^n = du^n ⊙ r``) and the cotangent of the carry that entered the step other than through
``a^k``; the kernels add the part through it, ``Σ_k da^k (W^k)^T``. The weight gradients are one matrix
product outside the kernel, ``dW^k = Σ_t h_{t-1}^T da^k_t`` — the backward recurrence of
BPTT (Werbos 1990) with the products that do not recur taken out of the time loop, as cuDNN does.
Derivatives are written from saved activations: ``σ' = σ(1 − σ)``, ``tanh' = 1 − tanh²``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from rnnjax.cell import Cell

Array = jax.Array


class KernelCell(NamedTuple):
    """What the kernels need to know about a cell.

    The functions work on one chunk of hidden units (``(B, n)`` arrays, any ``n``): the kernels
    compute the recurrent products ``a^k`` and the carry cotangents flowing back through them,
    the cell only the elementwise rest.

    Attributes:
      name: ``"elman"``, ``"lstm"`` or ``"gru"``.
      gates: ``G``, the number of ``(H, H)`` blocks of ``W_h``.
      n_carry: 1 (``h``) or 2 (``h, c``).
      n_saved: how many ``(B, H)`` activations per step the forward saves for the backward.
      has_b_hn: the GRU's recurrent bias of the ``n`` gate.
      forward: ``(us, a, b_hn, carry) -> (new_carry, saved)``: tuples of arrays.
      backward: ``(saved, new, carry_in, g_new, b_hn) -> (g_direct, du, extra)``: ``g_direct``
        the carry-in cotangent other than through ``a`` (``None`` where there is none).
      da: ``(du, extra) -> da``: the cotangents of ``a^k = h_{t-1} W^k``.
    """

    name: str
    gates: int
    n_carry: int
    n_saved: int
    has_b_hn: bool
    forward: Callable[..., tuple[tuple, tuple]]
    backward: Callable[..., tuple[tuple, tuple, tuple]]
    da: Callable[[tuple, tuple], tuple]


def _dsigmoid(s: Array) -> Array:
    return s * (1.0 - s)


def _dtanh(t: Array) -> Array:
    return 1.0 - t * t


def _same(du: tuple, extra: tuple) -> tuple:
    return du


_ELMAN_DERIVATIVES: dict[Any, Callable[[Array], Array]] = {
    jnp.tanh: _dtanh,
    jax.nn.sigmoid: _dsigmoid,
    jax.nn.relu: lambda y: jnp.where(y > 0, 1.0, 0.0).astype(y.dtype),
}


def _elman(activation: Callable[[Array], Array]) -> KernelCell:
    derivative = _ELMAN_DERIVATIVES[activation]

    def forward(us, a, b_hn, carry):
        return (activation(us[0] + a[0]),), ()

    def backward(saved, new, carry_in, g_new, b_hn):
        return (None,), (g_new[0] * derivative(new[0]),), ()

    return KernelCell("elman", 1, 1, 0, False, forward, backward, _same)


def _lstm_forward(us, a, b_hn, carry):
    _, c = carry
    i = jax.nn.sigmoid(us[0] + a[0])
    f = jax.nn.sigmoid(us[1] + a[1])
    g = jnp.tanh(us[2] + a[2])
    o = jax.nn.sigmoid(us[3] + a[3])
    c = f * c + i * g
    return (o * jnp.tanh(c), c), (i, f, g, o)


def _lstm_backward(saved, new, carry_in, g_new, b_hn):
    i, f, g, o = saved
    _, c_new = new
    _, c_in = carry_in
    gh, gc = g_new
    tc = jnp.tanh(c_new)
    gc = gc + gh * o * _dtanh(tc)
    du = (gc * g * _dsigmoid(i), gc * c_in * _dsigmoid(f), gc * i * _dtanh(g),
          gh * tc * _dsigmoid(o))
    return (None, gc * f), du, ()


def _gru_forward(us, a, b_hn, carry):
    (h,) = carry
    r = jax.nn.sigmoid(us[0] + a[0])
    z = jax.nn.sigmoid(us[1] + a[1])
    hn = a[2] + b_hn
    n = jnp.tanh(us[2] + r * hn)
    return ((1.0 - z) * n + z * h,), (r, z, n, hn)


def _gru_backward(saved, new, carry_in, g_new, b_hn):
    r, z, n, hn = saved
    (h_in,) = carry_in
    (gh,) = g_new
    dn = gh * (1.0 - z) * _dtanh(n)
    du = (dn * hn * _dsigmoid(r), gh * (h_in - n) * _dsigmoid(z), dn)
    return (gh * z,), du, (dn * r,)


LSTM = KernelCell("lstm", 4, 2, 4, False, _lstm_forward, _lstm_backward, _same)
GRU = KernelCell("gru", 3, 1, 4, True, _gru_forward, _gru_backward,
                 lambda du, extra: (du[0], du[1], extra[0]))
ELMAN = {activation: _elman(activation) for activation in _ELMAN_DERIVATIVES}

SUPPORTED = ("elman (activation tanh, relu or sigmoid), lstm, gru (variant 'reset_after'), "
             "built by rnnjax.cells (also inside rnnjax.init.learned_initial_carry)")


def stepping(cell: Cell, params: Any = None) -> tuple[Cell, Any]:
    """The cell (and its params) whose steps run: the wrapped cell of
    :func:`rnnjax.init.learned_initial_carry` (exactly as that builds it), whose learned initial
    carry :func:`rnnjax.unroll` resolves before the kernels run and receives its gradient as
    the initial carry's; ``cell`` itself otherwise."""
    from rnnjax.init import learned_initial_carry

    spec = cell.spec
    if spec is not None and spec[0] is getattr(learned_initial_carry, "__wrapped__", None):
        args = dict(spec[1])
        if isinstance(args["cell"], Cell) and learned_initial_carry(**args) == cell:
            return stepping(args["cell"], None if params is None else params.cell)
    return cell, params


def kernel_cell(cell: Cell, where: str = "unroll(method='fused')") -> KernelCell:
    """The :class:`KernelCell` computing ``cell`` (through :func:`stepping`), or a one-line
    ``ValueError`` naming what is supported. The cell must be exactly what its constructor
    builds (not a modified copy)."""
    from rnnjax.cells import elman, gru, lstm

    cell, _ = stepping(cell)
    spec = cell.spec
    constructor = None if spec is None else spec[0]
    args = {} if spec is None else dict(spec[1])
    found = None
    if constructor is getattr(lstm, "__wrapped__", None):
        found, rebuilt = LSTM, lstm
    elif constructor is getattr(gru, "__wrapped__", None) and args.get("variant") == "reset_after":
        found, rebuilt = GRU, gru
    elif constructor is getattr(elman, "__wrapped__", None) and args.get("activation") in ELMAN:
        found, rebuilt = ELMAN[args["activation"]], elman
    if found is None or rebuilt(**args) != cell:
        raise ValueError(f"{where} supports {SUPPORTED}; got {cell.name}")
    return found
