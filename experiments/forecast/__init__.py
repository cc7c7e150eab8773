"""Forecasting, RNNs versus fixed-window feed-forward networks: ``python -m experiments.forecast``."""

from experiments.common import Study
from experiments.common import main as _main
from experiments.forecast.config import PRESETS, Config
from experiments.forecast.plots import plot
from experiments.forecast.run import run

STUDY = Study(name="forecast", config=Config, presets=PRESETS, run=run, plot=plot,
              tolerances={"one_step": 1e-4, "multi_step": 1e-4, "window1": 0.3, "window3": 0.3,
                          "window10": 0.3, "lstm": 0.3, "seq2seq": 0.3, "data_std": 1e-4,
                          "context": 1e-4, "truth": 1e-4, "lyapunov": 1e-4, "rates": 1e-4},
              absolute_tolerance=0.01)


def main(argv=None) -> int:
    return _main(STUDY, argv)
