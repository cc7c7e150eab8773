"""The Lyapunov figure, one function per panel, from ``lyapunov.json`` only: spectra against
i/N, lambda_max against g with the mean-field theory, its finite-size dependence, and the
logistic map."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from experiments.common import save_figure
from experiments.common.stats import level_text, mean_interval

LEVEL = 0.95
"""Level of the t-intervals of the mean over seeds drawn as bars."""

ZOOM = (1.0, 1.5)
"""The finite-size panel shows gains from just below 1 to 1.5, where the plateau lies."""


def colors(n):
    """``n`` colours along viridis."""
    import matplotlib

    cmap = matplotlib.colormaps["viridis"]
    return [cmap(i / max(n - 1, 1)) for i in range(n)]


def mean_and_interval(entry: dict, level: float = LEVEL) -> tuple[np.ndarray, np.ndarray]:
    """Per gain: the mean of ``lambda_max_seeds`` and its Student-t interval at ``level``
    (:func:`experiments.common.stats.mean_interval`), shapes (gains,) and (gains, 2)."""
    stats = [mean_interval(row, level=level) for row in entry["lambda_max_seeds"]]
    return np.array([s["mean"] for s in stats]), np.array([s["ci"] for s in stats])


def interval_text(seeds: int, level: float = LEVEL) -> str:
    """``"95 % t-interval of the mean, 3 seeds"``."""
    return f"{level_text(level)} t-interval of the mean, {seeds} seeds"


def _errorbar(ax, entry: dict, **style) -> None:
    """Mean over seeds with its 95 % t-interval."""
    mean, ci = mean_and_interval(entry)
    ax.errorbar(entry["g"], mean, yerr=[mean - ci[:, 0], ci[:, 1] - mean], capsize=3, **style)


def lyapunov_spectra_panel(ax, lyap: dict) -> None:
    """lambda_i against i/N at several gains, without (solid) and with (dashed) input."""
    n, cols = lyap["n"], colors(len(lyap["gains"]))
    for label, ls in (("autonomous", "-"), ("driven", "--")):
        for i, g in enumerate(lyap["gains"]):
            ax.plot(np.arange(1, n + 1) / n, lyap["spectra"][label][i], color=cols[i], ls=ls,
                    label=f"g = {g:g}" if label == "autonomous" else None)
    ax.axhline(0, color="k", lw=0.8)
    ax.set_xlabel("i / N")
    ax.set_ylabel("Lyapunov exponent λ_i (nats / step)")
    ax.set_title(f"Spectrum of a random tanh RNN, N = {n}, first seed\n"
                 "(solid: no input, dashed: with input)", fontsize=10)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)


def lambda_max_panel(ax, lyap: dict) -> None:
    """lambda_max against g (mean over seeds, 95 % t-interval), the mean-field theory
    with and without input, and ln rho(W)."""
    theory = lyap["theory"]
    var = lyap["driven"]["input_variance"]
    for label, color in (("autonomous", "tab:blue"), ("driven", "tab:red")):
        name = "no input" if label == "autonomous" else f"with input, σ_u² = {var:g}"
        _errorbar(ax, lyap[label], color=color, marker="o", ls="none", label=f"measured, {name}")
        ax.plot(theory["g"], theory[label], color=color, lw=1.4,
                label=f"mean field ½ ln χ₁, {name}")
    grid = np.asarray(lyap["grid"])
    log_radius = np.log(np.asarray(lyap["spectral_radius"])).mean(1)
    below = log_radius <= 0.05
    ax.plot(grid[below], log_radius[below], "kx", ms=8, mew=1.8, zorder=5,
            label="ln ρ(W) of the drawn W (h = 0 stable, no input)")
    ax.axhline(0, color="k", lw=0.8)
    ax.axvline(1.0, color="gray", lw=0.8, ls=":")
    ax.set_xlabel("gain g  (W_ij ~ N(0, g²/N))")
    ax.set_ylabel("λ_max (nats / step)")
    seeds = len(lyap["autonomous"]["lambda_max_seeds"][0])
    ax.set_title(f"λ_max against g, N = {lyap['autonomous']['N']}: mean over seeds, bars "
                 f"{interval_text(seeds)};\nlines: mean-field theory (N → ∞)", fontsize=10)
    ax.legend(fontsize=7.5, loc="lower right")
    ax.grid(alpha=0.3)


def finite_size_panel(ax, lyap: dict) -> None:
    """Autonomous lambda_max against g at every N, with the mean-field line."""
    sizes = sorted(lyap["finite_size"], key=int)
    cols = colors(len(sizes))
    offsets = np.linspace(-0.012, 0.012, len(sizes)) if len(sizes) > 1 else [0.0]
    for color, size, dx in zip(cols, sizes, offsets, strict=True):
        entry = dict(lyap["finite_size"][size])
        entry["g"] = list(np.asarray(entry["g"]) + dx)  # side by side, bars stay readable
        _errorbar(ax, entry, color=color, marker="o", ms=4, lw=1, label=f"N = {size}")
    ax.plot(lyap["theory"]["g"], lyap["theory"]["autonomous"], color="k", lw=1.4,
            label="mean field (N → ∞)")
    ax.axhline(0, color="k", lw=0.8)
    ax.axvline(1.0, color="gray", lw=0.8, ls=":")
    ax.set_xlabel("gain g")
    ax.set_ylabel("λ_max (nats / step)")
    window = [v for size in sizes
              for g, m, ci in zip(lyap["finite_size"][size]["g"],
                                  *mean_and_interval(lyap["finite_size"][size]), strict=True)
              if ZOOM[0] - 0.1 <= g <= ZOOM[1] + 0.05 for v in (m, *ci)]
    theory = [t for g, t in zip(lyap["theory"]["g"], lyap["theory"]["autonomous"], strict=True)
              if ZOOM[0] - 0.1 <= g <= ZOOM[1] + 0.05]
    if window:
        lo, hi = min(window + theory), max(window + theory)
        ax.set_xlim(ZOOM[0] - 0.1, ZOOM[1] + 0.05)
        ax.set_ylim(lo - 0.1 * (hi - lo), hi + 0.1 * (hi - lo))
    seeds = len(lyap["finite_size"][sizes[0]]["lambda_max_seeds"][0])
    ax.set_title(f"Finite size, no input: λ_max vs g per N ({interval_text(seeds)})\n"
                 f"zoom on {ZOOM[0]:g} < g ≤ {ZOOM[1]:g}: mean field > 0 for every g > 1", fontsize=10)
    ax.legend(fontsize=8, loc="lower right")
    ax.grid(alpha=0.3)


def logistic_panel(ax, lyap: dict) -> None:
    """The logistic map's exponent against r, with ln 2 at r = 4."""
    lg = lyap["logistic"]
    ax.plot(lg["r"], lg["lambda"], color="tab:green", lw=0.8)
    ax.axhline(0, color="k", lw=0.8)
    at = lg.get("at_4")
    measured = (f"measured {at['lambda']:.5f} [{at['ci'][0]:.5f}, {at['ci'][1]:.5f}]\n"
                f"({at['level']:.0%} interval over {at['orbits']} orbits)" if at
                else f"measured {lg['lambda_at_4']:.4f} (one orbit)")
    ax.plot([4.0], [lg["ln2"]], "k*", ms=12,
            label=f"ln 2 = {lg['ln2']:.5f} (closed form)\n{measured}")
    ax.set_xlabel("growth rate r")
    ax.set_ylabel("λ (nats / step)")
    ax.set_title("Population growth x ← r x (1 − x):\nsensitivity to initial conditions", fontsize=10)
    ax.set_ylim(-2.0, 1.0)
    ax.legend(fontsize=8, loc="lower left")
    ax.grid(alpha=0.3)


def lyapunov_figure(lyap: dict, path: Path) -> str:
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 2, figsize=(13, 9.5))
    lyapunov_spectra_panel(axes[0, 0], lyap)
    lambda_max_panel(axes[0, 1], lyap)
    finite_size_panel(axes[1, 0], lyap)
    logistic_panel(axes[1, 1], lyap)
    fig.tight_layout()
    save_figure(fig, path)
    sizes = ", ".join(sorted(lyap["finite_size"], key=int))
    return ("Lyapunov spectra vs i/N; λ_max vs g with the mean-field theory ½ ln χ₁ with and "
            f"without input; λ_max vs g at N = {sizes}; the logistic map (ln 2 at r = 4)")
