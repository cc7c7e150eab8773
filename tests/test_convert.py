"""PyTorch converters against NumPy re-implementations of PyTorch's documented equations."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import rnnjax
from tests import reference as ref

I, H, B, T = 3, 5, 2, 6


def torch_state_dict(kind, seed=0, suffix="_l0", prefix=""):
    rng = np.random.default_rng(seed)
    G = rnnjax.convert.KINDS[kind]
    shapes = {"weight_ih": (G * H, I), "weight_hh": (G * H, H), "bias_ih": (G * H,), "bias_hh": (G * H,)}
    return {f"{prefix}{k}{suffix}": rng.normal(0, 0.5, s).astype(np.float32) for k, s in shapes.items()}


def torch_forward(kind, sd, xs_tm):
    h0 = np.zeros((B, H), np.float32)
    if kind == "rnn":
        return ref.torch_rnn(sd, xs_tm, h0)[0]
    if kind == "lstm":
        return ref.torch_lstm(sd, xs_tm, h0, h0)[0]
    return ref.torch_gru(sd, xs_tm, h0)[0]


def random_params(kind, seed=0, dtype=np.float32):
    """rnnjax params with every entry non-zero (biases included)."""
    G, rng = rnnjax.convert.KINDS[kind], np.random.default_rng(seed)
    shapes = [(I, G * H), (H, G * H), (G * H,)] + ([(H,)] if kind == "gru" else [])
    return rnnjax.convert.PARAMS[kind](*(rng.normal(0, 0.5, s).astype(dtype) for s in shapes))


CELL = {"rnn": lambda: rnnjax.cells.elman(H), "lstm": lambda: rnnjax.cells.lstm(H),
        "gru": lambda: rnnjax.cells.gru(H)}


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_from_torch_computes_what_pytorch_computes(kind):
    sd = torch_state_dict(kind)
    xs = np.random.default_rng(1).normal(size=(B, T, I)).astype(np.float32)
    want = torch_forward(kind, sd, xs.transpose(1, 0, 2)).transpose(1, 0, 2)
    params = rnnjax.convert.from_torch(kind, sd)
    _, ys = rnnjax.unroll(CELL[kind](), params, jnp.asarray(xs))
    np.testing.assert_allclose(ys, want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_to_torch_round_trip(kind):
    params = random_params(kind)
    sd = rnnjax.convert.to_torch(kind, params, layer=2, reverse=True, prefix="enc.")
    assert set(sd) == {f"enc.{n}_l2_reverse" for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")}
    back = rnnjax.convert.from_torch(kind, sd, layer=2, reverse=True, prefix="enc.")
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-6), params, back)
    xs = np.random.default_rng(2).normal(size=(B, T, I)).astype(np.float32)
    plain = {k.replace("enc.", "").replace("_l2_reverse", "_l0"): v for k, v in sd.items()}
    want = torch_forward(kind, plain, xs.transpose(1, 0, 2)).transpose(1, 0, 2)
    np.testing.assert_allclose(rnnjax.unroll(CELL[kind](), params, jnp.asarray(xs))[1], want,
                               rtol=1e-5, atol=1e-5)


def test_missing_bias_means_zero_and_bad_input():
    sd = {k: v for k, v in torch_state_dict("lstm").items() if "bias" not in k}
    np.testing.assert_array_equal(rnnjax.convert.from_torch("lstm", sd).b, 0.0)
    with pytest.raises(ValueError, match="kind must be one of"):
        rnnjax.convert.from_torch("transformer", sd)
    with pytest.raises(ValueError, match="weight_ih_l1"):
        rnnjax.convert.from_torch("lstm", sd, layer=1)
    with pytest.raises(ValueError, match=r"weight_hh_l0 must have shape \(4·H, H\)"):
        rnnjax.convert.from_torch("lstm", torch_state_dict("gru"))
    with pytest.raises(TypeError, match="LSTMParams"):
        rnnjax.convert.to_torch("lstm", random_params("gru"))
    with pytest.raises(ValueError, match="reset_before"):
        rnnjax.convert.to_torch("gru", random_params("gru")._replace(b_hn=None))


def test_against_real_pytorch_when_installed():
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    for kind, Module in (("rnn", torch.nn.RNN), ("lstm", torch.nn.LSTM), ("gru", torch.nn.GRU)):
        module = Module(I, H, num_layers=2, batch_first=True, bidirectional=True)
        xs = torch.randn(B, T, I)
        with torch.no_grad():
            want = module(xs)[0].numpy()
        sd = {k: v.detach().numpy() for k, v in module.state_dict().items()}
        cell, params = rnnjax.convert.from_torch_module(kind, sd, num_layers=2, bidirectional=True)
        np.testing.assert_allclose(rnnjax.unroll(cell, params, jnp.asarray(xs.numpy()))[1], want,
                                   rtol=1e-5, atol=1e-5)
        back = rnnjax.convert.to_torch_module(kind, params, num_layers=2, bidirectional=True)
        module.load_state_dict({k: torch.from_numpy(v) for k, v in back.items()})
        with torch.no_grad():
            np.testing.assert_allclose(module(xs)[0].numpy(), want, rtol=1e-5, atol=1e-5)


# ----------------------------------------------------------------------------- whole modules


def module_state_dict(kind, num_layers, bidirectional, seed=0, dtype=np.float32, prefix=""):
    """A random state dict with PyTorch's names and shapes (layer k >= 1 reads H or 2H inputs)."""
    sd = {}
    for k in range(num_layers):
        size = I if k == 0 else H * (2 if bidirectional else 1)
        for sfx in ("", "_reverse") if bidirectional else ("",):
            one = torch_state_dict(kind, seed + 10 * k + len(sfx), suffix=f"_l{k}{sfx}", prefix=prefix)
            G = rnnjax.convert.KINDS[kind]
            w = np.random.default_rng(seed + k).normal(0, 0.5, (G * H, size))
            one[f"{prefix}weight_ih_l{k}{sfx}"] = w
            sd.update({n: v.astype(dtype) for n, v in one.items()})
    return sd


