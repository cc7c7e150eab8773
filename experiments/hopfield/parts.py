"""Compute some parts of a preset on their own, without the rest of the study or its figures.

    python -m experiments.hopfield.parts [--preset full] [--workdir DIR] PART [PART ...]

PART is ``alpha_c`` (the α_c(N) points of ``capacity``, ``<parts>/capacity/N<N>_P<P>.json``),
``perfect_recall`` or ``theorem5``. Each is computed with the preset's settings and the keys the
study's own run gives it, and saved as that run saves it; the study's run then reuses it (the
long α_c sweep resumes point by point, in the background or on another machine).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import jax

from experiments.common import cached_part
from experiments.hopfield.alpha_c import run_alpha_c
from experiments.hopfield.classical import run_perfect_recall
from experiments.hopfield.config import PRESETS
from experiments.hopfield.run import settings
from experiments.hopfield.theorem5 import theorem5

CHOICES = ("alpha_c", "perfect_recall", "theorem5")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="full", choices=sorted(PRESETS))
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("parts", nargs="+", choices=CHOICES)
    args = parser.parse_args(argv)
    config = PRESETS[args.preset]
    workdir = args.workdir or Path("results/hopfield" + ("" if args.preset == "quick"
                                                         else f"/{args.preset}"))
    key = jax.random.key(config.seed)       # the folds run.run gives each part
    for part in args.parts:
        if part == "alpha_c":
            run_alpha_c(config.capacity, jax.random.fold_in(jax.random.fold_in(key, 1), 7),
                        workdir, config.seed)
        elif part == "perfect_recall":
            cached_part(workdir, part, settings(config, part),
                        lambda: run_perfect_recall(config.perfect_recall,
                                                   jax.random.fold_in(key, 2)))
        else:
            cached_part(workdir, part, settings(config, part),
                        lambda: theorem5(config.theorem5, jax.random.fold_in(key, 6)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
