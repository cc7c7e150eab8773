"""The long-range sweep's settings: what is swept, how each run trains, ablations, execution."""

from __future__ import annotations

import dataclasses
from typing import Annotated

import tyro

from experiments.common import require_choice, require_positive, require_subset

TASKS = ("adding", "adding_hs97", "copy")
MODELS = ("elman", "irnn", "lstm_fb0", "lstm_fb1", "lstm_chrono", "gru", "lru", "mingru",
          "minlstm")
ABLATIONS = ("no_clip", "tbptt")
RECURRENT_INITS = ("default", "gaussian")


@dataclasses.dataclass(frozen=True)
class TaskSweep:
    """One task's sweep: every model x T x seed is one run."""

    models: tuple[str, ...] = ()
    """Models (see ``MODELS``); none: the task is not run."""
    lengths: tuple[int, ...] = ()
    """Sequence lengths T (for the copy task: the delay)."""
    seeds: int = 5
    """Runs per (model, T); seed s gives every model the same data (paired comparisons)."""

    def __post_init__(self):
        require_subset("models", self.models, MODELS, allow_empty=True)
        require_positive(self, "seeds")
        if any(t < 6 for t in self.lengths):
            raise ValueError(f"lengths must be values >= 6, got {self.lengths!r}")


@dataclasses.dataclass(frozen=True)
class SweepConfig:
    """The main sweep, one :class:`TaskSweep` per task."""

    adding: TaskSweep = TaskSweep(
        models=("elman", "irnn", "lstm_fb0", "lstm_fb1", "lstm_chrono", "gru", "lru", "mingru",
                "minlstm"), lengths=(50, 100, 200, 400, 800))
    """Adding problem, modern form (Le et al. 2015)."""
    copy: TaskSweep = TaskSweep(models=("elman", "lstm_fb1", "lstm_chrono", "gru"),
                                lengths=(100, 200, 500), seeds=3)
    """Copy task (Arjovsky et al. 2016)."""
    adding_hs97: TaskSweep = TaskSweep()
    """Adding problem, 1997 form (Hochreiter & Schmidhuber 1997)."""

    def tasks(self) -> dict[str, TaskSweep]:
        """The tasks that run, in ``TASKS`` order."""
        return {t: getattr(self, t) for t in TASKS if getattr(self, t).models
                and getattr(self, t).lengths}


@dataclasses.dataclass(frozen=True)
class TuneConfig:
    """The learning-rate (and Elman recurrent-init) sweep that sets each tuned model's setting.

    Every (learning rate, init) of a tuned model runs at each of ``lengths`` on the adding
    problem's seeds; the setting with the lowest mean over ``lengths`` of the median final
    loss / baseline is then used for that model at every T, task and ablation.
    """

    models: tuple[str, ...] = ("elman", "irnn", "lru", "mingru", "minlstm")
    """Models whose learning rate is tuned (the others use ``train.learning_rate``)."""
    lengths: tuple[int, ...] = (50, 100)
    """Adding-problem lengths of the tuning runs (these runs are also the main sweep's there)."""
    learning_rates: tuple[float, ...] = (1e-4, 3e-4, 1e-3, 3e-3, 1e-2)
    """Adam's peak learning rates tried."""
    elman_inits: tuple[str, ...] = RECURRENT_INITS
    """Recurrent inits tried for ``elman``: default (orthogonal) and gaussian (N(0, 1/H))."""

    def __post_init__(self):
        require_subset("tune.models", self.models, MODELS, allow_empty=True)
        require_subset("tune.elman_inits", self.elman_inits, RECURRENT_INITS)
        require_positive(self, "learning_rates")
        if self.models and not (self.learning_rates and self.lengths and self.elman_inits):
            raise ValueError("tune needs learning_rates, lengths and elman_inits when it has models")


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """How every run trains and is evaluated (the same for all models and every T)."""

    hidden_size: int = 32
    """Hidden units H of every model (so the LSTM has ~4x the Elman's recurrent parameters)."""
    batch_size: int = 32
    """Sequences per update."""
    steps: int = 2000
    """Updates per run, the same at every T (``--steps`` overrides it)."""
    learning_rate: float = 1e-2
    """Adam's peak learning rate."""
    lr_schedule: str = "cosine"
    """constant, or cosine: decayed to 10 % of the peak over the run's updates."""
    clip_norm: float = 1.0
    """Global-norm gradient clipping threshold (Pascanu et al. 2013)."""
    data: str = "stream"
    """stream: a fresh batch per update from the seed's key; fixed: epochs over n_train sequences."""
    n_train: int = 10_000
    """Training sequences with data=fixed."""
    n_test: int = 500
    """Fixed test sequences per (task, T), the same for every model and seed."""
    eval_every: int = 100
    """Evaluate the test loss every this many updates (the learning curves' resolution)."""
    checkpoint_every: int = 500
    """Checkpoint every this many updates; rerunning the same command resumes."""
    success_ratio: float = 0.1
    """A run succeeds at its first evaluation with test loss <= success_ratio x baseline."""

    def __post_init__(self):
        require_choice("train.lr_schedule", self.lr_schedule, ("constant", "cosine"))
        require_choice("train.data", self.data, ("stream", "fixed"))
        require_positive(self, "hidden_size", "batch_size", "steps", "learning_rate", "clip_norm",
                         "n_train", "n_test", "eval_every", "checkpoint_every", "success_ratio")
        if self.data == "fixed" and self.n_train < self.batch_size:
            raise ValueError(f"train.n_train ({self.n_train}) must be >= train.batch_size "
                             f"({self.batch_size}) with train.data=fixed")


