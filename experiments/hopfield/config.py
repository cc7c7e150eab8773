"""Hopfield networks: classical capacity, dense and modern memories, the attention equivalence."""

from __future__ import annotations

import dataclasses

from experiments.common import require_positive


def _require_fraction_below_half(name: str, values) -> None:
    for v in values if isinstance(values, tuple) else (values,):
        if not 0 <= v < 0.5:
            raise ValueError(f"{name} must lie in [0, 0.5), got {values!r}")


@dataclasses.dataclass(frozen=True)
class CapacityConfig:
    """Classical network: final overlap and exact recall of a stored pattern against the load."""

    sizes: tuple[int, ...] = (100, 200, 500, 1000)
    """Numbers of units N, one overlap curve each (9000 runs to convergence per N, cost growing
    like N²; α_c(N) itself is measured to larger N: ``alpha_c_sizes``)."""
    num_loads: int = 30
    """Loads alpha = P/N per curve, evenly spaced in [0.01, alpha_max] (rounded to whole P)."""
    alpha_max: float = 0.3
    """Largest load."""
    networks: int = 25
    """Random networks per (N, load); every cue noise uses the same networks."""
    cues: int = 4
    """Cues per network and cue noise (cue c recalls pattern c mod P): networks x cues trials."""
    noise: tuple[float, ...] = (0.0, 0.1, 0.2)
    """Fractions of the cue's bits flipped (the overlap curves)."""
    max_sweeps: int = 2000
    """Safety limit on the asynchronous sweeps of one run, which otherwise runs until a sweep
    flips nothing; runs that reach it are counted (``capped_runs``, which must be 0)."""
    alpha_c_sizes: tuple[int, ...] = (500, 1000, 2000, 4000, 8000)
    """alpha_c(N): the numbers of units N."""
    alpha_c_ranges: tuple[tuple[float, float], ...] = (
        (0.14, 0.2), (0.135, 0.185), (0.13, 0.175), (0.13, 0.165), (0.13, 0.16))
    """alpha_c(N): the load range per N (it brackets the crossing at that N)."""
    alpha_c_networks: tuple[int, ...] = (800, 800, 400, 200, 100)
    """alpha_c(N): random networks per (N, load), one run each from its stored pattern 1."""
    alpha_step: float = 0.0025
    """alpha_c(N): spacing of the loads."""
    thresholds: tuple[float, ...] = (0.8, 0.6, 0.9)
    """A run retrieves when its final overlap is at least this; the first defines alpha_c, the
    others show the sensitivity."""
    level: float = 0.95
    """Coverage of the intervals on alpha_c(N), alpha_inf and nu (profile likelihood)."""
    parts: str = "parts"
    """Folder under the workdir for the per-point parts: committed (a long sweep finishes over
    several sittings) for the full preset, run state (``checkpoints/...``) for quick, so that a
    check of the quick preset recomputes them."""

    def __post_init__(self):
        require_positive(self, "sizes", "num_loads", "alpha_max", "networks", "cues",
                         "max_sweeps", "alpha_c_sizes", "alpha_c_networks", "alpha_step",
                         "thresholds", "level")
        if not self.sizes or min(self.sizes) < 10:
            raise ValueError(f"capacity.sizes must be unit counts >= 10, got {self.sizes}")
        if not self.noise:
            raise ValueError("capacity.noise must hold at least one fraction")
        _require_fraction_below_half("capacity.noise", self.noise)
        if not (len(self.alpha_c_sizes) == len(self.alpha_c_ranges) == len(self.alpha_c_networks)):
            raise ValueError("capacity.alpha_c_sizes, alpha_c_ranges and alpha_c_networks must "
                             f"have equal lengths, got {len(self.alpha_c_sizes)}, "
                             f"{len(self.alpha_c_ranges)}, {len(self.alpha_c_networks)}")
        if any(not 0 < lo < hi for lo, hi in self.alpha_c_ranges):
            raise ValueError(f"capacity.alpha_c_ranges must be (low, high) with 0 < low < high, "
                             f"got {self.alpha_c_ranges}")
        if not self.thresholds or any(not 0 < t < 1 for t in self.thresholds):
            raise ValueError(f"capacity.thresholds must be overlaps in (0, 1), got {self.thresholds}")
        if not 0 < self.level < 1:
            raise ValueError(f"capacity.level must lie in (0, 1), got {self.level}")


