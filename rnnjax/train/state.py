"""The train state: a plain pytree of parameters, optimiser state, step counter and key.

::

    opt = rnnjax.train.optimizer("adam", 1e-3, clip_norm=1.0)
    state = rnnjax.train.init_state(params, opt, key=jax.random.key(0))
    state.params, state.opt_state, state.step, state.key

Being a NamedTuple of arrays, a :class:`TrainState` goes through ``jax.jit`` (and is donated),
``jax.vmap`` (a stack of states, one per seed, see :mod:`rnnjax.train.sweep`), ``jax.tree.map``
and Orbax checkpoints unchanged. The key is stored as raw ``uint32`` key data (what
``jax.random.key_data`` returns) so that every checkpoint format can hold it; the per-step key
is ``jax.random.fold_in(state_key(state), state.step)``: derived from the step, never from
process state, so a resumed run draws exactly the keys an uninterrupted run draws.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

PyTree = Any


class TrainState(NamedTuple):
    """Everything that changes during training.

    Attributes:
      params: the model parameters (any pytree; NamedTuples in rnnjax).
      opt_state: the optax optimiser state for ``params``.
      step: number of optimiser updates done so far, an ``int32`` scalar array.
      key: raw PRNG key data (``uint32``); use :func:`step_key` for the key of the current step.
    """

    params: PyTree
    opt_state: PyTree
    step: jax.Array
    key: jax.Array


def _key_data(key: jax.Array) -> jax.Array:
    if not isinstance(key, jax.Array):
        raise TypeError(f"key must be a jax PRNG key, e.g. jax.random.key(0), got {type(key).__name__}")
    if jnp.issubdtype(key.dtype, jax.dtypes.prng_key):
        return jax.random.key_data(key)
    if key.dtype != jnp.uint32:
        raise TypeError(f"key must be a jax PRNG key or uint32 key data, got dtype {key.dtype}")
    return key


def init_state(params: PyTree, optimizer: optax.GradientTransformation, *, key: jax.Array) -> TrainState:
    """A fresh :class:`TrainState` at step 0.

    Args:
      params: initial model parameters.
      optimizer: the optax transformation that :func:`rnnjax.train.make_step` will apply.
      key: a PRNG key (typed, ``jax.random.key``, or raw, ``jax.random.PRNGKey``); the per-step
        keys are folded out of it.
    """
    params = jax.tree.map(jnp.array, params)  # copies: donating the state never deletes
    return TrainState(                         # the caller's arrays
        params=params,
        opt_state=optimizer.init(params),
        step=jnp.zeros((), jnp.int32),
        key=jnp.array(_key_data(key)),
    )


def state_key(state: TrainState) -> jax.Array:
    """The run's base key as a typed key (``state.key`` holds its raw data)."""
    return jax.random.wrap_key_data(state.key)


def step_key(state: TrainState) -> jax.Array:
    """The key for the update that takes ``state`` to ``state.step + 1``: ``fold_in(key, step)``."""
    return jax.random.fold_in(state_key(state), state.step)