@dataclasses.dataclass(frozen=True)
class AblationConfig:
    """Variants of some models on the adding problem, over the main sweep's seeds.

    The forget-gate ablation (b_f = 0 vs 1 vs chrono) is the main sweep's three LSTM models.
    """

    kinds: tuple[str, ...] = ABLATIONS
    """no_clip (clipping off), tbptt (backprop through the last tbptt_truncation steps)."""
    models: tuple[str, ...] = ("elman", "lstm_fb1")
    """The models ablated (each with its tuned setting)."""
    lengths: tuple[int, ...] = (100, 400)
    """Adding-problem lengths T of the ablation runs (tbptt only where tbptt_truncation < T/2)."""
    tbptt_truncation: int = 20
    """Steps backpropagated by the truncated-BPTT ablation."""

    def __post_init__(self):
        unknown = [k for k in self.kinds if k not in ABLATIONS]
        if unknown:
            raise ValueError(f"ablations.kinds must be among {','.join(ABLATIONS)}, "
                             f"got {','.join(self.kinds)}")
        require_subset("ablations.models", self.models, MODELS, allow_empty=True)
        require_positive(self, "tbptt_truncation", "lengths")


_TOP = tyro.conf.arg(prefix_name=False)  # --local-processes, not --local-processes


@dataclasses.dataclass(frozen=True)
class ExecutionConfig:
    """Where and how the runs of one program execute; the numbers do not depend on it."""

    sweep: str = "auto"
    """vmap (runs batched), map (runs in turn via jax.lax.map), auto (map on CPU, else vmap)."""
    devices: int = 0
    """Shard each process's runs over this many of its devices (0: all of them)."""
    local_processes: Annotated[int, _TOP] = 0
    """Launch this many processes on this machine, joined in one JAX runtime, that split each
    program's runs between them (0 or 1: this process alone)."""
    coordinator: Annotated[str, _TOP] = ""
    """HOST:PORT of process 0 in a multi-process run on several machines ("": none); every
    process runs the same command with its own --process-id."""
    num_processes: Annotated[int, _TOP] = 1
    """Processes of the multi-process run started with --coordinator."""
    process_id: Annotated[int, _TOP] = 0
    """This process's index, 0 .. num_processes - 1; only process 0 writes results."""
    reuse_committed: bool = True
    """Reuse a program's result file whose settings match even if this machine did not make it
    (a long sweep finished over several sittings and machines); False recomputes every program
    not made here."""

    def __post_init__(self):
        require_choice("execution.sweep", self.sweep, ("auto", "vmap", "map"))
        require_positive(self, "devices", "local_processes", "process_id", allow_zero=True)
        require_positive(self, "num_processes")
        if self.coordinator and self.local_processes > 1:
            raise ValueError("coordinator and local_processes exclude each other")
        if self.coordinator and not _host_port(self.coordinator):
            raise ValueError(f"--coordinator must be HOST:PORT, got {self.coordinator!r}")
        if not self.coordinator and (self.num_processes > 1 or self.process_id):
            raise ValueError("--num-processes and --process-id need --coordinator")
        if self.process_id >= self.num_processes:
            raise ValueError(f"process_id must be < num_processes ({self.num_processes})")


