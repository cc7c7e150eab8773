"""Weight converters between rnnjax params and PyTorch / Flax linen recurrent layers.

NumPy in, NumPy out: neither torch nor Flax is imported. Arrays keep their dtype (float64 stays
float64, an ``ml_dtypes`` bfloat16 stays bfloat16) unless a ``dtype`` is given; folded biases are
summed in at least float32.

**PyTorch** (``nn.RNN`` / ``nn.LSTM`` / ``nn.GRU``). ``state_dict`` is any mapping from PyTorch
parameter names to arrays, e.g. ``{k: v.numpy() for k, v in module.state_dict().items()}``.
PyTorch stores ``weight_ih_l{k}: (G·H, I)``, ``weight_hh_l{k}: (G·H, H)`` and two biases
``bias_ih_l{k}, bias_hh_l{k}: (G·H,)`` with gates ``(i, f, g, o)`` for the LSTM and ``(r, z, n)``
for the GRU — the same gate order as rnnjax. rnnjax keeps one bias where the maths has one:

- RNN and LSTM: ``b = b_ih + b_hh`` (the two biases only ever appear summed).
- GRU: ``b = b_ih + [b_hr, b_hz, 0]`` and ``b_hn`` separate, because PyTorch's candidate is
  ``n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn))``: ``b_hn`` sits inside the reset product.

So ``from_torch`` is exact, and ``to_torch`` writes the folded bias into ``bias_ih`` (and ``b_hn``
into the ``n`` block of ``bias_hh``), which computes the same function. Whole modules (layers
``l0..l{L-1}``, ``_reverse`` directions) go through :func:`from_torch_module` /
:func:`to_torch_module`.

**Flax linen** (``SimpleCell`` / ``LSTMCell`` / ``OptimizedLSTMCell`` / ``GRUCell``): see
:func:`from_flax`.
"""

from __future__ import annotations

import inspect
import operator
import re
from collections.abc import Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from rnnjax.cell import Cell
from rnnjax.cells import ElmanParams, GRUParams, LSTMParams, LSTMState, elman, gru, lstm
from rnnjax.compose import Bidirectional, bidirectional, stack

KINDS = {"rnn": 1, "lstm": 4, "gru": 3}
PARAMS = {"rnn": ElmanParams, "lstm": LSTMParams, "gru": GRUParams}
NONLINEARITIES = ("tanh", "relu")


# ----------------------------------------------------------------------------- checks


def _index(value, what: str, minimum: int) -> int:
    """``value`` as a Python int (NumPy integers accepted), at least ``minimum``."""
    try:
        if isinstance(value, bool | np.bool_):
            raise TypeError
        n = operator.index(value)
    except TypeError:
        raise TypeError(f"{what} must be an int, got {value!r}") from None
    if n < minimum:
        raise ValueError(f"{what} must be an int >= {minimum}, got {n}")
    return n


def _gates(kind: str) -> int:
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {sorted(KINDS)}, got {kind!r}")
    return KINDS[kind]


def _suffix(layer, reverse: bool) -> str:
    return f"_l{_index(layer, 'layer', 0)}" + ("_reverse" if reverse else "")


def _array(value, name: str, where: str) -> np.ndarray:
    a = np.asarray(value)
    if not jnp.issubdtype(a.dtype, jnp.floating):  # also ml_dtypes' bfloat16
        raise TypeError(f"{where}: {name} must be a floating-point array, got dtype {a.dtype}")
    return a


def _shape(a: np.ndarray, want: tuple, name: str, where: str, sizes: str) -> None:
    if a.shape != want:
        raise ValueError(f"{where}: {name} must have shape {want} ({sizes}), got {a.shape}")


def _out_dtype(arrays, dtype) -> np.dtype:
    return np.dtype(dtype) if dtype is not None else np.result_type(*arrays)


def _acc(dtype: np.dtype) -> np.dtype:
    """The dtype to sum biases in: at least float32."""
    return np.promote_types(dtype, np.float32)


