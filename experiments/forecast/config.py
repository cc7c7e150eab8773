"""Forecasting: recurrent networks against the fixed-window feed-forward baseline."""

from __future__ import annotations

import dataclasses

from experiments.common import require_finite, require_positive, require_subset

DATASETS = ("seasonal", "population")


@dataclasses.dataclass(frozen=True)
class SeasonalConfig:
    """Annual sine plus AR(1) weather noise (``rnnjax.tasks.series.seasonal``)."""

    period: float = 50.0
    """Period of the sine (steps)."""
    noise: float = 1.5
    """Standard deviation of the AR(1) weather noise (°C)."""
    ar: float = 0.8
    """Lag-one correlation of the weather noise, in [0, 1)."""
    length: int = 200
    """Steps per series."""
    context: int = 100
    """Observed steps before a multi-step test forecast."""
    horizon: int = 50
    """Steps forecast free running."""

    def __post_init__(self):
        require_finite(self, "period", "noise", "ar")
        require_positive(self, "period", "length", "context", "horizon")
        require_positive(self, "noise", allow_zero=True)
        if not 0 <= self.ar < 1:
            raise ValueError(f"seasonal.ar must be in [0, 1), got {self.ar}")
        _check_lengths("seasonal", self)


@dataclasses.dataclass(frozen=True)
class PopulationConfig:
    """The lecture's population growth N' = N + rN(1 − N/K), one growth rate r per series."""

    rate_lo: float = 2.5
    """Smallest growth rate r (chaos sets in near 2.57)."""
    rate_hi: float = 2.9
    """Largest growth rate r (at most 3)."""
    length: int = 80
    """Steps per series."""
    context: int = 40
    """Observed steps before a multi-step test forecast."""
    horizon: int = 15
    """Steps forecast free running."""

    def __post_init__(self):
        require_finite(self, "rate_lo", "rate_hi")
        require_positive(self, "rate_lo", "rate_hi", "length", "context", "horizon")
        if not self.rate_lo <= self.rate_hi <= 3.0:
            raise ValueError(f"need population.rate_lo <= population.rate_hi <= 3, "
                             f"got {self.rate_lo}, {self.rate_hi}")
        _check_lengths("population", self)


def _check_lengths(name: str, c) -> None:
    if c.context + c.horizon > c.length:
        raise ValueError(f"need {name}.context + {name}.horizon <= {name}.length, got "
                         f"{c.context} + {c.horizon} > {c.length}")


@dataclasses.dataclass(frozen=True)
class DataConfig:
    """Which series, and how many."""

    datasets: tuple[str, ...] = DATASETS
    """Datasets studied: seasonal, population."""
    n_train: int = 512
    """Training series per dataset."""
    n_test: int = 128
    """Test series per dataset."""

    def __post_init__(self):
        require_subset("data.datasets", self.datasets, DATASETS)
        require_positive(self, "n_train", "n_test")


@dataclasses.dataclass(frozen=True)
class ModelsConfig:
    """Windowed MLPs, an LSTM (next value at every step) and an LSTM encoder–decoder."""

    windows: tuple[int, ...] = (1, 3, 10)
    """Window sizes of the feed-forward baselines, one network each."""
    hidden_size: int = 64
    """Hidden units of every model."""

    def __post_init__(self):
        if not self.windows:
            raise ValueError("models.windows must list at least one window size")
        require_positive(self, "windows", "hidden_size")


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Mean squared error, Adam with global-norm clipping 1.0; the same for every model."""

    steps: int = 3000
    """Updates per model; ``--steps`` overrides it."""
    batch_size: int = 64
    """Examples per update."""
    learning_rate: float = 3e-3
    """Adam learning rate."""
    eval_every: int = 100
    """Evaluate on the test series (and log) every this many updates."""
    seeds: int = 5
    """Independent runs per model (initialisation and batches), vmapped as one program; seed i
    sees the same training series for every model."""

    def __post_init__(self):
        require_finite(self, "learning_rate")
        require_positive(self, "steps", "batch_size", "learning_rate", "eval_every", "seeds")


@dataclasses.dataclass(frozen=True)
class Config:
    """Forecasting with RNNs versus the fixed-window feed-forward baseline, one step and many
    steps ahead (Hochreiter & Schmidhuber 1997; Sutskever et al. 2014; May 1976).

    Reproduces the lecture's "modelling sequences with feed-forward networks" slide (predict x_n
    from the window x_{n-k}..x_{n-1}, the window chosen in advance) against a recurrent network
    that carries its own state, on (a) a seasonal temperature-like series (annual sine plus AR(1)
    weather noise of std σ and lag-one correlation a) and (b) the lecture's population-growth
    model ``N' = N + rN(1 − N/K)`` with a growth rate r per series around and beyond the onset of
    chaos. Models: windowed MLPs, an LSTM predicting the next value at every step, and for
    multi-step forecasts an LSTM encoder–decoder trained with teacher forcing on the horizon;
    the one-step models forecast many steps by feeding their predictions back (free running).

    Theory lines. Seasonal: a forecaster that knows the sine still faces the weather noise, whose
    h-step-ahead error is ``σ·sqrt(1 − a^(2h))``: the floor no model can beat. Population: a
    small error ε grows like ``ε·exp(λ h)`` with λ the Lyapunov exponent of the series' map; over
    test series with exponents λ_i the RMSE grows like ``ε·sqrt(mean_i exp(2 λ_i h))`` until it
    saturates at the size of the attractor (drawn from the LSTM's first-step error).

    Each model trains ``train.seeds`` runs as one vmapped program; errors are means over seeds
    with 95 % Student-t intervals. The quick preset trains 3 seeds for 600 updates (one seed for
    1000 before), to keep about its former runtime.

    Command: ``python -m experiments.forecast --quick`` (about 4 minutes on 2 CPU cores) or
    ``--preset full`` (5 seeds; a few times its one-seed runtime, not measured yet).
    Each model's run checkpoints and resumes.
    """

    seed: int = 0
    """Every random draw of the study derives from it."""
    steps: int | None = None
    """Number of updates of every model (None: ``train.steps``)."""
    data: DataConfig = DataConfig()
    seasonal: SeasonalConfig = SeasonalConfig()
    population: PopulationConfig = PopulationConfig()
    models: ModelsConfig = ModelsConfig()
    train: TrainConfig = TrainConfig()

    def __post_init__(self):
        w = max(self.models.windows)
        for name in DATASETS:
            if w > getattr(self, name).context:
                raise ValueError(f"need max(models.windows) <= {name}.context, got {w} > "
                                 f"{getattr(self, name).context}")


PRESETS = {
    "quick": Config(data=DataConfig(n_train=256, n_test=64), models=ModelsConfig(hidden_size=32),
                    train=TrainConfig(steps=600, seeds=3)),
    "full": Config(),
}
