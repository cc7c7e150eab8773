"""Image captioning: a CNN encoder into an LSTM decoder (one-to-many)."""

from __future__ import annotations

import dataclasses

from experiments.common import require_finite, require_positive, require_unit_interval


@dataclasses.dataclass(frozen=True)
class DataConfig:
    """Generated images of one or two coloured shapes (``rnnjax.tasks.captions``)."""

    noise: float = 0.05
    """Standard deviation of the pixel noise."""
    p_two: float = 0.5
    """Probability that an image holds two shapes rather than one."""
    n_test: int = 1000
    """Held-out test images, captioned by greedy decoding."""

    def __post_init__(self):
        require_positive(self, "noise", allow_zero=True)
        require_unit_interval(self, "p_two")
        require_positive(self, "n_test")


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    """The CNN encoder and the LSTM decoder."""

    hidden_size: int = 128
    """LSTM units."""
    embed_size: int = 32
    """Size of the word embeddings."""
    features: tuple[int, ...] = (16, 32)
    """Channels of the 3×3 convolution stages (each followed by ReLU and 2×2 mean pooling)."""
    feature_size: int = 64
    """Size of the image feature mapped to the LSTM's initial (h_0, c_0)."""

    def __post_init__(self):
        if not self.features:
            raise ValueError("model.features must list at least one convolution stage")
        require_positive(self, "hidden_size", "embed_size", "features", "feature_size")


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Teacher forcing with masked cross-entropy; Adam with global-norm clipping 1.0."""

    steps: int = 4000
    """Updates (fresh images every step); ``--steps`` overrides it."""
    batch_size: int = 64
    """Images per update."""
    learning_rate: float = 2e-3
    """Adam learning rate."""
    eval_every: int = 100
    """Evaluate on the test images (and log) every this many updates."""
    seeds: int = 5
    """Independent runs (initialisation and image stream), vmapped as one program."""

    def __post_init__(self):
        require_finite(self, "learning_rate")
        require_positive(self, "steps", "batch_size", "learning_rate", "eval_every", "seeds")


@dataclasses.dataclass(frozen=True)
class Config:
    """Image captioning, CNN encoder -> LSTM decoder (one-to-many; Vinyals et al. 2015).

    Reproduces the lecture's captioning slide: a CNN reads the image once, its features become the
    LSTM's initial state (h_0, c_0), and the LSTM emits words from ``<s>`` until ``</s>``. Data:
    16 × 32 RGB images with one or two coloured shapes (4 shapes × 4 colours × 2 sizes, random
    positions, pixel noise) and captions naming them left to right, e.g. "a small blue cross and
    a large yellow square </s>". Fresh images every step; tested on held-out images by greedy
    decoding: exact-match captions, object count (when to stop) and per-attribute accuracy.

    ``train.seeds`` runs train as one vmapped program; every number is the mean over seeds with
    its 95 % Student-t interval. The quick preset trains 3 seeds for 1000 updates (one seed for
    1500 before), to keep about its former runtime.

    Command: ``python -m experiments.caption --quick`` (about 3 minutes on 2 CPU cores) or
    ``--preset full`` (5 seeds; a few times its one-seed runtime, not measured yet).
    The run checkpoints and resumes.
    """

    seed: int = 0
    """Every random draw of the study derives from it."""
    steps: int | None = None
    """Number of updates (None: ``train.steps``)."""
    data: DataConfig = DataConfig()
    model: ModelConfig = ModelConfig()
    train: TrainConfig = TrainConfig()


PRESETS = {
    "quick": Config(data=DataConfig(n_test=500), model=ModelConfig(hidden_size=64),
                    train=TrainConfig(steps=1000, seeds=3)),
    "full": Config(),
}
