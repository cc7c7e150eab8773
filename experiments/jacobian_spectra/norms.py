"""Parts ``norms`` and ``spectra``: the Jacobian product dh_t/dh_0 of each cell family.

For h_t = f(h_{t-1}, x_t) the product J_t = prod_{s=t..1} df/dh(h_{s-1}, x_s) gives the norm
||J_t||_2 (how a perturbation of h_0 grows or decays) and its singular values. A linear Elman
cell with W = rho Q (Q Haar orthogonal) has J_t = (rho Q)^t, so log ||J_t|| = t log rho exactly;
a saturating activation with |f'| <= gamma bounds it by t log(gamma sigma_max(W)) (Pascanu,
Mikolov & Bengio 2013).

Theory stored next to the measurements: for gated cells on zero input, h = 0 is a fixed point and
the product is exactly J^t with the closed-form zero-state Jacobian J
(:func:`rnnjax.analysis.mean_field.zero_state_norms`); for driven tanh cells, the mean-field
slope lambda_max = 1/2 ln chi_1 at gain g = rho and the drive's variance sigma_u^2 =
input_std^2 ||W_x||_F^2 / H (the variance of u = x W_x per unit, averaged over units).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

import rnnjax
from experiments.jacobian_spectra.config import NormsConfig, SpectraConfig
from rnnjax import analysis
from rnnjax.analysis.mean_field import mean_field_lyapunov, zero_state_jacobian, zero_state_norms

ACTIVATIONS = {"linear": lambda z: z, "tanh": jnp.tanh, "sigmoid": jax.nn.sigmoid}
SPECTRA_FAMILIES = ("linear_orth", "linear_gauss", "tanh_orth", "tanh_gauss")
GATED = ("lstm_fb0", "lstm_fb1", "gru")
FLOOR_DECADES = 15.0  # float64 keeps ~16 decades: smaller singular values are rounding noise


def family_cell(family: str, hidden: int) -> rnnjax.Cell:
    """The cell of a family: ``{linear,tanh,sigmoid}_{orth,gauss}``, ``lstm_fb{0,1}`` or ``gru``."""
    kind = family.split("_")[0]
    if kind in ACTIVATIONS:
        return rnnjax.cells.elman(hidden, activation=ACTIVATIONS[kind])
    if family in ("lstm_fb0", "lstm_fb1"):
        return rnnjax.cells.lstm(hidden, forget_bias=float(family[-1]))
    if family == "gru":
        return rnnjax.cells.gru(hidden)
    raise ValueError(f"unknown family {family!r}")


def _scaled_blocks(w_h: jax.Array, rho) -> jax.Array:
    """Scale every (H, H) gate block of W_h (shape (H, G*H)) to spectral radius ``rho``."""
    H = w_h.shape[0]
    blocks = w_h.reshape(H, -1, H).transpose(1, 0, 2)  # (G, H, H): one batched eig
    scaled = jax.vmap(lambda w: rnnjax.init.scale_spectral_radius(w, 1.0))(blocks) * rho
    return scaled.transpose(1, 0, 2).reshape(H, -1)


def family_params(family: str, cell: rnnjax.Cell, key, input_size: int, rho):
    """The cell's default parameters with the recurrent matrix at spectral radius ``rho``.

    ``_orth``: W = rho Q, Q Haar orthogonal; ``_gauss``: W_ij ~ N(0, 1/H) rescaled to spectral
    radius rho; gated cells: each gate block of their default W_h rescaled to rho.
    """
    k_init, k_w = jax.random.split(key)
    params = cell.init(k_init, input_size)
    H = params.w_h.shape[0]
    if family.endswith("_orth"):
        return params._replace(w_h=rho * rnnjax.init.orthogonal()(k_w, (H, H)))
    if family.endswith("_gauss"):
        w = jax.random.normal(k_w, (H, H)) / math.sqrt(H)
        return params._replace(w_h=rnnjax.init.scale_spectral_radius(w, 1.0) * rho)
    return params._replace(w_h=_scaled_blocks(params.w_h, rho))


def run_norms(cfg: NormsConfig, seed: int) -> dict:
    """log ||dh_t/dh_0||_2 for t = 1..T: per family, input (zero, driven), rho and seed."""
    T, H, I = cfg.length, cfg.hidden_size, cfg.input_size
    rhos = jnp.asarray(cfg.rhos)
    keys = jax.random.split(jax.random.fold_in(jax.random.key(seed), 1), cfg.seeds)
    xs_driven = cfg.input_std * jax.random.normal(
        jax.random.fold_in(jax.random.key(seed), 2), (cfg.seeds, T, I))
    inputs = {"zero": jnp.zeros_like(xs_driven), "driven": xs_driven}
    out = {"t": list(range(1, T + 1)), "rhos": list(cfg.rhos), "hidden": H,
           "input_std": cfg.input_std, "families": {}}
    for family in cfg.families:
        cell = family_cell(family, H)

        def one(key, rho, xs, family=family, cell=cell):
            params = family_params(family, cell, key, I, rho)
            sigma_max = jnp.linalg.norm(params.w_h, 2)
            return analysis.log_jacobian_norms(cell, params, xs, method="dense"), sigma_max

        batched = jax.jit(jax.vmap(jax.vmap(one, (None, 0, None)), (0, None, 0)))
        entry = {}
        for name, xs in inputs.items():
            log_norms, sigma_max = batched(keys, rhos, xs)  # (seeds, rhos, T), (seeds, rhos)
            entry[name] = np.round(np.asarray(log_norms).transpose(1, 0, 2), 4).tolist()
        entry["sigma_max"] = np.asarray(sigma_max).T.tolist()  # (rhos, seeds)
        entry.update(_theory(family, cell, keys, cfg))
        out["families"][family] = entry
    return out


def _theory(family: str, cell, keys, cfg: NormsConfig) -> dict:
    """Gated cells: the exact log ||J^t|| at h = 0 and the spectral radius of J, (rhos, seeds[, T]).
    tanh cells: the drive's variance per seed and the mean-field lambda_max per rho."""
    params = [[family_params(family, cell, key, cfg.input_size, rho) for key in keys]
              for rho in cfg.rhos]
    if family in GATED:
        exact = [[np.round(np.log(zero_state_norms(p, cfg.length)), 4).tolist() for p in row]
                 for row in params]
        radius = [[float(np.max(np.abs(np.linalg.eigvals(zero_state_jacobian(p))))) for p in row]
                  for row in params]
        return {"exact_zero": exact, "jacobian_radius": radius}
    if family.startswith("tanh"):
        hidden = cfg.hidden_size
        var = [cfg.input_std**2 * float(np.sum(np.asarray(p.w_x, float) ** 2)) / hidden
               for p in params[0]]
        slope = mean_field_lyapunov(np.asarray(cfg.rhos), float(np.mean(var))).lambda_max
        return {"input_variance": var, "mean_field": slope.tolist()}
    return {}


