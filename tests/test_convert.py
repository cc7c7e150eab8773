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
def test_to_torch_round_trip(kind, key):
    params = CELL[kind]().init(key, I)
    params = jax.tree.map(lambda a: a + 0.1 * jax.random.normal(key, a.shape), params)  # non-zero biases
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
    with pytest.raises(ValueError, match=r"\(4·H, I\)"):
        rnnjax.convert.from_torch("lstm", torch_state_dict("gru"))
    with pytest.raises(TypeError, match="LSTMParams"):
        rnnjax.convert.to_torch("lstm", rnnjax.cells.gru(3).init(jax.random.key(0), 2))
    with pytest.raises(ValueError, match="reset_before"):
        rnnjax.convert.to_torch("gru", rnnjax.cells.gru(3, variant="reset_before").init(jax.random.key(0), 2))


def test_against_real_pytorch_when_installed():
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    module = torch.nn.LSTM(I, H, num_layers=2, batch_first=True, bidirectional=True)
    xs = torch.randn(B, T, I)
    with torch.no_grad():
        want = module(xs)[0].numpy()
    sd = {k: v.detach().numpy() for k, v in module.state_dict().items()}
    layer = lambda k: rnnjax.bidirectional(rnnjax.cells.lstm(H), rnnjax.cells.lstm(H))
    cell = rnnjax.stack([layer(0), layer(1)])
    params = tuple(rnnjax.compose.Bidirectional(rnnjax.convert.from_torch("lstm", sd, k),
                                                rnnjax.convert.from_torch("lstm", sd, k, reverse=True))
                   for k in range(2))
    np.testing.assert_allclose(rnnjax.unroll(cell, params, jnp.asarray(xs.numpy()))[1], want,
                               rtol=1e-5, atol=1e-5)
