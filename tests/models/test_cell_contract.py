"""Models honour the cells' contract: dropout keys reach the cells, models built alike are equal
(one compilation under jit), NumPy integer sizes work, structure is read from the object."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import rnnjax
from rnnjax import models


def _dropout_stack():
    return rnnjax.stack([rnnjax.cells.gru(8), rnnjax.cells.gru(8)], dropout=0.5)


def test_sequence_model_forwards_key_and_deterministic(key):
    model = models.sequence_model(_dropout_stack(), vocab_size=5, embed_size=3, output_size=2)
    params = model.init(key)
    tokens = jax.random.randint(key, (2, 6), 0, 5)
    emb = params.embed[tokens]
    k = jax.random.key(7)
    # against unroll of the cell with the same key / no dropout
    for kw in ({"key": k}, {"deterministic": True}):
        _, hs = rnnjax.unroll(model.cell, params.cell, emb, **kw)
        np.testing.assert_allclose(model.apply(params, tokens, **kw)[1],
                                   hs @ params.w_out + params.b_out[None, None], rtol=1e-6, atol=1e-6)
    train, evaluate = model.apply(params, tokens, key=k)[1], model.apply(params, tokens,
                                                                         deterministic=True)[1]
    assert not np.allclose(train, evaluate)
    with pytest.raises(ValueError, match="pass key="):
        model.apply(params, tokens)
    # one gradient step with dropout
    loss = lambda p: jnp.mean(model.apply(p, tokens, key=k)[1] ** 2)
    grads = jax.grad(loss)(params)
    assert all(np.isfinite(g).all() for g in jax.tree.leaves(grads))


def test_seq2seq_and_captioner_forward_key(key):
    tokens = jnp.ones((2, 4), jnp.int32)
    s2s = models.seq2seq(_dropout_stack(), _dropout_stack(), src_vocab=5, tgt_vocab=6)
    cap = models.captioner(_dropout_stack(), vocab_size=6, image_shape=(8, 8, 1), features=(2,),
                           feature_size=3, embed_size=3)
    images = jnp.ones((2, 8, 8, 1))
    for model, inputs in ((s2s, tokens), (cap, images)):
        params = model.init(key)
        a = model.apply(params, inputs, tgt_in=tokens, key=jax.random.key(1))[1]
        b = model.apply(params, inputs, tgt_in=tokens, key=jax.random.key(2))[1]
        c = model.apply(params, inputs, tgt_in=tokens, deterministic=True)[1]
        d = model.apply(params, inputs, tgt_in=tokens, deterministic=True)[1]
        assert not np.allclose(a, b) and not np.allclose(a, c)
        np.testing.assert_array_equal(c, d)


def test_models_built_alike_are_equal_and_compile_once(key):
    build = lambda h: models.sequence_model(rnnjax.cells.gru(h), vocab_size=np.int64(5),
                                            output_size=2, pool="last")
    a, b = build(4), build(np.int32(4))
    assert a == b and hash(a) == hash(b) and a != build(5)
    assert models.seq2seq(rnnjax.cells.gru(3), rnnjax.cells.gru(3), src_vocab=4, tgt_vocab=4) == \
        models.seq2seq(rnnjax.cells.gru(3), rnnjax.cells.gru(3), src_vocab=4, tgt_vocab=4)
    traces = []

    def forward(model, params, tokens):
        traces.append(model)
        return model.apply(params, tokens)[1]

    run = jax.jit(forward, static_argnums=0)
    params = a.init(key)
    tokens = jnp.ones((2, 3), jnp.int32)
    np.testing.assert_array_equal(run(a, params, tokens), run(b, params, tokens))
    assert len(traces) == 1


def test_numpy_integer_sizes_everywhere(key):
    n = np.int64
    model = models.sequence_model(rnnjax.cells.gru(n(4)), input_size=n(3), output_size=n(2))
    assert model.input_size == 3 and type(model.output_size) is int
    assert model.apply(model.init(key), jnp.ones((1, 5, 3)))[1].shape == (1, 5, 2)
    bow = models.bag_of_words(n(6), n(2), embed_size=n(3), hidden_size=n(4))
    assert bow.apply(bow.init(key), jnp.ones((1, 3), jnp.int32)).shape == (1, 2)
    with pytest.raises(ValueError, match="output_size must be a positive int"):
        models.sequence_model(rnnjax.cells.gru(4), input_size=3, output_size=2.0)
    lm = models.sequence_model(rnnjax.cells.gru(4), vocab_size=n(5), output_size=n(5))
    params = lm.init(key)
    carry = lm.initial_carry(params, (1,))
    first = jnp.zeros((1,), jnp.int32)
    _, ys = models.decoding.free_running(lm, params, carry, first, n(3))
    assert ys.shape == (1, 3, 5)
    for bad in (True, 2.5):
        with pytest.raises(ValueError, match="steps must be a non-negative int"):
            models.decoding.free_running(lm, params, carry, first, bad)


def test_ends_reads_the_structure_not_the_name(key):
    bi = rnnjax.bidirectional(rnnjax.cells.gru(3), rnnjax.cells.gru(3))
    renamed = bi._replace(name="pair")
    model = models.sequence_model(renamed, input_size=2, output_size=2, pool="ends")
    reference = models.sequence_model(bi, input_size=2, output_size=2, pool="ends")
    params = reference.init(key)
    xs = jax.random.normal(key, (2, 5, 2))
    np.testing.assert_array_equal(model.apply(params, xs)[1], reference.apply(params, xs)[1])
    # a layer has no one-step map: the model generates nothing
    assert reference.step is None and reference.feedback is None
