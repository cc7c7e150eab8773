"""Architectures built from cells, all with one contract.

Every constructor returns a :class:`Model`, an immutable bundle of pure functions closed over the
architecture (as a :class:`rnnjax.Cell` is for a recurrence)::

    params = model.init(key)                  # a NamedTuple pytree with documented fields
    out = model.apply(params, inputs, **kw)   # recurrent models: (carry, outputs), like unroll

======================================  ==========================================================
constructor                             ``apply(params, inputs, **kw)``
======================================  ==========================================================
``sequence.sequence_model``             ``(tokens | vectors, carry=None, *, lengths)`` →
                                        ``(carry, outputs)``; ``pool`` None/last/mean/ends
``seq2seq.seq2seq``                     ``(src, *, tgt_in, src_lengths)`` → ``(carry, outputs)``
``captioner.captioner``                 ``(images, *, tgt_in)`` → ``(carry, logits)``
``baselines.bag_of_words``              ``(tokens, *, lengths)`` → ``logits``
``baselines.window_forecaster``         ``(window)`` → ``forecast``
======================================  ==========================================================

Models that generate also have ``initial_carry(params, ...)``, ``step(params, carry, y_prev)``
and ``feedback`` (see :class:`Model`), and the decoding modes are free functions of any of them
(:mod:`rnnjax.models.decoding`): :func:`free_running`, :func:`scheduled_sampling`,
:func:`greedy` and :func:`sample`. Teacher forcing is ``apply``.

>>> import jax, jax.numpy as jnp, rnnjax
>>> from rnnjax import models
>>> model = models.seq2seq(rnnjax.cells.gru(8), rnnjax.cells.gru(8), src_vocab=5, tgt_vocab=6)
>>> params = model.init(jax.random.key(0))
>>> src, tgt_in = jnp.ones((2, 4), jnp.int32), jnp.ones((2, 3), jnp.int32)
>>> model.apply(params, src, tgt_in=tgt_in)[1].shape                  # teacher forcing
(2, 3, 6)
>>> carry = model.initial_carry(params, src)
>>> models.free_running(model, params, carry, tgt_in[:, 0], 3)[1].shape
(2, 3, 6)
>>> tokens, lengths = models.greedy(model, params, carry, max_len=5)  # until eos
>>> tokens.shape, lengths.shape
((2, 5), (2,))
"""

from rnnjax.models.baselines import bag_of_words, window_forecaster
from rnnjax.models.captioner import captioner
from rnnjax.models.decoding import free_running, greedy, sample, scheduled_sampling
from rnnjax.models.model import Model
from rnnjax.models.seq2seq import seq2seq, shift_right
from rnnjax.models.sequence import sequence_model

__all__ = ["Model", "bag_of_words", "captioner", "free_running", "greedy", "sample",
           "scheduled_sampling", "seq2seq", "sequence_model", "shift_right", "window_forecaster"]
