"""Image captioning, CNN encoder into an LSTM decoder: ``python -m experiments.caption``."""

from experiments.caption.config import PRESETS, Config
from experiments.caption.plots import plot
from experiments.caption.run import run
from experiments.common import Study
from experiments.common import main as _main

STUDY = Study(name="caption", config=Config, presets=PRESETS, run=run, plot=plot,
              unchecked=("examples",),
              tolerances={"exact_match": 0.1, "count_accuracy": 0.05, "size": 0.05,
                          "colour": 0.05, "shape": 0.1, "loss": 0.3},
              absolute_tolerance=0.01)


def main(argv=None) -> int:
    return _main(STUDY, argv)
