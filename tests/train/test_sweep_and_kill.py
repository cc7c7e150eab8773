
"""Sweeps (vmap over seeds, sharding over forced host devices) and resume after SIGKILL."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import rnnjax.train as T
from rnnjax.train import sweep

ROOT = Path(__file__).resolve().parents[2]


def _loss(params, batch, key):
    x, y = batch
    noise = 0.01 * jax.random.normal(key, y.shape)  # makes the per-step key matter
    return jnp.mean(jnp.square(x @ params["w"] - y + noise))


def _batch(step):
    x = jax.random.normal(jax.random.fold_in(jax.random.key(3), step), (6, 3))
    return x, x @ jnp.array([[1.0], [2.0], [-1.0]])


@pytest.mark.slow
def test_vmapped_sweep_equals_sequential_runs(key):
    opt = optax.inject_hyperparams(optax.sgd)(learning_rate=0.1)
    lrs = jnp.array([0.01, 0.1, 0.3])
    keys = jax.random.split(key, 3)

    def make(k, lr):
        state = T.init_state({"w": jax.random.normal(k, (3, 1))}, opt, key=k)
        state.opt_state.hyperparams["learning_rate"] = lr
        return state

    states = sweep.init(make, keys, lrs)
    vstep = sweep.vmap_step(T.make_step(_loss, opt, jit=False))
    step = T.make_step(_loss, opt)
    singles = [make(k, lr) for k, lr in zip(keys, lrs, strict=True)]
    for s in range(3):
        states, m = vstep(states, _batch(s))
        outs = [step(st, _batch(s)) for st in singles]
        singles = [o[0] for o in outs]
        np.testing.assert_allclose(m["loss"], [float(o[1]["loss"]) for o in outs], rtol=1e-5)
    for i, single in enumerate(singles):
        np.testing.assert_allclose(sweep.index(states, i).params["w"], single.params["w"],
                                   rtol=1e-5, atol=1e-7)
    members = sweep.unstack_trees(states)
    assert len(members) == 3
    np.testing.assert_array_equal(members[2].params["w"], sweep.index(states, 2).params["w"])
    restacked = sweep.stack_trees(members)
    jax.tree.map(np.testing.assert_array_equal, restacked, states)
    # lax.map over the members (chunk=1) computes the same as vmap
    mapped = sweep.vmap_step(T.make_step(_loss, opt, jit=False), chunk=1, donate=False)
    a, _ = mapped(states, _batch(7))
    b, _ = sweep.vmap_step(T.make_step(_loss, opt, jit=False), donate=False)(states, _batch(7))
    np.testing.assert_allclose(a.params["w"], b.params["w"], rtol=1e-6)
    # fit drives a sweep like a single run: one record per step, values per member
    _, hist = T.fit(vstep, states, _batch, num_steps=5)
    assert len(hist) == 2 and len(hist[-1]["loss"]) == 3


def _run_script(code: str, env_extra: dict, tmp_path: Path) -> subprocess.CompletedProcess:
    script = tmp_path / "script.py"
    script.write_text(textwrap.dedent(code))
    env = {**os.environ, "JAX_PLATFORMS": "cpu", "PYTHONPATH": str(ROOT), **env_extra}
    return subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          env=env, cwd=tmp_path, timeout=300)


SHARD = """
import jax, jax.numpy as jnp, numpy as np, optax
import rnnjax.train as T
from rnnjax.train import sweep
assert len(jax.devices()) == 4, jax.devices()

def loss(params, batch, key):
    x, y = batch
    return jnp.mean(jnp.square(x @ params["w"] - y))

opt = optax.sgd(0.1)
keys = jax.random.split(jax.random.key(0), 8)
make = lambda k: T.init_state({"w": jax.random.normal(k, (3, 1))}, opt, key=k)
x = jax.random.normal(jax.random.key(1), (5, 3)); batch = (x, x.sum(1, keepdims=True))
vstep = sweep.vmap_step(T.make_step(loss, opt, jit=False), donate=False)
plain, _ = vstep(sweep.init(make, keys), batch)
mesh = sweep.mesh()
states = sweep.shard(sweep.init(make, keys), mesh)
out, m = vstep(states, sweep.replicate(batch, mesh))
assert out.params["w"].sharding.spec == jax.sharding.PartitionSpec("sweep"), out.params["w"].sharding
assert len(out.params["w"].addressable_shards) == 4
assert out.params["w"].addressable_shards[0].data.shape == (2, 3, 1)
np.testing.assert_allclose(out.params["w"], plain.params["w"], rtol=1e-6)
try:
    sweep.shard(sweep.init(make, keys[:6]), mesh)
    raise SystemExit("no error for 6 members on 4 devices")
except ValueError as e:
    assert "multiple" in str(e)
print("SHARDED OK")
"""


def test_sweep_shards_over_forced_host_devices(tmp_path):
    res = _run_script(SHARD, {"XLA_FLAGS": "--xla_force_host_platform_device_count=4"}, tmp_path)
    assert res.returncode == 0 and "SHARDED OK" in res.stdout, res.stderr[-2000:]


KILL = """
import os, signal, sys
import jax, jax.numpy as jnp, numpy as np
import rnnjax.train as T

def loss(params, batch, key):
    x, y = batch
    return jnp.mean(jnp.square(x @ params["w"] - y + 0.1 * jax.random.normal(key, y.shape)))

def batch_at(step):
    if step == int(os.environ.get("KILL_AT", -1)):
        os.kill(os.getpid(), signal.SIGKILL)   # no cleanup, no atexit, mid-run
    x = jax.random.normal(jax.random.fold_in(jax.random.key(5), step), (4, 3))
    return x, x @ jnp.ones((3, 1))

opt = T.optimizer("adam", 0.05)
step = T.make_step(loss, opt)
def run(workdir):
    state = T.init_state({"w": jnp.zeros((3, 1))}, opt, key=jax.random.key(0))
    return T.fit(step, state, batch_at, num_steps=12, workdir=workdir, checkpoint_every=3,
                 log_every=2, config={"lr": 0.05})

state, hist = run("killed")
if os.environ.get("KILL_AT"):
    sys.exit("not killed")
os.environ.pop("KILL_AT", None)
ref, ref_hist = run("clean")
np.testing.assert_array_equal(state.params["w"], ref.params["w"])
np.testing.assert_array_equal(state.opt_state[0].mu["w"], ref.opt_state[0].mu["w"])
strip = lambda rs: [{k: v for k, v in r.items() if k != "time"} for r in rs]
assert strip(T.read_metrics("killed/metrics.jsonl")) == strip(T.read_metrics("clean/metrics.jsonl"))
print("RESUMED OK", len(hist))
"""


@pytest.mark.slow
def test_sigkilled_run_resumes_exactly(tmp_path):
    killed = _run_script(KILL, {"KILL_AT": "7"}, tmp_path)
    assert killed.returncode == -9, killed.stderr[-2000:]
    assert (tmp_path / "killed" / "checkpoints" / "6").exists()
    done = _run_script(KILL, {}, tmp_path)
    assert done.returncode == 0 and "RESUMED OK" in done.stdout, done.stderr[-2000:]
