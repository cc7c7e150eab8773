"""Character-level language models: ``python -m experiments.char_lm``."""

from experiments.char_lm.config import PRESETS, Config
from experiments.char_lm.plots import plot
from experiments.char_lm.run import run
from experiments.common import Study
from experiments.common import main as _main

STUDY = Study(name="char_lm", config=Config, presets=PRESETS, run=run, plot=plot,
              unchecked=("samples.json",),
              tolerances={"test_perplexity": 0.05, "valid_perplexity": 0.05, "curve": 0.1,
                          "train_loss": 0.2, "loss": 0.5, "final_loss": 0.5, "probs": 0.1,
                          "p_correct": 0.1},
              absolute_tolerance=0.02)


def main(argv=None) -> int:
    return _main(STUDY, argv)
