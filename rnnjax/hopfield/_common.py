"""Checks and the threshold rule shared by the classical Hopfield modules."""

from __future__ import annotations

import jax
import jax.numpy as jnp

Array = jax.Array


def _is_concrete(x) -> bool:
    return not isinstance(x, jax.core.Tracer)


def _check_values(x, binary: bool, what: str) -> None:
    if not _is_concrete(x):
        return
    allowed = (0, 1) if binary else (-1, 1)
    values = jnp.asarray(x)
    ok = bool(jnp.all((values == allowed[0]) | (values == allowed[1])))
    if not ok:
        kind = "binary 0/1" if binary else "bipolar ±1"
        hint = "" if binary else " (for 0/1 patterns pass binary=True)"
        bad = jnp.unique(values[(values != allowed[0]) & (values != allowed[1])])[:5]
        raise ValueError(
            f"{what} must be {kind} with values {allowed}{hint}; found values {bad.tolist()}"
        )


def _check_weights(weights) -> Array:
    weights = jnp.asarray(weights)
    if weights.ndim != 2 or weights.shape[0] != weights.shape[1]:
        raise ValueError(f"weights must be a square (N, N) matrix, got shape {weights.shape}")
    return weights


def _check_state(state, n: int, binary: bool, what: str = "state") -> Array:
    state = jnp.asarray(state)
    if state.shape != (n,):
        raise ValueError(
            f"{what} must have shape ({n},) to match the weights (batch with jax.vmap), "
            f"got shape {state.shape}"
        )
    _check_values(state, binary, what)
    return state


def _vector(value, n: int, name: str, dtype) -> Array:
    """A scalar or (N,) argument broadcast explicitly to (N,)."""
    value = jnp.asarray(value, dtype)
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
