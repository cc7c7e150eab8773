"""When does parallel-in-time evaluation converge? Newton iterations against λ_max and T."""

from __future__ import annotations

import dataclasses

from experiments.common import require_positive, require_subset

DTYPES = ("float32", "float64")
METHODS = ("deer", "quasi_deer", "elk", "elk_adaptive")


@dataclasses.dataclass(frozen=True)
class GainConfig:
    """Random tanh networks ``h_t = tanh(x_t W_x + g h_{t-1} W + b)``, ``W_ij ~ N(0, 1/H)``,
    driven by white noise ``x_t ~ N(0, input_scale²)`` (a strong drive suppresses chaos)."""

    hidden_size: int = 64
    """Hidden units H (the Newton scan multiplies H × H matrices)."""
    gains: tuple[float, ...] = (0.5, 0.8, 1.0, 1.2, 1.5, 2.0, 2.5, 3.0)
    """Gains g of the recurrent weights (the autonomous network turns chaotic near g = 1,
    a driven one later)."""
    input_scale: float = 0.2
    """Standard deviation of the white-noise input."""
    lengths: tuple[int, ...] = (64, 128, 256, 512, 1024, 2048)
    """Sequence lengths T."""
    elk_max_length: int = 128
    """The ELK methods run at T up to this (DEER and quasi-DEER at every T): an ELK iteration's
    Kalman filter and smoother are T-step sequential scans of H × H solves, about 15× a DEER
    iteration at H = 64 on a CPU, and a solve that does not converge pays ``max_iters`` of
    them."""
    networks: int = 10
    """Random networks (and input sequences) per gain."""
    dtypes: tuple[str, ...] = DTYPES
    """Dtypes of every solve (the cell computes in it; default tolerances by dtype)."""
    methods: tuple[str, ...] = METHODS
    """Solvers: DEER, quasi-DEER, ELK with fixed damping, ELK with the adaptive rule."""
    damping: float = 0.1
    """λ of the fixed-damping ELK, and the adaptive rule's starting λ."""
    max_iters: int = 256
    """At most this many iterations per solve (``min(T, max_iters)``): a solve still above tol
    there is "not converged" (censored), not counted as T."""
    lyapunov_steps: int = 2000
    """Steps of the input sequence over which λ_max is averaged (after 200 warm-up steps)."""

    def __post_init__(self):
        require_positive(self, "hidden_size", "gains", "input_scale", "lengths", "networks",
                         "damping", "max_iters", "lyapunov_steps", "elk_max_length")
        require_subset("gain.dtypes", self.dtypes, DTYPES)
        require_subset("gain.methods", self.methods, METHODS)


@dataclasses.dataclass(frozen=True)
class TrainedConfig:
    """LSTM and GRU networks trained on the adding problem (modern form, ``rnnjax.tasks.adding``:
    two marked values among ``T`` to add, MSE; predicting 1 scores 1/6), then measured like the
    random networks: λ_max driven by adding-problem inputs, and the Newton iterations of every
    method on one adding sequence per length."""

    cells: tuple[str, ...] = ("lstm", "gru", "elman")
    """Trained cells (``rnnjax.cells`` names)."""
    hidden_size: int = 32
    """Hidden units H (an LSTM's carry (h, c) has 2H entries)."""
    train_length: int = 100
    """Sequence length T of the training and test sequences."""
    steps: int = 400
    """Adam updates per network (``--steps`` overrides)."""
    batch_size: int = 64
    """Fresh sequences per update."""
    learning_rate: float = 3e-3
    """Adam's learning rate (gradients clipped to global norm 1)."""
    seeds: int = 3
    """Networks (initialisations and data streams) per cell."""
    n_test: int = 512
    """Held-out sequences for the test MSE."""
    lengths: tuple[int, ...] = (64, 256)
    """Sequence lengths T of the Newton solves (a subset of the gain sweep's keeps the figures
    comparable; the damped solves of a 2H-dimensional LSTM carry may take T iterations each)."""

    def __post_init__(self):
        require_positive(self, "hidden_size", "steps", "batch_size", "learning_rate", "seeds",
                         "n_test", "lengths")
        require_subset("trained.cells", self.cells, ("elman", "gru", "lstm"))
        if self.train_length < 2:
            raise ValueError(f"trained.train_length must be at least 2, got {self.train_length}")


@dataclasses.dataclass(frozen=True)
class Config:
    """Newton iterations to converge (DEER, quasi-DEER, ELK, quasi-ELK) against the largest
    Lyapunov exponent λ_max over the gain of random tanh networks, and against T.

    The theory (Gonzalez et al. 2025, "Predictability enables parallelization of nonlinear
    state space models") predicts few iterations, growing slowly with T, where the network
    forgets (λ_max < 0), and up to T iterations, or divergence, in the chaotic regime (λ_max > 0).
    Trained LSTM and GRU networks (the adding problem) are measured the same way.
    Each solve starts from the initial carry repeated over time, with ``newton_unroll``'s default
    tolerance for its dtype and its overflow safeguard, and stops at tol, at ``min(T,
    max_iters)`` iterations (not converged) or at a non-finite iterate (diverged). Beside it, one
    iteration of plain Newton (no safeguard) in the same dtype says whether the first
    linearisation around the constant guess overflows: that is its own category ("overflow at
    iteration 1"), the failure mode the safeguard removes. Iterations against T are fitted by
    competing forms (constant, ln T, (ln T)², T), compared by AIC.

    Command: ``python -m experiments.parallel --quick`` (minutes on 2 CPU cores) or
    ``--preset full`` (the research grid: H = 64, 10 networks per gain, T = 64 … 2048, ELK at
    T ≤ 128; resumable per network and T, rerun the same command). Its cost on 2 CPU
    cores is dominated by the solves that never converge (chaotic networks, ``max_iters``
    iterations each): a DEER iteration at T = 512 takes about 6 ms in float32 and 16 ms in
    float64, an ELK iteration about 90 ms and 140 ms; the full grid took about an hour and a
    half, half of it at T = 2048.
    """

    seed: int = 0
    """Every random draw of the study derives from it."""
    steps: int | None = None
    """Adam updates of every trained network (None: ``trained.steps``)."""
    gain: GainConfig = GainConfig()
    trained: TrainedConfig = TrainedConfig()


PRESETS = {
    "quick": Config(gain=GainConfig(hidden_size=16, gains=(0.5, 1.0, 1.5, 2.5), networks=3,
                                    lengths=(32, 64, 128, 256), elk_max_length=256,
                                    max_iters=128, lyapunov_steps=500),
                    trained=TrainedConfig(cells=("lstm", "gru"), hidden_size=16, steps=200,
                                          seeds=2, lengths=(32, 64))),
    "full": Config(),
}
