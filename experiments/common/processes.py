"""The processes of a multi-process run, supervised: a failure is one line, within seconds.

::

    children = [Child("process 0", join, compute, (config0, workdir)), ...]
    with supervised(children, join_timeout=30, address="node0:6000", hosts=True) as run:
        write_json(workdir / "config.json", ...)                               # only now
        run()                   # let them compute; returns when every one has exited with 0

The command's own process never joins the JAX runtime: every member of it is a child
(``python -m experiments.common.processes``) that receives ``(join, compute, args)`` pickled on
its stdin, calls ``join(*args)`` (e.g. :func:`jax.distributed.initialize`), reports "joined",
waits for "go", then calls ``compute(*args)``. So whatever ends a child (a signal, a Python
error, the JAX runtime aborting with a C++ log when it loses a peer) is seen here as an exit
status and a stderr tail, and turned into one line naming the process and the cause:

- a child that exits, or is killed, before every child joined: :class:`UserError` at once;
- children that have not all joined after ``join_timeout`` seconds: :class:`UserError`, which
  says, when the coordinator is elsewhere, whether anything answers at its address;
- a child that exits with an error or is killed while computing: :class:`RunStopped` at the next
  poll (every 0.1 s); the other children are stopped (SIGTERM, then SIGKILL after 2 s).

Nothing is written by the supervisor, and nothing is left behind: the payload travels on stdin,
and a child whose supervisor dies exits within a second. The children's stderr is
forwarded line by line, except the runtime's own log lines (glog format, gloo's connection
lines, stack traces) and the child's ``error:`` line, which are kept for the diagnosis only.
"""

from __future__ import annotations

import collections
import dataclasses
import os
import pickle
import re
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from experiments.common.files import RunStopped, UserError

POLL_S = 0.1
STOP_GRACE_S = 2.0
_NOISE = re.compile(r"^([IWEF]\d{4} \d\d:\d\d:\d\d|\[Gloo\]|\s+@\s|\*\*\* |terminate called|"
                    r"\s*what\(\):)")


@dataclasses.dataclass(frozen=True)
class Child:
    """One process of the run: its name in messages, and what it calls (picklable functions)."""

    name: str
    join: Callable[..., None]
    compute: Callable[..., None]
    args: tuple[Any, ...]


class _Running:
    """A started child: its process, status pipe and the tail of its stderr."""

    def __init__(self, child: Child):
        self.child = child
        read_fd, write_fd = os.pipe()
        self.status = os.fdopen(read_fd, "rb", buffering=0)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "experiments.common.processes", str(write_fd)],
            stdin=subprocess.PIPE, stderr=subprocess.PIPE, pass_fds=(write_fd,))
        os.close(write_fd)
        self.joined = False
        self.tail: collections.deque[str] = collections.deque(maxlen=200)
        self.reader = threading.Thread(target=self._forward, daemon=True)
        self.reader.start()
        try:
            pickle.dump((child.join, child.compute, child.args), self.proc.stdin)
            self.proc.stdin.flush()
        except BrokenPipeError:  # it died at once; its status says why
            pass

    def _forward(self) -> None:
        quiet = False
        for raw in self.proc.stderr:
            line = raw.decode(errors="replace").rstrip("\n")
            self.tail.append(line)
            quiet = quiet or bool(re.match(r"^[EF]\d{4} ", line))  # the runtime is failing
            if not quiet and not _NOISE.match(line) and not line.startswith("error: "):
                print(line, file=sys.stderr, flush=True)

    def poll_joined(self) -> bool:
        if not self.joined and select.select([self.status], [], [], 0)[0]:
            self.joined = self.status.read(7) == b"joined\n"
        return self.joined

    def send(self, text: bytes) -> None:
        try:
            self.proc.stdin.write(text)
            self.proc.stdin.flush()
        except (BrokenPipeError, ValueError):
            pass

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self.proc.wait(STOP_GRACE_S)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.reader.join(timeout=5)
        for f in (self.proc.stdin, self.status):
            try:
                f.close()
            except OSError:
                pass


