"""The README's table: each classic result, the paper's claim, the measured number and a verdict,
all computed from the part files ``<part>.json`` of one results folder."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from experiments.common import read_json

GAMMA = {"tanh": 1.0, "sigmoid": 0.25}  # max |f'| (Pascanu et al. 2013)
PLATEAU = (1.0, 1.5)  # gains g in (1, 1.5]: the autonomous plateau
ORBIT = 0.01  # |lambda_max| below this (nats / step): a regular orbit, not chaos


def _nan(rows) -> np.ndarray:
    """Nested lists with nulls -> a float array with nans."""
    if isinstance(rows, list):
        return np.asarray([_nan(r) for r in rows], dtype=float)
    return np.nan if rows is None else float(rows)


def _yes(ok: bool) -> str:
    return "yes" if ok else "**no**"


def linear_error(norms: dict) -> float:
    """max |log ||J_t|| - t log rho| of the linear W = rho Q family on zero input (nan if absent)."""
    if "linear_orth" not in norms["families"]:
        return float("nan")
    t = np.asarray(norms["t"], dtype=float)
    lin = norms["families"]["linear_orth"]["zero"]
    return max(float(np.max(np.abs(np.asarray(lin[i]) - t[None, :] * math.log(r))))
               for i, r in enumerate(norms["rhos"]))


def gated_exact_error(norms: dict) -> float:
    """max |measured - exact| of log ||J^t|| for the gated cells on zero input (nan if none)."""
    errs = [np.max(np.abs(np.asarray(e["zero"]) - np.asarray(e["exact_zero"])))
            for e in norms["families"].values() if "exact_zero" in e]
    return float(max(errs)) if errs else float("nan")


def pascanu_excess(norms: dict) -> tuple[float, float]:
    """Over tanh and sigmoid cells, both inputs, every rho, seed and t: the largest
    log ||J_t|| - t log(gamma sigma_max(W)) (<= 0 when the bound holds), and the median of it
    at the last step (how far below the bound the product ends), in decades."""
    t = np.asarray(norms["t"], dtype=float)
    worst, last = -np.inf, []
    for family, e in norms["families"].items():
        kind = family.split("_")[0]
        if kind not in GAMMA:
            continue
        bound = t * np.log(GAMMA[kind] * np.asarray(e["sigma_max"]))[..., None]  # (rhos, seeds, T)
        for inp in ("zero", "driven"):
            gap = (np.asarray(e[inp]) - bound) / math.log(10.0)
            worst = max(worst, float(gap.max()))
            last.append(gap[..., -1].ravel())
    return worst, float(np.median(np.concatenate(last)))


def gated_decay(norms: dict, rho: float = 1.0) -> dict[str, float]:
    """log10 ||J_T|| on driven input at ``rho`` (median over seeds), per family present."""
    if rho not in norms["rhos"]:
        return {}
    i = norms["rhos"].index(rho)
    return {f: float(np.median(np.asarray(e["driven"][i])[:, -1])) / math.log(10.0)
            for f, e in norms["families"].items()}


def plateau_gaps(lyap: dict) -> dict[int, tuple[float, float]]:
    """Per N, over the gains in (1, 1.5]: the mean of mean field minus measured autonomous
    lambda_max, and the fraction of runs (gain, seed) with |lambda_max| < ``ORBIT`` (a fixed
    point, a limit cycle or a torus: no chaos)."""
    out = {}
    for n, e in lyap["finite_size"].items():
        g = np.asarray(e["g"])
        band = (g > PLATEAU[0]) & (g <= PLATEAU[1])
        gap = np.mean(np.asarray(e["mean_field"])[band] - np.asarray(e["lambda_max"])[band])
        seeds = np.asarray(e["lambda_max_seeds"])[band]
        out[int(n)] = (float(gap), float(np.mean(np.abs(seeds) < ORBIT)))
    return dict(sorted(out.items()))


def clipping_outcomes(clip: dict) -> dict[tuple[str, float], tuple[int, float]]:
    """Per (mode, rho): runs with a non-finite update, and the median over seeds of the mean
    loss over the last tenth of training (nan when a run is non-finite there)."""
    out = {}
    for mode, run in clip["runs"].items():
        for rho in clip["rhos"]:
            r = run["rho"][f"{rho:g}"]
            loss = _nan(r["loss"])
            tail = loss[:, -max(loss.shape[1] // 10, 1):]
            out[mode, rho] = (sum(d is not None for d in r["diverged_at"]),
                              float(np.median(np.mean(tail, axis=1))))
    return out


def readme_table(folder) -> str:
    """Markdown: each classic result, the paper's number, the measured one and a verdict."""
    folder = Path(folder)
    norms, lyap, flow, clip = (read_json(folder / n) for n in
                               ("norms.json", "lyapunov.json", "flow.json", "clipping.json"))
    rows = []
    err = linear_error(norms)
    rows.append(("linear RNN, W = ρQ: ‖∂h_t/∂h_0‖ = ρ^t", "exact", f"max log error {err:.1e}",
                 _yes(err < 1e-2)))
    err = gated_exact_error(norms)
    rows.append(("LSTM/GRU at h = 0, zero input: ‖J^t‖ of the closed-form J", "exact",
                 f"max log error {err:.1e}", _yes(err < 1e-2)))
    worst, last = pascanu_excess(norms)
    rows.append(("Pascanu et al. 2013: ‖∂h_t/∂h_0‖ ≤ (γ σ_max(W))^t, tanh γ = 1, sigmoid ¼",
                 "bound", f"largest excess {worst:+.1e} decades; at t = {norms['t'][-1]} the "
                 f"median product lies {-last:.1f} decades below it", _yes(worst <= 1e-3)))
    decay = gated_decay(norms)
    if {"tanh_orth", "lstm_fb1", "gru"} <= decay.keys():
        names = {"tanh_orth": "tanh", "lstm_fb0": "LSTM b_f = 0", "lstm_fb1": "LSTM b_f = 1",
                 "gru": "GRU"}
        text = ", ".join(f"{names[f]} {decay[f]:.1f}" for f in names if f in decay)
        rows.append(("Hochreiter & Schmidhuber 1997, Cho et al. 2014: gated cells decay slower "
                     f"than tanh (log₁₀‖J_T‖, T = {norms['t'][-1]}, driven, ρ = 1)",
                     "gated > tanh", text,
                     _yes(decay["lstm_fb1"] > decay["tanh_orth"] and decay["gru"] > decay["tanh_orth"])))
    drv = lyap["driven"]
    gap = float(np.max(np.abs(np.asarray(drv["lambda_max"]) - np.asarray(drv["mean_field"]))))
    g = np.asarray(drv["g"])
    rows.append((f"Molgedey et al. 1992, Poole et al. 2016: λ_max = ½ ln χ₁ with input "
                 f"(σ_u² = {drv['input_variance']:g}, N = {drv['N']}, g ∈ [{g.min():g}, {g.max():g}])",
                 "exact as N → ∞", f"max gap {gap:.3f}", _yes(gap < 0.05)))
    gaps = plateau_gaps(lyap)
    gap = [v[0] for v in gaps.values()]
    shrinks = all(b < a for a, b in zip(gap, gap[1:], strict=False))
    rows.append(("Sompolinsky et al. 1988: λ_max > 0 for every g > 1 without input; the finite-N "
                 "plateau at λ ≈ 0 should shrink with N (mean field − measured, mean over "
                 f"1 < g ≤ 1.5; in brackets the share of runs with \\|λ_max\\| < {ORBIT:g}, regular "
                 "orbits)", "→ 0 as N → ∞",
                 "; ".join(f"N = {n}: {v:+.3f} ({f:.0%})" for n, (v, f) in gaps.items()),
                 "shrinks with N" if shrinks else "**does not shrink monotonically**"))
    lam4 = lyap["logistic"]["lambda_at_4"]
    rows.append(("logistic map: λ(r = 4) = ln 2", f"{math.log(2):.4f}", f"{lam4:.4f}",
                 _yes(abs(lam4 - math.log(2)) < 0.01)))
    init = {k: float(np.median(np.asarray(flow["models"][k]["init"])[:, -1])) for k in ("tanh", "lstm")}
    mse = {k: np.asarray(flow["models"][k]["test_mse"]) for k in ("tanh", "lstm")}
    rows.append((f"adding T = {flow['length']} (Hochreiter & Schmidhuber 1997): the gradient "
                 "reaches lag T in an LSTM, not in a tanh RNN; the LSTM learns",
                 "LSTM ≫ tanh",
                 f"‖∂L/∂h‖ at lag T at init {init['tanh']:.1e} (tanh) vs {init['lstm']:.1e} (LSTM); "
                 f"test MSE {np.median(mse['tanh']):.3f} vs {np.median(mse['lstm']):.4f} "
                 f"(median of {flow['seeds']} seeds; baseline 1/6)",
                 _yes(init["lstm"] > init["tanh"] and np.median(mse["lstm"]) < np.median(mse["tanh"]))))
    out = clipping_outcomes(clip)
    rho, control = clip["rhos"]
    seeds = clip["seeds"]
    text = "; ".join(
        f"{mode} from ρ = {r:g}: " + (f"{n}/{seeds} non-finite" if n else f"loss {loss:.3f}")
        for (mode, r), (n, loss) in out.items())
    learned = out["norm", rho][0] == 0 and out["norm", rho][1] < clip["baseline"]
    rows.append((f"Pascanu et al. 2013: clipping lets SGD learn in the exploding regime (W = {rho:g}Q, "
                 f"control {control:g}Q, lr {clip['learning_rate']:g}, adding T = {clip['length']}; "
                 "loss: mean of the last tenth, median of seeds)",
                 "unclipped diverges, clipped learns", text,
                 _yes(out["none", rho][0] > 0 and learned)))
    lines = ["| result | paper / theory | measured | reproduced |", "| --- | --- | --- | --- |"]
    lines += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows]
    return "\n".join(lines) + "\n"
