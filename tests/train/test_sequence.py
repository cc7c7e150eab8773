"""Sequence models (many-to-many, many-to-one) and free-running generation vs Python loops."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import rnnjax
from rnnjax.models.decoding import free_running, sample
from rnnjax.models.sequence import sequence_model


def _loop_hidden(cell, cell_params, xs):
    """Hidden outputs of one sequence xs (T, I) by calling cell.step in a Python loop."""
    carry = cell.initial_carry(cell_params, ())
    hs = []
    for t in range(xs.shape[0]):
        carry, h = cell.step(cell_params, carry, xs[t])
        hs.append(h)
    return jnp.stack(hs)


def test_many_to_many_one_hot_and_embedding(key):
    cell = rnnjax.cells.lstm(5)
    tokens = jax.random.randint(key, (2, 6), 0, 4)
    for embed in (None, 3):
        model = sequence_model(cell, vocab_size=4, embed_size=embed, output_size=4)
        params = model.init(key)
        _, logits = model.apply(params, tokens)
        assert logits.shape == (2, 6, 4)
        for b in range(2):
            xs = (jax.nn.one_hot(tokens[b], 4) if embed is None else params.embed[tokens[b]])
            hs = _loop_hidden(cell, params.cell, xs)
            ref = hs @ params.w_out + params.b_out[None, :]
            np.testing.assert_allclose(logits[b], ref, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("pool", ["last", "mean"])
def test_many_to_one_pools_respect_lengths(key, pool):
    cell = rnnjax.cells.gru(4)
    model = sequence_model(cell, input_size=3, output_size=2, pool=pool)
    params = model.init(key)
    xs = jax.random.normal(key, (3, 5, 3))
    lengths = jnp.array([5, 2, 0])
    _, out = model.apply(params, xs, lengths=lengths)
    for b in range(3):
        L = int(lengths[b])
        if L == 0:
            h = jnp.zeros(4)
        else:
            hs = _loop_hidden(cell, params.cell, xs[b, :L])
            h = hs[-1] if pool == "last" else hs.mean(axis=0)
        np.testing.assert_allclose(out[b], h @ params.w_out + params.b_out, rtol=1e-5, atol=1e-6)


def test_generate_greedy_feeds_outputs_back(key):
    model = sequence_model(rnnjax.cells.elman(6), vocab_size=4, output_size=4)
    params = model.init(key)
    first = jnp.array([0, 2])
    _, logits = free_running(model, params, model.initial_carry(params, (2,)), first, 5)
    toks = jnp.argmax(logits, -1)
    for b in range(2):
        carry, x, seq = model.initial_carry(params, ()), first[b], []
        for _ in range(5):
            carry, lg = model.step(params, carry, x)
            x = jnp.argmax(lg)
            seq.append(int(x))
        assert toks[b].tolist() == seq
    # generation with the model's own carry equals teacher forcing on the generated tokens
    inputs = jnp.concatenate([first[:, None], toks[:, :-1]], axis=1)
    _, tf_logits = model.apply(params, inputs)
    np.testing.assert_allclose(logits, tf_logits, rtol=1e-5, atol=1e-6)
    # sampling at high temperature differs from greedy; at temperature 0 it is greedy
    _, t0, l0 = sample(model, params, model.initial_carry(params, (2,)), first, 5, key=key,
                       temperature=0.0)
    assert t0.tolist() == toks.tolist()
    np.testing.assert_allclose(l0, logits, rtol=1e-6)


def test_bad_arguments():
    cell = rnnjax.cells.elman(3)
    with pytest.raises(ValueError, match="exactly one"):
        sequence_model(cell, output_size=2)
    with pytest.raises(ValueError, match="output_size"):
        sequence_model(cell, vocab_size=3, output_size=0)
    with pytest.raises(ValueError, match="pool"):
        sequence_model(cell, vocab_size=3, output_size=2, pool="max")
    model = sequence_model(cell, input_size=2, output_size=2)
    with pytest.raises(ValueError, match=r"\(\*batch, T, 2\)"):
        model.apply(model.init(jax.random.key(0)), jnp.zeros((4, 3)))
    clf = sequence_model(cell, vocab_size=3, output_size=3, pool="last")
    with pytest.raises(ValueError, match="cannot feed its outputs back"):
        free_running(clf, clf.init(jax.random.key(0)), None, jnp.zeros((), jnp.int32), 3)


def test_free_running_loss_gradient_matches_finite_differences(key):
    """Training with free running (own greedy outputs fed back) is differentiable in the
    parameters (the fed-back choices are locally constant): check a directional derivative."""
    import rnnjax.train as T

    with jax.enable_x64(True):
        model = sequence_model(rnnjax.cells.gru(5), vocab_size=4, output_size=4)
        params = jax.tree.map(lambda x: x.astype(jnp.float64) if x is not None else None,
                              model.init(key))
        first = jnp.array([0, 3])
        targets = jax.random.randint(key, (2, 6), 0, 4)

        @jax.jit
        def loss(p):
            carry = model.initial_carry(p, first.shape)
            return T.cross_entropy(free_running(model, p, carry, first, 6)[1], targets)

        g = jax.grad(loss)(params)
        direction = jax.tree.map(lambda x: jax.random.normal(jax.random.fold_in(key, 5), x.shape,
                                                             x.dtype), params)
        eps = 1e-6
        shifted = lambda s: jax.tree.map(lambda p, d: p + s * eps * d, params, direction)
        fd = (loss(shifted(1.0)) - loss(shifted(-1.0))) / (2 * eps)
        analytic = sum(jnp.vdot(a, b) for a, b in zip(jax.tree.leaves(g),
                                                      jax.tree.leaves(direction), strict=True))
        np.testing.assert_allclose(analytic, fd, rtol=1e-5)
        assert float(jnp.abs(analytic)) > 0
