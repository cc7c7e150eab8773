"""Time-series forecasting: recurrent networks against the fixed-window feed-forward baseline,
one step and many steps ahead, on a seasonal temperature-like series and the lecture's
population-growth model.

    python -m experiments.forecast --quick          # ~4 min on 2 CPU cores
    python -m experiments.forecast                  # the full preset
    python -m experiments.forecast --plot-only      # redraw figures from summary.json

Outputs in the workdir: ``summary.json`` (one-step RMSE per model, multi-step RMSE per horizon,
the theory curves), ``examples.json`` (one test series with every model's forecast), figures
``one_step.png``, ``multi_step.png`` and ``examples.png``, and ``runs/<dataset>/<model>/`` with
``metrics.jsonl`` and Orbax ``checkpoints/`` (git-ignored): rerunning the same command resumes.
"""

from __future__ import annotations

import dataclasses
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
    positive,
    read_json,
    require_positive,
    require_subset,
    save_figure,
    write_index,
    write_json,
)
from rnnjax.models.baselines import window_forecaster
from rnnjax.models.decoding import free_running
from rnnjax.models.seq2seq import seq2seq, shift_right
from rnnjax.models.sequence import sequence_model
from rnnjax.tasks import series

DATASETS = ("seasonal", "population")
UNITS = {"seasonal": "°C", "population": "units of K"}
TITLES = {"seasonal": "seasonal temperature-like series",
          "population": "population growth N' = N + rN(1 − N/K)"}


@dataclasses.dataclass(frozen=True)
class Config:
    """Forecasting with RNNs vs the fixed-window feed-forward baseline (issue 3, lecture task 3).

    Reproduces: the lecture's "modelling sequences with feed-forward networks" slide (predict x_n
    from the window x_{n-k}..x_{n-1}, the window chosen in advance) against a recurrent network
    that carries its own state, on (a) a seasonal temperature-like series (annual sine of
    ``period`` days plus AR(1) weather noise of std ``noise`` and lag-one correlation ``ar``) and
    (b) the lecture's population-growth model ``N' = N + rN(1 − N/K)`` with a different growth
    rate ``r`` in ``[rate_lo, rate_hi]`` per series (around and beyond the onset of chaos at
    r ≈ 2.57). Models: windowed MLPs (``windows``), an LSTM predicting the next value at every
    step (many-to-many), and for multi-step forecasts also an LSTM encoder–decoder (seq2seq,
    trained with teacher forcing on the whole horizon). Multi-step forecasts of the one-step
    models feed their own predictions back (free running).

    Theory lines. Seasonal: a forecaster that knows the sine exactly still faces the weather
    noise, whose h-step-ahead error is ``noise·sqrt(1 − ar^(2h))`` (one step:
    ``noise·sqrt(1 − ar²)``): the floor no model can beat. Population: a small error ε grows on
    average like ``ε·exp(λ h)`` with λ the Lyapunov exponent of the series' map, the sensitivity to
    initial conditions the lecture warns about; over test series with exponents λ_i the RMSE
    grows like ``ε·sqrt(mean_i exp(2 λ_i h))`` (dominated by the most chaotic series) until it
    saturates at the size of the attractor. The figure draws this from the LSTM's first-step
    error ε₁: the propagation of that one error alone (the model adds its own error every step,
    so its curve starts steeper and then runs parallel).

    Command: ``python -m experiments.forecast`` (full) or ``--quick``.

    Expected result (quick preset): seasonal — one step ahead, the window-1 network is far above
    the noise floor (≈ 1.2 vs 0.9 °C), longer windows come closer and the LSTM reaches the floor;
    many steps ahead, the LSTM and the encoder–decoder stay on the noise-floor curve for the whole
    period while the free-running windowed networks drift off by several °C. Population — all
    windowed networks stay near 0.04 K one step ahead (a window of 1 cannot know r; longer ones
    could infer it but do not learn to in this budget) while the LSTM is ≈ 6× better; every
    free-running error then grows roughly exponentially, as the Lyapunov exponents say, until it
    saturates at the size of the attractor (≈ 0.3 K) after 10–15 steps.

    Runtime: quick ≈ 4 min, full ≈ 15 min on 2 CPU cores.
    """

    datasets: tuple[str, ...] = DATASETS
    windows: tuple[int, ...] = (1, 3, 10)
    hidden_size: int = 64
    steps: int = 3000
    batch_size: int = 64
    lr: float = 3e-3
    n_train: int = 512
    n_test: int = 128
    eval_every: int = 100
    period: float = 50.0
    noise: float = 1.5
    ar: float = 0.8
    seasonal_len: int = 200
    seasonal_context: int = 100
    seasonal_horizon: int = 50
    rate_lo: float = 2.5
    rate_hi: float = 2.9
    population_len: int = 80
    population_context: int = 40
    population_horizon: int = 15
    seed: int = 0

    def __post_init__(self):
        require_subset("datasets", self.datasets, DATASETS)
        if not self.windows:
            raise ValueError("windows must list at least one window size")
        for w in self.windows:
            positive("windows", w)
        require_positive(self, "hidden_size", "steps", "batch_size", "n_train", "n_test", "eval_every",
                     "seasonal_len", "seasonal_context", "seasonal_horizon", "population_len",
                     "population_context", "population_horizon")
        require_positive(self, "lr", "period", "rate_lo", "rate_hi")
        positive("noise", self.noise, allow_zero=True)
        if not 0 <= self.ar < 1:
            raise ValueError(f"ar must be in [0, 1), got {self.ar}")
        if not self.rate_lo <= self.rate_hi <= 3.0:
            raise ValueError(f"need rate_lo <= rate_hi <= 3, got {self.rate_lo}, {self.rate_hi}")
        for d in ("seasonal", "population"):
            c, h, n = (getattr(self, f"{d}_{k}") for k in ("context", "horizon", "len"))
            if c + h > n or max(self.windows) > c:
                raise ValueError(f"need max(windows) <= {d}_context and {d}_context + "
                                 f"{d}_horizon <= {d}_len, got {max(self.windows)}, {c}, {h}, {n}")