def torch_module_forward(kind, sd, xs, num_layers, bidirectional, act=np.tanh):
    """PyTorch's multi-layer (bidirectional) equations from the one-layer NumPy references: layer
    k's reverse direction runs over the time-reversed output of layer k - 1; outputs concatenate."""
    x = xs.transpose(1, 0, 2)  # time-major
    for k in range(num_layers):
        outs = []
        for sfx in ("", "_reverse") if bidirectional else ("",):
            one = {n.replace(f"_l{k}{sfx}", "_l0"): v for n, v in sd.items() if n.endswith(f"_l{k}{sfx}")}
            seq = x[::-1] if sfx else x
            if kind == "rnn":
                y = ref.torch_rnn(one, seq, np.zeros((B, H)), nonlinearity=act)[0]
            else:
                y = torch_forward(kind, one, seq)
            outs.append(y[::-1] if sfx else y)
        x = np.concatenate(outs, axis=-1)
    return x.transpose(1, 0, 2)


@pytest.mark.parametrize("kind,num_layers,bidirectional", [
    ("rnn", 3, False), ("lstm", 2, True), ("gru", 2, True), ("gru", 1, False)])
def test_from_torch_module_computes_what_pytorch_computes(kind, num_layers, bidirectional):
    sd = module_state_dict(kind, num_layers, bidirectional)
    xs = np.random.default_rng(1).normal(size=(B, T, I)).astype(np.float32)
    act, name = ((lambda z: np.maximum(z, 0)), "relu") if kind == "rnn" else (np.tanh, "tanh")
    want = torch_module_forward(kind, sd, xs, num_layers, bidirectional, act=act)
    cell, params = rnnjax.convert.from_torch_module(kind, sd, num_layers=num_layers,
                                                    bidirectional=bidirectional, nonlinearity=name)
    if num_layers == 1:
        assert isinstance(params, rnnjax.convert.PARAMS[kind])
    else:
        assert type(params) is tuple and len(params) == num_layers
        assert all(isinstance(p, rnnjax.Bidirectional) == bidirectional for p in params)
    np.testing.assert_allclose(rnnjax.unroll(cell, params, jnp.asarray(xs))[1], want, rtol=1e-5, atol=1e-5)
    # to_torch_module writes a state dict that computes the same, and reads back to the same params.
    sd2 = rnnjax.convert.to_torch_module(kind, params, num_layers=num_layers, bidirectional=bidirectional)
    assert set(sd2) == set(sd)
    np.testing.assert_allclose(torch_module_forward(kind, sd2, xs, num_layers, bidirectional, act=act),
                               want, rtol=1e-5, atol=1e-5)
    _, back = rnnjax.convert.from_torch_module(kind, sd2, num_layers=num_layers,
                                               bidirectional=bidirectional)
    jax.tree.map(np.testing.assert_array_equal, back, params)


