"""Argument checks shared by the library: one place for "a positive int", "a batch shape", ….

Each check returns the normalised value (a Python ``int``, a tuple, a NumPy dtype) or raises a
one-line ``TypeError``/``ValueError`` naming what was expected. NumPy integer scalars
(``np.int64(8)``) are accepted wherever a Python ``int`` is; ``bool`` is not an int here.
"""

from __future__ import annotations

import numbers
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np


def is_int(value: Any) -> bool:
    """True for Python and NumPy integers, False for ``bool`` (and ``np.bool_``)."""
    return isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))


def positive_int(value: Any, name: str) -> int:
    """``value`` as a Python int, or a ``ValueError`` unless it is an integer ``>= 1``."""
    if not is_int(value) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return int(value)


def nonnegative_int(value: Any, name: str) -> int:
    """``value`` as a Python int, or a ``ValueError`` unless it is an integer ``>= 0``."""
    if not is_int(value) or value < 0:
        raise ValueError(f"{name} must be a non-negative int, got {value!r}")
    return int(value)


def batch_shape(value: Any) -> tuple[int, ...]:
    """A batch shape as a tuple of non-negative ints; a single int ``n`` means ``(n,)``."""
    if is_int(value):
        value = (value,)
    try:
        shape = tuple(value)
    except TypeError:
        raise TypeError(f"batch_shape must be a tuple of ints, e.g. () or (32,), got {value!r}") from None
    if not all(is_int(b) for b in shape):
        raise TypeError(f"batch_shape must be a tuple of ints, e.g. () or (32,), got {value!r}")
    if any(b < 0 for b in shape):
        raise ValueError(f"batch_shape must be non-negative, got {shape}")
    return tuple(int(b) for b in shape)


def float_dtype(value: Any, name: str) -> np.dtype | None:
    """``None`` (the default float type at call time) or a floating dtype, canonicalised."""
    if value is None:
        return None
    try:
        dtype = jnp.dtype(value)
    except TypeError:
        raise TypeError(f"{name} must be a floating dtype such as jnp.float32, got {value!r}") from None
    if not jnp.issubdtype(dtype, jnp.floating):
        raise TypeError(f"{name} must be a floating dtype such as jnp.float32, got {dtype}")
    return dtype


def resolve_float(dtype: np.dtype | None) -> np.dtype:
    """The dtype to compute or store in: ``dtype``, or float32 (float64 when x64 is on)."""
    if dtype is None:
        return jnp.dtype(jnp.result_type(float))
    return jnp.dtype(jax.dtypes.canonicalize_dtype(dtype))
