"""``sequence_model(pool="ends")`` against slicing the bidirectional outputs by hand."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import rnnjax
from rnnjax.models.sequence import sequence_model

H = 3


def _by_hand(model, params, xs, lengths):
    """Readout of [→h_L, ←h_1] sliced from the unrolled outputs of each example alone."""
    out = []
    for b in range(xs.shape[0]):
        L = int(lengths[b])
        if L == 0:
            h = np.zeros(2 * H)
        else:
            _, ys = rnnjax.unroll(model.cell, params.cell, xs[b, :L])  # unpadded, one example
            ys = np.asarray(ys)
            h = np.concatenate([ys[L - 1, :H], ys[0, H:]])
        out.append(h @ np.asarray(params.w_out) + np.asarray(params.b_out))
    return np.stack(out)


@pytest.mark.parametrize("deep", [False, True], ids=["bidirectional", "stack"])
@pytest.mark.slow
def test_ends_is_forward_last_and_backward_first(key, deep):
    bi = rnnjax.bidirectional(rnnjax.cells.lstm(H), rnnjax.cells.lstm(H))
    cell = rnnjax.stack([rnnjax.cells.gru(4), bi]) if deep else bi
    model = sequence_model(cell, input_size=2, output_size=2, pool="ends")
    params = model.init(key)
    xs = jax.random.normal(jax.random.key(1), (4, 5, 2))
    lengths = jnp.array([5, 3, 1, 0])
    _, out = model.apply(params, xs, lengths=lengths)
    np.testing.assert_allclose(out, _by_hand(model, params, xs, lengths),
                               rtol=1e-5, atol=1e-6)
    # differs from "last" (whose backward half has read only x_L) where L > 1
    last = sequence_model(cell, input_size=2, output_size=2, pool="last")
    _, out_last = last.apply(params, xs, lengths=lengths)
    assert not np.allclose(out[:2], out_last[:2])
    np.testing.assert_allclose(out[3], out_last[3], rtol=1e-6)  # empty: both the bias


def test_ends_of_a_unidirectional_cell_is_last(key):
    cell = rnnjax.cells.gru(H)
    ends = sequence_model(cell, vocab_size=5, output_size=2, pool="ends")
    last = sequence_model(cell, vocab_size=5, output_size=2, pool="last")
    params = ends.init(key)
    tokens = jax.random.randint(key, (3, 4), 0, 5)
    lengths = jnp.array([4, 2, 0])
    np.testing.assert_array_equal(ends.apply(params, tokens, lengths=lengths)[1],
                                  last.apply(params, tokens, lengths=lengths)[1])


@pytest.mark.parametrize("cell, match", [
    (rnnjax.bidirectional(rnnjax.cells.lstm(H), rnnjax.cells.lstm(H), merge="sum"), "concatenates"),
    (rnnjax.bidirectional(rnnjax.cells.lstm(H), rnnjax.cells.lstm(H + 1)), "one architecture"),
    (rnnjax.bidirectional(rnnjax.cells.lstm(H), rnnjax.cells.gru(H)), "one architecture"),
])
def test_ends_needs_a_concatenating_pair_of_alike_directions(cell, match):
    with pytest.raises(ValueError, match=match):
        sequence_model(cell, input_size=2, output_size=2, pool="ends")
