"""Compute some parts of a preset on their own, without the rest of the study or its figures.

    python -m experiments.hopfield.parts [--preset full] [--workdir DIR] PART [PART ...]

PART is ``alpha_c`` (the α_c(N) points of ``capacity``, ``<parts>/capacity/N<N>_P<P>.json``) or
any part of the study (``capacity``, ``perfect_recall``, ``dense``, ``modern``, ``theorem5``,
``attention``, ``attention_task``). Each is computed with the preset's settings and the keys the
study's own run gives it, and saved as that run saves it; the study's run then reuses it (long
parts resume, in the background or on another machine).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import jax

from experiments.common import cached_part
from experiments.hopfield.alpha_c import run_alpha_c
from experiments.hopfield.config import PRESETS
from experiments.hopfield.run import parts

CHOICES = ("alpha_c", "capacity", "perfect_recall", "dense", "modern", "theorem5", "attention",
           "attention_task")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="full", choices=sorted(PRESETS))
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("parts", nargs="+", choices=CHOICES)
    args = parser.parse_args(argv)
    config = PRESETS[args.preset]
    workdir = args.workdir or Path("results/hopfield" + ("" if args.preset == "quick"
                                                         else f"/{args.preset}"))
    study_parts = parts(config, workdir)
    for part in args.parts:
        if part == "alpha_c":       # the fold run_capacity gives it
            key = jax.random.fold_in(jax.random.fold_in(jax.random.key(config.seed), 1), 7)
            run_alpha_c(config.capacity, key, workdir, config.seed)
        else:
            cached_part(workdir, part, *study_parts[part])
    return 0


if __name__ == "__main__":
    sys.exit(main())