def test_from_torch_module_names_dtype_and_batch_first():
    sd = module_state_dict("lstm", 2, True, dtype=np.float64, prefix="enc.")
    sd["dec.weight_ih_l5"] = np.zeros((3, 3))  # other prefixes are ignored
    cell, p64 = rnnjax.convert.from_torch_module("lstm", sd, num_layers=np.int64(2),
                                                 bidirectional=True, prefix="enc.")
    assert {a.dtype for a in jax.tree.leaves(p64)} == {np.dtype(np.float64)}
    _, p32 = rnnjax.convert.from_torch_module("lstm", sd, num_layers=2, bidirectional=True,
                                              prefix="enc.", dtype=np.float32, batch_first=False)
    assert {a.dtype for a in jax.tree.leaves(p32)} == {np.dtype(np.float32)}
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-6), p32, p64)
    back = rnnjax.convert.to_torch_module("lstm", p64, num_layers=2, bidirectional=True, prefix="enc.")
    assert all(k.startswith("enc.") and v.dtype == np.float64 for k, v in back.items())
    assert rnnjax.convert.to_torch_module("lstm", p64, num_layers=2, bidirectional=True,
                                          dtype=np.float32)["bias_ih_l1"].dtype == np.float32


def test_float64_module_computes_in_float64():
    sd = module_state_dict("gru", 2, False, dtype=np.float64)
    xs = np.random.default_rng(1).normal(size=(B, T, I))
    want = torch_module_forward("gru", sd, xs, 2, False)
    with jax.enable_x64(True):
        cell, params = rnnjax.convert.from_torch_module("gru", sd, num_layers=2)
        ys = rnnjax.unroll(cell, params, jnp.asarray(xs))[1]
        assert ys.dtype == jnp.float64
        np.testing.assert_allclose(ys, want, rtol=1e-12, atol=1e-12)


def test_module_converters_refuse_mismatched_structure():
    sd = module_state_dict("gru", 2, True)
    convert = rnnjax.convert
    with pytest.raises(ValueError, match="weight_ih_l1.*num_layers=1"):
        convert.from_torch_module("gru", sd, num_layers=1, bidirectional=True)
    with pytest.raises(ValueError, match="_reverse.*bidirectional=False"):
        convert.from_torch_module("gru", sd, num_layers=2)
    with pytest.raises(ValueError, match="weight_ih_l2"):
        convert.from_torch_module("gru", sd, num_layers=3, bidirectional=True)
    bad = dict(sd, weight_ih_l1=np.zeros((3 * H, H), np.float32))  # layer 1 must read 2H
    with pytest.raises(ValueError, match=rf"weight_ih_l1 must have shape \({3 * H}, {2 * H}\)"):
        convert.from_torch_module("gru", bad, num_layers=2, bidirectional=True)
    bad = dict(sd, weight_ih_l0_reverse=np.zeros((3 * H, I + 1), np.float32))
    with pytest.raises(ValueError, match="weight_ih_l0_reverse"):
        convert.from_torch_module("gru", bad, num_layers=2, bidirectional=True)
    for err in (0, 1.0, True):
        with pytest.raises((ValueError, TypeError), match="num_layers must be an int"):
            convert.from_torch_module("gru", sd, num_layers=err)
    with pytest.raises(TypeError, match="batch_first must be a bool"):
        convert.from_torch_module("gru", sd, num_layers=2, bidirectional=True, batch_first="yes")
    with pytest.raises(ValueError, match="nonlinearity must be one of"):
        convert.from_torch_module("rnn", module_state_dict("rnn", 1, False), num_layers=1,
                                  nonlinearity="sigmoid")

    _, params = convert.from_torch_module("gru", sd, num_layers=2, bidirectional=True)
    with pytest.raises(TypeError, match="expected a tuple of 3 layer params"):
        convert.to_torch_module("gru", params, num_layers=3, bidirectional=True)
    with pytest.raises(TypeError, match="expected a tuple of 2 layer params.*GRUParams"):
        convert.to_torch_module("gru", params[0].forward, num_layers=2)
    with pytest.raises(TypeError, match=r"layer 0 must be rnnjax.Bidirectional"):
        convert.to_torch_module("gru", (params[0].forward, params[1].forward), num_layers=2,
                                bidirectional=True)
    with pytest.raises(TypeError, match="layer 0 must be GRUParams"):
        convert.to_torch_module("gru", params, num_layers=2)
    swapped = (params[0], rnnjax.Bidirectional(params[0].forward, params[1].backward))
    with pytest.raises(ValueError, match=rf"layer 1: w_x must have shape \({2 * H}, {3 * H}\)"):
        convert.to_torch_module("gru", swapped, num_layers=2, bidirectional=True)


