"""Checks and rules shared by the Hopfield modules (discrete, dense, modern, layers).

One set of input checks, each raising one line that names what was expected:

- arrays hold real numbers (bool, int or float; not complex, strings or objects):
  :func:`real_array`;
- stored patterns are ``(N, d)`` with at least one pattern: :func:`stored_patterns`;
- the inverse temperature ``β > 0``, ``β = inf`` being the hard-max limit: :func:`check_beta`;
- counts of steps or sweeps are ints (``2.7`` is refused, not truncated): :func:`count`;
- a probability mass lies in ``(0, 1]``: :func:`check_mass`.

Values are checked when they are concrete; under ``jit`` only dtypes and shapes are.

:func:`beta_softmax` is ``softmax(β z)`` for every module: uniform over the maximisers of ``z``
where ``β = inf``, and computed in float32 at least, so that float16 and bfloat16 inputs with a
large ``β`` (``β z`` beyond 65504 in float16) give the probabilities rather than NaN; the result
is cast back to the input's dtype.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from rnnjax._checks import nonnegative_int, positive_int

Array = jax.Array


def real_array(x, name: str) -> Array:
    """``x`` as a JAX array of real numbers (bool, int or float), else one-line ``TypeError``."""
    dtype = getattr(x, "dtype", None)
    if dtype is None:
        try:
            dtype = np.asarray(x).dtype
        except (TypeError, ValueError):
            dtype = np.dtype(object)
    if not (jnp.issubdtype(dtype, jnp.floating) or jnp.issubdtype(dtype, jnp.integer)
            or jnp.issubdtype(dtype, jnp.bool_)):
        raise TypeError(f"{name} must be an array of real numbers (float, int or bool), "
                        f"got dtype {dtype}")
    return jnp.asarray(x)


def stored_patterns(x, name: str = "stored", shape: str = "(N, d)") -> Array:
    """A ``(N, d)`` array of real numbers with ``N >= 1`` (one pattern per row)."""
    x = real_array(x, name)
    if x.ndim != 2:
        raise ValueError(f"{name} must have shape {shape} (one pattern per row), got {x.shape}")
    if x.shape[0] < 1:
        raise ValueError(f"{name} must hold at least one pattern (shape {shape} with "
                         f"{shape[1]} >= 1), got {x.shape}")
    return x


def check_beta(beta) -> Array:
    """``β > 0`` (``inf``: the hard-max limit), checked when concrete; returned as an array."""
    if isinstance(beta, str):
        raise TypeError(f"beta must be a real number > 0 or an array of them, got {beta!r}")
    try:
        beta = real_array(beta, "beta")
    except TypeError:
        raise TypeError(f"beta must be a real number > 0 or an array of them, got "
                        f"{getattr(beta, 'dtype', type(beta).__name__)}") from None
    if _is_concrete(beta) and not np.all(np.asarray(beta) > 0):
        raise ValueError(f"beta must be > 0 (inf is the hard-max limit), got {beta}")
    return beta


def count(value, name: str, minimum: int) -> int:
    """A number of steps or sweeps: an int ``>= minimum`` (0 or 1), returned as a Python int."""
    return (nonnegative_int if minimum == 0 else positive_int)(value, name)


def check_mass(mass) -> float:
    """A probability mass in ``(0, 1]``."""
    try:
        value = float(mass)
    except (TypeError, ValueError):
        raise TypeError(f"mass must be a number in (0, 1], got {mass!r}") from None
    if not 0.0 < value <= 1.0:
        raise ValueError(f"mass must be in (0, 1], got {mass!r}")
    return value


def compute_dtype(dtype) -> jnp.dtype:
    """The dtype a softmax runs in: ``dtype`` promoted to at least float32."""
    return jnp.promote_types(dtype, jnp.float32)


def beta_softmax(z: Array, beta, *, where: Array | None = None) -> Array:
    """``softmax(β z)`` over the last axis (``β`` broadcasts against ``z``), in ``z``'s dtype.

    Where ``β = inf``: uniform over the maximisers of ``z`` (split equally on exact ties).
    ``where`` (boolean, broadcasting against ``z``): entries that may get weight; the others get 0.
    Computed in :func:`compute_dtype` and cast back.
    """
    dtype = z.dtype if jnp.issubdtype(z.dtype, jnp.floating) else jnp.result_type(float)
    z = z.astype(compute_dtype(dtype))
    if where is not None:
        z = jnp.where(where, z, -jnp.inf)
    known = _is_concrete(beta)
    if known and np.all(np.isfinite(np.asarray(beta))):      # the usual case: no hard max
        return jax.nn.softmax(beta * z, axis=-1).astype(dtype)
    hard = beta == jnp.inf
    top = (z == jnp.max(z, axis=-1, keepdims=True)).astype(z.dtype)
    top = top / jnp.sum(top, axis=-1, keepdims=True)
    if known and np.all(np.isinf(np.asarray(beta))):
        return top.astype(dtype)
    soft = jax.nn.softmax(jnp.where(hard, 1.0, beta) * z, axis=-1)
    return jnp.where(hard, top, soft).astype(dtype)


def _is_concrete(x) -> bool:
    return not isinstance(x, jax.core.Tracer)


def _check_values(x, binary: bool, what: str) -> None:
    values = real_array(x, what)
    if not _is_concrete(values):
        return
    allowed = (0, 1) if binary else (-1, 1)
    ok = bool(jnp.all((values == allowed[0]) | (values == allowed[1])))
    if not ok:
        kind = "binary 0/1" if binary else "bipolar ±1"
        hint = "" if binary else " (for 0/1 patterns pass binary=True)"
        bad = jnp.unique(values[(values != allowed[0]) & (values != allowed[1])])[:5]
        raise ValueError(
            f"{what} must be {kind} with values {allowed}{hint}; found values {bad.tolist()}"
        )


def _check_weights(weights) -> Array:
    weights = real_array(weights, "weights")
    if weights.ndim != 2 or weights.shape[0] != weights.shape[1]:
        raise ValueError(f"weights must be a square (N, N) matrix, got shape {weights.shape}")
    return weights


def _check_state(state, n: int, binary: bool, what: str = "state") -> Array:
    state = real_array(state, what)
    if state.shape != (n,):
        raise ValueError(
            f"{what} must have shape ({n},) to match the weights (batch with jax.vmap), "
            f"got shape {state.shape}"
        )
    _check_values(state, binary, what)
    return state


def _vector(value, n: int, name: str, dtype) -> Array:
    """A scalar or (N,) argument broadcast explicitly to (N,)."""
    value = real_array(value, name).astype(dtype)
    if value.ndim == 0:
        return jnp.full((n,), value, dtype)
    if value.shape != (n,):
        raise ValueError(f"{name} must be a scalar or have shape ({n},), got shape {value.shape}")
    return value


def _levels(binary: bool) -> tuple[float, float]:
    return (0.0, 1.0) if binary else (-1.0, 1.0)


def _threshold_update(h: Array, theta: Array, y: Array, lo: float, hi: float) -> Array:
    """The lecture's Step 5: ``hi`` above the threshold, ``lo`` below, unchanged at it."""
    return jnp.where(h > theta, hi, jnp.where(h < theta, lo, y)).astype(y.dtype)