# ----------------------------------------------------------------------------- PyTorch, one layer


def from_torch(kind: str, state_dict: Mapping[str, Any], layer: int = 0, *, reverse: bool = False,
               prefix: str = "", input_size: int | None = None,
               dtype=None) -> ElmanParams | LSTMParams | GRUParams:
    """rnnjax params computing what one layer (one direction) of the PyTorch module computes.

    Args:
      kind: ``"rnn"`` (→ :class:`ElmanParams`; pass the module's ``nonlinearity`` to
        ``rnnjax.cells.elman(activation=...)``), ``"lstm"`` or ``"gru"`` (``reset_after``).
      state_dict: PyTorch parameter names to arrays (anything ``np.asarray`` accepts).
      layer: which layer ``k`` of a multi-layer module (names ``*_l{k}``).
      reverse: the backward direction of a bidirectional module (names ``*_l{k}_reverse``).
      prefix: a prefix of every name, e.g. ``"encoder.rnn."``.
      input_size: if given, ``weight_ih`` must have this many columns.
      dtype: the dtype of the params; the state dict's when None.

    Every array is checked against the kind and the sizes ``H`` (from ``weight_hh``) and ``I``;
    a missing bias counts as zero.
    """
    G = _gates(kind)
    sfx = _suffix(layer, reverse)
    where = "from_torch"

    def get(name: str, required: bool = True):
        full = f"{prefix}{name}{sfx}"
        if full not in state_dict:
            if required:
                raise ValueError(f"{where}: state_dict has no {full!r}; keys are "
                                 f"{sorted(state_dict)[:8]}{'…' if len(state_dict) > 8 else ''}")
            return None
        return full, _array(state_dict[full], full, where)

    if f"{prefix}weight_hr{sfx}" in state_dict:
        raise ValueError(f"{where}: LSTMs with proj_size > 0 (weight_hr) are not supported")
    (n_ih, w_ih), (n_hh, w_hh) = get("weight_ih"), get("weight_hh")
    if w_hh.ndim != 2 or w_hh.shape[0] != G * w_hh.shape[1]:
        raise ValueError(f"{where}: {n_hh} must have shape ({G}·H, H) for kind={kind!r}, "
                         f"got {w_hh.shape}")
    H = w_hh.shape[1]
    if H < 1:
        raise ValueError(f"{where}: {n_hh} has shape {w_hh.shape}: the hidden size H must be >= 1")
    if w_ih.ndim != 2:
        raise ValueError(f"{where}: {n_ih} must have shape ({G}·H, I) with H={H}, got {w_ih.shape}")
    I = w_ih.shape[1] if input_size is None else _index(input_size, "input_size", 1)
    if I < 1:
        raise ValueError(f"{where}: {n_ih} has shape {w_ih.shape}: the input size I must be >= 1")
    _shape(w_ih, (G * H, I), n_ih, where, f"{G}·H, I with H={H}, I={I}")
    biases = [get(n, required=False) for n in ("bias_ih", "bias_hh")]
    for b in biases:
        if b is not None:
            _shape(b[1], (G * H,), b[0], where, f"{G}·H with H={H}")
    b_ih, b_hh = (np.zeros((G * H,), _acc(w_hh.dtype)) if b is None else b[1] for b in biases)
    out = _out_dtype([w_ih, w_hh] + [b[1] for b in biases if b is not None], dtype)
    cast = lambda a: np.ascontiguousarray(a, dtype=out)
    acc = _acc(out)
    w_x, w_h = cast(w_ih.T), cast(w_hh.T)
    if kind == "gru":
        b = b_ih.astype(acc) + np.concatenate([b_hh[: 2 * H], np.zeros((H,))]).astype(acc)
        return GRUParams(w_x, w_h, cast(b), cast(b_hh[2 * H:]))
    return PARAMS[kind](w_x, w_h, cast(b_ih.astype(acc) + b_hh.astype(acc)))


