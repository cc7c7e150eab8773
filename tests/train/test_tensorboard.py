"""Live curves: the TensorBoard event files fit writes read back with the scalars of metrics.jsonl.

The event files are read by an independent TFRecord parser (length, CRC, ``Event`` protobuf),
applying TensorBoard's purge rule: a ``SessionLog.START`` at step s drops earlier events at
steps >= s.
"""

import shutil
import struct

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import rnnjax.train as T
from rnnjax.train.tensorboard import SUBDIR, scalars

pytest.importorskip("tensorboardX", reason="the optional writer: pip install -e '.[tensorboard]'")
from tensorboardX.proto import event_pb2  # noqa: E402

OPT = T.optimizer("adam", 0.05)


def _loss(params, batch, key):
    x, y = batch
    return jnp.mean(jnp.square(x @ params["w"] - y))


STEP = T.make_step(_loss, OPT)


def _batch_at(step):
    x = jax.random.normal(jax.random.fold_in(jax.random.key(5), step), (4, 3))
    return x, x @ jnp.array([[1.0], [-2.0], [0.5]])


def _fresh():
    return T.init_state({"w": jnp.zeros((3, 1))}, OPT, key=jax.random.key(0))


def _events(path):
    data = path.read_bytes()
    at = 0
    while at < len(data):
        (length,) = struct.unpack("<Q", data[at:at + 8])
        yield event_pb2.Event.FromString(data[at + 12:at + 12 + length])
        at += 12 + length + 4


def read_scalars(directory):
    """``{step: {tag: value}}`` as TensorBoard shows it, from every event file in ``directory``."""
    shown: dict[int, dict[str, float]] = {}
    for path in sorted(directory.glob("events.out.tfevents.*")):
        for event in _events(path):
            if event.HasField("session_log") and event.session_log.status == event.session_log.START:
                shown = {s: v for s, v in shown.items() if s < event.step}
            for value in event.summary.value:
                shown.setdefault(event.step, {})[value.tag] = value.simple_value
    return shown


def _expected(records):
    return {r["step"]: scalars(r) for r in records}


def _close(a, b):
    assert a.keys() == b.keys()
    for step in a:
        assert a[step].keys() == b[step].keys(), step
        np.testing.assert_allclose([a[step][k] for k in a[step]], [b[step][k] for k in a[step]],
                                   rtol=1e-6)


def test_event_files_hold_the_scalars_of_metrics_jsonl_also_after_a_resume(tmp_path):
    work = tmp_path / "run"
    T.fit(STEP, _fresh(), _batch_at, num_steps=6, workdir=work, checkpoint_every=4, progress=False)
    # resume from the older checkpoint: the events at steps 5, 6 of the first run are dropped
    shutil.rmtree(work / "checkpoints" / "6")
    T.fit(STEP, _fresh(), _batch_at, num_steps=7, workdir=work, checkpoint_every=4, progress=False)
    records = T.load_history(work)
    assert [r["step"] for r in records] == list(range(1, 8))
    assert set(records[0]) >= {"loss", "grad_norm"}
    first, resumed = sorted((work / SUBDIR).glob("events.out.tfevents.*"))
    starts = [e.step for e in _events(resumed) if e.HasField("session_log")]
    assert starts == [5]  # the purge marker: TensorBoard drops the first run's steps >= 5
    assert max(e.step for e in _events(first)) == 6
    _close(read_scalars(work / SUBDIR), _expected(records))


def test_sweep_members_and_non_numbers_become_tags():
    record = {"step": 3, "loss": [0.5, 0.7], "lr": 0.1, "note": "x", "ok": True}
    assert scalars(record) == {"loss/0": 0.5, "loss/1": 0.7, "lr": 0.1, "ok": 1.0}


def test_no_event_files_without_a_workdir_or_the_writer(tmp_path, monkeypatch):
    import rnnjax.train.tensorboard as tb

    monkeypatch.setattr(tb, "available", lambda: False)
    T.fit(STEP, _fresh(), _batch_at, num_steps=2, workdir=tmp_path / "w", progress=False)
    assert not (tmp_path / "w" / SUBDIR).exists()
    assert (tmp_path / "w" / "metrics.jsonl").exists()
