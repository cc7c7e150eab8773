"""Jacobian norms, spectra, Lyapunov exponents, gradient flow and clipping: the configuration."""

from __future__ import annotations

import dataclasses

from experiments.common import require_positive, require_subset

FAMILIES = ("linear_orth", "linear_gauss", "tanh_orth", "tanh_gauss", "sigmoid_orth",
            "sigmoid_gauss", "lstm_fb0", "lstm_fb1", "gru")


@dataclasses.dataclass(frozen=True)
class NormsConfig:
    """log ||dh_t/dh_0||_2 against t per cell family and spectral radius, zero and driven input."""

    families: tuple[str, ...] = FAMILIES
    """Cells: {linear,tanh,sigmoid}_{orth,gauss} Elman (W = rho Q or Gaussian W scaled to
    spectral radius rho), lstm_fb0, lstm_fb1 (forget bias 0 or 1) and gru."""
    hidden_size: int = 64
    """Hidden units H."""
    length: int = 300
    """Time steps T."""
    rhos: tuple[float, ...] = (0.5, 0.9, 1.0, 1.1, 1.5)
    """Spectral radii of the recurrent matrix (of every H x H gate block for LSTM/GRU)."""
    seeds: int = 5
    """Independent draws of the weights and of the driving input."""
    input_size: int = 4
    """Input features I."""
    input_std: float = 1.0
    """Standard deviation of the driving input x_t ~ N(0, input_std^2 I)."""

    def __post_init__(self):
        require_subset("norms.families", self.families, FAMILIES)
        require_positive(self, "hidden_size", "length", "rhos", "seeds", "input_size")
        require_positive(self, "input_std", allow_zero=True)


@dataclasses.dataclass(frozen=True)
class SpectraConfig:
    """Singular values of dh_t/dh_0 (float64) for linear and driven tanh Elman cells."""

    hidden_size: int = 128
    """Hidden units H (the number of singular values)."""
    rhos: tuple[float, ...] = (0.9, 1.0, 1.1)
    """Spectral radii of the recurrent matrix."""
    seeds: int = 3
    """Independent draws of W (and of the driving input) per rho."""
    times: tuple[int, ...] = (1, 10, 50, 200)
    """Steps t at which the spectrum of the product is taken."""
    input_size: int = 4
    """Input features I of the driven tanh cells."""
    input_std: float = 1.0
    """Standard deviation of the tanh cells' driving input."""

    def __post_init__(self):
        require_positive(self, "hidden_size", "rhos", "seeds", "times", "input_size")
        require_positive(self, "input_std", allow_zero=True)
        if any(not isinstance(t, int) for t in self.times):
            raise ValueError(f"spectra.times must be integers >= 1, got {self.times!r}")


@dataclasses.dataclass(frozen=True)
class LyapunovConfig:
    """Lyapunov spectra of random tanh networks against the gain g, and the logistic map."""

    hidden_size: int = 100
    """Units N of h_t = tanh(W h_{t-1} + s xi_t), W_ij ~ N(0, g^2/N)."""
    length: int = 2000
    """Steps of the trajectory (warm-up included)."""
    warmup: int = 500
    """Steps discarded before averaging (the trajectory settles on its attractor)."""
    gains: tuple[float, ...] = (0.5, 1.0, 1.5, 2.0, 3.0)
    """Gains g whose full spectrum is drawn (first seed)."""
    gain_grid: tuple[float, ...] = (0.5, 0.7, 0.9, 1.0, 1.1, 1.2, 1.4, 1.7, 2.0, 2.5, 3.0)
    """Gains g at which lambda_max is measured for every seed."""
    seeds: int = 3
    """Independent draws of W (and of the input) per gain."""
    input_std: float = 0.5
    """Input standard deviation s of the driven runs (W_x = s I, xi_t ~ N(0, I)): the drive
    u_t = s xi_t has variance exactly s^2 per unit, the sigma_u^2 of the mean-field theory."""
    finite_sizes: tuple[int, ...] = (50, 100, 200, 400)
    """Network sizes N at which the autonomous lambda_max is measured on ``gain_grid`` (every
    seed): does the plateau at lambda ~ 0 for 1 < g < 1.4 shrink as N grows?"""
    logistic_points: int = 400
    """Growth rates r in [2.5, 4] of the logistic map x <- r x (1 - x)."""
    logistic_orbits: int = 64
    """Independent initial points of the logistic map at r = 4: lambda(4) is their mean, with a
    Student-t interval across them."""

    def __post_init__(self):
        require_positive(self, "hidden_size", "length", "gains", "gain_grid", "seeds",
                         "finite_sizes", "logistic_points", "logistic_orbits")
        if self.logistic_orbits < 2:
            raise ValueError(f"lyapunov.logistic_orbits must be >= 2, got {self.logistic_orbits}")
        require_positive(self, "input_std", allow_zero=True)
        if not 0 <= self.warmup < self.length:
            raise ValueError(f"lyapunov.warmup must lie in 0..lyapunov.length-1={self.length - 1}, "
                             f"got {self.warmup}")


