"""The cuDNN LSTM path: the weight layout on any backend (against ``jax.experimental.rnn``'s own
reference implementation of cuDNN's layout), the call itself on a GPU only."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.experimental import rnn

import rnnjax
from rnnjax.fused.cudnn import applies, cudnn_weights

GPU = jax.default_backend() == "gpu"


def test_weight_layout_matches_jax_reference_of_cudnn():
    cell = rnnjax.cells.lstm(4)
    k = jax.random.split(jax.random.key(0), 3)
    params = cell.init(k[0], 3)._replace(b=jax.random.normal(k[2], (16,)))
    xs = jax.random.normal(k[1], (2, 6, 3))
    lengths = jnp.array([6, 3], jnp.int32)
    W_ih, W_hh, b_ih, b_hh = rnn.unpack_lstm_weights(cudnn_weights(params), 3, 4, 1, False)
    h0 = jnp.zeros((1, 2, 4))
    y, h, c = rnn.lstm_ref(xs, h0, h0, W_ih, W_hh, b_ih, b_hh, lengths, 3, 4, 1, 0.0, False)
    carry, ys = rnnjax.unroll(cell, params, xs, lengths=lengths)
    np.testing.assert_allclose(y, ys, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(h[0], carry.h, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(c[0], carry.c, rtol=1e-5, atol=1e-6)


def test_what_the_cudnn_path_refuses():
    lstm = rnnjax.cells.lstm(4)
    no = dict(resets=None, remat=False, return_carries=False, key=None)
    assert "LSTM only" in applies(rnnjax.cells.gru(4), jnp.float32, **no)
    assert "float32 only" in applies(lstm, jnp.bfloat16, **no)
    assert "resets" in applies(lstm, jnp.float32, **{**no, "resets": jnp.zeros((1, 1), bool)})
    if not GPU:
        assert "needs a CUDA GPU" in applies(lstm, jnp.float32, **no)
        params = lstm.init(jax.random.key(0), 3)
        with pytest.raises(ValueError, match="needs a CUDA GPU"):
            rnnjax.unroll(lstm, params, jnp.zeros((2, 3, 3)), method="cudnn")


@pytest.mark.skipif(not GPU, reason="cuDNN's LSTM (jax.experimental.rnn) needs a CUDA GPU")
@pytest.mark.parametrize("reverse", [False, True])
def test_cudnn_matches_scan_with_lengths_zero(reverse):
    from tests.fused.test_fused import run
    lengths = jnp.array([6, 0, 3])
    a = run(rnnjax.cells.lstm(5), (3,), 6, 3, "scan", lengths=lengths, reverse=reverse)
    b = run(rnnjax.cells.lstm(5), (3,), 6, 3, "cudnn", lengths=lengths, reverse=reverse)
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)):
        np.testing.assert_allclose(np.asarray(y), np.asarray(x), rtol=1e-4, atol=2e-5)