QUICK = {"hidden_size": 32, "steps": 1000, "n_train": 256, "n_test": 64, "eval_every": 100}


# ----------------------------------------------------------------------------- data


def make_data(cfg: Config, dataset: str, key: jax.Array) -> tuple[np.ndarray, np.ndarray, dict]:
    """``(train (n_train, T), test (n_test, T), info)``, raw units."""
    k_train, k_test = jax.random.split(key)
    if dataset == "seasonal":
        def gen(k, n):
            keys = jax.random.split(k, n)
            return jax.vmap(lambda kk: series.seasonal(cfg.seasonal_len, key=kk, period=cfg.period,
                                                       noise=cfg.noise, ar=cfg.ar))(keys)
        train, test = gen(k_train, cfg.n_train), gen(k_test, cfg.n_test)
        info = {}
    else:
        def gen(k, n):
            return series.population(n, cfg.population_len, key=k,
                                     rate_range=(cfg.rate_lo, cfg.rate_hi))
        train, test_pop = gen(k_train, cfg.n_train).series, gen(k_test, cfg.n_test)
        test = test_pop.series
        lyap = jax.vmap(lambda r: series.lyapunov_exponent(r))(test_pop.rate)
        info = {"lyapunov": np.asarray(lyap).tolist(), "rates": np.asarray(test_pop.rate).tolist()}
    return np.asarray(train, np.float32), np.asarray(test, np.float32), info


# ----------------------------------------------------------------------------- training


