"""Part ``clipping``: SGD in the exploding regime without and with gradient clipping.

A tanh RNN whose recurrent matrix starts at ``rho`` times its orthogonal default (rho > 1:
gradients explode) is trained on the adding problem with plain SGD, with global-norm clipping
g <- g min(1, c / ||g||) and with elementwise clipping g_i <- clip(g_i, -c, c) (Pascanu,
Mikolov & Bengio 2013). Their Fig. 6 is redrawn too: the loss (x_50 - 0.7)^2 of the one-unit
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


def run_clipping(cfg: ClippingConfig, seed: int, steps: int, workdir: Path) -> dict:
    """Training curves (loss and gradient norm before clipping, null where non-finite) per
    clipping mode, the first non-finite step, and the landscape. Training runs in
    ``<workdir>/runs/clip_<mode>`` (resumable)."""
    key = jax.random.fold_in(jax.random.key(seed), 6)
    out = {"length": cfg.length, "rho": cfg.rho, "baseline": adding.baseline(),
           "learning_rate": cfg.learning_rate, "runs": {}}
    model = adding_model("tanh", cfg.hidden_size)
    params = model.init(jax.random.fold_in(key, 1))
    params = params._replace(cell=params.cell._replace(w_h=cfg.rho * params.cell.w_h))
    for name, (clip, optimizer) in optimizers(cfg).items():
        _, history = train_adding(
            model, params, optimizer, workdir=workdir / "runs" / f"clip_{name}", steps=steps,
            length=cfg.length, batch_size=cfg.batch_size, key=jax.random.fold_in(key, 2),
            run_config={"clip": name, **clip, "rho": cfg.rho, "T": cfg.length,
                        "hidden": cfg.hidden_size, "lr": cfg.learning_rate,
                        "batch_size": cfg.batch_size, "seed": seed})
        curve = [[r["step"], _finite_or_none(r["loss"]), _finite_or_none(r["grad_norm"])]
                 for r in history if "loss" in r]
        bad = [c[0] for c in curve if c[1] is None or c[2] is None]
        out["runs"][name] = {"clip": clip, "curve": curve, "diverged_at": bad[0] if bad else None}
    out["landscape"] = landscape(cfg.landscape_points, cfg.clip_norm)
    return out
