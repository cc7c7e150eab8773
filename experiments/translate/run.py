"""The seq2seq model, one training run per mode (its seeds vmapped), and the exposure-bias
evaluation."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax

import rnnjax
import rnnjax.train as tr
from experiments.common import cached_part, num_steps, say, write_json
from experiments.common.seeds import across_seeds, per_seed_batches, seed_keys
from experiments.translate.config import Config
from rnnjax.models import greedy, scheduled_sampling, seq2seq, shift_right
from rnnjax.tasks import translation as tl
from rnnjax.train import sweep

N_EXAMPLES = 8
CURVE_KEYS = ("step", "exact_match", "tf_token_acc", "fr_token_acc", "tf_by_pos", "fr_by_pos")


def build(config: Config):
    """LSTM encoder -> LSTM decoder over the digit and word vocabularies."""
    h = config.model.hidden_size
    return seq2seq(rnnjax.cells.lstm(h), rnnjax.cells.lstm(h), src_vocab=len(tl.SRC_VOCAB),
                   tgt_vocab=len(tl.TGT_VOCAB), embed_size=config.model.embed_size, bos=tl.BOS,
                   eos=tl.EOS, pad=tl.PAD)


def evaluate(model, params, test: tl.Pairs) -> dict:
    """Exact match (greedy) and per-position token accuracy with true / own previous words."""
    mask = tr.length_mask(test.tgt_lengths, tl.TGT_LEN)
    _, tf_logits = model.apply(params, test.src, tgt_in=shift_right(test.tgt, tl.BOS),
                               src_lengths=test.src_lengths)
    carry = model.initial_carry(params, test.src, src_lengths=test.src_lengths)
    tokens, lengths = greedy(model, params, carry, tl.TGT_LEN)
    exact = jnp.all((tokens == test.tgt) | (mask == 0), -1) & (lengths == test.tgt_lengths)
    tf_ok = (jnp.argmax(tf_logits, -1) == test.tgt).astype(jnp.float32)
    fr_ok = (tokens == test.tgt).astype(jnp.float32)

    def per_pos(correct):
        return jnp.sum(correct * mask, 0) / jnp.maximum(jnp.sum(mask, 0), 1)

    return {"exact_match": jnp.mean(exact), "tf_token_acc": tr.masked_mean(tf_ok, mask),
            "fr_token_acc": tr.masked_mean(fr_ok, mask), "tf_by_pos": per_pos(tf_ok),
            "fr_by_pos": per_pos(fr_ok), "tokens": tokens}


def _data(config: Config):
    split_key = jax.random.split(jax.random.key(config.seed), 3)[0]
    train_numbers, test_numbers = tl.split(key=split_key, n_test=config.data.n_test,
                                           max_number=config.data.max_number)
    return tl.pairs(train_numbers), tl.pairs(test_numbers)


def _per_seed(tree) -> list:
    """A (seeds, ...) array as nested lists, rounded."""
    return np.round(np.asarray(tree, dtype=float), 5).tolist()


def train_mode(config: Config, mode: str, run_dir: Path) -> dict:
    """Train ``train.seeds`` models in one mode (one vmapped, resumable program in ``run_dir``);
    their final metrics per seed, curves and seed 0's examples.

    Seed ``i`` has the same initialisation and the same training batches in every mode, so the
    modes are compared on paired runs; the split into training and test numbers is shared.
    """
    tc = config.train
    steps = num_steps(config, tc.steps)
    train, test = _data(config)
    model = build(config)
    decay_steps = max(1, int(0.75 * steps))
    keys = seed_keys(config.seed, tc.seeds, salt=1)
    init_keys, data_keys, step_keys = jax.vmap(lambda k: jax.random.split(k, 3), out_axes=1)(keys)

    def one_batch(k, s):
        idx = jax.random.randint(k, (tc.batch_size,), 0, len(train.numbers))
        return jax.tree.map(lambda a: a[idx], train), jnp.maximum(0.0, 1.0 - s / decay_steps)

    def loss_fn(params, batch, key):
        pairs, p_teacher = batch
        tgt_in = shift_right(pairs.tgt, tl.BOS)
        if mode == "teacher":
            _, logits = model.apply(params, pairs.src, tgt_in=tgt_in, src_lengths=pairs.src_lengths)
        else:
            carry = model.initial_carry(params, pairs.src, src_lengths=pairs.src_lengths)
            _, logits = scheduled_sampling(model, params, carry, tgt_in, key=key,
                                           teacher=p_teacher if mode == "scheduled" else 0.0)
        return tr.cross_entropy(logits, pairs.tgt, tr.length_mask(pairs.tgt_lengths, tl.TGT_LEN))

    eval_jit = jax.jit(jax.vmap(lambda p: evaluate(model, p, test)))
    metric_keys = ("exact_match", "tf_token_acc", "fr_token_acc", "tf_by_pos", "fr_by_pos")

    def eval_fn(state):
        m = jax.device_get(eval_jit(state.params))
        return {k: _per_seed(m[k]) for k in metric_keys}

    opt = optax.chain(optax.clip_by_global_norm(1.0), optax.adam(tc.learning_rate))
    states = sweep.init(lambda k, ks: tr.init_state(model.init(k), opt, key=ks),
                        init_keys, step_keys)
    initial = {"step": 0, **eval_fn(states)}
    run_config = {"mode": mode, "seed": config.seed, "seeds": tc.seeds,
                  "data": dataclasses.asdict(config.data),
                  "model": dataclasses.asdict(config.model),
                  "train": {"batch_size": tc.batch_size, "learning_rate": tc.learning_rate}}
    step = sweep.vmap_step(tr.make_step(loss_fn, opt, jit=False), batch_axis=0)
    states, history = tr.fit(step, states, per_seed_batches(one_batch, data_keys),
                             num_steps=steps, workdir=run_dir,
                             checkpoint_every=max(steps // 4, 100), log_every=tc.eval_every,
                             eval_fn=eval_fn, config=run_config, description=f"translate {mode}")
    m = jax.device_get(eval_jit(states.params))
    examples = [{"source": tl.decode(test.src[i], tl.SRC_VOCAB).replace(" ", ""),
                 "target": tl.decode(test.tgt[i]), "greedy": tl.decode(m["tokens"][0, i])}
                for i in range(N_EXAMPLES)]
    final = {k: _per_seed(m[k]) for k in metric_keys}
    return {**{k: across_seeds(final[k], bounds=(0, 1))
               for k in ("exact_match", "tf_token_acc", "fr_token_acc")},
            "tf_by_pos": final["tf_by_pos"], "fr_by_pos": final["fr_by_pos"],
            "examples": examples,
            "curve": {k: [r.get(k) for r in (initial, *history)] for k in CURVE_KEYS}}


def run(config: Config, workdir: Path) -> None:
    """Every mode (each cached and resumable on its own), then the summary, curves, examples."""
    results = {}
    for mode in config.train.modes:
        settings = {"mode": mode, "seed": config.seed,
                    "steps": num_steps(config, config.train.steps), "data": config.data,
                    "model": config.model, "train": config.train}
        results[mode] = r = cached_part(workdir / "runs", mode, settings,
                                        lambda m=mode: train_mode(config, m, workdir / "runs" / m))
        say(f"translate {mode}: exact match {r['exact_match']['mean']:.3f}, token accuracy "
            f"teacher-forced {r['tf_token_acc']['mean']:.3f}, free-running "
            f"{r['fr_token_acc']['mean']:.3f} (mean of {config.train.seeds} seeds)")
    keys = ("exact_match", "tf_token_acc", "fr_token_acc", "tf_by_pos", "fr_by_pos")
    write_json(workdir / "summary.json", {
        "n_test": config.data.n_test, "positions": tl.TGT_LEN, "seeds": config.train.seeds,
        "modes": {m: {k: r[k] for k in keys} for m, r in results.items()}})
    write_json(workdir / "curves.json", {m: r["curve"] for m, r in results.items()})
    write_json(workdir / "examples.json", {m: r["examples"] for m, r in results.items()})