@dataclasses.dataclass(frozen=True)
class PerfectRecallConfig:
    """Classical network: the largest P at which pattern 1 (every pattern) is a fixed point."""

    sizes: tuple[int, ...] = (100, 500, 1000, 2000)
    """Numbers of units N."""
    trials: int = 200
    """Random networks per (N, P)."""
    points: int = 25
    """Loads P per criterion around its finite-N crossing (0.7 to 1.3 times it), on top of a
    geometric grid from 1 for the figure."""
    level: float = 0.95
    """Coverage of the intervals on the crossings (profile likelihood)."""

    def __post_init__(self):
        require_positive(self, "sizes", "trials", "points", "level")
        if not 0 < self.level < 1:
            raise ValueError(f"perfect_recall.level must lie in (0, 1), got {self.level}")
        if not self.sizes or min(self.sizes) < 10:
            raise ValueError(f"perfect_recall.sizes must be unit counts >= 10, got {self.sizes}")


@dataclasses.dataclass(frozen=True)
class DenseConfig:
    """Dense associative memories, F(x) = x^n for n = 2..5 and F(x) = e^x."""

    units: int = 20
    """Units N."""
    max_patterns: int = 16384
    """Largest number of stored patterns K (the grid is the powers of two up to it)."""
    tests: int = 64
    """Stored patterns tested per K (the first ones); capacity vs N: per network, the first
    min(K, tests) must all be fixed points."""
    noise: float = 0.1
    """Fraction of a cue's bits flipped for one-update recall."""
    sizes: tuple[int, ...] = (16, 24, 32, 48, 64, 96, 128, 192, 256)
    """Capacity vs N: the numbers of units for F = x^n (a function stops at the first N whose
    capacity lies above ``capacity_max_patterns``)."""
    exp_sizes: tuple[int, ...] = (12, 14, 16, 18, 20, 22, 24, 26, 28, 30)
    """Capacity vs N: the numbers of units for F = e^x."""
    networks: int = 128
    """Capacity vs N: random networks per (N, K)."""
    capacity_max_patterns: int = 2**20
    """Capacity vs N: the largest K tried (doubling from 2, then quarter octaves near the
    crossing)."""
    level: float = 0.95
    """Capacity vs N: coverage of the intervals on each crossing and on the slopes."""

    def __post_init__(self):
        require_positive(self, "units", "max_patterns", "tests", "sizes", "exp_sizes",
                         "networks", "capacity_max_patterns", "level")
        if not 0 < self.level < 1:
            raise ValueError(f"dense.level must lie in (0, 1), got {self.level}")
        if self.max_patterns < 2:
            raise ValueError(f"dense.max_patterns must be >= 2, got {self.max_patterns}")
        if self.capacity_max_patterns < 2:
            raise ValueError("dense.capacity_max_patterns must be >= 2, got "
                             f"{self.capacity_max_patterns}")
        for name in ("sizes", "exp_sizes"):
            sizes = getattr(self, name)
            if not sizes or min(sizes) < 4 or list(sizes) != sorted(set(sizes)):
                raise ValueError(f"dense.{name} must be increasing unit counts >= 4, got {sizes}")
        _require_fraction_below_half("dense.noise", self.noise)