def cause(name: str, returncode: int, tail: list[str]) -> tuple[int, str]:
    """``(rank, one line)`` for a child that ended with ``returncode`` and stderr ``tail``;
    the lowest rank among the children that ended is the root cause."""
    if returncode < 0 and -returncode != signal.SIGABRT:
        return 0, f"{name} was killed by {signal.Signals(-returncode).name}"
    errors = [ln for ln in tail if ln.startswith("error: ")]
    if errors:
        return 1, f"{name}: {errors[-1].removeprefix('error: ')}"
    text = "\n".join(tail)
    lost = re.search(r"unhealthy \(stopped sending heartbeats\):\s*\n([\d\s,]+)\n", text)
    if lost:
        ids = ", ".join(lost.group(1).split())
        return 2, (f"{name} stopped: the JAX runtime lost process {ids} (no heartbeat: it died, "
                   f"was killed, or cannot be reached)")
    if "Terminating process because the JAX distributed service" in text or "Deadline" in text:
        return 2, f"{name} stopped: the JAX runtime lost a process (it died, or its network failed)"
    last = next((ln for ln in reversed(tail) if ln.strip() and not _NOISE.match(ln)), "")
    how = (f"was stopped by {signal.Signals(-returncode).name}" if returncode < 0
           else f"exited with status {returncode}")
    return 3, f"{name} {how}" + (f": {last.strip()}" if last else "")


def answers(address: str, timeout: float = 1.0) -> bool:
    """Whether something accepts TCP connections at ``HOST:PORT``."""
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=timeout):
            return True
    except (OSError, ValueError):
        return False


class Supervisor:
    """Start, join, run and watch the children; see the module docstring."""

    def __init__(self, children: list[Child], *, join_timeout: float, address: str,
                 hosts: bool):
        self.children, self.join_timeout, self.address = children, join_timeout, address
        self.hosts = hosts
        self.running: list[_Running] = []

    def __enter__(self) -> Callable[[], None]:
        try:
            self.running = [_Running(c) for c in self.children]
            self._wait_joined()
        except BaseException:
            self._shutdown()
            raise
        return self._go

    def __exit__(self, *exc) -> None:
        self._shutdown()

    def _wait_joined(self) -> None:
        deadline = time.monotonic() + self.join_timeout
        while not all(r.poll_joined() for r in self.running):
            if any(r.proc.poll() is not None for r in self.running):
                raise UserError(self._diagnosis() + " (before every process joined)")
            if time.monotonic() > deadline:
                waiting = ", ".join(r.child.name for r in self.running if not r.joined)
                where = ("not every process connected" if self.hosts or answers(self.address)
                         else "nothing answers there")
                raise UserError(f"{waiting} did not join the run at {self.address} within "
                                f"{self.join_timeout:g} s: {where}")
            time.sleep(POLL_S)

    def _go(self) -> None:
        for r in self.running:
            r.send(b"go\n")
        while True:
            codes = [r.proc.poll() for r in self.running]
            if any(c not in (None, 0) for c in codes):
                raise RunStopped(self._diagnosis())
            if all(c == 0 for c in codes):
                return
            time.sleep(POLL_S)

    def _diagnosis(self) -> str:
        """The root cause among the children that ended, once the others had a moment."""
        time.sleep(0.5)
        ended = [(r, r.proc.poll()) for r in self.running]
        for r, code in ended:
            if code is not None:
                r.reader.join(timeout=2)
        causes = [cause(r.child.name, code, list(r.tail)) for r, code in ended
                  if code not in (None, 0)]
        return min(causes)[1] if causes else "a process ended early"

    def _shutdown(self) -> None:
        for r in self.running:
            r.stop()
        for r in self.running:
            r.close()


@contextmanager
def supervised(children: list[Child], *, join_timeout: float, address: str,
               hosts: bool) -> Iterator[Callable[[], None]]:
    """:class:`Supervisor` as a context manager function; ``hosts``: one of ``children`` serves
    ``address`` (the coordinator), so its answering says nothing about the others."""
    with Supervisor(children, join_timeout=join_timeout, address=address, hosts=hosts) as run:
        yield run


def _child_main(status_fd: int) -> int:
    """A child: read the payload, join, report, wait for "go", compute."""
    status = os.fdopen(status_fd, "wb", buffering=0)
    threading.Thread(target=_exit_when_orphaned, args=(os.getppid(),), daemon=True).start()
    join, compute, args = pickle.load(sys.stdin.buffer)
    try:
        join(*args)
        status.write(b"joined\n")
        if sys.stdin.buffer.readline() != b"go\n":
            return 1  # the supervisor stopped the run
        compute(*args)
    except UserError as e:
        print(f"error: {e}", file=sys.stderr, flush=True)
        return 2
    except Exception as e:  # noqa: BLE001 - RunError and the like: one line for the supervisor
        from rnnjax.train import RunError

        if not isinstance(e, RunError):
            raise
        print(f"error: {str(e).splitlines()[0]}", file=sys.stderr, flush=True)
        return 2
    return 0


def _exit_when_orphaned(parent: int) -> None:
    """Stop this child when its supervisor is gone (it gets another parent)."""
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(3)


if __name__ == "__main__":
    code = _child_main(int(sys.argv[1]))
    if code:  # skip the runtime's exit handler: leaving it is a barrier the others never reach
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(0)
