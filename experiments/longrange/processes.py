"""Multi-process sweeps: several processes join one JAX runtime and split each program's runs.

::

    python -m experiments.longrange --local-processes 2          # on one machine
    python -m experiments.longrange --coordinator node0:6000 \\
        --num-processes 4 --process-id I              # process I of 4

Every process calls :func:`jax.distributed.initialize` (the coordinator is process 0; on CPU the
collectives are gloo's). For each program the runs are cut into one contiguous chunk per process
(:func:`chunk`); every process trains its chunk as its own program on its own devices, with no
communication while training, then the evaluations are gathered with one
:func:`jax.experimental.multihost_utils.process_allgather`. Since the runs of a program are
independent, each run's numbers are those of a single-process sweep up to the float32 rounding
of a program of another size (see ``docs/guarantees.md``).

The command's own process supervises (:mod:`experiments.common.processes`): with
``--local-processes N`` it starts processes 0 .. N-1, with ``--coordinator`` the one process
``--process-id``; it never joins the runtime itself. :func:`session` (the study's
``Study.session``) starts them after every check of the command line and waits until all have
joined (:data:`JOIN_TIMEOUT_S`) before anything is written; a process that dies, or a
coordinator that cannot be reached, ends the run in one line naming the process and the cause.
While computing, the JAX runtime notices a lost process within :data:`HEARTBEAT_S` seconds.

Only process 0 writes: the supervisor of process 0 holds the workdir lock and writes
``config.json`` and the figures, process 0 itself the per-program results and the tables, and
decides (:func:`announce`) whether a program is computed or reused from the cache, so the other
processes need no access to the workdir at all. Within a program there are no checkpoints in a
multi-process run; resumption is per program.
"""

from __future__ import annotations

import dataclasses
import pickle
import socket
from pathlib import Path
from typing import Any

import jax
import numpy as np
from jax.experimental import multihost_utils

from experiments.longrange import held

JOIN_TIMEOUT_S = 30
"""Seconds for every process to join the run; after that the run ends in one line."""
HEARTBEAT_S = 10
"""Seconds without a heartbeat after which the JAX runtime declares a process lost."""


def is_multiprocess(config) -> bool:
    """Whether this run spans several processes (its processes, or a cluster's)."""
    ex = config.execution
    return ex.local_processes > 1 or bool(ex.coordinator)


def is_worker(config) -> bool:
    """Whether this process computes but writes nothing: a process other than 0."""
    return bool(config.execution.coordinator) and config.execution.process_id != 0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def process_configs(config) -> list:
    """The config of each process this command starts: all N of ``--local-processes N`` (on a
    free local port), or the one of ``--coordinator``."""
    ex = config.execution
    if ex.coordinator:
        return [config]
    address, n = f"localhost:{_free_port()}", ex.local_processes
    return [dataclasses.replace(config, execution=dataclasses.replace(
        ex, local_processes=0, coordinator=address, num_processes=n, process_id=i))
        for i in range(n)]


def initialize(config, workdir: Path | None = None) -> None:
    """Join the multi-process JAX runtime described by ``config.execution``.

    JAX's own timeout is longer than the supervisor's, so that the supervisor, not a C++ abort,
    reports a process that cannot join.
    """
    del workdir
    ex = config.execution
    jax.distributed.initialize(coordinator_address=ex.coordinator, num_processes=ex.num_processes,
                               process_id=ex.process_id,
                               initialization_timeout=JOIN_TIMEOUT_S + 30,
                               heartbeat_timeout_seconds=HEARTBEAT_S)


def announce(compute: bool | None) -> bool:
    """Process 0's decision (compute a program, or reuse it), received by every process."""
    flag = np.array(bool(compute), dtype=np.int32)
    return bool(multihost_utils.broadcast_one_to_all(flag))


def chunk(members, index: int, count: int) -> tuple[list, int]:
    """Process ``index``'s contiguous share of ``members`` and how many of them are real.

    A process left without runs trains a copy of the last one (dropped), so that every process
    takes part in the same collectives.
    """
    parts = np.array_split(np.arange(len(members)), count)
    mine = [members[i] for i in parts[index]]
    return (mine, len(mine)) if mine else ([members[-1]], 0)


PER_RUN = ("init_log_jacobian", "final_log_jacobian", "init_lambda_max", "stopped_at")


def gather(local: dict[str, Any], real: int, counts: list[int]) -> dict[str, Any]:
    """Every process's results of :func:`experiments.longrange.sweep.train_group`, in run order.

    ``local`` holds ``steps``, per ``test_*`` metric one list per evaluation with one value per
    local run, and the :data:`PER_RUN` lists (one value per local run); the first ``real`` runs
    are kept. ``counts`` is each process's number of real runs. A process whose runs all ended
    earlier (each succeeded or was stopped) evaluated fewer times and holds its last evaluation
    (:mod:`experiments.longrange.held`).
    """
    mine = len(local["steps"])
    steps = np.full(_most(mine), -1, np.int64)
    steps[:mine] = local["steps"]
    all_steps = np.asarray(multihost_utils.process_allgather(steps))
    depth = steps.size
    metrics = sorted(k for k in local if k.startswith("test_"))
    rows = [np.asarray(local[k], np.float32)[:, :real] for k in metrics]
    rows = [np.stack(held.hold_last(r, depth)) if mine else r for r in rows]
    rows += [np.asarray([np.nan if x is None else x for x in local[k]], np.float32)[None, :real]
             for k in PER_RUN]
    width = max(1, max(counts))
    values = np.full((len(rows), max(depth, 1), width), np.nan, np.float32)
    for i, arr in enumerate(rows):
        values[i, :arr.shape[0], :arr.shape[1]] = arr
    everyone = np.asarray(multihost_utils.process_allgather(values))  # (processes, ...)
    merged = np.concatenate([everyone[p, :, :, :c] for p, c in enumerate(counts)], axis=-1)
    out = {k: v for k, v in local.items() if not k.startswith("test_") and k not in PER_RUN}
    out["steps"] = [int(x) for x in all_steps[int(np.argmax((all_steps >= 0).sum(1)))] if x >= 0]
    for i, key in enumerate(metrics):
        out[key] = [[float(x) for x in row] for row in merged[i, :depth]]
    for i, key in enumerate(PER_RUN, start=len(metrics)):
        out[key] = [float(x) if np.isfinite(x) else None for x in merged[i, 0]]
    return out


def _most(n: int) -> int:
    """The largest ``n`` over the processes."""
    return int(np.max(multihost_utils.process_allgather(np.array(n, np.int32))))


def share(value: Any) -> Any:
    """Process 0's ``value`` (a small picklable object), received by every process."""
    data = np.frombuffer(pickle.dumps(value), np.uint8)
    size = int(multihost_utils.broadcast_one_to_all(np.array(data.size, np.int32)))
    buf = np.zeros(size, np.uint8)
    buf[:data.size] = data[:size]
    return pickle.loads(multihost_utils.broadcast_one_to_all(buf).tobytes())
