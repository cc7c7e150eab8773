"""One-to-many captioning: a small CNN encodes a generated image of shapes into an LSTM decoder's
initial state; the decoder writes the caption from the start token until the end token.

    python -m experiments.caption --quick          # ~3 min on 2 CPU cores
    python -m experiments.caption                  # the full preset
    python -m experiments.caption --plot-only      # redraw figures from summary.json

Outputs in the workdir: ``summary.json`` (exact-match caption accuracy, object count and
attribute accuracies), ``curves.json`` (the same through training), ``samples.npz`` (a few test
images with their true and generated captions, for the figure), figures ``captions.png`` and
``curves.png``, and ``run/`` with ``metrics.jsonl`` and Orbax ``checkpoints/`` (git-ignored):
rerunning the same command resumes.
"""

from __future__ import annotations

import dataclasses
import io
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

import rnnjax
import rnnjax.train as tr
from experiments._common import (
    UserError,
    atomic_write_bytes,
    cli,
    positive,
    read_json,
    require_positive,
    save_figure,
    write_index,
    write_json,
)
from rnnjax.models.captioner import captioner
from rnnjax.models.decoding import greedy
from rnnjax.models.seq2seq import shift_right
from rnnjax.tasks import captions as cap

ATTRIBUTES = ("size", "colour", "shape")


@dataclasses.dataclass(frozen=True)
class Config:
    """Image captioning, CNN encoder -> LSTM decoder (issue 3, lecture task 5).

    Reproduces: the lecture's captioning slide (one-to-many; Vinyals et al. 2015): a CNN reads
    the image once, its features become the LSTM's initial state (h_0, c_0), and the LSTM emits
    words from ``<s>`` until ``</s>``. Data (``rnnjax.tasks.captions``): 16 × 32 RGB images with
    one or two coloured shapes (4 shapes × 4 colours × 2 sizes, random positions, pixel noise
    ``noise``) and captions naming them left to right: "a small blue cross and a large yellow
    square </s>". Fresh images every step; tested on ``n_test`` held-out images by greedy
    decoding.

    Command: ``python -m experiments.caption`` (full) or ``--quick``.

    Expected result: the object count (caption length, i.e. when to stop) is learnt first, then
    size and colour, shape last (small crosses and circles are a few pixels apart); the quick
    preset reaches ≈ 90 % exact-match captions with count, size and colour ≈ 99–100 % and shape
    ≈ 93 %; the full preset trains longer and goes higher.

    Setup: CNN with 3×3 convolutions of ``features`` channels, ReLU and 2×2 average pooling,
    dense layer to ``feature_size``, tanh-affine maps to h_0 and c_0 of an LSTM with
    ``hidden_size`` units; word embeddings of ``embed_size``; teacher forcing with masked
    cross-entropy; Adam (``lr``) with global-norm clipping 1.0, batches of ``batch_size``.

    Runtime: quick ≈ 3 min, full ≈ 12 min on 2 CPU cores.
    """

    hidden_size: int = 128
    embed_size: int = 32
    features: tuple[int, ...] = (16, 32)
    feature_size: int = 64
    steps: int = 4000
    batch_size: int = 64
    lr: float = 2e-3
    n_test: int = 1000
    eval_every: int = 100
    noise: float = 0.05
    p_two: float = 0.5
    seed: int = 0

    def __post_init__(self):
        require_positive(self, "hidden_size", "embed_size", "feature_size", "steps", "batch_size",
                     "n_test", "eval_every")
        if not self.features:
            raise ValueError("features must list at least one convolution stage")
        for f in self.features:
            positive("features", f)
        positive("lr", self.lr)
        positive("noise", self.noise, allow_zero=True)
        if not 0.0 <= self.p_two <= 1.0:
            raise ValueError(f"p_two must be a probability, got {self.p_two}")


QUICK = {"hidden_size": 64, "steps": 1500, "n_test": 500, "eval_every": 100}


def evaluate(model, params, test: cap.Captions) -> dict:
    """Greedy captions scored against the truth: exact match, object count, attributes."""
    tokens, lengths = greedy(model, params, model.initial_carry(params, test.images),
                             cap.CAPTION_LEN)
    mask = tr.length_mask(test.lengths, cap.CAPTION_LEN)
    exact = jnp.all((tokens == test.tokens) | (mask == 0), -1) & (lengths == test.lengths)
    count_ok = lengths == test.lengths
    # attribute words sit at positions 1, 2, 3 (first object) and 6, 7, 8 (second object)
    attr = {}
    for j, name in enumerate(ATTRIBUTES):
        pos = jnp.array([1 + j, 6 + j])
        real = mask[:, pos]
        ok = (tokens[:, pos] == test.tokens[:, pos]) & count_ok[:, None]
        attr[name] = jnp.sum(ok * real) / jnp.sum(real)
    return {"exact_match": jnp.mean(exact), "count_accuracy": jnp.mean(count_ok), **attr,
            "tokens": tokens}


