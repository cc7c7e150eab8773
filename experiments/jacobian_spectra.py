"""Jacobian spectral norms through time: vanishing and exploding gradients, Lyapunov spectra, clipping.

The first headline study (STUDIES.md part A). Five parts, each a JSON table and a figure:

1. ``norms``: log ||dh_t/dh_0||_2 against t for rho in {0.5, 0.9, 1.0, 1.1, 1.5}, for linear, tanh
   and sigmoid Elman (orthogonal W = rho Q and Gaussian W scaled to spectral radius rho), LSTM
   (forget bias 0 and 1) and GRU, zero and driven input, seed bands, with the theory lines
   (rho^t; Pascanu et al. 2013's bound (gamma sigma_max(W))^t).
2. ``flow``: ||dL/dh_{T-tau}|| against the lag tau at initialisation and after training on the
   adding problem, tanh RNN against LSTM.
3. ``spectra``: singular-value histograms of the Jacobian product at several t, orthogonal
   against Gaussian W.
4. ``lyapunov``: Lyapunov spectrum against i/N of a random tanh RNN at several gains g, and
   lambda_max against g (the edge of chaos near g = 1) with and without input; plus the lecture's
   population-growth (logistic) map, whose exponent at r = 4 is ln 2.
5. ``clipping``: training loss of a tanh RNN in the exploding regime without clipping, with
   global-norm clipping and with elementwise clipping; and Pascanu et al.'s one-unit RNN loss
   landscape with its cliff and the gradient-descent paths with and without clipping.

    python -m experiments.jacobian_spectra --quick        # a few minutes on 2 CPU cores
    python -m experiments.jacobian_spectra                # the paper-scale figures
    python -m experiments.jacobian_spectra --plot-only    # redraw from the saved JSON

Training runs (parts 2 and 5) keep Orbax checkpoints in ``<workdir>/train/*/checkpoints/``
(git-ignored); rerunning the same command resumes them.
"""

from __future__ import annotations

import dataclasses
import math
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

import rnnjax
import rnnjax.train as tr
from experiments._common import (
    UserError,
    cached_part,
    cli,
    positive,
    read_json,
    require_positive,
    require_subset,
    save_figure,
    write_index,
    write_json,
)
from rnnjax import analysis
from rnnjax.models.sequence import sequence_model
from rnnjax.tasks import adding

FAMILIES = ("linear_orth", "linear_gauss", "tanh_orth", "tanh_gauss", "sigmoid_orth",
            "sigmoid_gauss", "lstm_fb0", "lstm_fb1", "gru")
LABELS = {
    "linear_orth": "linear Elman, W = ρQ", "linear_gauss": "linear Elman, Gaussian W",
    "tanh_orth": "tanh Elman, W = ρQ", "tanh_gauss": "tanh Elman, Gaussian W",
    "sigmoid_orth": "sigmoid Elman, W = ρQ", "sigmoid_gauss": "sigmoid Elman, Gaussian W",
    "lstm_fb0": "LSTM, forget bias 0", "lstm_fb1": "LSTM, forget bias 1", "gru": "GRU",
}
GAMMA = {"linear": 1.0, "tanh": 1.0, "sigmoid": 0.25}  # max |act'| (Pascanu et al. 2013)


