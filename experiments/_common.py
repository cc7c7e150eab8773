"""What every experiment shares: its command line, atomic result files, and the results index.

An experiment module defines a frozen dataclass ``Config`` (its docstring says what the study
reproduces, the command, and the expected result), a dict ``QUICK`` of overrides for the
``--quick`` preset, ``run(config, workdir)`` that computes and saves results, and
``plot(workdir)`` that draws figures from the saved results only (it never retrains). Then::

    def main(argv=None):
        return cli(__doc__, Config, QUICK, run, plot, argv, default_workdir="results/<name>")

Every Config field becomes a flag (``hidden_size`` -> ``--hidden-size``; tuples are
comma-separated). ``--quick``, ``--seed``, ``--steps``, ``--workdir`` and ``--plot-only`` are
common to all. Bad input exits with status 2 and one line on stderr, no traceback.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import tempfile
import time
import typing
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import jax


class UserError(Exception):
    """Bad input from the person running the experiment: reported in one line, exit status 2."""


# ----------------------------------------------------------------------------- atomic writes


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` via a temporary file and ``os.replace``: never half-written."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_text(path: str | os.PathLike, text: str) -> Path:
    return atomic_write_bytes(path, text.encode())


def write_json(path: str | os.PathLike, obj: Any) -> Path:
    return write_text(path, json.dumps(obj, indent=2, sort_keys=False, default=_json_default) + "\n")


def read_json(path: str | os.PathLike) -> Any:
    path = Path(path)
    if not path.exists():
        raise UserError(f"{path} does not exist: run the experiment first (without --plot-only)")
    return json.loads(path.read_text())


def _json_default(o: Any) -> Any:
    if hasattr(o, "tolist"):  # numpy / jax arrays and scalars
        return o.tolist()
    if dataclasses.is_dataclass(o):
        return dataclasses.asdict(o)
    if isinstance(o, (set, frozenset)):
        return sorted(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def cached_part(path: str | os.PathLike, settings: dict[str, Any], compute: Callable[[], dict],
                *, compact: bool = False) -> dict[str, Any]:
    """One resumable part of an experiment: its JSON result at ``path``, reused when this
    workdir's run state says it was computed with the same ``settings``, else ``compute()`` run
    and saved with them.

    So an interrupted multi-part experiment, rerun with the same command, restarts at its first
    unfinished part. The run state is a marker in ``<workdir>/checkpoints/`` (git-ignored, like
    the training checkpoints), so a fresh clone recomputes the committed results instead of
    trusting them. The saved dict is ``{"settings": ..., **compute(), "seconds": ...}``;
    ``compact`` writes it without indentation (large tables).
    """
    path = Path(path)
    settings = json.loads(json.dumps(settings, default=_json_default))  # tuples -> lists
    marker = path.parent / "checkpoints" / f"{path.stem}.settings.json"
    if path.exists() and marker.exists() and read_json(marker) == settings:
        saved = read_json(path)
        if saved.get("settings") == settings:
            print(f"-- {path.stem}: reusing {path}", flush=True)
            return saved
    print(f"-- {path.stem} ...", flush=True)
    t0 = time.perf_counter()
    result = {"settings": settings, **compute()}
    result["seconds"] = round(time.perf_counter() - t0, 1)
    if compact:
        write_text(path, json.dumps(result, separators=(",", ":"), default=_json_default) + "\n")
    else:
        write_json(path, result)
    marker.parent.mkdir(parents=True, exist_ok=True)
    write_json(marker, settings)
    print(f"-- {path.stem}: {result['seconds']:.0f} s", flush=True)
    return result


def save_figure(fig, path: str | os.PathLike, *, dpi: int = 150) -> Path:
    """Save a matplotlib figure atomically (PNG) and close it."""
    import io

    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format=Path(path).suffix.lstrip(".") or "png", dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    return atomic_write_bytes(path, buf.getvalue())


def write_index(workdir: str | os.PathLike, *, title: str, headline: str,
                figures: Sequence[tuple[str, str]], tables: Sequence[str] = ()) -> Path:
    """Record what this experiment produced, for ``results/README.md``.

    Args:
      title: the study's name as a reader would say it.
      headline: one line with the number that matters (measured, with its comparison).
      figures: ``(file name inside workdir, one-line caption)`` pairs.
      tables: file names of JSON/CSV tables inside workdir.
    """
    return write_json(Path(workdir) / "index.json", {
        "title": title, "headline": headline,
        "figures": [{"file": f, "caption": c} for f, c in figures], "tables": list(tables),
    })


# ----------------------------------------------------------------------------- command line


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _parse_value(raw: str, typ: Any, name: str) -> Any:
    origin = typing.get_origin(typ)
    if origin is tuple:
        args = [a for a in typing.get_args(typ) if a is not Ellipsis]
        item = args[0] if args else str
        parts = [p for p in raw.split(",") if p.strip()]
        return tuple(_parse_value(p.strip(), item, name) for p in parts)
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        args = [a for a in typing.get_args(typ) if a is not type(None)]
        if raw.lower() in ("none", "null"):
            return None
        return _parse_value(raw, args[0], name)
    if typ is bool:
        if raw.lower() in ("1", "true", "yes", "on"):
            return True
        if raw.lower() in ("0", "false", "no", "off"):
            return False
        raise UserError(f"{_flag(name)} expects true or false, got {raw!r}")
    if typ in (int, float, str):
        try:
            return typ(raw)
        except ValueError:
            raise UserError(f"{_flag(name)} expects {typ.__name__}, got {raw!r}") from None
    return raw


def build_config(config_cls: type, quick: dict[str, Any], argv: Sequence[str] | None,
                 description: str | None, default_workdir: str):
    """Parse ``argv`` into ``(config, workdir, plot_only)``; raise :class:`UserError` on bad input."""
    hints = typing.get_type_hints(config_cls)
    fields = {f.name: f for f in dataclasses.fields(config_cls)}
    parser = _Parser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="the small preset (minutes on 2 CPU cores)")
    parser.add_argument("--workdir", default=default_workdir,
                        help=f"where results, metrics and checkpoints go (default {default_workdir})")
    parser.add_argument("--plot-only", action="store_true",
                        help="redraw the figures from saved results; never retrains")
    for name, f in fields.items():
        default = f.default if f.default is not dataclasses.MISSING else None
        parser.add_argument(_flag(name), dest=name, default=None, metavar="VALUE",
                            help=f"(default {default!r}; {hints[name]!s})".replace("%", "%%"))
    args = parser.parse_args(argv)
    values = dict(quick) if args.quick else {}
    for name in fields:
        raw = getattr(args, name)
        if raw is not None:
            values[name] = _parse_value(raw, hints[name], name)
    try:
        config = config_cls(**values)
    except (TypeError, ValueError) as e:
        raise UserError(str(e)) from None
    return config, Path(args.workdir), args.plot_only


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, not usage + message
        raise UserError(f"{message} (see --help)")


def positive(name: str, value: float, *, allow_zero: bool = False) -> None:
    """Config validation helper: raise ``ValueError`` naming the field unless value > 0 (>= 0)."""
    ok = value >= 0 if allow_zero else value > 0
    if not ok:
        raise ValueError(f"{name} must be {'>= 0' if allow_zero else '> 0'}, got {value!r}")


def require_positive(config: Any, *names: str, allow_zero: bool = False) -> None:
    """:func:`positive` for several fields of a config, by name."""
    for name in names:
        positive(name, getattr(config, name), allow_zero=allow_zero)


def require_subset(name: str, values: Sequence[str], allowed: Sequence[str]) -> None:
    """Raise ``ValueError`` unless ``values`` is a non-empty subset of ``allowed``."""
    unknown = [v for v in values if v not in allowed]
    if unknown or not values:
        raise ValueError(f"{name} must be a non-empty subset of {','.join(allowed)}, "
                         f"got {','.join(values) or 'nothing'}")


def require_choice(name: str, value: str, allowed: Sequence[str]) -> None:
    """Raise ``ValueError`` unless ``value`` is one of ``allowed``."""
    if value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(map(str, allowed))}, got {value!r}")


def cli(doc: str | None, config_cls: type, quick: dict[str, Any],
        run: Callable[[Any, Path], Any], plot: Callable[[Path], Any],
        argv: Sequence[str] | None = None, *, default_workdir: str) -> int:
    """The standard experiment entry point: parse, run (unless --plot-only), plot.

    Experiments run with ``jax_numpy_rank_promotion="raise"`` (as the tests do), so a silent
    broadcast of mismatched ranks is an error rather than a wrong result.
    """
    jax.config.update("jax_numpy_rank_promotion", "raise")
    try:
        config, workdir, plot_only = build_config(config_cls, quick, argv, doc, default_workdir)
        if not plot_only:
            workdir.mkdir(parents=True, exist_ok=True)
            write_json(workdir / "config.json", dataclasses.asdict(config))
            run(config, workdir)
        plot(workdir)
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: rerun the same command to resume from the last checkpoint",
              file=sys.stderr)
        return 130
    return 0
