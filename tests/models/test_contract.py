"""Every model keeps one contract: ``init(key) -> NamedTuple params``, ``apply(params, inputs, **kw)``,
one gradient step lowers the loss; the module docstring's example runs."""

import doctest

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import rnnjax
import rnnjax.models
from rnnjax import models
from rnnjax.models import baselines as bl


def _cases():
    """(name, model, inputs, kwargs, targets, loss(outputs, targets)) for the five models."""
    k = jax.random.split(jax.random.key(1), 4)
    tokens = jax.random.randint(k[0], (3, 5), 0, 6)
    lengths = jnp.array([5, 3, 1])
    xent = lambda logits, y: optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()
    mse = lambda y, t: jnp.mean((y - t) ** 2)
    tgt = jax.random.randint(k[1], (3, 4), 3, 6)
    images = jax.random.uniform(k[2], (3, 8, 8, 1))
    return [
        ("sequence_model", models.sequence_model(rnnjax.cells.gru(4), vocab_size=6, embed_size=3,
                                                 output_size=2, pool="last"),
         tokens, {"lengths": lengths}, jnp.array([0, 1, 1]), xent),
        ("seq2seq", models.seq2seq(rnnjax.cells.gru(4), rnnjax.cells.gru(4), src_vocab=6,
                                   tgt_vocab=6, embed_size=3),
         tokens, {"tgt_in": models.shift_right(tgt, 1), "src_lengths": lengths}, tgt, xent),
        ("captioner", models.captioner(rnnjax.cells.lstm(4), vocab_size=6, image_shape=(8, 8, 1),
                                       features=(2,), feature_size=3, embed_size=3),
         images, {"tgt_in": models.shift_right(tgt, 1)}, tgt, xent),
        ("bag_of_words", bl.bag_of_words(6, 2, embed_size=3, hidden_size=4),
         tokens, {"lengths": lengths}, jnp.array([0, 1, 1]), xent),
        ("window_forecaster", bl.window_forecaster(3, hidden_size=4, horizon=2),
         jax.random.normal(k[3], (3, 3)), {}, jnp.ones((3, 2)), mse),
    ]


CASES = _cases()
SHAPES = {"sequence_model": (3, 2), "seq2seq": (3, 4, 6), "captioner": (3, 4, 6),
          "bag_of_words": (3, 2), "window_forecaster": (3, 2)}
RECURRENT = {"sequence_model", "seq2seq", "captioner"}


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_init_apply_and_a_gradient_step(case):
    name, model, inputs, kw, targets, loss_fn = case
    assert isinstance(model, models.Model) and name in repr(model)
    params = model.init(jax.random.key(0))
    # a NamedTuple pytree whose paths read as field names (optax masks, Orbax checkpoints)
    assert hasattr(params, "_fields")
    for path, _ in jax.tree_util.tree_flatten_with_path(params)[0]:
        assert isinstance(path[0], jax.tree_util.GetAttrKey), (name, path)

    def outputs(p):
        out = model.apply(p, inputs, **kw)
        if name in RECURRENT:  # (carry, outputs) like rnnjax.unroll
            assert isinstance(out, tuple) and len(out) == 2
            out = out[1]
        return out

    assert jax.eval_shape(outputs, params).shape == SHAPES[name]
    loss = jax.jit(lambda p: loss_fn(outputs(p), targets))
    value, grads = jax.jit(jax.value_and_grad(loss))(params)
    assert jax.tree.structure(grads) == jax.tree.structure(params)
    assert all(np.isfinite(g).all() for g in jax.tree.leaves(grads))
    assert sum(float(jnp.sum(g ** 2)) for g in jax.tree.leaves(grads)) > 0
    opt = optax.sgd(0.05)
    updates, _ = opt.update(grads, opt.init(params), params)
    assert loss(optax.apply_updates(params, updates)) < value


def test_models_are_immutable_and_hashable():
    model = CASES[0][1]
    with pytest.raises(AttributeError):
        model.pool = "mean"
    assert hash(model) == hash(model) and model == model


@pytest.mark.slow
def test_module_docstring_example_runs():
    result = doctest.testmod(rnnjax.models, verbose=False)
    assert result.attempted >= 5 and result.failed == 0