@dataclasses.dataclass(frozen=True)
class Config:
    """Jacobian norms, spectra, gradient flow, Lyapunov spectra and clipping (STUDIES.md A).

    Reproduces: the exact rho^t law of a linear RNN with W = rho Q; the non-normal transient and
    slope log rho of Gaussian W; tanh/sigmoid decaying at least as fast as Pascanu et al.'s bound
    (gamma sigma_max(W))^t and saturating instead of exploding for rho > 1; slower decay of
    LSTM/GRU; Lyapunov spectra of random tanh networks with lambda_max crossing 0 near g = 1
    (input pushes the crossing to larger g); the logistic map's ln 2 at r = 4; clipping
    stabilising training in the exploding regime.

    Command: ``python -m experiments.jacobian_spectra [--quick]``.
    Expected: linear/orthogonal curves on rho^t to float precision; autonomous lambda_max(g) =
    ln rho(W) while h = 0 is stable (rho(W) ~ g for large N), > 0 in the chaotic regime; logistic
    lambda(4) = 0.693 = ln 2; unclipped SGD diverging (non-finite) where clipped SGD stays finite.
    Runtime: --quick about 3 minutes, the full preset about 10 minutes on 2 CPU cores (measured;
    committed in results/jacobian_spectra_full).

    Conventions: gated cells get every H x H gate block of W_h scaled to spectral radius rho; the
    "driven" input is x_t ~ N(0, input_std^2) per component through the cell's own W_x; norms
    use the dense method (exact) at these sizes; the gradient flow is the norm of
    dL/dh_{T-tau} for the MSE at the last step, averaged over ``flow_samples`` sequences.
    """

    seed: int = 0
    # part 1: norms through time
    families: tuple[str, ...] = FAMILIES
    hidden_size: int = 64
    length: int = 300
    rhos: tuple[float, ...] = (0.5, 0.9, 1.0, 1.1, 1.5)
    seeds: int = 5
    input_size: int = 4
    input_std: float = 1.0
    # part 3: singular-value spectra
    spectrum_hidden: int = 128
    spectrum_rho: float = 1.0
    spectrum_times: tuple[int, ...] = (1, 10, 50, 200)
    # part 4: Lyapunov
    lyap_hidden: int = 100
    lyap_steps: int = 2000
    lyap_warmup: int = 500
    lyap_gains: tuple[float, ...] = (0.5, 1.0, 1.5, 2.0, 3.0)
    lyap_gain_grid: tuple[float, ...] = (0.5, 0.7, 0.9, 1.0, 1.1, 1.2, 1.4, 1.7, 2.0, 2.5, 3.0)
    lyap_seeds: int = 3
    lyap_input_std: float = 0.5
    logistic_points: int = 400
    # part 2: gradient flow on the adding problem
    adding_length: int = 100
    train_hidden: int = 64
    steps: int = 3000
    batch_size: int = 64
    learning_rate: float = 1e-3
    flow_samples: int = 32
    # part 5: clipping
    clip_length: int = 50
    clip_rho: float = 1.5
    clip_steps: int = 1500
    clip_learning_rate: float = 0.3
    clip_norm: float = 1.0
    clip_value: float = 0.05
    landscape_points: int = 121

    def __post_init__(self):
        require_positive(self, "hidden_size", "length", "seeds", "input_size", "spectrum_hidden",
                     "lyap_hidden", "lyap_steps", "lyap_seeds", "logistic_points",
                     "adding_length", "train_hidden", "steps", "batch_size", "flow_samples",
                     "clip_length", "clip_steps", "landscape_points")
        require_positive(self, "learning_rate", "clip_learning_rate", "clip_norm", "clip_value",
                     "spectrum_rho", "clip_rho")
        positive("input_std", self.input_std, allow_zero=True)
        positive("lyap_input_std", self.lyap_input_std, allow_zero=True)
        require_subset("families", self.families, FAMILIES)
        if not self.rhos or any(r <= 0 for r in self.rhos):
            raise ValueError(f"rhos must be positive, got {self.rhos}")
        if not 0 <= self.lyap_warmup < self.lyap_steps:
            raise ValueError(f"lyap_warmup must lie in 0..lyap_steps-1, got {self.lyap_warmup}")
        if any(not 1 <= t <= self.length for t in self.spectrum_times):
            raise ValueError(f"spectrum_times must lie in 1..length={self.length}, "
                             f"got {self.spectrum_times}")
        if self.adding_length < 2 or self.clip_length < 2:
            raise ValueError("adding_length and clip_length must be >= 2")


QUICK = dict(hidden_size=32, length=120, seeds=3, spectrum_hidden=64, spectrum_times=(1, 10, 40, 120),
             lyap_hidden=48, lyap_steps=800, lyap_warmup=200, lyap_seeds=2,
             lyap_gain_grid=(0.5, 0.8, 1.0, 1.2, 1.5, 2.0, 3.0), logistic_points=200,
             adding_length=40, train_hidden=32, steps=600, flow_samples=16,
             clip_length=30, clip_steps=300, landscape_points=81)


# ----------------------------------------------------------------------------- part 1: norms


def _family_cell(family: str, hidden: int) -> rnnjax.Cell:
    if family.startswith(("linear", "tanh", "sigmoid")):
        act = {"linear": lambda z: z, "tanh": jnp.tanh, "sigmoid": jax.nn.sigmoid}[
            family.split("_")[0]]
        return rnnjax.cells.elman(hidden, activation=act)
    if family == "lstm_fb0":
        return rnnjax.cells.lstm(hidden, forget_bias=0.0)
    if family == "lstm_fb1":
        return rnnjax.cells.lstm(hidden, forget_bias=1.0)
    if family == "gru":
        return rnnjax.cells.gru(hidden)
    raise ValueError(f"unknown family {family!r}")


def _scaled_blocks(w_h: jax.Array, rho: float) -> jax.Array:
    """Scale every (H, H) gate block of W_h (shape (H, G*H)) to spectral radius rho."""
    H = w_h.shape[0]
    blocks = w_h.reshape(H, -1, H).transpose(1, 0, 2)  # (G, H, H); one batched eig, see init_recurrent
    scaled = jax.vmap(lambda w: rnnjax.init.scale_spectral_radius(w, rho))(blocks)
    return scaled.transpose(1, 0, 2).reshape(H, -1)


def _family_params(family: str, cell, key, input_size: int, rho):
    """The family's parameters with recurrent matrix at spectral radius ``rho``."""
    k_init, k_w = jax.random.split(key)
    params = cell.init(k_init, input_size)
    H = params.w_h.shape[0]
    if family.endswith("_orth"):
        q, r = jnp.linalg.qr(jax.random.normal(k_w, (H, H)))
        q = q * jnp.sign(jnp.diagonal(r))[None, :]
        return params._replace(w_h=rho * q)
    if family.endswith("_gauss"):
        w = jax.random.normal(k_w, (H, H)) / math.sqrt(H)
        return params._replace(w_h=rnnjax.init.scale_spectral_radius(w, 1.0) * rho)
    return params._replace(w_h=_scaled_blocks(params.w_h, 1.0) * rho)


