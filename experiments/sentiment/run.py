"""The data, one resumable training run per model, and predictions on contrast reviews.

Each model is a part cached under its own settings (adding a model trains only that one); it
trains through :func:`rnnjax.train.fit` in ``runs/<model>/``.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

import rnnjax
import rnnjax.train as tr
from experiments.common import UserError, cached_part, num_steps, say, write_json
from experiments.common.seeds import across_seeds, per_seed_batches, seed_keys
from experiments.sentiment.config import MODELS, Config
from rnnjax.models import bag_of_words, sequence_model
from rnnjax.tasks import sentiment
from rnnjax.train import sweep

N_EXAMPLES = 6
"""Contrast reviews whose predictions ``examples.json`` shows."""


def build_model(name: str, vocab: int, config: Config) -> tuple[Callable, Callable]:
    """``(init(key) -> params, logits(params, tokens, lengths) -> (B, 2))`` for a model name."""
    tc = config.train
    if name.startswith("bow"):
        bow = bag_of_words(vocab, 2, embed_size=tc.embed_size,
                           hidden_size=None if name == "bow_linear" else tc.hidden_size)
        return bow.init, lambda p, tokens, lengths: bow.apply(p, tokens, lengths=lengths)
    h = tc.hidden_size
    cell, pool = {
        "elman": (lambda: rnnjax.cells.elman(h), "last"),
        "lstm": (lambda: rnnjax.cells.lstm(h), "last"),
        "gru": (lambda: rnnjax.cells.gru(h), "last"),
        "bilstm": (lambda: rnnjax.bidirectional(rnnjax.cells.lstm(h), rnnjax.cells.lstm(h)),
                   "mean"),
        "stacked_lstm": (lambda: rnnjax.stack([rnnjax.cells.lstm(h), rnnjax.cells.lstm(h)]),
                         "last"),
    }[name]
    model = sequence_model(cell(), vocab_size=vocab, embed_size=tc.embed_size, output_size=2,
                           pool=pool)
    return model.init, lambda p, tokens, lengths: model.apply(p, tokens, lengths=lengths)[1]


# ----------------------------------------------------------------------------- data


@dataclasses.dataclass(frozen=True)
class Data:
    """``batch(key)`` (a training batch), the test corpus, the vocabulary size and the kinds."""

    batch: Callable[[jax.Array], Any]
    test: sentiment.Corpus
    vocab_size: int
    kinds: tuple[str, ...]


def data_settings(config: Config) -> dict:
    """What the data depend on, including a corpus file's checksum (an edited file is new data)."""
    if config.corpus is None:
        return {"seed": config.seed, "n_test": config.data.n_test}
    try:
        digest = hashlib.sha256(Path(config.corpus).read_bytes()).hexdigest()
    except OSError as e:
        raise UserError(f"cannot read corpus file {config.corpus!r}: {e.strerror}") from None
    return {"seed": config.seed, "file": config.corpus, "sha256": digest,
            "max_len": config.data.max_len}