def _check_params(kind: str, params, where: str, input_size: int | None = None):
    """``params`` as NumPy arrays after checking type and every shape; returns ``(arrays, H, I)``."""
    G = _gates(kind)
    expected = PARAMS[kind]
    if not isinstance(params, expected):
        raise TypeError(f"{where}: kind={kind!r} expects {expected.__name__}, "
                        f"got {type(params).__name__}")
    arrays = {f: _array(a, f, where) for f, a in zip(params._fields, params, strict=True)
              if a is not None}
    w_h = arrays["w_h"]
    if w_h.ndim != 2 or w_h.shape[1] != G * w_h.shape[0]:
        raise ValueError(f"{where}: w_h must have shape (H, {G}·H) for kind={kind!r}, "
                         f"got {w_h.shape}")
    H = w_h.shape[0]
    if H < 1:
        raise ValueError(f"{where}: w_h has shape {w_h.shape}: the hidden size H must be >= 1")
    if arrays["w_x"].ndim != 2:
        raise ValueError(f"{where}: w_x must have shape (I, {G}·H) with H={H}, "
                         f"got {arrays['w_x'].shape}")
    I = arrays["w_x"].shape[0] if input_size is None else input_size
    if I < 1:
        raise ValueError(f"{where}: w_x has shape {arrays['w_x'].shape}: the input size I must "
                         "be >= 1")
    _shape(arrays["w_x"], (I, G * H), "w_x", where, f"I, {G}·H with H={H}, I={I}")
    _shape(arrays["b"], (G * H,), "b", where, f"{G}·H with H={H}")
    if kind == "gru":
        if params.b_hn is None:
            raise ValueError(f"{where}: reset_before GRUs have no equivalent here "
                             "(PyTorch and Flax compute the reset_after form)")
        _shape(arrays["b_hn"], (H,), "b_hn", where, f"H={H}")
    return arrays, H, I


def to_torch(kind: str, params: ElmanParams | LSTMParams | GRUParams, layer: int = 0, *,
             reverse: bool = False, prefix: str = "", dtype=None) -> dict[str, np.ndarray]:
    """A PyTorch ``state_dict`` fragment (NumPy arrays) for one layer (one direction).

    Load it with ``module.load_state_dict({k: torch.from_numpy(v) for k, v in sd.items()},
    strict=False)``. Only ``reset_after`` GRUs have a PyTorch equivalent. ``dtype``: that of
    ``params`` when None.
    """
    G = _gates(kind)
    sfx = _suffix(layer, reverse)
    arrays, H, _ = _check_params(kind, params, "to_torch")
    out = _out_dtype(list(arrays.values()), dtype)
    cast = lambda a: np.ascontiguousarray(a, dtype=out)
    b_hh = np.zeros((G * H,), out)
    if kind == "gru":
        b_hh[2 * H:] = arrays["b_hn"]
    return {f"{prefix}weight_ih{sfx}": cast(arrays["w_x"].T),
            f"{prefix}weight_hh{sfx}": cast(arrays["w_h"].T),
            f"{prefix}bias_ih{sfx}": cast(arrays["b"]), f"{prefix}bias_hh{sfx}": b_hh}


# ----------------------------------------------------------------------------- PyTorch, whole module

_TORCH_NAME = re.compile(r"(?:weight|bias)_(?:ih|hh|hr)_l(\d+)(_reverse)?")


def _layer_cell(kind: str, H: int, nonlinearity: str, bidir: bool, dtype: np.dtype) -> Cell:
    """One layer's cell; constructors that take ``dtype``/``param_dtype`` get the params' dtype."""
    if kind == "rnn":
        if nonlinearity not in NONLINEARITIES:
            raise ValueError(f"nonlinearity must be one of {NONLINEARITIES}, got {nonlinearity!r}")
        act = jnp.tanh if nonlinearity == "tanh" else jax.nn.relu
        ctor, kw = elman, {"activation": act}
    else:
        ctor, kw = {"lstm": lstm, "gru": gru}[kind], {}
    accepted = inspect.signature(ctor).parameters
    kw.update({k: dtype for k in ("dtype", "param_dtype") if k in accepted})
    return bidirectional(ctor(H, **kw), ctor(H, **kw)) if bidir else ctor(H, **kw)


