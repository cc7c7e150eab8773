"""The training loop: resume, step, log, checkpoint, show progress.

::

    def batch_at(step):                       # the batch of update `step`, a pure function of it
        return task.batch(jax.random.fold_in(data_key, step), batch_size)

    state, history = rnnjax.train.fit(
        step_fn, state, batch_at, num_steps=2000, workdir="results/run",
        checkpoint_every=500, log_every=10, config=dataclasses.asdict(config),
    )

With a ``workdir``, rerunning the same call resumes from the newest intact checkpoint in
``<workdir>/checkpoints`` and trims ``<workdir>/metrics.jsonl`` back to that step. Because the
batch is a function of the step number and the step's key is ``fold_in(key, step)``, a run killed
at any moment (even SIGKILL) and resumed ends with exactly the parameters and the
``metrics.jsonl`` bytes of an uninterrupted run.

What a run with a workdir guarantees:

- **One run per workdir**: an exclusive lock (:func:`rnnjax.train.lock.exclusive`); a second run
  raises :class:`WorkdirLocked` naming the holder's PID; a killed holder never blocks.
- **Checks before writes**: the config can be stored (no function or object whose text is a
  memory address: :class:`UnstorableConfig`), the lock, the workdir's shape (folders where
  folders belong, files where files do), the config against the newest checkpoint's (or against
  ``run.json`` when there are metrics but no checkpoint), the tree, ``metrics.jsonl`` against
  the history the checkpoint was saved after (lines lost or edited: :class:`MetricsError`; the
  metrics cannot be rebuilt from checkpoints, so restore the file or pass ``overwrite=True``)
  and the step are all checked before anything in the workdir is written; a refusal changes
  nothing.
- **Verified checkpoints**: checksums are checked on restore; a damaged checkpoint is set aside
  with one warning line and the newest intact one is used. If none is intact the run refuses.
- **Atomic files** created with the umask's mode; a write that fails (a full disk) raises
  :class:`WriteFailed` naming what is intact.

Every refusal is a :class:`~rnnjax.train.RunError` with a one-line message.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import jax
import numpy as np

from rnnjax import _checks
from rnnjax.train import workdir as wd
from rnnjax.train.checkpoint import Checkpointer, storable_config
from rnnjax.train.errors import WriteFailed, is_no_space, one_line
from rnnjax.train.lock import check_path, exclusive
from rnnjax.train.metrics import MetricsWriter, read_metrics
from rnnjax.train.progress import Progress
from rnnjax.train.state import TrainState
from rnnjax.train.step import NonFiniteError, check_nonfinite_mode, describe_nonfinite
from rnnjax.train.tensorboard import mirror

PyTree = Any


def _host_scalar(x: Any) -> Any:
    x = np.asarray(x)
    if x.ndim == 0:
        return x.item()
    return x.tolist()  # a sweep: one value per member


def fit(
    step_fn: Callable[[TrainState, PyTree], tuple[TrainState, dict]],
    state: TrainState,
    batch_at: Callable[[int], PyTree],
    *,
    num_steps: int,
    workdir: str | Path | None = None,
    checkpoint_every: int | None = None,
    keep: int = 3,
    log_every: int = 1,
    eval_fn: Callable[[TrainState], dict[str, Any]] | None = None,
    eval_every: int | None = None,
    config: Any = None,
    nonfinite: str = "stop",
    overwrite: bool = False,
    progress: bool | None = None,
    description: str = "train",
) -> tuple[TrainState, list[dict[str, Any]]]:
    """Train ``state`` up to ``num_steps`` updates; returns ``(state, logged records)``.

    Args:
      step_fn: ``(state, batch) -> (state, metrics)``, e.g. from :func:`make_step` (may donate).
      state: the initial state; also the template (structure, shapes) for restoring checkpoints.
      batch_at: ``step -> batch`` for the update taking the state from ``step`` to ``step + 1``.
      num_steps: total number of updates (counting those done before a resume). If the workdir
        holds a later step, the kept checkpoint at exactly ``num_steps`` is returned (nothing is
        trained or written), or :class:`WorkdirAhead` is raised if there is none.
      workdir: where ``metrics.jsonl``, ``run.json`` and ``checkpoints/`` go; None keeps
        everything in memory.
      checkpoint_every: save every this many updates (and always at the end); None: only at the
        end. Needs ``workdir``.
      keep: number of checkpoints kept.
      log_every: write a metrics record every this many updates (and at the end).
      eval_fn: ``state -> dict`` of extra metrics (e.g. validation loss), run every
        ``eval_every`` updates (default: every log) and at the end; merged into the record.
      config: JSON-able description of the run, stored in each checkpoint and in ``run.json``;
        continuing a workdir made with a different config raises :class:`ConfigMismatch`. A
        value stored as its text must be identified by it: a function or an object whose text is
        a memory address raises :class:`UnstorableConfig` (store its name instead).
        Leave out what may change between a run and its resumption (e.g. the number of steps).
      nonfinite: ``"stop"`` raises :class:`NonFiniteError` at the first step whose logged
        metrics are not all finite; ``"skip"`` skips those updates and goes on.
      overwrite: start afresh, deleting the workdir's checkpoints and metrics (whatever run
        made them); without it a workdir holding another run's results is refused.
      progress: False for silence; otherwise a rich bar on a terminal and plain lines
        (``description step/total loss=... elapsed=...s``, every 30 s and at the end) when
        stdout is not a terminal.
      description: label of the progress output.

    Each record is ``{"step": n, <metrics>, <eval metrics>}`` with ``n`` the number of updates
    done; in a sweep (vmapped state) values are per-member lists. No wall-clock time is logged,
    so a resumed run's ``metrics.jsonl`` is byte-identical to an uninterrupted run's.

    Raises:
      RunError: one of its subclasses, with a one-line message, when the run is refused or
        cannot write (see :mod:`rnnjax.train.errors`); ``NonFiniteError`` is one too.
    """
    check_nonfinite_mode(nonfinite)
    num_steps = _checks.nonnegative_int(num_steps, "num_steps")
    log_every = _checks.positive_int(log_every, "log_every")
    keep = _checks.positive_int(keep, "keep")
    if checkpoint_every is not None:
        checkpoint_every = _checks.positive_int(checkpoint_every, "checkpoint_every")
        if workdir is None:
            raise ValueError("checkpoint_every needs a workdir to write checkpoints to")
    eval_every = eval_every or log_every
    loop = dict(num_steps=num_steps, checkpoint_every=checkpoint_every, log_every=log_every,
                eval_fn=eval_fn, eval_every=eval_every, nonfinite=nonfinite,
                progress=progress, description=description)
    if workdir is None:
        start = wd.start_step(state)
        if start >= num_steps:
            return state, []
        return _train(step_fn, state, batch_at, start, writer=None, ckpt=None, intact=None, **loop)

    workdir = Path(workdir)
    storable_config(config)  # refused before the workdir is touched
    with exclusive(workdir):
        ckpt = Checkpointer(workdir / "checkpoints", keep=keep, config=config)
        writer = None
        try:
            plan = wd.plan(workdir, ckpt, state, num_steps=num_steps, config=config,
                           overwrite=overwrite)
            if plan.done:
                wd.warn_damaged(plan)
                result = plan.state, plan.records
            else:
                intact = plan.start if ckpt.all_steps() and not plan.overwrite else None
                with _writing(workdir, intact):
                    wd.apply(workdir, ckpt, plan, config)
                    writer = MetricsWriter(workdir / wd.METRICS, resume_step=plan.start)
                    writer = mirror(writer, workdir, start=plan.start)  # live curves, if installed
                result = _train(step_fn, plan.state, batch_at, plan.start, writer=writer,
                                ckpt=ckpt, intact=intact, **loop)
        except BaseException:
            _close_quietly(writer, ckpt)
            raise
        with _writing(workdir, plan.start if plan.done else num_steps):
            if writer is not None:
                writer.close()
            ckpt.close()
        return result


def check_workdir(workdir: str | Path, state: TrainState, *, num_steps: int, config: Any = None,
                  overwrite: bool = False) -> int:
    """Run :func:`fit`'s checks on ``workdir`` without writing; the step ``fit`` would start from.

    For a caller that writes files of its own next to a run (e.g. a ``config.json``) or runs
    several parts: check every workdir first, write after. Raises what :func:`fit` would raise
    (:class:`WorkdirLocked`, :class:`ConfigMismatch`, :class:`WorkdirAhead`, ...). Returns
    ``num_steps`` when nothing is left to train, and the passed state's step for a workdir that
    does not exist yet (nothing is created).
    """
    workdir = Path(workdir)
    num_steps = _checks.nonnegative_int(num_steps, "num_steps")
    storable_config(config)
    check_path(workdir)
    if not workdir.exists():
        return min(wd.start_step(state), num_steps)
    with exclusive(workdir), Checkpointer(workdir / "checkpoints", config=config) as ckpt:
        plan = wd.plan(workdir, ckpt, state, num_steps=num_steps, config=config, overwrite=overwrite)
    return min(plan.start, num_steps)


def _train(step_fn, state, batch_at, start, *, writer, ckpt, intact, num_steps, checkpoint_every,
           log_every, eval_fn, eval_every, nonfinite, progress, description):
    """The loop proper: step, log, checkpoint (``intact``: the newest saved step, for errors)."""
    records = writer.records if writer is not None else []
    skipped = 0
    with Progress(description, start, num_steps, enabled=progress) as bar:
        for s in range(start, num_steps):
            state, metrics = step_fn(state, batch_at(s))
            n = s + 1
            finite = np.asarray(metrics["finite"])
            if not finite.all():
                host = jax.device_get(metrics)
                if nonfinite == "stop":  # state.params are the last finite ones
                    raise NonFiniteError(describe_nonfinite(n, host, state.params))
                skipped += int((~(finite > 0)).sum())
            last = n == num_steps
            if n % log_every == 0 or last:
                record = {"step": n}
                record.update({k: _host_scalar(v) for k, v in metrics.items() if not k.startswith("_")})
                if eval_fn is not None and (n % eval_every == 0 or last):
                    record.update({k: _host_scalar(v) for k, v in eval_fn(state).items()})
                if skipped:
                    record["skipped_total"] = skipped
                bad = _mark_nonfinite(record)
                if bad and nonfinite == "stop":
                    raise NonFiniteError(f"step {n}: {', '.join(bad)} not finite "
                                         "(the update was applied; nothing was logged)")
                if writer is not None:
                    with _writing(writer.path, intact):
                        writer.write(record)
                else:
                    records.append(record)
                bar.update(n, record.get("loss"))
            if ckpt is not None and (last or (checkpoint_every and n % checkpoint_every == 0)):
                with _writing(writer.path, intact):
                    writer.flush()
                with _writing(ckpt.directory / str(n), intact):
                    ckpt.save(n, state, history=writer.digest())
                intact = n
    return state, list(records)


def _mark_nonfinite(record: dict[str, Any]) -> list[str]:
    """Names of the record's non-finite values; their members' ``finite`` flags are set to 0.

    The step's own flag covers what it computed; this also covers eval metrics and step
    functions that aggregate (a sum of finite losses can overflow).
    """
    flags = np.asarray(record.get("finite", 1.0), dtype=np.float64)
    bad = []
    for name, value in record.items():
        if name in ("step", "finite", "skipped_total"):
            continue
        try:
            ok = np.isfinite(np.asarray(value, dtype=np.float64))
        except (TypeError, ValueError):
            continue  # not numeric
        if not ok.all():
            bad.append(name)
            flags = np.where(ok, flags, 0.0) if ok.shape == flags.shape else flags * 0.0
    if bad:
        record["finite"] = flags.tolist()
    return bad


class _writing:
    """Turn a failed write into :class:`WriteFailed` naming what is intact."""

    def __init__(self, where: Path, intact: int | None):
        self.where, self.intact = where, intact

    def __enter__(self):
        return self

    def __exit__(self, kind, e, tb):
        if e is None or not (isinstance(e, OSError) or is_no_space(e)) or isinstance(e, WriteFailed):
            return False
        kept = "no checkpoint yet" if self.intact is None else f"checkpoint at step {self.intact}"
        path = self.where
        what = f"no space left on {path}" if is_no_space(e) else f"cannot write {path} ({one_line(e)})"
        raise WriteFailed(f"{what}; intact: {kept}") from None


def _close_quietly(writer: MetricsWriter | None, ckpt: Checkpointer) -> None:
    """Close both while an error is raised; a failure here must not hide that error."""
    for close in ([writer.close] if writer is not None else []) + [ckpt.close]:
        try:
            close()
        except Exception:  # noqa: BLE001
            pass


def load_history(workdir: str | Path) -> list[dict[str, Any]]:
    """The records of ``<workdir>/metrics.jsonl`` (what :func:`fit` logged)."""
    return read_metrics(Path(workdir) / "metrics.jsonl")
