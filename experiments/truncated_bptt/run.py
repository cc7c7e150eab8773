"""The task, the methods, and one resumable training run per method."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

import rnnjax
import rnnjax.train as tr
from experiments.common import cached_part, write_json
from experiments.truncated_bptt.config import Config
from rnnjax.models.sequence import sequence_model
from rnnjax.train import sweep


def remember_batch(key, *, batch_size: int, seq_len: int, lag: int, n_noise: int):
    """Tokens: 0/1 cue bits, 2..n_noise+1 noise, n_noise+2 the query. Returns (x, y, mask)."""
    k_t, k_bit, k_noise = jax.random.split(key, 3)
    t0 = jax.random.randint(k_t, (batch_size, 1), 0, seq_len - lag)
    bit = jax.random.randint(k_bit, (batch_size, 1), 0, 2)
    x = jax.random.randint(k_noise, (batch_size, seq_len), 2, 2 + n_noise)
    t = jnp.arange(seq_len)[None, :]
    query = t == t0 + lag
    x = jnp.where(t == t0, bit, x)
    x = jnp.where(query, 2 + n_noise, x)
    y = jnp.where(query, bit, 0)
    return x, y, query.astype(jnp.float32)


def methods(config: Config) -> list[dict]:
    """(name, kind, k1, k2): full BPTT, TBPTT for each k2, split-and-reset for each chunk."""
    T, m = config.task.seq_len, config.methods
    out = [{"name": "full", "kind": "full", "k1": T, "k2": T}]
    out += [{"name": f"tbptt_k2_{k2}", "kind": "tbptt", "k1": m.k1, "k2": k2} for k2 in m.k2s]
    out += [{"name": f"reset_{k}", "kind": "reset", "k1": k, "k2": k} for k in m.naive_chunks]
    return out


def _cell(name: str, hidden_size: int):
    cells = {"lstm": rnnjax.cells.lstm, "gru": rnnjax.cells.gru, "elman": rnnjax.cells.elman}
    return cells[name](hidden_size)


def train_method(config: Config, workdir: Path, method: dict) -> dict:
    """Train ``config.train.seeds`` models with one method (one vmapped program); final metrics."""
    tc, task = config.train, dataclasses.asdict(config.task)
    model = sequence_model(_cell(tc.cell, tc.hidden_size), vocab_size=config.task.n_noise + 3,
                           output_size=2)
    opt = tr.optimizer("adam", tc.learning_rate, clip_norm=tc.clip_norm)
    reset = method["kind"] == "reset"

    def apply_fn(params, carry, xs):
        return model.apply(params, xs, carry)

    step = tr.make_tbptt_step(apply_fn, tr.cross_entropy_per_position, opt,
                              initial_carry=model.initial_carry, k1=method["k1"],
                              k2=method["k2"], reset=reset, jit=False)
    base = jax.random.key(config.seed)
    seed_keys = jax.random.split(base, tc.seeds)
    states = sweep.init(lambda k: tr.init_state(model.init(k), opt, key=k), seed_keys)
    data_keys = jax.vmap(lambda k: jax.random.fold_in(k, 1))(seed_keys)
    batch_task = {**task, "batch_size": tc.batch_size}

    @jax.jit
    def batch_at(s):  # one stream of batches per seed, the same for every method
        return jax.vmap(lambda k: remember_batch(jax.random.fold_in(k, s), **batch_task))(data_keys)

    test_x, test_y, test_m = remember_batch(jax.random.fold_in(base, 999),
                                            **{**task, "batch_size": tc.n_test})

    def evaluate_one(params):
        if reset:  # run each chunk from the zero state, as in training
            k = method["k1"]
            _, logits = model.apply(params, test_x.reshape(-1, k))
            logits = logits.reshape(tc.n_test, config.task.seq_len, 2)
        else:
            _, logits = model.apply(params, test_x)
        return tr.cross_entropy(logits, test_y, test_m), tr.accuracy(logits, test_y, test_m)

    eval_all = jax.jit(jax.vmap(evaluate_one))

    def eval_fn(state):
        loss, acc = eval_all(state.params)
        return {"test_loss": np.asarray(loss), "test_accuracy": np.asarray(acc)}

    run_config = {"seed": config.seed, "task": task, "train": dataclasses.asdict(tc), "method": method}
    states, hist = tr.fit(sweep.vmap_step(step, batch_axis=0), states, batch_at,
                          num_steps=config.steps, workdir=workdir / "runs" / method["name"],
                          checkpoint_every=tc.checkpoint_every, log_every=tc.eval_every,
                          eval_fn=eval_fn, config=run_config,
                          description=f"truncated_bptt {method['name']}")
    loss, acc = eval_all(states.params)
    return {**method, "test_loss": np.asarray(loss).tolist(),
            "test_accuracy": np.asarray(acc).tolist(),
            "updates_per_batch": config.task.seq_len // method["k1"],
            "curve": [{"batch": r["step"], "test_loss": r["test_loss"],
                       "test_accuracy": r["test_accuracy"]} for r in hist if "test_loss" in r]}


def run(config: Config, workdir: Path) -> None:
    """Every method (each resumable on its own), then ``summary.json`` and ``curves.json``."""
    results = []
    for m in methods(config):
        settings = {"seed": config.seed, "steps": config.steps, "task": config.task,
                    "train": config.train, "method": m}
        results.append(cached_part(workdir / "runs", m["name"], settings,
                                   lambda m=m: train_method(config, workdir, m)))
    write_json(workdir / "curves.json", {r["name"]: r["curve"] for r in results})
    rows = [{k: r[k] for k in ("name", "kind", "k1", "k2", "updates_per_batch")}
            | {"seed": s, "test_loss": r["test_loss"][s], "test_accuracy": r["test_accuracy"][s]}
            for r in results for s in range(config.train.seeds)]
    write_json(workdir / "summary.json", {
        "lag": config.task.lag, "seq_len": config.task.seq_len, "k1": config.methods.k1,
        "cell": config.train.cell, "chance_loss": math.log(2), "rows": rows})
