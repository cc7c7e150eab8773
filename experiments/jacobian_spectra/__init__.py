"""Jacobian norms and spectra through time, Lyapunov spectra, gradient flow and clipping:
``python -m experiments.jacobian_spectra``."""

from experiments.common import Study
from experiments.common import main as _main
from experiments.jacobian_spectra.config import PRESETS, Config
from experiments.jacobian_spectra.plots import plot
from experiments.jacobian_spectra.run import run

STUDY = Study(name="jacobian_spectra", config=Config, presets=PRESETS, run=run, plot=plot,
              workdirs={"full": "results/jacobian_spectra_full"},
              tolerances={}, default_tolerance=1e-4)


def main(argv=None) -> int:
    return _main(STUDY, argv)