@dataclasses.dataclass(frozen=True)
class PlateauConfig:
    """lambda_max against N near the transition (1 < g <= 1.5) and with input: the gap to the
    mean-field theory fitted against 1/N (see :mod:`experiments.jacobian_spectra.plateau`)."""

    sizes: tuple[int, ...] = (100, 200, 400, 800, 1600)
    """Network sizes N without input."""
    gains: tuple[float, ...] = (1.05, 1.1, 1.2, 1.3, 1.4, 1.5)
    """Gains g without input (the plateau region 1 < g <= 1.5)."""
    driven_sizes: tuple[int, ...] = (100, 200, 400, 800)
    """Network sizes N with input."""
    driven_gains: tuple[float, ...] = (0.5, 1.0, 1.5, 2.0, 3.0)
    """Gains g with input."""
    input_std: float = 0.5
    """Input standard deviation s of the driven runs (sigma_u^2 = s^2)."""
    seeds: int = 20
    """Independent draws of W, the input and h_0 per (N, g)."""
    length: int = 10000
    """Steps of each trajectory (warm-up included)."""
    warmup: int = 1000
    """Steps discarded before averaging."""
    level: float = 0.95
    """Coverage of the intervals."""
    parts: str = "parts"
    """Folder under the workdir for the per-point parts: committed (a long sweep finishes over
    several sittings) for the full preset, run state (``checkpoints/...``) for quick, so that a
    check of the quick preset recomputes them."""

    def __post_init__(self):
        require_positive(self, "sizes", "gains", "driven_sizes", "driven_gains", "seeds",
                         "length", "level")
        require_positive(self, "input_std", "warmup", allow_zero=True)
        if self.seeds < 2:
            raise ValueError(f"plateau.seeds must be >= 2, got {self.seeds}")
        if not 0 <= self.warmup < self.length:
            raise ValueError(f"plateau.warmup must lie in 0..plateau.length-1={self.length - 1}, "
                             f"got {self.warmup}")
        if not 0 < self.level < 1:
            raise ValueError(f"plateau.level must lie in (0, 1), got {self.level}")


@dataclasses.dataclass(frozen=True)
class FlowConfig:
    """||dL/dh_{T-tau}|| against the lag tau, at initialisation and while training on adding."""

    length: int = 100
    """Sequence length T of the adding problem."""
    hidden_size: int = 64
    """Hidden units of the tanh RNN and of the LSTM."""
    steps: int = 2000
    """Adam updates (``--steps`` overrides)."""
    batch_size: int = 64
    """Sequences per update."""
    learning_rate: float = 1e-3
    """Adam learning rate."""
    clip_norm: float = 1.0
    """Global-norm gradient clipping before Adam."""
    samples: int = 32
    """Test sequences the flow (and the test MSE) is averaged over."""
    seeds: int = 3
    """Independent initialisations and batch streams per model."""

    def __post_init__(self):
        require_positive(self, "hidden_size", "seeds", "steps", "batch_size", "learning_rate",
                         "clip_norm", "samples")
        if not isinstance(self.length, int) or self.length < 2:
            raise ValueError(f"flow.length must be an integer >= 2, got {self.length!r}")


