"""The adding problem's models and their resumable training, shared by ``flow`` and ``clipping``."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import jax
import optax

import rnnjax
import rnnjax.train as tr
from rnnjax.models.sequence import sequence_model
from rnnjax.tasks import adding


def adding_model(kind: str, hidden: int):
    """A tanh Elman RNN (``kind="tanh"``) or an LSTM reading (value, marker) pairs, with a
    linear readout of the last hidden state."""
    cell = rnnjax.cells.elman(hidden) if kind == "tanh" else rnnjax.cells.lstm(hidden)
    return sequence_model(cell, output_size=1, input_size=2, pool="last")


def train_adding(model, params, optimizer: optax.GradientTransformation, *, workdir: Path,
                 steps: int, length: int, batch_size: int, key, run_config: dict,
                 stages: Sequence[int] = (),
                 on_stage: Callable[[int, object], None] | None = None):
    """Minimise the squared error on fresh adding batches with :func:`rnnjax.train.fit`.

    Resumable from ``workdir``'s checkpoints; non-finite updates are skipped (and logged), so a
    diverging run is recorded rather than stopped. Training pauses at each of ``stages`` (and at
    the end) to call ``on_stage(step reached, params)``. Returns ``(state, logged records)``.
    """

    def loss_fn(p, batch, key):
        del key
        _, out = model.apply(p, batch.inputs)
        return tr.mse(out[..., 0], batch.targets)

    step = tr.make_step(loss_fn, optimizer)
    state = tr.init_state(params, optimizer, key=key)
    data_key = jax.random.fold_in(key, 1)

    def batch_at(i):
        return adding.batch(key=jax.random.fold_in(data_key, i), batch_size=batch_size,
                            length=length)

    for stage in [*sorted(s for s in stages if 0 < s < steps), steps]:
        state, _ = tr.fit(step, state, batch_at, num_steps=stage, workdir=workdir,
                          checkpoint_every=max(steps // 4, 100), log_every=max(steps // 100, 1),
                          config=run_config, nonfinite="skip", description=workdir.name)
        if on_stage is not None:
            on_stage(int(state.step), state.params)  # the step actually reached
    return state, tr.load_history(workdir)
