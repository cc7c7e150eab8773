"""When does parallel-in-time evaluation converge? Newton iterations against λ_max and T."""

from __future__ import annotations

import dataclasses

from experiments.common import require_positive


@dataclasses.dataclass(frozen=True)
class GainConfig:
    """Random tanh networks ``h_t = tanh(x_t W_x + g h_{t-1} W + b)``, ``W_ij ~ N(0, 1/H)``,
    driven by white noise ``x_t ~ N(0, input_scale²)`` (a strong drive suppresses chaos)."""

    hidden_size: int = 16
    """Hidden units H (the Newton scan multiplies H × H matrices)."""
    gains: tuple[float, ...] = (0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 4.0)
    """Gains g of the recurrent weights (the autonomous network turns chaotic near g = 1,
    a driven one later)."""
    input_scale: float = 0.2
    """Standard deviation of the white-noise input."""
    lengths: tuple[int, ...] = (64, 256, 512)
    """Sequence lengths T."""
    networks: int = 2
    """Random networks (and input sequences) per gain."""
    damping: float = 0.1
    """λ of the damped (ELK / quasi-ELK) variants."""
    tol: float = 1e-5
    """Convergence threshold on the max-norm residual (float32)."""
    lyapunov_steps: int = 2000
    """Steps of the input sequence over which λ_max is averaged (after 200 warm-up steps)."""

    def __post_init__(self):
        require_positive(self, "hidden_size", "gains", "input_scale", "lengths", "networks",
                         "damping", "tol", "lyapunov_steps")


@dataclasses.dataclass(frozen=True)
class Config:
    """Newton iterations to converge (DEER, quasi-DEER, ELK, quasi-ELK) against the largest
    Lyapunov exponent λ_max over the gain of random tanh networks, and against T.

    The theory (Gonzalez et al. 2025, "Predictability enables parallelization of nonlinear
    state space models") predicts few iterations, growing slowly with T, where the network
    forgets (λ_max < 0), and up to T iterations, or divergence, in the chaotic regime (λ_max > 0).
    Each solve starts from the initial carry repeated over time and stops at ``tol`` or after T
    iterations (where Newton is exact); a NaN or a residual above ``tol`` after T iterations counts
    as not converged.

    Command: ``python -m experiments.parallel --quick`` (about 3 minutes on 2 CPU cores) or
    ``--preset full``.
    """

    seed: int = 0
    """Every random draw of the study derives from it."""
    steps: int | None = None
    """Unused: nothing is trained (kept for the common command line)."""
    gain: GainConfig = GainConfig()


PRESETS = {
    "quick": Config(gain=GainConfig(gains=(0.5, 1.5, 2.5, 4.0), lengths=(32, 128),
                                    lyapunov_steps=500)),
    "full": Config(),
}
