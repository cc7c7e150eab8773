"""What a run's workdir holds, and whether a run may continue it: checked before any write.

A workdir written by :func:`rnnjax.train.fit`::

    .lock             the exclusive lock (holds the PID of the last run that opened the folder)
    run.json          {"config": ...} of the run that made the results
    metrics.jsonl     one record per logged step
    checkpoints/      Orbax checkpoints with checksums (checkpoints.damaged/: set aside)

:func:`plan` reads the workdir (under the lock) and either decides what to resume from or raises
a :class:`~rnnjax.train.RunError`; nothing is written until it has returned. :func:`apply`
then makes the few changes the plan needs.

What :func:`plan` checks, in order:

- the shape: ``metrics.jsonl`` and ``run.json`` are files, ``checkpoints/`` and
  ``checkpoints.damaged/`` are folders, where they exist (:class:`WorkdirError` otherwise, even
  with ``overwrite``: fit never deletes what it did not make);
- the newest intact checkpoint (config, tree, checksums), or ``run.json`` when there are
  metrics but no checkpoint;
- the history: the records of ``metrics.jsonl`` up to the checkpoint's step must be those the
  checkpoint was saved after (its stored :func:`~rnnjax.train.metrics.history_digest`). A file
  that lost lines, was deleted or edited is refused with :class:`MetricsError` naming it: the
  history cannot be rebuilt from checkpoints (they hold the state, not the metrics), so the
  choice is the user's: restore the file, or start afresh with ``overwrite=True``. Checkpoints
  saved without a digest are not checked.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from rnnjax.train.checkpoint import Checkpointer, _config_diff, same_config, storable_config
from rnnjax.train.errors import (
    CheckpointDamaged,
    ConfigMismatch,
    MetricsError,
    WorkdirAhead,
    WorkdirError,
    log,
    one_line,
)
from rnnjax.train.files import atomic_write
from rnnjax.train.metrics import history_digest, scan_metrics

PyTree = Any
RUN_META = "run.json"
METRICS = "metrics.jsonl"
CHECKPOINTS = "checkpoints"
# what fit keeps in a workdir, and whether each is a folder
SHAPE = {METRICS: False, RUN_META: False, CHECKPOINTS: True, CHECKPOINTS + ".damaged": True}


class Plan(NamedTuple):
    """How a run continues in its workdir."""

    state: PyTree            # the state to continue from (restored, or the one passed in)
    start: int               # its step
    records: list[dict]      # the logged records up to ``start``
    done: bool               # nothing to train: return ``state`` and ``records`` as they are
    damaged: dict[int, str]  # damaged checkpoints newer than ``start`` (step -> what is wrong)
    overwrite: bool          # discard the workdir's results before starting


def start_step(state: PyTree) -> int:
    step = np.asarray(state.step)
    if step.ndim:  # a sweep: all members advance together
        if not (step == step.reshape(-1)[0]).all():
            raise ValueError(f"all members of a sweep must be at the same step, got {step.tolist()}")
        step = step.reshape(-1)[0]
    return int(step)


def plan(workdir: Path, ckpt: Checkpointer, state: PyTree, *, num_steps: int, config: Any,
         overwrite: bool) -> Plan:
    """Decide how a run of ``num_steps`` continues in ``workdir``; reads only."""
    check_shape(workdir)
    if overwrite:
        return Plan(state, start_step(state), [], False, {}, True)
    found = ckpt.restore_newest(like=state)
    records = _read_records(workdir / METRICS)
    damaged: dict[int, str] = {}
    if found is None:
        if records:
            _check_run_meta(workdir, config)
    else:
        state, damaged = found.state, found.damaged
    start = start_step(state)
    if found is not None and start > num_steps:
        if num_steps in ckpt.all_steps():
            try:
                state = ckpt.restore(num_steps, like=state)
            except CheckpointDamaged as e:
                raise WorkdirAhead(f"{workdir} holds step {start} > num_steps {num_steps} and its "
                                   f"checkpoint at {num_steps} is damaged ({e.reason}): "
                                   "use a new workdir") from None
            _check_history(workdir, ckpt, num_steps, records)
            return Plan(state, num_steps, _upto(records, num_steps), True, {}, False)
        raise WorkdirAhead(f"{workdir} holds step {start} > num_steps {num_steps}: use a new workdir")
    if found is not None:
        _check_history(workdir, ckpt, found.step, records)
    return Plan(state, start, _upto(records, start), start >= num_steps, damaged, False)


def check_shape(workdir: Path) -> None:
    """Raise :class:`WorkdirError` where a folder stands for one of fit's files or the reverse."""
    for name, folder in SHAPE.items():
        path = workdir / name
        if path.exists() and path.is_dir() != folder:
            have, want = ("a file", "folder") if folder else ("a folder", "file")
            raise WorkdirError(f"{path} is {have}, where fit keeps its {name} {want}: move it "
                               "away or use another workdir")


