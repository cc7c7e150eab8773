"""Newton (DEER / ELK) iterations against λ_max and T: ``python -m experiments.parallel``."""

from experiments.common import Study
from experiments.common import main as _main
from experiments.parallel.config import PRESETS, Config
from experiments.parallel.plots import plot
from experiments.parallel.run import run

STUDY = Study(name="parallel", config=Config, presets=PRESETS, run=run, plot=plot,
              tolerances={"lambda_max": 1e-3, "residual": 10.0, "iterations": 0.2},
              absolute_tolerance=1e-5)


def main(argv=None) -> int:
    return _main(STUDY, argv)
