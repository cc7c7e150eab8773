"""Hopfield networks, dense and modern memories, attention: ``python -m experiments.hopfield``."""

from experiments.common import Study
from experiments.common import main as _main
from experiments.hopfield.config import PRESETS, Config
from experiments.hopfield.plots import plot
from experiments.hopfield.run import run

# Exact-ish for the deterministic sweeps; float rounding for the attention differences (any value
# below ~1e-6 is a pass, which the tests check); trained losses vary across machines.
STUDY = Study(
    name="hopfield", config=Config, presets=PRESETS, run=run, plot=plot,
    tolerances={"max_abs_diff": 1.0, "max_abs_diff_flax_mha": 1.0,
                "max_abs_diff_jax_attention": 1.0, "max_abs_diff_update_vs_attention": 1.0,
                "test_loss": 0.3, "final_test_loss": 0.3, "loss_over_baseline": 0.3,
                "steps_to_10pct_baseline": 0.5, "error_one_step": 0.05,
                "error_fixed_point": 0.05, "nearest_one_step": 0.05, "nearest_fixed_point": 0.05,
                "steps_mean": 0.1, "count_median": 0.1, "count_q10": 0.1, "count_q90": 0.1,
                "converged_fraction": 0.05, "cos_within_mean": 1e-3, "cos_between_mean": 1e-3},
    default_tolerance=1e-4, absolute_tolerance=1e-6)


def main(argv=None) -> int:
    return _main(STUDY, argv)
