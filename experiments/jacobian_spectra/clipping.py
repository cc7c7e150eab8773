"""Part ``clipping``: SGD in the exploding regime without and with gradient clipping.

A tanh RNN whose recurrent matrix starts at ``rho`` times its orthogonal default (rho > 1:
gradients explode) is trained on the adding problem with plain SGD, with global-norm clipping
g <- g min(1, c / ||g||) and with elementwise clipping g_i <- clip(g_i, -c, c) (Pascanu,
Mikolov & Bengio 2013); a control starts at ``control_rho`` <= 1 with the same learning rate
and seeds, so that a divergence can be told apart from the learning rate's own instability.
Their Fig. 6 is redrawn too: the loss (x_50 - 0.7)^2 of the one-unit
network x_t = w sigmoid(x_{t-1}) + b over (w, b), whose cliff throws an unclipped gradient step
far away, and the gradient-descent paths with and without clipping.
"""

from __future__ import annotations

import math
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax

import rnnjax
from experiments.jacobian_spectra.config import ClippingConfig
from experiments.jacobian_spectra.training import adding_model, train_adding
from rnnjax.tasks import adding
from rnnjax.train import sweep

UNIT_STEPS, UNIT_TARGET, UNIT_X0 = 50, 0.7, 0.5  # the one-unit network of Pascanu et al.
W_RANGE, B_RANGE = (-1.0, 12.0), (-10.0, 2.0)  # the landscape's axes
PATH_START, PATH_STEPS, PATH_LEARNING_RATE = (7.0, -4.2), 40, 0.5


def _finite_or_none(x):
    x = float(x)
    return x if math.isfinite(x) else None


def optimizers(cfg: ClippingConfig) -> dict[str, tuple[dict, optax.GradientTransformation]]:
    """``name -> (clipping settings, SGD with that clipping)``."""
    sgd = optax.sgd(cfg.learning_rate)
    return {
        "none": ({}, sgd),
        "norm": ({"clip_norm": cfg.clip_norm}, optax.chain(optax.clip_by_global_norm(cfg.clip_norm), sgd)),
        "elementwise": ({"clip_value": cfg.clip_value}, optax.chain(optax.clip(cfg.clip_value), sgd)),
    }


def one_unit(w, b, steps: int = UNIT_STEPS):
    """x_steps of x_t = w sigmoid(x_{t-1}) + b from x_0 = 0.5 (Pascanu et al. 2013, Fig. 6).

    Written with the one-unit sigmoid Elman cell y_t = sigmoid(w y_{t-1} + b), y = sigmoid(x):
    x_steps = w y_{steps-1} + b.
    """
    cell = rnnjax.cells.elman(1, activation=jax.nn.sigmoid)
    params = rnnjax.cells.ElmanParams(jnp.zeros((1, 1)), jnp.reshape(w, (1, 1)), jnp.reshape(b, (1,)))
    y0 = jax.nn.sigmoid(jnp.full((1,), UNIT_X0))
    y, _ = rnnjax.unroll(cell, params, jnp.zeros((steps - 1, 1)), carry=y0)
    return w * y[0] + b


def unit_loss(theta):
    return (one_unit(theta[0], theta[1]) - UNIT_TARGET) ** 2


def landscape(points: int, clip_norm: float) -> dict:
    """log10 of the one-unit loss on a grid, and gradient-descent paths without and with
    global-norm clipping at ``clip_norm``."""
    ws, bs = np.linspace(*W_RANGE, points), np.linspace(*B_RANGE, points)
    grid = jnp.stack(jnp.meshgrid(jnp.asarray(ws), jnp.asarray(bs), indexing="xy"), axis=-1)
    loss_grid = jax.jit(jax.vmap(jax.vmap(unit_loss)))(grid)
    grad = jax.jit(jax.grad(unit_loss))
    paths = {}
    for name, threshold in (("none", None), ("norm", clip_norm)):
        theta = jnp.array(PATH_START)
        path = [theta.tolist()]
        for _ in range(PATH_STEPS):
            g = grad(theta)
            gn = jnp.linalg.norm(g)
            if threshold is not None:
                g = jnp.where(gn > threshold, g * threshold / gn, g)
            theta = theta - PATH_LEARNING_RATE * g
            path.append(np.asarray(theta).tolist())
        paths[name] = path
    return {"w": ws.tolist(), "b": bs.tolist(), "steps": UNIT_STEPS, "target": UNIT_TARGET,
            "log10_loss": np.round(np.log10(np.asarray(loss_grid) + 1e-12), 3).tolist(),
            "paths": paths, "learning_rate": PATH_LEARNING_RATE, "clip_norm": clip_norm}