@dataclasses.dataclass(frozen=True)
class ModernConfig:
    """Modern Hopfield network: retrieval error against beta, fixed-point regimes, capacity vs d."""

    sizes: tuple[int, ...] = (100, 1000, 10000)
    """Numbers of stored unit-norm patterns N for the retrieval error against beta."""
    dim: int = 64
    """Pattern dimension d for the retrieval error and the regimes."""
    queries: int = 100
    """Queries per N (noisy and masked copies of the first stored patterns)."""
    noise: float = 0.5
    """Norm of the Gaussian noise added to a noisy query (patterns have norm 1)."""
    eps: float = 1e-4
    """A fixed point is reached when an update moves the state by less than this."""
    num_betas: int = 25
    """Inverse temperatures, log-spaced in [0.1, 1000] (twice as many, [0.01, 3000], for regimes)."""
    clusters: int = 8
    """Regimes: clusters of stored patterns."""
    cluster_size: int = 16
    """Regimes: patterns per cluster."""
    cluster_spread: float = 0.15
    """Regimes: norm of a pattern's offset from its cluster centre, before normalisation."""
    capacity_dims: tuple[int, ...] = (10, 20, 30, 40)
    """Capacity vs dimension: the dimensions d (random +-1 patterns)."""
    capacity_noise: float = 0.1
    """Capacity vs dimension: fraction of a cue's bits flipped, exactly (noise d is a whole
    number for every d)."""
    capacity_max_log2: int = 18
    """Capacity vs dimension: the grid of N is 2, 4, ..., 2^capacity_max_log2."""
    capacity_beta: float = 4.0
    """Capacity vs dimension: beta of the one update."""
    capacity_queries: int = 200
    """Capacity vs dimension: cues per (d, N)."""

    def __post_init__(self):
        require_positive(self, "sizes", "dim", "queries", "noise", "eps", "num_betas", "clusters",
                         "cluster_size", "cluster_spread", "capacity_dims", "capacity_max_log2",
                         "capacity_beta", "capacity_queries")
        if not self.sizes or min(self.sizes) < 2:
            raise ValueError(f"modern.sizes must be >= 2, got {self.sizes}")
        if not self.capacity_dims or min(self.capacity_dims) < 4:
            raise ValueError(f"modern.capacity_dims must be >= 4, got {self.capacity_dims}")
        _require_fraction_below_half("modern.capacity_noise", self.capacity_noise)
        inexact = [d for d in self.capacity_dims
                   if abs(self.capacity_noise * d - round(self.capacity_noise * d)) > 1e-9]
        if inexact:
            raise ValueError(f"modern.capacity_noise {self.capacity_noise} times d must be a whole "
                             f"number of flipped bits, not for d = {inexact}")


@dataclasses.dataclass(frozen=True)
class Theorem5Config:
    """Ramsauer et al.'s Theorem 5 in float64: one-update errors from queries meeting its
    precondition ||xi - x_i|| <= 1/(2 beta M), against the bound 2e(N-1)M exp(-beta Delta_i)."""

    sizes: tuple[int, ...] = (10, 100, 1000)
    """Numbers of stored unit-norm random patterns N."""
    dim: int = 64
    """Pattern dimension d."""
    queries: int = 20
    """Tested patterns per N (the first ones), one query each per beta."""
    num_betas: int = 40
    """Inverse temperatures, log-spaced in ``beta_range``."""
    beta_range: tuple[float, float] = (1.0, 300.0)
    """Smallest and largest beta."""
    fixed_point_steps: int = 50
    """Updates from x_i that give the fixed point x_i* near it (its distance is checked)."""

    def __post_init__(self):
        require_positive(self, "sizes", "dim", "queries", "num_betas", "beta_range",
                         "fixed_point_steps")
        if not self.sizes or min(self.sizes) < 2:
            raise ValueError(f"theorem5.sizes must be >= 2, got {self.sizes}")
        if not self.beta_range[0] < self.beta_range[1]:
            raise ValueError(f"theorem5.beta_range must be (low, high), got {self.beta_range}")


