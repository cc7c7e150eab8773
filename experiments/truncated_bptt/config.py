"""Truncated BPTT (k1, k2) against full BPTT and naive split-and-reset on a long dependency."""

from __future__ import annotations

import dataclasses

from experiments.common import require_choice, require_positive

CELLS = ("lstm", "gru", "elman")


@dataclasses.dataclass(frozen=True)
class TaskConfig:
    """"Remember the bit": noise tokens, a cue bit at a random time t0, a query at t0 + lag."""

    seq_len: int = 60
    """Tokens per sequence."""
    lag: int = 20
    """Steps between the cue bit and the query: the dependency to learn."""
    n_noise: int = 4
    """Number of distinct noise tokens."""

    def __post_init__(self):
        require_positive(self, "seq_len", "lag", "n_noise")
        if self.lag >= self.seq_len:
            raise ValueError(f"task.lag ({self.lag}) must be < task.seq_len ({self.seq_len})")


@dataclasses.dataclass(frozen=True)
class MethodsConfig:
    """The gradient estimators compared (full BPTT always runs)."""

    k1: int = 5
    """TBPTT: an update every k1 steps, the hidden state carried across chunks."""
    k2s: tuple[int, ...] = (5, 10, 15, 20, 25, 30, 40)
    """TBPTT: the numbers of steps backpropagated, one run each."""
    naive_chunks: tuple[int, ...] = (5, 10, 20, 30)
    """Split and reset: chunk lengths, each chunk starting from the zero state."""

    def __post_init__(self):
        require_positive(self, "k1", "k2s", "naive_chunks")


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Model and optimiser, the same for every method."""

    cell: str = "lstm"
    """Recurrent cell: lstm, gru or elman."""
    hidden_size: int = 32
    """Hidden units."""
    batch_size: int = 32
    """Sequences per batch (every method sees the same batches)."""
    learning_rate: float = 5e-3
    """Adam learning rate."""
    clip_norm: float = 1.0
    """Global-norm gradient clipping."""
    seeds: int = 5
    """Independent runs per method, vmapped as one program."""
    n_test: int = 256
    """Fresh test sequences for the query accuracy."""
    eval_every: int = 50
    """Evaluate (and log) every this many batches."""
    checkpoint_every: int = 200
    """Checkpoint every this many batches (runs resume from them)."""

    def __post_init__(self):
        require_choice("train.cell", self.cell, CELLS)
        require_positive(self, "hidden_size", "batch_size", "learning_rate", "clip_norm", "seeds",
                         "n_test", "eval_every", "checkpoint_every")


@dataclasses.dataclass(frozen=True)
class Config:
    """Truncated BPTT on a dependency longer than its truncation (Williams & Peng 1990).

    Reproduces the lecture's claims: full BPTT learns a dependency of ``lag`` steps; truncated
    BPTT with the hidden state carried across chunks (every ``k1`` steps an update that
    backpropagates ``k2`` steps) cannot learn it when ``k2`` is shorter than the lag; the naive
    "split and reset" (chunks of ``k`` steps, each from a zero state) loses it too. The model must
    output the cue bit at the query (cross-entropy at that one position; chance is 50 %
    accuracy, ln 2 loss). Full BPTT makes one update per batch, TBPTT(k1, k2) and split-and-reset
    ``seq_len / k1``. Evaluation runs fresh sequences front to back with the state carried
    (split-and-reset models with their resets, as trained).

    Command: ``python -m experiments.truncated_bptt --quick`` (about 3 minutes on 2 CPU cores) or
    ``--preset full`` (about 20 minutes). Each method's run checkpoints and resumes.
    """

    seed: int = 0
    """Every random draw of the study derives from it."""
    steps: int = 600
    """Training batches seen by every method."""
    task: TaskConfig = TaskConfig()
    methods: MethodsConfig = MethodsConfig()
    train: TrainConfig = TrainConfig()

    def __post_init__(self):
        for k in (self.methods.k1, *self.methods.naive_chunks):
            if self.task.seq_len % k:
                raise ValueError(f"methods.k1 and methods.naive_chunks must divide task.seq_len="
                                 f"{self.task.seq_len}, got {k}")


PRESETS = {
    "quick": Config(
        steps=150,
        task=TaskConfig(seq_len=40, lag=12),
        methods=MethodsConfig(k1=4, k2s=(4, 8, 12, 16, 24), naive_chunks=(4, 20)),
        train=TrainConfig(hidden_size=24, seeds=3, eval_every=10, checkpoint_every=50),
    ),
    "full": Config(),
}