def _members(cfg: ClippingConfig):
    """The (rho, seed) pairs trained together, exploding regime first."""
    return [(rho, s) for rho in (cfg.rho, cfg.control_rho) for s in range(cfg.seeds)]


def first_nonfinite(history: list[dict], member: int):
    """The first update (1-based) of ``member`` whose loss, gradient or update was not finite
    (the training loop skipped it), or None. Needs a record at every update."""
    for r in history:
        if "finite" in r and not r["finite"][member]:
            return r["step"]
    return None


def _rounded(xs) -> list:
    return [None if x is None else float(f"{x:.4g}") for x in map(_finite_or_none, xs)]


def run_clipping(cfg: ClippingConfig, seed: int, steps: int, workdir: Path) -> dict:
    """Every update's loss and gradient norm (before clipping; null where non-finite) per
    clipping mode, initial spectral radius (``cfg.rho`` and the control ``cfg.control_rho``)
    and seed, each run's first non-finite update, and the landscape. The runs of one mode
    train as one sweep in ``<workdir>/runs/clip_<mode>`` (resumable)."""
    key = jax.random.fold_in(jax.random.key(seed), 6)
    members = _members(cfg)
    model = adding_model("tanh", cfg.hidden_size)

    params, keys = scaled_members(model, key, members)
    out = {"length": cfg.length, "rhos": [cfg.rho, cfg.control_rho], "seeds": cfg.seeds,
           "baseline": adding.baseline(), "learning_rate": cfg.learning_rate, "runs": {}}
    for name, (clip, optimizer) in optimizers(cfg).items():
        _, history = train_adding(
            model, params, optimizer, workdir=workdir / "runs" / f"clip_{name}", steps=steps,
            length=cfg.length, batch_size=cfg.batch_size, keys=keys, log_every=1,
            run_config={"clip": name, **clip, "members": [list(m) for m in members], "T": cfg.length,
                        "hidden": cfg.hidden_size, "lr": cfg.learning_rate,
                        "batch_size": cfg.batch_size, "seed": seed})
        rows = [r for r in history if "loss" in r]
        per_rho = {}
        for rho in out["rhos"]:
            idx = [i for i, (r, _) in enumerate(members) if r == rho]
            per_rho[f"{rho:g}"] = {
                "loss": [_rounded(r["loss"][i] for r in rows) for i in idx],
                "grad_norm": [_rounded(r["grad_norm"][i] for r in rows) for i in idx],
                "diverged_at": [first_nonfinite(rows, i) for i in idx]}
        out["runs"][name] = {"clip": clip, "steps": [r["step"] for r in rows], "rho": per_rho}
    out["landscape"] = landscape(cfg.landscape_points, cfg.clip_norm)
    return out


def scaled_members(model, key, members):
    """Stacked initial params and per-run keys of a sweep over ``(rho, seed)`` members: seed s
    draws the network, whose recurrent matrix is scaled to ``rho`` times its initial one."""
    def initial(rho, s):
        p = model.init(jax.random.fold_in(jax.random.fold_in(key, 1), s))
        return p._replace(cell=p.cell._replace(w_h=rho * p.cell.w_h))

    params = sweep.stack_trees([initial(rho, s) for rho, s in members])
    keys = jnp.stack([jax.random.fold_in(jax.random.fold_in(key, 2), s) for _, s in members])
    return params, keys
