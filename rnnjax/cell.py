"""The cell: a recurrent transition as an immutable bundle of pure functions.

A cell is to a recurrent network what ``optax.GradientTransformation`` is to an optimiser:
a constructor closes over the hyper-parameters and returns a :class:`Cell`::

    cell = rnnjax.cells.lstm(hidden_size=128)
    params = cell.init(key, input_size)               # a NamedTuple of arrays
    carry = cell.initial_carry(params, batch_shape=())
    carry, y = cell.step(params, carry, x)            # x: (*batch, I) -> y: (*batch, output_size)

``step`` is exactly a ``lax.scan`` body once ``params`` is bound, so
``lax.scan(partial(cell.step, params), carry, xs_time_major)`` runs the recurrence;
:func:`rnnjax.unroll` does this with batch-first inputs, lengths, reversal and remat.

Cells and layers
----------------
A cell is the one-step map. What has no exact one-step map — a bidirectional pass reads the
whole sequence — is a :class:`Layer`: it has ``init``, ``initial_carry``, ``output_size`` and a
``name``, and runs through ``sequence`` only. :func:`rnnjax.unroll` runs both; functions that need
the one-step map (Newton evaluation, the analysis tools) take a cell and refuse a layer
(:func:`require_cell`).

Splitting off the input projection
----------------------------------
Most cells start with an affine map of the input, ``u_t = x_t W_x + b``, that does not depend
on the carry. A cell may expose that split as two optional functions::

    step(params, carry, x) == recur(params, carry, project(params, x))

``project`` can then be applied to the whole sequence at once (one large matrix product instead
of ``T`` small ones) with only ``recur`` inside the scan: the standard optimisation on GPUs.
:func:`rnnjax.unroll` does so by default on GPU/TPU (not on CPU, where it is usually slower; see
its ``hoist`` argument).

Elementwise affine recurrences
------------------------------
Linear recurrent cells (LRU, minGRU, minLSTM) have a transition that is an elementwise affine
map of the carry whose coefficients depend on the input alone::

    carry_t = a_t ⊙ carry_{t-1} + b_t,    (a_t, b_t) = coefficients(params, x_t)
    y_t = readout(params, carry_t, x_t)

Such a cell sets ``Cell.affine`` to an :class:`Affine` holding these two functions, with
``step(p, c, x) == (a ⊙ c + b, readout(p, a ⊙ c + b, x))``. ``a`` and ``b`` have the carry's
pytree structure and shapes (with ``x``'s batch dims; no broadcasting), so ``coefficients`` applied
to a whole sequence ``(*batch, T, I)`` gives every step's map at once, and the maps compose
associatively: ``(a_2, b_2) ∘ (a_1, b_1) = (a_2 a_1, a_2 b_1 + b_2)``.
:func:`rnnjax.unroll` with ``method="associative"`` evaluates the recurrence with
``jax.lax.associative_scan`` in ``O(log T)`` parallel depth (see :mod:`rnnjax.parallel`).

Wrapping a cell
---------------
A wrapper that keeps a cell's recurrence and moves its params (a learned initial carry holds
them at ``params.cell``) is built with :func:`with_params`, the one way to rebuild a cell or
layer of the same kind: it replaces ``init``, ``initial_carry`` and ``name`` and forwards every
other function through a view of the params, so no optional capability (``project``/``recur``,
``affine``, ``sequence``) and no layer structure is lost.

Randomness
----------
``step`` and ``recur`` may take a keyword-only ``key`` (a stack with dropout does). The same key
is passed at every time step, so masks drawn from it are the same through time: variational
dropout (Gal & Ghahramani 2016). Cells without randomness do not take ``key``.

Writing a cell constructor: equality, hashing and dtypes
--------------------------------------------------------
Two cells built by the same constructor with the same arguments are equal and hash alike, so
a cell can be a static argument of ``jax.jit`` (``jax.jit(rnnjax.unroll, static_argnums=0)``)
and a rebuilt cell reuses the compiled program. A constructor gets this from the
:func:`cell_constructor` decorator, which binds the call's arguments to the signature (defaults
filled in), normalises them (NumPy scalars to Python numbers, lists to tuples, ``dtype`` and
``param_dtype`` to canonical dtypes) and stores ``(constructor, arguments)`` as
:attr:`Cell.spec`. Equality compares ``spec``, ``output_size``, ``name`` and the code of each
function, so a ``_replace`` of a function gives an unequal cell. Arguments that cannot be
hashed (an array) leave ``spec = None``: such a cell, like one built with ``Cell(...)`` directly,
is equal only to itself. Callable arguments (an activation, an initialiser) compare by identity:
``jnp.tanh`` is always ``jnp.tanh``, a fresh ``lambda`` never equals another.

Every cell constructor takes ``dtype`` and ``param_dtype`` with Flax's meaning: ``param_dtype``
is what ``init`` stores, ``dtype`` what ``step`` computes in; the carry and the outputs are in
``dtype``. ``param_dtype`` defaults to float32 (as in Flax); ``dtype`` defaults to ``None``,
read at call time as float32, or float64 under ``jax.enable_x64``. So ``lstm(H,
dtype=jnp.bfloat16)`` keeps float32 master weights and runs in bfloat16, and
``lstm(H, param_dtype=jnp.float64)`` under x64 is float64 throughout. A constructor follows
this pattern::

    @cell_constructor
    def mycell(hidden_size, *, dtype=None, param_dtype=jnp.float32) -> Cell:
        hidden_size = _checks.positive_int(hidden_size, "hidden_size")
        dtype = _checks.float_dtype(dtype, "mycell dtype")           # None or a float dtype
        param_dtype = _checks.float_dtype(param_dtype, "mycell param_dtype")

        def init(key, input_size):
            pdt = _checks.resolve_float(param_dtype)                  # canonical dtype
            ...                                                       # arrays in pdt

        def recur(params, carry, u):
            dt = _checks.resolve_float(dtype)
            p = cast(params, dt)                                       # compute in dt
            ...

        return Cell(init, zeros_carry(hidden_size, dtype=dtype), step, hidden_size, ...)

Compositions (:func:`rnnjax.stack`, :func:`rnnjax.bidirectional`,
:func:`rnnjax.init.learned_initial_carry`) are decorated the same way; their layers bring their
own dtypes.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from rnnjax import _checks
from rnnjax._identity import ByConstruction, codes, constructor_spec

Array = jax.Array
PyTree = Any

_FUNCTIONS = ("init", "initial_carry", "step", "project", "recur", "sequence")


class Affine(NamedTuple):
    """The elementwise affine form of a linear recurrent cell (see the module docstring).

    Attributes:
      coefficients: ``(params, x) -> (a, b)`` with ``x: (*batch, I)`` and ``a``, ``b`` pytrees
        shaped like the carry for that batch: ``carry_t = a ⊙ carry_{t-1} + b``.
      readout: ``(params, carry, x) -> y``, the output computed from the new carry and the input.
    """

    coefficients: Callable[[PyTree, Array], tuple[PyTree, PyTree]]
    readout: Callable[[PyTree, PyTree, Array], Array]


STEP_FORMS = ("project", "recur", "affine", "sequence")  # each computes what ``step`` does


class Cell(ByConstruction):
    """A recurrent cell: ``init``, ``initial_carry`` and ``step`` as pure functions.

    An immutable value (``_replace`` makes a modified copy) and not a pytree: ``jax`` sees a cell
    as one static object, e.g. as a ``static_argnums`` argument of ``jax.jit``.

    Attributes:
      init: ``(key, input_size) -> params``.
      initial_carry: ``(params, batch_shape=()) -> carry``; zeros unless the cell learns it.
      step: ``(params, carry, x) -> (carry, y)`` for ``x`` of shape ``(*batch, input_size)``.
      output_size: size of the last axis of ``y``.
      project: optional ``(params, x) -> u``, the carry-independent part of ``step``; applied
        to whole sequences at once by :func:`rnnjax.unroll`.
      recur: optional ``(params, carry, u) -> (carry, y)`` such that
        ``step(p, c, x) == recur(p, c, project(p, x))``.
      name: a short human-readable description, used in reprs and figure legends.
      sequence: optional ``(params, xs, carry, *, lengths, resets, reset_carry, reverse, unroll,
        remat, return_carries, hoist, method, key) -> (carry, ys)``: how a composition of cells
        (a stack) runs over a whole sequence, layer by layer, computing what ``step`` would;
        :func:`rnnjax.unroll` delegates to it as it does to a :class:`Layer`.
      spec: ``(constructor, arguments)`` set by :func:`cell_constructor`; what equality and
        hashing compare. ``None`` for a cell built by hand (then it equals only a cell made of
        the same functions).
      affine: optional :class:`Affine`, for cells whose recurrence is an elementwise affine map
        with input-only coefficients; enables ``rnnjax.unroll(..., method="associative")``.

    A wrapper forwards every optional capability with :func:`with_params`.
    """

    _fields = ("init", "initial_carry", "step", "output_size", "project", "recur", "name",
               "sequence", "spec", "affine")
    __slots__ = _fields

    def __init__(self, init: Callable[[Array, int], PyTree], initial_carry: Callable[..., PyTree],
                 step: Callable[..., tuple[PyTree, Array]], output_size: int,
                 project: Callable[[PyTree, Array], Array] | None = None,
                 recur: Callable[..., tuple[PyTree, Array]] | None = None, name: str = "cell",
                 sequence: Callable[..., tuple[PyTree, Array]] | None = None,
                 spec: tuple | None = None, affine: Affine | None = None):
        values = (init, initial_carry, step, output_size, project, recur, name, sequence, spec,
                  affine)
        for field, value in zip(self._fields, values, strict=True):
            object.__setattr__(self, field, value)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("Cell is immutable; use _replace")

    __delattr__ = __setattr__

    def _asdict(self) -> dict[str, Any]:
        return {f: getattr(self, f) for f in self._fields}

    def _replace(self, **changes: Any) -> Cell:
        """A copy with some fields replaced (as ``NamedTuple._replace``).

        ``project``, ``recur``, ``affine`` and ``sequence`` are other ways of computing what
        ``step`` computes, so replacing ``step`` drops those not replaced with it: the copy's
        ``unroll`` (hoisted, associative or layer by layer) then runs the new ``step``.
        """
        unknown = set(changes) - set(self._fields)
        if unknown:
            raise TypeError(f"_replace: Cell has no fields {sorted(unknown)}")
        if "step" in changes:
            changes = {**dict.fromkeys(STEP_FORMS), **changes}
        return type(self)(**{**self._asdict(), **changes})

    def __reduce__(self):  # copy and pickle through the constructor (the slots are read-only)
        return (type(self), tuple(getattr(self, f) for f in self._fields))

    def _identity(self) -> tuple:
        if self.spec is None:  # a hand-built cell: the same functions make the same cell
            return (Cell, *(getattr(self, f) for f in self._fields))
        affine = None if self.affine is None else codes(self.affine)
        return (Cell, self.spec, self.output_size, self.name,
                codes(getattr(self, f) for f in _FUNCTIONS), affine)

    def __repr__(self) -> str:  # the default repr prints function addresses
        return f"Cell({self.name}, output_size={self.output_size})"


class Layer(ByConstruction):
    """What runs over a whole sequence and has no exact one-step map: a bidirectional pass, or a
    stack containing one.

    A layer is not a :class:`Cell`: it has ``init``, ``initial_carry``, ``output_size`` and a
    ``name`` like a cell, but no ``step``. :func:`rnnjax.unroll` runs it through ``sequence``;
    functions that need the one-step map (:func:`rnnjax.parallel.newton_unroll`, every
    :mod:`rnnjax.analysis` function) refuse it with a ``TypeError`` (:func:`require_cell`).

    Attributes:
      init: ``(key, input_size) -> params``.
      initial_carry: ``(params, batch_shape=()) -> carry``.
      sequence: ``(params, xs, carry, *, lengths, resets, reset_carry, reverse, unroll, remat,
        return_carries, hoist, method, key, deterministic) -> (carry, ys)``, called by
        :func:`rnnjax.unroll` with ``xs`` batch-first, ``carry`` (and ``reset_carry`` when
        ``resets`` is given) resolved and the other arguments validated; ``key`` only when given,
        ``deterministic`` only when true.
      output_size: size of the last axis of the outputs.
      name: a short description for reprs and legends.
      random: whether the layer draws random masks (dropout) and so needs ``key`` or
        ``deterministic=True``.
      spec: set by :func:`cell_constructor`; what equality and hashing compare (``None``: the
        layer equals only itself).

    Subclasses (:class:`rnnjax.compose.BidirectionalLayer`, :class:`rnnjax.compose.StackLayer`)
    add their structure as attributes. A layer is immutable and not a pytree.
    """

    _FUNCTIONS = ("init", "initial_carry", "sequence")

    def __init__(self, init: Callable, initial_carry: Callable, sequence: Callable,
                 output_size: int, name: str = "layer", *, random: bool = False,
                 spec: tuple | None = None, **structure: Any):
        fields = dict(init=init, initial_carry=initial_carry, sequence=sequence,
                      output_size=int(output_size), name=name, random=bool(random), spec=spec)
        self.__dict__.update(fields, **structure)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable; use _replace")

    __delattr__ = __setattr__

    def _replace(self, **changes: Any) -> Layer:
        """A copy with some attributes replaced (as ``NamedTuple._replace``)."""
        unknown = set(changes) - set(self.__dict__)
        if unknown:
            raise TypeError(f"_replace: {type(self).__name__} has no attributes {sorted(unknown)}")
        new = object.__new__(type(self))
        new.__dict__.update(self.__dict__, **changes)
        return new

    def _identity(self) -> tuple | None:
        if self.spec is None:
            return None  # equal only to itself
        return (type(self), self.spec, self.output_size, self.name,
                codes(getattr(self, f) for f in self._FUNCTIONS))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name}, output_size={self.output_size})"


def require_cell(obj: Any, where: str) -> Cell:
    """``obj`` if it is a :class:`Cell`; a one-line ``TypeError`` naming a :class:`Layer` (and
    what to pass instead) or any other type."""
    if isinstance(obj, Cell):
        return obj
    if isinstance(obj, Layer):
        raise TypeError(f"{where}: {obj.name} is a layer (it runs over whole sequences and has no "
                        "one-step map); pass one of its cells (e.g. layer.forward) or a stack of "
                        "cells, or run the layer with rnnjax.unroll")
    raise TypeError(f"{where}: expected an rnnjax.Cell, got {type(obj).__name__}")


def takes_key(obj: Cell | Layer) -> bool:
    """Whether running ``obj`` draws random masks, i.e. takes a ``key`` (a stack with dropout)."""
    if isinstance(obj, Layer):
        return obj.random
    try:
        return "key" in inspect.signature(obj.step).parameters
    except (TypeError, ValueError):
        return False


# How each function of a Cell or Layer is forwarded through a view of the params. Every field of
# Cell and every function of Layer is either rebuilt by the caller of `with_params` or listed
# here, so a wrapper built with it cannot drop a capability (checked at import; a new field
# fails here until it is given a forwarding rule).
_FORWARD: dict[str, Callable] = {
    "step": lambda f, view: lambda params, carry, x, **kw: f(view(params), carry, x, **kw),
    "project": lambda f, view: lambda params, x: f(view(params), x),
    "recur": lambda f, view: lambda params, carry, u, **kw: f(view(params), carry, u, **kw),
    "sequence": lambda f, view: lambda params, xs, carry, **kw: f(view(params), xs, carry, **kw),
    "affine": lambda a, view: Affine(lambda params, x: a.coefficients(view(params), x),
                                     lambda params, c, x: a.readout(view(params), c, x)),
}
_REBUILT = ("init", "initial_carry", "name", "spec")
_KEPT = ("output_size",)
assert set(_FORWARD) | set(_REBUILT) | set(_KEPT) == set(Cell._fields), \
    "with_params: a Cell field is unhandled"
assert set(Layer._FUNCTIONS) <= set(_FORWARD) | set(_REBUILT), \
    "with_params: a Layer function is unhandled"


def with_params(inner: Cell | Layer, view: Callable[[PyTree], PyTree], *, init: Callable,
                initial_carry: Callable, name: str) -> Cell | Layer:
    """A wrapper of ``inner`` whose params hold ``inner``'s params at ``view(params)``.

    The one generic way to rebuild a cell or layer of the same kind, and the one every wrapper in
    the library uses (:func:`rnnjax.init.learned_initial_carry`): the result is ``inner`` with
    ``init``, ``initial_carry`` and ``name`` replaced (``spec`` cleared for the wrapper's
    constructor to set) and every other function (``step``, ``project``/``recur``,
    ``sequence``, ``affine``) forwarded through ``view``. A layer keeps its class and its
    structure attributes (a wrapped :class:`rnnjax.compose.BidirectionalLayer` is still one, with
    the same ``forward``, ``backward`` and ``merge``), so what reads the structure of a layer
    reads it through the wrapper.
    """
    if isinstance(inner, Layer):
        functions = inner._FUNCTIONS
    else:
        inner = require_cell(inner, "with_params")
        functions = tuple(f for f in Cell._fields if f in _FORWARD)
    forwarded = {f: None if getattr(inner, f) is None else _FORWARD[f](getattr(inner, f), view)
                 for f in functions if f not in _REBUILT}
    return inner._replace(init=init, initial_carry=initial_carry, name=name, spec=None,
                          **forwarded)


def cell_constructor(constructor: Callable[..., Cell]) -> Callable[..., Cell]:
    """Decorate a function returning a :class:`Cell` or :class:`Layer` so equal arguments give
    equal results.

    The returned object's ``spec`` is ``(constructor, ((name, value), ...))`` over all parameters
    of the signature, defaults included, with values normalised
    (:func:`rnnjax._identity.constructor_spec`).
    """
    signature = inspect.signature(constructor)

    @functools.wraps(constructor)
    def build(*args, **kwargs):
        built = constructor(*args, **kwargs)
        return built._replace(spec=constructor_spec(constructor, signature, args, kwargs))

    return build


def zeros_carry(*sizes: int, dtype: Any = None) -> Callable[..., PyTree]:
    """An ``initial_carry`` returning zeros in ``dtype`` (``None``: float32, or float64 under
    x64, read at call time): one array per size (a tuple when several)."""

    def initial_carry(params: PyTree, batch_shape: tuple[int, ...] = ()) -> PyTree:
        del params
        batch_shape = _checks.batch_shape(batch_shape)
        dt = _checks.resolve_float(dtype)
        arrays = tuple(jnp.zeros((*batch_shape, n), dt) for n in sizes)
        return arrays[0] if len(arrays) == 1 else arrays

    return initial_carry


def cast(tree: PyTree, dtype: Any) -> PyTree:
    """Every array leaf of ``tree`` in ``dtype`` (no-op for leaves already in it)."""
    return jax.tree.map(lambda a: a if a.dtype == dtype else a.astype(dtype), tree)


def lead(v: Array, ndim: int) -> Array:
    """Prepend unit axes to ``v`` until it has ``ndim`` axes: explicit broadcasting of a bias
    ``(H,)`` against ``(*batch, H)``, valid under ``jax_numpy_rank_promotion="raise"``."""
    return v.reshape((1,) * (ndim - v.ndim) + v.shape)


def check_input(x: Array, input_size: int, where: str) -> None:
    """Raise a clear error unless ``x`` has shape ``(*batch, input_size)``."""
    if x.ndim < 1 or x.shape[-1] != input_size:
        raise ValueError(
            f"{where}: expected input of shape (*batch, {input_size}), got shape {tuple(x.shape)}"
        )