def _host_port(address: str) -> bool:
    host, _, port = address.rpartition(":")
    return bool(host) and port.isdigit() and 0 < int(port) < 65536


@dataclasses.dataclass(frozen=True)
class Config:
    """LSTM versus Elman on long-range dependencies: the adding and copy problems swept over T.

    Reproduces: the tanh RNN stays at the constant-prediction baseline once the lag reaches
    T ≈ 100–200 while gated networks learn far below it (Hochreiter & Schmidhuber 1997; Le et al.
    2015; Arjovsky et al. 2016); forget-gate bias 1 and chrono initialisation (Tallec & Ollivier
    2018) help the LSTM; truncated BPTT shorter than the lag and training without gradient
    clipping are the ablations. Linear recurrent cells (LRU, Orvieto et al. 2023; minGRU and
    minLSTM, Feng et al. 2024) run under the same protocol. Every run also records the dynamics
    at initialisation: log ||dh_T/dh_0|| on a test sequence (before and after training) and the
    largest Lyapunov exponent of the driven network.

    Adding problem, modern form (Le et al. 2015): values U[0, 1], one marker in each half, target
    their sum, MSE, baseline 1/6 (``adding_hs97``: the 1997 form, baseline 1/24, success = every
    test sequence within 0.04). Copy task (Arjovsky et al. 2016): 10 symbols of 8 categories,
    delay T, cross-entropy over all T + 20 steps, baseline 10 log 8 / (T + 20). Adam with
    global-norm clipping; "loss" is the final loss on a fixed test set. The learning rate of the
    tuned models (and the Elman recurrent init) is chosen by the ``tune`` sweep at short T.

    Each (task, T, cell family, gradient path) is one jitted program whose leading axis holds its
    runs (seeds, learning rates, initialisations, clipping on/off), sharded over a device mesh
    when there are several devices, and resumed on its own; each finished program's result is a
    file under ``programs/`` that a rerun (on any machine) reuses when its settings match.

    Commands (cost is linear in runs x updates x T): ``python -m experiments.longrange --quick``;
    ``--preset full --local-processes 2`` (rerun the same command to resume, also from committed
    results). Each run records its wall-clock time in the workdir's ``timing.json``.
    """

    seed: int = 0
    """Every random draw of the study derives from it."""
    steps: int | None = None
    """Updates per run, overriding train.steps (None: train.steps)."""
    sweep: SweepConfig = SweepConfig()
    tune: TuneConfig = TuneConfig()
    train: TrainConfig = TrainConfig()
    ablations: AblationConfig = AblationConfig()
    execution: ExecutionConfig = ExecutionConfig()


PRESETS = {
    "quick": Config(
        sweep=SweepConfig(
            adding=TaskSweep(models=("elman", "irnn", "lstm_fb1", "lstm_chrono", "gru", "mingru"),
                             lengths=(50, 100), seeds=3),
            copy=TaskSweep()),
        tune=TuneConfig(models=("elman",), lengths=(50,), learning_rates=(1e-3, 1e-2)),
        train=TrainConfig(steps=600, n_test=256, eval_every=50, checkpoint_every=300),
        ablations=AblationConfig(kinds=("tbptt",), models=("lstm_fb1",), lengths=(100,),
                                 tbptt_truncation=10),
        execution=ExecutionConfig(reuse_committed=False),
    ),
    "full": Config(),
}
