"""Orbax checkpoints of a train state in a run's workdir, with a check that they match the run.

::

    ckpt = Checkpointer(workdir / "checkpoints", keep=3, config={"hidden_size": 64})
    state = ckpt.restore_latest(like=state) or state     # None when there is no checkpoint
    ckpt.save(int(state.step), state)
    ckpt.close()

A thin layer over ``orbax.checkpoint.CheckpointManager``: each checkpoint holds the state
(``StandardSave``) and a small JSON ``meta`` item with the run's ``config``. Orbax writes every
checkpoint into a temporary directory and renames it when complete, so a process killed while
saving leaves the previous checkpoints intact. Restoring checks that the stored config and the
stored tree (structure, shapes, dtypes) match the current run; a mismatch or a checkpoint that
cannot be read raises :class:`CheckpointError` with one clear line and nothing is deleted or
overwritten.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import jax
import numpy as np
import orbax.checkpoint as ocp

PyTree = Any


class CheckpointError(RuntimeError):
    """A checkpoint that cannot be read or belongs to a different run."""


def _normalise(config: Any) -> Any:
    return json.loads(json.dumps(config, default=str)) if config is not None else None


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


class Checkpointer:
    """Save every call to :meth:`save`, keep the last ``keep``, restore with checks."""

    def __init__(self, directory: str | os.PathLike, *, keep: int = 3, config: Any = None):
        if keep < 1:
            raise ValueError(f"keep must be >= 1, got {keep}")
        self.directory = Path(directory).absolute()
        self.config = _normalise(config)
        options = ocp.CheckpointManagerOptions(
            max_to_keep=keep,
            create=True,
            # Synchronous: the step that follows donates the state's buffers, and a finished
            # save() means the checkpoint is on disk (what the resume guarantee needs).
            enable_async_checkpointing=False,
        )
        self._manager = ocp.CheckpointManager(
            self.directory,
            options=options,
            item_handlers={
                "state": ocp.StandardCheckpointHandler(),
                "meta": ocp.JsonCheckpointHandler(),
            },
        )

    def latest_step(self) -> int | None:
        return self._manager.latest_step()

    def all_steps(self) -> list[int]:
        return sorted(self._manager.all_steps())

    def save(self, step: int, state: PyTree, *, force: bool = True) -> None:
        """Write ``state`` as checkpoint ``step`` (no-op if that step is already saved)."""
        if step in self._manager.all_steps():
            return
        meta = {"step": int(step), "config": self.config}
        self._manager.save(
            int(step),
            args=ocp.args.Composite(state=ocp.args.StandardSave(state), meta=ocp.args.JsonSave(meta)),
            force=force,
        )
        self._manager.wait_until_finished()

    def restore(self, step: int, *, like: PyTree) -> PyTree:
        """Checkpoint ``step`` restored into the structure, shapes and dtypes of ``like``."""
        where = self.directory / str(step)
        try:
            meta = self._manager.restore(step, args=ocp.args.Composite(meta=ocp.args.JsonRestore()))[
                "meta"
            ]
        except Exception as e:  # noqa: BLE001 - any failure to read is reported the same way
            raise CheckpointError(
                f"checkpoint {where} cannot be read ({type(e).__name__}: {_first_line(e)}); "
                "it was left untouched: move it away or use a fresh workdir"
            ) from None
        stored_config = meta.get("config") if isinstance(meta, dict) else None
        if self.config is not None and stored_config != self.config:
            diff = _config_diff(stored_config, self.config)
            raise CheckpointError(
                f"checkpoint {where} was written by a run with a different config ({diff}); "
                "use a fresh workdir or delete its checkpoints/ folder"
            )
        try:
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
                "use a fresh workdir or delete its checkpoints/ folder"
            )
        abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, like)
        try:
            restored = self._manager.restore(
                step, args=ocp.args.Composite(state=ocp.args.StandardRestore(abstract))
            )["state"]
        except Exception as e:  # noqa: BLE001
            raise CheckpointError(
                f"checkpoint {where} cannot be read ({type(e).__name__}: {_first_line(e)}); "
                "it was left untouched: move it away or use a fresh workdir"
            ) from None
        return jax.tree.unflatten(jax.tree.structure(like), jax.tree.leaves(restored))

    def restore_latest(self, *, like: PyTree) -> PyTree | None:
        """The latest checkpoint restored like ``like``, or None if there is none."""
        step = self.latest_step()
        return None if step is None else self.restore(step, like=like)

    def close(self) -> None:
        self._manager.wait_until_finished()
        self._manager.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _first_line(e: Exception) -> str:
    text = str(e).strip().splitlines()
    return text[0][:200] if text else ""


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
