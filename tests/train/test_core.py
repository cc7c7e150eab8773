"""The train core: losses, optimiser clipping, the step's metrics and non-finite guard, fit."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import rnnjax.train as T

# ----------------------------------------------------------------------------- losses


def test_masked_cross_entropy_matches_numpy(key):
    logits = jax.random.normal(key, (2, 5, 4))
    labels = jax.random.randint(jax.random.fold_in(key, 1), (2, 5), 0, 4)
    lengths = jnp.array([3, 5])
    mask = T.length_mask(lengths, 5)
    got = T.cross_entropy(logits, labels, mask)
    lg, lb = np.asarray(logits, np.float64), np.asarray(labels)
    terms = [np.log(np.exp(lg[b, t]).sum()) - lg[b, t, lb[b, t]]
             for b in range(2) for t in range(int(lengths[b]))]
    np.testing.assert_allclose(got, np.mean(terms), rtol=1e-5)
    acc = T.accuracy(logits, labels, mask)
    ref = np.mean([lg[b, t].argmax() == lb[b, t] for b in range(2) for t in range(int(lengths[b]))])
    np.testing.assert_allclose(acc, ref)
    # padding gets no gradient; an all-padding batch is 0, not NaN
    g = jax.grad(lambda z: T.cross_entropy(z, labels, mask))(logits)
    assert np.all(np.asarray(g)[0, 3:] == 0)
    assert float(T.cross_entropy(logits, labels, jnp.zeros((2, 5)))) == 0.0


def test_masked_mse_vector_outputs(key):
    pred = jax.random.normal(key, (3, 4, 2))
    target = jax.random.normal(jax.random.fold_in(key, 1), (3, 4, 2))
    mask = jnp.array([[1, 1, 0, 0], [1, 0, 0, 0], [1, 1, 1, 1]], jnp.float32)
    p, t, m = (np.asarray(a, np.float64) for a in (pred, target, mask))
    ref = sum(((p[b, s] - t[b, s]) ** 2).mean() for b in range(3) for s in range(4) if m[b, s])
    np.testing.assert_allclose(T.mse(pred, target, mask), ref / m.sum(), rtol=1e-5)
    np.testing.assert_allclose(T.mse(pred, target), ((p - t) ** 2).mean(), rtol=1e-5)
    with pytest.raises(ValueError, match="shape"):
        T.mse(pred, target[..., :1])


# ----------------------------------------------------------------------------- optimiser


def test_clipping_by_global_norm_and_elementwise():
    g = {"a": jnp.array([3.0, 4.0]), "b": jnp.array([12.0])}  # global norm 13
    params = jax.tree.map(jnp.zeros_like, g)
    for opt, ref in [
        (T.optimizer("sgd", 1.0, clip_norm=6.5), {"a": [-1.5, -2.0], "b": [-6.0]}),
        (T.optimizer("sgd", 1.0, clip_value=3.5), {"a": [-3.0, -3.5], "b": [-3.5]}),
        (T.optimizer("sgd", 1.0, clip_norm=100.0), {"a": [-3.0, -4.0], "b": [-12.0]}),
    ]:
        upd, _ = opt.update(g, opt.init(params), params)
        for k in g:
            np.testing.assert_allclose(upd[k], ref[k], rtol=1e-6)
    with pytest.raises(ValueError, match="clip_norm"):
        T.optimizer("adam", 1e-3, clip_norm=0.0)
    with pytest.raises(ValueError, match="optimizer name"):
        T.optimizer("lbfgs2")


# ----------------------------------------------------------------------------- a tiny problem


def _loss(params, batch, key):
    x, y = batch
    noise = 0.0 * jax.random.normal(key, ())  # the key is used, and must be fold_in(key, step)
    pred = x @ params["w"] + params["b"][None, :]
    return jnp.mean(jnp.square(pred - y)) + noise, {"key_bits": jax.random.key_data(key)[-1]}


def _batch_at(step):
    k = jax.random.fold_in(jax.random.key(7), step)
    x = jax.random.normal(k, (8, 3))
    return x, x @ jnp.array([[1.0], [-2.0], [0.5]]) + 0.3


def _params():
    return {"w": jnp.zeros((3, 1)), "b": jnp.zeros((1,))}


def test_step_metrics_and_key(key):
    lr = 0.1
    opt = optax.sgd(lr)
    state = T.init_state(_params(), opt, key=key)
    step = T.make_step(_loss, opt, has_aux=True)
    batch = _batch_at(0)
    (loss, _), grads = jax.value_and_grad(_loss, has_aux=True)(_params(), batch, key)
    state2, m = step(state, batch)
    gnorm = np.sqrt(sum(float(np.sum(np.square(g))) for g in jax.tree.leaves(grads)))
    np.testing.assert_allclose(m["loss"], loss, rtol=1e-6)
    np.testing.assert_allclose(m["grad_norm"], gnorm, rtol=1e-5)
    np.testing.assert_allclose(m["update_norm"], lr * gnorm, rtol=1e-5)
    new = jax.tree.map(lambda p, g: p - lr * g, _params(), grads)
    np.testing.assert_allclose(state2.params["w"], new["w"], rtol=1e-6)
    pn = np.sqrt(sum(float(np.sum(np.square(p))) for p in jax.tree.leaves(new)))
    np.testing.assert_allclose(m["param_norm"], pn, rtol=1e-5)
    assert int(state2.step) == 1 and float(m["finite"]) == 1.0
    # the step key of update n is fold_in(key, n)
    state3, m3 = step(state2, batch)
    assert int(m3["key_bits"]) == int(jax.random.key_data(jax.random.fold_in(key, 1))[-1])


@jax.custom_jvp
def _spike(x, flag):
    """Zero in value; derivative infinite where ``flag`` is set (a gradient blow-up)."""
    return jnp.zeros((), x.dtype)


@_spike.defjvp
def _spike_jvp(primals, tangents):
    x, flag = primals
    slope = jnp.where(flag > 0, jnp.inf, 0.0)
    return _spike(x, flag), jnp.sum(slope * tangents[0])


def _nan_loss(params, batch, key):
    """Finite loss; at the poisoned step the gradient of params['b'] is infinite."""
    x, y, poison = batch
    pred = x @ params["w"] + params["b"][None, :]
    return jnp.mean(jnp.square(pred - y)) + _spike(params["b"], poison)


def _poisoned(step):
    x, y = _batch_at(step)
    return x, y, jnp.float32(step == 2)


def test_nonfinite_stop_names_step_and_leaf(key):
    opt = T.optimizer("sgd", 0.1)
    step = T.make_step(_nan_loss, opt)
    with pytest.raises(T.NonFiniteError, match=r"step 3: gradient of params\['b'\]"):
        T.fit(step, T.init_state(_params(), opt, key=key), _poisoned, num_steps=5)
    # the guard: after the bad update the parameters are those of the step before
    state = T.init_state(_params(), opt, key=key)
    for s in range(2):
        state, _ = step(state, _poisoned(s))
    before = jax.tree.map(np.array, state.params)
    state, m = step(state, _poisoned(2))
    assert float(m["finite"]) == 0.0
    for a, b in zip(jax.tree.leaves(state.params), jax.tree.leaves(before), strict=True):
        np.testing.assert_array_equal(a, b)


def test_nonfinite_skip_carries_on(key):
    opt = T.optimizer("sgd", 0.1, skip_nonfinite=True)
    step = T.make_step(_nan_loss, opt)
    state, hist = T.fit(step, T.init_state(_params(), opt, key=key), _poisoned, num_steps=5,
                        nonfinite="skip")
    assert [r["finite"] for r in hist] == [1.0, 1.0, 0.0, 1.0, 1.0]
    assert hist[-1]["skipped_total"] == 1
    assert all(np.isfinite(np.asarray(x)).all() for x in jax.tree.leaves(state.params))


# ----------------------------------------------------------------------------- fit, resume


def _strip(records):
    return [{k: v for k, v in r.items() if k != "time"} for r in records]


def test_resume_equals_uninterrupted(tmp_path, key):
    opt = T.optimizer("adam", 0.05)
    step = T.make_step(_loss, opt, has_aux=True)
    fresh = lambda: T.init_state(_params(), opt, key=key)
    full, hist_full = T.fit(step, fresh(), _batch_at, num_steps=9, workdir=tmp_path / "a",
                            checkpoint_every=3, log_every=2)
    T.fit(step, fresh(), _batch_at, num_steps=5, workdir=tmp_path / "b", checkpoint_every=3,
          log_every=2)  # "killed" after step 5; the last checkpoint is step 5 (the end)
    # simulate losing the end-of-run checkpoint: resume must start from step 3
    import shutil
    shutil.rmtree(tmp_path / "b" / "checkpoints" / "5")
    resumed, hist = T.fit(step, fresh(), _batch_at, num_steps=9, workdir=tmp_path / "b",
                          checkpoint_every=3, log_every=2)
    for a, b in zip(jax.tree.leaves(full), jax.tree.leaves(resumed), strict=True):
        np.testing.assert_array_equal(a, b)
    on_disk = T.read_metrics(tmp_path / "b" / "metrics.jsonl")
    assert _strip(on_disk) == _strip(hist_full) == _strip(hist)
    assert [r["step"] for r in on_disk] == [2, 4, 6, 8, 9]
    # finished: rerunning is a no-op that returns the final state
    again, _ = T.fit(step, fresh(), _batch_at, num_steps=9, workdir=tmp_path / "b")
    np.testing.assert_array_equal(again.params["w"], full.params["w"])


def test_checkpoint_mismatch_and_corruption(tmp_path, key):
    opt = T.optimizer("sgd", 0.1)
    step = T.make_step(lambda p, b, k: _loss(p, b, k)[0], opt)
    T.fit(step, T.init_state(_params(), opt, key=key), _batch_at, num_steps=2,
          workdir=tmp_path, config={"hidden": 3})
    with pytest.raises(T.ConfigMismatch, match=r"different config \(hidden: 3 -> 4\)"):
        T.fit(step, T.init_state(_params(), opt, key=key), _batch_at, num_steps=4,
              workdir=tmp_path, config={"hidden": 4})
    other = {"w": jnp.zeros((3, 2)), "b": jnp.zeros((1,))}
    with pytest.raises(T.CheckpointError, match=r"does not match.*params.w is \(\(3, 1\)"):
        T.fit(step, T.init_state(other, opt, key=key), _batch_at, num_steps=4,
              workdir=tmp_path, config={"hidden": 3})
    # corrupt every data file of the only checkpoint: a refusal, and the files are left alone
    ckpt = tmp_path / "checkpoints" / "2"
    files = [p for p in ckpt.rglob("*") if p.is_file() and "meta" not in p.parts]
    for p in files:
        p.write_bytes(b"garbage")
    with pytest.raises(T.CheckpointError, match="no intact checkpoint"):
        T.fit(step, T.init_state(_params(), opt, key=key), _batch_at, num_steps=4,
              workdir=tmp_path, config={"hidden": 3})
    assert all(p.read_bytes() == b"garbage" for p in files)


def test_metrics_reader_ignores_cut_last_line(tmp_path):
    path = tmp_path / "metrics.jsonl"
    path.write_text(json.dumps({"step": 1, "loss": 0.5}) + "\n" + '{"step": 2, "lo')
    assert T.read_metrics(path) == [{"step": 1, "loss": 0.5}]
    w = T.MetricsWriter(path, resume_step=1)  # resuming rewrites the file whole
    w.write({"step": 2, "loss": np.float32(0.25)})
    w.close()
    assert T.read_metrics(path) == [{"step": 1, "loss": 0.5}, {"step": 2, "loss": 0.25}]
    path.write_text('{"step": 1}\nnot json\n{"step": 3}\n')
    with pytest.raises(T.MetricsError, match="metrics.jsonl line 2 is not a JSON record"):
        T.read_metrics(path)