def load_data(config: Config) -> Data:
    test_key = jax.random.split(jax.random.key(config.seed))[1]
    batch_size = config.train.batch_size
    if config.corpus is None:
        test = sentiment.generate(config.data.n_test, key=test_key)
        return Data(lambda k: sentiment.generate(batch_size, key=k), test, len(sentiment.VOCAB),
                    sentiment.KIND_NAMES)
    path = config.corpus
    try:
        loaded = sentiment.load_tsv(path, max_len=config.data.max_len)
    except (OSError, ValueError) as e:  # UnicodeDecodeError is a ValueError
        raise UserError(f"corpus file {path!r}: {str(e).splitlines()[0]}") from None
    if len(loaded.label_names) != 2:
        raise UserError(f"corpus file {path!r}: expected 2 classes, found "
                        f"{len(loaded.label_names)}")
    c = jax.tree.map(np.asarray, loaded.corpus)
    n = len(c.labels)
    if n < 10:
        raise UserError(f"corpus file {path!r}: need at least 10 examples, found {n}")
    perm = np.asarray(jax.random.permutation(test_key, n))
    n_test = max(1, n // 10)
    test = sentiment.Corpus(*(jnp.asarray(a[perm[:n_test]]) for a in c))._replace(
        kinds=jnp.zeros(n_test, jnp.int32))
    train = sentiment.Corpus(*(jnp.asarray(a[perm[n_test:]]) for a in c))

    def batch(k):
        idx = jax.random.randint(k, (batch_size,), 0, len(train.labels))
        return jax.tree.map(lambda a: a[idx], train)

    return Data(batch, test, len(loaded.vocab), ("all",))


# ----------------------------------------------------------------------------- one model


def accuracy_by_kind(logits_fn, params, data: Data) -> dict[str, list[float]]:
    """Test accuracy per review kind of every seed's model (``params`` stacked over seeds)."""
    test = data.test
    predicted = np.asarray(jnp.argmax(logits_fn(params, test.tokens, test.lengths), -1))
    correct = predicted == np.asarray(test.labels)[None]  # (seeds, reviews)
    kinds = np.asarray(test.kinds)
    return {k: correct[:, kinds == i].mean(axis=1).round(6).tolist()
            for i, k in enumerate(data.kinds)}


def train_model(config: Config, workdir: Path, name: str, data: Data):
    """Train (or restore) ``train.seeds`` runs of one model as one vmapped program in
    ``workdir/runs/<name>``: ``(stacked state, records, vmapped logits_fn)``. Seed ``i`` sees the
    same training batches for every model."""
    tc = config.train
    init, logits_fn = build_model(name, data.vocab_size, config)
    init_keys = seed_keys(config.seed, tc.seeds, salt=1000 + MODELS.index(name))
    data_keys = seed_keys(config.seed, tc.seeds, salt=1)

    def loss_fn(p, batch, key):
        del key
        logits = logits_fn(p, batch.tokens, batch.lengths)
        return tr.cross_entropy(logits, batch.labels), {"accuracy": tr.accuracy(logits, batch.labels)}

    opt = optax.chain(optax.clip_by_global_norm(tc.clip_norm), optax.adam(tc.learning_rate))
    states = sweep.init(lambda k: tr.init_state(init(k), opt, key=k), init_keys)
    eval_logits = jax.jit(jax.vmap(logits_fn, in_axes=(0, None, None)))

    def eval_fn(s):
        return {f"test_{k}": a for k, a in accuracy_by_kind(eval_logits, s.params, data).items()}

    run_config = {"model": name, "data": data_settings(config),
                  **{k: v for k, v in dataclasses.asdict(tc).items()
                     if k not in ("models", "steps", "eval_every", "checkpoint_every")}}
    initial = {"step": 0, **eval_fn(states)}
    step = sweep.vmap_step(tr.make_step(loss_fn, opt, has_aux=True, jit=False), batch_axis=0)
    states, history = tr.fit(step, states, per_seed_batches(lambda k, s: data.batch(k), data_keys),
                             num_steps=num_steps(config, tc.steps),
                             workdir=workdir / "runs" / name,
                             checkpoint_every=tc.checkpoint_every, log_every=tc.eval_every,
                             eval_fn=eval_fn, config=run_config, description=f"sentiment {name}")
    return states, [initial, *history], eval_logits


def evaluate_model(config: Config, workdir: Path, name: str, data: Data) -> dict:
    """Train one model's seeds; final test accuracy per kind (mean over seeds, 95 % t-interval,
    every seed), its size and its curve (evaluations × seeds)."""
    states, history, eval_logits = train_model(config, workdir, name, data)
    accuracy = {k: across_seeds(v, bounds=(0, 1))
                for k, v in accuracy_by_kind(eval_logits, states.params, data).items()}
    say(f"{name}: " + "  ".join(f"{k} {v['mean']:.3f}" for k, v in accuracy.items()))
    return {"accuracy": accuracy,
            "n_params": int(sum(x[0].size for x in jax.tree.leaves(states.params))),
            "curve": {"step": [r["step"] for r in history],
                      **{k: [r.get(f"test_{k}") for r in history] for k in data.kinds}}}


def examples(config: Config, workdir: Path, name: str, data: Data) -> list[dict]:
    """Seed 0's model ``name``: its probability of "positive" on the first contrast reviews."""
    states, _, logits_fn = train_model(config, workdir, name, data)
    test = data.test
    idx = np.flatnonzero(np.asarray(test.kinds) == sentiment.CONTRAST)[:N_EXAMPLES]
    probs = np.asarray(jax.nn.softmax(logits_fn(states.params, test.tokens, test.lengths)[0], -1))
    tokens, lengths, labels = (np.asarray(a) for a in (test.tokens, test.lengths, test.labels))
    return [{"review": sentiment.decode(tokens[i], lengths[i]), "label": int(labels[i]),
             "p_positive": round(float(probs[i, 1]), 3)} for i in idx]


# ----------------------------------------------------------------------------- the study


def run(config: Config, workdir: Path) -> None:
    """Every model (each resumable on its own), then ``summary.json``, ``curves.json`` and,
    on generated reviews, ``examples.json`` (the last model's predictions)."""
    data = load_data(config)
    settings = {"data": data_settings(config), "steps": num_steps(config, config.train.steps),
                "train": {k: v for k, v in dataclasses.asdict(config.train).items() if k != "models"}}
    results = {name: cached_part(workdir / "runs", name, {**settings, "model": name},
                                 lambda n=name: evaluate_model(config, workdir, n, data))
               for name in config.train.models}
    if config.corpus is None:
        last = config.train.models[-1]
        shown = cached_part(workdir / "runs", "examples", {**settings, "model": last,
                                                           "n": N_EXAMPLES},
                            lambda: {"examples": examples(config, workdir, last, data)})
        write_json(workdir / "examples.json", shown["examples"])
    else:
        (workdir / "examples.json").unlink(missing_ok=True)
    kinds = np.asarray(data.test.kinds)
    write_json(workdir / "summary.json", {
        "kinds": list(data.kinds),
        "models": {n: {"accuracy": r["accuracy"], "n_params": r["n_params"]}
                   for n, r in results.items()},
        "n_test": {k: int((kinds == i).sum()) for i, k in enumerate(data.kinds)},
        "seeds": config.train.seeds})
    write_json(workdir / "curves.json", {n: r["curve"] for n, r in results.items()})
