"""Several seeds of one training run as one vmapped program, and their summary with an interval.

::

    keys = seed_keys(config.seed, config.train.seeds, salt=3)       # one key per seed
    states = sweep.init(lambda k: tr.init_state(model.init(k), opt, key=k), keys)
    step = sweep.vmap_step(tr.make_step(loss_fn, opt, jit=False), batch_axis=0)
    batch_at = per_seed_batches(one_batch, keys)                     # (step) -> batches (S, ...)
    ...
    across_seeds(final_accuracy, bounds=(0, 1))  # mean, 95 % t-interval, its level and n, every seed

Every seed sees its own initialisation and its own stream of training batches; test sets are
shared (drawn from the study's seed), so differences between runs with the same seed index are
paired. :func:`band` draws the mean over seeds and its t-interval at each point of a curve.
Both use :func:`experiments.common.stats.mean_interval`, and :func:`band_label` says what the
band is (``"band: 95 % t-interval of the mean, 3 seeds"``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import jax
import numpy as np

from experiments.common.stats import level_text, mean_interval


def seed_keys(seed: int, n: int, *, salt: int = 0) -> jax.Array:
    """``n`` independent keys derived from the study's ``seed`` (and a part's ``salt``)."""
    return jax.random.split(jax.random.fold_in(jax.random.key(seed), salt), n)


def per_seed_batches(batch: Callable[[jax.Array, Any], Any], keys: jax.Array) -> Callable:
    """``step -> batches`` with a leading seed axis: ``batch(fold_in(keys[i], step), step)``."""
    @jax.jit
    def batch_at(step):
        return jax.vmap(lambda k: batch(jax.random.fold_in(k, step), step))(keys)
    return batch_at


def across_seeds(values: Sequence[float], *, level: float = 0.95,
                 bounds: tuple[float, float] = (-np.inf, np.inf)) -> dict[str, Any]:
    """``{"mean", "ci": [low, high], "ci_level", "n", "interval", "per_seed"}``: the mean over
    seeds with its Student-t interval at ``level`` (``interval = "t"``, exact when the seeds'
    values are normal), clipped to ``bounds``. With a non-finite value (a diverged run) the
    interval is the range of the values (``interval = "range"``, no level); with one seed it is
    that value (``"none"``). See :func:`experiments.common.stats.mean_interval`."""
    per_seed = [float(v) for v in np.asarray(values, dtype=float).ravel()]
    return {**mean_interval(per_seed, level=level, bounds=bounds), "per_seed": per_seed}


def band(ax, x, per_seed, *, scale: float = 1.0, alpha: float = 0.2, level: float = 0.95,
         bounds: tuple[float, float] = (-np.inf, np.inf), log: bool = False, **line_kw):
    """Plot the mean over seeds of ``per_seed`` (points × seeds) and its t-interval band at
    ``level`` (:func:`experiments.common.stats.mean_interval`; ``bounds`` in the unscaled
    values). Non-finite seeds are left out of a point (its band then covers the others).

    ``log``: for a log axis, the mean and the t-interval of ``ln`` of the values, drawn as
    ``exp``: the geometric mean over seeds and its interval (values <= 0 are left out), which
    stays positive where the arithmetic mean's interval would reach 0."""
    y = np.asarray(per_seed, dtype=float)
    y = y.reshape(len(y), -1)
    stats = []
    for row in y:
        finite = row[np.isfinite(row) & (row > 0)] if log else row[np.isfinite(row)]
        if finite.size == 0:
            stats.append((np.nan,) * 3)
            continue
        m = mean_interval(np.log(finite) if log else finite, level=level,
                          bounds=(-np.inf, np.inf) if log else bounds)
        stats.append((m["mean"], *m["ci"]))
    stats = scale * (np.exp(stats) if log else np.array(stats))
    line, = ax.plot(x, stats[:, 0], **line_kw)
    ax.fill_between(x, stats[:, 1], stats[:, 2], color=line.get_color(), alpha=alpha, lw=0)
    return line


def band_label(seeds: int, *, level: float = 0.95, what: str = "band", log: bool = False) -> str:
    """What :func:`band` draws, for a title or caption: ``"band: 95 % t-interval of the mean,
    3 seeds"`` (``"... of the geometric mean ..."`` with ``log``; ``"1 seed, no band"``)."""
    if seeds < 2:
        return f"{seeds} seed, no {what}"
    mean = "geometric mean" if log else "mean"
    return f"{what}: {level_text(level)} t-interval of the {mean}, {seeds} seeds"
