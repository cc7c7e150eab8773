"""Where the semantics did not change, the models compute what the previous API computed: the old
modules (commit ``OLD``) are loaded from git into temporary modules and run on the same params."""

import subprocess
import sys
import types
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import rnnjax
from rnnjax import models
from rnnjax.models import baselines, decoding
from rnnjax.models.cnn import CNNParams, Conv
from rnnjax.models.model import Dense

OLD = "44942fd"
ROOT = Path(__file__).parents[2]


def _old(name: str) -> types.ModuleType:
    """``rnnjax/models/<name>.py`` as of ``OLD``, importing the old ``seq2seq`` where it did."""
    mod_name = f"_old_models_{name}"
    if mod_name in sys.modules:
        return sys.modules[mod_name]
    try:
        src = subprocess.run(["git", "show", f"{OLD}:rnnjax/models/{name}.py"], cwd=ROOT,
                             capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.skip(f"commit {OLD} is not in this clone")
    if "from rnnjax.models.seq2seq import" in src:
        _old("seq2seq")
        src = src.replace("from rnnjax.models.seq2seq import", "from _old_models_seq2seq import")
    module = types.ModuleType(mod_name)
    sys.modules[mod_name] = module
    exec(compile(src, f"{OLD}:{name}.py", "exec"), module.__dict__)
    return module


def _same(a, b, rtol=1e-6):
    """Equal leaves under equal paths (field names), whichever module defined the NamedTuples."""
    (pa, la), (pb, lb) = (zip(*jax.tree_util.tree_flatten_with_path(t)[0]) for t in (a, b))
    assert list(map(jax.tree_util.keystr, pa)) == list(map(jax.tree_util.keystr, pb))
    for x, y in zip(la, lb, strict=True):
        np.testing.assert_allclose(x, y, rtol=rtol, atol=1e-6 if rtol else 0)


def test_sequence_model_and_generation_unchanged(key):
    old = _old("sequence")
    cell = rnnjax.cells.gru(4)
    for pool in ("last", "mean", None):  # the many-to-many model last: it generates
        o = old.sequence_model(cell, vocab_size=5, embed_size=3, output_size=5, pool=pool)
        n = models.sequence_model(cell, vocab_size=5, embed_size=3, output_size=5, pool=pool)
        params = n.init(key)
        _same(o.init(key), params, rtol=0)
        tokens = jax.random.randint(key, (3, 4), 0, 5)
        lengths = jnp.array([4, 2, 0])
        _same(o.apply(params, tokens, lengths=lengths), n.apply(params, tokens, lengths=lengths))
    first = jnp.array([1, 4, 0])
    carry = n.initial_carry(params, (3,))
    _, toks, logits = old.generate(o, params, first, 6)
    _, fr = decoding.free_running(n, params, carry, first, 6)
    _same(logits, fr)
    np.testing.assert_array_equal(toks, jnp.argmax(fr, -1))
    k = jax.random.key(7)
    _same(old.generate(o, params, first, 6, carry, key=k, temperature=0.7),
          decoding.sample(n, params, carry, first, 6, key=k, temperature=0.7))


@pytest.mark.slow
def test_seq2seq_unchanged(key):
    old = _old("seq2seq")
    args = (rnnjax.cells.lstm(4), rnnjax.cells.lstm(4))
    kw = dict(src_vocab=6, tgt_vocab=7, embed_size=3, eos=2)
    o, n = old.seq2seq(*args, **kw), models.seq2seq(*args, **kw)
    params = n.init(key)
    _same(o.init(key), params, rtol=0)
    src = jax.random.randint(key, (3, 5), 1, 6)
    src_lengths = jnp.array([5, 2, 1])
    tgt_in = models.shift_right(jax.random.randint(jax.random.key(1), (3, 4), 3, 7), 1)
    _same(o.teacher_forced(params, src, tgt_in, src_len=src_lengths),
          n.apply(params, src, tgt_in=tgt_in, src_lengths=src_lengths)[1])
    carry = n.initial_carry(params, src, src_lengths=src_lengths)
    _same(o.encode(params, src, src_len=src_lengths), carry)
    _same(o.free_running(params, src, tgt_in[:, 0], 4, src_len=src_lengths),
          decoding.free_running(n, params, carry, tgt_in[:, 0], 4)[1])
    k = jax.random.key(3)
    _same(o.free_running(params, src, tgt_in[:, 0], 4, src_len=src_lengths, tgt_in=tgt_in,
                         teacher=0.5, key=k),
          decoding.scheduled_sampling(n, params, carry, tgt_in, teacher=0.5, key=k)[1])
    _same(o.greedy(params, src, 6, src_len=src_lengths), decoding.greedy(n, params, carry, 6))


@pytest.mark.slow
def test_captioner_unchanged_on_mapped_params(key):
    """The pure-function CNN computes what the old ``flax.linen`` encoder did."""
    old = _old("captioner")
    kw = dict(vocab_size=7, image_shape=(9, 8, 2), features=(3, 4), feature_size=5, embed_size=3)
    o, n = old.captioner(rnnjax.cells.lstm(4), **kw), models.captioner(rnnjax.cells.lstm(4), **kw)
    p_old = o.init(key)
    v = p_old.cnn["params"]
    cnn = CNNParams(tuple(Conv(v[f"Conv_{i}"]["kernel"], v[f"Conv_{i}"]["bias"]) for i in range(2)),
                    Dense(v["Dense_0"]["kernel"], v["Dense_0"]["bias"]))
    p_new = n.init(key)._replace(cnn=cnn, bridge=tuple(Dense(*d) for d in p_old.bridge),
                                 embed=p_old.embed, decoder=p_old.decoder, w_out=p_old.w_out,
                                 b_out=p_old.b_out)
    shape = lambda x: x.shape
    _same(jax.tree.map(shape, jax.eval_shape(n.init, key)), jax.tree.map(shape, p_new), rtol=0)
    images = jax.random.uniform(key, (2, 9, 8, 2))
    tgt_in = models.shift_right(jax.random.randint(key, (2, 5), 3, 7), 1)
    _same(o.initial_carry(p_old, images), n.initial_carry(p_new, images), rtol=1e-5)
    _same(o.teacher_forced(p_old, images, tgt_in), n.apply(p_new, images, tgt_in=tgt_in)[1],
          rtol=1e-5)
    _same(o.greedy(p_old, images, 6),
          decoding.greedy(n, p_new, n.initial_carry(p_new, images), 6))


def test_baselines_unchanged(key):
    old = _old("baselines")
    o, n = old.bag_of_words(8, 3, embed_size=4), baselines.bag_of_words(8, 3, embed_size=4)
    params = n.init(key)
    _same(o.init(key), params, rtol=0)
    tokens, lengths = jax.random.randint(key, (3, 5), 0, 8), jnp.array([5, 1, 3])
    _same(o.apply(params, tokens, lengths), n.apply(params, tokens, lengths=lengths))
    o, n = old.window_forecaster(3, hidden_size=4), baselines.window_forecaster(3, hidden_size=4)
    params = n.init(key)
    _same(o.init(key), params, rtol=0)
    context = jax.random.normal(key, (2, 6))
    _same(o.apply(params, context[:, -3:]), n.apply(params, context[:, -3:]))
    _same(old.iterate_window(o, params, context, 5),
          decoding.free_running(n, params, n.initial_carry(params, context),
                                context[:, -1:], 5)[1][..., 0])
