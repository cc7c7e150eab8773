"""Weight converters between rnnjax params and PyTorch's ``nn.RNN`` / ``nn.LSTM`` / ``nn.GRU``.

NumPy in, NumPy out: torch is not imported. ``state_dict`` is any mapping from PyTorch parameter
names to arrays, e.g. ``{k: v.numpy() for k, v in module.state_dict().items()}``.

PyTorch stores ``weight_ih_l{k}: (G·H, I)``, ``weight_hh_l{k}: (G·H, H)`` and two biases
``bias_ih_l{k}, bias_hh_l{k}: (G·H,)`` with gates ``(i, f, g, o)`` for the LSTM and ``(r, z, n)``
for the GRU — the same gate order as rnnjax. rnnjax keeps one bias where the maths has one:

- RNN and LSTM: ``b = b_ih + b_hh`` (the two biases only ever appear summed).
- GRU: ``b = b_ih + [b_hr, b_hz, 0]`` and ``b_hn`` separate, because PyTorch's candidate is
  ``n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn))``: ``b_hn`` sits inside the reset product.

So ``from_torch`` is exact, and ``to_torch`` writes the folded bias into ``bias_ih`` (and ``b_hn``
into the ``n`` block of ``bias_hh``), which computes the same function.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from rnnjax.cells import ElmanParams, GRUParams, LSTMParams

KINDS = {"rnn": 1, "lstm": 4, "gru": 3}


def _suffix(layer: int, reverse: bool) -> str:
    if not isinstance(layer, int) or layer < 0:
        raise ValueError(f"layer must be a non-negative int, got {layer!r}")
    return f"_l{layer}" + ("_reverse" if reverse else "")


def _gates(kind: str) -> int:
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {sorted(KINDS)}, got {kind!r}")
    return KINDS[kind]


def from_torch(kind: str, state_dict: Mapping[str, Any], layer: int = 0, *, reverse: bool = False,
               prefix: str = "") -> ElmanParams | LSTMParams | GRUParams:
    """rnnjax params computing what the PyTorch module computes.

    Args:
      kind: ``"rnn"`` (→ :class:`ElmanParams`; pass the module's ``nonlinearity`` to
        ``rnnjax.cells.elman(activation=...)``), ``"lstm"`` or ``"gru"`` (``reset_after``).
      state_dict: PyTorch parameter names to arrays (anything ``np.asarray`` accepts).
      layer: which layer ``k`` of a multi-layer module (names ``*_l{k}``).
      reverse: the backward direction of a bidirectional module (names ``*_l{k}_reverse``).
      prefix: a prefix of every name, e.g. ``"encoder.rnn."``.
    """
    G = _gates(kind)
    sfx = _suffix(layer, reverse)

    def get(name: str, required: bool = True):
        full = f"{prefix}{name}{sfx}"
        if full not in state_dict:
            if required:
                raise ValueError(f"from_torch: state_dict has no {full!r}; keys are "
                                 f"{sorted(state_dict)[:8]}{'…' if len(state_dict) > 8 else ''}")
            return None
        return np.asarray(state_dict[full], dtype=np.float32)

    if f"{prefix}weight_hr{sfx}" in state_dict:
        raise ValueError("from_torch: LSTMs with proj_size > 0 (weight_hr) are not supported")
    w_ih, w_hh = get("weight_ih"), get("weight_hh")
    if w_ih.ndim != 2 or w_hh.ndim != 2 or w_ih.shape[0] % G or w_hh.shape[1] * G != w_hh.shape[0]:
        raise ValueError(f"from_torch: expected weight_ih ({G}·H, I) and weight_hh ({G}·H, H) for "
                         f"kind={kind!r}, got {w_ih.shape} and {w_hh.shape}")
    H = w_hh.shape[1]
    if w_ih.shape[0] != G * H:
        raise ValueError(f"from_torch: weight_ih has {w_ih.shape[0]} rows, expected {G}·{H}")
    zeros = np.zeros((G * H,), np.float32)
    b_ih = get("bias_ih", required=False)
    b_hh = get("bias_hh", required=False)
    b_ih = zeros if b_ih is None else b_ih
    b_hh = zeros if b_hh is None else b_hh
    w_x, w_h = np.ascontiguousarray(w_ih.T), np.ascontiguousarray(w_hh.T)
    if kind == "rnn":
        return ElmanParams(w_x, w_h, b_ih + b_hh)
    if kind == "lstm":
        return LSTMParams(w_x, w_h, b_ih + b_hh)
    b = b_ih + np.concatenate([b_hh[: 2 * H], np.zeros((H,), np.float32)])
    return GRUParams(w_x, w_h, b, b_hh[2 * H:].copy())


def to_torch(kind: str, params: ElmanParams | LSTMParams | GRUParams, layer: int = 0, *,
             reverse: bool = False, prefix: str = "") -> dict[str, np.ndarray]:
    """A PyTorch ``state_dict`` fragment (NumPy arrays) for ``params``.

    Load it with ``module.load_state_dict({k: torch.from_numpy(v) for k, v in sd.items()},
    strict=False)``. Only ``reset_after`` GRUs have a PyTorch equivalent.
    """
    G = _gates(kind)
    sfx = _suffix(layer, reverse)
    expected = {"rnn": ElmanParams, "lstm": LSTMParams, "gru": GRUParams}[kind]
    if not isinstance(params, expected):
        raise TypeError(f"to_torch: kind={kind!r} expects {expected.__name__}, "
                        f"got {type(params).__name__}")
    w_x, w_h, b = (np.asarray(a, np.float32) for a in params[:3])
    H = w_h.shape[0]
    if w_h.shape != (H, G * H) or b.shape != (G * H,):
        raise ValueError(f"to_torch: expected w_h ({H}, {G * H}) and b ({G * H},), "
                         f"got {w_h.shape} and {b.shape}")
    b_hh = np.zeros((G * H,), np.float32)
    if kind == "gru":
        if params.b_hn is None:
            raise ValueError("to_torch: reset_before GRUs have no PyTorch equivalent "
                             "(PyTorch computes the reset_after form)")
        b_hh[2 * H:] = np.asarray(params.b_hn, np.float32)
    return {f"{prefix}weight_ih{sfx}": np.ascontiguousarray(w_x.T),
            f"{prefix}weight_hh{sfx}": np.ascontiguousarray(w_h.T),
            f"{prefix}bias_ih{sfx}": b.copy(), f"{prefix}bias_hh{sfx}": b_hh}
