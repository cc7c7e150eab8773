"""The tasks at one T, and the models of the sweep as cell constructors."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

import rnnjax
import rnnjax.train as tr
from experiments.longrange.config import TASKS
from rnnjax.models.sequence import sequence_model
from rnnjax.tasks import adding
from rnnjax.tasks import copy as copy_task

# model name -> (family, cell constructor (hidden_size, T) -> Cell). Models of one family share
# the step function (they differ only in their initial parameters), so they share one program.
MODELS: dict[str, tuple[str, Callable[[int, int], rnnjax.Cell]]] = {
    "elman": ("elman", lambda h, t: rnnjax.cells.elman(h)),
    "irnn": ("irnn", lambda h, t: rnnjax.cells.elman(h, activation=jax.nn.relu,
                                                    recurrent_init="identity")),
    "lstm_fb0": ("lstm", lambda h, t: rnnjax.cells.lstm(h, forget_bias=0.0)),
    "lstm_fb1": ("lstm", lambda h, t: rnnjax.cells.lstm(h, forget_bias=1.0)),
    "lstm_chrono": ("lstm", lambda h, t: rnnjax.cells.lstm(h, chrono_t_max=t)),
    "gru": ("gru", lambda h, t: rnnjax.cells.gru(h)),
    "lru": ("lru", lambda h, t: rnnjax.cells.lru(h, r_min=0.9, r_max=0.999, max_phase=math.pi / 10)),
    "mingru": ("mingru", lambda h, t: rnnjax.cells.mingru(h)),
    "minlstm": ("minlstm", lambda h, t: rnnjax.cells.minlstm(h)),
}


def make_cell(model: str, hidden_size: int, T: int, init: str = "default") -> rnnjax.Cell:
    """The cell of ``model``; ``init="gaussian"`` gives the Elman network a Gaussian recurrent
    matrix, entries ``N(0, 1/H)`` (truncated at 2 sd: ``lecun_normal``), instead of orthogonal."""
    if init == "default":
        return MODELS[model][1](hidden_size, T)
    if (model, init) == ("elman", "gaussian"):
        return rnnjax.cells.elman(hidden_size, recurrent_init="lecun_normal")
    raise ValueError(f"init {init!r} is defined for elman only (got model {model!r})")


class Task(NamedTuple):
    """What the sweep needs to know about a task at one T."""

    name: str
    baseline: float
    sample: Callable[[jax.Array, int], tuple[jax.Array, jax.Array]]  # (key, n) -> inputs, targets
    model: Callable[[rnnjax.Cell], Any]                                 # cell -> sequence model
    loss: Callable[[jax.Array, jax.Array], jax.Array]                   # outputs, targets -> scalar
    metrics: Callable[[jax.Array, jax.Array], dict[str, jax.Array]]     # for evaluation


def make_task(name: str, T: int) -> Task:
    """The adding problem (either form) or the copy task at length / delay ``T``."""
    if name in ("adding", "adding_hs97"):
        form = "modern" if name == "adding" else "hs97"

        def sample(key, n):
            d = adding.batch(key=key, batch_size=n, length=T, form=form)
            return d.inputs, d.targets

        def loss(out, y):
            return tr.mse(out[..., 0], y)

        def metrics(out, y):
            return {"test_loss": loss(out, y),
                    "test_solved": jnp.mean(adding.solved(out[..., 0], y).astype(jnp.float32))}

        return Task(name, adding.baseline(form), sample,
                    lambda cell: sequence_model(cell, input_size=adding.INPUT_SIZE, output_size=1,
                                                pool="last"), loss, metrics)
    if name == "copy":
        V = copy_task.vocab_size()

        def sample(key, n):
            d = copy_task.batch(key=key, batch_size=n, delay=T)
            return d.inputs, d.targets

        def loss(logits, y):
            return tr.cross_entropy(logits, y)

        def metrics(logits, y):  # accuracy on the 10 positions that must be recalled
            return {"test_loss": loss(logits, y),
                    "test_recall": tr.accuracy(logits[..., -10:, :], y[..., -10:])}

        return Task(name, copy_task.baseline(T), sample,
                    lambda cell: sequence_model(cell, vocab_size=V, output_size=V), loss, metrics)
    raise ValueError(f"task must be one of {', '.join(TASKS)}, got {name!r}")
