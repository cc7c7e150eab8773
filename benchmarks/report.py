"""The benchmarks page's tables, each from one report in ``benchmarks/results/`` alone.

``python -m experiments.readme`` puts :func:`block` ``(name)`` between ``<!-- benchmark: NAME -->``
and ``<!-- /benchmark -->`` in ``docs/benchmarks.md``; every block names the machine its report
was measured on, as the report records it. A report that is missing gives one line saying so.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

RESULTS = Path(__file__).parent / "results"


def load(name: str, folder: Path = RESULTS) -> dict | None:
    path = Path(folder) / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def machine(report: dict) -> str:
    """The machine a report was measured on, in the report's own words."""
    m = report.get("machine")
    if isinstance(m, str):
        return m
    if isinstance(m, dict):
        load = m.get("load_average_1min_start_end")
        text = f"{m.get('cpus')} CPU device(s), backend {m.get('backend')}, jax {m.get('jax')}"
        if load:
            text += f", 1-minute load average {load[0]:.1f} (start) and {load[1]:.1f} (end)"
        return text
    parts = []
    device = report.get("device") or report.get("platform")
    if device:
        parts.append(f"device {device}")
    if report.get("cpu_count"):
        parts.append(f"{report['cpu_count']} CPU cores")
    if report.get("jax"):
        parts.append(f"jax {report['jax']}")
    return ", ".join(parts) or "not recorded in the report"


def _measured(report: dict) -> str:
    return f"*Measured on: {machine(report)}.*"


def cells(r: dict) -> str:
    lines = ["| cell | (B, T, I, H) | rnnjax ms | rnnjax hoisted ms | Flax linen ms | "
             "speed-up (hoisted) | fraction of matmul peak, rnnjax / Flax |",
             "|---|---|---|---|---|---|---|"]
    for s in r["speed"]:
        lines.append(f"| {s['cell']} | ({s['B']}, {s['T']}, {s['I']}, {s['H']}) | "
                     f"{s['rnnjax_ms']:.0f} | {s['rnnjax_hoisted_ms']:.0f} | {s['flax_ms']:.0f} | "
                     f"{s['speedup']:.2f}× ({s['speedup_hoisted']:.2f}×) | "
                     f"{s['rnnjax_peak_frac']:.0%} / {s['flax_peak_frac']:.0%} |")
    speed = [s["speedup"] for s in r["speed"]]
    hoisted = [s["speedup_hoisted"] for s in r["speed"]]
    return "\n".join([
        *lines, "",
        f"Speed-up over Flax (Flax time / rnnjax time): {min(speed):.2f}–{max(speed):.2f}×; "
        f"with the input projection hoisted out of the scan {min(hoisted):.2f}–{max(hoisted):.2f}×. "
        f"Measured float32 matmul peak: {r['matmul_peak_gflops']:.0f} GFLOP/s.", "",
        _measured(r)])


def memory(r: dict) -> str:
    rows = r["memory"]
    lengths = sorted({m["T"] for m in rows})
    lines = ["| T | " + " | ".join(m["remat"] for m in rows if m["T"] == lengths[0]) + " |",
             "|---|" + "---|" * sum(m["T"] == lengths[0] for m in rows)]
    for t in lengths:
        lines.append(f"| {t:,} | " + " | ".join(f"{m['total_MiB']:,.0f} MiB" for m in rows
                                               if m["T"] == t) + " |")
    b, h = rows[0]["B"], rows[0]["H"]
    return "\n".join([f"LSTM training gradient, B = {b}, H = {h}; the √T blocks differ per T:", "",
                      *lines, "", _measured(r)])


def cells_vs_commit(r: dict) -> str:
    lines = ["| cell | hoist | lengths | same program | new / old wall | new / old CPU |",
             "|---|---|---|---|---|---|"]
    for row in r["rows"]:
        lines.append(f"| {row['cell']} | {row['hoist']} | {row['lengths']} | "
                     f"{'yes' if row['same_program'] else 'no'} | {row['ratio']:.2f} | "
                     f"{row['cpu_ratio']:.2f} |")
    return "\n".join([f"Against commit `{r['old']}`, medians of {r['repeats']}:", "", *lines, "",
                      f"*Measured on: jax {r['jax']}.*"])


