"""Identity by construction: what makes two cells, layers or models equal and hash alike.

A constructor decorated with :func:`rnnjax.cell.cell_constructor` (or
:func:`rnnjax.models.model.model_constructor`) records ``(constructor, arguments)`` as the object's
``spec`` (:func:`constructor_spec`); two objects built by the same constructor with the same
arguments are then equal and hash alike, so they can be static arguments of ``jax.jit`` and a
rebuilt object reuses the compiled program. :class:`ByConstruction` is the one equality shared
by :class:`rnnjax.Cell`, :class:`rnnjax.Layer` and :class:`rnnjax.models.model.Model`: each says
what it compares in ``_identity`` (``None``: the object is equal only to itself).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable
from typing import Any

import jax.numpy as jnp
import numpy as np


class ByConstruction:
    """Equality and hashing through ``_identity()``, a hashable tuple (``None``: only itself).

    Subclasses put ``type(self)`` (or their base kind) in the tuple, so a cell never equals a
    layer or a model.
    """

    __slots__ = ()

    def _identity(self) -> tuple | None:
        raise NotImplementedError

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ByConstruction):
            return NotImplemented
        if self is other:
            return True
        mine = self._identity()
        return mine is not None and mine == other._identity()

    def __ne__(self, other: object) -> bool:
        eq = self.__eq__(other)
        return eq if eq is NotImplemented else not eq

    def __hash__(self) -> int:
        mine = self._identity()
        return id(self) if mine is None else hash(mine)


def codes(values: Iterable[Any]) -> tuple:
    """Each value's ``__code__`` when it is a Python function (so the closures a constructor
    makes on two calls compare equal), else the value itself."""
    return tuple(getattr(v, "__code__", v) for v in values)


def constructor_spec(constructor: Callable, signature: inspect.Signature, args: tuple,
                     kwargs: dict) -> tuple | None:
    """``(constructor, ((name, value), ...))`` for a call, or ``None`` when an argument cannot be
    hashed (then the object built equals only itself)."""
    bound = signature.bind(*args, **kwargs)
    bound.apply_defaults()
    try:
        spec = (constructor, tuple((k, _static(k, v)) for k, v in bound.arguments.items()))
        hash(spec)
    except TypeError:
        return None
    return spec


def _static(name: str, value: Any) -> Any:
    """A hashable stand-in for an argument value that compares as the value does."""
    if name in ("dtype", "param_dtype") and value is not None:
        return jnp.dtype(value)
    if isinstance(value, np.generic):
        return value.item()
    if type(value) in (list, tuple):  # not a Cell or other NamedTuple
        return tuple(_static("", v) for v in value)
    if type(value) is dict:
        return tuple(sorted((k, _static(k, v)) for k, v in value.items()))
    return value
