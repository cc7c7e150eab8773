"""The study's session: one process, or supervised processes joined before any write (the
multi-process plumbing is :mod:`experiments.longrange.processes`; what each process computes is
:mod:`experiments.longrange.run`)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from experiments.common.processes import Child, supervised
from experiments.longrange import processes
from experiments.longrange.run import compute_share, run


@contextmanager
def session(config, workdir: Path, *, join_timeout: float | None = None,
            compute: Callable[[Any, Path], None] | None = None) -> Iterator[Callable]:
    """The study's session: one process, or supervised processes joined before any write.

    Yields the ``run(config, workdir)`` to call; with several processes it lets them compute
    and returns when all have finished (the arguments are those the processes were given).
    """
    if not processes.is_multiprocess(config):
        yield run
        return
    children = [Child(f"process {c.execution.process_id}", processes.initialize, compute or compute_share,
                      (c, workdir)) for c in processes.process_configs(config)]
    address = children[0].args[0].execution.coordinator
    timeout = processes.JOIN_TIMEOUT_S if join_timeout is None else join_timeout
    hosts = any(c.args[0].execution.process_id == 0 for c in children)
    with supervised(children, join_timeout=timeout, address=address, hosts=hosts) as go:
        yield lambda *_: go()
