"""Atomic file writes that honour the umask.

::

    atomic_write(workdir / "run.json", json.dumps(meta))   # readers see the old or the new file

The data goes to a temporary file in the same folder, is flushed to disk, and is renamed over the
target, so a process killed at any moment leaves either the old or the new file, never a mix.
Unlike ``tempfile.mkstemp`` (always 0600) the file is created with mode ``0666 & ~umask``
(0644 by default), so colleagues on a shared machine can read results. On failure (a full disk)
the temporary file is removed and the target is left as it was.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path


def atomic_write(path: str | os.PathLike, data: str | bytes) -> None:
    """Replace ``path`` by ``data`` (text is UTF-8 encoded) in one rename."""
    path = Path(path)
    if isinstance(data, str):
        data = data.encode()
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        try:
            write_all(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_all(fd: int, data: bytes) -> None:
    """``os.write`` until every byte is written (a write may be short)."""
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]