def _fit(workdir: Path, name: str, loss_fn, params, cfg: Config, batch_at, eval_fn, run_cfg):
    opt = tr.optimizer("adam", cfg.lr, clip_norm=1.0)
    state = tr.init_state(params, opt, key=jax.random.key(cfg.seed))
    try:
        state, history = tr.fit(tr.make_step(loss_fn, opt), state, batch_at,
                                num_steps=cfg.steps, workdir=workdir,
                                checkpoint_every=max(cfg.steps // 4, 100),
                                log_every=cfg.eval_every, eval_fn=eval_fn,
                                config={"model": name, **run_cfg}, description=name)
    except tr.CheckpointError as e:
        raise UserError(str(e)) from None
    return state.params, history


def run_dataset(cfg: Config, dataset: str, workdir: Path) -> dict:
    key = jax.random.fold_in(jax.random.key(cfg.seed), DATASETS.index(dataset))
    k_data, k_batch, k_init = jax.random.split(key, 3)
    train_raw, test_raw, info = make_data(cfg, dataset, k_data)
    mu, sd = float(train_raw.mean()), float(train_raw.std())
    train, test = jnp.asarray((train_raw - mu) / sd), jnp.asarray((test_raw - mu) / sd)
    T = train.shape[1]
    C, H = getattr(cfg, f"{dataset}_context"), getattr(cfg, f"{dataset}_horizon")
    u0 = T - C - H  # test forecasts start here: context test[:, u0:u0+C], targets after it
    w_max = max(cfg.windows)
    rmse = lambda err: float(jnp.sqrt(jnp.mean(err**2))) * sd  # in raw units
    run_cfg = {k: v for k, v in dataclasses.asdict(cfg).items()
               if k not in ("steps", "eval_every", "datasets", "windows")}
    run_cfg["dataset"] = dataset
    out = {"one_step": {}, "multi_step": {}, "unit": UNITS[dataset], "horizon": H, "context": C}
    context, future = test[:, u0:u0 + C], test[:, u0 + C:u0 + C + H]
    example = {"context": (np.asarray(context[0]) * sd + mu).tolist(),
               "truth": (np.asarray(future[0]) * sd + mu).tolist(), "forecasts": {}}

    def record(name, one_step_err, multi):
        out["one_step"][name] = rmse(one_step_err)
        out["multi_step"][name] = [rmse(multi[:, h] - future[:, h]) for h in range(H)]
        example["forecasts"][name] = (np.asarray(multi[0]) * sd + mu).tolist()
        print(f"{dataset:>10} {name:>8}: one-step RMSE {out['one_step'][name]:.4f} "
              f"{UNITS[dataset]}, at horizon {H}: {out['multi_step'][name][-1]:.4f}")

    # --- fixed-window feed-forward baselines
    for w in cfg.windows:
        model = window_forecaster(w, hidden_size=cfg.hidden_size)
        xs_test, ys_test = series.windows(test[:, w_max - w:], w)  # same targets for every w

        def batch_at(s, w=w):
            k1, k2 = jax.random.split(jax.random.fold_in(k_batch, s))
            i = jax.random.randint(k1, (cfg.batch_size,), 0, train.shape[0])
            t = jax.random.randint(k2, (cfg.batch_size,), w, T)
            return jax.vmap(lambda a, b: jax.lax.dynamic_slice(train[a], (b - w,), (w + 1,)))(i, t)

        def loss_fn(p, batch, key, model=model, w=w):
            del key
            return tr.mse(model.apply(p, batch[:, :w])[:, 0], batch[:, w])

        ev = jax.jit(lambda p, model=model, xs=xs_test, ys=ys_test: jnp.mean(
            (model.apply(p, xs) - ys) ** 2))
        params, _ = _fit(workdir / f"window{w}", f"window{w}", loss_fn,
                         model.init(jax.random.fold_in(k_init, w)), cfg, batch_at,
                         lambda st, ev=ev: {"test_mse": float(ev(st.params))}, run_cfg)
        multi = free_running(model, params, model.initial_carry(params, context),
                             context[:, -1:], H)[1][..., 0]
        record(f"window{w}", model.apply(params, xs_test) - ys_test, multi)

    # --- LSTM, many-to-many next-value prediction
    lstm = sequence_model(rnnjax.cells.lstm(cfg.hidden_size), input_size=1, output_size=1)

    def rnn_batch_at(s):
        i = jax.random.randint(jax.random.fold_in(k_batch, s), (cfg.batch_size,), 0,
                               train.shape[0])
        return train[i]

    def rnn_loss(p, batch, key):
        del key
        _, pred = lstm.apply(p, batch[:, :-1, None])
        return tr.mse(pred[..., 0], batch[:, 1:])

    def rnn_one_step(p):
        _, pred = lstm.apply(p, test[:, :-1, None])
        return pred[:, w_max - 1:, 0] - test[:, w_max:]  # targets x_t for t >= max(windows)

    ev_rnn = jax.jit(lambda p: jnp.mean(rnn_one_step(p) ** 2))
    params, _ = _fit(workdir / "lstm", "lstm", rnn_loss, lstm.init(jax.random.fold_in(k_init, 100)),
                     cfg, rnn_batch_at, lambda st: {"test_mse": float(ev_rnn(st.params))}, run_cfg)

    @jax.jit
    def rnn_free_running(p, ctx):
        carry, pred = lstm.apply(p, ctx[..., None])

        def body(state, _):
            c, y = state
            c, y_next = lstm.step(p, c, y)
            return (c, y_next), y[..., 0]

        _, ys = jax.lax.scan(body, (carry, pred[:, -1]), None, length=H)
        return jnp.moveaxis(ys, 0, 1)

    record("lstm", rnn_one_step(params), rnn_free_running(params, context))

    # --- LSTM encoder-decoder, trained on the whole horizon (teacher forcing)
    s2s = seq2seq(rnnjax.cells.lstm(cfg.hidden_size), rnnjax.cells.lstm(cfg.hidden_size),
                  src_features=1, tgt_features=1)

    def s2s_batch_at(s):
        k1, k2 = jax.random.split(jax.random.fold_in(k_batch, s))
        i = jax.random.randint(k1, (cfg.batch_size,), 0, train.shape[0])
        u = jax.random.randint(k2, (cfg.batch_size,), 0, T - C - H + 1)
        return jax.vmap(lambda a, b: jax.lax.dynamic_slice(train[a], (b,), (C + H,)))(i, u)

    def s2s_loss(p, batch, key):
        del key
        src, tgt = batch[:, :C, None], batch[:, C:, None]
        _, pred = s2s.apply(p, src, tgt_in=shift_right(tgt, src[:, -1]))
        return tr.mse(pred, tgt)

    s2s_forecast = jax.jit(lambda p, ctx: free_running(
        s2s, p, s2s.initial_carry(p, ctx[..., None]), ctx[:, -1:], H)[1][..., 0])
    ev_s2s = jax.jit(lambda p: jnp.mean((s2s_forecast(p, context) - future) ** 2))
    params, _ = _fit(workdir / "seq2seq", "seq2seq", s2s_loss,
                     s2s.init(jax.random.fold_in(k_init, 200)), cfg, s2s_batch_at,
                     lambda st: {"test_mse_horizon": float(ev_s2s(st.params))}, run_cfg)
    multi = s2s_forecast(params, context)
    out["multi_step"]["seq2seq"] = [rmse(multi[:, h] - future[:, h]) for h in range(H)]
    example["forecasts"]["seq2seq"] = (np.asarray(multi[0]) * sd + mu).tolist()
    print(f"{dataset:>10}  seq2seq: at horizon {H}: {out['multi_step']['seq2seq'][-1]:.4f}")

    # --- theory
    hs = np.arange(1, H + 1)
    if dataset == "seasonal":
        out["theory"] = {"label": "noise floor σ·sqrt(1 − a^(2h))",
                         "one_step": cfg.noise * float(np.sqrt(1 - cfg.ar**2)),
                         "multi_step": (cfg.noise * np.sqrt(1 - cfg.ar ** (2 * hs))).tolist()}
    else:
        out["theory"] = {"label": "ε·RMS_i exp(λ_i (h − 1)), λ_i: each test series' Lyapunov "
                                  "exponent", "lyapunov": info["lyapunov"],
                         "rates": info["rates"], "multi_step": None}
    out["example"] = example
    out["data_std"] = sd
    return out


def run(cfg: Config, workdir: Path) -> None:
    summary = {}
    for d in cfg.datasets:
        summary[d] = run_dataset(cfg, d, workdir / "runs" / d)
    write_json(workdir / "summary.json", summary)


# ----------------------------------------------------------------------------- plot

STYLE = {"lstm": ("LSTM", "tab:blue", "-"), "seq2seq": ("LSTM encoder–decoder", "tab:purple", "-")}


def _style(name: str):
    if name.startswith("window"):
        w = int(name[6:])
        shade = {1: "0.75", 3: "0.5"}.get(w, "0.2")
        return f"feed-forward, window {w}", shade, "--"
    return STYLE[name]


def plot(workdir: Path) -> None:
    import matplotlib.pyplot as plt

    summary = read_json(workdir / "summary.json")
    datasets = list(summary)

    fig, axes = plt.subplots(1, len(datasets), figsize=(4.2 * len(datasets), 3.3), squeeze=False)
    for ax, d in zip(axes[0], datasets, strict=True):
        s = summary[d]
        names = list(s["one_step"])
        vals = [s["one_step"][n] for n in names]
        ax.bar(range(len(names)), vals, color=[_style(n)[1] for n in names])
        ax.set_xticks(range(len(names)), [_style(n)[0].replace("feed-forward, ", "FF ")
                                          for n in names], rotation=20, fontsize=8)
        if d == "seasonal":
            ax.axhline(s["theory"]["one_step"], color="k", ls=":", label="noise floor σ·sqrt(1 − a²)")
            ax.legend(fontsize=7)
        for i, v in enumerate(vals):
            ax.text(i, v, f"{v:.3g}", ha="center", va="bottom", fontsize=7)
        ax.set_ylabel(f"one-step test RMSE ({s['unit']})")
        ax.set_title(TITLES[d], fontsize=9)
    fig.tight_layout()
    save_figure(fig, workdir / "one_step.png")

    fig, axes = plt.subplots(1, len(datasets), figsize=(4.6 * len(datasets), 3.5), squeeze=False)
    for ax, d in zip(axes[0], datasets, strict=True):
        s = summary[d]
        hs = np.arange(1, s["horizon"] + 1)
        for name, errs in s["multi_step"].items():
            label, color, ls = _style(name)
            ax.plot(hs, errs, ls, color=color, label=label)
        if d == "seasonal":
            ax.plot(hs, s["theory"]["multi_step"], ":", color="k", label=s["theory"]["label"])
        else:
            ax.set_yscale("log")
            eps = s["multi_step"]["lstm"][0]
            lam = np.asarray(s["theory"]["lyapunov"])
            growth = np.sqrt(np.mean(np.exp(2 * lam[None, :] * (hs[:, None] - 1)), axis=1))
            ax.plot(hs, eps * growth, ":", color="k",
                    label=f"first error propagated: ε₁·RMS exp(λ_i (h−1)),\n"
                          f"λ_i ∈ [{lam.min():.2f}, {lam.max():.2f}] per test series")
            ax.set_ylim(top=2.0)
        ax.set_xlabel("forecast horizon h (steps)")
        ax.set_ylabel(f"test RMSE ({s['unit']})")
        ax.set_title(TITLES[d], fontsize=9)
        ax.legend(fontsize=6.5)
    fig.tight_layout()
    save_figure(fig, workdir / "multi_step.png")

    fig, axes = plt.subplots(len(datasets), 1, figsize=(7.5, 2.8 * len(datasets)), squeeze=False)
    for ax, d in zip(axes[:, 0], datasets, strict=True):
        e = summary[d]["example"]
        C, H = len(e["context"]), len(e["truth"])
        ax.plot(np.arange(C), e["context"], color="k", lw=1, label="observed context")
        ax.plot(np.arange(C, C + H), e["truth"], color="k", lw=1, ls=":", label="truth")
        for name, f in e["forecasts"].items():
            label, color, ls = _style(name)
            ax.plot(np.arange(C, C + H), f, ls, color=color, label=label, lw=1.2)
        ax.axvline(C - 0.5, color="0.6", lw=0.8)
        ax.set_ylabel(summary[d]["unit"])
        ax.set_title(f"{TITLES[d]}: one test series, free-running forecasts", fontsize=9)
        ax.legend(fontsize=6.5, loc="center left", bbox_to_anchor=(1.01, 0.5))
    axes[-1, 0].set_xlabel("time step")
    fig.tight_layout()
    save_figure(fig, workdir / "examples.png")

    parts = []
    for d in datasets:
        s = summary[d]
        best_w = min((n for n in s["one_step"] if n.startswith("window")),
                     key=lambda n: s["one_step"][n])
        parts.append(f"{d}: one-step RMSE LSTM {s['one_step']['lstm']:.3g} vs best window "
                     f"({best_w[6:]}) {s['one_step'][best_w]:.3g} {s['unit']}")
        if d == "seasonal":
            parts[-1] += f" (noise floor {s['theory']['one_step']:.3g})"
    write_index(workdir, title="Forecasting: RNN vs fixed-window feed-forward",
                headline="; ".join(parts),
                figures=[("one_step.png", "one-step-ahead test RMSE per model; seasonal: dotted "
                          "= the noise floor"),
                         ("multi_step.png", "free-running multi-step RMSE vs horizon with the "
                          "theory line (noise floor / exp(λh) error growth)"),
                         ("examples.png", "one test series per dataset with every model's "
                          "forecast")],
                tables=["summary.json"])


def main(argv=None) -> int:
    return cli(__doc__, Config, QUICK, run, plot, argv, default_workdir="results/forecast")


if __name__ == "__main__":
    sys.exit(main())