def _check_module_args(num_layers, bidirectional_, batch_first) -> int:
    num_layers = _index(num_layers, "num_layers", 1)
    for name, v in (("bidirectional", bidirectional_), ("batch_first", batch_first)):
        if not isinstance(v, bool | np.bool_):
            raise TypeError(f"{name} must be a bool, got {v!r}")
    return num_layers


def from_torch_module(kind: str, state_dict: Mapping[str, Any], *, num_layers: int,
                      bidirectional: bool = False, batch_first: bool = True,
                      nonlinearity: str = "tanh", prefix: str = "",
                      dtype=None) -> tuple[Cell, Any]:
    """``(cell, params)`` computing what a whole ``nn.RNN`` / ``nn.LSTM`` / ``nn.GRU`` computes.

    ``rnnjax.unroll(cell, params, xs)`` then equals the module's output sequence. The cell is
    one layer cell for ``num_layers=1``, else ``rnnjax.stack`` of the layers; with
    ``bidirectional`` each layer is ``rnnjax.bidirectional(forward, backward)`` (concatenated
    outputs, as PyTorch), params :class:`rnnjax.Bidirectional` from the ``*_l{k}`` and
    ``*_l{k}_reverse`` names. Layer ``k >= 1`` reads the previous layer's output, so its
    ``weight_ih`` must have ``H`` (``2H`` when bidirectional) columns; every shape is checked,
    and names of layers or directions the arguments do not account for are refused.

    Args:
      kind: ``"rnn"``, ``"lstm"`` or ``"gru"``.
      state_dict: the module's state dict as NumPy arrays.
      num_layers, bidirectional: the module's constructor arguments.
      batch_first: the module's constructor argument. It changes no weight: PyTorch only
        transposes its inputs. :func:`rnnjax.unroll` is always batch-first, so for a module
        built with ``batch_first=False`` pass ``xs.swapaxes(0, 1)`` (and swap the outputs back).
      nonlinearity: the ``nn.RNN`` activation, ``"tanh"`` or ``"relu"`` (``kind="rnn"`` only).
      prefix: a prefix of every name (e.g. ``"encoder."``); other names are ignored.
      dtype: the dtype of the params; the state dict's when None.
    """
    _gates(kind)
    num_layers = _check_module_args(num_layers, bidirectional, batch_first)
    for name in state_dict:
        m = _TORCH_NAME.fullmatch(name[len(prefix):]) if name.startswith(prefix) else None
        if m and (int(m[1]) >= num_layers or (m[2] and not bidirectional)):
            raise ValueError(f"from_torch_module: {name!r} does not belong to a module with "
                             f"num_layers={num_layers}, bidirectional={bidirectional}")
    layers, cells, size = [], [], None
    for k in range(num_layers):
        fwd = from_torch(kind, state_dict, k, prefix=prefix, input_size=size, dtype=dtype)
        H, size = fwd.w_h.shape[0], fwd.w_x.shape[0]
        if bidirectional:
            bwd = from_torch(kind, state_dict, k, reverse=True, prefix=prefix, input_size=size,
                             dtype=dtype)
            if bwd.w_h.shape != fwd.w_h.shape:
                raise ValueError(f"from_torch_module: {prefix}weight_hh_l{k}_reverse has shape "
                                 f"{bwd.w_h.T.shape}, expected {fwd.w_h.T.shape}")
        layers.append(Bidirectional(fwd, bwd) if bidirectional else fwd)
        cells.append(_layer_cell(kind, H, nonlinearity, bidirectional, fwd.w_h.dtype))
        size = 2 * H if bidirectional else H
    if num_layers == 1:
        return cells[0], layers[0]
    return stack(cells), tuple(layers)