def run_norms(config: Config, workdir: Path) -> dict:
    T, H, I = config.length, config.hidden_size, config.input_size
    rhos = jnp.asarray(config.rhos)
    keys = jax.random.split(jax.random.fold_in(jax.random.key(config.seed), 1), config.seeds)
    xs_driven = config.input_std * jax.random.normal(
        jax.random.fold_in(jax.random.key(config.seed), 2), (config.seeds, T, I))
    inputs = {"zero": jnp.zeros_like(xs_driven), "driven": xs_driven}
    out = {"t": list(range(1, T + 1)), "rhos": list(config.rhos), "hidden": H,
           "input_std": config.input_std, "families": {}}
    for family in config.families:
        cell = _family_cell(family, H)

        def one(key, rho, xs, family=family, cell=cell):
            params = _family_params(family, cell, key, I, rho)
            sigma_max = jnp.linalg.norm(params.w_h, 2)
            return analysis.log_jacobian_norms(cell, params, xs, method="dense"), sigma_max

        batched = jax.jit(jax.vmap(jax.vmap(one, (None, 0, None)), (0, None, 0)))
        entry = {}
        for name, xs in inputs.items():
            log_norms, sigma_max = batched(keys, rhos, xs)  # (seeds, rhos, T), (seeds, rhos)
            entry[name] = np.round(np.asarray(log_norms).transpose(1, 0, 2), 4).tolist()
        entry["sigma_max"] = np.asarray(sigma_max).T.tolist()  # (rhos, seeds)
        out["families"][family] = entry
    return out


# ----------------------------------------------------------------------------- part 3: spectra


def run_spectra(config: Config, workdir: Path) -> dict:
    """Full spectra in float64 (relative precision 1e-16): values more than 15 decades below the
    largest singular value are at the rounding floor and are dropped (recorded as null)."""
    H, T = config.spectrum_hidden, max(config.spectrum_times)
    key = jax.random.fold_in(jax.random.key(config.seed), 3)
    out = {"times": list(config.spectrum_times), "rho": config.spectrum_rho, "hidden": H,
           "input_std": config.input_std, "floor_decades": 15.0, "log10_sv": {}}
    with jax.enable_x64(True):
        xs = config.input_std * jax.random.normal(jax.random.fold_in(key, 0),
                                                  (T, config.input_size), jnp.float64)
        for family in ("linear_orth", "linear_gauss", "tanh_orth", "tanh_gauss"):
            cell = _family_cell(family, H)
            params = _family_params(family, cell, jax.random.fold_in(key, 1), config.input_size,
                                    config.spectrum_rho)
            params = analysis.astype(params, jnp.float64)
            inputs = jnp.zeros_like(xs) if family.startswith("linear") else xs
            log_sv = np.asarray(analysis.jacobian_singular_values(
                cell, params, inputs, at=config.spectrum_times)) / np.log(10.0)
            log_sv = np.where(log_sv >= log_sv[:, :1] - 15.0, log_sv, np.nan)
            out["log10_sv"][family] = [[None if np.isnan(v) else round(float(v), 4) for v in row]
                                       for row in log_sv]
    return out


# ----------------------------------------------------------------------------- part 4: Lyapunov


def _random_tanh(n: int, g, key, input_std: float):
    """h_t = tanh(W h_{t-1} + s xi_t): W ~ N(0, g^2/N), independent input per unit (W_x = s I)."""
    cell = rnnjax.cells.elman(n)
    params = cell.init(jax.random.key(0), n)
    w = g * jax.random.normal(key, (n, n)) / math.sqrt(n)
    return cell, params._replace(w_h=w, w_x=input_std * jnp.eye(n), b=jnp.zeros(n))


def run_lyapunov(config: Config, workdir: Path) -> dict:
    n, T, warm = config.lyap_hidden, config.lyap_steps, config.lyap_warmup
    base = jax.random.fold_in(jax.random.key(config.seed), 4)
    seed_keys = jax.random.split(base, config.lyap_seeds)
    h0 = jax.random.normal(jax.random.fold_in(base, 99), (n,))
    out = {"n": n, "steps": T, "warmup": warm, "gains": list(config.lyap_gains),
           "grid": list(config.lyap_gain_grid), "spectra": {}, "lambda_max": {}}
    xs_all = jax.random.normal(jax.random.fold_in(base, 7), (config.lyap_seeds, T, n))
    for label, std in (("autonomous", 0.0), ("driven", config.lyap_input_std)):

        def spectrum(g, key, xs, k, std=std):
            cell, params = _random_tanh(n, g, key, std)
            return analysis.lyapunov_spectrum(cell, params, xs, h0, k=k, warmup=warm)

        full = jax.jit(jax.vmap(lambda g: spectrum(g, seed_keys[0], xs_all[0], n)))
        out["spectra"][label] = np.asarray(full(jnp.asarray(config.lyap_gains))).tolist()
        top = jax.jit(jax.vmap(jax.vmap(lambda g, key, xs: spectrum(g, key, xs, 1)[0],
                                        (None, 0, 0)), (0, None, None)))
        out["lambda_max"][label] = np.asarray(
            top(jnp.asarray(config.lyap_gain_grid), seed_keys, xs_all)).tolist()  # (grid, seeds)
    radius = jax.vmap(jax.vmap(lambda g, key: rnnjax.init.spectral_radius(
        _random_tanh(n, g, key, 0.0)[1].w_h), (None, 0)), (0, None))
    out["spectral_radius"] = np.asarray(
        radius(jnp.asarray(config.lyap_gain_grid), seed_keys)).tolist()  # (grid, seeds)
    # the lecture's population-growth model, in float64
    with jax.enable_x64(True):
        cell = analysis.logistic_map(4.0)
        rs = jnp.linspace(2.5, 4.0, config.logistic_points, dtype=jnp.float64)
        zeros = jnp.zeros((3000, 1), jnp.float64)
        lam = jax.jit(jax.vmap(lambda r: analysis.lyapunov_spectrum(
            cell, r, zeros, jnp.array([0.3141], jnp.float64), warmup=500)[0]))(rs)
        out["logistic"] = {"r": np.asarray(rs).tolist(), "lambda": np.asarray(lam).tolist(),
                           "lambda_at_4": float(lam[-1]), "ln2": math.log(2.0)}
    return out


