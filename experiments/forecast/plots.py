"""Figures and the headline, from ``summary.json`` only."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from experiments.common import read_json, save_figure, write_index
from experiments.common.seeds import band, band_label
from experiments.common.stats import intervals_label

TITLES = {"seasonal": "seasonal temperature-like series",
          "population": "population growth N' = N + rN(1 − N/K)"}
STYLE = {"lstm": ("LSTM", "tab:blue", "-"), "seq2seq": ("LSTM encoder–decoder", "tab:purple", "-")}


def _style(name: str) -> tuple[str, str, str]:
    """(label, colour, line style) of a model."""
    if name.startswith("window"):
        w = int(name[6:])
        return f"feed-forward, window {w}", {1: "0.75", 3: "0.5"}.get(w, "0.2"), "--"
    return STYLE[name]


def one_step(summary: dict, path: Path) -> None:
    """One-step-ahead test RMSE per model and dataset; seasonal: the noise floor."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(summary), figsize=(4.2 * len(summary), 3.3), squeeze=False)
    for ax, (d, s) in zip(axes[0], summary.items(), strict=True):
        names = list(s["one_step"])
        st = [s["one_step"][n] for n in names]
        vals = np.array([r["mean"] for r in st])
        err = [vals - [r["ci"][0] for r in st], [r["ci"][1] for r in st] - vals]
        ax.bar(range(len(names)), vals, color=[_style(n)[1] for n in names], yerr=err,
               capsize=3, error_kw={"lw": 1})
        for i, r in enumerate(st):
            ax.plot([i] * len(r["per_seed"]), r["per_seed"], ".", ms=3, color="tab:orange")
        ax.set_xticks(range(len(names)), [_style(n)[0].replace("feed-forward, ", "FF ")
                                          for n in names], rotation=20, fontsize=8)
        if d == "seasonal":
            ax.axhline(s["theory"]["one_step"], color="k", ls=":",
                       label="noise floor σ·sqrt(1 − a²)")
            ax.legend(fontsize=7)
        for i, r in enumerate(st):
            ax.text(i, r["ci"][1], f"{r['mean']:.3g}", ha="center", va="bottom", fontsize=7)
        ax.set_ylabel(f"one-step test RMSE ({s['unit']})")
        ax.set_title(TITLES[d], fontsize=9)
    fig.suptitle(f"mean over seeds; bars: {_what(summary)}; dots: seeds",
                 fontsize=9)
    fig.tight_layout()
    save_figure(fig, path)


def multi_step(summary: dict, path: Path) -> None:
    """Free-running RMSE against the horizon, with the theory line of each dataset."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(summary), figsize=(4.6 * len(summary), 3.5), squeeze=False)
    for ax, (d, s) in zip(axes[0], summary.items(), strict=True):
        hs = np.arange(1, s["horizon"] + 1)
        for name, errs in s["multi_step"].items():
            label, color, ls = _style(name)
            band(ax, hs, [e["per_seed"] for e in errs], ls=ls, color=color, label=label,
                 bounds=(0, np.inf))
        if d == "seasonal":
            ax.plot(hs, s["theory"]["multi_step"], ":", color="k", label=s["theory"]["label"])
        else:
            ax.set_yscale("log")
            eps = s["multi_step"]["lstm"][0]["mean"]
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
    fig.suptitle(f"mean over seeds; {band_label(_seeds(summary))}", fontsize=9)
    fig.tight_layout()
    save_figure(fig, path)


def _seeds(summary: dict) -> int:
    return next(iter(summary.values()))["seeds"]


def _what(summary: dict) -> str:
    """What the one-step RMSEs' intervals are (``"95 % t-interval, 3 seeds"``)."""
    return intervals_label(r for s in summary.values() for r in s["one_step"].values())


def _ci(r: dict) -> str:
    return f"{r['mean']:.3g} [{r['ci'][0]:.3g}, {r['ci'][1]:.3g}]"


def examples(summary: dict, path: Path) -> None:
    """One test series per dataset: its context, the truth and every model's forecast."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(summary), 1, figsize=(7.5, 2.8 * len(summary)), squeeze=False)
    for ax, (d, s) in zip(axes[:, 0], summary.items(), strict=True):
        e = s["example"]
        C, H = len(e["context"]), len(e["truth"])
        ax.plot(np.arange(C), e["context"], color="k", lw=1, label="observed context")
        ax.plot(np.arange(C, C + H), e["truth"], color="k", lw=1, ls=":", label="truth")
        for name, f in e["forecasts"].items():
            label, color, ls = _style(name)
            ax.plot(np.arange(C, C + H), f, ls, color=color, label=label, lw=1.2)
        ax.axvline(C - 0.5, color="0.6", lw=0.8)
        ax.set_ylabel(s["unit"])
        ax.set_title(f"{TITLES[d]}: one test series, free-running forecasts (seed 0's models)",
                     fontsize=9)
        ax.legend(fontsize=6.5, loc="center left", bbox_to_anchor=(1.01, 0.5))
    axes[-1, 0].set_xlabel("time step")
    fig.tight_layout()
    save_figure(fig, path)


def headline(summary: dict) -> str:
    """One sentence with the numbers that matter."""
    parts = []
    for d, s in summary.items():
        best = min((n for n in s["one_step"] if n.startswith("window")),
                   key=lambda n: s["one_step"][n]["mean"])
        parts.append(f"{d}: one-step RMSE LSTM {_ci(s['one_step']['lstm'])} vs best window "
                     f"({best[6:]}) {_ci(s['one_step'][best])} {s['unit']}")
        if d == "seasonal":
            parts[-1] += f" (noise floor {s['theory']['one_step']:.3g})"
    return (f"mean over seeds [{_what(summary)}]: " + "; ".join(parts))


def plot(workdir: Path) -> None:
    """Every figure and ``index.json``."""
    summary = read_json(workdir / "summary.json")
    one_step(summary, workdir / "one_step.png")
    multi_step(summary, workdir / "multi_step.png")
    examples(summary, workdir / "examples.png")
    write_index(workdir, title="Forecasting: RNN vs fixed-window feed-forward",
                headline=headline(summary),
                figures=[("one_step.png", "one-step-ahead test RMSE per model (mean over seeds, "
                          "95 % t-interval, every seed); seasonal: dotted = the noise floor"),
                         ("multi_step.png", "free-running multi-step RMSE vs horizon (mean over "
                          "seeds, 95 % t-interval bands) with the theory line (noise floor / exp(λh) error "
                          "growth)"),
                         ("examples.png", "one test series per dataset with every model's "
                          "forecast")],
                tables=["summary.json"])
