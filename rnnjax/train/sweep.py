"""Sweeps: seeds and hyper-parameters on a leading axis of one vmapped, jitted program.

::

    keys = jax.random.split(jax.random.key(0), 16)             # 16 seeds
    states = rnnjax.train.sweep.init(lambda k: init_state(model.init(k), opt, key=k), keys)
    step = rnnjax.train.sweep.vmap_step(make_step(loss_fn, opt, jit=False))
    mesh = rnnjax.train.sweep.mesh()                            # all devices on axis "sweep"
    states = rnnjax.train.sweep.shard(states, mesh)             # leading axis split over devices
    states, metrics = step(states, batch)                       # metrics["loss"]: shape (16,)

The step is written for one run; ``jax.vmap`` turns it into a step for a stack of runs (every
leaf of the state gets a leading axis of size S). The batch is shared by all members
(``batch_axis=None``) or has its own leading axis (``batch_axis=0``, e.g. a different data
stream per seed). Hyper-parameters that are arrays (learning rates via
``optax.inject_hyperparams``, initial scales, ...) vary along the same axis.

With several devices, :func:`shard` places the leading axis on a ``jax.sharding.Mesh`` with
``NamedSharding(mesh, P("sweep"))``; ``jit`` then runs each device's members locally (the
members never communicate). With one device it is a no-op placement. On a multi-host cluster,
call ``jax.distributed.initialize()`` first and pass the global mesh. Its defaults wait 300 s
for every process to join and 100 s for a lost process's heartbeat, then end the process with
a C++ abort; pass ``initialization_timeout`` and ``heartbeat_timeout_seconds`` in seconds, and
supervise the processes from one that never joins (as :mod:`experiments.common.processes`
does for ``experiments.longrange``) to turn a failure into one line.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

from rnnjax import _checks

PyTree = Any
AXIS = "sweep"


def stack_trees(trees: Sequence[PyTree]) -> PyTree:
    """Stack pytrees of identical structure along a new leading axis (the members of a sweep;
    not :func:`rnnjax.stack`, the deep RNN)."""
    if not trees:
        raise ValueError("stack_trees needs at least one pytree")
    return jax.tree.map(lambda *xs: jnp.stack(xs), *trees)


def unstack_trees(tree: PyTree) -> list[PyTree]:
    """Inverse of :func:`stack_trees`: the members of a stacked pytree."""
    leaves, treedef = jax.tree.flatten(tree)
    if not leaves:
        return []
    n = leaves[0].shape[0]
    return [jax.tree.unflatten(treedef, [x[i] for x in leaves]) for i in range(n)]


def index(tree: PyTree, i: int) -> PyTree:
    """Member ``i`` of a stacked pytree."""
    return jax.tree.map(lambda x: x[i], tree)


def init(init_fn: Callable[..., PyTree], *args: Any) -> PyTree:
    """``jax.vmap(init_fn)(*args)``: one member per entry of the leading axis of ``args``.

    E.g. ``init(make_state, jax.random.split(key, 16))`` or ``init(make_state, keys, lrs)``.
    """
    return jax.jit(jax.vmap(init_fn))(*args)


def vmap_step(
    step: Callable[[PyTree, PyTree], tuple[PyTree, Any]],
    *,
    batch_axis: int | None = None,
    donate: bool = True,
    chunk: int | None = None,
) -> Callable[[PyTree, PyTree], tuple[PyTree, Any]]:
    """``jit(vmap(step))`` over a stacked state; the batch is shared or has its own axis.

    Args:
      step: an un-jitted step ``(state, batch) -> (state, metrics)``, e.g.
        ``make_step(loss_fn, opt, jit=False)``.
      batch_axis: ``None`` (every member sees the same batch) or the batch's sweep axis.
      donate: donate the stacked state.
      chunk: ``None`` vmaps all members at once (what accelerators and sharding want). An int
        ``k`` runs ``lax.map`` over the members, ``k`` at a time vmapped, inside the same
        compiled program: on a CPU, where batched matrix products of a vmapped recurrence can
        be slower than unbatched ones, ``chunk=1`` keeps one dispatch per sweep step without
        batching the maths (see ``benchmarks/bench_sweep.py``). Use ``None`` with :func:`shard`.
    """
    if chunk is None:
        vstep = jax.vmap(step, in_axes=(0, batch_axis))
    else:
        chunk = _checks.positive_int(chunk, "chunk (None or a positive int)")

        def vstep(states, batch):
            if batch_axis is None:
                return jax.lax.map(lambda s: step(s, batch), states, batch_size=chunk)
            batch = jax.tree.map(lambda x: jnp.moveaxis(x, batch_axis, 0), batch)
            return jax.lax.map(lambda sb: step(*sb), (states, batch), batch_size=chunk)

    return jax.jit(vstep, donate_argnums=(0,) if donate else ())


def mesh(devices: Sequence[jax.Device] | None = None, *, axis_name: str = AXIS) -> Mesh:
    """A 1-D mesh over ``devices`` (default: all) with one axis named ``axis_name``."""
    devices = list(jax.devices() if devices is None else devices)
    return Mesh(np.array(devices), (axis_name,))


def shard(tree: PyTree, mesh: Mesh, *, axis_name: str = AXIS) -> PyTree:
    """Place the leading (sweep) axis of every leaf across ``mesh``'s ``axis_name`` axis.

    The sweep size must be a multiple of the number of devices on that axis.
    """
    n = mesh.shape[axis_name]
    for x in jax.tree.leaves(tree):
        if np.ndim(x) == 0 or x.shape[0] % n:
            raise ValueError(
                f"the sweep axis (leading axis, size {np.shape(x)[:1]}) must be a multiple of "
                f"the {n} devices of mesh axis {axis_name!r}"
            )
    sharding = NamedSharding(mesh, P(axis_name))
    return jax.device_put(tree, sharding)


def replicate(tree: PyTree, mesh: Mesh) -> PyTree:
    """Place a copy of every leaf on every device of ``mesh`` (e.g. a batch shared by all)."""
    return jax.device_put(tree, NamedSharding(mesh, P()))