def run_spectra(cfg: SpectraConfig, seed: int) -> dict:
    """log10 singular values of dh_t/dh_0 at ``cfg.times`` in float64, per family, rho and seed:
    ``log10_sv[family]`` has shape (rhos, seeds, times, H), descending along the last axis.

    Linear cells run on zero input (their Jacobian does not depend on it), tanh cells on a
    driven input. A seed's W is the same matrix at every rho (rescaled). Values more than
    ``FLOOR_DECADES`` below the largest are at the rounding floor and recorded as null.
    """
    H, T = cfg.hidden_size, max(cfg.times)
    key = jax.random.fold_in(jax.random.key(seed), 3)
    out = {"times": list(cfg.times), "rhos": list(cfg.rhos), "seeds": cfg.seeds, "hidden": H,
           "input_std": cfg.input_std, "floor_decades": FLOOR_DECADES, "log10_sv": {}}
    with jax.enable_x64(True):
        for family in SPECTRA_FAMILIES:
            cell = family_cell(family, H)
            rows = []
            for rho in cfg.rhos:
                per_seed = []
                for s in range(cfg.seeds):
                    k = jax.random.fold_in(key, s)
                    xs = cfg.input_std * jax.random.normal(
                        jax.random.fold_in(k, 0), (T, cfg.input_size), jnp.float64)
                    params = family_params(family, cell, jax.random.fold_in(k, 1),
                                           cfg.input_size, rho)
                    params = analysis.astype(params, jnp.float64)
                    inputs = jnp.zeros_like(xs) if family.startswith("linear") else xs
                    log_sv = np.asarray(analysis.jacobian_singular_values(
                        cell, params, inputs, at=cfg.times)) / np.log(10.0)
                    log_sv = np.where(log_sv >= log_sv[:, :1] - FLOOR_DECADES, log_sv, np.nan)
                    per_seed.append([[None if np.isnan(v) else round(float(v), 4) for v in row]
                                     for row in log_sv])
                rows.append(per_seed)
            out["log10_sv"][family] = rows
    return out
