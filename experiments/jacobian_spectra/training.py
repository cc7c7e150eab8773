"""The adding problem's models and their resumable training, shared by ``flow`` and ``clipping``.

Several runs (seeds, initial spectral radii) of one optimiser train together as a sweep: one
compiled step over a leading member axis (:mod:`rnnjax.train.sweep`), each member with its own
initial parameters and its own stream of training batches.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import jax
import optax

import rnnjax
import rnnjax.train as tr
from rnnjax.models.sequence import sequence_model
from rnnjax.tasks import adding
from rnnjax.train import sweep


def adding_model(kind: str, hidden: int):
    """A tanh Elman RNN (``kind="tanh"``) or an LSTM reading (value, marker) pairs, with a
    linear readout of the last hidden state."""
    cell = rnnjax.cells.elman(hidden) if kind == "tanh" else rnnjax.cells.lstm(hidden)
    return sequence_model(cell, output_size=1, input_size=2, pool="last")


def train_adding(model, params, optimizer: optax.GradientTransformation, *, workdir: Path,
                 steps: int, length: int, batch_size: int, keys, run_config: dict,
                 log_every: int | None = None, stages: Sequence[int] = (),
                 on_stage: Callable[[int, object], None] | None = None):
    """Minimise the squared error on fresh adding batches with :func:`rnnjax.train.fit`.

    ``params`` are stacked along a leading member axis, one member per entry of ``keys``
    (which also seed each member's batches). Resumable from ``workdir``'s checkpoints;
    non-finite updates are skipped per member (and logged), so a diverging run is recorded
    rather than stopped. A record is written every ``log_every`` updates (default: a hundred
    records in all); its metrics are per-member lists. Training pauses at each of ``stages``
    (and at the end) to call ``on_stage(step reached, stacked params)``. Returns
    ``(state, logged records)``.
    """

    def loss_fn(p, batch, key):
        del key
        _, out = model.apply(p, batch.inputs)
        return tr.mse(out[..., 0], batch.targets)

    # on a CPU one member at a time is faster than batched matrix products (rnnjax.train.sweep)
    chunk = 1 if jax.default_backend() == "cpu" else None
    step = sweep.vmap_step(tr.make_step(loss_fn, optimizer, jit=False), batch_axis=0, chunk=chunk)
    state = sweep.init(lambda p, k: tr.init_state(p, optimizer, key=k), params, keys)
    data_keys = jax.vmap(lambda k: jax.random.fold_in(k, 1))(keys)
    batches = jax.jit(jax.vmap(lambda k, i: adding.batch(
        key=jax.random.fold_in(k, i), batch_size=batch_size, length=length), (0, None)))
    log_every = log_every or max(steps // 100, 1)
    for stage in [*sorted(s for s in stages if 0 < s < steps), steps]:
        state, _ = tr.fit(step, state, lambda i: batches(data_keys, i), num_steps=stage,
                          workdir=workdir, checkpoint_every=max(steps // 4, 100),
                          log_every=log_every, config=run_config, nonfinite="skip",
                          description=workdir.name)
        if on_stage is not None:
            on_stage(int(state.step[0]), state.params)  # the step actually reached
    return state, tr.load_history(workdir)
