"""Attention: the equivalence checks (``attention``) and the adding problem (``attention_task``).

One Hopfield update with projections, ``Z = softmax(β Q Kᵀ) V`` with ``Q = R W_Q``,
``K = Y W_K``, ``V = Y W_V`` and ``β = 1/√d_k`` (Ramsauer et al. 2021, eq. 10), is multi-head
softmax attention: :func:`rnnjax.hopfield.layers.hopfield` is compared with Flax's
``MultiHeadAttention`` (same weights) and ``jax.nn.dot_product_attention``. Then Hopfield pooling
(one learned query attending over the sequence) learns the adding problem, where a recurrent
network must carry the marked values through its state for at least T/2 steps.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

import rnnjax
import rnnjax.train as tr
from experiments.common import say
from experiments.common.stats import mean_interval
from experiments.hopfield.config import AttentionConfig, AttentionTaskConfig
from rnnjax.hopfield import layers, modern
from rnnjax.models.sequence import sequence_model
from rnnjax.tasks import adding

MODELS = ("hopfield_pooling", "elman", "lstm")


def identity_case(key, heads: int, d_model: int, queries: int, stored: int) -> dict[str, Any]:
    """Max |difference| of one Hopfield update with projections from Flax MHA and from
    ``jax.nn.dot_product_attention``, and of the bare update from single-head attention."""
    from flax import nnx

    kr, ky, km = jax.random.split(jax.random.fold_in(key, heads), 3)
    mha = nnx.MultiHeadAttention(num_heads=heads, in_features=d_model, qkv_features=d_model,
                                 out_features=d_model, decode=False, rngs=nnx.Rngs(int(heads)))
    p = layers.Projections(mha.query.kernel[...], mha.query.bias[...], mha.key.kernel[...],
                           mha.key.bias[...], mha.value.kernel[...], mha.value.bias[...],
                           mha.out.kernel[...], mha.out.bias[...])
    r = jax.random.normal(kr, (2, queries, d_model))
    y = jax.random.normal(ky, (2, stored, d_model))
    ours = layers.hopfield(p, r, y)
    flax_out = mha(r, y, y)
    q = jnp.einsum("bsd,dhk->bshk", r, p.w_q) + p.b_q[None, None]
    k = jnp.einsum("bnd,dhk->bnhk", y, p.w_k) + p.b_k[None, None]
    v = jnp.einsum("bnd,dhk->bnhk", y, p.w_v) + p.b_v[None, None]
    z = jax.nn.dot_product_attention(q, k, v)
    jax_out = jnp.einsum("bshk,hko->bso", z, p.w_o) + p.b_o[None, None]
    # the modern Hopfield update itself (no projections) against jax.nn on one head
    patterns = jax.random.normal(km, (stored, d_model)) / math.sqrt(d_model)
    xi = jax.random.normal(jax.random.fold_in(km, 1), (queries, d_model))
    upd = modern.update(patterns, xi, 1 / math.sqrt(d_model))
    ref = jax.nn.dot_product_attention(xi[None, :, None], patterns[None, :, None],
                                       patterns[None, :, None])[0, :, 0]
    return {"heads": heads, "d_model": d_model, "queries": queries, "stored": stored,
            "max_abs_diff_flax_mha": float(jnp.max(jnp.abs(ours - flax_out))),
            "max_abs_diff_jax_attention": float(jnp.max(jnp.abs(ours - jax_out))),
            "max_abs_diff_update_vs_attention": float(jnp.max(jnp.abs(upd - ref))),
            "output_scale": float(jnp.max(jnp.abs(flax_out)))}


def run_attention(config: AttentionConfig, key) -> dict[str, Any]:
    """``attention.json``: every case and the largest difference over all of them."""
    rows = [identity_case(key, *case) for case in
            zip(config.heads, config.d_model, config.queries, config.stored, strict=True)]
    worst = max(max(r["max_abs_diff_flax_mha"], r["max_abs_diff_jax_attention"],
                    r["max_abs_diff_update_vs_attention"]) for r in rows)
    return {"rows": rows, "dtype": "float32", "max_abs_diff": worst}


def pooling_model(model_dim: int):
    """``x_t (2) → e_t = x_t W_e + b_e → Hopfield pooling (one learned query) → linear readout``."""
    def init(key):
        ke, kp, ko = jax.random.split(key, 3)
        return {"w_e": jax.random.normal(ke, (2, model_dim)) / math.sqrt(2),
                "b_e": jnp.zeros((model_dim,)),
                "pool": layers.init_pooling(key=kp, input_size=model_dim),
                "w_o": jax.random.normal(ko, (model_dim, 1)) / math.sqrt(model_dim),
                "b_o": jnp.zeros((1,))}

    def apply(params, xs):
        e = jnp.einsum("bti,id->btd", xs, params["w_e"]) + params["b_e"][None, None]
        z = layers.hopfield_pooling(params["pool"], e)[:, 0]          # (B, d)
        return (z @ params["w_o"] + params["b_o"][None])[:, 0]

    return init, apply


def recurrent_model(cell_name: str, hidden: int):
    """An Elman or LSTM network reading the sequence, a linear readout of its last output."""
    cell = rnnjax.cells.elman(hidden) if cell_name == "elman" else rnnjax.cells.lstm(hidden)
    model = sequence_model(cell, output_size=1, input_size=2, pool="last")

    def apply(params, xs):
        _, out = model.apply(params, xs)
        return out[..., 0]

    return model.init, apply


def _model(name: str, config: AttentionTaskConfig):
    if name == "hopfield_pooling":
        return pooling_model(config.model_dim)
    return recurrent_model(name, config.hidden_size)


def seed_key(key, replicate: int):
    """The key of training run ``replicate`` of a model: its initialisation and its data."""
    return jax.random.fold_in(key, 1000 + replicate)


def summarise(per_seed: list[dict], baseline: float) -> dict[str, Any]:
    """One model's runs: the mean test-loss curve and final loss over the seeds, and every
    seed's own numbers (``seeds``), from which the report draws the intervals
    (:func:`ratio_interval`; :func:`experiments.common.seeds.band` for the curves)."""
    curves = np.array([r["test_loss"] for r in per_seed])
    mean = float(curves[:, -1].mean())
    reached = [r["steps_to_10pct_baseline"] for r in per_seed]
    return {"steps": per_seed[0]["steps"], "test_loss": curves.mean(0).tolist(),
            "final_test_loss": mean, "loss_over_baseline": mean / baseline,
            "steps_to_10pct_baseline": None if None in reached else max(reached),
            "parameters": per_seed[0]["parameters"], "seeds": per_seed}


def ratio_interval(run: dict, *, level: float = 0.95) -> dict[str, Any]:
    """A model's final test loss over the baseline, mean over its seeds with the Student-t
    interval at ``level`` (:func:`experiments.common.stats.mean_interval`, kept >= 0), from the
    seeds' own numbers; a run saved without them (one seed) gets ``interval = "none"``."""
    ratios = [s["loss_over_baseline"] for s in run.get("seeds", [])] or [run["loss_over_baseline"]]
    return mean_interval(ratios, level=level, bounds=(0, np.inf))