def sweep(r: dict) -> str:
    lines = ["| H | B | T | seeds | sequential | one vmapped program | one `lax.map` program |",
             "|---|---|---|---|---|---|---|"]
    for row in r["rows"]:
        lines.append(f"| {row['hidden']} | {row['batch']} | {row['T']} | {row['seeds']} | 1× | "
                     f"{row['speedup']:.2f}× | {row['lax_map_speedup']:.2f}× |")
    return "\n".join([f"{r['benchmark']} (speed relative to the sequential runs):", "", *lines, "",
                      _measured(r)])


def longrange(r: dict) -> str:
    v = r["vmap"]
    lines = ["| layout | run-steps/s | relative to sequential |", "|---|---|---|",
             f"| sequential | {v['sequential_run_steps_per_s']:.0f} | 1× |",
             f"| one vmapped program | {v['vmapped_run_steps_per_s']:.0f} | {v['speedup']:.2f}× |",
             f"| one `lax.map` program | {v['mapped_run_steps_per_s']:.0f} | "
             f"{v['mapped_speedup']:.2f}× |", "",
             "| host devices | vmap, relative to 1 device | `lax.map`, relative to 1 device |",
             "|---|---|---|"]
    for d in r["devices"]:
        lines.append(f"| {d['devices']} | {d['vmap_speedup_vs_1_device']:.2f}× | "
                     f"{d['map_speedup_vs_1_device']:.2f}× |")
    return "\n".join([f"{v['seeds']} LSTM runs, H = {v['hidden_size']}, B = {v['batch_size']}, "
                      f"T = {v['T']}:", "", *lines, "", _measured(r)])


def longrange_step(r: dict) -> str:
    from benchmarks.bench_longrange_step import readme_line

    return readme_line(r)


def hopfield(r: dict) -> str:
    from benchmarks.bench_hopfield import readme_table

    return readme_table(r).rstrip()  # it names the machine


def jacobians(r: dict) -> str:
    s, mem = r["seconds"], r["memory_bytes"]
    mib = lambda b: f"{b / 2**20:.1f} MiB"
    lengths = sorted(mem, key=int)
    lines = ["| method | time | memory (XLA) at T = " + f"{r['length']:,}" + " |",
             "| --- | --- | --- |",
             f"| naive: jacfwd per step, matmul, SVD norm | {s['naive_short']:.1f} s | "
             f"{mib(mem[str(r['length'])]['naive'])} |",
             f"| naive without the SVD | {s['naive_product_only_short']:.1f} s | — |",
             f"| `jacobian_norms(method=\"matfree\")`, k = {r['k']} | {s['matfree_short']:.1f} s "
             f"({r['speedup_same_length']:.1f}× faster than naive) | "
             f"{mib(mem[str(r['length'])]['matfree'])} |", "",
             "| T | " + " | ".join(f"{int(t):,}" for t in lengths) + " |",
             "|---|" + "---|" * len(lengths),
             "| matrix-free temporaries | " + " | ".join(mib(mem[t]["matfree_temporaries"])
                                                     for t in lengths) + " |",
             "| naive total | " + " | ".join(mib(mem[t]["naive"]) for t in lengths) + " |"]
    err = r["max_abs_log_error_vs_naive"]
    return "\n".join([f"tanh Elman, H = {r['hidden']}, T = {r['naive_length']:,}, float32:", "",
                      *lines, "",
                      f"Largest |Δ log-norm| against naive: {err['matfree']:.1e} over the "
                      f"{err['steps_compared']} steps where the naive product is a normal float.",
                      "", f"*Measured on: platform {r['platform']}.*"])


def parallel(_: dict | None = None) -> str:
    from benchmarks.parallel_readme import readme_block

    return readme_block(RESULTS).rstrip()


BLOCKS: dict[str, tuple[str, Callable[[dict], str]]] = {
    "cells": ("cells", cells),
    "memory": ("cells", memory),
    "cells_vs_commit": ("cells_vs_commit", cells_vs_commit),
    "sweep": ("sweep", sweep),
    "longrange": ("longrange", longrange),
    "longrange_step": ("longrange_step", longrange_step),
    "hopfield": ("hopfield", hopfield),
    "jacobians": ("jacobians", jacobians),
}


def block(name: str, folder: Path = RESULTS) -> str:
    """The Markdown of benchmark block ``name`` (a key of :data:`BLOCKS`, or ``parallel``)."""
    if name == "parallel":
        return parallel()
    if name not in BLOCKS:
        raise KeyError(f"unknown benchmark block {name!r}: expected one of "
                       f"{', '.join([*BLOCKS, 'parallel'])}")
    file, make = BLOCKS[name]
    report = load(file, folder)
    if report is None:
        return f"No report: `benchmarks/results/{file}.json` is missing."
    return make(report)
