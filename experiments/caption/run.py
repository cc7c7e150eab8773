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
from rnnjax.models import captioner, greedy, shift_right
from rnnjax.tasks import captions as cap

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
    """Train the captioner (resumable in ``run_dir``); final metrics, curves and examples."""
    mc, tc, dc = config.model, config.train, config.data
    steps = num_steps(config, tc.steps)
    key = jax.random.key(config.seed)
    data_key, _, init_key = jax.random.split(key, 3)
    test = test_set(config)
    model = captioner(rnnjax.cells.lstm(mc.hidden_size), vocab_size=len(cap.VOCAB),
                      image_shape=(cap.HEIGHT, cap.WIDTH, 3), features=mc.features,
                      feature_size=mc.feature_size, embed_size=mc.embed_size, bos=cap.BOS,
                      eos=cap.EOS, pad=cap.PAD)
    gen = jax.jit(lambda k: cap.generate(tc.batch_size, key=k, p_two=dc.p_two, noise=dc.noise))

    def loss_fn(params, batch, key):
        del key
        _, logits = model.apply(params, batch.images, tgt_in=shift_right(batch.tokens, cap.BOS))
        return tr.cross_entropy(logits, batch.tokens, tr.length_mask(batch.lengths, cap.CAPTION_LEN))

    eval_jit = jax.jit(lambda p: evaluate(model, p, test))

    def eval_fn(state):
        return {k: float(v) for k, v in eval_jit(state.params).items() if k != "tokens"}

    opt = optax.chain(optax.clip_by_global_norm(1.0), optax.adam(tc.learning_rate))
    state = tr.init_state(model.init(init_key), opt, key=key)
    initial = {"step": 0, **eval_fn(state)}
    run_config = {"seed": config.seed, "data": dataclasses.asdict(dc),
                  "model": dataclasses.asdict(mc),
                  "train": {"batch_size": tc.batch_size, "learning_rate": tc.learning_rate}}
    state, history = tr.fit(tr.make_step(loss_fn, opt), state,
                            lambda s: gen(jax.random.fold_in(data_key, s)), num_steps=steps,
                            workdir=run_dir, checkpoint_every=max(steps // 4, 100),
                            log_every=tc.eval_every, eval_fn=eval_fn, config=run_config,
                            description="caption")
    m = jax.device_get(eval_jit(state.params))
    summary = {k: float(v) for k, v in m.items() if k != "tokens"}
    summary["n_test"] = dc.n_test
    summary["n_params"] = int(sum(x.size for x in jax.tree.leaves(state.params)))
    summary["examples"] = [{"truth": cap.decode(test.tokens[i]),
                            "generated": cap.decode(m["tokens"][i])} for i in range(N_EXAMPLES)]
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
    say("caption: exact match {:.3f}, count {:.3f}, ".format(
        summary["exact_match"], summary["count_accuracy"])
        + ", ".join(f"{a} {summary[a]:.3f}" for a in ATTRIBUTES))
