"""Config validation: each check raises ``ValueError`` naming the field and what was expected.

Call them from a config dataclass's ``__post_init__``; the command line turns the error into one
line on stderr and exit status 2, before anything is written.
"""

from __future__ import annotations

import functools
import math
import types
import typing
from collections.abc import Iterable, Sequence
from typing import Any

from rnnjax._checks import is_int, nonnegative_int, positive_int

MAX_SEED = 2**32 - 1


def require_positive(config: Any, *names: str, allow_zero: bool = False) -> None:
    """Each named field is a finite number > 0 (>= 0 with ``allow_zero``); tuples: every item.

    A field annotated as an int (``int``, ``int | None``, ``tuple[int, ...]``) must hold integers
    (Python or NumPy, not ``bool``), checked by the library's one size check
    (:func:`rnnjax._checks.positive_int`, or ``nonnegative_int`` with ``allow_zero``).
    """
    ints = _int_fields(type(config))
    for name in names:
        value = getattr(config, name)
        for v in value if isinstance(value, tuple) else (value,):
            if v is None:
                continue
            if name in ints:
                (nonnegative_int if allow_zero else positive_int)(v, name)
                continue
            ok = isinstance(v, (int, float)) and math.isfinite(v) and (v >= 0 if allow_zero else v > 0)
            if not ok:
                raise ValueError(f"{name} must be a finite number {'>= 0' if allow_zero else '> 0'}, "
                                 f"got {value!r}")


@functools.cache
def _int_fields(cls: type) -> frozenset[str]:
    """The fields of a config class annotated with integers only (``None`` and ``...`` aside)."""
    hints = typing.get_type_hints(cls)  # Annotated[int, ...] reads as int

    def leaves(hint) -> list:
        if typing.get_origin(hint) in (tuple, typing.Union, types.UnionType):
            return [leaf for arg in typing.get_args(hint) for leaf in leaves(arg)]
        return [] if hint in (type(None), Ellipsis) else [hint]

    return frozenset(name for name, hint in hints.items()
                     if leaves(hint) and all(leaf is int for leaf in leaves(hint)))


def require_finite(config: Any, *names: str) -> None:
    """Each named float field (or every item of a tuple field) is finite: no nan, no inf."""
    for name in names:
        value = getattr(config, name)
        for v in value if isinstance(value, tuple) else (value,):
            if v is not None and not math.isfinite(v):
                raise ValueError(f"{name} must be finite, got {value!r}")


def require_unit_interval(config: Any, *names: str) -> None:
    """Each named field (or tuple item) lies in [0, 1]."""
    for name in names:
        value = getattr(config, name)
        for v in value if isinstance(value, tuple) else (value,):
            if not (isinstance(v, (int, float)) and 0 <= v <= 1):
                raise ValueError(f"{name} must lie in [0, 1], got {value!r}")


def require_subset(name: str, values: Sequence[str], allowed: Iterable[str], *,
                   allow_empty: bool = False) -> None:
    """``values`` is a subset of ``allowed``, non-empty unless ``allow_empty``."""
    allowed = tuple(allowed)
    unknown = [v for v in values if v not in allowed]
    if unknown or not (values or allow_empty):
        raise ValueError(f"{name} must be a {'' if allow_empty else 'non-empty '}subset of "
                         f"{','.join(allowed)}, got {','.join(values) or 'nothing'}")


def require_choice(name: str, value: Any, allowed: Iterable[Any]) -> None:
    """``value`` is one of ``allowed``."""
    allowed = tuple(allowed)
    if value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(map(str, allowed))}, got {value!r}")


def check_common(config: Any) -> None:
    """The fields every study has: ``seed`` in [0, 2**32) and ``steps`` None or >= 1."""
    seed = config.seed
    if not is_int(seed) or not 0 <= seed <= MAX_SEED:
        raise ValueError(f"seed must be an integer in [0, {MAX_SEED}], got {seed!r}")
    steps = config.steps
    if steps is not None and (not is_int(steps) or steps < 1):
        raise ValueError(f"steps must be a positive integer (or None: each part's own), got {steps!r}")
