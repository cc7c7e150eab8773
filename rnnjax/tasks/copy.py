"""The copy (memory) task: read a few symbols, wait ``T`` steps, then reproduce them.

Arjovsky, Shah & Bengio (2016), following Hochreiter & Schmidhuber (1997). With ``S``
symbols (default 10) from ``K`` categories (default 8) and delay ``T``, the alphabet is
``{0: blank, 1..K: symbols, K+1: delimiter}`` and every sequence has length ``T + 2S``:

    inputs : a_1 … a_S   0 … 0 (T-1 blanks)   K+1 (delimiter)   0 … 0 (S blanks)
    targets: 0 … 0 (T + S blanks)                               a_1 … a_S

with ``a_k`` uniform over ``1..K``. The loss is the per-step cross-entropy averaged over all
``T + 2S`` positions. A memoryless predictor — blank with certainty for the first ``T + S`` steps,
uniform over the ``K`` symbols for the last ``S`` — scores

    baseline = S · log K / (T + 2S)         (= 10 log 8 / (T + 20) for the defaults),

the number a model must beat (:func:`baseline`). Tokens are integers; one-hot them with
``jax.nn.one_hot(inputs, copy.vocab_size())`` or embed them.

    from rnnjax.tasks import copy
    data = copy.batch(key=key, batch_size=64, delay=100)
    data.inputs.shape, data.targets.shape      # (64, 120), (64, 120), int32
"""

from __future__ import annotations

import math
from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp

from rnnjax import _checks

Array = jax.Array

BLANK = 0


class Batch(NamedTuple):
    """A batch of copy-task sequences.

    Attributes:
      inputs: ``(*batch, T + 2S)`` int32 tokens.
      targets: ``(*batch, T + 2S)`` int32 tokens (blank except the last ``S``).
    """

    inputs: Array
    targets: Array


def vocab_size(n_categories: int = 8) -> int:
    """Number of token ids: blank, the ``K`` symbols and the delimiter (10 for ``K = 8``)."""
    return _checks.positive_int(n_categories, "n_categories") + 2


def delimiter(n_categories: int = 8) -> int:
    """The delimiter token id, ``K + 1``."""
    return _checks.positive_int(n_categories, "n_categories") + 1


def sequence_length(delay: int, n_symbols: int = 10) -> int:
    """``T + 2S``: the length of inputs and targets."""
    return _checks.positive_int(delay, "delay") + 2 * _checks.positive_int(n_symbols, "n_symbols")


def baseline(delay: int, n_symbols: int = 10, n_categories: int = 8) -> float:
    """Cross-entropy (nats per step) of the memoryless predictor: ``S log K / (T + 2S)``."""
    n_symbols = _checks.positive_int(n_symbols, "n_symbols")
    n_categories = _checks.positive_int(n_categories, "n_categories")
    return n_symbols * math.log(n_categories) / sequence_length(delay, n_symbols)


def example(*, key: Array, delay: int, n_symbols: int = 10,
            n_categories: int = 8) -> tuple[Array, Array]:
    """One sequence: ``(inputs (T + 2S,), targets (T + 2S,))`` int32 tokens."""
    sequence_length(delay, n_symbols)
    _checks.positive_int(n_categories, "n_categories")
    return _example(key, delay, n_symbols, n_categories)


@partial(jax.jit, static_argnums=(1, 2, 3))
def _example(key: Array, delay: int, n_symbols: int, n_categories: int) -> tuple[Array, Array]:
    symbols = jax.random.randint(key, (n_symbols,), 1, n_categories + 1, dtype=jnp.int32)
    blanks = partial(jnp.full, dtype=jnp.int32, fill_value=BLANK)
    inputs = jnp.concatenate([
        symbols, blanks((delay - 1,)), jnp.full((1,), n_categories + 1, jnp.int32),
        blanks((n_symbols,))])
    targets = jnp.concatenate([blanks((delay + n_symbols,)), symbols])
    return inputs, targets


def batch(*, key: Array, batch_size: int, delay: int, n_symbols: int = 10,
          n_categories: int = 8) -> Batch:
    """``batch_size`` independent sequences from one key (a fresh stream: fold in the step)."""
    _checks.positive_int(batch_size, "batch_size")
    sequence_length(delay, n_symbols)
    _checks.positive_int(n_categories, "n_categories")
    keys = jax.random.split(key, batch_size)
    inputs, targets = jax.vmap(lambda k: _example(k, delay, n_symbols, n_categories))(keys)
    return Batch(inputs, targets)


def split(*, key: Array, n_train: int, n_test: int, delay: int, n_symbols: int = 10,
          n_categories: int = 8) -> tuple[Batch, Batch]:
    """A fixed ``(train, test)`` split, independent of each other, reproducible from ``key``."""
    k_train, k_test = jax.random.split(key)
    kw = dict(delay=delay, n_symbols=n_symbols, n_categories=n_categories)
    return (batch(key=k_train, batch_size=n_train, **kw),
            batch(key=k_test, batch_size=n_test, **kw))
