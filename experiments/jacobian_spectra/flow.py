"""Part ``flow``: how far back the gradient reaches, before, while and after training.

For the squared error L at the last step of the adding problem, ||dL/dh_{T-tau}||_2 against
the lag tau (mean over test sequences), for a tanh Elman RNN and an LSTM (forget bias 1)
trained with Adam and global-norm clipping, ``seeds`` independent initialisations and batch
streams each. The flow is measured at initialisation, at T_train/10 and T_train/3 updates, and
at the end.
"""

from __future__ import annotations

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax

import rnnjax.train as tr
from experiments.common import read_json, write_json
from experiments.jacobian_spectra.config import FlowConfig
from experiments.jacobian_spectra.training import adding_model, train_adding
from rnnjax import analysis
from rnnjax.tasks import adding
from rnnjax.train import sweep

MODELS = ("tanh", "lstm")


def flow_fn(model):
    """``(params, batch) -> ||dL/dh_{T-tau}||`` for tau = 1..T, averaged over the batch."""
    cell = model.cell

    @jax.jit
    def mean_flow(params, inputs, targets):
        def one(xs, y):
            def loss(carry, ys):
                del carry
                return jnp.sum((ys[-1] @ params.w_out + params.b_out - y) ** 2)

            flow = analysis.gradient_flow(cell, params.cell, xs, loss)  # t = 0..T
            return flow[:-1][::-1]  # lag tau = T - t for t = T-1..0 -> tau = 1..T

        return jnp.mean(jax.vmap(one)(inputs, targets), axis=0)

    return lambda params, batch: np.asarray(mean_flow(params, batch.inputs, batch.targets))


def run_flow(cfg: FlowConfig, seed: int, steps: int, workdir: Path) -> dict:
    """Flow curves (seeds, T), test MSE (per seed) and training curve per model; the seeds of a
    model train as one sweep in ``<workdir>/runs/flow_<model>`` (resumable)."""
    key = jax.random.fold_in(jax.random.key(seed), 5)
    test = adding.batch(key=jax.random.fold_in(key, 0), batch_size=cfg.samples, length=cfg.length)
    keys = jnp.stack([jax.random.fold_in(jax.random.fold_in(key, 2), s) for s in range(cfg.seeds)])
    out = {"length": cfg.length, "seeds": cfg.seeds, "samples": cfg.samples,
           "baseline": adding.baseline(), "models": {}}
    for kind in MODELS:
        model = adding_model(kind, cfg.hidden_size)
        params = sweep.stack_trees([model.init(jax.random.fold_in(jax.random.fold_in(key, 1), s))
                                     for s in range(cfg.seeds)])
        flow_of = flow_fn(model)

        def flows(stacked, flow_of=flow_of):
            return [flow_of(sweep.index(stacked, i), test).tolist() for i in range(cfg.seeds)]

        train_dir = workdir / "runs" / f"flow_{kind}"
        # flows are saved as they are measured, so a resumed run (whose checkpoint may already
        # be past a stage) reuses them instead of measuring later parameters
        stage_file = train_dir / "flow_stages.json"
        during = {int(k): v for k, v in read_json(stage_file).items()} if stage_file.exists() else {}
        during[0] = flows(params)

        def record(step, p, flows=flows, during=during, stage_file=stage_file):
            if step not in during:
                during[step] = flows(p)
                write_json(stage_file, {str(k): v for k, v in sorted(during.items())})

        optimizer = optax.chain(optax.clip_by_global_norm(cfg.clip_norm),
                                optax.adam(cfg.learning_rate))
        state, history = train_adding(
            model, params, optimizer, workdir=train_dir, steps=steps, length=cfg.length,
            batch_size=cfg.batch_size, keys=keys,
            run_config={"model": kind, "hidden": cfg.hidden_size, "T": cfg.length,
                        "lr": cfg.learning_rate, "clip_norm": cfg.clip_norm,
                        "batch_size": cfg.batch_size, "seed": seed, "seeds": cfg.seeds},
            stages=(steps // 10, steps // 3), on_stage=record)
        _, pred = jax.vmap(model.apply, (0, None))(state.params, test.inputs)
        out["models"][kind] = {
            "init": during[0], "trained": during[max(during)],
            "during": {str(k): v for k, v in sorted(during.items())},
            "test_mse": [float(tr.mse(p[..., 0], test.targets)) for p in pred],
            "curve": [[r["step"], r["loss"]] for r in history if "loss" in r],
        }
    return out
