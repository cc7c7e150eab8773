"""Optimisers with gradient clipping and non-finite skipping, all through optax.

::

    opt = rnnjax.train.optimizer("adam", 1e-3, clip_norm=1.0)            # global-norm clipping
    opt = rnnjax.train.optimizer("sgd", 0.1, clip_value=0.5)             # elementwise clipping
    opt = rnnjax.train.optimizer("adam", 1e-3, skip_nonfinite=True)      # optax.apply_if_finite

Clipping by global norm rescales the whole gradient ``g <- g * min(1, c / ||g||_2)`` (Pascanu
et al. 2013; ``optax.clip_by_global_norm``); elementwise clipping is ``g_i <- clip(g_i, -c, c)``
(``optax.clip``). Either runs before the optimiser.
"""

from __future__ import annotations

from collections.abc import Callable

import optax

_OPTIMIZERS: dict[str, Callable[..., optax.GradientTransformation]] = {
    "adam": optax.adam,
    "adamw": optax.adamw,
    "sgd": optax.sgd,
    "rmsprop": optax.rmsprop,
}

# Non-finite updates are skipped forever, never eventually applied (optax's default would apply
# the update after this many consecutive failures; we want NaN parameters never to be written).
_NEVER = 2**31 - 1


def optimizer(
    name: str = "adam",
    learning_rate: float | optax.Schedule = 1e-3,
    *,
    clip_norm: float | None = None,
    clip_value: float | None = None,
    skip_nonfinite: bool = False,
    **kwargs,
) -> optax.GradientTransformation:
    """Build ``clip -> optimiser`` (optionally wrapped in ``optax.apply_if_finite``).

    Args:
      name: one of ``adam``, ``adamw``, ``sgd``, ``rmsprop``.
      learning_rate: a float or an optax schedule.
      clip_norm: clip the gradient's global L2 norm to this value (None: no clipping).
      clip_value: clip every gradient element to ``[-clip_value, clip_value]`` (None: none).
      skip_nonfinite: wrap in ``optax.apply_if_finite``: an update whose gradients contain
        NaN/Inf is replaced by zeros and the optimiser state is left unchanged.
      **kwargs: passed to the optax optimiser (e.g. ``b1``, ``momentum``, ``weight_decay``).
    """
    if name not in _OPTIMIZERS:
        raise ValueError(f"optimizer name must be one of {sorted(_OPTIMIZERS)}, got {name!r}")
    if not callable(learning_rate) and not learning_rate > 0:
        raise ValueError(f"learning_rate must be > 0, got {learning_rate!r}")
    parts = []
    if clip_value is not None:
        if not clip_value > 0:
            raise ValueError(f"clip_value must be > 0, got {clip_value!r}")
        parts.append(optax.clip(clip_value))
    if clip_norm is not None:
        if not clip_norm > 0:
            raise ValueError(f"clip_norm must be > 0, got {clip_norm!r}")
        parts.append(optax.clip_by_global_norm(clip_norm))
    parts.append(_OPTIMIZERS[name](learning_rate, **kwargs))
    tx = optax.chain(*parts) if len(parts) > 1 else parts[0]
    if skip_nonfinite:
        tx = optax.apply_if_finite(tx, max_consecutive_errors=_NEVER)
    return tx