def to_torch_module(kind: str, params, *, num_layers: int, bidirectional: bool = False,
                    prefix: str = "", dtype=None) -> dict[str, np.ndarray]:
    """The PyTorch ``state_dict`` (NumPy arrays) of a whole module, the inverse of
    :func:`from_torch_module`.

    ``params``: one layer's params when ``num_layers=1``, else a tuple of ``num_layers`` of them
    (the params of ``rnnjax.stack``); each one :class:`rnnjax.Bidirectional` when
    ``bidirectional``. Layer ``k >= 1`` must read ``H`` (``2H``) inputs, as PyTorch's does.
    Load with ``module.load_state_dict({k: torch.from_numpy(v) for k, v in sd.items()})``.
    """
    _gates(kind)
    num_layers = _check_module_args(num_layers, bidirectional, True)
    where = "to_torch_module"
    is_stack = type(params) in (tuple, list)  # NamedTuples are layer params
    if num_layers == 1 and not is_stack:
        params = (params,)
    elif not is_stack or len(params) != num_layers:
        got = f"a {type(params).__name__} of {len(params)}" if is_stack else type(params).__name__
        raise TypeError(f"{where}: expected a tuple of {num_layers} layer params (the params of "
                        f"rnnjax.stack), got {got}")
    out, size = {}, None
    for k, layer in enumerate(params):
        if bidirectional != isinstance(layer, Bidirectional):
            want = "rnnjax.Bidirectional" if bidirectional else PARAMS[kind].__name__
            raise TypeError(f"{where}: layer {k} must be {want} (bidirectional={bidirectional}), "
                            f"got {type(layer).__name__}")
        for reverse, p in zip((False, True), layer if bidirectional else (layer,), strict=False):
            _, H, _ = _check_params(kind, p, f"{where} layer {k}", input_size=size)
            out.update(to_torch(kind, p, k, reverse=reverse, prefix=prefix, dtype=dtype))
        size = H * (2 if bidirectional else 1)
    return out


# ----------------------------------------------------------------------------- Flax linen

FLAX_CELLS = {"rnn": "SimpleCell", "lstm": "LSTMCell or OptimizedLSTMCell", "gru": "GRUCell"}


def from_flax(kind: str, variables: Mapping[str, Any], *, dtype=None):
    r"""rnnjax params computing what a Flax linen cell computes.

    ``variables`` is what ``flax_cell.init(...)`` returns (or its ``"params"`` entry):

    - ``"rnn"``, ``nn.SimpleCell`` (``residual=False``): ``i.kernel, i.bias, h.kernel`` →
      ``ElmanParams(w_x=i.kernel, w_h=h.kernel, b=i.bias)``.
    - ``"lstm"``, ``nn.LSTMCell`` and ``nn.OptimizedLSTMCell`` (same tree): input kernels
      ``ii, if, ig, io`` without bias and hidden kernels ``hi, hf, hg, ho`` with bias →
      ``w_x = [ii | if | ig | io]``, ``w_h = [hi | hf | hg | ho]``, ``b = [b_hi | … | b_ho]``.
      Flax's carry is ``(c, h)``, rnnjax's :class:`LSTMState` is ``(h, c)``:
      see :func:`carry_from_flax`.
    - ``"gru"``, ``nn.GRUCell``: ``r = σ(W_ir x + b_ir + W_hr h)``, ``z = σ(W_iz x + b_iz + W_hz h)``,
      ``n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn))`` — the ``reset_after`` GRU, with the input
      biases ``ir, iz, in`` → ``b`` and the bias of ``hn`` (inside the reset product) → ``b_hn``.

    Exact; Flax's default gate and activation functions (sigmoid, tanh) are assumed.
    """
    _gates(kind)
    tree = variables.get("params", variables) if isinstance(variables, Mapping) else None
    if tree is None:
        raise TypeError(f"from_flax: expected the variables dict of a Flax {FLAX_CELLS[kind]}, "
                        f"got {type(variables).__name__}")

    def get(module: str, leaf: str) -> np.ndarray:
        try:
            return _array(tree[module][leaf], f"{module}.{leaf}", "from_flax")
        except (KeyError, TypeError):
            raise ValueError(f"from_flax: kind={kind!r} expects the params of a Flax "
                             f"{FLAX_CELLS[kind]} with {module}.{leaf}; got modules "
                             f"{sorted(tree)}") from None

    if kind == "rnn":
        w_x, w_h, b = get("i", "kernel"), get("h", "kernel"), get("i", "bias")
    elif kind == "lstm":
        w_x = np.concatenate([get(f"i{g}", "kernel") for g in "ifgo"], axis=-1)
        w_h = np.concatenate([get(f"h{g}", "kernel") for g in "ifgo"], axis=-1)
        b = np.concatenate([get(f"h{g}", "bias") for g in "ifgo"], axis=-1)
    else:
        w_x = np.concatenate([get(f"i{g}", "kernel") for g in "rzn"], axis=-1)
        w_h = np.concatenate([get(f"h{g}", "kernel") for g in "rzn"], axis=-1)
        b = np.concatenate([get(f"i{g}", "bias") for g in "rzn"], axis=-1)
    fields = [w_x, w_h, b] + ([get("hn", "bias")] if kind == "gru" else [])
    out = _out_dtype(fields, dtype)
    params = PARAMS[kind](*(np.ascontiguousarray(a, dtype=out) for a in fields))
    _check_params(kind, params, "from_flax")
    return params