# ----------------------------------------------------------------------------- shape checks


@pytest.mark.parametrize("name,shape", [("bias_ih_l0", (1,)), ("bias_ih_l0", ()), ("bias_hh_l0", (12, 12)),
                                        ("bias_hh_l0", (2 * H,)), ("weight_ih_l0", (3 * H,)), ("weight_ih_l0", ()),
                                        ("weight_hh_l0", (3 * H, H + 1))])
def test_from_torch_checks_every_shape_and_names_the_key(name, shape):
    sd = dict(torch_state_dict("gru"), **{name: np.zeros(shape, np.float32)})
    with pytest.raises(ValueError, match=name):
        rnnjax.convert.from_torch("gru", sd)


def test_from_torch_refuses_integer_arrays_and_wrong_input_size():
    sd = torch_state_dict("rnn")
    with pytest.raises(TypeError, match="weight_hh_l0 must be a floating-point array"):
        rnnjax.convert.from_torch("rnn", dict(sd, weight_hh_l0=np.ones((H, H), np.int32)))
    with pytest.raises(ValueError, match=rf"weight_ih_l0 must have shape \({H}, 4\)"):
        rnnjax.convert.from_torch("rnn", sd, input_size=4)


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_zero_hidden_or_input_size_is_refused(kind):
    G = rnnjax.convert.KINDS[kind]
    zero_h = {"weight_ih_l0": np.zeros((0, I), np.float32), "weight_hh_l0": np.zeros((0, 0), np.float32)}
    zero_i = dict(torch_state_dict(kind), weight_ih_l0=np.zeros((G * H, 0), np.float32))
    with pytest.raises(ValueError, match=r"weight_hh_l0 has shape \(0, 0\): the hidden size H must be >= 1$"):
        rnnjax.convert.from_torch(kind, zero_h)
    with pytest.raises(ValueError, match=rf"weight_ih_l0 has shape \({G * H}, 0\): the input size I must be >= 1$"):
        rnnjax.convert.from_torch(kind, zero_i)
    params = random_params(kind)
    with pytest.raises(ValueError, match="the input size I must be >= 1"):
        rnnjax.convert.to_torch(kind, params._replace(w_x=np.zeros((0, G * H), np.float32)))
    with pytest.raises(ValueError, match="the hidden size H must be >= 1"):
        rnnjax.convert.to_torch(kind, params._replace(w_h=np.zeros((0, 0), np.float32)))


@pytest.mark.parametrize("field,shape", [("w_x", (I, 2 * H)), ("w_x", ()), ("w_h", (H, H)), ("b", (1,)),
                                         ("b", ()), ("b_hn", (0,)), ("b_hn", (3 * H,))])
def test_to_torch_checks_every_shape_and_names_the_field(field, shape):
    params = random_params("gru")
    with pytest.raises(ValueError, match=f"{field} must have shape"):
        rnnjax.convert.to_torch("gru", params._replace(**{field: np.zeros(shape, np.float32)}))


def test_numpy_integers_are_ints_and_bools_are_not():
    sd = torch_state_dict("lstm", suffix="_l1")
    params = rnnjax.convert.from_torch("lstm", sd, layer=np.int64(1))
    assert set(rnnjax.convert.to_torch("lstm", params, layer=np.int32(1))) == set(sd)
    for bad in (True, 1.0, "1", -1):
        with pytest.raises((TypeError, ValueError), match="layer must be an int"):
            rnnjax.convert.from_torch("lstm", sd, layer=bad)


def test_dtype_is_kept_unless_given():
    sd = {k: v.astype(np.float64) for k, v in torch_state_dict("gru").items()}
    p = rnnjax.convert.from_torch("gru", sd)
    assert {a.dtype for a in p} == {np.dtype(np.float64)}
    np.testing.assert_array_equal(p.b_hn, sd["bias_hh_l0"][2 * H:])
    assert {a.dtype for a in rnnjax.convert.from_torch("gru", sd, dtype=jnp.bfloat16)} == {jnp.dtype(jnp.bfloat16)}
    assert {a.dtype for a in rnnjax.convert.to_torch("gru", p).values()} == {np.dtype(np.float64)}
    assert {a.dtype for a in rnnjax.convert.to_torch("gru", p, dtype=np.float32).values()} == {np.dtype(np.float32)}
    bf16 = jax.tree.map(lambda a: jnp.asarray(a, jnp.bfloat16), p)  # jax arrays, ml_dtypes on the way out
    assert {a.dtype for a in rnnjax.convert.to_torch("gru", bf16).values()} == {jnp.dtype(jnp.bfloat16)}
    assert {a.dtype for a in rnnjax.convert.to_flax("gru", bf16)["params"]["hn"].values()} == {jnp.dtype(jnp.bfloat16)}


