"""Compute only the α_c(N) parts of a preset (``parts/capacity/N<N>_P<P>.json``), no figures.

    python -m experiments.hopfield.alpha_c_parts [--preset full] [--workdir DIR]

The long part of ``capacity``, resumable part by part and runnable on its own (in the
background, on another machine); the study's own run then reuses every finished part.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import jax

from experiments.hopfield.alpha_c import run_alpha_c
from experiments.hopfield.config import PRESETS


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="full", choices=sorted(PRESETS))
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args(argv)
    config = PRESETS[args.preset]
    workdir = args.workdir or Path("results/hopfield" + ("" if args.preset == "quick"
                                                         else f"/{args.preset}"))
    # the key run.run gives run_capacity (fold 1), which gives run_alpha_c (fold 7)
    key = jax.random.fold_in(jax.random.fold_in(jax.random.key(config.seed), 1), 7)
    result = run_alpha_c(config.capacity, key, workdir, config.seed)
    print({n: v for n, v in result["alpha_c"].items()}, "capped runs:", result["capped_runs"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