def to_flax(kind: str, params, *, dtype=None) -> dict[str, dict]:
    """The Flax linen variables ``{"params": …}`` of :func:`from_flax`'s cell for ``params``.

    Ready for ``flax_cell.apply(variables, carry, x)``. The LSTM's two biases are one in rnnjax:
    it goes to the hidden kernels' biases (``hi, hf, hg, ho``), where Flax keeps its only LSTM
    biases. A ``reset_before`` GRU has no Flax equivalent.
    """
    arrays, H, _ = _check_params(kind, params, "to_flax")
    out = _out_dtype(list(arrays.values()), dtype)
    cast = lambda a: np.ascontiguousarray(a, dtype=out)
    split = lambda a, n: np.split(a, n, axis=-1)
    if kind == "rnn":
        tree = {"i": {"kernel": cast(arrays["w_x"]), "bias": cast(arrays["b"])},
                "h": {"kernel": cast(arrays["w_h"])}}
    elif kind == "lstm":
        tree = {}
        for g, wx, wh, b in zip("ifgo", *(split(arrays[f], 4) for f in ("w_x", "w_h", "b")),
                                strict=True):
            tree[f"i{g}"] = {"kernel": cast(wx)}
            tree[f"h{g}"] = {"kernel": cast(wh), "bias": cast(b)}
    else:
        tree = {}
        for g, wx, wh, b in zip("rzn", *(split(arrays[f], 3) for f in ("w_x", "w_h", "b")),
                                strict=True):
            tree[f"i{g}"] = {"kernel": cast(wx), "bias": cast(b)}
            tree[f"h{g}"] = {"kernel": cast(wh)}
        tree["hn"]["bias"] = cast(arrays["b_hn"])
    return {"params": tree}


def carry_from_flax(kind: str, carry):
    """A Flax cell's carry as rnnjax's: the LSTM's ``(c, h)`` becomes ``LSTMState(h, c)``."""
    _gates(kind)
    if kind != "lstm":
        return carry
    if not isinstance(carry, tuple | list) or len(carry) != 2:
        raise TypeError(f"carry_from_flax: expected Flax's LSTM carry (c, h), got "
                        f"{type(carry).__name__}")
    c, h = carry
    return LSTMState(h, c)


def carry_to_flax(kind: str, carry):
    """rnnjax's carry as a Flax cell's: ``LSTMState(h, c)`` becomes the tuple ``(c, h)``."""
    _gates(kind)
    if kind != "lstm":
        return carry
    if not isinstance(carry, LSTMState):
        raise TypeError(f"carry_to_flax: expected an LSTMState, got {type(carry).__name__}")
    return (carry.c, carry.h)
