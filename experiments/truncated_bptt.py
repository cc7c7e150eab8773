"""Truncated BPTT (k1, k2) against full BPTT and naive split-and-reset on a long dependency.

    python -m experiments.truncated_bptt --quick        # a few minutes on 2 CPU cores
    python -m experiments.truncated_bptt                # the full preset (see Config)
    python -m experiments.truncated_bptt --plot-only    # redraw the figures

Outputs in the workdir: ``summary.json`` (one row per method and seed: final query accuracy and
loss), ``curves.json`` (test loss and accuracy through training), figures ``accuracy_vs_k2.png``
and ``curves.png``, and ``runs/<method>/`` with each program's ``metrics.jsonl`` and Orbax
``checkpoints/`` (git-ignored): rerunning the same command resumes.
"""

from __future__ import annotations

import dataclasses
import math
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

import rnnjax
import rnnjax.train as tr
from experiments._common import (
    UserError,
    cli,
    read_json,
    require_choice,
    require_positive,
    save_figure,
    write_index,
    write_json,
)
from rnnjax.models.sequence import sequence_model
from rnnjax.train import sweep

CELLS = {"lstm": lambda h: rnnjax.cells.lstm(h), "gru": lambda h: rnnjax.cells.gru(h),
         "elman": lambda h: rnnjax.cells.elman(h)}


@dataclasses.dataclass(frozen=True)
class Config:
    """Truncated BPTT on a dependency longer than its truncation (issue 3, lecture notes 002).

    Reproduces the lecture's claims: full BPTT learns a dependency of ``lag`` steps; truncated
    BPTT with the hidden state carried across chunks (every ``k1`` steps an update that
    backpropagates ``k2`` steps) cannot learn it when ``k2`` is shorter than the lag; the naive
    "split and reset" (chunks of ``k`` steps, each starting from a zero state) loses it too.

    Command: ``python -m experiments.truncated_bptt`` (full) or ``--quick``.

    Task ("remember the bit"): sequences of ``seq_len`` tokens of random noise symbols; at a
    random time ``t0`` a cue bit (token 0 or 1) appears, and ``lag`` steps later a query token;
    the model must output the cue bit at the query (cross-entropy at that one position; chance
    is 50 % accuracy, loss ln 2 = 0.693). Model: one-hot input, ``cell`` with ``hidden_size``
    units, linear readout. Every method sees the same sequences (``steps`` batches of
    ``batch_size``); full BPTT makes one update per batch, TBPTT(k1, k2) and split-and-reset
    make ``seq_len / k1`` updates per batch. Adam, global-norm clipping. Runs for ``seeds``
    seeds as one vmapped program per method. Evaluation: query accuracy on ``n_test`` fresh
    sequences, run front to back with the state carried (split-and-reset models are evaluated
    with their resets, the procedure they were trained for).

    Expected: full BPTT ≈ 100 % accuracy; TBPTT ≈ 50 % for k2 < lag, rising to ≈ 100 % once
    k2 ≥ lag + k1; split-and-reset ≈ 50 % for chunks shorter than the lag.

    Runtime on the 2-core CPU: quick ≈ 3 min (7 min when the machine is shared); full (lag 20,
    5 seeds, 600 batches) ≈ 20 min. Checkpoints every ``checkpoint_every`` batches; resumable.
    """

    cell: str = "lstm"
    hidden_size: int = 32
    seq_len: int = 60
    lag: int = 20
    k1: int = 5
    k2s: tuple[int, ...] = (5, 10, 15, 20, 25, 30, 40)
    naive_chunks: tuple[int, ...] = (5, 10, 20, 30)
    n_noise: int = 4
    batch_size: int = 32
    steps: int = 600
    learning_rate: float = 5e-3
    clip_norm: float = 1.0
    seeds: int = 5
    n_test: int = 256
    eval_every: int = 50
    checkpoint_every: int = 200
    seed: int = 0

    def __post_init__(self):
        require_choice("cell", self.cell, tuple(CELLS))
        require_positive(self, "hidden_size", "seq_len", "lag", "k1", "n_noise", "batch_size", "steps",
                     "learning_rate", "clip_norm", "seeds", "n_test", "eval_every",
                     "checkpoint_every")
        if self.lag >= self.seq_len:
            raise ValueError(f"lag ({self.lag}) must be < seq_len ({self.seq_len})")
        for k in (self.k1, *self.naive_chunks):
            if k < 1 or self.seq_len % k:
                raise ValueError(f"k1 and naive_chunks must divide seq_len={self.seq_len}, got {k}")
        if any(k < 1 for k in self.k2s):
            raise ValueError(f"k2s must be positive, got {self.k2s}")


QUICK = dict(seq_len=40, lag=12, k1=4, k2s=(4, 8, 12, 16, 24), naive_chunks=(4, 20),
             hidden_size=24, steps=150, seeds=3, eval_every=10, checkpoint_every=50, n_test=256)


