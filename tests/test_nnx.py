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


def test_parameters_are_named_after_the_fields():
    names = lambda m: {"/".join(map(str, p)) for p, _ in nnx.to_flat_state(nnx.state(m, nnx.Param))}
    rnn = rnnjax.nnx.RNN(rnnjax.cells.lstm(4), input_size=np.int64(3), rngs=nnx.Rngs(0))
    assert names(rnn) == {"w_x", "w_h", "b"}
    with pytest.raises(TypeError, match="input_size must be an int"):
        rnnjax.nnx.RNN(rnnjax.cells.lstm(4), input_size=3.0, rngs=nnx.Rngs(0))
    assert rnn.w_x[...].shape == (3, 16)
    cell = rnnjax.stack([rnnjax.cells.gru(4), rnnjax.bidirectional(rnnjax.cells.elman(2),
                                                                   rnnjax.cells.elman(2))])
    rnn = rnnjax.nnx.RNN(cell, input_size=3, rngs=nnx.Rngs(0))
    assert names(rnn) == ({f"layers/0/{f}" for f in ("w_x", "w_h", "b", "b_hn")}
                          | {f"layers/1/{d}/{f}" for d in ("forward", "backward") for f in ("w_x", "w_h", "b")})
    assert isinstance(rnn.params[1], rnnjax.Bidirectional)
    rnn = rnnjax.nnx.RNN(rnnjax.cells.gru(4, variant="reset_before"), input_size=3, rngs=nnx.Rngs(0))
    assert names(rnn) == {"w_x", "w_h", "b"} and rnn.params.b_hn is None
    rnn = rnnjax.nnx.RNN(rnnjax.analysis.logistic_map(3.5), input_size=1, rngs=nnx.Rngs(0))
    assert names(rnn) == {"weights"}


def test_optax_mask_by_name_freezes_the_biases():
    rnn = rnnjax.nnx.RNN(rnnjax.stack([rnnjax.cells.elman(4), rnnjax.cells.elman(4)]), input_size=3,
                         rngs=nnx.Rngs(0))
    labels = lambda tree: jax.tree_util.tree_map_with_path(  # the path ends with .../b/value
        lambda path, _: "frozen" if "b" in [getattr(k, "key", None) for k in path] else "sgd", tree)
    tx = optax.multi_transform({"sgd": optax.sgd(0.1), "frozen": optax.set_to_zero()}, labels)
    optimizer = nnx.Optimizer(rnn, tx, wrt=nnx.Param)
    xs = jax.random.normal(jax.random.key(1), (2, 5, 3))
    grads = nnx.grad(lambda m: jnp.sum(m(xs) ** 2 + m(xs)))(rnn)
    before = jax.tree.map(np.array, rnn.params)
    optimizer.update(rnn, grads)
    for layer_before, layer_after in zip(before, rnn.params, strict=True):
        np.testing.assert_array_equal(layer_after.b, layer_before.b)
        assert np.all(layer_after.w_x != layer_before.w_x) and np.all(layer_after.w_h != layer_before.w_h)


def test_train_and_eval_switch_dropout():
    cell = rnnjax.stack([rnnjax.cells.elman(8), rnnjax.cells.elman(8)], dropout=0.5)
    rnn = rnnjax.nnx.RNN(cell, input_size=2, rngs=nnx.Rngs(params=0, dropout=1))
    xs = jnp.ones((2, 4, 2))
    clean = rnnjax.unroll(cell, rnn.params, xs, deterministic=True)[1]
    a, b = rnn(xs), rnn(xs)  # training mode by default, as nnx.Dropout: a fresh mask per call
    assert not np.allclose(a, clean) and not np.allclose(a, b)
    np.testing.assert_array_equal(rnn(xs, deterministic=True), clean)
    rnn.eval()
    np.testing.assert_array_equal(rnn(xs), clean)
    assert not np.allclose(rnn(xs, deterministic=False), clean)
    rnn.train()
    key = jax.random.key(5)
    np.testing.assert_array_equal(rnn(xs, key=key), rnnjax.unroll(cell, rnn.params, xs, key=key)[1])

    # Training mode without a dropout stream raises instead of silently dropping nothing.
    rnn = rnnjax.nnx.RNN(cell, input_size=2, rngs=nnx.Rngs(params=0))
    with pytest.raises(ValueError, match="rngs has no 'dropout' stream"):
        rnn(xs)
    rnn.eval()
    np.testing.assert_array_equal(rnn(xs), clean)
