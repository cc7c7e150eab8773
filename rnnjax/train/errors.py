"""Why a run was refused or stopped: one exception family, one line each.

::

    try:
        rnnjax.train.fit(step, state, batch_at, num_steps=100, workdir="runs/x")
    except rnnjax.train.RunError as e:      # every refusal of fit, lock to full disk
        sys.exit(f"error: {e}")             # the message is one line and names what to do

Every :class:`RunError` is raised *before* anything in the workdir changed, or, for a failure
while writing, names what is intact. Warnings (a damaged checkpoint skipped, a torn metrics line
dropped) go to the ``"rnnjax.train"`` logger as one line each.
"""

from __future__ import annotations

import errno
import logging

log = logging.getLogger("rnnjax.train")


class RunError(RuntimeError):
    """A run refused or stopped; the message is a single line saying why and what to do."""


class WorkdirError(RunError):
    """The workdir cannot be used: it is a file, lies under a file, or is not writable."""


class WorkdirLocked(RunError):
    """Another live process holds the workdir."""


class WorkdirAhead(RunError):
    """The workdir holds a later step than ``num_steps`` and no checkpoint at ``num_steps``."""


class CheckpointError(RunError):
    """What the workdir saved cannot be continued by this run: another train state or config,
    or no intact checkpoint left."""


class ConfigMismatch(CheckpointError):
    """The workdir holds results (checkpoints, or metrics and ``run.json``) of another config."""


class UnstorableConfig(RunError, TypeError):
    """The config holds a value whose stored text would not identify it (a function, an object
    whose text is its memory address), so no later run could be matched against it."""


class CheckpointDamaged(CheckpointError):
    """A checkpoint whose files do not match their checksums (flipped, truncated, missing)."""

    def __init__(self, message: str, reason: str = ""):
        super().__init__(message)
        self.reason = reason or message


class MetricsError(RunError, ValueError):
    """``metrics.jsonl`` cannot be continued: a line other than the last is not a JSON record,
    or its records do not match the history the newest intact checkpoint was saved after."""


class WriteFailed(RunError, OSError):
    """Writing into the workdir failed (e.g. no space left); the message names what is intact."""


def one_line(e: BaseException, limit: int = 200) -> str:
    """``"TypeName: first line of the message"``, cut to ``limit`` characters."""
    lines = str(e).strip().splitlines()
    text = lines[0] if lines else ""
    return f"{type(e).__name__}: {text[:limit]}"


def is_no_space(e: BaseException) -> bool:
    """Whether ``e`` (or what caused it) is a full disk or exhausted quota."""
    seen = set()
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        if isinstance(e, OSError) and e.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        if "No space left on device" in str(e) or "Disk quota exceeded" in str(e):
            return True
        e = e.__cause__ or e.__context__
    return False
