"""The Flax NNX adapter: same outputs as the pure functions, trains under nnx.jit / nnx.grad."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

import rnnjax
import rnnjax.nnx


@pytest.mark.parametrize("make", [lambda: rnnjax.cells.lstm(4),
                                  lambda: rnnjax.stack([rnnjax.cells.gru(4), rnnjax.cells.elman(4)]),
                                  lambda: rnnjax.bidirectional(rnnjax.cells.lstm(2), rnnjax.cells.lstm(2))])
def test_one_training_step_changes_every_parameter(make):
    cell = make()

    class Model(nnx.Module):
        def __init__(self, rngs):
            self.rnn = rnnjax.nnx.RNN(cell, input_size=3, rngs=rngs)
            self.head = nnx.Linear(4, 1, rngs=rngs)

        def __call__(self, xs, lengths):
            return self.head(self.rnn(xs, lengths=lengths))[..., 0]

    model = Model(nnx.Rngs(0))
    xs = jax.random.normal(jax.random.key(1), (3, 5, 3))
    lengths = jnp.array([5, 3, 2])
    # The module computes what the pure functions compute with its params.
    np.testing.assert_allclose(model.rnn(xs, lengths=lengths),
                               rnnjax.unroll(cell, model.rnn.params, xs, lengths=lengths)[1], rtol=1e-6)
    optimizer = nnx.Optimizer(model, optax.sgd(0.02), wrt=nnx.Param)

    @nnx.jit
    def train_step(model, optimizer):
        loss_fn = lambda m: jnp.mean((m(xs, lengths) - 1.0) ** 2)
        loss, grads = nnx.value_and_grad(loss_fn)(model)
        optimizer.update(model, grads)
        return loss

    before = jax.tree.map(np.array, model.rnn.params)
    loss0 = train_step(model, optimizer)
    after = model.rnn.params
    changed = jax.tree.leaves(jax.tree.map(lambda a, b: bool(np.any(a != np.asarray(b))), before, after))
    assert all(changed), jax.tree.map(lambda a, b: bool(np.any(a != np.asarray(b))), before, after)
    assert float(train_step(model, optimizer)) < float(loss0)


def test_dropout_stream_only_when_not_deterministic():
    cell = rnnjax.stack([rnnjax.cells.elman(8), rnnjax.cells.elman(8)], dropout=0.5)
    rnn = rnnjax.nnx.RNN(cell, input_size=2, rngs=nnx.Rngs(params=0, dropout=1))
    xs = jnp.ones((2, 4, 2))
    np.testing.assert_array_equal(rnn(xs), rnn(xs))
    assert not np.allclose(rnn(xs, deterministic=False), rnn(xs))