# ----------------------------------------------------------------------------- part 2: flow


def _adding_model(kind: str, hidden: int):
    cell = rnnjax.cells.elman(hidden) if kind == "tanh" else rnnjax.cells.lstm(hidden)
    return sequence_model(cell, output_size=1, input_size=2, pool="last")


def _flow_fn(model):
    """``(params, batch) -> mean over sequences of ||dL/dh_{T-tau}||, tau = 1..T``, jitted once
    per model, for the squared error of the readout at the last step."""
    cell = model.cell

    @jax.jit
    def mean_flow(params, inputs, targets):
        def one(xs, y):
            loss = lambda c, ys: jnp.sum((ys[-1] @ params.w_out + params.b_out - y) ** 2)
            flow = analysis.gradient_flow(cell, params.cell, xs, loss)  # t = 0..T
            return flow[:-1][::-1]  # lag tau = T - t for t = T-1..0 -> tau = 1..T

        return jnp.mean(jax.vmap(one)(inputs, targets), axis=0)

    return lambda params, batch: np.asarray(mean_flow(params, batch.inputs, batch.targets))


def _train(model, params, *, workdir: Path, steps: int, length: int, batch_size: int,
           optimizer, key, config_tag: dict, stages=(), on_stage=None):
    """Train on the adding problem (resumable); ``on_stage(step, params)`` after each stage."""
    def loss_fn(p, batch, key):
        del key
        _, out = model.apply(p, batch.inputs)
        return tr.mse(out[..., 0], batch.targets)

    step = tr.make_step(loss_fn, optimizer)
    state = tr.init_state(params, optimizer, key=key)
    data_key = jax.random.fold_in(key, 1)
    batch_at = lambda i: adding.batch(key=jax.random.fold_in(data_key, i), batch_size=batch_size,
                                      length=length)
    for stage in [*sorted(s for s in stages if 0 < s < steps), steps]:
        try:
            state, _ = tr.fit(step, state, batch_at, num_steps=stage, workdir=workdir,
                              checkpoint_every=max(steps // 4, 100),
                              log_every=max(steps // 100, 1), config=config_tag,
                              nonfinite="skip", description=workdir.name)
        except tr.CheckpointError as e:
            raise UserError(str(e)) from None
        if on_stage is not None:
            on_stage(int(state.step), state.params)  # the step actually reached
    return state, tr.load_history(workdir)


def run_flow(config: Config, workdir: Path) -> dict:
    key = jax.random.fold_in(jax.random.key(config.seed), 5)
    test = adding.batch(key=jax.random.fold_in(key, 0), batch_size=config.flow_samples,
                        length=config.adding_length)
    out = {"length": config.adding_length, "baseline": adding.baseline(), "models": {}}
    for kind in ("tanh", "lstm"):
        model = _adding_model(kind, config.train_hidden)
        params = model.init(jax.random.fold_in(key, 1))
        flow_of = _flow_fn(model)
        train_dir = workdir / "train" / f"flow_{kind}"
        # flows at intermediate steps are saved as they are measured, so a resumed run (whose
        # checkpoint may already be past a stage) reuses them instead of measuring later params
        stage_file = train_dir / "flow_stages.json"
        during = {int(k): v for k, v in (read_json(stage_file).items()
                                         if stage_file.exists() else ())}
        during[0] = flow_of(params, test).tolist()

        def record(step, p, flow_of=flow_of, during=during, stage_file=stage_file):
            if step not in during:
                during[step] = flow_of(p, test).tolist()
                write_json(stage_file, {str(k): v for k, v in sorted(during.items())})

        opt = tr.optimizer("adam", config.learning_rate, clip_norm=1.0)
        state, history = _train(
            model, params, workdir=train_dir, steps=config.steps,
            length=config.adding_length, batch_size=config.batch_size, optimizer=opt,
            key=jax.random.fold_in(key, 2),
            config_tag={"model": kind, "hidden": config.train_hidden, "T": config.adding_length,
                        "lr": config.learning_rate, "seed": config.seed},
            stages=(config.steps // 10, config.steps // 3), on_stage=record)
        _, pred = model.apply(state.params, test.inputs)
        out["models"][kind] = {
            "init": during[0], "trained": during[max(during)],
            "during": {str(k): v for k, v in sorted(during.items())},
            "test_mse": float(tr.mse(pred[..., 0], test.targets)),
            "curve": [[r["step"], r["loss"]] for r in history if "loss" in r],
        }
    return out


# ----------------------------------------------------------------------------- part 5: clipping


def _finite_or_none(x):
    x = float(x)
    return x if math.isfinite(x) else None


def _pascanu_unit(w, b, steps: int):
    """Pascanu et al. (2013) Fig. 6: x_t = w sigmoid(x_{t-1}) + b, x_0 = 0.5; returns x_steps.

    Written with the one-unit sigmoid Elman cell y_t = sigmoid(w y_{t-1} + b) (y = sigmoid(x)):
    x_steps = w y_{steps-1} + b.
    """
    cell = rnnjax.cells.elman(1, activation=jax.nn.sigmoid)
    params = rnnjax.cells.ElmanParams(jnp.zeros((1, 1)), jnp.reshape(w, (1, 1)),
                                      jnp.reshape(b, (1,)))
    y0 = jax.nn.sigmoid(jnp.full((1,), 0.5))
    y, _ = rnnjax.unroll(cell, params, jnp.zeros((steps - 1, 1)), carry=y0)
    return w * y[0] + b


def _landscape_loss(theta, steps: int, target: float = 0.7):
    return (_pascanu_unit(theta[0], theta[1], steps) - target) ** 2


def run_clipping(config: Config, workdir: Path) -> dict:
    key = jax.random.fold_in(jax.random.key(config.seed), 6)
    out = {"length": config.clip_length, "rho": config.clip_rho, "baseline": adding.baseline(),
           "learning_rate": config.clip_learning_rate, "runs": {}}
    model = _adding_model("tanh", config.train_hidden)
    params = model.init(jax.random.fold_in(key, 1))
    params = params._replace(cell=params.cell._replace(w_h=config.clip_rho * params.cell.w_h))
    settings = {"none": {}, "norm": {"clip_norm": config.clip_norm},
                "elementwise": {"clip_value": config.clip_value}}
    for name, clip in settings.items():
        opt = tr.optimizer("sgd", config.clip_learning_rate, **clip)
        state, history = _train(
            model, params, workdir=workdir / "train" / f"clip_{name}", steps=config.clip_steps,
            length=config.clip_length, batch_size=config.batch_size, optimizer=opt,
            key=jax.random.fold_in(key, 2),
            config_tag={"clip": name, "rho": config.clip_rho, "T": config.clip_length,
                        "lr": config.clip_learning_rate, "seed": config.seed})
        curve = [[r["step"], _finite_or_none(r["loss"]), _finite_or_none(r["grad_norm"])]
                 for r in history if "loss" in r]
        bad = [c[0] for c in curve if c[1] is None or c[2] is None]
        out["runs"][name] = {"clip": clip, "curve": curve,
                             "diverged_at": bad[0] if bad else None}
    # two-parameter landscape with the cliff, and gradient-descent paths
    steps = 50
    ws = np.linspace(-1.0, 12.0, config.landscape_points)
    bs = np.linspace(-10.0, 2.0, config.landscape_points)
    grid = jnp.stack(jnp.meshgrid(jnp.asarray(ws), jnp.asarray(bs), indexing="xy"), axis=-1)
    loss_grid = jax.jit(jax.vmap(jax.vmap(lambda th: _landscape_loss(th, steps))))(grid)
    grad = jax.jit(jax.value_and_grad(lambda th: _landscape_loss(th, steps)))
    paths = {}
    for name, threshold in (("none", None), ("norm", config.clip_norm)):
        theta = jnp.array([7.0, -4.2])
        path = [theta.tolist()]
        for _ in range(40):
            _, g = grad(theta)
            gn = jnp.linalg.norm(g)
            if threshold is not None:
                g = jnp.where(gn > threshold, g * threshold / gn, g)
            theta = theta - 0.5 * g
            path.append(np.asarray(theta).tolist())
        paths[name] = path
    out["landscape"] = {"w": ws.tolist(), "b": bs.tolist(), "steps": steps, "target": 0.7,
                        "log10_loss": np.round(np.log10(np.asarray(loss_grid) + 1e-12), 3).tolist(),
                        "paths": paths,
                        "learning_rate": 0.5, "clip_norm": config.clip_norm}
    return out


# ----------------------------------------------------------------------------- run / plot


PARTS = {"norms": run_norms, "spectra": run_spectra, "lyapunov": run_lyapunov,
         "flow": run_flow, "clipping": run_clipping}


def run(config: Config, workdir: Path) -> None:
    """Each part saves ``<part>.json``; a rerun with the same config reuses the finished parts
    (and the training parts resume from their checkpoints)."""
    settings = dataclasses.asdict(config)
    for name, part in PARTS.items():
        cached_part(workdir / f"{name}.json", settings, lambda part=part: part(config, workdir),
                    compact=name in ("norms", "clipping"))


def plot(workdir: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figures = []
    norms = read_json(workdir / "norms.json")
    figures += _plot_norms(plt, norms, workdir)
    spectra = read_json(workdir / "spectra.json")
    figures += _plot_spectra(plt, spectra, workdir)
    lyap = read_json(workdir / "lyapunov.json")
    figures += _plot_lyapunov(plt, lyap, workdir)
    flow = read_json(workdir / "flow.json")
    figures += _plot_flow(plt, flow, workdir)
    clip = read_json(workdir / "clipping.json")
    figures += _plot_clipping(plt, clip, workdir)

    t = np.asarray(norms["t"], dtype=float)
    err = float("nan")
    if "linear_orth" in norms["families"]:
        lin = norms["families"]["linear_orth"]["zero"]
        err = max(float(np.max(np.abs(np.asarray(lin[i]) - t[None, :] * math.log(r))))
                  for i, r in enumerate(norms["rhos"]))
    lam = lyap["logistic"]["lambda_at_4"]
    tanh_f, lstm_f = flow["models"]["tanh"]["trained"], flow["models"]["lstm"]["trained"]
    T = flow["length"]
    headline = (f"linear W=ρQ matches ρ^t to {err:.1e} (log); logistic λ(r=4) = {lam:.4f} "
                f"(ln 2 = {math.log(2):.4f}); after training on adding T={T}, "
                f"||∂L/∂h|| at lag T: tanh {tanh_f[-1]:.1e} vs LSTM {lstm_f[-1]:.1e}")
    write_index(workdir, title="Jacobian spectral norms through time", headline=headline,
                figures=figures, tables=["norms.json", "spectra.json", "lyapunov.json",
                                         "flow.json", "clipping.json"])
    print(headline)


def _colors(n):
    import matplotlib

    cmap = matplotlib.colormaps["viridis"]
    return [cmap(i / max(n - 1, 1)) for i in range(n)]


def _plot_norms(plt, norms, workdir):
    t = np.asarray(norms["t"], dtype=float)
    rhos = norms["rhos"]
    colors = _colors(len(rhos))
    files = []
    for inp in ("zero", "driven"):
        families = [f for f in FAMILIES if f in norms["families"]]
        rows = math.ceil(len(families) / 3)
        fig, axes = plt.subplots(rows, 3, figsize=(13, 11 * rows / 3 + 0.5), sharex=True,
                                 squeeze=False)
        for ax in axes.flat[len(families):]:
            ax.set_visible(False)
        for ax, family in zip(axes.flat, families, strict=False):
            entry = norms["families"][family]
            data = np.asarray(entry[inp]) / math.log(10.0)  # (rhos, seeds, T), log10
            smax = np.asarray(entry["sigma_max"])  # (rhos, seeds)
            kind = family.split("_")[0]
            for i, rho in enumerate(rhos):
                med = np.median(data[i], axis=0)
                ax.plot(t, med, color=colors[i], lw=1.6, label=f"ρ = {rho:g}")
                ax.fill_between(t, data[i].min(0), data[i].max(0), color=colors[i], alpha=0.25)
                if family in ("linear_orth", "linear_gauss"):
                    ax.plot(t, t * math.log10(rho), color=colors[i], ls="--", lw=1)
                elif kind in GAMMA:
                    bound = t * math.log10(GAMMA[kind] * float(np.mean(smax[i])))
                    ax.plot(t, bound, color=colors[i], ls=":", lw=1.2)
            lo = np.nanmin(np.where(np.isfinite(data), data, np.nan))
            hi = np.nanmax(np.where(np.isfinite(data), data, np.nan))
            ax.set_ylim(lo - 0.05 * (hi - lo) - 0.5, hi + 0.05 * (hi - lo) + 0.5)
            ax.set_title(LABELS[family], fontsize=10)
            ax.grid(alpha=0.3)
        for ax in axes[-1]:
            ax.set_xlabel("time step t")
        for ax in axes[:, 0]:
            ax.set_ylabel("log₁₀ ‖∂h_t/∂h_0‖₂")
        handles, labels = axes[0, 0].get_legend_handles_labels()
        from matplotlib.lines import Line2D

        handles += [Line2D([], [], color="k", ls="--", lw=1),
                    Line2D([], [], color="k", ls=":", lw=1.2)]
        labels += ["theory ρ^t (linear, W = ρQ exact; Gaussian: asymptotic slope)",
                   "Pascanu et al. bound (γ σ_max(W))^t, γ = 1 tanh, 1/4 sigmoid"]
        fig.legend(handles, labels, loc="lower center", ncol=4, fontsize=9,
                   bbox_to_anchor=(0.5, -0.04))
        what = "zero input" if inp == "zero" else "driven input x_t ~ N(0, I)"
        fig.suptitle(f"Jacobian norm through time, {what}, H = {norms['hidden']}; "
                     "median and min–max band over seeds", fontsize=12)
        fig.tight_layout(rect=(0, 0.02, 1, 0.97))
        name = f"norms_{inp}.png"
        save_figure(fig, workdir / name, dpi=110)
        files.append((name, f"log ‖∂h_t/∂h_0‖ vs t per ρ and cell, {what}, with theory lines"))
    return files


def _plot_spectra(plt, spectra, workdir):
    times = spectra["times"]
    colors = _colors(len(times))
    fig, axes = plt.subplots(2, 2, figsize=(12, 7.5))
    titles = {"linear_orth": "zero input (= linear RNN), W = ρQ",
              "linear_gauss": "zero input (= linear RNN), Gaussian W",
              "tanh_orth": f"tanh, driven input (std {spectra['input_std']:g}), W = ρQ",
              "tanh_gauss": f"tanh, driven input (std {spectra['input_std']:g}), Gaussian W"}
    for ax, family in zip(axes.flat, ("linear_orth", "linear_gauss", "tanh_orth", "tanh_gauss"),
                          strict=True):
        sv = np.asarray([[np.nan if v is None else v for v in row]
                         for row in spectra["log10_sv"][family]], dtype=float)
        lo, hi = np.nanmin(sv), np.nanmax(sv)
        if hi - lo < 1e-6:
            lo, hi = lo - 0.5, hi + 0.5
        bins = np.linspace(lo, hi, 60)
        for i, t in enumerate(times):
            row = sv[i][np.isfinite(sv[i])]
            ax.hist(row, bins=bins, color=colors[i], alpha=0.6, label=f"t = {t}")
        ax.set_xlabel("log₁₀ σ_i(∂h_t/∂h_0)")
        ax.set_ylabel(f"count (of N = {spectra['hidden']})")
        spike = np.nanmax(sv) - np.nanmin(sv) < 1e-6
        ax.set_title(titles[family] + f", ρ = {spectra['rho']:g}"
                     + (" (all t coincide)" if spike else ""), fontsize=10)
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    fig.suptitle("Singular values of the Jacobian product (float64; values > 15 decades below "
                 "the largest dropped as rounding floor)\northogonal W keeps every σ_i = ρ^t "
                 "(a spike), Gaussian W spreads them over decades", fontsize=11)
    fig.tight_layout()
    save_figure(fig, workdir / "spectra.png")
    return [("spectra.png", "singular-value histograms of ∂h_t/∂h_0 at several t, orthogonal "
                            "vs Gaussian W, linear and driven tanh")]


def _plot_lyapunov(plt, lyap, workdir):
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.4))
    n = lyap["n"]
    colors = _colors(len(lyap["gains"]))
    ax = axes[0]
    for label, ls in (("autonomous", "-"), ("driven", "--")):
        for i, g in enumerate(lyap["gains"]):
            spec = np.asarray(lyap["spectra"][label][i])
            ax.plot(np.arange(1, n + 1) / n, spec, color=colors[i], ls=ls,
                    label=f"g = {g:g}" if label == "autonomous" else None)
    ax.axhline(0, color="k", lw=0.8)
    ax.set_xlabel("i / N")
    ax.set_ylabel("Lyapunov exponent λ_i (nats / step)")
    ax.set_title(f"Spectrum of a random tanh RNN, N = {n} (solid: no input, dashed: input)",
                 fontsize=10)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)

    ax = axes[1]
    grid = np.asarray(lyap["grid"])
    for label, color in (("autonomous", "tab:blue"), ("driven", "tab:red")):
        lm = np.asarray(lyap["lambda_max"][label])  # (grid, seeds)
        ax.errorbar(grid, lm.mean(1), yerr=lm.std(1), color=color, marker="o", capsize=3,
                    label="no input" if label == "autonomous" else "with input")
    log_radius = np.log(np.asarray(lyap["spectral_radius"])).mean(1)
    below = log_radius <= 0.05
    ax.plot(grid[below], log_radius[below], "kx--", lw=1.2, ms=9, mew=2, zorder=5,
            label="theory ln ρ(W) while h = 0 is stable (no input)")
    ax.axhline(0, color="k", lw=0.8)
    ax.axvline(1.0, color="gray", lw=0.8, ls=":")
    ax.set_xlabel("gain g  (W_ij ~ N(0, g²/N))")
    ax.set_ylabel("λ_max (nats / step)")
    ax.set_title("Edge of chaos: λ_max = ln ρ(W) < 0, then ≈ 0, then > 0 (chaos)",
                 fontsize=10)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)

    ax = axes[2]
    lg = lyap["logistic"]
    ax.plot(lg["r"], lg["lambda"], color="tab:green", lw=0.8)
    ax.axhline(0, color="k", lw=0.8)
    ax.plot([4.0], [lg["ln2"]], "k*", ms=12,
            label=f"ln 2 = {lg['ln2']:.4f} (closed form)\nmeasured {lg['lambda_at_4']:.4f}")
    ax.set_xlabel("growth rate r")
    ax.set_ylabel("λ (nats / step)")
    ax.set_title("Population growth x ← r x (1 − x): sensitivity to initial conditions",
                 fontsize=10)
    ax.set_ylim(-2.0, 1.0)
    ax.legend(fontsize=8, loc="lower left")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    save_figure(fig, workdir / "lyapunov.png")
    return [("lyapunov.png", "Lyapunov spectra vs i/N at several gains, λ_max vs g, and the "
                             "logistic map's exponent (ln 2 at r = 4)")]


def _plot_flow(plt, flow, workdir):
    T = flow["length"]
    lag = np.arange(1, T + 1)
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.4))
    ax = axes[0]
    styles = {"tanh": "tab:red", "lstm": "tab:blue"}
    names = {"tanh": "tanh RNN", "lstm": "LSTM (forget bias 1)"}
    for kind, color in styles.items():
        m = flow["models"][kind]
        ax.semilogy(lag, m["init"], color=color, ls="--", label=f"{names[kind]}, initialisation")
        middle = [k for k in m.get("during", {}) if 0 < int(k) < int(max(m["during"], key=int))]
        for j, k in enumerate(sorted(middle, key=int)):
            ax.semilogy(lag, m["during"][k], color=color, ls=":", lw=1.2,
                        alpha=0.5 + 0.25 * j,
                        label=f"{names[kind]}, steps {', '.join(sorted(middle, key=int))}"
                        if j == 0 else None)
        ax.semilogy(lag, m["trained"], color=color, label=f"{names[kind]}, trained")
    ax.axvspan(T - T // 2, T, color="gray", alpha=0.15, label="lags of the first marker")
    ax.set_xlabel("lag τ (steps before the loss)")
    ax.set_ylabel("‖∂L/∂h(T−τ)‖₂ (mean over sequences)")
    ax.set_title(f"Gradient flow, adding problem T = {T}", fontsize=10)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3, which="both")
    ax = axes[1]
    for kind, color in styles.items():
        curve = np.asarray(flow["models"][kind]["curve"])
        ax.plot(curve[:, 0], curve[:, 1], color=color,
                label=f"{names[kind]} (test MSE {flow['models'][kind]['test_mse']:.3f})")
    ax.axhline(flow["baseline"], color="k", ls="--", lw=1, label="baseline 1/6 (predict 1)")
    ax.set_xlabel("training step")
    ax.set_ylabel("training MSE")
    ax.set_yscale("log")
    ax.set_title("Training on the adding problem (Adam, clip-norm 1)", fontsize=10)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3, which="both")
    fig.tight_layout()
    save_figure(fig, workdir / "flow.png")
    return [("flow.png", "‖∂L/∂h_t‖ vs lag at initialisation and after training on the adding "
                         "problem, tanh RNN vs LSTM")]