@dataclasses.dataclass(frozen=True)
class AttentionConfig:
    """One Hopfield update with projections against softmax attention (jax.nn and Flax MHA).

    One case per position of the four tuples (which must have equal lengths).
    """

    heads: tuple[int, ...] = (1, 4, 8)
    """Attention heads per case."""
    d_model: tuple[int, ...] = (16, 64, 128)
    """Model width per case (a multiple of its heads)."""
    queries: tuple[int, ...] = (8, 16, 64)
    """State (query) patterns per case."""
    stored: tuple[int, ...] = (32, 128, 256)
    """Stored (key) patterns per case."""

    def __post_init__(self):
        require_positive(self, "heads", "d_model", "queries", "stored")
        lengths = [len(self.heads), len(self.d_model), len(self.queries), len(self.stored)]
        if len(set(lengths)) != 1 or not lengths[0]:
            raise ValueError(f"attention case lengths differ: {', '.join(map(str, lengths))}")
        for h, d in zip(self.heads, self.d_model, strict=True):
            if d % h:
                raise ValueError(f"heads {h} must divide attention.d_model {d}")


@dataclasses.dataclass(frozen=True)
class AttentionTaskConfig:
    """The adding problem: Hopfield pooling against Elman and LSTM networks."""

    length: int = 200
    """Sequence length T (the first marker lies at least T/2 steps before the end)."""
    seeds: int = 3
    """Training runs per model (initialisation and data), in turn; intervals are over them."""
    steps: int = 3000
    """Adam updates per model (overridden by the top-level --steps)."""
    batch_size: int = 64
    """Fresh sequences per update."""
    hidden_size: int = 64
    """Hidden units of the Elman and LSTM networks."""
    model_dim: int = 32
    """Width of the embedding that Hopfield pooling attends over."""
    learning_rate: float = 3e-3
    """Adam learning rate."""
    clip_norm: float = 1.0
    """Global-norm gradient clipping."""
    n_test: int = 512
    """Fixed test sequences."""
    eval_every: int = 100
    """Evaluate (and log) every this many updates."""
    checkpoint_every: int = 500
    """Checkpoint every this many updates (runs resume from them)."""

    def __post_init__(self):
        require_positive(self, "seeds", "steps", "batch_size", "hidden_size", "model_dim", "learning_rate",
                         "clip_norm", "n_test", "eval_every", "checkpoint_every")
        if self.length < 4:
            raise ValueError(f"attention_task.length must be >= 4, got {self.length}")


