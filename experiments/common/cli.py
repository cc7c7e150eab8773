"""The command line every study shares: presets, tyro flags, checks before writes, one-line errors.

::

    python -m experiments.<study> --quick                 # the small preset (what the main job runs)
    python -m experiments.<study> --preset full           # any named preset (default: full)
    python -m experiments.<study> --quick --capacity.trials 20 --seed 3
    python -m experiments.<study> --plot-only             # redraw figures from saved results

Flags come from the study's nested config dataclass through `tyro`_ (help text from the field
docstrings, with type and default); the chosen preset supplies the defaults. Every study has
``--quick``, ``--preset NAME``, ``--seed``, ``--steps``, ``--workdir``, ``--plot-only`` and
``--overwrite``. Abbreviated or unknown flags are errors.

Before anything is written the command checks everything it can: the flags (a list flag given
no values is refused unless the study lists it in ``Study.optional_lists``), the config's own
validation, the workdir (a non-empty path naming a writable folder; no folder where one of its
files belongs, no file where a folder belongs), the workdir lock (:mod:`rnnjax.train.lock`), and
that the workdir does not hold results made with another config by someone else (a
``config.json`` that differs and no run state in ``checkpoints/``): those are refused unless
``--overwrite`` is given. A multi-process study then joins its processes (``Study.session``).
Then ``config.json`` records the exact command, the preset and the config.

The checks of :func:`rnnjax.train.fit` run when a part starts training, after other parts may
have written. So the whole run is journaled (:func:`experiments.common.files.journal`): when it
ends in a refusal (a :class:`UserError`, or a ``RunError`` other than a stop while training:
another config, fewer steps than saved, damaged run state, a file where a folder belongs),
every file the study wrote (``config.json``, results, figures, the parts' markers) gets its
previous bytes back, files it created are deleted, and a workdir it created is removed. Only
the checkpoints of training parts that finished before the refusal stay (verified run state,
which a later run resumes from or refuses like any other).

``--overwrite`` means what ``fit(..., overwrite=True)`` means, for every part: after the checks,
the workdir's run state (every ``checkpoints/`` folder, and each training run's
``metrics.jsonl`` and ``run.json``) is deleted, so every part and every training run starts
afresh. Bad input and refusals are one line on stderr with exit status 2; a message of
:mod:`rnnjax.train` that suggests ``overwrite=True`` names ``--overwrite`` instead.

.. _tyro: https://brentyi.github.io/tyro/
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import io
import shlex
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Annotated, Any

import jax

from experiments.common.checks import check_common
from experiments.common.files import (
    RunStopped,
    UserError,
    journal,
    record_timing,
    write_json,
)
from experiments.common.progress import say
from experiments.common.workdir import (
    check_folder,
    check_layout,
    check_not_foreign,
    clear_run_state,
)


@dataclasses.dataclass(frozen=True)
class Study:
    """What the shared command line needs to know about a study.

    Attributes:
      name: the package name, ``experiments.<name>``.
      config: the study's frozen config dataclass; its defaults are the ``full`` preset.
      presets: named configs; must contain ``"quick"`` (what the main job and the checks run).
      run: ``(config, workdir) -> None``: computes and saves every part.
      plot: ``workdir -> None``: draws every figure and the index from saved results only.
      workdirs: default workdir per preset; the default is ``results/<name>`` for ``quick`` and
        ``results/<name>/<preset>`` for the others.
      tolerances: for ``python -m experiments.check``: relative tolerance per JSON key name
        (numbers under that key anywhere in a result file); others use ``default_tolerance``.
      default_tolerance: relative tolerance for numbers not named in ``tolerances``.
      unchecked: result files or JSON keys the check leaves out: sampled text, which a rounding
        difference on another machine changes character by character.
      absolute_tolerance: differences below this never count (numbers near zero, such as a
        trained loss of 1e-3, differ in relative terms across machines).
      doc: the description ``--help`` prints (the study's config docstring by default).
      computes_only: ``config -> bool``: True in a process that computes but must write nothing
        (a worker of a multi-process run): it takes no lock and writes no ``config.json``,
        results or figures.
      optional_lists: dotted names of list fields (``"tune.models"``) that may be given no
        values on the command line (an empty list means "none"); any other list flag given
        no values, where the preset has some, is refused.
      session: ``(config, workdir) -> context manager`` yielding the ``run`` function to call:
        entered after every check and before the first write (a multi-process study joins its
        processes there, so that a process that cannot join fails before anything is written).
    """

    name: str
    config: type
    presets: Mapping[str, Any]
    run: Callable[[Any, Path], None]
    plot: Callable[[Path], None]
    workdirs: Mapping[str, str] = dataclasses.field(default_factory=dict)
    tolerances: Mapping[str, float] = dataclasses.field(default_factory=dict)
    default_tolerance: float = 1e-4
    absolute_tolerance: float = 1e-12
    unchecked: tuple[str, ...] = ()
    doc: str | None = None
    computes_only: Callable[[Any], bool] | None = None
    optional_lists: tuple[str, ...] = ()
    session: Callable[[Any, Path], AbstractContextManager[Callable[[Any, Path], None]]] | None = None

    def __post_init__(self):
        if "quick" not in self.presets:
            raise ValueError(f"study {self.name}: presets must include 'quick'")

    def workdir(self, preset: str) -> Path:
        if preset in self.workdirs:
            return Path(self.workdirs[preset])
        return Path("results") / self.name if preset == "quick" else Path("results") / self.name / preset

    @property
    def default_preset(self) -> str:
        return "full" if "full" in self.presets else next(iter(self.presets))


@dataclasses.dataclass(frozen=True)
class Invocation:
    """A parsed command line."""

    config: Any
    preset: str
    workdir: Path
    plot_only: bool
    overwrite: bool
    command: str


def parse(study: Study, argv: Sequence[str]) -> Invocation:
    """Parse ``argv`` into an :class:`Invocation`; bad input raises :class:`UserError`."""
    import tyro

    preset = _preset_from_argv(study, argv)
    default_workdir = study.workdir(preset)
    args_cls = _args_class(study, preset, default_workdir)
    default = args_cls(config=study.presets[preset])
    buf = io.StringIO()
    try:
        with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(buf):
            args = tyro.cli(args_cls, default=default, args=list(argv),
                            prog=f"python -m experiments.{study.name}",
                            description=study.doc or study.config.__doc__)
    except SystemExit as e:
        if e.code == 0:  # --help
            sys.stdout.write(buf.getvalue())
            raise
        raise UserError(_one_line(buf.getvalue())) from None
    except (ValueError, TypeError) as e:  # the config's own validation
        raise UserError(str(e).splitlines()[0]) from None
    try:
        check_common(args.config)
    except ValueError as e:
        raise UserError(str(e)) from None
    if not args.workdir.strip():
        raise UserError(f"--workdir must name a folder, got {args.workdir!r}")
    check_lists(study, study.presets[preset], args.config)
    return Invocation(config=args.config, preset=preset, workdir=Path(args.workdir),
                      plot_only=args.plot_only, overwrite=args.overwrite,
                      command=_command(study, argv, default_workdir))


def _preset_from_argv(study: Study, argv: Sequence[str]) -> str:
    names = [a.split("=", 1)[1] if "=" in a else None for a in argv if a.split("=", 1)[0] == "--preset"]
    for i, a in enumerate(argv):
        if a == "--preset":
            if i + 1 >= len(argv):
                raise UserError(f"--preset needs a name: one of {', '.join(study.presets)}")
            names[names.index(None)] = argv[i + 1]
    if "--quick" in argv:
        names.append("quick")
    if len(set(names)) > 1:
        raise UserError(f"choose one preset, got {', '.join(dict.fromkeys(names))}")
    preset = names[0] if names else study.default_preset
    if preset not in study.presets:
        raise UserError(f"--preset must be one of {', '.join(study.presets)}, got {preset!r}")
    return preset


def _args_class(study: Study, preset: str, default_workdir: Path) -> type:
    import tyro

    presets = ", ".join(study.presets)
    fields = [
        ("config", Annotated[study.config, tyro.conf.arg(name="")]),
        ("quick", Annotated[bool, tyro.conf.arg(help="the quick preset: minutes on 2 CPU cores")],
         dataclasses.field(default=preset == "quick")),
        ("preset", Annotated[str, tyro.conf.arg(help=f"a named preset: {presets}")],
         dataclasses.field(default=preset)),
        ("workdir", Annotated[str, tyro.conf.arg(
            help="where results, metrics and checkpoints go (default: results/<study> for "
                 "--quick, results/<study>/<preset> otherwise)")],
         dataclasses.field(default=str(default_workdir))),
        ("plot_only", Annotated[bool, tyro.conf.arg(
            help="redraw the figures from saved results; never computes")],
         dataclasses.field(default=False)),
        ("overwrite", Annotated[bool, tyro.conf.arg(
            help="start afresh: delete the run state in --workdir (checkpoints, training "
                 "metrics) and replace results made with another config")],
         dataclasses.field(default=False)),
    ]
    return dataclasses.make_dataclass(f"{study.name}_command", fields, frozen=True)


def check_lists(study: Study, preset: Any, config: Any, prefix: str = "") -> None:
    """Refuse a list field left empty where the preset has values, unless it is optional."""
    for field in dataclasses.fields(config):
        name = f"{prefix}{field.name}"
        value, default = getattr(config, field.name), getattr(preset, field.name, None)
        if dataclasses.is_dataclass(value):
            check_lists(study, default if dataclasses.is_dataclass(default) else value, value,
                        f"{name}.")
        elif (isinstance(value, tuple) and not value and default
              and name not in study.optional_lists):
            flag = "--" + name.replace("_", "-")
            raise UserError(f"{flag} needs at least one value (the preset has "
                            f"{' '.join(map(str, default))})")


def _one_line(text: str) -> str:
    """tyro's boxed error message (title, message, hints between rules), condensed to one line."""
    blocks: list[list[str]] = [[]]
    for line in (ln.strip(" │╭╮╰╯─") for ln in text.splitlines()):
        if line and not line.strip("-"):  # a horizontal rule starts the next block
            blocks.append([])
        elif line:
            blocks[-1].append(line)
    blocks = [b for b in blocks if b]
    message = " ".join(blocks[1]) if len(blocks) > 1 else " ".join(blocks[0]) if blocks else ""
    message = message.removeprefix("Error parsing ").strip() or "bad command line"
    hint = ""
    for block in blocks[2:]:
        if block[0] == "Perhaps you meant:" and len(block) > 1:
            hint = f" (did you mean {block[1].split()[0]}?)"
    return f"{message}{hint}; see --help"


def _command(study: Study, argv: Sequence[str], default_workdir: Path) -> str:
    """The command that reproduces this run: argv minus a default --workdir and --overwrite."""
    out, skip = [], False
    for i, a in enumerate(argv):
        if skip:
            skip = False
            continue
        if a == "--overwrite":
            continue
        if a == "--workdir" and i + 1 < len(argv) and Path(argv[i + 1]) == default_workdir:
            skip = True
            continue
        if a.startswith("--workdir=") and Path(a.split("=", 1)[1]) == default_workdir:
            continue
        out.append(a)
    return shlex.join(["python", "-m", f"experiments.{study.name}", *out])


def main(study: Study, argv: Sequence[str] | None = None) -> int:
    """Parse, check, run (unless ``--plot-only``), plot. Returns the exit status.

    Experiments run with ``jax_numpy_rank_promotion="raise"`` (as the tests do), so a silent
    broadcast of mismatched ranks is an error rather than a wrong result.
    """
    jax.config.update("jax_numpy_rank_promotion", "raise")
    argv = list(sys.argv[1:] if argv is None else argv)
    inv = None
    try:
        inv = parse(study, argv)
        writes = not (study.computes_only is not None and study.computes_only(inv.config))
        if inv.plot_only:
            if writes:
                check_folder(inv.workdir)
                study.plot(inv.workdir)
            return 0
        if writes:
            check_folder(inv.workdir)
            check_layout(inv.workdir)
            check_not_foreign(inv.workdir, inv.config, inv.overwrite)
        _execute(study, inv, writes)
    except KeyboardInterrupt:
        print("interrupted: rerun the same command to resume", file=sys.stderr)
        return 130
    except Exception as e:  # noqa: BLE001 - the known kinds become one line, the rest re-raise
        message = _describe(e, study)
        if message is None:
            raise
        return _fail(message)
    return 0


def _execute(study: Study, inv: Invocation, writes: bool) -> None:
    """Lock, join (``Study.session``), then write: ``config.json``, the parts, the figures.

    A refusal undoes every write of the study (see the module docstring).
    """
    from rnnjax.train.lock import LOCK_NAME, exclusive

    created = writes and not inv.workdir.exists()
    try:
        with contextlib.ExitStack() as stack:
            if writes:
                stack.enter_context(exclusive(inv.workdir))
            run = stack.enter_context(study.session(inv.config, inv.workdir)) \
                if study.session is not None else study.run
            if not writes:
                run(inv.config, inv.workdir)
                return
            if inv.overwrite:
                clear_run_state(inv.workdir)
            with journal() as rollback:
                try:
                    t0 = time.perf_counter()
                    write_json(inv.workdir / "config.json", {
                        "command": inv.command, "preset": inv.preset, "config": inv.config})
                    say(f"{study.name}: {inv.command}")
                    run(inv.config, inv.workdir)
                    study.plot(inv.workdir)
                    record_timing(inv.workdir, "total", time.perf_counter() - t0)
                except BaseException as e:
                    if is_refusal(e):
                        rollback()
                    raise
    except BaseException as e:
        if created and is_refusal(e):
            (inv.workdir / LOCK_NAME).unlink(missing_ok=True)
            with contextlib.suppress(OSError):
                inv.workdir.rmdir()
        raise


def is_refusal(e: BaseException) -> bool:
    """Whether ``e`` refuses the run (bad input, a workdir it cannot continue) rather than stops
    it while computing (interrupted, non-finite loss, full disk, a process that died)."""
    from rnnjax.train import RunError
    from rnnjax.train.errors import WriteFailed
    from rnnjax.train.step import NonFiniteError

    if isinstance(e, (WriteFailed, NonFiniteError)):
        return False
    if isinstance(e, (UserError, RunError)):
        return not isinstance(e, RunStopped)
    return isinstance(e, (IsADirectoryError, NotADirectoryError, FileExistsError))


def _describe(e: BaseException, study: Study) -> str | None:
    """The one line for a refusal or a stop; None for an unexpected error (a bug: traceback)."""
    from rnnjax.train import RunError

    if isinstance(e, (UserError, RunError)):
        return flag_words(str(e).splitlines()[0] if str(e) else type(e).__name__)
    if isinstance(e, OSError):
        return _describe_os_error(e, study)
    return None


def flag_words(message: str) -> str:
    """A message of :mod:`rnnjax.train` in the command line's words: its advice names the flags
    (``--overwrite``, ``--workdir``) rather than ``fit``'s arguments."""
    message = message.replace("pass overwrite=True", "--overwrite").replace(
        "overwrite=True", "--overwrite")
    if "overwrite" not in message:
        message = message.replace("use a new workdir",
                                  "use another --workdir, or --overwrite to start afresh")
    return message.replace("use a new workdir", "use another --workdir")


def _describe_os_error(e: OSError, study: Study) -> str:
    where = e.filename or "the workdir"
    if e.errno == errno.ENOSPC:
        return (f"no space left on {where}: files written before this one are intact; free space "
                f"and rerun the same command to resume")
    if e.errno in (errno.EACCES, errno.EROFS, errno.EPERM):
        return f"cannot write {where}: permission denied (read-only?)"
    return f"{study.name}: {e.strerror or e} ({where})"


def _fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 2
