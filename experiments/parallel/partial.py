"""``python -m experiments.parallel.partial --preset NAME [--workdir DIR]``: the parallel study's
``summary.json`` and figures from the parts finished so far (a long run interrupted, or still
running), without computing anything."""

from __future__ import annotations

import argparse
from pathlib import Path

from experiments.parallel import STUDY
from experiments.parallel.plots import plot
from experiments.parallel.run import summarise
from experiments.parallel.trained import finished_trained


def partial_summary(argv: list[str] | None = None) -> int:
    """``python -m experiments.parallel.partial --preset NAME [--workdir DIR]``: ``summary.json`` and
    the figures from the parts finished so far (a long run interrupted, or still running)."""
    parser = argparse.ArgumentParser(prog="python -m experiments.parallel.partial")
    parser.add_argument("--preset", default="full", choices=sorted(STUDY.presets))
    parser.add_argument("--workdir", default=None)
    args = parser.parse_args(argv)
    config = STUDY.presets[args.preset]
    workdir = Path(args.workdir) if args.workdir else STUDY.workdir(args.preset)
    summarise(config, workdir, finished_trained(config, workdir))
    plot(workdir)
    return 0


if __name__ == "__main__":
    raise SystemExit(partial_summary())
