"""Orbax checkpoints of a train state in a run's workdir, verified by checksums.

::

    ckpt = Checkpointer(workdir / "checkpoints", keep=3, config={"hidden_size": 64})
    found = ckpt.restore_newest(like=state)      # Restored(state, step, damaged) or None
    ckpt.save(int(state.step), state)
    ckpt.close()

A thin layer over ``orbax.checkpoint.CheckpointManager``: each checkpoint ``<step>/`` holds the
state (``StandardSave``), a small JSON ``meta`` item with the run's ``config`` (and, when the
saver passes one, the digest of the metrics history it was saved after), and
``sha256.json``, the SHA-256 of every file Orbax wrote, added once the save is complete. Orbax
writes a checkpoint into a temporary directory renamed when complete, so a process killed while
saving leaves the earlier checkpoints intact; one killed between the rename and the checksums
leaves a checkpoint that counts as damaged.

Restoring first checks the files against their checksums, so that flipped bytes, a truncated or
a missing file are caught before Orbax reads them (:class:`CheckpointDamaged`), then that the
stored config (:class:`ConfigMismatch`) and tree (structure, shapes, dtypes;
:class:`CheckpointError`) match the current run. :meth:`Checkpointer.restore_newest` falls back
from damaged checkpoints to the newest intact one. Nothing is ever read through Orbax from a
checkpoint that failed its checksums, and Orbax's own log lines are kept quiet while reading.

A config is stored as JSON; a value JSON has no form for is stored as its text, which must
identify it: a function, or an object whose text is its memory address (``<... at 0x7f...>``),
raises :class:`UnstorableConfig` (no later run could match it); a set is stored sorted. Configs
are compared by their JSON text (so a NaN matches itself).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import jax
import numpy as np
import orbax.checkpoint as ocp

from rnnjax.train.errors import (
    CheckpointDamaged,
    CheckpointError,
    ConfigMismatch,
    UnstorableConfig,
    one_line,
)
from rnnjax.train.files import atomic_write

PyTree = Any
CHECKSUMS = "sha256.json"


_ADDRESS = re.compile(r"\bat 0x[0-9a-fA-F]+")


def storable_config(config: Any) -> Any:
    """``config`` as it is stored (JSON types), or :class:`UnstorableConfig` naming the value
    whose text would not identify it."""
    if config is None:
        return None
    plain = _storable(config, "config")
    try:
        return json.loads(json.dumps(plain, default=str))
    except (TypeError, ValueError) as e:  # a tuple key
        raise UnstorableConfig(f"config cannot be stored as JSON ({one_line(e)}): use str keys "
                               "and plain values") from None


def _storable(x: Any, where: str, depth: int = 0) -> Any:
    if depth > 100:
        raise UnstorableConfig("config is nested more than 100 levels deep (a cycle?): store a "
                               "plain tree of values")
    depth += 1
    if isinstance(x, dict):
        return {k: _storable(v, f"{where}[{k!r}]", depth) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_storable(v, f"{where}[{i}]", depth) for i, v in enumerate(x)]
    if isinstance(x, (set, frozenset)):  # its text's order depends on the process's hash seed
        return sorted((_storable(v, where, depth) for v in x), key=repr)
    if x is None or isinstance(x, (str, int, float, bool)):
        return x
    text = str(x)
    if _ADDRESS.search(text):
        raise UnstorableConfig(
            f"{where} is {text[:80]}, which cannot be stored faithfully (its text does not "
            "identify it, so no later run could resume this one): store a name or the numbers "
            "instead")
    return x


_normalise = storable_config


def same_config(a: Any, b: Any) -> bool:
    """Whether two stored configs are the same (by JSON text: NaN matches NaN)."""
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


def _path_str(path: tuple) -> str:
    """``state.opt_state[1].mu`` style key paths as Orbax names them: ``opt_state.1.mu``."""
    parts = []
    for k in path:
        for attr in ("key", "idx", "name"):
            if hasattr(k, attr):
                parts.append(str(getattr(k, attr)))
                break
        else:
            parts.append(str(k))
    return ".".join(parts)


def _describe(tree: PyTree) -> dict[str, tuple[tuple[int, ...], str]]:
    out = {}
    for path, leaf in jax.tree_util.tree_flatten_with_path(tree)[0]:
        out[_path_str(path)] = (tuple(np.shape(leaf)), str(np.dtype(leaf.dtype)))
    return out


class Restored(NamedTuple):
    """What :meth:`Checkpointer.restore_newest` found."""

    state: PyTree
    step: int
    damaged: dict[int, str]  # newer checkpoints skipped: step -> what is wrong with it


class Checkpointer:
    """Save every call to :meth:`save`, keep the last ``keep``, restore with checks.

    Creating one reads and writes nothing; the folder is created by the first :meth:`save`.
    """

    def __init__(self, directory: str | os.PathLike, *, keep: int = 3, config: Any = None):
        if keep < 1:
            raise ValueError(f"keep must be >= 1, got {keep}")
        self.directory = Path(directory).absolute()
        self.config = _normalise(config)
        self.keep = keep
        self._mgr: ocp.CheckpointManager | None = None
        self._metas: dict[int, dict] = {}

    @property
    def _manager(self) -> ocp.CheckpointManager:
        if self._mgr is None:
            options = ocp.CheckpointManagerOptions(
                max_to_keep=self.keep,
                create=True,
                # Synchronous: the step that follows donates the state's buffers, and a finished
                # save() means the checkpoint is on disk (what the resume guarantee needs).
                enable_async_checkpointing=False,
            )
            with _quiet_orbax():
                self._mgr = ocp.CheckpointManager(
                    self.directory,
                    options=options,
                    item_handlers={
                        "state": ocp.StandardCheckpointHandler(),
                        "meta": ocp.JsonCheckpointHandler(),
                    },
                )
        return self._mgr

    def all_steps(self) -> list[int]:
        """The steps of the complete checkpoints on disk (intact or not), ascending."""
        if not self.directory.is_dir():
            return []
        return sorted(int(p.name) for p in self.directory.iterdir() if p.name.isdigit() and p.is_dir())

    def latest_step(self) -> int | None:
        steps = self.all_steps()
        return steps[-1] if steps else None

    def save(self, step: int, state: PyTree, *, force: bool = True,
             history: dict | None = None) -> None:
        """Write ``state`` as checkpoint ``step`` with its checksums (no-op if already saved).

        ``history``: the digest of the metrics logged up to ``step``
        (:meth:`rnnjax.train.MetricsWriter.digest`), stored in the meta item.
        """
        if step in self.all_steps():
            return
        meta = {"step": int(step), "config": self.config}
        if history is not None:
            meta["history"] = history
        with _quiet_orbax():
            self._manager.save(
                int(step),
                args=ocp.args.Composite(state=ocp.args.StandardSave(state), meta=ocp.args.JsonSave(meta)),
                force=force,
            )
            self._manager.wait_until_finished()
        where = self.directory / str(step)
        atomic_write(where / CHECKSUMS, json.dumps({"sha256": _digests(where)}, indent=0))

    def verify(self, step: int) -> str | None:
        """What is wrong with the files of checkpoint ``step``, or None if they are intact."""
        where = self.directory / str(step)
        try:
            want = json.loads((where / CHECKSUMS).read_text())["sha256"]
        except FileNotFoundError:
            return f"no {CHECKSUMS}: saving was interrupted or it predates checksums"
        except (OSError, ValueError, KeyError, TypeError):
            return f"{CHECKSUMS} is unreadable"
        try:
            got = _digests(where)
        except OSError as e:
            return f"cannot read its files ({one_line(e)})"
        for name, digest in sorted(want.items()):
            if name not in got:
                return f"{name} is missing"
            if got[name] != digest:
                return f"{name} does not match its checksum"
        return None

    def restore(self, step: int, *, like: PyTree) -> PyTree:
        """Checkpoint ``step`` restored into the structure, shapes and dtypes of ``like``."""
        where = self.directory / str(step)
        problem = self.verify(step)
        if problem:
            raise _damaged(where, problem)
        meta = self._read_meta(step)
        stored_config = meta.get("config")
        if self.config is not None and not same_config(stored_config, self.config):
            diff = _config_diff(stored_config, self.config)
            raise ConfigMismatch(
                f"checkpoint {where} was written by a run with a different config ({diff}); "
                "use a new workdir, or overwrite=True to discard it"
            )
        try:
            with _quiet_orbax():
                stored = self._manager.item_metadata(step)["state"]
            stored_desc = {
                k: (tuple(v.shape), str(np.dtype(v.dtype)))
                for k, v in _flatten_metadata(stored).items()
            }
        except Exception:  # noqa: BLE001 - metadata is a convenience; restore below still checks
            stored_desc = None
        want = _describe(like)
        if stored_desc is not None and stored_desc != want:
            missing = sorted(set(want) - set(stored_desc))
            extra = sorted(set(stored_desc) - set(want))
            changed = [k for k in want if k in stored_desc and stored_desc[k] != want[k]]
            detail = (
                f"missing {missing[:3]}" if missing else f"unexpected {extra[:3]}" if extra
                else f"{changed[0]} is {stored_desc[changed[0]]} in the checkpoint, "
                f"{want[changed[0]]} in this run"
            )
            raise CheckpointError(
                f"checkpoint {where} does not match this run's train state ({detail}); "
                "use a new workdir, or overwrite=True to discard it"
            )
        abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, like)
        try:
            with _quiet_orbax():
                restored = self._manager.restore(
                    step, args=ocp.args.Composite(state=ocp.args.StandardRestore(abstract))
                )["state"]
        except Exception as e:  # noqa: BLE001
            raise _damaged(where, f"cannot be read: {one_line(e)}") from None
        return jax.tree.unflatten(jax.tree.structure(like), jax.tree.leaves(restored))

    def meta(self, step: int) -> dict:
        """The meta item of checkpoint ``step``: ``{"step", "config"}`` and, if it was saved
        with one, ``"history"`` (raises :class:`CheckpointDamaged` like :meth:`restore`)."""
        if step not in self._metas:
            problem = self.verify(step)
            if problem:
                raise _damaged(self.directory / str(step), problem)
        return self._read_meta(step)

    def _read_meta(self, step: int) -> dict:
        if step not in self._metas:
            try:
                with _quiet_orbax():
                    meta = self._manager.restore(
                        step, args=ocp.args.Composite(meta=ocp.args.JsonRestore()))["meta"]
            except Exception as e:  # noqa: BLE001 - any failure to read is reported the same way
                raise _damaged(self.directory / str(step), f"cannot be read: {one_line(e)}") from None
            self._metas[step] = meta if isinstance(meta, dict) else {}
        return self._metas[step]

    def restore_newest(self, *, like: PyTree) -> Restored | None:
        """The newest intact checkpoint, restored like ``like``; None if there is none at all.

        Damaged checkpoints are skipped (and listed in ``damaged``); if every one is damaged,
        raises :class:`CheckpointError`. A config or tree mismatch raises at once.
        """
        damaged: dict[int, str] = {}
        for step in reversed(self.all_steps()):
            try:
                return Restored(self.restore(step, like=like), step, damaged)
            except CheckpointDamaged as e:
                damaged[step] = e.reason
        if damaged:
            newest = max(damaged)
            raise CheckpointError(
                f"no intact checkpoint in {self.directory} (newest, step {newest}: "
                f"{damaged[newest]}): move checkpoints/ away, or pass overwrite=True to start afresh"
            )
        return None

    def restore_latest(self, *, like: PyTree) -> PyTree | None:
        """The state of :meth:`restore_newest` (None if there is no checkpoint)."""
        found = self.restore_newest(like=like)
        return None if found is None else found.state

    def set_aside(self, steps: list[int]) -> list[Path]:
        """Move checkpoints ``steps`` to ``<directory>.damaged/`` (kept, out of Orbax's way)."""
        self._reset()
        moved = []
        aside = self.directory.with_name(self.directory.name + ".damaged")
        for step in steps:
            aside.mkdir(exist_ok=True)
            target, n = aside / str(step), 1
            while target.exists():
                target, n = aside / f"{step}.{n}", n + 1
            os.replace(self.directory / str(step), target)
            moved.append(target)
        return moved

    def _reset(self) -> None:
        self._metas.clear()
        if self._mgr is not None:
            mgr, self._mgr = self._mgr, None
            with _quiet_orbax():
                mgr.wait_until_finished()
                mgr.close()

    def close(self) -> None:
        self._reset()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _damaged(where: Path, reason: str) -> CheckpointDamaged:
    return CheckpointDamaged(f"checkpoint {where} is damaged: {reason}", reason)


def _digests(where: Path) -> dict[str, str]:
    """SHA-256 of every file under ``where`` except the checksums file, by relative path."""
    out = {}
    for path in sorted(where.rglob("*")):
        if path.is_file() and path.name != CHECKSUMS:
            h = hashlib.sha256()
            with open(path, "rb") as f:
                for chunk in iter(lambda: f.read(1 << 20), b""):
                    h.update(chunk)
            out[path.relative_to(where).as_posix()] = h.hexdigest()
    return out


@contextlib.contextmanager
def _quiet_orbax() -> Iterator[None]:
    """Silence Orbax's log lines (it logs through absl) while it works; errors still raise."""
    logger = logging.getLogger("absl")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(level)


def _flatten_metadata(tree: Any) -> dict[str, Any]:
    flat = jax.tree_util.tree_flatten_with_path(
        tree, is_leaf=lambda x: hasattr(x, "shape") and hasattr(x, "dtype")
    )[0]
    return {_path_str(p): v for p, v in flat}


def _config_diff(old: Any, new: Any) -> str:
    if isinstance(old, dict) and isinstance(new, dict):
        keys = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
        shown = ", ".join(f"{k}: {old.get(k)!r} -> {new.get(k)!r}" for k in keys[:3])
        return shown + (f" and {len(keys) - 3} more" if len(keys) > 3 else "")
    return f"{old!r} -> {new!r}"
