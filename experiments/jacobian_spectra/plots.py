"""Figures and the headline, from the part files ``<part>.json`` only.

One function per figure (``norms_figure``, ``spectra_figure``, ``flow_figure``,
``clipping_figure``; ``lyapunov_figure``, one function per panel, in :mod:`.lyapunov_plots`); the headline
sentence is :func:`headline`. ``plot(workdir)`` draws them all and writes ``index.json``.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from experiments.common import read_json, save_figure, write_index
from experiments.jacobian_spectra.config import FAMILIES
from experiments.jacobian_spectra.lyapunov_plots import colors as _colors
from experiments.jacobian_spectra.lyapunov_plots import lyapunov_figure

LABELS = {
    "linear_orth": "linear Elman, W = ρQ", "linear_gauss": "linear Elman, Gaussian W",
    "tanh_orth": "tanh Elman, W = ρQ", "tanh_gauss": "tanh Elman, Gaussian W",
    "sigmoid_orth": "sigmoid Elman, W = ρQ", "sigmoid_gauss": "sigmoid Elman, Gaussian W",
    "lstm_fb0": "LSTM, forget bias 0", "lstm_fb1": "LSTM, forget bias 1", "gru": "GRU",
}
GAMMA = {"linear": 1.0, "tanh": 1.0, "sigmoid": 0.25}  # max |f'| (Pascanu et al. 2013)
LOSS_TOP = 1e4  # top of the clipping figure's loss axis
TABLES = ("norms.json", "spectra.json", "lyapunov.json", "flow.json", "clipping.json")


def _nan_none(rows) -> np.ndarray:
    return np.asarray([[np.nan if v is None else v for v in row] for row in rows], dtype=float)


def linear_error(norms: dict) -> float:
    """max |log ||J_t|| - t log rho| of the linear W = rho Q family on zero input (nan if absent)."""
    if "linear_orth" not in norms["families"]:
        return float("nan")
    t = np.asarray(norms["t"], dtype=float)
    lin = norms["families"]["linear_orth"]["zero"]
    return max(float(np.max(np.abs(np.asarray(lin[i]) - t[None, :] * math.log(r))))
               for i, r in enumerate(norms["rhos"]))


def headline(norms: dict, lyap: dict, flow: dict) -> str:
    """One sentence with the numbers that matter, each one deterministic up to float rounding
    (the trained models' numbers are in the figures): the linear law as a power-of-ten bound,
    the largest gap of the driven lambda_max to the mean-field theory, the logistic exponent,
    and how far the gradient reaches at initialisation."""
    err = linear_error(norms)
    bound = f"< 1e{math.ceil(math.log10(err)):+03d}" if err > 0 else "exactly"
    init = {kind: flow["models"][kind]["init"][-1] for kind in ("tanh", "lstm")}
    drv = lyap["driven"]
    gap = float(np.max(np.abs(np.asarray(drv["lambda_max"]) - np.asarray(drv["mean_field"]))))
    return (f"linear W=ρQ on ρ^t to {bound} (log); driven λ_max (N={drv['N']}, "
            f"σ_u²={drv['input_variance']:g}) within {gap:.3f} of mean-field ½ ln χ₁; logistic λ(r=4) = "
            f"{lyap['logistic']['lambda_at_4']:.4f} (ln 2 = {math.log(2):.4f}); adding "
            f"T={flow['length']}, ‖∂L/∂h‖ at lag T at initialisation: tanh {init['tanh']:.1e} vs "
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
    """Histograms of log10 sigma_i(dh_t/dh_0) at several t, orthogonal against Gaussian W."""
    import matplotlib.pyplot as plt

    times, colors = spectra["times"], _colors(len(spectra["times"]))
    std = spectra["input_std"]
    titles = {"linear_orth": "zero input (= linear RNN), W = ρQ",
              "linear_gauss": "zero input (= linear RNN), Gaussian W",
              "tanh_orth": f"tanh, driven input (std {std:g}), W = ρQ",
              "tanh_gauss": f"tanh, driven input (std {std:g}), Gaussian W"}
    fig, axes = plt.subplots(2, 2, figsize=(12, 7.5))
    for ax, (family, title) in zip(axes.flat, titles.items(), strict=True):
        sv = _nan_none(spectra["log10_sv"][family])  # (times, H)
        lo, hi = np.nanmin(sv), np.nanmax(sv)
        spike = hi - lo < 1e-6
        if spike:
            lo, hi = lo - 0.5, hi + 0.5
        bins = np.linspace(lo, hi, 60)
        for i, t in enumerate(times):
            below = int(np.sum(~np.isfinite(sv[i])))
            ax.hist(sv[i][np.isfinite(sv[i])], bins=bins, color=colors[i], alpha=0.6,
                    label=f"t = {t}" + (f" ({below} below the floor, not drawn)" if below else ""))
        ax.set_xlabel("log₁₀ σ_i(∂h_t/∂h_0)")
        ax.set_ylabel(f"count (of N = {spectra['hidden']})")
        ax.set_title(f"{title}, ρ = {spectra['rho']:g}" + (" (all t coincide)" if spike else ""),
                     fontsize=10)
        ax.legend(fontsize=8, loc="upper left")
        ax.grid(alpha=0.3)
    dropped = sum(int(np.sum(~np.isfinite(_nan_none(rows)))) for rows in spectra["log10_sv"].values())
    fig.suptitle(f"Singular values of the Jacobian product (float64); values more than "
                 f"{spectra['floor_decades']:g} decades below the largest are rounding noise, "
                 f"counted in the legends ({dropped} in all)\northogonal W keeps every σ_i = ρ^t "
                 "(a spike), Gaussian W spreads them over decades", fontsize=11)
    fig.tight_layout()
    save_figure(fig, path)
    return ("singular-value histograms of ∂h_t/∂h_0 at several t, orthogonal vs Gaussian W, "
            "linear and driven tanh")


def flow_figure(flow: dict, path: Path) -> str:
    """||dL/dh_{T-tau}|| against tau during training, and the training curves."""
    import matplotlib.pyplot as plt

    T = flow["length"]
    lag = np.arange(1, T + 1)
    colors = {"tanh": "tab:red", "lstm": "tab:blue"}
    names = {"tanh": "tanh RNN", "lstm": "LSTM (forget bias 1)"}
    fig, (ax, ax_train) = plt.subplots(1, 2, figsize=(13, 4.4))
    for kind, color in colors.items():
        m = flow["models"][kind]
        ax.semilogy(lag, m["init"], color=color, ls="--", label=f"{names[kind]}, initialisation")
        last = max(m["during"], key=int)
        middle = sorted((k for k in m["during"] if 0 < int(k) < int(last)), key=int)
        for j, k in enumerate(middle):
            ax.semilogy(lag, m["during"][k], color=color, ls=":", lw=1.2, alpha=0.5 + 0.25 * j,
                        label=f"{names[kind]}, steps {', '.join(middle)}" if j == 0 else None)
        ax.semilogy(lag, m["trained"], color=color, label=f"{names[kind]}, trained")
        curve = np.asarray(m["curve"])
        ax_train.plot(curve[:, 0], curve[:, 1], color=color,
                      label=f"{names[kind]} (test MSE {m['test_mse']:.3f})")
    ax.axvspan(T - T // 2, T, color="gray", alpha=0.15, label="lags of the first marker")
    ax.set_xlabel("lag τ (steps before the loss)")
    ax.set_ylabel("‖∂L/∂h(T−τ)‖₂ (mean over test sequences)")
    ax.set_title(f"Gradient flow, adding problem T = {T}", fontsize=10)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3, which="both")
    ax_train.axhline(flow["baseline"], color="k", ls="--", lw=1, label="baseline 1/6 (predict 1)")
    ax_train.set_xlabel("training step")
    ax_train.set_ylabel("training MSE")
    ax_train.set_yscale("log")
    ax_train.set_title("Training on the adding problem (Adam, global-norm clipping)", fontsize=10)
    ax_train.legend(fontsize=8)
    ax_train.grid(alpha=0.3, which="both")
    fig.tight_layout()
    save_figure(fig, path)
    return ("‖∂L/∂h_t‖ vs lag at initialisation and after training on the adding problem, "
            "tanh RNN vs LSTM")


def _clipping_runs(axes, clip: dict) -> None:
    """Loss (axes[0]) and gradient norm (axes[1]) per clipping mode, with divergence marked."""
    colors = {"none": "tab:red", "norm": "tab:blue", "elementwise": "tab:green"}
    names = {"none": "no clipping", "norm": "global-norm clipping",
             "elementwise": "elementwise clipping"}
    for name, run in clip["runs"].items():
        curve = _nan_none(run["curve"])
        extra = f" ({list(run['clip'].values())[0]:g})" if run["clip"] else ""
        if run["diverged_at"] is not None:
            extra += f", non-finite from step {run['diverged_at']}"
            for ax in axes:
                ax.axvline(run["diverged_at"], color=colors[name], ls=":", lw=1.2)
        # a diverging run has few finite points: markers keep a lone one visible
        marker = dict(marker="o", ms=4) if run["diverged_at"] is not None else {}
        steps, loss = curve[:, 0], curve[:, 1]
        off = loss > LOSS_TOP  # drawn as triangles on the top edge, value in the legend
        if np.any(off):
            extra += f"; loss {np.nanmax(loss):.0e} above the axis (▲)"
            axes[0].plot(steps[off], np.full(off.sum(), LOSS_TOP / 1.5), "^", color=colors[name], ms=7)
        axes[0].plot(steps, np.where(off, np.nan, loss), color=colors[name],
                     label=names[name] + extra, **marker)
        axes[1].semilogy(steps, curve[:, 2], color=colors[name], label=names[name], **marker)


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
    """Training loss and gradient norms per clipping mode, and the one-unit landscape."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(17, 4.6))
    _clipping_runs(axes[:2], clip)
    axes[0].axhline(clip["baseline"], color="k", ls="--", lw=1, label="baseline 1/6")
    axes[0].set_yscale("log")
    axes[0].set_ylim(0.05, LOSS_TOP)
    axes[0].set_xlabel("SGD step")
    axes[0].set_ylabel("training MSE")
    axes[0].set_title(f"tanh RNN, W_h = {clip['rho']:g}·Q (exploding regime), SGD lr "
                      f"{clip['learning_rate']:g}, adding T = {clip['length']}", fontsize=10)
    axes[1].set_xlabel("SGD step")
    axes[1].set_ylabel("gradient norm before clipping")
    axes[1].set_title("Gradient norms (dotted: first non-finite step)", fontsize=10)
    for ax in axes[:2]:
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3, which="both")
    _landscape_panel(fig, axes[2], clip["landscape"])
    fig.tight_layout()
    save_figure(fig, path)
    return ("training loss with no / norm / elementwise clipping in the exploding regime, and "
            "the one-unit loss landscape with its cliff")


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
    text = headline(norms, lyap, flow)
    write_index(workdir, title="Jacobian spectral norms through time", headline=text,
                figures=figures, tables=list(TABLES))
    print(text)


