"""The benchmarks page's tables come from the reports alone and name the machine of each."""

import json

import pytest

from benchmarks import report


def _cells(tmp_path, speeds):
    rows = [{"cell": "lstm", "B": 2, "T": 3, "I": 4, "H": 5, "rnnjax_ms": 10.0, "flax_ms": 10.0 * s,
             "rnnjax_hoisted_ms": 20.0, "speedup": s, "speedup_hoisted": s / 2,
             "rnnjax_peak_frac": 0.5, "flax_peak_frac": 0.25} for s in speeds]
    (tmp_path / "cells.json").write_text(json.dumps(
        {"device": "cpu", "cpu_count": 7, "matmul_peak_gflops": 100.0, "jax": "9.9", "speed": rows,
         "memory": [{"remat": "none", "T": 10, "B": 1, "H": 2, "total_MiB": 3.0},
                    {"remat": "per step", "T": 10, "B": 1, "H": 2, "total_MiB": 1.5}]}))


def test_tables_and_ranges_from_the_report_and_its_machine(tmp_path):
    _cells(tmp_path, [0.8, 1.25])
    text = report.block("cells", tmp_path)
    assert "| lstm | (2, 3, 4, 5) | 10 | 20 | 12 | 1.25× (0.62×) | 50% / 25% |" in text
    assert "0.80–1.25×" in text and "0.40–0.62×" in text  # the range is over the rows, not typed
    assert "device cpu, 7 CPU cores, jax 9.9" in text
    assert "| 10 | 3 MiB | 2 MiB |" in report.block("memory", tmp_path)


def test_a_missing_report_says_so_and_an_unknown_block_is_refused(tmp_path):
    assert report.block("sweep", tmp_path) == "No report: `benchmarks/results/sweep.json` is missing."
    with pytest.raises(KeyError, match="unknown benchmark block 'nope'"):
        report.block("nope", tmp_path)


def test_every_committed_report_renders_with_its_machine():
    for name in report.BLOCKS:
        text = report.block(name)
        assert not text.startswith("No report"), name
        assert "easured on" in text or "jax" in text, name
