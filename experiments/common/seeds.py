"""Several seeds of one training run as one vmapped program, and their summary with an interval.

::

    keys = seed_keys(config.seed, config.train.seeds, salt=3)       # one key per seed
    states = sweep.init(lambda k: tr.init_state(model.init(k), opt, key=k), keys)
    step = sweep.vmap_step(tr.make_step(loss_fn, opt, jit=False), batch_axis=0)
    batch_at = per_seed_batches(one_batch, keys)                     # (step) -> batches (S, ...)
    ...
    across_seeds(final_accuracy)   # {"mean", "ci", "per_seed"}: mean and 95 % bootstrap interval

Every seed sees its own initialisation and its own stream of training batches; test sets are
shared (drawn from the study's seed), so differences between runs with the same seed index are
paired. :func:`band` draws the mean over seeds and the bootstrap interval of the mean at each
point of a curve.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import jax
import numpy as np

from experiments.common.stats import bootstrap_ci


def seed_keys(seed: int, n: int, *, salt: int = 0) -> jax.Array:
    """``n`` independent keys derived from the study's ``seed`` (and a part's ``salt``)."""
    return jax.random.split(jax.random.fold_in(jax.random.key(seed), salt), n)


def per_seed_batches(batch: Callable[[jax.Array, Any], Any], keys: jax.Array) -> Callable:
    """``step -> batches`` with a leading seed axis: ``batch(fold_in(keys[i], step), step)``."""
    @jax.jit
    def batch_at(step):
        return jax.vmap(lambda k: batch(jax.random.fold_in(k, step), step))(keys)
    return batch_at


def across_seeds(values: Sequence[float]) -> dict[str, Any]:
    """``{"mean", "ci": [low, high], "per_seed"}``: the mean over seeds with its 95 % bootstrap
    interval (percentile bootstrap; inside the range of the values, so accuracies stay in
    [0, 1]). With a non-finite value (a diverged run) the interval is the range of the values."""
    per_seed = [float(v) for v in np.asarray(values, dtype=float).ravel()]
    if not np.isfinite(per_seed).all():
        return {"mean": float(np.mean(per_seed)), "ci": [min(per_seed), max(per_seed)],
                "per_seed": per_seed}
    mean, low, high = bootstrap_ci(per_seed)
    return {"mean": mean, "ci": [low, high], "per_seed": per_seed}


def band(ax, x, per_seed, *, scale: float = 1.0, alpha: float = 0.2, **line_kw):
    """Plot the mean over seeds of ``per_seed`` (points × seeds) and its 95 % bootstrap band."""
    y = scale * np.asarray(per_seed, dtype=float)
    y = y.reshape(len(y), -1)
    stats = np.array([bootstrap_ci(row[np.isfinite(row)]) if np.isfinite(row).any()
                      else (np.nan,) * 3 for row in y])
    line, = ax.plot(x, stats[:, 0], **line_kw)
    ax.fill_between(x, stats[:, 1], stats[:, 2], color=line.get_color(), alpha=alpha, lw=0)
    return line
