"""Training machinery: train state, jitted steps, BPTT and truncated BPTT, losses, checkpoints,
metrics, and vmapped/sharded sweeps.

::

    import rnnjax.train as T

    opt = T.optimizer("adam", 1e-3, clip_norm=1.0)                # optax: clip -> adam
    state = T.init_state(params, opt, key=jax.random.key(0))     # TrainState(params, opt_state, step, key)

    def loss_fn(params, batch, key):                             # one scalar to minimise
        _, logits = model.apply(params, batch["x"])
        return T.cross_entropy(logits, batch["y"], batch["mask"])

    step = T.make_step(loss_fn, opt)                              # jitted, donates the state
    state, history = T.fit(step, state, batch_at, num_steps=1000,  # resumable, logs metrics.jsonl
                           workdir="runs/x", checkpoint_every=200)

Truncated BPTT with the lecture's (k1, k2): :func:`make_tbptt_step`. Sweeps over seeds and
hyper-parameters: :mod:`rnnjax.train.sweep`. Every refusal of :func:`fit` (a locked workdir, a
different config, damaged checkpoints, a full disk, ...) is a :class:`RunError` with a one-line
message; see :mod:`rnnjax.train.errors`.
"""

from rnnjax.train import sweep
from rnnjax.train.checkpoint import Checkpointer, Restored
from rnnjax.train.errors import (
    CheckpointDamaged,
    CheckpointError,
    ConfigMismatch,
    MetricsError,
    RunError,
    UnstorableConfig,
    WorkdirAhead,
    WorkdirError,
    WorkdirLocked,
    WriteFailed,
)
from rnnjax.train.loop import check_workdir, fit, load_history
from rnnjax.train.losses import (
    accuracy,
    cross_entropy,
    cross_entropy_per_position,
    length_mask,
    masked_mean,
    mse,
    mse_per_position,
)
from rnnjax.train.metrics import MetricsWriter, read_metrics, safe_exp
from rnnjax.train.optim import optimizer
from rnnjax.train.state import TrainState, init_state, state_key, step_key
from rnnjax.train.step import NonFiniteError, apply_gradients, describe_nonfinite, make_step
from rnnjax.train.tbptt import make_tbptt_step, truncated_gradient

__all__ = [
    "CheckpointDamaged",
    "CheckpointError",
    "Checkpointer",
    "ConfigMismatch",
    "MetricsError",
    "MetricsWriter",
    "NonFiniteError",
    "Restored",
    "RunError",
    "TrainState",
    "UnstorableConfig",
    "WorkdirAhead",
    "WorkdirError",
    "WorkdirLocked",
    "WriteFailed",
    "accuracy",
    "apply_gradients",
    "check_workdir",
    "cross_entropy",
    "cross_entropy_per_position",
    "describe_nonfinite",
    "fit",
    "init_state",
    "length_mask",
    "load_history",
    "make_step",
    "make_tbptt_step",
    "masked_mean",
    "mse",
    "mse_per_position",
    "optimizer",
    "read_metrics",
    "safe_exp",
    "state_key",
    "step_key",
    "sweep",
    "truncated_gradient",
]
