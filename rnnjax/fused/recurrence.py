"""The fused recurrence as a differentiable function: padding, and the ``custom_vjp`` pairing the
forward kernel with the backward kernel.

:func:`recurrence` takes time-major projected inputs ``u: (T, B, G·H)``, the recurrent kernel
``W_h: (H, G·H)``, the initial and reset carries and the masks, and returns the carry after
every step. Its gradient is exact reverse-mode differentiation of the same computation:

- the backward kernel runs the recurrence of the carry cotangents from ``T − 1`` down to 0 and
  writes the per-step cotangents ``du_t`` of the pre-activations (these are ``∂L/∂u_t``);
- the weight cotangents are one matrix product over all steps outside the kernel,
  ``∂L/∂W^k = Σ_t \\tilde h_{t-1}^T\\, da^k_t`` with ``\\tilde h_{t-1}`` the hidden state that
  entered step ``t`` (after a reset), and ``∂L/∂b_{hn} = Σ_t da^n_t`` for the GRU.

The forward saves the gate activations of every step (``T × B × n_saved × H``), as cuDNN's
training mode keeps its reserve space, so per step the backward kernel only multiplies the
cotangents by ``W_h^T`` (the forward products are not recomputed).

Padding to the kernels' tiles: ``H`` up to a power of two ≥ 16 with zero rows and columns of
``W_h`` and zero inputs, ``B`` up to a multiple of the batch block with masked-out rows. A padded
hidden unit never feeds a real one (its row of ``W_h`` is zero), so the real units compute
exactly what they compute unpadded; the padding is sliced off and its cotangents are dropped.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

from rnnjax.fused import kernels
from rnnjax.fused.cells import KernelCell
from rnnjax.fused.kernels import Config

Array = jax.Array


def tile(n: int) -> int:
    """The padded hidden size: the next power of two, at least 16."""
    return max(16, 1 << (n - 1).bit_length())


def recurrence(kc: KernelCell, cfg: Config, w_h: Array, b_hn: Array | None, u: Array,
               c0: tuple, rc: tuple, m: Array, r: Array) -> tuple:
    """Carries after every step, ``n_carry`` arrays ``(T, B, H)``.

    Args:
      kc, cfg: the cell's kernel arithmetic and the kernel settings.
      w_h: ``(H, G·H)``; b_hn: ``(H,)`` for the GRU, else ``None``.
      u: ``(T, B, G·H)`` projected inputs. c0, rc: initial and reset carries, ``(B, H)`` each.
      m, r: boolean ``(T, B)``: the step is real; reset before the step.
    """
    T, B, GH = u.shape
    H = GH // kc.gates
    Hp, Bp = tile(H), -(-B // cfg.block_b) * cfg.block_b
    dh, db = Hp - H, Bp - B
    ws = tuple(jnp.pad(w, ((0, dh), (0, dh))) for w in jnp.split(w_h, kc.gates, axis=-1))
    us = tuple(jnp.pad(a, ((0, 0), (0, db), (0, dh))) for a in jnp.split(u, kc.gates, axis=-1))
    b = None if b_hn is None else jnp.pad(b_hn, (0, dh)).reshape(1, Hp)
    pad_row = lambda a: jnp.pad(a, ((0, db), (0, dh)))
    mask = lambda a: jnp.pad(a, ((0, 0), (0, db))).astype(u.dtype)[..., None]
    outs = _fused(kc, cfg, ws, b, us, tuple(map(pad_row, c0)), tuple(map(pad_row, rc)),
                  mask(m), mask(r))
    return tuple(o[:, :B, :H] for o in outs)


@functools.partial(jax.custom_vjp, nondiff_argnums=(0, 1))
def _fused(kc, cfg, ws, b, us, c0, rc, m, r):
    return kernels.forward(kc, cfg, ws, b, us, c0, rc, m, r, save=False)[0]


def _fused_fwd(kc, cfg, ws, b, us, c0, rc, m, r):
    carries, saved = kernels.forward(kc, cfg, ws, b, us, c0, rc, m, r, save=True)
    return carries, (ws, b, c0, rc, m, r, carries, saved)


def _fused_bwd(kc, cfg, residuals, g_carries):
    ws, b, c0, rc, m, r, carries, saved = residuals
    reset = r > 0
    carries_in = tuple(jnp.where(reset, c_r[None], jnp.concatenate([c_0[None], c[:-1]]))
                       for c_0, c_r, c in zip(c0, rc, carries, strict=True))
    du, extra, g_c0, g_rc = kernels.backward(kc, cfg, tuple(w.T for w in ws), b, saved, carries,
                                             carries_in, g_carries, m, r)
    da = kc.da(du, extra)
    h_in = carries_in[0]
    g_ws = tuple(jnp.einsum("tbi,tbj->ij", h_in, d) for d in da)
    g_b = None if b is None else jnp.sum(da[2], axis=(0, 1)).reshape(b.shape)
    return g_ws, g_b, du, g_c0, g_rc, jnp.zeros_like(m), jnp.zeros_like(r)


_fused.defvjp(_fused_fwd, _fused_bwd)
