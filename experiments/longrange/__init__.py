"""LSTM versus Elman on long-range dependencies: ``python -m experiments.longrange``."""

from experiments.common import Study
from experiments.common import main as _main
from experiments.longrange.config import PRESETS, Config
from experiments.longrange.plots import plot
from experiments.longrange.processes import is_worker
from experiments.longrange.run import run
from experiments.longrange.session import session

STUDY = Study(
    name="longrange", config=Config, presets=PRESETS, run=run, plot=plot, computes_only=is_worker,
    session=session, optional_lists=(
        "sweep.adding.models", "sweep.adding.lengths", "sweep.copy.models", "sweep.copy.lengths",
        "sweep.adding_hs97.models", "sweep.adding_hs97.lengths", "tune.models",
        *(f"sweep.{t}.{f}" for t in ("adding", "copy", "adding_hs97")
          for f in ("headline_models", "headline_lengths", "longest")),
        "ablations.kinds", "ablations.models", "ablations.lengths"),
    tolerances={"loss": 0.2, "loss_over_baseline": 0.2, "steps_to_success": 0.5, "steps": 0.5,
                "test_loss": 0.2, "test_solved": 1.0, "final_log_jacobian": 0.2, "init_log_jacobian": 1e-3,
                "init_lambda_max": 1e-2})


def main(argv=None) -> int:
    return _main(STUDY, argv)
