"""Part ``clipping_sweep``: does clipping, not a smaller step, keep SGD finite when gradients
explode (Pascanu, Mikolov & Bengio 2013)?

A tanh RNN whose recurrent matrix starts at ρ times its orthogonal default is trained on the
adding problem with SGD at every learning rate × ρ × clipping mode (none, global norm
``g ← g min(1, c/‖g‖)``, elementwise ``g_i ← clip(g_i, −c, c)``), ``seeds`` runs each. ρ = 1 is
the control: a learning rate at which unclipped training from ρ = 1 never diverges is *stable*,
and only at stable rates can a divergence from ρ > 1 be told apart from the step size's own
instability. Per cell: the fraction of runs that diverged (a non-finite loss, gradient or update)
and the fraction that learned (mean loss over the last tenth ≤ ``success`` × the baseline 1/6),
each with its Wilson interval.

Every (mode, rate) trains as one sweep (all ρ and seeds) and is a part of its own,
``<workdir>/<parts>/clipping_sweep/<mode>_lr<rate>.json``, reused whenever its settings match.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jax
import numpy as np
import optax

from experiments.common import cached_part, say
from experiments.common.stats import wilson_interval
from experiments.jacobian_spectra.clipping import _rounded, first_nonfinite, scaled_members
from experiments.jacobian_spectra.training import adding_model, train_adding
from rnnjax.tasks import adding

CURVE_POINTS = 50
"""Points kept of each run's loss curve (means over equal windows)."""


def optimizer(mode: str, lr: float, cfg) -> optax.GradientTransformation:
    """SGD at ``lr`` after the clipping ``mode``."""
    clip = {"none": optax.identity(), "norm": optax.clip_by_global_norm(cfg.clip_norm),
            "elementwise": optax.clip(cfg.clip_value)}[mode]
    return optax.chain(clip, optax.sgd(lr))


def train_cell(cfg, mode: str, lr: float, seed: int, steps: int, workdir: Path) -> dict:
    """Every ρ and seed at one (mode, rate): per run the first non-finite update, the tail loss
    and a thinned loss curve."""
    key = jax.random.fold_in(jax.random.key(seed), 16)
    members = [(rho, s) for rho in cfg.rhos for s in range(cfg.seeds)]
    model = adding_model("tanh", cfg.hidden_size)

    params, keys = scaled_members(model, key, members)
    _, history = train_adding(
        model, params, optimizer(mode, lr, cfg), workdir=workdir / "runs" / f"sweep_{mode}_{lr:g}",
        steps=steps, length=cfg.length, batch_size=cfg.batch_size, keys=keys, log_every=1,
        run_config={"clip": mode, "lr": lr, "members": [list(m) for m in members],
                    "T": cfg.length, "hidden": cfg.hidden_size, "batch_size": cfg.batch_size,
                    "clip_norm": cfg.clip_norm, "clip_value": cfg.clip_value, "seed": seed})
    rows = [r for r in history if "loss" in r]
    loss = np.array([[np.nan if x is None else x for x in _rounded(r["loss"][i] for r in rows)]
                     for i in range(len(members))])
    tail = loss[:, -max(loss.shape[1] // 10, 1):].mean(1)
    curve = np.nanmean(loss[:, : loss.shape[1] // CURVE_POINTS * CURVE_POINTS]
                       .reshape(len(members), CURVE_POINTS, -1), axis=2) \
        if loss.shape[1] >= CURVE_POINTS else loss
    return {"members": [list(m) for m in members],
            "diverged_at": [first_nonfinite(rows, i) for i in range(len(members))],
            "tail_loss": _rounded(tail), "curve": [_rounded(c) for c in curve]}


def summarise(cell: dict, rhos, seeds: int, success: float, level: float) -> dict[str, Any]:
    """Per ρ: diverged and learned counts with Wilson intervals, the median tail loss."""
    out = {}
    base = adding.baseline()
    for rho in rhos:
        idx = [i for i, (r, _) in enumerate(cell["members"]) if r == rho]
        div = sum(cell["diverged_at"][i] is not None for i in idx)
        ok = sum(cell["diverged_at"][i] is None and cell["tail_loss"][i] is not None
                 and cell["tail_loss"][i] <= success * base for i in idx)
        tails = [cell["tail_loss"][i] for i in idx if cell["tail_loss"][i] is not None]
        out[f"{rho:g}"] = {"runs": len(idx), "diverged": div,
                           "diverged_ci": list(wilson_interval(div, len(idx), level=level)[1:]),
                           "learned": ok,
                           "learned_ci": list(wilson_interval(ok, len(idx), level=level)[1:]),
                           "tail_loss_median": float(np.median(tails)) if tails else None}
    return out


def run_clipping_sweep(cfg, seed: int, steps: int, workdir: Path) -> dict[str, Any]:
    """``clipping_sweep.json``: per mode, rate and ρ the outcome counts and loss curves; the
    stable rates (no unclipped divergence from ρ = 1)."""
    folder = Path(workdir) / cfg.parts / "clipping_sweep"
    out = {"length": cfg.length, "rhos": list(cfg.rhos), "seeds": cfg.seeds, "steps": steps,
           "learning_rates": list(cfg.learning_rates), "baseline": adding.baseline(),
           "success": cfg.success, "level": cfg.level, "cells": {}}
    for mode in cfg.modes:
        for lr in cfg.learning_rates:
            settings = {"seed": seed, "mode": mode, "lr": lr, "steps": steps,
                        **{k: getattr(cfg, k) for k in ("length", "hidden_size", "rhos", "seeds",
                                                        "batch_size", "clip_norm", "clip_value")}}
            cell = cached_part(folder, f"{mode}_lr{lr:g}", settings,
                               lambda m=mode, r=lr: train_cell(cfg, m, r, seed, steps, workdir),
                               compact=True, trust_committed=True)
            out["cells"][f"{mode}/{lr:g}"] = {
                "mode": mode, "lr": lr, "curve": cell["curve"], "members": cell["members"],
                "rho": summarise(cell, cfg.rhos, cfg.seeds, cfg.success, cfg.level)}
            say(f"clipping_sweep: {mode} lr {lr:g} done")
    control = f"{min(cfg.rhos):g}"
    out["control_rho"] = min(cfg.rhos)
    out["stable_rates"] = [lr for lr in cfg.learning_rates if f"none/{lr:g}" in out["cells"]
                           and out["cells"][f"none/{lr:g}"]["rho"][control]["diverged"] == 0]
    return out
