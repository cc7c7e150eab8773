"""Figures and the headline, from the part files ``<part>.json`` only.

One function per figure (``norms_figure``, ``spectra_figure``, ``flow_figure``,
``clipping_figure``; ``lyapunov_figure``, one function per panel, in :mod:`.lyapunov_plots`); the headline
sentence is :func:`headline`; the README's table is :func:`readme_table` (from :mod:`.summary`).
``plot(workdir)`` draws them all and writes ``index.json``.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import numpy as np

from experiments.common import read_json, save_figure, write_index
from experiments.jacobian_spectra.config import FAMILIES
from experiments.jacobian_spectra.lyapunov_plots import colors as _colors
from experiments.jacobian_spectra.lyapunov_plots import lyapunov_figure
from experiments.jacobian_spectra.plateau_plots import clipping_sweep_figure, plateau_figure
from experiments.jacobian_spectra.summary import linear_error, readme_table

LABELS = {
    "linear_orth": "linear Elman, W = ρQ", "linear_gauss": "linear Elman, Gaussian W",
    "tanh_orth": "tanh Elman, W = ρQ", "tanh_gauss": "tanh Elman, Gaussian W",
    "sigmoid_orth": "sigmoid Elman, W = ρQ", "sigmoid_gauss": "sigmoid Elman, Gaussian W",
    "lstm_fb0": "LSTM, forget bias 0", "lstm_fb1": "LSTM, forget bias 1", "gru": "GRU",
}
GAMMA = {"linear": 1.0, "tanh": 1.0, "sigmoid": 0.25}  # max |f'| (Pascanu et al. 2013)
LOSS_TOP = 1e4  # top of the clipping figure's loss axis
__all__ = ["plot", "headline", "readme_table"]
TABLES = ("norms.json", "spectra.json", "lyapunov.json", "flow.json", "clipping.json")


def _nan_none(rows) -> np.ndarray:
    return np.asarray([[np.nan if v is None else v for v in row] for row in rows], dtype=float)


def headline(norms: dict, lyap: dict, flow: dict) -> str:
    """One sentence with the numbers that matter, each one deterministic up to float rounding
    (the trained models' numbers are in the figures): the linear law as a power-of-ten bound,
    the largest gap of the driven lambda_max to the mean-field theory, the logistic exponent,
    and how far the gradient reaches at initialisation."""
    err = linear_error(norms)
    bound = f"< 1e{math.ceil(math.log10(err)):+03d}" if err > 0 else "exactly"
    init = {kind: float(np.median(np.asarray(flow["models"][kind]["init"])[:, -1]))
            for kind in ("tanh", "lstm")}
    drv = lyap["driven"]
    gap = float(np.max(np.abs(np.asarray(drv["lambda_max"]) - np.asarray(drv["mean_field"]))))
    return (f"linear W=ρQ on ρ^t to {bound} (log); driven λ_max (N={drv['N']}, "
            f"σ_u²={drv['input_variance']:g}) within {gap:.3f} of mean-field ½ ln χ₁; logistic λ(r=4) = "
            f"{lyap['logistic'].get('at_4', {}).get('lambda', lyap['logistic']['lambda_at_4']):.4f} "
            f"(ln 2 = {math.log(2):.4f}); adding "
            f"T={flow['length']}, ‖∂L/∂h‖ at lag T at initialisation (median of "
            f"{flow['seeds']} seeds): tanh {init['tanh']:.1e} vs "
            f"LSTM {init['lstm']:.1e}")


def _theory_lines(ax, entry: dict, family: str, inp: str, t: np.ndarray, rhos, colors) -> None:
    """The theory of one panel: the exact rho^t (linear) and J^t at h = 0 (gated, zero input) as
    black dashes over the data; Pascanu's bound (dotted); the mean-field slope (driven tanh)."""
    kind = family.split("_")[0]
    smax = np.asarray(entry["sigma_max"])  # (rhos, seeds)
    exact = "exact_zero" in entry and inp == "zero"
    for i, rho in enumerate(rhos):
        if kind == "linear" or (kind == "tanh" and inp == "zero"):  # tanh'(0) = 1 at h = 0
            ax.plot(t, t * math.log10(rho), color="k", ls=(0, (4, 3)), lw=1.1, zorder=4)
        elif exact:
            line = np.median(np.asarray(entry["exact_zero"][i]), axis=0) / math.log(10.0)
            ax.plot(t, line, color="k", ls=(0, (4, 3)), lw=1.1, zorder=4)
        if kind in GAMMA and kind != "linear":
            bound = t * math.log10(GAMMA[kind] * float(np.mean(smax[i])))
            ax.plot(t, bound, color=colors[i], ls=":", lw=1.2)
        if kind == "tanh" and inp == "driven":
            ax.plot(t, t * entry["mean_field"][i] / math.log(10.0), color=colors[i], ls="-.",
                    lw=1.2, zorder=4)
    if exact:
        radius = np.asarray(entry["jacobian_radius"]).mean(1)
        text = "ρ(J) at h = 0: " + ", ".join(f"{r:.2f}" for r in radius)
        ax.text(0.02, 0.03, text, transform=ax.transAxes, fontsize=8,
                bbox=dict(facecolor="white", alpha=0.8, lw=0))


def norms_figure(norms: dict, inp: str, path: Path) -> str:
    """log10 ||dh_t/dh_0|| against t, one panel per family, one colour per rho; theory lines."""
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    t = np.asarray(norms["t"], dtype=float)
    rhos, colors = norms["rhos"], _colors(len(norms["rhos"]))
    families = [f for f in FAMILIES if f in norms["families"]]
    seeds = len(norms["families"][families[0]][inp][0])
    rows = math.ceil(len(families) / 3)
    fig, axes = plt.subplots(rows, 3, figsize=(13, 11 * rows / 3 + 0.9), sharex=True, squeeze=False)
    for ax in axes.flat[len(families):]:
        ax.set_visible(False)
    for ax, family in zip(axes.flat, families, strict=False):
        entry = norms["families"][family]
        data = np.asarray(entry[inp]) / math.log(10.0)  # (rhos, seeds, T), log10
        for i, rho in enumerate(rhos):
            ax.plot(t, np.median(data[i], axis=0), color=colors[i], lw=2.2, label=f"ρ = {rho:g}")
            ax.fill_between(t, data[i].min(0), data[i].max(0), color=colors[i], alpha=0.25)
        _theory_lines(ax, entry, family, inp, t, rhos, colors)
        finite = data[np.isfinite(data)]
        lo, hi = finite.min(), finite.max()
        ax.set_ylim(lo - 0.05 * (hi - lo) - 0.5, hi + 0.05 * (hi - lo) + 0.5)
        ax.set_title(LABELS[family], fontsize=10)
        ax.grid(alpha=0.3)
    for ax in axes[-1]:
        ax.set_xlabel("time step t")
    for ax in axes[:, 0]:
        ax.set_ylabel("log₁₀ ‖∂h_t/∂h_0‖₂")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    handles += [Line2D([], [], color="k", ls=(0, (4, 3)), lw=1.1),
                Line2D([], [], color="k", ls=":", lw=1.2)]
    zero = inp == "zero"
    labels += ["exact theory (black dashes): ρ^t for W = ρQ (Gaussian W: asymptotic slope)"
               + (", linear and tanh at h = 0; J^t of gated cells at h = 0" if zero else ", linear"),
               "Pascanu et al. bound (γ σ_max(W))^t, γ = 1 tanh, 1/4 sigmoid"]
    var = [v for f in families for v in norms["families"][f].get("input_variance", [])]
    if inp == "driven" and var:
        handles.append(Line2D([], [], color="k", ls="-.", lw=1.2))
        labels.append(f"mean-field slope ½ ln χ₁ (tanh, g = ρ, σ_u² = s²‖W_x‖²_F/H = "
                      f"{np.mean(var):.2f}, mean of seeds)")
    fig.legend(handles, labels, loc="lower center", ncol=3, fontsize=9, bbox_to_anchor=(0.5, -0.06))
    std = norms["input_std"]
    what = ("zero input" if inp == "zero" else
            f"driven input x_t ~ N(0, {'' if std == 1 else f'{std:g}² '}I)")
    gated = ("for LSTM/GRU, ρ is the spectral radius of every H×H gate block of W_h, not of the "
             "step Jacobian J (its radius at h = 0 is printed)" if inp == "zero" else
             "for LSTM/GRU, ρ is the spectral radius of every H×H gate block of W_h")
    fig.suptitle(f"Jacobian norm through time, {what}, H = {norms['hidden']}; "
                 f"median and min–max band over {seeds} seeds\n{gated}", fontsize=11)
    fig.tight_layout(rect=(0, 0.03, 1, 0.97))
    save_figure(fig, path, dpi=110)
    theory = ("ρ^t and the exact zero-state J^t of LSTM/GRU" if inp == "zero" else
              "ρ^t, Pascanu's bound and the mean-field slope ½ ln χ₁ of tanh cells")
    return (f"log ‖∂h_t/∂h_0‖ vs t per ρ and cell, {what}, with theory lines ({theory}); "
            "gated cells: ρ is the radius of each gate block of W_h")


def spectra_figure(spectra: dict, path: Path) -> str:
    """Sorted log10 sigma_i(dh_t/dh_0) against i/N: one row per family, one column per rho,
    one colour per t; median over seeds with the min-max band, rho^t for W = rho Q."""
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    times, rhos, H = spectra["times"], spectra["rhos"], spectra["hidden"]
    colors, rank = _colors(len(times)), np.arange(1, H + 1) / H
    std = spectra["input_std"]
    titles = {"linear_orth": "linear (zero input), W = ρQ",
              "linear_gauss": "linear (zero input), Gaussian W",
              "tanh_orth": f"tanh, driven (std {std:g}), W = ρQ",
              "tanh_gauss": f"tanh, driven (std {std:g}), Gaussian W"}
    fig, axes = plt.subplots(len(titles), len(rhos), figsize=(4.6 * len(rhos), 13),
                             sharex=True, squeeze=False)
    dropped = 0
    for row, (family, title) in enumerate(titles.items()):
        data = np.asarray([[_nan_none(seed) for seed in per_rho]
                           for per_rho in spectra["log10_sv"][family]])  # (rhos, seeds, times, H)
        for col, rho in enumerate(rhos):
            ax, below = axes[row, col], []
            for i, t in enumerate(times):
                sv = data[col, :, i]  # (seeds, H)
                below.append(int(np.sum(~np.isfinite(sv))))
                with warnings.catch_warnings():  # all-nan columns: values below the floor
                    warnings.simplefilter("ignore", RuntimeWarning)
                    ax.plot(rank, np.nanmedian(sv, 0), color=colors[i], lw=1.8)
                    ax.fill_between(rank, np.nanmin(sv, 0), np.nanmax(sv, 0), color=colors[i],
                                    alpha=0.3)
                if family == "linear_orth":
                    ax.axhline(t * np.log10(rho), color="k", ls=(0, (4, 3)), lw=1.0, zorder=4)
            dropped += sum(below)
            if any(below):
                ax.text(0.02, 0.03, "below the floor (not drawn), of " f"{data.shape[1]}×{H}: "
                        + ", ".join(f"t={t}: {n}" for t, n in zip(times, below, strict=True)),
                        transform=ax.transAxes, fontsize=7.5,
                        bbox=dict(facecolor="white", alpha=0.8, lw=0))
            ax.set_title(f"{title}, ρ = {rho:g}", fontsize=9.5)
            ax.grid(alpha=0.3)
        axes[row, 0].set_ylabel("log₁₀ σ_i(∂h_t/∂h_0)")
    for ax in axes[-1]:
        ax.set_xlabel("rank i / N (descending)")
    handles = [Line2D([], [], color=c, lw=1.8) for c in colors]
    labels = [f"t = {t}" for t in times]
    handles.append(Line2D([], [], color="k", ls=(0, (4, 3)), lw=1.0))
    labels.append("σ_i = ρ^t exactly (W = ρQ, linear)")
    fig.legend(handles, labels, loc="lower center", ncol=len(labels), fontsize=9,
               bbox_to_anchor=(0.5, -0.005))
    seeds = spectra["seeds"]
    fig.suptitle(f"Singular values of the Jacobian product (float64), N = {H}: median over "
                 f"{seeds} seeds, band min–max\northogonal W keeps every σ_i = ρ^t, Gaussian W "
                 f"spreads them over decades; values more than {spectra['floor_decades']:g} "
                 f"decades below the largest are rounding noise ({dropped} in all, counted "
                 "per panel)", fontsize=11)
    fig.tight_layout(rect=(0, 0.025, 1, 1))
    save_figure(fig, path, dpi=100)
    return ("sorted singular values of ∂h_t/∂h_0 at several t and ρ ∈ {"
            + ", ".join(f"{r:g}" for r in rhos) + f"}}, orthogonal vs Gaussian W, linear and "
            f"driven tanh, median and band over {seeds} seeds")


FLOW_MODELS = {"tanh": ("tanh RNN", "Reds"), "lstm": ("LSTM (forget bias 1)", "Blues")}


def _band(ax, x, rows, color, label=None, **style):
    """Median over the rows (seeds) with the min-max band; nan-aware."""
    rows = np.asarray(rows, dtype=float)
    with warnings.catch_warnings():  # all-nan columns: every seed non-finite there
        warnings.simplefilter("ignore", RuntimeWarning)
        line, = ax.plot(x, np.nanmedian(rows, 0), color=color, label=label, **style)
        ax.fill_between(x, np.nanmin(rows, 0), np.nanmax(rows, 0), color=color, alpha=0.2, lw=0)
    return line


def flow_figure(flow: dict, path: Path) -> str:
    """||dL/dh_{T-tau}|| against tau per training stage (one panel per model, a colour map over
    the stages), and the training curves; medians over seeds with min-max bands."""
    import matplotlib
    import matplotlib.pyplot as plt

    T, seeds = flow["length"], flow["seeds"]
    lag = np.arange(1, T + 1)
    fig, axes = plt.subplots(1, 3, figsize=(17, 4.8))
    for ax, (kind, (name, cmap)) in zip(axes[:2], FLOW_MODELS.items(), strict=True):
        m = flow["models"][kind]
        stages = sorted(m["during"], key=int)
        shades = matplotlib.colormaps[cmap](np.linspace(0.35, 1.0, len(stages)))
        for color, k in zip(shades, stages, strict=True):
            what = "initialisation" if int(k) == 0 else f"after {k} updates"
            _band(ax, lag, m["during"][k], color, label=what, lw=1.6)
        ax.set_yscale("log")
        ax.axvspan(T - T // 2, T, color="gray", alpha=0.12, label="lags of the first marker")
        ax.set_xlabel("lag τ (steps before the loss)")
        ax.set_title(f"{name}: gradient flow during training, adding T = {T}", fontsize=10)
        ax.legend(fontsize=8, loc="lower left")
        ax.grid(alpha=0.3, which="both")
    axes[0].set_ylabel(f"‖∂L/∂h(T−τ)‖₂ (mean over {flow['samples']} test sequences)")
    ax_train = axes[2]
    for kind, (name, cmap) in FLOW_MODELS.items():
        m = flow["models"][kind]
        steps = [r[0] for r in m["curve"]]
        mse = np.asarray(m["test_mse"])
        _band(ax_train, steps, np.asarray([r[1] for r in m["curve"]]).T,
              matplotlib.colormaps[cmap](0.85),
              label=f"{name} (test MSE {np.median(mse):.3f}, range {mse.min():.3f}–{mse.max():.3f})")
    ax_train.axhline(flow["baseline"], color="k", ls="--", lw=1, label="baseline 1/6 (predict 1)")
    ax_train.set_xlabel("training step")
    ax_train.set_ylabel("training MSE")
    ax_train.set_yscale("log")
    ax_train.set_title("Training on the adding problem (Adam, global-norm clipping)", fontsize=10)
    ax_train.legend(fontsize=8)
    ax_train.grid(alpha=0.3, which="both")
    fig.suptitle(f"Median over {seeds} seeds, band min–max", fontsize=10)
    fig.tight_layout()
    save_figure(fig, path)
    return ("‖∂L/∂h_t‖ vs lag at initialisation, during and after training on the adding problem, "
            f"tanh RNN vs LSTM, median and band over {seeds} seeds")


CLIP_MODES = {"none": ("no clipping", "tab:red"), "norm": ("global-norm clipping", "tab:blue"),
              "elementwise": ("elementwise clipping", "tab:green")}


def running_mean(x: np.ndarray, window: int) -> np.ndarray:
    """Trailing mean over ``window`` updates along the last axis (nan inside a window -> nan)."""
    if window <= 1:
        return x
    c = np.cumsum(np.concatenate([np.zeros(x.shape[:-1] + (1,)), x], -1), -1)
    out = np.full(x.shape, np.nan)
    out[..., window - 1:] = (c[..., window:] - c[..., :-window]) / window
    return out


def _clipping_runs(axes, clip: dict, window: int) -> None:
    """Loss (axes[0], running mean) and gradient norm (axes[1]) per clipping mode and rho:
    medians over seeds with min-max bands, each run's first non-finite update in the legend."""
    styles = dict(zip(clip["rhos"], ("-", "--"), strict=True))
    for name, run in clip["runs"].items():
        label, color = CLIP_MODES[name]
        extra = f" ({list(run['clip'].values())[0]:g})" if run["clip"] else ""
        steps = np.asarray(run["steps"])
        for rho in clip["rhos"]:
            r = run["rho"][f"{rho:g}"]
            loss = running_mean(_nan_none(r["loss"]), window)
            bad = [d for d in r["diverged_at"] if d is not None]
            note = (f", non-finite at update {', '.join(map(str, bad))}" if bad else ", finite")
            if bad and np.nanmax(_nan_none(r["loss"])) > LOSS_TOP:
                note += f" (loss > {LOSS_TOP:.0e} after)"
            _band(axes[0], steps, loss, color, label=f"{label}{extra}, ρ = {rho:g}{note}",
                  ls=styles[rho], lw=1.5)
            _band(axes[1], steps, _nan_none(r["grad_norm"]), color, ls=styles[rho], lw=1.0,
                  label=f"{label}, ρ = {rho:g}")
            for d in bad:
                axes[1].axvline(d, color=color, ls=":", lw=1.0)


def _landscape_panel(fig, ax, land: dict) -> None:
    im = ax.contourf(land["w"], land["b"], np.asarray(land["log10_loss"]), levels=30, cmap="magma")
    fig.colorbar(im, ax=ax, label="log₁₀ loss")
    for name, color in (("none", "tab:cyan"), ("norm", "white")):
        path = np.asarray(land["paths"][name])
        ax.plot(path[:, 0], path[:, 1], "o-", color=color, ms=3, lw=1.2,
                label="gradient descent" if name == "none"
                else f"with norm clipping ({land['clip_norm']:g})")
    ax.set_xlim(min(land["w"]), max(land["w"]))
    ax.set_ylim(min(land["b"]), max(land["b"]))
    ax.set_xlabel("w (recurrent weight)")
    ax.set_ylabel("b (bias)")
    ax.set_title(f"Pascanu et al. (2013): (x({land['steps']}) − {land['target']})², "
                 "x(t) = w σ(x(t−1)) + b", fontsize=10)
    ax.legend(fontsize=8, loc="lower right", facecolor="0.6")


def clipping_figure(clip: dict, path: Path) -> str:
    """Training loss and gradient norms per clipping mode and rho, and the one-unit landscape."""
    import matplotlib.pyplot as plt

    steps = clip["runs"]["none"]["steps"]
    window = max(len(steps) // 60, 1)
    fig, axes = plt.subplots(1, 3, figsize=(19, 5.6))
    _clipping_runs(axes[:2], clip, window)
    axes[0].axhline(clip["baseline"], color="k", ls="--", lw=1, label="baseline 1/6 (predict 1)")
    axes[0].set_yscale("log")
    axes[0].set_ylim(0.02, LOSS_TOP)
    axes[0].set_ylabel(f"training MSE (running mean over {window} updates)")
    rho, control = clip["rhos"]
    axes[0].set_title(f"tanh RNN, W_h = ρQ: ρ = {rho:g} (solid, exploding) and control ρ = "
                      f"{control:g} (dashed)\nSGD lr {clip['learning_rate']:g}, adding T = "
                      f"{clip['length']}; median of {clip['seeds']} seeds, band min–max",
                      fontsize=10)
    axes[1].set_yscale("log")
    axes[1].set_ylabel("gradient norm before clipping")
    axes[1].set_title("Gradient norm at every update\n(dotted: a run's first non-finite update)",
                      fontsize=10)
    for ax in axes[:2]:
        ax.set_xlabel("SGD update")
        ax.legend(fontsize=7.5, loc="upper right")
        ax.grid(alpha=0.3, which="both")
    _landscape_panel(fig, axes[2], clip["landscape"])
    fig.tight_layout()
    save_figure(fig, path)
    return (f"training loss and gradient norm at every update with no / norm / elementwise "
            f"clipping from ρ = {rho:g} and the control ρ = {control:g} (same learning rate, "
            f"{clip['seeds']} seeds), and the one-unit loss landscape with its cliff")


def plot(workdir: Path) -> None:
    """Every figure and ``index.json``."""
    import matplotlib

    matplotlib.use("Agg")
    workdir = Path(workdir)
    norms, spectra, lyap, flow, clip = (read_json(workdir / name) for name in TABLES)
    figures = [(f"norms_{inp}.png", norms_figure(norms, inp, workdir / f"norms_{inp}.png"))
               for inp in ("zero", "driven")]
    figures += [("spectra.png", spectra_figure(spectra, workdir / "spectra.png")),
                ("lyapunov.png", lyapunov_figure(lyap, workdir / "lyapunov.png")),
                ("flow.png", flow_figure(flow, workdir / "flow.png")),
                ("clipping.png", clipping_figure(clip, workdir / "clipping.png"))]
    for name, draw in (("plateau", plateau_figure), ("clipping_sweep", clipping_sweep_figure)):
        if (workdir / f"{name}.json").exists():
            figures.append((f"{name}.png", draw(read_json(workdir / f"{name}.json"),
                                                workdir / f"{name}.png")))
    text = headline(norms, lyap, flow)
    write_index(workdir, title="Jacobian spectral norms through time", headline=text,
                figures=figures, tables=list(TABLES) + [f"{n}.json" for n in ("plateau", "clipping_sweep")
                                                        if (workdir / f"{n}.json").exists()])
    print(text)
