"""Multi-process runs fail in one line, within seconds, and leave nothing behind.

The supervisor (:mod:`experiments.common.processes`) starts the processes of a longrange
session; here they join a real two-process JAX runtime and then compute a stand-in that fails
the way a process fails: killed by a signal while its peer waits in a collective, or an error.
A coordinator that nobody answers is reported within the join timeout, before anything is
written.
"""

import os
import signal
import time

import numpy as np
import pytest

from experiments import longrange
from experiments.common import RunStopped, UserError
from experiments.common.processes import Child, cause, supervised
from experiments.longrange import processes


def gather_after_peer_death(config, workdir):
    """Process 1 is killed; process 0 waits for it in a collective (which would hang)."""
    from jax.experimental import multihost_utils

    if config.execution.process_id == 1:
        os.kill(os.getpid(), signal.SIGKILL)
    multihost_utils.process_allgather(np.ones(2))
    time.sleep(120)


def fail_in_process_1(config, workdir):
    if config.execution.process_id == 1:
        raise UserError("only 0 devices available")
    time.sleep(120)


def nothing(i):
    pass


def refuse_to_join(i):
    if i == 1:
        raise UserError("no such device")


def die_while_computing(i):
    if i == 1:
        os.kill(os.getpid(), signal.SIGKILL)
    time.sleep(120)


def _children(join, compute):
    return [Child(f"process {i}", join, compute, (i,)) for i in range(2)]


@pytest.mark.slow
def test_a_killed_process_is_one_line_at_once():
    """Without a JAX runtime: process 1 is killed while process 0 computes."""
    t0 = time.monotonic()
    with pytest.raises(RunStopped, match=r"^process 1 was killed by SIGKILL$"):
        with supervised(_children(nothing, die_while_computing), join_timeout=60, address="h:1",
                        hosts=True) as run:
            run()
    assert time.monotonic() - t0 < 60


@pytest.mark.slow
def test_the_supervisor_names_the_process_that_did_not_join():
    with pytest.raises(UserError, match=r"^process 1: no such device \(before every process joined\)$"):
        with supervised(_children(refuse_to_join, nothing), join_timeout=60, address="h:1",
                        hosts=True):
            pytest.fail("joined")
    with pytest.raises(UserError, match=r"^process 0, process 1 did not join the run at h:1 within "
                                        r"1 s: not every process connected$"):
        with supervised(_children(time.sleep, nothing), join_timeout=1, address="h:1", hosts=True):
            pytest.fail("joined")
    with supervised(_children(nothing, nothing), join_timeout=60, address="h:1", hosts=True) as run:
        run()


def _config(**execution):
    import dataclasses

    quick = longrange.STUDY.presets["quick"]
    return dataclasses.replace(quick, execution=dataclasses.replace(quick.execution, **execution))


@pytest.mark.slow
@pytest.mark.parametrize("compute, message", [
    (gather_after_peer_death, "process 1 was killed by SIGKILL"),
    (fail_in_process_1, "process 1: only 0 devices available"),
])
def test_a_process_that_dies_ends_the_run_in_one_line(tmp_path, compute, message):
    t0 = time.monotonic()
    with pytest.raises(RunStopped) as e:
        with processes.session(_config(local_processes=2), tmp_path, compute=compute) as run:
            joined = time.monotonic()
            run(None, None)
    assert str(e.value) == message
    assert time.monotonic() - joined < 10  # the supervisor's poll, not JAX's 100 s heartbeat
    assert time.monotonic() - t0 < 60
    assert list(tmp_path.iterdir()) == []


def test_an_unreachable_coordinator_is_one_line_within_the_join_timeout(tmp_path):
    port = processes._free_port()  # nothing listens there
    config = _config(coordinator=f"localhost:{port}", num_processes=2, process_id=1)
    t0 = time.monotonic()
    with pytest.raises(UserError) as e:
        with processes.session(config, tmp_path, join_timeout=2):
            pytest.fail("joined")
    assert str(e.value) == (f"process 1 did not join the run at localhost:{port} within 2 s: "
                            "nothing answers there")
    assert time.monotonic() - t0 < 10


def test_a_missing_peer_is_refused_before_anything_is_written(tmp_path, capsys, monkeypatch):
    """Process 0 of two, the other never started: the command refuses; the workdir stays empty."""
    monkeypatch.setattr(processes, "JOIN_TIMEOUT_S", 2)
    w = tmp_path / "w"
    argv = ["--quick", "--coordinator", f"localhost:{processes._free_port()}",
            "--num-processes", "2", "--process-id", "0", "--workdir", str(w)]
    assert longrange.main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: process 0 did not join the run at localhost:")
    assert "within 2 s: not every process connected" in err
    assert len(err.splitlines()) == 1 and not w.exists()


def test_causes_name_the_root_process():
    lost = ["E1206 09:37:21 coordination_service.cc] error: UNAVAILABLE: The following tasks "
            "are unhealthy (stopped sending heartbeats):", "1", "The tasks have crashed."]
    assert cause("process 0", -6, lost) == (
        2, "process 0 stopped: the JAX runtime lost process 1 (no heartbeat: it died, was "
           "killed, or cannot be reached)")
    assert cause("process 1", -9, []) == (0, "process 1 was killed by SIGKILL")
    assert cause("process 1", 1, ["Traceback", "ValueError: x"]) == (
        3, "process 1 exited with status 1: ValueError: x")
