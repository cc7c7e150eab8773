"""The captioner: image -> decoder state, teacher forcing and greedy decoding against loops."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import rnnjax
from rnnjax.models.captioner import captioner
from rnnjax.models.cnn import cnn_apply
from rnnjax.models.decoding import greedy
from rnnjax.models.seq2seq import shift_right

V, H = 8, 6


@pytest.fixture(scope="module")
def setup():
    cell = rnnjax.cells.lstm(H)
    model = captioner(cell, vocab_size=V, image_shape=(8, 8, 3), features=(4,), feature_size=5,
                      embed_size=4)
    params = model.init(jax.random.key(0))
    images = jax.random.uniform(jax.random.key(1), (3, 8, 8, 3))
    tokens = jax.random.randint(jax.random.key(2), (3, 5), 3, V)
    return cell, model, params, images, tokens


@pytest.mark.slow
def test_initial_carry_is_the_bridged_cnn_feature(setup):
    cell, model, params, images, _ = setup
    carry = model.initial_carry(params, images)
    f = cnn_apply(params.cnn, images)
    (wh, bh), (wc, bc) = jax.tree.map(np.asarray, params.bridge)
    np.testing.assert_allclose(carry.h, np.tanh(np.asarray(f) @ wh + bh), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(carry.c, np.tanh(np.asarray(f) @ wc + bc), rtol=1e-5, atol=1e-6)


def test_teacher_forced_matches_a_loop(setup):
    cell, model, params, images, tokens = setup
    tokens_in = shift_right(tokens, 1)
    _, logits = model.apply(params, images, tgt_in=tokens_in)
    assert logits.shape == (3, 5, V)
    carry = model.initial_carry(params, images)
    for t in range(5):
        carry, h = cell.step(params.decoder, carry, params.embed[tokens_in[:, t]])
        np.testing.assert_allclose(logits[:, t], np.asarray(h) @ np.asarray(params.w_out) + np.asarray(params.b_out),
                                   rtol=1e-5, atol=1e-5)


def test_greedy_is_argmax_fed_back(setup):
    cell, model, params, images, _ = setup
    tokens, lengths = greedy(model, params, model.initial_carry(params, images), 6)
    carry, y = model.initial_carry(params, images), jnp.ones(3, jnp.int32)
    ref = []
    for _ in range(6):
        carry, logits = model.step(params, carry, y)
        y = jnp.argmax(logits, -1)
        ref.append(np.asarray(y))
    ref = np.stack(ref, 1)
    for b in range(3):
        r = ref[b].tolist()
        n = r.index(2) + 1 if 2 in r else 6
        assert lengths[b] == n and tokens[b, :n].tolist() == r[:n] and (tokens[b, n:] == 0).all()


def test_gradient_reaches_the_cnn(setup):
    _, model, params, images, tokens = setup

    def loss(p):
        _, logits = model.apply(p, images, tgt_in=shift_right(tokens, 1))
        return -jnp.mean(jnp.take_along_axis(jax.nn.log_softmax(logits), tokens[..., None], -1))

    g = jax.grad(loss)(params)
    cnn_norm = sum(float(jnp.sum(x**2)) for x in jax.tree.leaves(g.cnn))
    assert cnn_norm > 0 and np.isfinite(cnn_norm)


def test_bad_input(setup):
    _, model, params, _, _ = setup
    with pytest.raises(ValueError, match="images of shape"):
        model.initial_carry(params, jnp.zeros((2, 8, 9, 3)))
    with pytest.raises(TypeError, match="rnnjax.Cell"):
        captioner(None, vocab_size=3)
    with pytest.raises(ValueError, match="vocab_size"):
        captioner(rnnjax.cells.gru(3), vocab_size=0)