class _Run:
    """One model's training setup: optimiser, initial state, step, data, test loss."""

    def __init__(self, name: str, config: AttentionTaskConfig, seed: int, key, workdir: Path,
                 replicate: int = 0):
        key = seed_key(key, replicate)
        init, self.apply = _model(name, config)
        self.opt = optax.chain(optax.clip_by_global_norm(config.clip_norm),
                               optax.adam(config.learning_rate))
        self.state = tr.init_state(init(jax.random.fold_in(key, 2)), self.opt,
                                   key=jax.random.fold_in(key, 3))
        self.workdir = workdir / "runs" / name / f"seed{replicate}"
        # what a resumed run must share with the saved one (not the number of updates)
        self.run_config = {"model": name, "seed": seed, "replicate": replicate, "length": config.length,
                           "batch_size": config.batch_size, "hidden_size": config.hidden_size,
                           "model_dim": config.model_dim, "learning_rate": config.learning_rate,
                           "clip_norm": config.clip_norm, "n_test": config.n_test,
                           "eval_every": config.eval_every}


def check_runs(config: AttentionTaskConfig, seed: int, steps: int, key, workdir: Path) -> None:
    """Raise what :func:`rnnjax.train.fit` would raise for any model, before anything is trained."""
    for name in MODELS:
        for replicate in range(config.seeds):
            r = _Run(name, config, seed, key, workdir, replicate)
            tr.check_workdir(r.workdir, r.state, num_steps=steps, config=r.run_config)


def _train_one(name: str, config: AttentionTaskConfig, seed: int, steps: int, key,
                workdir: Path, replicate: int, test) -> dict[str, Any]:
    """Train run ``replicate`` of model ``name``: its test-loss curve and summary numbers."""
    r = _Run(name, config, seed, key, workdir, replicate)
    data_key = jax.random.fold_in(seed_key(key, replicate), 4)

    def batch_at(s):
        return adding.batch(key=jax.random.fold_in(data_key, s), batch_size=config.batch_size,
                            length=config.length)

    def loss_fn(p, batch, k, apply=r.apply):
        del k
        return tr.mse(apply(p, batch.inputs), batch.targets)

    test_loss = jax.jit(lambda p, apply=r.apply: tr.mse(apply(p, test.inputs), test.targets))
    state, history = tr.fit(tr.make_step(loss_fn, r.opt), r.state, batch_at, num_steps=steps,
                            workdir=r.workdir, checkpoint_every=config.checkpoint_every,
                            log_every=config.eval_every,
                            eval_fn=lambda s, f=test_loss: {"test_loss": f(s.params)},
                            config=r.run_config,
                            description=f"adding T={config.length}: {name} seed {replicate}")
    curve = [(h["step"], h["test_loss"]) for h in history if "test_loss" in h]
    final = curve[-1][1]
    below = [s for s, v in curve if v <= 0.1 * adding.baseline()]
    return {"steps": [s for s, _ in curve], "test_loss": [v for _, v in curve],
            "final_test_loss": final, "loss_over_baseline": final / adding.baseline(),
            "steps_to_10pct_baseline": below[0] if below else None,
            "parameters": sum(int(np.size(a)) for a in jax.tree.leaves(state.params))}


def run_attention_task(config: AttentionTaskConfig, seed: int, steps: int, key,
                       workdir: Path) -> dict[str, Any]:
    """``attention_task.json``: every model's test-loss curves over ``config.seeds`` runs (under
    ``runs/<model>/seed<i>``), one fixed test set."""
    length = config.length
    _, test = adding.split(key=jax.random.fold_in(key, 1), n_train=1, n_test=config.n_test,
                           length=length)
    runs = {}
    for name in MODELS:
        per_seed = [_train_one(name, config, seed, steps, key, workdir, replicate, test)
                    for replicate in range(config.seeds)]
        runs[name] = summarise(per_seed, adding.baseline())
        lo, hi = ratio_interval(runs[name])["ci"]
        say(f"attention_task: {name} test MSE / baseline {runs[name]['loss_over_baseline']:.3g} "
            f"[{lo:.3g}, {hi:.3g}] over {config.seeds} seeds")
    return {"name": "adding (modern form)", "T": length, "baseline": adding.baseline(),
            "runs": runs}
