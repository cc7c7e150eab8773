"""Many-to-one sentiment where order and negation decide: ``python -m experiments.sentiment``."""

from experiments.common import Study
from experiments.common import main as _main
from experiments.sentiment.config import PRESETS, Config
from experiments.sentiment.plots import plot
from experiments.sentiment.run import run

STUDY = Study(name="sentiment", config=Config, presets=PRESETS, run=run, plot=plot,
              tolerances={"simple": 0.2, "negated": 0.2, "contrast": 0.2, "all": 0.2,
                          "p_positive": 0.2},
              absolute_tolerance=0.02)


def main(argv=None) -> int:
    return _main(STUDY, argv)
