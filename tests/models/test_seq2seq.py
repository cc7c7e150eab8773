"""The encoder-decoder and the decoding modes against step-by-step Python loops over single examples."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import rnnjax
from rnnjax.models import Model
from rnnjax.models.decoding import free_running, greedy, scheduled_sampling
from rnnjax.models.seq2seq import seq2seq, shift_right

V_SRC, V_TGT, H = 7, 9, 6


@pytest.fixture(scope="module")
def setup():
    model = seq2seq(rnnjax.cells.lstm(H), rnnjax.cells.lstm(H), src_vocab=V_SRC,
                    tgt_vocab=V_TGT, embed_size=5, eos=2)
    params = model.init(jax.random.key(0))
    params = params._replace(b_out=params.b_out.at[2].add(-1.0))  # eos not too early
    k1, k2 = jax.random.split(jax.random.key(1))
    src = jax.random.randint(k1, (4, 5), 1, V_SRC)
    src_lengths = jnp.array([5, 3, 1, 4])
    tgt = jax.random.randint(k2, (4, 6), 3, V_TGT)
    return model, params, src, src_lengths, tgt


def _reference_encode(params, src, n):
    cell = rnnjax.cells.lstm(H)
    carry = cell.initial_carry(params.encoder)
    for t in range(n):
        carry, _ = cell.step(params.encoder, carry, params.src_embed[src[t]])
    return carry


def _reference_step(params, carry, y):
    carry, h = rnnjax.cells.lstm(H).step(params.decoder, carry, params.tgt_embed[y])
    return carry, h @ params.w_out + params.b_out


def test_teacher_forced_matches_a_loop(setup):
    model, params, src, src_lengths, tgt = setup
    tgt_in = shift_right(tgt, 1)
    np.testing.assert_array_equal(tgt_in[:, 0], 1)
    np.testing.assert_array_equal(tgt_in[:, 1:], tgt[:, :-1])
    _, out = model.apply(params, src, tgt_in=tgt_in, src_lengths=src_lengths)
    assert out.shape == (4, 6, V_TGT)
    for b in range(4):
        carry = _reference_encode(params, src[b], int(src_lengths[b]))
        for t in range(6):
            carry, logits = _reference_step(params, carry, tgt_in[b, t])
            np.testing.assert_allclose(out[b, t], logits, rtol=1e-5, atol=1e-5)


def test_free_running_feeds_back_the_argmax(setup):
    model, params, src, src_lengths, _ = setup
    first = jnp.ones(4, jnp.int32)
    _, out = free_running(model, params, model.initial_carry(params, src, src_lengths=src_lengths),
                          first, 6)
    for b in range(4):
        carry, y = _reference_encode(params, src[b], int(src_lengths[b])), 1
        for t in range(6):
            carry, logits = _reference_step(params, carry, y)
            np.testing.assert_allclose(out[b, t], logits, rtol=1e-5, atol=1e-5)
            y = int(jnp.argmax(logits))


def test_scheduled_sampling_limits(setup):
    model, params, src, src_lengths, tgt = setup
    tgt_in = shift_right(tgt, 1)
    _, tf = model.apply(params, src, tgt_in=tgt_in, src_lengths=src_lengths)
    carry = model.initial_carry(params, src, src_lengths=src_lengths)
    _, always = scheduled_sampling(model, params, carry, tgt_in, teacher=1.0, key=jax.random.key(3))
    np.testing.assert_allclose(always, tf, rtol=1e-5, atol=1e-5)
    _, never = scheduled_sampling(model, params, carry, tgt_in, teacher=0.0, key=jax.random.key(3))
    np.testing.assert_allclose(never, free_running(model, params, carry, tgt_in[:, 0], 6)[1],
                               rtol=1e-6)


def test_scheduled_sampling_matches_a_loop(setup):
    """Half the steps teacher-forced: each example's loop feeds the true token where the
    same Bernoulli draw says so, its own argmax elsewhere (always the start token first)."""
    model, params, src, src_lengths, tgt = setup
    tgt_in, k = shift_right(tgt, 1), jax.random.key(4)
    _, out = scheduled_sampling(model, params, model.initial_carry(params, src, src_lengths=src_lengths),
                                tgt_in, teacher=0.5, key=k)
    use = np.asarray(jax.random.bernoulli(k, 0.5, (6, 4)))
    assert 0 < use[1:].sum() < use[1:].size
    for b in range(4):
        carry, y = _reference_encode(params, src[b], int(src_lengths[b])), 1
        for t in range(6):
            if t == 0 or use[t, b]:
                y = int(tgt_in[b, t])
            carry, logits = _reference_step(params, carry, y)
            np.testing.assert_allclose(out[b, t], logits, rtol=1e-5, atol=1e-5)
            y = int(jnp.argmax(logits))


@pytest.mark.slow
def test_teacher_forcing_gradient_matches_finite_differences(setup):
    model, params, src, src_lengths, tgt = setup
    with jax.enable_x64(True):
        p64 = jax.tree.map(lambda a: jnp.asarray(a, jnp.float64), params)

        def loss(w_out):
            _, logits = model.apply(p64._replace(w_out=w_out), src, tgt_in=shift_right(tgt, 1),
                                    src_lengths=src_lengths)
            return -jnp.mean(jnp.take_along_axis(jax.nn.log_softmax(logits), tgt[..., None], -1))

        g = jax.grad(loss)(p64.w_out)
        d = jax.random.normal(jax.random.key(5), p64.w_out.shape, jnp.float64)
        eps = 1e-6
        fd = (loss(p64.w_out + eps * d) - loss(p64.w_out - eps * d)) / (2 * eps)
        np.testing.assert_allclose(jnp.vdot(g, d), fd, rtol=1e-6)


def test_greedy_stops_at_the_end_token(setup):
    model, params, src, src_lengths, _ = setup
    carry = model.initial_carry(params, src, src_lengths=src_lengths)
    tokens, lengths = greedy(model, params, carry, 8)
    ref = jnp.argmax(free_running(model, params, carry, jnp.ones(4, jnp.int32), 8)[1], -1)
    for b in range(4):
        r = ref[b].tolist()
        n = r.index(2) + 1 if 2 in r else 8
        assert int(lengths[b]) == n
        assert tokens[b, :n].tolist() == r[:n]
        assert (tokens[b, n:] == 0).all()


def test_greedy_on_a_scripted_step():
    script = jnp.array([[5, 2, 6, 7], [3, 4, 8, 2]])  # row b emits script[b, t] at step t

    def step(params, t, y):
        del params, y
        return t + 1, jax.nn.one_hot(script[:, t], 9) * 10.0

    model = Model(init=None, apply=None, step=step, feedback=jnp.argmax, eos=2, pad=0)
    tokens, lengths = greedy(model, None, 0, 4, first=jnp.zeros(2, jnp.int32))
    assert tokens.tolist() == [[5, 2, 0, 0], [3, 4, 8, 2]]
    assert lengths.tolist() == [2, 4]
    tokens, lengths = greedy(model, None, 0, 3, first=jnp.zeros(2, jnp.int32))
    assert lengths.tolist() == [2, 3]
    with pytest.raises(ValueError, match="no start token"):
        greedy(model, None, jnp.zeros((2, 1)), 3)


@pytest.mark.slow
def test_real_valued_seq2seq_free_running_feeds_predictions(key):
    model = seq2seq(rnnjax.cells.gru(5), rnnjax.cells.gru(5), src_features=1, tgt_features=1)
    params = model.init(key)
    src = jax.random.normal(key, (3, 8, 1))
    _, out = free_running(model, params, model.initial_carry(params, src), src[:, -1], 4)
    assert out.shape == (3, 4, 1)
    cell = rnnjax.cells.gru(5)
    for b in range(3):
        c = cell.initial_carry(params.encoder)
        for t in range(8):
            c, _ = cell.step(params.encoder, c, src[b, t])
        y = src[b, -1]
        for t in range(4):
            c, h = cell.step(params.decoder, c, y)
            y = h @ params.w_out + params.b_out
            np.testing.assert_allclose(out[b, t], y, rtol=1e-5, atol=1e-6)
    x = jnp.arange(12.0).reshape(2, 3, 2)
    np.testing.assert_array_equal(shift_right(x, -jnp.ones((2, 2)))[:, 1:], x[:, :-1])


def test_bad_configurations(key):
    with pytest.raises(ValueError, match="carries"):
        seq2seq(rnnjax.cells.lstm(4), rnnjax.cells.gru(4), src_vocab=3, tgt_vocab=3).init(key)
    with pytest.raises(ValueError, match="exactly one of src"):
        seq2seq(rnnjax.cells.gru(4), rnnjax.cells.gru(4), tgt_vocab=3)
    with pytest.raises(TypeError, match="rnnjax.Cell"):
        seq2seq("lstm", rnnjax.cells.gru(4), src_vocab=3, tgt_vocab=3)
    model = seq2seq(rnnjax.cells.gru(4), rnnjax.cells.gru(4), src_features=2, tgt_features=2)
    with pytest.raises(ValueError, match="no end token"):
        greedy(model, model.init(key), model.initial_carry(model.init(key), jnp.zeros((1, 3, 2))), 3)
