"""The long-range sweep's settings: what is swept, how each run trains, ablations, execution."""

from __future__ import annotations

import dataclasses
from typing import Annotated

import tyro

from experiments.common import require_choice, require_positive, require_subset

TASKS = ("adding", "adding_hs97", "copy")
MODELS = ("elman", "irnn", "lstm_fb0", "lstm_fb1", "lstm_chrono", "gru")
ABLATIONS = ("no_clip", "tbptt")


@dataclasses.dataclass(frozen=True)
class SweepConfig:
    """The main sweep: every task x model x T x seed is one run."""

    tasks: tuple[str, ...] = ("adding",)
    """Tasks: adding (Le et al. 2015 form), adding_hs97 (Hochreiter & Schmidhuber 1997), copy."""
    models: tuple[str, ...] = MODELS
    """elman (tanh), irnn (ReLU, identity init), lstm_fb0/1 (forget bias 0/1), lstm_chrono, gru."""
    lengths: tuple[int, ...] = (50, 100, 200, 400)
    """Sequence lengths T (for the copy task: the delay)."""
    seeds: int = 5
    """Runs per (task, model, T); seed s gives every model the same data (paired comparisons)."""

    def __post_init__(self):
        require_subset("sweep.tasks", self.tasks, TASKS)
        require_subset("sweep.models", self.models, MODELS)
        require_positive(self, "seeds")
        if not self.lengths or any(t < 6 for t in self.lengths):
            raise ValueError(f"sweep.lengths must be values >= 6, got {self.lengths!r}")


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """How every run trains and is evaluated (the same for all models and every T)."""

    hidden_size: int = 32
    """Hidden units H of every model (so the LSTM has ~4x the Elman's recurrent parameters)."""
    batch_size: int = 32
    """Sequences per update."""
    steps: int = 3000
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
    """Variants of some models, run over the same seeds and T as the main sweep."""

    kinds: tuple[str, ...] = ABLATIONS
    """no_clip (clipping off), tbptt (backprop through the last tbptt_truncation steps if < T/2)."""
    models: tuple[str, ...] = ("elman", "lstm_fb1")
    """The models ablated."""
    tbptt_truncation: int = 10
    """Steps backpropagated by the truncated-BPTT ablation."""

    def __post_init__(self):
        unknown = [k for k in self.kinds if k not in ABLATIONS]
        if unknown:
            raise ValueError(f"ablations.kinds must be among {','.join(ABLATIONS)}, "
                             f"got {','.join(self.kinds)}")
        require_subset("ablations.models", self.models, MODELS)
        require_positive(self, "tbptt_truncation")


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
    clipping are the ablations.

    Adding problem, modern form (Le et al. 2015): values U[0, 1], one marker in each half, target
    their sum, MSE, baseline 1/6 (``adding_hs97``: the 1997 form, baseline 1/24, success = every
    test sequence within 0.04). Copy task (Arjovsky et al. 2016): 10 symbols of 8 categories,
    delay T, cross-entropy over all T + 20 steps, baseline 10 log 8 / (T + 20). Adam with
    global-norm clipping; "loss" is the final loss on a fixed test set.

    Each (task, T, cell family, gradient path) is one jitted program whose leading axis holds its
    runs (seeds, forget-gate initialisations, clipping on/off), sharded over a device mesh when
    there are several devices, checkpointed and resumed on its own.

    Commands and runtimes on 2 CPU cores (cost is linear in runs x updates x T):
    ``python -m experiments.longrange --quick`` (about 2 minutes idle);
    ``--preset medium`` (T = 100, 200; about 10 minutes); ``--preset long`` (T = 400; about
    25 minutes); ``--preset full`` (about 4 hours, extrapolated; rerun to resume).
    """

    seed: int = 0
    """Every random draw of the study derives from it."""
    steps: int | None = None
    """Updates per run, overriding train.steps (None: train.steps)."""
    sweep: SweepConfig = SweepConfig()
    train: TrainConfig = TrainConfig()
    ablations: AblationConfig = AblationConfig()
    execution: ExecutionConfig = ExecutionConfig()


PRESETS = {
    "quick": Config(
        sweep=SweepConfig(models=("elman", "irnn", "lstm_fb1", "lstm_chrono", "gru"),
                          lengths=(50, 100), seeds=3),
        train=TrainConfig(steps=600, n_test=256, eval_every=50, checkpoint_every=300),
        ablations=AblationConfig(kinds=("tbptt",), models=("lstm_fb1",)),
    ),
    "full": Config(),
    # results/longrange/medium: Elman against LSTM b_f = 1 at T = 100 and 200 (made with the
    # vmapped sweep)
    "medium": Config(
        sweep=SweepConfig(models=("elman", "lstm_fb1"), lengths=(100, 200), seeds=3),
        train=TrainConfig(steps=1500, n_test=256, eval_every=50),
        ablations=AblationConfig(kinds=()),
        execution=ExecutionConfig(sweep="vmap"),
    ),
    # results/longrange/long: four models at T = 400
    "long": Config(
        sweep=SweepConfig(models=("elman", "lstm_fb1", "lstm_chrono", "gru"), lengths=(400,),
                          seeds=3),
        train=TrainConfig(steps=3000, n_test=256),
        ablations=AblationConfig(kinds=()),
    ),
}