def _read_records(path: Path) -> list[dict]:
    try:
        return scan_metrics(path)[0]
    except OSError as e:
        raise MetricsError(f"cannot read {path} ({one_line(e)}): make it readable or use a new "
                           "workdir") from None


def _check_history(workdir: Path, ckpt: Checkpointer, step: int, records: list[dict]) -> None:
    """The records up to ``step`` must be those checkpoint ``step`` was saved after."""
    want = ckpt.meta(step).get("history")
    if not isinstance(want, dict):
        return  # saved without a digest
    kept = _upto(records, step)
    got = history_digest(kept)
    if got == want:
        return
    path = workdir / METRICS
    advice = ("restore the file, or pass overwrite=True to start afresh (the history cannot be "
              "rebuilt from checkpoints)")
    saved = (f"checkpoint step {step} was saved after {want.get('records')} records (the last "
             f"at step {want.get('last_step')})")
    if not path.exists():
        what = f"{path} is missing, but {saved}"
    elif got["records"] != want.get("records"):
        what = f"{path} holds {got['records']} records up to step {step}, but {saved}"
    else:
        what = f"{path} holds {got['records']} records up to step {step} that differ from those {saved}"
    raise MetricsError(f"{what}: {advice}")


def apply(workdir: Path, ckpt: Checkpointer, plan: Plan, config: Any) -> None:
    """Make the changes ``plan`` needs before training: the only writes before the first step."""
    if plan.overwrite:
        ckpt.close()
        shutil.rmtree(ckpt.directory, ignore_errors=True)
        (workdir / METRICS).unlink(missing_ok=True)
    if plan.damaged:
        moved = ckpt.set_aside(sorted(plan.damaged))
        newest = max(plan.damaged)
        log.warning("checkpoint step %s damaged (%s); resuming from step %d (moved to %s)",
                    ", ".join(map(str, sorted(plan.damaged))), plan.damaged[newest], plan.start,
                    moved[0].parent)
    text = json.dumps({"config": storable_config(config)}, indent=1) + "\n"
    path = workdir / RUN_META
    if not path.exists() or path.read_text() != text:
        atomic_write(path, text)


def warn_damaged(plan: Plan) -> None:
    """One warning line for damaged checkpoints left in place (a finished run writes nothing)."""
    if plan.damaged:
        newest = max(plan.damaged)
        log.warning("checkpoint step %s damaged (%s); using step %d",
                    ", ".join(map(str, sorted(plan.damaged))), plan.damaged[newest], plan.start)


def _upto(records: list[dict], step: int) -> list[dict]:
    return [r for r in records if r.get("step", 0) <= step]


def _check_run_meta(workdir: Path, config: Any) -> None:
    """Metrics but no checkpoint: continue only what a run with the same config made."""
    path = workdir / RUN_META
    advice = "use a new workdir, or overwrite=True to replace them"
    try:
        stored = json.loads(path.read_text())["config"]
    except FileNotFoundError:
        raise ConfigMismatch(f"{workdir} holds {METRICS} of an unknown run (no {RUN_META}) and no "
                             f"checkpoint: {advice}") from None
    except (OSError, ValueError, KeyError, TypeError):
        raise ConfigMismatch(f"{path} is unreadable and there is no checkpoint: {advice}") from None
    if not same_config(stored, storable_config(config)):
        raise ConfigMismatch(f"{workdir} holds results of a run with a different config "
                             f"({_config_diff(stored, storable_config(config))}) and no checkpoint: "
                             f"{advice}")
