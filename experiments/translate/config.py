"""Encoder–decoder translation: teacher forcing, free running and scheduled sampling."""

from __future__ import annotations

import dataclasses

from experiments.common import require_finite, require_positive, require_subset
from rnnjax.tasks import translation as tl

MODES = ("teacher", "free", "scheduled")


@dataclasses.dataclass(frozen=True)
class DataConfig:
    """Numbers in digits -> English words (``rnnjax.tasks.translation``)."""

    max_number: int = tl.MAX_NUMBER
    """Numbers are drawn from [0, max_number)."""
    n_test: int = 2000
    """Numbers held out for testing."""

    def __post_init__(self):
        if not 1 < self.max_number <= tl.MAX_NUMBER:
            raise ValueError(f"data.max_number must be in [2, {tl.MAX_NUMBER}], "
                             f"got {self.max_number}")
        require_positive(self, "n_test")
        if self.n_test >= self.max_number:
            raise ValueError(f"data.n_test must be < data.max_number={self.max_number}, "
                             f"got {self.n_test}")


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    """LSTM encoder and decoder; the encoder's final state starts the decoder."""

    hidden_size: int = 128
    """LSTM units (encoder and decoder)."""
    embed_size: int = 32
    """Size of the digit and word embeddings."""

    def __post_init__(self):
        require_positive(self, "hidden_size", "embed_size")


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """The training modes compared, each a run of its own; Adam with global-norm clipping 1.0."""

    modes: tuple[str, ...] = MODES
    """Training modes: teacher (true previous word), free (own argmax), scheduled (true word
    with probability p falling linearly from 1 to 0 over the first 3/4 of training)."""
    steps: int = 4000
    """Updates per mode; ``--steps`` overrides it."""
    batch_size: int = 64
    """Training numbers per update."""
    learning_rate: float = 3e-3
    """Adam learning rate."""
    eval_every: int = 100
    """Evaluate on the test numbers (and log) every this many updates."""
    seeds: int = 5
    """Independent runs per mode (initialisation and batches), vmapped as one program; seed i
    is the same in every mode, so the modes are compared on paired runs."""

    def __post_init__(self):
        require_subset("train.modes", self.modes, MODES)
        require_finite(self, "learning_rate")
        require_positive(self, "steps", "batch_size", "learning_rate", "eval_every", "seeds")


@dataclasses.dataclass(frozen=True)
class Config:
    """Encoder–decoder translation: teacher forcing versus free running (Sutskever et al. 2014;
    scheduled sampling: Bengio et al. 2015).

    Reproduces the lecture's encoder–decoder (the encoder's final LSTM state starts the decoder,
    which emits words from a start token until the end token) and its teacher-forcing slide, on a
    generated task: numbers below a million written in digits -> English words ("4 0 1 7" ->
    "four thousand seventeen </s>", up to nine words), some numbers held out. Three training
    modes of the same model: ``teacher`` (the decoder reads the true previous word), ``free``
    (its own previous argmax, as at test time) and ``scheduled`` (the true word with a
    probability decaying from 1 to 0). Every model is tested by greedy decoding (exact match of
    the whole sentence) and, to expose exposure bias, by token accuracy with true
    (teacher-forced) versus own (free-running) previous words, per output position.

    Each mode trains ``train.seeds`` runs as one vmapped program; results are means over seeds
    with 95 % Student-t intervals, and the headline says whether the intervals rank the modes.
    The quick preset trains 3 seeds for 1000 updates (one seed for 1500 before) and tests on
    1000 numbers, to keep about its former runtime.

    Command: ``python -m experiments.translate --quick`` (about 3 minutes on 2 CPU cores) or
    ``--preset full`` (5 seeds; a few times its one-seed runtime, not measured yet).
    Each mode's run checkpoints and resumes.
    """

    seed: int = 0
    """Every random draw of the study derives from it."""
    steps: int | None = None
    """Number of updates of every mode (None: ``train.steps``)."""
    data: DataConfig = DataConfig()
    model: ModelConfig = ModelConfig()
    train: TrainConfig = TrainConfig()


PRESETS = {
    "quick": Config(data=DataConfig(n_test=1000), model=ModelConfig(hidden_size=64),
                    train=TrainConfig(steps=1000, seeds=3)),
    "full": Config(),
}