# ----------------------------------------------------------------------------- Flax linen


def flax_cells():
    nn = pytest.importorskip("flax.linen")
    return {"rnn": nn.SimpleCell, "lstm": nn.LSTMCell, "optimized_lstm": nn.OptimizedLSTMCell,
            "gru": nn.GRUCell}


@pytest.mark.parametrize("name", ["rnn", "lstm", "optimized_lstm", "gru"])
def test_flax_converters_compute_what_flax_computes(name):
    FlaxCell, kind = flax_cells()[name], name.replace("optimized_", "")
    flax_cell = FlaxCell(H)
    xs = np.random.default_rng(1).normal(size=(B, T, I)).astype(np.float32)
    carry0 = flax_cell.initialize_carry(jax.random.key(1), (B, I))
    variables = flax_cell.init(jax.random.key(2), carry0, xs[:, 0])
    variables = jax.tree.map(lambda a: a + 0.3, variables)  # non-zero biases
    # Flax's own step in a Python loop, from a non-zero carry.
    carry = jax.tree.map(lambda a: a + 0.5, carry0)
    start, want = carry, []
    for t in range(T):
        carry, y = flax_cell.apply(variables, carry, xs[:, t])
        want.append(y)
    want = np.stack(want, axis=1)
    params = rnnjax.convert.from_flax(kind, variables)
    final, ys = rnnjax.unroll(CELL[kind](), params, jnp.asarray(xs),
                              rnnjax.convert.carry_from_flax(kind, start))
    np.testing.assert_allclose(ys, want, rtol=1e-5, atol=1e-5)
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5),
                 rnnjax.convert.carry_to_flax(kind, final), carry)
    # to_flax gives back Flax's tree exactly (the LSTM's one bias goes to the hidden kernels).
    back = rnnjax.convert.to_flax(kind, params)
    assert jax.tree.structure(back) == jax.tree.structure(jax.tree.map(np.asarray, variables))
    jax.tree.map(np.testing.assert_array_equal, back, variables)
    np.testing.assert_array_equal(flax_cell.apply(back, start, xs[:, 0])[1], want[:, 0])


def test_flax_converters_from_rnnjax_params_and_bad_input():
    nn = pytest.importorskip("flax.linen")
    params = random_params("gru", dtype=np.float64)
    variables = rnnjax.convert.to_flax("gru", params)
    assert {a.dtype for a in jax.tree.leaves(variables)} == {np.dtype(np.float64)}
    x, h = np.ones((I,), np.float32), np.full((H,), 0.2, np.float32)
    want = ref.gru_step(*params, h, x)
    np.testing.assert_allclose(nn.GRUCell(H, param_dtype=jnp.float32).apply(
        jax.tree.map(lambda a: a.astype(np.float32), variables), h, x)[1], want, rtol=1e-5)
    back = rnnjax.convert.from_flax("gru", variables["params"], dtype=np.float32)
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-6), back, params)
    no_b_hn = {k: dict(v) for k, v in variables["params"].items()}
    del no_b_hn["hn"]["bias"]
    with pytest.raises(ValueError, match=r"GRUCell with hn.bias"):
        rnnjax.convert.from_flax("gru", no_b_hn)
    with pytest.raises(TypeError, match="variables dict of a Flax LSTMCell"):
        rnnjax.convert.from_flax("lstm", [1, 2])
    bad = {"params": {k: dict(v) for k, v in variables["params"].items()}}
    bad["params"]["in"]["bias"] = np.zeros((1,))
    with pytest.raises(ValueError, match="b must have shape"):
        rnnjax.convert.from_flax("gru", bad)
    with pytest.raises(ValueError, match="reset_before"):
        rnnjax.convert.to_flax("gru", params._replace(b_hn=None))
    with pytest.raises(TypeError, match=r"Flax's LSTM carry \(c, h\)"):
        rnnjax.convert.carry_from_flax("lstm", np.zeros(3))
    with pytest.raises(TypeError, match="expected an LSTMState"):
        rnnjax.convert.carry_to_flax("lstm", (np.zeros(3), np.zeros(3)))