LOSS_TOP = 1e4  # top of the clipping figure's loss axis


def _plot_clipping(plt, clip, workdir):
    fig, axes = plt.subplots(1, 3, figsize=(17, 4.6))
    colors = {"none": "tab:red", "norm": "tab:blue", "elementwise": "tab:green"}
    names = {"none": "no clipping", "norm": "global-norm clipping",
             "elementwise": "elementwise clipping"}
    for name, run in clip["runs"].items():
        curve = np.asarray([[np.nan if v is None else v for v in row] for row in run["curve"]],
                           dtype=float)
        extra = f" ({list(run['clip'].values())[0]:g})" if run["clip"] else ""
        if run["diverged_at"] is not None:
            extra += f", non-finite from step {run['diverged_at']}"
            for ax in axes[:2]:
                ax.axvline(run["diverged_at"], color=colors[name], ls=":", lw=1.2)
        # a diverging run has few finite points: markers keep a lone one visible
        marker = dict(marker="o", ms=4) if run["diverged_at"] is not None else {}
        steps, loss = curve[:, 0], curve[:, 1]
        off = loss > LOSS_TOP  # drawn as triangles on the top edge, value in the legend
        if np.any(off):
            extra += f"; loss {np.nanmax(loss):.0e} above the axis (▲)"
            axes[0].plot(steps[off], np.full(off.sum(), LOSS_TOP / 1.5), "^",
                         color=colors[name], ms=7)
        axes[0].plot(steps, np.where(off, np.nan, loss), color=colors[name],
                     label=names[name] + extra, **marker)
        axes[1].semilogy(steps, curve[:, 2], color=colors[name], label=names[name], **marker)
    axes[0].axhline(clip["baseline"], color="k", ls="--", lw=1, label="baseline 1/6")
    axes[0].set_yscale("log")
    axes[0].set_ylim(0.05, LOSS_TOP)
    axes[0].set_xlabel("SGD step")
    axes[0].set_ylabel("training MSE")
    axes[0].set_title(f"tanh RNN, W_h = {clip['rho']:g}·Q (exploding regime), SGD lr "
                      f"{clip['learning_rate']:g}, adding T = {clip['length']}", fontsize=10)
    axes[0].legend(fontsize=8)
    axes[0].grid(alpha=0.3, which="both")
    axes[1].set_xlabel("SGD step")
    axes[1].set_ylabel("gradient norm before clipping")
    axes[1].set_title("Gradient norms (dotted: first non-finite step)", fontsize=10)
    axes[1].legend(fontsize=8)
    axes[1].grid(alpha=0.3, which="both")

    ax = axes[2]
    land = clip["landscape"]
    loss = np.asarray(land["log10_loss"])
    im = ax.contourf(land["w"], land["b"], loss, levels=30, cmap="magma")
    fig.colorbar(im, ax=ax, label="log₁₀ loss")
    for name, color in (("none", "tab:cyan"), ("norm", "white")):
        path = np.asarray(land["paths"][name])
        ax.plot(path[:, 0], path[:, 1], "o-", color=color, ms=3, lw=1.2,
                label="gradient descent" if name == "none" else
                f"with norm clipping ({land['clip_norm']:g})")
    ax.set_xlim(min(land["w"]), max(land["w"]))
    ax.set_ylim(min(land["b"]), max(land["b"]))
    ax.set_xlabel("w (recurrent weight)")
    ax.set_ylabel("b (bias)")
    ax.set_title(f"Pascanu et al. (2013): (x({land['steps']}) − {land['target']})², "
                 "x(t) = w σ(x(t−1)) + b", fontsize=10)
    ax.legend(fontsize=8, loc="lower right", facecolor="0.6")
    fig.tight_layout()
    save_figure(fig, workdir / "clipping.png")
    return [("clipping.png", "training loss with no / norm / elementwise clipping in the "
                             "exploding regime, and the one-unit loss landscape with its cliff")]


def main(argv=None) -> int:
    return cli(__doc__, Config, QUICK, run, plot, argv, default_workdir="results/jacobian_spectra")


if __name__ == "__main__":
    sys.exit(main())