def run(cfg: Config, workdir: Path) -> None:
    key = jax.random.key(cfg.seed)
    data_key, test_key, init_key = jax.random.split(key, 3)
    test = cap.generate(cfg.n_test, key=test_key, p_two=cfg.p_two, noise=cfg.noise)
    model = captioner(rnnjax.cells.lstm(cfg.hidden_size), vocab_size=len(cap.VOCAB),
                      image_shape=(cap.HEIGHT, cap.WIDTH, 3), features=cfg.features,
                      feature_size=cfg.feature_size, embed_size=cfg.embed_size, bos=cap.BOS,
                      eos=cap.EOS, pad=cap.PAD)
    gen = jax.jit(lambda k: cap.generate(cfg.batch_size, key=k, p_two=cfg.p_two, noise=cfg.noise))

    def loss_fn(params, batch, key):
        del key
        _, logits = model.apply(params, batch.images, tgt_in=shift_right(batch.tokens, cap.BOS))
        mask = tr.length_mask(batch.lengths, cap.CAPTION_LEN)
        return tr.cross_entropy(logits, batch.tokens, mask)

    eval_jit = jax.jit(lambda p: evaluate(model, p, test))

    def eval_fn(state):
        m = eval_jit(state.params)
        return {k: float(v) for k, v in m.items() if k != "tokens"}

    opt = tr.optimizer("adam", cfg.lr, clip_norm=1.0)
    state = tr.init_state(model.init(init_key), opt, key=key)
    initial = {"step": 0, **eval_fn(state)}
    run_cfg = {k: v for k, v in dataclasses.asdict(cfg).items() if k not in ("steps", "eval_every")}
    try:
        state, history = tr.fit(tr.make_step(loss_fn, opt), state,
                                lambda s: gen(jax.random.fold_in(data_key, s)),
                                num_steps=cfg.steps, workdir=workdir / "run",
                                checkpoint_every=max(cfg.steps // 4, 100),
                                log_every=cfg.eval_every, eval_fn=eval_fn, config=run_cfg,
                                description="captioner")
    except tr.CheckpointError as e:
        raise UserError(str(e)) from None
    history = [initial, *history]
    m = jax.device_get(eval_jit(state.params))
    summary = {k: float(v) for k, v in m.items() if k != "tokens"}
    summary["n_test"] = cfg.n_test
    summary["n_params"] = int(sum(x.size for x in jax.tree.leaves(state.params)))
    keys = ("step", "loss", "exact_match", "count_accuracy", *ATTRIBUTES)
    write_json(workdir / "curves.json", {k: [r.get(k) for r in history] for k in keys})
    n = 12
    summary["examples"] = [{"truth": cap.decode(test.tokens[i]), "generated": cap.decode(m["tokens"][i])}
                           for i in range(n)]
    write_json(workdir / "summary.json", summary)
    buf = io.BytesIO()
    np.savez_compressed(buf, images=np.asarray(test.images[:n] * 255).astype(np.uint8))
    atomic_write_bytes(workdir / "samples.npz", buf.getvalue())
    print(f"captioner: exact match {summary['exact_match']:.3f}, count "
          f"{summary['count_accuracy']:.3f}, " + ", ".join(f"{a} {summary[a]:.3f}"
                                                           for a in ATTRIBUTES))


def plot(workdir: Path) -> None:
    import matplotlib.pyplot as plt

    summary, curves = read_json(workdir / "summary.json"), read_json(workdir / "curves.json")
    if not (workdir / "samples.npz").exists():
        raise UserError(f"{workdir / 'samples.npz'} does not exist: run the experiment first")
    images = np.load(workdir / "samples.npz")["images"]
    examples = summary["examples"]
    cols = 3
    rows = -(-len(examples) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.3 * cols, 2.25 * rows), squeeze=False)
    for ax, img, ex in zip(axes.flat, images, examples, strict=False):
        ax.imshow(img, interpolation="nearest")
        ok = ex["generated"] == ex["truth"]
        ax.set_title(("✓ " if ok else "✗ ") + ex["generated"].replace(" and ", " and\n"),
                     fontsize=7, color="darkgreen" if ok else "firebrick")
        ax.set_xticks([])
        ax.set_yticks([])
    for ax in axes.flat[len(examples):]:
        ax.axis("off")
    fig.suptitle(f"Greedy captions of held-out images (exact match "
                 f"{100 * summary['exact_match']:.1f} % on {summary['n_test']} images)",
                 fontsize=9)
    fig.tight_layout()
    save_figure(fig, workdir / "captions.png")

    fig, axes = plt.subplots(1, 2, figsize=(8.5, 3.2))
    steps = curves["step"]
    axes[0].plot(steps[1:], curves["loss"][1:], color="k")
    axes[0].set_yscale("log")
    axes[0].set_ylabel("training loss (nats per word)")
    for k, c in (("exact_match", "k"), ("count_accuracy", "tab:orange"), ("size", "tab:green"),
                 ("colour", "tab:red"), ("shape", "tab:blue")):
        axes[1].plot(steps, [100 * v for v in curves[k]], color=c,
                     label={"exact_match": "exact caption", "count_accuracy": "object count"}
                     .get(k, k))
    axes[1].set_ylabel("test accuracy, greedy decoding (%)")
    axes[1].legend(fontsize=7)
    for ax in axes:
        ax.set_xlabel("training step")
    fig.tight_layout()
    save_figure(fig, workdir / "curves.png")

    write_index(workdir, title="Captioning: CNN encoder into an LSTM decoder (one-to-many)",
                headline=f"exact-match captions on {summary['n_test']} held-out images: "
                         f"{100 * summary['exact_match']:.1f} % (object count "
                         f"{100 * summary['count_accuracy']:.1f} %, colour "
                         f"{100 * summary['colour']:.1f} %, shape {100 * summary['shape']:.1f} %, "
                         f"size {100 * summary['size']:.1f} %)",
                figures=[("captions.png", "held-out images with their greedy captions"),
                         ("curves.png", "training loss and test accuracies through training")],
                tables=["summary.json", "curves.json"])


def main(argv=None) -> int:
    return cli(__doc__, Config, QUICK, run, plot, argv, default_workdir="results/caption")


if __name__ == "__main__":
    sys.exit(main())