@dataclasses.dataclass(frozen=True)
class ClippingConfig:
    """SGD on adding in the exploding regime without and with clipping; Pascanu's landscape."""

    length: int = 50
    """Sequence length T of the adding problem."""
    hidden_size: int = 64
    """Hidden units of the tanh RNN."""
    rho: float = 1.5
    """The initial recurrent matrix is rho times the (orthogonal) default."""
    control_rho: float = 1.0
    """The control runs' rho (<= 1: no exploding gradients at initialisation)."""
    seeds: int = 3
    """Independent initialisations and batch streams per clipping mode and rho."""
    steps: int = 2000
    """SGD updates (``--steps`` overrides); every one is logged."""
    batch_size: int = 64
    """Sequences per update."""
    learning_rate: float = 0.1
    """SGD learning rate, chosen by a sweep of rates on this task: large enough that unclipped
    runs can diverge, small enough that norm-clipped runs still learn (at larger rates they stay
    at the baseline 1/6). The control rho = 1 tells the step size's divergence from the
    exploding gradient's."""
    clip_norm: float = 1.0
    """Threshold of global-norm clipping (also used on the landscape)."""
    clip_value: float = 0.05
    """Threshold of elementwise clipping."""
    landscape_points: int = 121
    """Grid points per axis of the one-unit loss landscape."""

    def __post_init__(self):
        require_positive(self, "hidden_size", "rho", "control_rho", "seeds", "steps",
                         "batch_size", "learning_rate", "clip_norm", "clip_value",
                         "landscape_points")
        if not self.control_rho <= 1:
            raise ValueError(f"clipping.control_rho must be <= 1, got {self.control_rho!r}")
        if not isinstance(self.length, int) or self.length < 2:
            raise ValueError(f"clipping.length must be an integer >= 2, got {self.length!r}")


@dataclasses.dataclass(frozen=True)
class ClippingSweepConfig:
    """SGD on adding over learning rate x initial rho x clipping mode, with the rho = 1 control
    (see :mod:`experiments.jacobian_spectra.clipping_sweep`)."""

    length: int = 50
    """Sequence length T of the adding problem."""
    hidden_size: int = 64
    """Hidden units of the tanh RNN."""
    rhos: tuple[float, ...] = (1.0, 1.2, 1.5, 2.0)
    """Initial recurrent matrices rho times the orthogonal default; the smallest is the control."""
    learning_rates: tuple[float, ...] = (0.003, 0.01, 0.03, 0.1)
    """SGD learning rates."""
    modes: tuple[str, ...] = ("none", "norm", "elementwise")
    """Clipping modes."""
    seeds: int = 5
    """Runs per (mode, rate, rho)."""
    steps: int = 2000
    """SGD updates (``--steps`` overrides)."""
    batch_size: int = 64
    """Sequences per update."""
    clip_norm: float = 1.0
    """Threshold of global-norm clipping."""
    clip_value: float = 0.05
    """Threshold of elementwise clipping."""
    success: float = 0.1
    """A run learned when its mean loss over the last tenth is at most this times the baseline."""
    level: float = 0.95
    """Coverage of the Wilson intervals."""
    parts: str = "parts"
    """Folder under the workdir for the per-point parts: committed (a long sweep finishes over
    several sittings) for the full preset, run state (``checkpoints/...``) for quick, so that a
    check of the quick preset recomputes them."""

    def __post_init__(self):
        require_positive(self, "hidden_size", "rhos", "learning_rates", "seeds", "steps",
                         "batch_size", "clip_norm", "clip_value", "success", "level")
        require_subset("clipping_sweep.modes", self.modes, ("none", "norm", "elementwise"))
        if "none" not in self.modes:
            raise ValueError("clipping_sweep.modes must include 'none' (the control)")
        if not min(self.rhos) <= 1:
            raise ValueError(f"clipping_sweep.rhos must include a control <= 1, got {self.rhos}")
        if not isinstance(self.length, int) or self.length < 2:
            raise ValueError(f"clipping_sweep.length must be an integer >= 2, got {self.length!r}")
        if not 0 < self.level < 1:
            raise ValueError(f"clipping_sweep.level must lie in (0, 1), got {self.level}")


