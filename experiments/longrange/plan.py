"""Which programs the sweep runs: the tuning stage, then the main sweep and its ablations.

A *run* (:class:`Member`) is one model trained from one seed with one learning rate and
recurrent init, clipped or not. A *program* (:class:`Group`) is one (task, T, cell family,
gradient path): its runs share one step function, so they are stacked on a leading axis and
trained by one jitted step per update (:mod:`experiments.longrange.sweep`).

The sweep has two stages. The tuning stage (``config.tune``) runs every learning rate (and, for
``elman``, every recurrent init) of the tuned models at short T; :func:`best_settings` then picks
each tuned model's setting, and the main stage (:func:`main_groups`) runs every model at every T
with its setting. Tuning runs that already use the chosen setting are the main sweep's runs at
those T, so they are not repeated.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from experiments.longrange.config import Config
from experiments.longrange.tasks import MODELS


class Member(NamedTuple):
    """One run on a program's sweep axis."""

    model: str
    seed: int
    lr: float
    init: str             # recurrent init: "default" (the model's own) or "gaussian"
    clip: bool
    ablation: str | None  # None: the main sweep; "tune"; "no_clip"; "tbptt_k<k>"


class Group(NamedTuple):
    """One compiled program: a task, a T, a cell family, a gradient path (full or truncated)."""

    task: str
    T: int
    family: str
    tbptt: int | None
    members: tuple[Member, ...]
    stage: str = "main"

    @property
    def name(self) -> str:
        cut = f"_tbptt{self.tbptt}" if self.tbptt else ""
        tune = "_tune" if self.stage == "tune" else ""
        return f"{self.task}_T{self.T}_{self.family}{cut}{tune}"


Setting = tuple[float, str]  # (learning rate, recurrent init)


def _by_family(members) -> dict[str, list[Member]]:
    families: dict[str, list[Member]] = {}
    for m in members:
        families.setdefault(MODELS[m.model][0], []).append(m)
    return families


def tune_groups(config: Config) -> list[Group]:
    """The tuning programs: every (learning rate, init) of each tuned model at each tuning T."""
    tc, seeds = config.tune, range(config.sweep.adding.seeds)
    members = [Member(m, s, lr, init, True, "tune")
               for m in tc.models
               for lr in tc.learning_rates
               for init in (tc.elman_inits if m == "elman" else ("default",))
               for s in seeds]
    return [Group("adding", T, f, None, tuple(ms), "tune")
            for T in sorted(tc.lengths) for f, ms in _by_family(members).items()]


def best_settings(config: Config, tune_results: dict[str, dict]) -> dict[str, Setting]:
    """Each tuned model's (learning rate, init) with the lowest mean over the tuning T of the
    median (over seeds) final test loss / baseline; a non-finite loss counts as infinite.

    ``tune_results`` maps each tuning program's name to its result
    (:func:`experiments.longrange.sweep.train_group`).
    """
    scores: dict[str, dict[Setting, list[float]]] = {}
    for group in tune_groups(config):
        result = tune_results[group.name]
        final = np.asarray(result["test_loss"][-1], float) / result["baseline"]
        final[~np.isfinite(final)] = math.inf
        per: dict[tuple[str, Setting], list[float]] = {}
        for m, x in zip(group.members, final, strict=True):
            per.setdefault((m.model, (m.lr, m.init)), []).append(float(x))
        for (model, setting), xs in per.items():
            scores.setdefault(model, {}).setdefault(setting, []).append(float(np.median(xs)))
    return {model: min(by_setting, key=lambda s: np.mean(by_setting[s]))
            for model, by_setting in scores.items()}


def setting_of(config: Config, best: dict[str, Setting], model: str) -> Setting:
    """The (learning rate, init) a model trains with outside the tuning stage."""
    return best.get(model, (config.train.learning_rate, "default"))


def main_groups(config: Config, best: dict[str, Setting]) -> list[Group]:
    """The main sweep's and the ablations' programs, shortest T first (useful results early).

    Adding-problem runs of a tuned model at a tuning T are left out: the tuning stage ran them.
    """
    abl, tuned = config.ablations, config.tune
    tasks = config.sweep.tasks()
    adding_seeds = range(config.sweep.adding.seeds)
    lengths = sorted({T for ts in tasks.values() for T in ts.lengths}
                     | ({*abl.lengths} if abl.kinds and abl.models else set()))
    groups = []
    for T in lengths:
        for task, ts in tasks.items():
            members = [] if T not in ts.lengths else [
                Member(m, s, *setting_of(config, best, m), True, None)
                for m in ts.models for s in range(ts.seeds)
                if not (task == "adding" and T in tuned.lengths and m in tuned.models)]
            if task == "adding" and T in abl.lengths and "no_clip" in abl.kinds:
                members += [Member(m, s, *setting_of(config, best, m), False, "no_clip")
                            for m in abl.models for s in adding_seeds]
            groups += [Group(task, T, f, None, tuple(ms)) for f, ms in _by_family(members).items()]
            k = abl.tbptt_truncation
            if task == "adding" and T in abl.lengths and "tbptt" in abl.kinds and k < T // 2:
                cut = [Member(m, s, *setting_of(config, best, m), True, f"tbptt_k{k}")
                       for m in abl.models for s in adding_seeds]
                groups += [Group(task, T, f, k, tuple(ms)) for f, ms in _by_family(cut).items()]
    return groups
