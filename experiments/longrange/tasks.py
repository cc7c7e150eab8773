"""The tasks at one T, their fixed test sets, and the models of the sweep as cell constructors."""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

import rnnjax
import rnnjax.train as tr
from experiments.longrange.config import TASKS
from rnnjax.cells.urnn import urnn
from rnnjax.models import blocks
from rnnjax.models.sequence import sequence_model
from rnnjax.tasks import adding
from rnnjax.tasks import copy as copy_task

URNN_WIDTH = 4  # the uRNN has 4H complex units (128 at H = 32, the size Arjovsky et al. used)

# model name -> (family, cell constructor (hidden_size, T) -> Cell). Models of one family share
# the step function (they differ only in their initial parameters), so they share one program.
MODELS: dict[str, tuple[str, Callable[[int, int], rnnjax.Cell]]] = {
    "elman": ("elman", lambda h, t: rnnjax.cells.elman(h)),
    "irnn": ("irnn", lambda h, t: rnnjax.cells.elman(h, activation=jax.nn.relu,
                                                    recurrent_init="identity")),
    "irnn_sgd": ("irnn_sgd", lambda h, t: rnnjax.cells.elman(h, activation=jax.nn.relu,
                                                            recurrent_init="identity")),
    "lstm_fb0": ("lstm", lambda h, t: rnnjax.cells.lstm(h, forget_bias=0.0)),
    "lstm_fb1": ("lstm", lambda h, t: rnnjax.cells.lstm(h, forget_bias=1.0)),
    "lstm_chrono": ("lstm", lambda h, t: rnnjax.cells.lstm(h, chrono_t_max=t)),
    "gru": ("gru", lambda h, t: rnnjax.cells.gru(h)),
    "lru": ("lru", lambda h, t: rnnjax.cells.lru(h, r_min=0.9, r_max=0.999, max_phase=math.pi / 10)),
    "mingru": ("mingru", lambda h, t: rnnjax.cells.mingru(h)),
    "minlstm": ("minlstm", lambda h, t: rnnjax.cells.minlstm(h)),
    "lru_block": ("lru_block", lambda h, t: blocks.lru_block(h, n_layers=2)),
    "mingru_block": ("mingru_block", lambda h, t: blocks.minrnn_block(h, kind="mingru")),
    "minlstm_block": ("minlstm_block", lambda h, t: blocks.minrnn_block(h, kind="minlstm")),
    "urnn": ("urnn", lambda h, t: urnn(URNN_WIDTH * h)),
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
    constant: Callable[[jax.Array], jax.Array]  # inputs -> the memoryless prediction's outputs


def late_adding(key: jax.Array, n: int, T: int, margin: int) -> tuple[jax.Array, jax.Array]:
    """``n`` adding-problem sequences (modern form) whose second marker lies in ``[T/2, T −
    margin)``: no marker falls in the last ``margin`` steps, so backpropagation truncated to
    them cannot see either marked value. Inputs ``(n, T, 2)`` (value, marker), targets ``(n,)``.

    The target is still the sum of two independent U[0, 1] values, so the baseline stays 1/6.
    """
    if not 0 < margin < T - T // 2:
        raise ValueError(f"adding_late needs 0 < margin < T - T//2, got margin={margin}, T={T}")
    k_values, k_first, k_second = jax.random.split(key, 3)
    values = jax.random.uniform(k_values, (n, T), jnp.float32)
    first = jax.random.randint(k_first, (n, 1), 0, T // 2, jnp.int32)
    second = jax.random.randint(k_second, (n, 1), T // 2, T - margin, jnp.int32)
    t = jnp.arange(T).reshape(1, T)
    marked = (t == first) | (t == second)
    targets = jnp.sum(jnp.where(marked, values, 0.0), axis=-1)
    return jnp.stack([values, marked.astype(values.dtype)], axis=-1), targets


def make_task(name: str, T: int, margin: int = 20) -> Task:
    """The adding problem (either form, or ``adding_late`` with the second marker in ``[T/2, T −
    margin)``) or the copy task at length / delay ``T``.

    ``constant`` is the predictor whose expected loss is ``baseline``: the constant ``E y`` for
    the adding problem (1, or 0.5 in the 1997 form), and for the copy task blank with certainty
    until the recall steps, then uniform over the ``K`` symbols.
    """
    if name in ("adding", "adding_hs97", "adding_late"):
        form = "hs97" if name == "adding_hs97" else "modern"

        def sample(key, n):
            if name == "adding_late":
                return late_adding(key, n, T, margin)
            d = adding.batch(key=key, batch_size=n, length=T, form=form)
            return d.inputs, d.targets

        def loss(out, y):
            return tr.mse(out[..., 0], y)

        def metrics(out, y):
            return {"test_loss": loss(out, y),
                    "test_solved": jnp.mean(adding.solved(out[..., 0], y).astype(jnp.float32))}

        def constant(inputs):
            return jnp.full((*inputs.shape[:-2], 1), 1.0 if form == "modern" else 0.5)

        return Task(name, adding.baseline(form), sample,
                    lambda cell: sequence_model(cell, input_size=adding.INPUT_SIZE, output_size=1,
                                                pool="last"), loss, metrics, constant)
    if name == "copy":
        V = copy_task.vocab_size()
        n_recall = 10  # the default number of symbols: the last 10 steps recall them

        def sample(key, n):
            d = copy_task.batch(key=key, batch_size=n, delay=T)
            return d.inputs, d.targets

        def loss(logits, y):
            return tr.cross_entropy(logits, y)

        def metrics(logits, y):  # accuracy on the 10 positions that must be recalled
            return {"test_loss": loss(logits, y),
                    "test_recall": tr.accuracy(logits[..., -n_recall:, :], y[..., -n_recall:])}

        def constant(inputs):  # log-probabilities: blank, then uniform over the symbols 1..K
            ids, end = jnp.arange(V), copy_task.delimiter()  # the symbols are BLANK+1 .. end-1
            symbols = jnp.where((ids > copy_task.BLANK) & (ids < end),
                                -math.log(end - copy_task.BLANK - 1), -jnp.inf)
            blank = jnp.where(ids == copy_task.BLANK, 0.0, -jnp.inf)
            recall = jnp.arange(inputs.shape[-1]) >= inputs.shape[-1] - n_recall
            return jnp.broadcast_to(jnp.where(recall[:, None], symbols, blank), (*inputs.shape, V))

        return Task(name, copy_task.baseline(T), sample,
                    lambda cell: sequence_model(cell, vocab_size=V, output_size=V), loss, metrics,
                    constant)
    raise ValueError(f"task must be one of {', '.join(TASKS)}, got {name!r}")


def linear_floor(T: float) -> float:
    """The lowest loss / baseline of any predictor linear in the adding problem's inputs
    (modern form): ``1 − 2/T``. A one-layer LRU with a linear readout is such a predictor.

    Derivation. The inputs are values ``u_t ~ U[0, 1]`` (i.i.d., variance 1/12) and markers
    ``m_t``, independent of the values; ``y = u_a + u_b`` with ``a`` uniform on the first half
    and ``b`` on the second, so ``P(t ∈ {a, b}) = 2/T`` for every t. Then
    ``Cov(y, u_t) = P(t ∈ {a, b}) (E u² − (E u)²) = (2/T)(1/12)``, and
    ``Cov(y, m_t) = E[m_t E(y | a, b)] − E y E m_t = E m_t − E m_t = 0`` since ``E(y | a, b) = 1``;
    values and markers are uncorrelated. The best linear predictor's mean squared error is
    ``Var y − Σ_t Cov(y, u_t)² / Var u_t = 1/6 − T (2/(12T))² · 12 = 1/6 − 1/(3T)``, i.e.
    ``(1/6)(1 − 2/T)``: the constant's loss (the baseline 1/6) times ``1 − 2/T``.
    """
    return 1.0 - 2.0 / T


def marker_probability(name: str, T: int, margin: int = 20) -> jax.Array:
    """``P(t ∈ {a, b})`` per position t of the modern adding problem (``adding``: ``2/T``
    everywhere; ``adding_late``: ``2/T`` on the first half, ``1/(T − T/2 − margin)`` on
    ``[T/2, T − margin)``, 0 on the last ``margin`` steps)."""
    t = jnp.arange(T)
    if name == "adding":
        return jnp.where(t < T // 2, 1 / (T // 2), 1 / (T - T // 2))
    if name == "adding_late":
        return jnp.where(t < T // 2, 1 / (T // 2),
                         jnp.where(t < T - margin, 1 / (T - T // 2 - margin), 0.0))
    raise ValueError(f"the linear predictor is defined for adding and adding_late, got {name!r}")


def linear_prediction(name: str, T: int, inputs: jax.Array, margin: int = 20) -> jax.Array:
    """The best predictor linear in the inputs (values and markers), over the task's
    distribution: ``ŷ = Σ_t P(t ∈ {a, b}) u_t`` (see :func:`linear_floor`: ``Cov(y, u_t) =
    P(t ∈ {a, b}) Var u``, the markers are uncorrelated with y, and the intercept
    ``E y − Σ_t P_t E u_t = 1 − 1`` is 0)."""
    return inputs[..., 0] @ marker_probability(name, T, margin)


@functools.cache
def linear_loss(name: str, T: int, seed: int, n: int, margin: int = 20) -> float | None:
    """The loss of :func:`linear_prediction` on the task's fixed test set (:func:`eval_set`):
    what a predictor linear in its inputs, such as the one-layer LRU, can reach on the test set
    every run is scored on (None for a task other than the modern adding problem)."""
    if name not in ("adding", "adding_late"):
        return None
    task = make_task(name, T, margin)
    inputs, targets = eval_set(task, T, seed, n)
    return float(jnp.mean((linear_prediction(name, T, inputs, margin) - targets) ** 2))


def data_key(seed: int, T: int) -> jax.Array:
    """The key of length ``T``'s fixed data (test sets, training set, Lyapunov input) at ``seed``."""
    return jax.random.fold_in(jax.random.key(seed + 10_007), T)


def eval_set(task: Task, T: int, seed: int, n: int) -> tuple[jax.Array, jax.Array]:
    """``(inputs, targets)``: the ``n`` test sequences every run of ``task`` at ``T`` is scored on."""
    return task.sample(jax.random.fold_in(data_key(seed, T), TASKS.index(task.name)), n)


@functools.cache
def constant_loss(name: str, T: int, seed: int, n: int, margin: int = 20) -> float:
    """The loss of the task's ``constant`` prediction on its fixed test set (:func:`eval_set`).

    Its ratio to ``baseline`` is that test set's own sampling deviation: what a run that learns
    only the constant prediction scores, e.g. ``mean((y - 1)^2) / (1/6)`` for the adding problem.
    """
    task = make_task(name, T, margin)
    inputs, targets = eval_set(task, T, seed, n)
    return float(task.loss(task.constant(inputs), targets))
