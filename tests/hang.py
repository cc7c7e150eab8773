"""A regression test's guard against a hang: run a script in a fresh interpreter with a timeout."""

import subprocess
import sys

import pytest


def assert_finishes(script: str, timeout: float, what: str) -> None:
    """Run ``script`` with ``python -c``; fail naming ``what`` if it has not ended within
    ``timeout`` seconds (a thread-pool deadlock sits at 0 % CPU forever), and require exit status
    0 and the printed line ``done``."""
    try:
        out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                             timeout=timeout)
    except subprocess.TimeoutExpired:
        pytest.fail(f"{what} hung (thread-pool deadlock)")
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "done"
