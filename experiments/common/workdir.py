"""A study's workdir: checked before the first write, and what ``--overwrite`` clears.

The checks refuse, in one line (:class:`UserError`): a workdir that is a file, lies under a
file or cannot be written; a folder where a result file belongs or a file where run state
belongs, anywhere below; results of another config made elsewhere (a ``config.json`` that
differs and no ``checkpoints/`` of this machine).
"""

from __future__ import annotations

import dataclasses
import os
import shutil
from pathlib import Path
from typing import Any

from experiments.common.files import UserError, jsonable, read_json

RUN_STATE_DIRS = ("checkpoints", "checkpoints.damaged")  # cached parts' markers, fit's checkpoints
RUN_STATE_FILES = ("metrics.jsonl", "run.json")  # fit's side files
FILE_SUFFIXES = (".json", ".jsonl", ".md", ".png", ".npz", ".csv", ".txt")


def check_folder(workdir: Path, *, writable: bool = True) -> None:
    """One-line refusals for a workdir path that is a file, lies under a file, or cannot be
    written (the path alone; :func:`rnnjax.train.check_workdir` checks a training run's state)."""
    for parent in [workdir, *workdir.parents]:
        if parent.exists():
            if not parent.is_dir():
                where = "is a file" if parent == workdir else f"lies under a file ({parent})"
                raise UserError(f"--workdir {workdir} {where}: expected a folder")
            if writable and not os.access(parent, os.W_OK | os.X_OK):
                raise UserError(f"--workdir {workdir} is not writable ({parent} is read-only)")
            return


def check_layout(workdir: Path) -> None:
    """Refuse a folder where a result file belongs (``*.json``, ``*.png``, ...) or a file where
    run state belongs (``checkpoints``, ``runs``), anywhere below ``workdir``."""
    for parent, dirs, files in os.walk(workdir):
        here = Path(parent)
        for d in dirs:
            if d.endswith(FILE_SUFFIXES) or d == ".lock":
                raise UserError(f"{here / d} is a folder where a file belongs: move it away")
        for f in files:
            if f in (*RUN_STATE_DIRS, "runs"):
                raise UserError(f"{here / f} is a file where a folder belongs: move it away")
        dirs[:] = [d for d in dirs if not d.startswith(".") and d not in RUN_STATE_DIRS]


def clear_run_state(workdir: Path) -> None:
    """What ``--overwrite`` deletes: every ``checkpoints/`` folder and fit's side files below
    ``workdir``, except in folders below it that hold another preset's results."""
    others = {p.parent for p in workdir.rglob("config.json") if p.parent != workdir}
    doomed = [p for p in workdir.rglob("*")
              if (p.name in RUN_STATE_DIRS and p.is_dir() or p.name in RUN_STATE_FILES and p.is_file())
              and not others & set(p.parents)]
    for p in doomed:
        if p.is_dir():
            shutil.rmtree(p)
        elif p.exists():
            p.unlink()


def check_not_foreign(workdir: Path, config: Any, overwrite: bool) -> None:
    """Refuse a workdir holding results of another config that this machine did not make.

    A config's ``execution`` settings (where and how its runs execute: processes, devices,
    whether to compute or only tabulate) do not make it another config: the numbers do not
    depend on them, so a sweep tabulated with ``--execution.no-compute`` is continued by the
    computing command. Nor does a setting added to the config since the folder was written,
    when it is at its field's own default (a new field's default keeps the former behaviour)."""
    saved = workdir / "config.json"
    if overwrite or not saved.exists() or has_run_state(workdir):
        return
    try:
        previous = read_json(saved).get("config")
    except (UserError, AttributeError):
        previous = None
    if not isinstance(previous, dict) or not _same(
            {k: v for k, v in previous.items() if k != "execution"}, config, skip=("execution",)):
        raise UserError(f"{workdir} holds results made with another config: use another --workdir, "
                        "or --overwrite to replace them")


def _same(saved: dict, config: Any, skip: tuple[str, ...] = ()) -> bool:
    """Whether the saved (JSON) form of a config equals the dataclass ``config``, a field missing
    from ``saved`` counting as equal when ``config`` holds that field's default."""
    if not dataclasses.is_dataclass(config):
        return saved == jsonable(config)
    if not isinstance(saved, dict):
        return False
    fields = {f.name: f for f in dataclasses.fields(config) if f.name not in skip}
    if set(saved) - set(fields):
        return False
    for name, field in fields.items():
        value = getattr(config, name)
        if name in saved:
            if not _same(saved[name], value):
                return False
        elif not _is_default(field, value):
            return False
    return True


def _is_default(field: dataclasses.Field, value: Any) -> bool:
    if field.default is not dataclasses.MISSING:
        return jsonable(value) == jsonable(field.default)
    if field.default_factory is not dataclasses.MISSING:
        return jsonable(value) == jsonable(field.default_factory())
    return False


def has_run_state(workdir: Path) -> bool:
    """Whether this machine ran here: a git-ignored ``checkpoints/`` folder anywhere below."""
    return any(p.is_dir() for p in workdir.rglob("checkpoints"))