# ----------------------------------------------------------------------------- the task


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


# ----------------------------------------------------------------------------- methods


def methods(config: Config) -> list[dict]:
    """(name, kind, k1, k2): full BPTT, TBPTT for each k2, split-and-reset for each chunk."""
    T = config.seq_len
    out = [{"name": "full", "kind": "full", "k1": T, "k2": T}]
    out += [{"name": f"tbptt_k2_{k2}", "kind": "tbptt", "k1": config.k1, "k2": k2}
            for k2 in config.k2s]
    out += [{"name": f"reset_{k}", "kind": "reset", "k1": k, "k2": k} for k in config.naive_chunks]
    return out


def run_method(config: Config, workdir: Path, method: dict) -> dict:
    V = config.n_noise + 3
    model = sequence_model(CELLS[config.cell](config.hidden_size), vocab_size=V, output_size=2)
    opt = tr.optimizer("adam", config.learning_rate, clip_norm=config.clip_norm)
    reset = method["kind"] == "reset"

    def apply_fn(params, carry, xs):
        return model.apply(params, xs, carry)

    step = tr.make_tbptt_step(apply_fn, tr.cross_entropy_per_position, opt,
                              initial_carry=model.initial_carry, k1=method["k1"],
                              k2=method["k2"], reset=reset, jit=False)
    vstep = sweep.vmap_step(step, batch_axis=0)
    base = jax.random.key(config.seed)
    seed_keys = jax.random.split(base, config.seeds)

    def init(k):
        return tr.init_state(model.init(k), opt, key=k)

    states = sweep.init(init, seed_keys)
    task = dict(batch_size=config.batch_size, seq_len=config.seq_len, lag=config.lag,
                n_noise=config.n_noise)
    data_keys = jax.vmap(lambda k: jax.random.fold_in(k, 1))(seed_keys)

    @jax.jit
    def batch_at_jit(s):  # one stream of batches per seed, the same for every method
        return jax.vmap(lambda k: remember_batch(jax.random.fold_in(k, s), **task))(data_keys)

    test_x, test_y, test_m = remember_batch(jax.random.fold_in(base, 999),
                                            **{**task, "batch_size": config.n_test})

    def evaluate_one(params):
        if reset:  # run each chunk from the zero state, as in training
            k = method["k1"]
            xs = test_x.reshape(config.n_test * (config.seq_len // k), k)
            _, logits = model.apply(params, xs)
            logits = logits.reshape(config.n_test, config.seq_len, 2)
        else:
            _, logits = model.apply(params, test_x)
        loss = tr.cross_entropy(logits, test_y, test_m)
        acc = tr.accuracy(logits, test_y, test_m)
        return loss, acc

    eval_all = jax.jit(jax.vmap(evaluate_one))

    def eval_fn(state):
        loss, acc = eval_all(state.params)
        return {"test_loss": np.asarray(loss), "test_accuracy": np.asarray(acc)}

    ckpt_config = {k: v for k, v in dataclasses.asdict(config).items()
                   if k in ("cell", "hidden_size", "seq_len", "lag", "n_noise", "batch_size",
                            "learning_rate", "clip_norm", "seeds", "seed")}
    ckpt_config["method"] = method
    try:
        states, hist = tr.fit(vstep, states, lambda s: batch_at_jit(s), num_steps=config.steps,
                              workdir=workdir / "runs" / method["name"],
                              checkpoint_every=config.checkpoint_every,
                              log_every=config.eval_every, eval_fn=eval_fn, config=ckpt_config,
                              description=f"truncated_bptt {method['name']}")
    except (tr.CheckpointError, tr.NonFiniteError) as e:
        raise UserError(f"{method['name']}: {e}") from None
    loss, acc = eval_all(states.params)
    return {**method, "test_loss": np.asarray(loss).tolist(),
            "test_accuracy": np.asarray(acc).tolist(),
            "updates_per_batch": config.seq_len // method["k1"],
            "curve": [{"batch": r["step"], "test_loss": r["test_loss"],
                       "test_accuracy": r["test_accuracy"]} for r in hist if "test_loss" in r]}


def run(config: Config, workdir: Path) -> None:
    results = [run_method(config, workdir, m) for m in methods(config)]
    write_json(workdir / "curves.json", {r["name"]: r.pop("curve") for r in results})
    rows = []
    for r in results:
        for s in range(config.seeds):
            rows.append({k: r[k] for k in ("name", "kind", "k1", "k2", "updates_per_batch")}
                        | {"seed": s, "test_loss": r["test_loss"][s],
                           "test_accuracy": r["test_accuracy"][s]})
    write_json(workdir / "summary.json", {"lag": config.lag, "seq_len": config.seq_len,
                                          "k1": config.k1, "cell": config.cell,
                                          "chance_loss": math.log(2), "rows": rows})


# ----------------------------------------------------------------------------- figures


def _stats(rows, name):
    acc = np.array([r["test_accuracy"] for r in rows if r["name"] == name])
    return acc.mean(), acc.std(), acc


def plot(workdir: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    summary = read_json(workdir / "summary.json")
    curves = read_json(workdir / "curves.json")
    rows, lag, k1 = summary["rows"], summary["lag"], summary["k1"]
    if not rows:
        raise UserError(f"{workdir / 'summary.json'} holds no runs")
    tb = sorted({(r["k2"], r["name"]) for r in rows if r["kind"] == "tbptt"})
    rs = sorted({(r["k1"], r["name"]) for r in rows if r["kind"] == "reset"})

    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    full_mean, full_std, _ = _stats(rows, "full")
    ax.axhspan(full_mean - full_std, full_mean + full_std, color="tab:green", alpha=0.15)
    ax.axhline(full_mean, color="tab:green", lw=2, label=f"full BPTT ({full_mean:.0%})")
    for pts, label, style in ((tb, f"truncated BPTT (k1 = {k1}), x = k2", "o-"),
                              (rs, "split and reset, x = chunk length", "s--")):
        if not pts:
            continue
        xs = [p[0] for p in pts]
        st = [_stats(rows, p[1]) for p in pts]
        ax.errorbar(xs, [s[0] for s in st], yerr=[s[1] for s in st], fmt=style, capsize=3,
                    label=label)
        for x, s in zip(xs, st, strict=True):
            ax.plot([x] * len(s[2]), s[2], ".", color="grey", alpha=0.5, ms=4)
    ax.axvline(lag, color="k", ls=":", label=f"dependency length (lag = {lag})")
    ax.axhline(0.5, color="tab:red", ls="--", lw=1, label="chance (50 %)")
    ax.set_xlabel("steps backpropagated: k2 (TBPTT) or chunk length (split and reset)")
    ax.set_ylabel("query accuracy on test sequences")
    ax.set_ylim(0.3, 1.05)
    n_seeds = len([r for r in rows if r["name"] == "full"])
    ax.set_title(f"remember a bit for {lag} steps ({summary['cell'].upper()}, {n_seeds} seeds; "
                 "dots: seeds)", fontsize=10)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    save_figure(fig, workdir / "accuracy_vs_k2.png")

    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    short = [n for k2, n in tb if k2 < lag][-1:]
    long = [n for k2, n in tb if k2 >= lag + k1][:1]
    chosen = ["full", *short, *long, *[n for _, n in rs][-1:]]
    for name in chosen:
        c = curves[name]
        x = [p["batch"] for p in c]
        y = np.array([p["test_loss"] for p in c])
        line, = ax.plot(x, y.mean(axis=1), lw=2, label=_label(name, rows))
        ax.fill_between(x, y.min(axis=1), y.max(axis=1), color=line.get_color(), alpha=0.15)
    ax.axhline(math.log(2), color="tab:red", ls="--", lw=1, label="chance (ln 2)")
    ax.set_xlabel("training batches seen (same sequences for every method)")
    ax.set_ylabel("test cross-entropy at the query (nats)")
    ax.set_title("learning curves (mean over seeds, band: min–max)", fontsize=10)
    ax.legend(fontsize=8, loc="center right")
    fig.tight_layout()
    save_figure(fig, workdir / "curves.png")

    def acc(name):
        return _stats(rows, name)[0]

    tb_short = [(k2, acc(n)) for k2, n in tb if k2 < lag]
    tb_long = [(k2, acc(n)) for k2, n in tb if k2 >= lag + k1]
    parts = [f"full BPTT {full_mean:.0%}"]
    if tb_short:
        parts.append(f"TBPTT k2 = {tb_short[-1][0]} < lag {tb_short[-1][1]:.0%}")
    if tb_long:
        parts.append(f"TBPTT k2 = {tb_long[0][0]} {tb_long[0][1]:.0%}")
    if rs:
        parts.append(f"split-and-reset k = {rs[-1][0]} {acc(rs[-1][1]):.0%}")
    write_index(
        workdir, title="Truncated BPTT versus full BPTT",
        headline=f"query accuracy, lag {lag} (chance 50 %): " + "; ".join(parts),
        figures=[("accuracy_vs_k2.png", "final accuracy against the number of steps "
                                        "backpropagated; the dotted line is the dependency length"),
                 ("curves.png", "test loss while training for full BPTT, TBPTT shorter and "
                                "longer than the lag, and split-and-reset")],
        tables=["summary.json", "curves.json"],
    )


def _label(name: str, rows) -> str:
    r = next(r for r in rows if r["name"] == name)
    if r["kind"] == "full":
        return "full BPTT"
    if r["kind"] == "tbptt":
        return f"TBPTT(k1 = {r['k1']}, k2 = {r['k2']})"
    return f"split and reset, chunks of {r['k1']}"


def main(argv=None) -> int:
    return cli(__doc__, Config, QUICK, run, plot, argv, default_workdir="results/truncated_bptt")


if __name__ == "__main__":
    sys.exit(main())
