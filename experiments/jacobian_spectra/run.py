"""Every part, each cached under its own settings (changing one part's field recomputes only it)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from experiments.common import cached_part, num_steps
from experiments.jacobian_spectra.clipping import run_clipping
from experiments.jacobian_spectra.clipping_sweep import run_clipping_sweep
from experiments.jacobian_spectra.config import Config
from experiments.jacobian_spectra.flow import run_flow
from experiments.jacobian_spectra.lyapunov import run_lyapunov
from experiments.jacobian_spectra.norms import run_norms, run_spectra
from experiments.jacobian_spectra.plateau import run_plateau

PARTS = ("norms", "spectra", "lyapunov", "plateau", "flow", "clipping", "clipping_sweep")
TRAINING = ("flow", "clipping", "clipping_sweep")  # parts whose number of updates --steps overrides
COMPACT = ("norms", "clipping", "clipping_sweep")  # large tables: written without indentation


def settings(config: Config, part: str) -> dict:
    """What part ``part`` depends on: the seed and its own config (training parts: the number
    of updates actually made)."""
    own = dataclasses.asdict(getattr(config, part))
    if part in TRAINING:
        own["steps"] = num_steps(config, own["steps"])
    return {"seed": config.seed, **own}


def run(config: Config, workdir: Path) -> None:
    """``<part>.json`` for every part; training runs resume from ``<workdir>/runs/``."""
    seed = config.seed
    compute = {
        "norms": lambda: run_norms(config.norms, seed),
        "spectra": lambda: run_spectra(config.spectra, seed),
        "lyapunov": lambda: run_lyapunov(config.lyapunov, seed),
        "plateau": lambda: run_plateau(config.plateau, seed, workdir),
        "flow": lambda: run_flow(config.flow, seed, num_steps(config, config.flow.steps), workdir),
        "clipping": lambda: run_clipping(config.clipping, seed,
                                         num_steps(config, config.clipping.steps), workdir),
        "clipping_sweep": lambda: run_clipping_sweep(
            config.clipping_sweep, seed, num_steps(config, config.clipping_sweep.steps), workdir),
    }
    for part in PARTS:
        cached_part(workdir, part, settings(config, part), compute[part], compact=part in COMPACT)
