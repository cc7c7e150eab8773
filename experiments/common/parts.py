"""A study is a few *parts*, each cached under its own settings.

::

    capacity = cached_part(workdir, "capacity", settings=config.capacity, compute=lambda: ...)

A part's result is ``<workdir>/<name>.json``. It is reused when this workdir's run state says it
was computed with the same settings; otherwise ``compute()`` runs and its result is saved. So
changing one part's field recomputes only that part, and an interrupted run, rerun with the same
command, restarts at its first unfinished part. The run state is a marker in
``<workdir>/checkpoints/`` (git-ignored, like training checkpoints), so a fresh clone recomputes
committed results instead of trusting them. The part's wall-clock time goes to the git-ignored
``timing.json``, never into the result.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from experiments.common.files import jsonable, read_json, record_timing, write_json
from experiments.common.progress import say


def cached_part(workdir: str | os.PathLike, name: str, settings: Any,
                compute: Callable[[], dict[str, Any]], *, compact: bool = False,
                trust_committed: bool = False,
                run_state: str | os.PathLike | None = None) -> dict[str, Any]:
    """The result of part ``name``: reused if computed with ``settings``, else computed and saved.

    ``settings`` is anything JSON-able (a part's config dataclass, a dict); the saved file is
    ``{"settings": settings, **compute()}``. ``compact`` writes it without indentation.
    ``trust_committed`` reuses a saved file whose settings match even without this workdir's
    marker: for long sweeps completed in several sittings on different machines, each part's
    committed result is final. ``run_state``: the folder where ``compute`` keeps its own run
    state (training checkpoints); when it exists, ``compute`` resumes an earlier sitting, and its
    time is added to the time recorded for that sitting, so ``timing.json`` holds the part's cost.
    """
    workdir = Path(workdir)
    path = workdir / f"{name}.json"
    settings = jsonable(settings)
    marker = workdir / "checkpoints" / f"{name}.settings.json"
    if path.exists() and (trust_committed or marker.exists() and read_json(marker) == settings):
        saved = read_json(path)
        if saved.get("settings") == settings:
            say(f"{name}: reusing {path}")
            return saved
    say(f"{name} ...")
    resumed = run_state is not None and Path(run_state).exists()
    t0 = time.perf_counter()
    result = {"settings": settings, **compute()}
    seconds = time.perf_counter() - t0
    write_json(path, result, compact=compact)
    write_json(marker, settings)
    record_timing(workdir, name, seconds, add=resumed)
    say(f"{name}: done in {seconds:.0f} s")
    return result