@dataclasses.dataclass(frozen=True)
class Config:
    """Hopfield networks: classical capacity, dense and modern memories, attention.

    Reproduces: the classical network's retrieval breaking down near alpha = P/N = 0.138
    (Amit, Gutfreund & Sompolinsky 1985, 1987), sharper for larger N, against the AGS overlap
    m(alpha), with alpha_c(N) extrapolated to N -> infinity as alpha_inf + b N^(-nu), nu free; the
    perfect-recall capacities N/(2 ln N) (one given pattern stable) and N/(4 ln N) (every
    pattern stable; McEliece et al. 1987) next to their finite-N binomial estimates; dense memories
    holding ~N^(n-1) patterns with F(x) = x^n (Krotov & Hopfield 2016) and exponentially many
    with F = exp (Demircigil et al. 2017); the modern Hopfield network (Ramsauer et al. 2021):
    retrieval error falling with beta, the three fixed-point regimes (global average, metastable
    cluster means, single patterns) and a capacity exponential in the dimension; one update
    with projections equal to softmax attention; Hopfield pooling learning the adding problem
    where an Elman network stays at the baseline.

    Definitions (where sources differ): the unscaled Hebbian rule with zero diagonal; a unit at
    its threshold keeps its value; asynchronous sweeps in a fresh random order until a sweep
    flips nothing (``max_sweeps`` is a safety limit; runs reaching it are counted in
    ``capped_runs``). A capacity-curve trial is one cue on one random network (cue c recalls
    stored pattern c mod P, with exactly ``round(noise N)`` bits flipped). alpha_c(N): the load
    where the probability that a run started at a stored pattern ends with overlap >= the first
    of ``capacity.thresholds`` crosses 1/2 (logistic maximum likelihood, profile-likelihood
    interval; :mod:`experiments.hopfield.alpha_c`). Perfect-recall capacity: the P at which the
    fraction of networks with pattern 1 (every pattern) a fixed point crosses 1/2 (logistic fit,
    profile-likelihood interval), against the finite-N estimate's interpolated crossing.
    Dense capacity against N, K_50: the K at which the fraction of networks whose first
    min(K, tests) stored patterns are all fixed points of one update crosses 1/2 (cloglog
    fit in log2 K over quarter octaves across it, profile-likelihood interval); its slope
    against N (ln K vs ln N; exp: vs N) by weighted least squares with an interval, against
    the slope of the theory of that criterion (:mod:`experiments.hopfield.dense_memory`).
    Modern retrieval error: ``||xi - x|| / ||x||`` after one update and at the fixed point.
    Theorem 5 (Ramsauer et al.): float64 one-update errors from queries at the
    distance 1/(2 beta M) its precondition allows, against eq. 15 where that bound lies in
    [1e-12, 2M) (:mod:`experiments.hopfield.theorem5`).
    Capacity vs d: the largest N in a doubling grid with at least 90 % of cues
    recalled (``sign(xi)`` equals the pattern; exactly ``capacity_noise d`` bits flipped).
    Adding problem: the modern form (baseline 1/6), every model trained with Adam and
    global-norm clipping on a fresh batch per update, ``attention_task.seeds`` runs each, with
    95 % Student-t intervals of the mean over them.

    Command: ``python -m experiments.hopfield --quick`` (about 35 minutes on a shared 2-core CPU) or
    ``--preset full`` (hours on a CPU: the alpha_c sweep to N = 8000, one core-hour or more at
    its largest N; each (N, P) point is saved under ``parts/`` and reused, and
    ``python -m experiments.hopfield.parts alpha_c`` runs that sweep alone). The training runs
    checkpoint and resume.
    """

    seed: int = 0
    """Every random draw of the study derives from it."""
    steps: int | None = None
    """Updates of every trained model (None: attention_task.steps)."""
    capacity: CapacityConfig = CapacityConfig()
    perfect_recall: PerfectRecallConfig = PerfectRecallConfig()
    dense: DenseConfig = DenseConfig()
    modern: ModernConfig = ModernConfig()
    theorem5: Theorem5Config = Theorem5Config()
    attention: AttentionConfig = AttentionConfig()
    attention_task: AttentionTaskConfig = AttentionTaskConfig()


PRESETS = {
    "quick": Config(
        capacity=CapacityConfig(sizes=(100, 200, 500), num_loads=15, networks=10, cues=2,
                                alpha_c_sizes=(250, 500, 1000),
                                alpha_c_ranges=((0.13, 0.23), (0.13, 0.21), (0.13, 0.19)),
                                alpha_c_networks=(60, 60, 60), alpha_step=0.01,
                                parts="checkpoints/parts"),
        perfect_recall=PerfectRecallConfig(sizes=(100, 200, 500), trials=200, points=12),
        dense=DenseConfig(units=16, max_patterns=4096, tests=32, sizes=(16, 32, 64),
                          exp_sizes=(12, 16, 20), networks=32, capacity_max_patterns=4096),
        modern=ModernConfig(queries=50, num_betas=15, capacity_dims=(10, 20, 30),
                            capacity_max_log2=15, capacity_queries=100),
        attention_task=AttentionTaskConfig(length=100, steps=600, eval_every=50, n_test=256,
                                           checkpoint_every=200),
    ),
    "full": Config(),
}
