"""The finite-size figure (``plateau.png``) and the clipping sweep's figure
(``clipping_sweep.png``), from ``plateau.json`` and ``clipping_sweep.json`` only."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from experiments.common import save_figure
from experiments.jacobian_spectra.lyapunov_plots import colors, interval_text, mean_and_interval

TAIL_TOP = 1e3
"""The clipping sweep's tail-loss axis ends here (diverged runs reach 1e30 and beyond)."""


def zoom_panel(ax, plateau: dict) -> None:
    """λ_max against g on 1 < g ≤ 1.5 per N (mean, t-interval over seeds), the theory."""
    auto = plateau["autonomous"]["sizes"]
    cols = colors(len(auto))
    width = 0.02
    offsets = np.linspace(-width, width, len(auto)) if len(auto) > 1 else [0.0]
    for c, (n, r), dx in zip(cols, auto.items(), offsets, strict=True):
        m, ci = mean_and_interval(r, plateau["level"])
        ax.errorbar(np.asarray(r["g"]) + dx / 2, m, yerr=[m - ci[:, 0], ci[:, 1] - m], fmt="o",
                    ms=3, color=c, capsize=2, label=f"N = {n}")
    r = next(iter(auto.values()))
    gg = np.asarray(r["g"])
    ax.plot(gg, r["mean_field"], "k-", lw=1.4, label="mean field ½ ln χ₁ (N → ∞)")
    ax.plot(gg, np.asarray(r["mean_field"]) / 2, "k:", lw=1,
            label="half the theory (below: a regular run)")
    ax.axhline(0, color="gray", lw=0.8)
    ax.set_xlabel("gain g")
    ax.set_ylabel("λ_max (nats / step)")
    ax.set_title(f"No input, 1 < g ≤ 1.5: mean per (N, g), "
                 f"{interval_text(plateau['seeds'], plateau['level'])}", fontsize=10)
    ax.legend(fontsize=7.5, loc="upper left")
    ax.grid(alpha=0.3)


def gap_panel(ax, plateau: dict) -> None:
    """The gap (mean field − measured, mean over the gains) against 1/N, with the fits."""
    level = f"{plateau['level']:.0%}"
    for label, color in (("autonomous", "tab:blue"), ("driven", "tab:red")):
        e = plateau[label]
        ns = np.array([int(n) for n in e["sizes"]], float)
        gap = np.array([r["gap"] for r in e["sizes"].values()])
        se = np.array([r["gap_se"] for r in e["sizes"].values()])
        name = "no input, 1 < g ≤ 1.5" if label == "autonomous" else (
            f"with input, σ_u² = {e['input_variance']:g}")
        ax.errorbar(1 / ns, gap, yerr=1.96 * se, fmt="o", color=color, capsize=3,
                    label=f"{name} (±1.96 s.e.)")
        fit = e["gap_fit"]
        if fit:
            xx = np.linspace(0, 1.05 / ns.min(), 50)
            lo, hi = fit["a_ci"]
            ax.plot(xx, fit["a"] + fit["c"] * xx, "-", color=color, lw=1,
                    label=f"a + c/N: a = {fit['a']:+.4f} [{lo:+.4f}, {hi:+.4f}] ({level})")
            ax.errorbar([0], [fit["a"]], yerr=[[fit["a"] - lo], [hi - fit["a"]]], fmt="s",
                        color=color, capsize=4)
    ax.axhline(0, color="k", lw=0.8)
    ax.set_xlim(left=-0.002)
    ax.set_xlabel("1 / N")
    ax.set_ylabel("mean field − measured λ_max (mean over g)")
    ax.set_title("Finite-size gap against 1/N, extrapolated to N → ∞", fontsize=10)
    ax.legend(fontsize=7.5, loc="upper left")
    ax.grid(alpha=0.3)


def plateau_figure(plateau: dict, path: Path) -> str:
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(13, 4.8))
    zoom_panel(axes[0], plateau)
    gap_panel(axes[1], plateau)
    fig.tight_layout()
    save_figure(fig, path)
    return ("λ_max on 1 < g ≤ 1.5 per N against the mean-field theory, and the gap to it "
            "against 1/N without and with input, extrapolated to N → ∞")


def clipping_sweep_figure(sweep: dict, path: Path) -> str:
    """Per clipping mode: diverged and learned fractions (Wilson) against ρ, one line per rate."""
    import matplotlib.pyplot as plt

    modes = sorted({c["mode"] for c in sweep["cells"].values()},
                   key=["none", "norm", "elementwise"].index)
    rates = sweep["learning_rates"]
    cols = colors(len(rates))
    level = f"{sweep['level']:.0%}"
    fig, axes = plt.subplots(3, len(modes), figsize=(4.6 * len(modes), 10), sharex=True,
                             sharey="row", squeeze=False)
    for j, mode in enumerate(modes):
        for c, lr in zip(cols, rates, strict=True):
            cell = sweep["cells"].get(f"{mode}/{lr:g}")
            if cell is None:
                continue
            rhos = np.array([float(r) for r in cell["rho"]])
            for i, key in enumerate(("diverged", "learned")):
                f = np.array([v[key] / v["runs"] for v in cell["rho"].values()])
                ci = np.array([v[f"{key}_ci"] for v in cell["rho"].values()])
                stable = " (stable)" if lr in sweep["stable_rates"] else ""
                axes[i, j].errorbar(rhos + 0.01 * (rates.index(lr) - len(rates) / 2), f,
                                    yerr=[f - ci[:, 0], ci[:, 1] - f], fmt="o-", ms=4, color=c,
                                    capsize=2, label=f"lr {lr:g}{stable}")
            tail = [np.nan if v["tail_loss_median"] is None else v["tail_loss_median"]
                    for v in cell["rho"].values()]
            axes[2, j].plot(rhos, np.minimum(np.asarray(tail) / sweep["baseline"], TAIL_TOP),
                            "o-", ms=4, color=c)
        axes[0, j].set_title(f"clipping: {mode}", fontsize=10)
        axes[2, j].set_xlabel("initial ρ (W_h = ρQ)")
        axes[2, j].set_yscale("log")
        axes[2, j].set_ylim(1e-3, TAIL_TOP * 2)
        axes[2, j].axhline(sweep["success"], color="k", ls="--", lw=1)
        for ax in axes[:, j]:
            ax.axvline(sweep["control_rho"], color="gray", ls=":", lw=1)
            ax.grid(alpha=0.3)
    axes[0, 0].set_ylabel(f"fraction diverged ({level} Wilson)")
    axes[1, 0].set_ylabel(f"fraction learned: tail loss ≤ {sweep['success']:g} × baseline")
    axes[2, 0].set_ylabel(f"median tail loss / baseline\n(dashed: learned; top: ≥ {TAIL_TOP:g})")
    axes[0, 0].legend(fontsize=7.5, loc="upper left")
    fig.suptitle(f"SGD on adding T = {sweep['length']}, {sweep['steps']} updates, "
                 f"{sweep['seeds']} seeds per cell; stable: no unclipped divergence from "
                 f"ρ = {sweep['control_rho']:g}", fontsize=10)
    fig.tight_layout()
    save_figure(fig, path)
    return ("diverged and learned fractions (Wilson intervals) and the median tail loss against "
            "the initial ρ per clipping mode and learning rate; the ρ = 1 control marks the "
            "stable rates")
