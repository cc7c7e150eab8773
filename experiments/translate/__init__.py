"""Encoder–decoder translation, teacher forcing vs free running: ``python -m experiments.translate``."""

from experiments.common import Study
from experiments.common import main as _main
from experiments.translate.config import PRESETS, Config
from experiments.translate.plots import plot
from experiments.translate.run import run

STUDY = Study(name="translate", config=Config, presets=PRESETS, run=run, plot=plot,
              unchecked=("examples.json",),
              tolerances={"exact_match": 0.1, "tf_token_acc": 0.05, "fr_token_acc": 0.05,
                          "tf_by_pos": 0.1, "fr_by_pos": 0.1},
              absolute_tolerance=0.01)


def main(argv=None) -> int:
    return _main(STUDY, argv)
