"""Linear recurrences in the residual blocks their papers train them in, as one :class:`Cell`.

A linear recurrence with a linear readout is linear in its input sequence; the papers that
report these cells learning long-range tasks interleave them with position-wise nonlinear
layers and residual connections. Since every layer but the recurrence acts on one position at a
time, a stack of such blocks is still a recurrence: the cell below carries one state per layer
and processes ``x_t`` through every layer in turn, so any sequence model takes it as its cell
(``sequence_model(lru_block(64), ...)``).

:func:`lru_block` — Orvieto et al. (2023, Fig. 1 and §5), per layer ``l = 1..L`` on the
stream ``s_t`` (``s^0_t = x_t W_in + b_in``, width ``d``):

.. math::

    u_t = \\mathrm{LN}(s^{l-1}_t),\\qquad y_t = \\mathrm{GELU}(\\mathrm{LRU}(u)_t),\\qquad
    s^l_t = s^{l-1}_t + (y_t W_a + b_a) ⊙ σ(y_t W_b + b_b)

(normalisation, LRU, GELU, a GLU mixing layer and a skip connection; the paper uses batch or
layer normalisation, here layer normalisation, which acts on one position).

:func:`minrnn_block` — Feng et al. (2024, "Were RNNs all we needed?", the residual architecture
of their experiments): a pre-norm residual recurrence followed by a pre-norm residual MLP,

.. math::

    r_t = s^{l-1}_t + \\mathrm{minRNN}(\\mathrm{LN}(s^{l-1}))_t,\\qquad
    s^l_t = r_t + \\mathrm{GELU}(\\mathrm{LN}(r_t) W_1 + b_1) W_2 + b_2

with ``W_1: (d, 4d)``, ``W_2: (4d, d)`` and the minRNN (minGRU or minLSTM) of width ``d``. (The
paper's language models also put a causal convolution before the recurrence; it is not used.)

``LN(s) = (s − mean(s)) / sqrt(var(s) + 1e-5) ⊙ g + β`` over the last axis. The cell's output is
``s^L_t`` (width ``d``); its carry is the tuple of the layers' carries (complex for the LRU).

Over a sequence, :func:`rnnjax.unroll` runs a block layer by layer (the cell's ``sequence``):
each position-wise part once over all positions, each recurrence as one unroll, which is what
``step`` scanned over time computes (lengths, resets and reversal included; tested to float32
rounding, gradients too). The recurrences are linear with input-only coefficients, so
``unroll(block, params, xs, method="associative")`` evaluates each as a parallel scan
(Blelloch 1990; Martin & Cundy 2018), ``O(log T)`` deep.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from rnnjax import _checks
from rnnjax import _sequence as seq
from rnnjax.cell import Cell, cell_constructor, check_input, lead
from rnnjax.cells.lru import lru
from rnnjax.cells.mingru import mingru
from rnnjax.cells.minlstm import minlstm
from rnnjax.unroll import unroll

Array = jax.Array
LN_EPS = 1e-5
MLP_EXPANSION = 4
MINRNNS = {"mingru": mingru, "minlstm": minlstm}


class LayerParams(NamedTuple):
    """One block: ``norm``: ``(g, β)`` of the pre-norm; ``rnn``: the recurrence's params;
    ``mix``: ``(w_a, b_a, w_b, b_b)`` of the GLU (LRU block) or ``(w_1, b_1, w_2, b_2)`` and the
    second norm ``(g, β)`` of the MLP (minRNN block)."""

    norm: tuple[Array, Array]
    rnn: Any
    mix: tuple[Array, ...]


class BlockParams(NamedTuple):
    """``w_in: (I, d)``, ``b_in: (d,)`` the input projection; ``layers``: one
    :class:`LayerParams` per block."""

    w_in: Array
    b_in: Array
    layers: tuple[LayerParams, ...]


def layer_norm(s: Array, norm: tuple[Array, Array]) -> Array:
    """``(s − mean) / sqrt(var + 1e-5) ⊙ g + β`` over the last axis."""
    g, beta = norm
    mean = jnp.mean(s, axis=-1, keepdims=True)
    var = jnp.mean((s - mean) ** 2, axis=-1, keepdims=True)
    return (s - mean) / jnp.sqrt(var + LN_EPS) * lead(g, s.ndim) + lead(beta, s.ndim)


def _dense(key: Array, n_in: int, n_out: int) -> tuple[Array, Array]:
    """``(W, b)`` with ``W ~ N(0, 1/n_in)`` and ``b = 0``."""
    return (jax.random.normal(key, (n_in, n_out)) / math.sqrt(n_in), jnp.zeros((n_out,)))


def _affine(x: Array, w: Array, b: Array) -> Array:
    y = x @ w
    return y + lead(b, y.ndim)


def _glu(y: Array, mix) -> Array:
    w_a, b_a, w_b, b_b = mix
    return _affine(y, w_a, b_a) * jax.nn.sigmoid(_affine(y, w_b, b_b))


def _mlp(r: Array, mix) -> Array:
    w1, b1, w2, b2, g, beta = mix
    return _affine(jax.nn.gelu(_affine(layer_norm(r, (g, beta)), w1, b1)), w2, b2)


def _blocks(kind: str, layer: Cell, width: int, n_layers: int) -> Cell:
    """The residual stack of ``n_layers`` blocks of ``kind`` ("lru" or "minrnn") around
    ``layer`` (a cell of output size ``width``)."""
    d = width
    ones = lambda: (jnp.ones((d,)), jnp.zeros((d,)))

    def init(key: Array, input_size: int) -> BlockParams:
        I = _checks.positive_int(input_size, "input_size")
        k_in, *keys = jax.random.split(key, 1 + n_layers)
        layers = []
        for k in keys:
            k_rnn, k_a, k_b = jax.random.split(k, 3)
            if kind == "lru":
                mix = (*_dense(k_a, d, d), *_dense(k_b, d, d))
            else:
                mix = (*_dense(k_a, d, MLP_EXPANSION * d), *_dense(k_b, MLP_EXPANSION * d, d),
                       *ones())
            layers.append(LayerParams(ones(), layer.init(k_rnn, d), mix))
        return BlockParams(*_dense(k_in, I, d), tuple(layers))

    def initial_carry(params: BlockParams, batch_shape=()) -> tuple:
        return tuple(layer.initial_carry(p.rnn, batch_shape) for p in params.layers)

    def mix(s: Array, y: Array, p: LayerParams) -> Array:
        """The block's position-wise part after its recurrence's output ``y``."""
        if kind == "lru":
            return s + _glu(jax.nn.gelu(y), p.mix)
        s = s + y
        return s + _mlp(s, p.mix)

    def step(params: BlockParams, carry: tuple, x: Array) -> tuple[tuple, Array]:
        x = jnp.asarray(x)
        check_input(x, params.w_in.shape[0], f"{kind} block")
        s = _affine(x, params.w_in, params.b_in)
        new = []
        for p, c in zip(params.layers, carry, strict=True):
            c, y = layer.step(p.rnn, c, layer_norm(s, p.norm))
            s = mix(s, y, p)
            new.append(c)
        return tuple(new), s

    def sequence(params: BlockParams, xs: Array, carry: tuple, *, reset_carry=None,
                 key=None, deterministic=False, **options):
        """What ``step`` computes over a whole sequence, layer by layer: every position-wise
        part (projection, norms, GLU or MLP) is one product over all ``T`` positions, and each
        recurrence one :func:`rnnjax.unroll` (``method``, ``hoist``, … passed on: the LRU and
        the minRNNs can run as a parallel scan, ``method="associative"``)."""
        del key, deterministic  # nothing random
        check_input(xs[..., 0, :], params.w_in.shape[0], f"{kind} block")
        lengths = options["lengths"]
        keep = None
        if lengths is not None:  # padding: zeros in (the cell never sees it), zeros out
            keep = jnp.moveaxis(seq.valid(xs.shape[-2], lengths), 0, -1)[..., None]
            xs = jnp.where(keep, xs, 0)
        s = _affine(xs, params.w_in, params.b_in)
        finals, per_step = [], []
        for i, (p, c) in enumerate(zip(params.layers, carry, strict=True)):
            r = None if reset_carry is None else reset_carry[i]
            c, out = unroll(layer, p.rnn, layer_norm(s, p.norm), c, reset_carry=r, **options)
            y, cs = out if options["return_carries"] else (out, None)
            s = mix(s, y, p)
            finals.append(c)
            per_step.append(cs)
        if keep is not None:
            s = jnp.where(keep, s, 0)
        return tuple(finals), ((s, tuple(per_step)) if options["return_carries"] else s)

    return Cell(init, initial_carry, step, d, name=f"{kind}_block({d}, layers={n_layers})",
                sequence=sequence)


@cell_constructor
def lru_block(width: int, *, n_layers: int = 2, state_size: int | None = None,
              r_min: float = 0.9, r_max: float = 0.999, max_phase: float = math.pi / 10) -> Cell:
    """``n_layers`` LRU blocks of Orvieto et al. (2023) of width ``d``, as one cell.

    Args:
      width: ``d``, the residual stream's width (and each LRU's output size).
      n_layers: ``L >= 1`` blocks (the paper uses several; at least 2 for a nonlinear
        composition of recurrences).
      state_size: ``N``, complex states per LRU (``d`` when None).
      r_min, r_max, max_phase: the LRU's eigenvalue initialisation (its long-range defaults).
    """
    d = _checks.positive_int(width, "width")
    _checks.positive_int(n_layers, "n_layers")
    layer = lru(d if state_size is None else state_size, output_size=d, r_min=r_min,
                r_max=r_max, max_phase=max_phase)
    return _blocks("lru", layer, d, n_layers)


@cell_constructor
def minrnn_block(width: int, *, kind: str = "mingru", n_layers: int = 2) -> Cell:
    """``n_layers`` residual minGRU or minLSTM blocks of Feng et al. (2024) of width ``d``.

    Args:
      width: ``d``, the residual stream's width (the recurrence's hidden size).
      kind: ``"mingru"`` or ``"minlstm"``.
      n_layers: ``L >= 1`` blocks.
    """
    d = _checks.positive_int(width, "width")
    _checks.positive_int(n_layers, "n_layers")
    if kind not in MINRNNS:
        raise ValueError(f"minrnn_block: kind must be one of {sorted(MINRNNS)}, got {kind!r}")
    return _blocks("minrnn", MINRNNS[kind](d), d, n_layers)