def _gated_exact_error(norms: dict) -> float:
    """max |measured - exact| of log ||J^t|| for the gated cells on zero input (nan if none)."""
    errs = [np.max(np.abs(np.asarray(e["zero"]) - np.asarray(e["exact_zero"])))
            for e in norms["families"].values() if "exact_zero" in e]
    return float(max(errs)) if errs else float("nan")


def readme_table(folder) -> str:
    """Markdown: each classic result next to its theory, numbers from the result files."""
    folder = Path(folder)
    norms, lyap, flow, clip = (read_json(folder / n) for n in
                               ("norms.json", "lyapunov.json", "flow.json", "clipping.json"))
    drv, aut = lyap["driven"], lyap["autonomous"]
    gap = np.abs(np.asarray(drv["lambda_max"]) - np.asarray(drv["mean_field"]))
    g = np.asarray(aut["g"])
    band = (g > 1) & (g <= 1.5)
    plateau = "; ".join(
        f"N = {n}: " + ", ".join(f"{v:+.3f}" for v in np.asarray(e["lambda_max"])[band])
        for n, e in sorted(lyap["finite_size"].items(), key=lambda kv: int(kv[0])))
    theory = ", ".join(f"{v:+.3f}" for v in np.asarray(aut["mean_field"])[band])
    gs = ", ".join(f"{v:g}" for v in g[band])
    runs = clip["runs"]
    div = runs["none"]["diverged_at"]
    rows = [
        ("linear W = ρQ: ‖J_t‖ = ρ^t exactly", f"max log error {linear_error(norms):.1e}"),
        ("LSTM/GRU at h = 0, zero input: ‖J^t‖ of the closed-form J",
         f"max log error {_gated_exact_error(norms):.1e}"),
        (f"λ_max with input (σ_u² = {drv['input_variance']:g}, N = {drv['N']}) vs mean field "
         "½ ln χ₁", f"max gap {gap.max():.3f} over g ∈ [{g.min():g}, {g.max():g}]"),
        (f"λ_max without input at g = {gs} (mean field {theory})", plateau),
        ("logistic map λ(r = 4) = ln 2 = 0.6931", f"{lyap['logistic']['lambda_at_4']:.4f}"),
        (f"adding T = {flow['length']}: ‖∂L/∂h‖ at lag T at init, tanh vs LSTM",
         f"{flow['models']['tanh']['init'][-1]:.1e} vs {flow['models']['lstm']['init'][-1]:.1e}"),
        (f"clipping, W = {clip['rho']:g}Q, SGD {clip['learning_rate']:g}",
         ("unclipped non-finite at step " + str(div) if div is not None else "unclipped finite")
         + "; clipped: " + ", ".join(f"{k} {'finite' if r['diverged_at'] is None else 'non-finite'}"
                                     for k, r in runs.items() if k != "none")),
    ]
    lines = ["| result (theory) | measured |", "| --- | --- |"]
    lines += [f"| {a} | {b} |" for a, b in rows]
    return "\n".join(lines) + "\n"
