"""Progress lines that reach a log file: flushed at once, with the elapsed time.

Training progress (a rich bar on a terminal, plain lines otherwise) is shown by
:func:`rnnjax.train.fit`; this is for the experiment's own milestones (parts started and done).
"""

from __future__ import annotations

import time

_T0 = time.perf_counter()


def say(message: str) -> None:
    """Print ``-- [elapsed] message`` to stdout and flush (visible under nohup or a scheduler)."""
    print(f"-- [{time.perf_counter() - _T0:6.0f} s] {message}", flush=True)