@dataclasses.dataclass(frozen=True)
class Config:
    """Vanishing and exploding gradients: Jacobian norms and spectra through time, Lyapunov
    spectra, gradient flow and clipping.

    Reproduces: the exact rho^t law of a linear RNN with W = rho Q, and the non-normal transient
    and asymptotic slope log rho of Gaussian W; tanh and sigmoid cells decaying at least as fast
    as the bound (gamma sigma_max(W))^t of Pascanu, Mikolov & Bengio (2013), and saturating
    instead of exploding for rho > 1; slower decay in LSTM (Hochreiter & Schmidhuber 1997) and
    GRU (Cho et al. 2014); orthogonal W keeping every singular value at rho^t while Gaussian W
    spreads them over decades; the Lyapunov spectrum of random tanh networks, whose lambda_max
    crosses 0 near g = 1 (Sompolinsky, Crisanti & Sommers 1988), with input pushing the
    crossing to larger g, and the gap to the mean-field lambda_max vanishing as 1/N (20 seeds
    per (N, g), N up to 1600, with and without input: part ``plateau``); the logistic map's
    exponent ln 2 at r = 4; the gradient reaching far
    lags in an LSTM but not in a tanh RNN on the adding problem; and clipping (by global norm or
    elementwise) keeping SGD finite and learning in the exploding regime, next to a rho <= 1
    control at the same learning rate, with Pascanu et al.'s one-unit loss landscape and its
    cliff; and the sweep of learning rate x initial rho x clipping mode whose rho = 1 control
    picks the rates at which a divergence is the exploding gradient's, not the step size's
    (part ``clipping_sweep``).

    Conventions: gated cells get every H x H gate block of W_h scaled to spectral radius rho;
    norms use the exact dense Jacobian product; the gradient flow is the norm of dL/dh_{T-tau}
    for the squared error at the last step, averaged over ``flow.samples`` test sequences.

    Command: ``python -m experiments.jacobian_spectra --quick`` (about 3 minutes on 2 idle CPU
    cores) or ``--preset full`` (larger networks, more steps and seeds; hours on a CPU: the
    plateau's N = 1600 runs and the clipping sweep's 240 training runs dominate, each (input, N)
    and (mode, rate) saved under ``parts/`` and reused). The training runs checkpoint and resume.
    """

    seed: int = 0
    """Every random draw of the study derives from it."""
    steps: int | None = None
    """Updates of every training part (None: each part's own, flow.steps and clipping.steps)."""
    norms: NormsConfig = NormsConfig()
    spectra: SpectraConfig = SpectraConfig()
    lyapunov: LyapunovConfig = LyapunovConfig()
    plateau: PlateauConfig = PlateauConfig()
    flow: FlowConfig = FlowConfig()
    clipping: ClippingConfig = ClippingConfig()
    clipping_sweep: ClippingSweepConfig = ClippingSweepConfig()


PRESETS = {
    "quick": Config(
        norms=NormsConfig(hidden_size=32, length=120, seeds=3),
        spectra=SpectraConfig(hidden_size=64, times=(1, 10, 40, 120)),
        lyapunov=LyapunovConfig(hidden_size=48, length=800, warmup=200, seeds=2,
                                gain_grid=(0.5, 0.8, 1.0, 1.2, 1.5, 2.0, 3.0),
                                finite_sizes=(24, 48), logistic_points=200),
        plateau=PlateauConfig(sizes=(25, 50, 100), driven_sizes=(25, 50, 100), length=2000,
                              warmup=500, parts="checkpoints/parts"),
        flow=FlowConfig(length=40, hidden_size=32, steps=600, samples=16),
        clipping=ClippingConfig(length=30, hidden_size=32, steps=300, landscape_points=81),
        clipping_sweep=ClippingSweepConfig(length=30, hidden_size=32, steps=300,
                                           learning_rates=(0.01, 0.03, 0.1),
                                           parts="checkpoints/parts"),
    ),
    "full": Config(),
}
