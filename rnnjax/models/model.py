"""The model bundle shared by every architecture in :mod:`rnnjax.models`, and its small layers.

A model is to an architecture what :class:`rnnjax.Cell` is to a recurrence: a constructor closes
over the hyper-parameters and returns an immutable bundle of pure functions::

    model = constructor(...)                 # sequence_model, seq2seq, captioner, ...
    params = model.init(key)                 # a NamedTuple pytree with documented fields
    out = model.apply(params, inputs, **kw)  # recurrent models: (carry, outputs), like unroll

Models that generate (a decoder, a language model, a forecaster) also expose one step of the
generation, ``step(params, carry, y_prev) -> (carry, output)``, the carry it starts from,
``initial_carry(params, ...)``, and ``feedback(output) -> next input`` (``argmax`` for tokens, the
prediction itself for real values); the decoding modes in :mod:`rnnjax.models.decoding` iterate
``step`` and work on any such model.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from rnnjax._identity import ByConstruction, codes, constructor_spec
from rnnjax.cell import takes_key

Array = jax.Array
PyTree = Any


@dataclass(frozen=True, kw_only=True, eq=False)
class Model(ByConstruction):
    """An architecture as pure functions.

    Models compare and hash like cells (:class:`rnnjax._identity.ByConstruction`): two built by
    the same constructor (decorated with :func:`model_constructor`) with the same arguments are
    equal, so a model can be a static
    argument of ``jax.jit`` and a rebuilt model reuses the compiled program. Subclasses are
    declared ``@dataclass(frozen=True, kw_only=True, eq=False)`` to keep this equality.

    Attributes:
      init: ``key -> params``, a NamedTuple pytree (optax, Orbax and ``vmap`` take it as is).
      apply: ``(params, inputs, **kw) -> outputs``; for a recurrent model ``(carry, outputs)``
        with the carry after the last input, as :func:`rnnjax.unroll` returns.
      name: a short description for reprs and legends.
      initial_carry: generating models: ``(params, ...) -> carry``, the state before the first
        generated step (its arguments depend on the model: a batch shape, a source, images).
      step: generating models: ``(params, carry, y_prev) -> (carry, output)``, one step fed the
        previous output (a token ``(*batch,)`` or a vector ``(*batch, F)``).
      feedback: generating models: ``output -> next input`` (``argmax`` for token outputs, the
        identity for real-valued ones); ``None`` when outputs cannot be fed back.
      bos, eos, pad: start, end and padding tokens of a token decoder (``None`` otherwise).
      spec: ``(constructor, arguments)`` set by :func:`model_constructor`; what equality and
        hashing compare (``None``: the model equals only itself).
    """

    init: Callable[[Array], PyTree]
    apply: Callable[..., Any]
    name: str = "model"
    initial_carry: Callable[..., PyTree] | None = None
    step: Callable[..., tuple[PyTree, Array]] | None = None
    feedback: Callable[[Array], Array] | None = None
    bos: int | None = None
    eos: int | None = None
    pad: int | None = None
    spec: tuple | None = None

    def _identity(self) -> tuple | None:
        if self.spec is None:
            return None  # equal only to itself
        return (type(self), codes(getattr(self, f.name) for f in dataclasses.fields(self)))

    def __repr__(self) -> str:  # the default repr prints function addresses
        return f"{type(self).__name__}({self.name})"


def model_constructor(constructor: Callable[..., Model]) -> Callable[..., Model]:
    """Decorate a function returning a :class:`Model` so equal arguments give equal models (as
    :func:`rnnjax.cell.cell_constructor` does for cells)."""
    signature = inspect.signature(constructor)

    @functools.wraps(constructor)
    def build(*args, **kwargs) -> Model:
        model = constructor(*args, **kwargs)
        spec = constructor_spec(constructor, signature, args, kwargs)
        return dataclasses.replace(model, spec=spec)

    return build


def randomness(cell: Any, key: Array | None, deterministic: bool, salt: int | None = None
               ) -> dict:
    """The ``key``/``deterministic`` keywords for running ``cell`` (a cell or layer) inside a
    model: none for a cell without randomness, else ``key`` (folded with ``salt`` when given, so
    two parts of one model draw different masks) and ``deterministic``."""
    if not takes_key(cell):
        return {}
    if key is not None and salt is not None:
        key = jax.random.fold_in(key, salt)
    return {"key": key, "deterministic": bool(deterministic)}


class Dense(NamedTuple):
    """An affine layer ``y = x W + b``: ``w (n_in, n_out)``, ``b (n_out,)``."""

    w: Array
    b: Array


def dense_init(key: Array, n_in: int, n_out: int) -> Dense:
    """LeCun-normal weights ``N(0, 1/n_in)`` and a zero bias."""
    return Dense(jax.random.normal(key, (n_in, n_out)) / jnp.sqrt(n_in), jnp.zeros(n_out))


def affine(x: Array, w: Array, b: Array) -> Array:
    """``x W + b`` for ``x`` of shape ``(*batch, n)`` with the bias broadcast explicitly."""
    y = x @ w
    return y + jnp.reshape(b, (1,) * (y.ndim - 1) + b.shape)


def argmax_feedback(logits: Array) -> Array:
    """Greedy feedback for token outputs: the most likely token."""
    return jnp.argmax(logits, axis=-1)


def identity_feedback(y: Array) -> Array:
    """Feedback for real-valued outputs: the prediction itself."""
    return y


def carry_template(cell, params: PyTree) -> PyTree:
    """Shapes and dtypes of ``cell``'s carry for one example (no computation)."""
    return jax.eval_shape(lambda p: cell.initial_carry(p, ()), params)
