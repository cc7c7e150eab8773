"""An exclusive lock on a run's workdir, so that two runs never write into one folder.

::

    with exclusive(workdir):          # raises WorkdirLocked naming the holder's PID
        ...                           # the only process writing into workdir

The lock is ``fcntl.flock`` on ``<workdir>/.lock``: the kernel releases it when the holding
process exits, however it exits (SIGKILL included), so a killed run never blocks the next one.
The file itself stays behind (removing it would race with a second run opening it) and holds
the PID of the last holder, which the refusal message names. POSIX only.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

from rnnjax.train.errors import WorkdirError, WorkdirLocked

LOCK_NAME = ".lock"


@contextlib.contextmanager
def exclusive(workdir: str | os.PathLike) -> Iterator[Path]:
    """Hold an exclusive, non-blocking lock on ``workdir`` (created if missing) for the block.

    Re-entrant within one process is *not* supported: a second ``exclusive`` on the same workdir
    from the same process raises like any other holder would.
    """
    workdir = Path(workdir)
    check_path(workdir)
    path = workdir / LOCK_NAME
    try:
        workdir.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    except OSError as e:
        raise WorkdirError(f"cannot write into {workdir}: {e.strerror or e}") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            raise WorkdirLocked(
                f"{workdir} is in use by another run (pid {holder}): wait for it to finish "
                f"or use another workdir") from None
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        except OSError as e:
            raise WorkdirError(f"cannot write into {workdir}: {e.strerror or e}") from None
        yield workdir
    finally:
        os.close(fd)  # closing the descriptor releases the flock


def check_path(workdir: Path) -> None:
    """Raise :class:`WorkdirError` if ``workdir`` is a file or lies under one."""
    if workdir.exists() and not workdir.is_dir():
        raise WorkdirError(f"workdir {workdir} is a file, not a folder: choose another workdir")
    for parent in workdir.parents:
        if parent.exists():
            if not parent.is_dir():
                raise WorkdirError(f"workdir {workdir} lies under the file {parent}: "
                                   "choose another workdir")
            break
