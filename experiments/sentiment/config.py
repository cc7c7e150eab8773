"""Many-to-one sentiment where word order and negation decide the label."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from experiments.common import require_positive, require_subset

MODELS = ("bow_linear", "bow", "elman", "lstm", "gru", "bilstm", "stacked_lstm")


@dataclasses.dataclass(frozen=True)
class DataConfig:
    """The test set (generated reviews), or how a ``--corpus`` file is read."""

    n_test: int = 3000
    """Held-out generated reviews the accuracy is measured on (with --corpus: 10 % of the file)."""
    max_len: int = 60
    """With --corpus: reviews are cut to this many words."""

    def __post_init__(self):
        require_positive(self, "n_test", "max_len")


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """The models compared, one resumable run each, all trained alike."""

    models: tuple[str, ...] = MODELS
    """Models: bow_linear, bow (bag of words, linear or MLP), elman, lstm, gru, bilstm,
    stacked_lstm."""
    hidden_size: int = 64
    """Hidden units of every cell (and of the bag-of-words MLP)."""
    embed_size: int = 32
    """Word embedding size."""
    steps: int = 3000
    """Adam updates per model."""
    batch_size: int = 64
    """Fresh reviews per update."""
    learning_rate: float = 3e-3
    """Adam learning rate."""
    clip_norm: float = 1.0
    """Global-norm gradient clipping."""
    eval_every: int = 50
    """Test accuracy per review kind every this many updates."""
    checkpoint_every: int = 750
    """Checkpoint every this many updates (reruns resume from them)."""
    seeds: int = 5
    """Independent runs per model (initialisation and batches), vmapped as one program."""

    def __post_init__(self):
        require_subset("train.models", self.models, MODELS)
        require_positive(self, "hidden_size", "embed_size", "steps", "batch_size",
                         "learning_rate", "clip_norm", "eval_every", "checkpoint_every", "seeds")


@dataclasses.dataclass(frozen=True)
class Config:
    """Many-to-one sentiment where order and negation matter (Socher et al. 2013's SST-2 task,
    on generated reviews; Elman 1990, Hochreiter & Schmidhuber 1997, Cho et al. 2014,
    Schuster & Paliwal 1997).

    Reproduces the lecture's sentiment example (a many-to-one RNN) on a generated review corpus
    (``rnnjax.tasks.sentiment``) with three kinds of review: ``simple`` ("the plot was clever"),
    ``negated`` ("the acting is not good") and ``contrast`` ("the plot was not bad but the
    ending was dull": the clause after "but" decides). On ``contrast`` reviews the bag of words
    carries no information about the label (swapping the clauses keeps the words and flips the
    label), so every bag-of-words model sits at chance (50 %) there; the linear bag of words
    also fails on ``negated`` (an XOR of "not" and the adjective, so it ends below chance). The
    recurrent models read the order.

    Setup: embedding -> cell -> linear readout of the last real position's output; the
    bidirectional model reads the mean of its per-position outputs. Adam with global-norm
    clipping, fresh batches each step. With ``--corpus FILE`` (``text<TAB>label`` lines, the
    SST-2 format) the models train on 90 % of the file and are tested on the other 10 % (one
    kind, ``all``).

    Each model trains ``train.seeds`` runs as one vmapped program (seed i sees the same batches
    for every model); accuracies are means over seeds with 95 % Student-t intervals. The quick
    preset trains 3 seeds for 400 updates (one seed for 500 before), to keep about its former
    runtime.

    Command: ``python -m experiments.sentiment --quick`` (about 3 minutes on 2 CPU cores) or
    ``--preset full`` (5 seeds; a few times its one-seed runtime, not measured yet);
    each model's run checkpoints and resumes.
    """

    seed: int = 0
    """Every random draw of the study (data, initialisation, test set) derives from it."""
    steps: int | None = None
    """Number of updates of every model (None: train.steps)."""
    corpus: str | None = None
    """A text<TAB>label file (SST-2 format, two classes) instead of the generated reviews."""
    data: DataConfig = DataConfig()
    train: TrainConfig = TrainConfig()

    def __post_init__(self):
        if self.corpus is not None and not Path(self.corpus).is_file():
            raise ValueError(f"corpus file {self.corpus!r} does not exist")


PRESETS = {
    "quick": Config(data=DataConfig(n_test=1500),
                    train=TrainConfig(hidden_size=32, embed_size=16, steps=400, eval_every=20,
                                      checkpoint_every=100, seeds=3)),
    "full": Config(),
}
