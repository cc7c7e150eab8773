"""The captioner, its training run and its evaluation by greedy decoding."""

from __future__ import annotations

import dataclasses
import io
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax

import rnnjax
import rnnjax.train as tr
from experiments.caption.config import Config
from experiments.common import atomic_write_bytes, cached_part, num_steps, say, write_json
from experiments.common.seeds import across_seeds, per_seed_batches, seed_keys
from rnnjax.models import captioner, greedy, shift_right
from rnnjax.tasks import captions as cap
from rnnjax.train import sweep

ATTRIBUTES = ("size", "colour", "shape")
N_EXAMPLES = 12


def evaluate(model, params, test: cap.Captions) -> dict:
    """Greedy captions scored against the truth: exact match, object count, attributes.

    Attribute words sit at caption positions 1, 2, 3 (first object) and 6, 7, 8 (second); an
    attribute counts as right only in a caption of the right length.
    """
    tokens, lengths = greedy(model, params, model.initial_carry(params, test.images),
                             cap.CAPTION_LEN)
    mask = tr.length_mask(test.lengths, cap.CAPTION_LEN)
    exact = jnp.all((tokens == test.tokens) | (mask == 0), -1) & (lengths == test.lengths)
    count_ok = lengths == test.lengths
    attr = {}
    for j, name in enumerate(ATTRIBUTES):
        pos = jnp.array([1 + j, 6 + j])
        real = mask[:, pos]
        ok = (tokens[:, pos] == test.tokens[:, pos]) & count_ok[:, None]
        attr[name] = jnp.sum(ok * real) / jnp.sum(real)
    return {"exact_match": jnp.mean(exact), "count_accuracy": jnp.mean(count_ok), **attr,
            "tokens": tokens}


def test_set(config: Config) -> cap.Captions:
    """The held-out images (the same for every run with this seed and data config)."""
    test_key = jax.random.split(jax.random.key(config.seed), 3)[1]
    return cap.generate(config.data.n_test, key=test_key, p_two=config.data.p_two,
                        noise=config.data.noise)


def train(config: Config, run_dir: Path) -> dict:
    """Train ``train.seeds`` captioners as one vmapped program (resumable in ``run_dir``); final
    metrics per seed, curves (evaluations × seeds) and seed 0's examples."""
    mc, tc, dc = config.model, config.train, config.data
    steps = num_steps(config, tc.steps)
    keys = seed_keys(config.seed, tc.seeds, salt=1)
    init_keys, data_keys, step_keys = jax.vmap(lambda k: jax.random.split(k, 3), out_axes=1)(keys)
    test = test_set(config)
    model = captioner(rnnjax.cells.lstm(mc.hidden_size), vocab_size=len(cap.VOCAB),
                      image_shape=(cap.HEIGHT, cap.WIDTH, 3), features=mc.features,
                      feature_size=mc.feature_size, embed_size=mc.embed_size, bos=cap.BOS,
                      eos=cap.EOS, pad=cap.PAD)

    def one_batch(k, s):
        del s
        return cap.generate(tc.batch_size, key=k, p_two=dc.p_two, noise=dc.noise)

    def loss_fn(params, batch, key):
        del key
        _, logits = model.apply(params, batch.images, tgt_in=shift_right(batch.tokens, cap.BOS))
        return tr.cross_entropy(logits, batch.tokens, tr.length_mask(batch.lengths, cap.CAPTION_LEN))

    eval_jit = jax.jit(jax.vmap(lambda p: evaluate(model, p, test)))

    def eval_fn(state):
        m = jax.device_get(eval_jit(state.params))
        return {k: np.round(np.asarray(v, float), 5).tolist() for k, v in m.items()
                if k != "tokens"}

    opt = optax.chain(optax.clip_by_global_norm(1.0), optax.adam(tc.learning_rate))
    states = sweep.init(lambda k, ks: tr.init_state(model.init(k), opt, key=ks),
                        init_keys, step_keys)
    initial = {"step": 0, **eval_fn(states)}
    run_config = {"seed": config.seed, "seeds": tc.seeds, "data": dataclasses.asdict(dc),
                  "model": dataclasses.asdict(mc),
                  "train": {"batch_size": tc.batch_size, "learning_rate": tc.learning_rate}}
    step = sweep.vmap_step(tr.make_step(loss_fn, opt, jit=False), batch_axis=0)
    states, history = tr.fit(step, states, per_seed_batches(one_batch, data_keys),
                             num_steps=steps, workdir=run_dir,
                             checkpoint_every=max(steps // 4, 100), log_every=tc.eval_every,
                             eval_fn=eval_fn, config=run_config, description="caption")
    m = jax.device_get(eval_jit(states.params))
    summary = {k: across_seeds(v, bounds=(0, 1)) for k, v in m.items() if k != "tokens"}
    summary["n_test"] = dc.n_test
    summary["seeds"] = tc.seeds
    summary["n_params"] = int(sum(x[0].size for x in jax.tree.leaves(states.params)))
    summary["examples"] = [{"truth": cap.decode(test.tokens[i]),
                            "generated": cap.decode(m["tokens"][0, i])} for i in range(N_EXAMPLES)]
    keys = ("step", "loss", "exact_match", "count_accuracy", *ATTRIBUTES)
    curves = {k: [r.get(k) for r in (initial, *history)] for k in keys}
    return {"summary": summary, "curves": curves}


def run(config: Config, workdir: Path) -> None:
    """The training part (cached on its settings), then ``summary.json``, ``curves.json`` and the
    example images ``samples.npz``."""
    settings = {"seed": config.seed, "steps": num_steps(config, config.train.steps),
                "data": config.data, "model": config.model, "train": config.train}
    result = cached_part(workdir / "runs", "captioner", settings,
                         lambda: train(config, workdir / "runs" / "captioner"))
    summary = result["summary"]
    write_json(workdir / "summary.json", summary)
    write_json(workdir / "curves.json", result["curves"])
    images = np.asarray(test_set(config).images[:N_EXAMPLES] * 255).astype(np.uint8)
    buf = io.BytesIO()
    np.savez_compressed(buf, images=images)
    atomic_write_bytes(workdir / "samples.npz", buf.getvalue())
    say(f"caption, mean of {summary['seeds']} seeds: " + ", ".join(
        f"{k} {summary[k]['mean']:.3f}" for k in ("exact_match", "count_accuracy", *ATTRIBUTES)))
