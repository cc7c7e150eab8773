"""The README's parallel wall-time tables come from the device reports alone; a device without a
report has no rows."""

import json

from benchmarks.parallel_readme import readme_block


def report(platform, device, scale):
    return {"platform": platform, "device": device, "cpu_count": 2, "jax": "0.0", "skipped": [],
            "rows": [{"cell": "mingru", "hidden": 8, "B": 1, "T": 1000,
                      "ms": {"scan": 10.0, "associative": 20.0 * scale},
                      "depth": {"scan": 1000, "associative": 20}},
                     {"cell": "gru", "hidden": 4, "B": 64, "T": 1000,
                      "ms": {"scan": 10.0, "newton_full": 40.0 * scale, "newton_diagonal": 2.0},
                      "iterations": {"newton_full": 4, "newton_diagonal": 13},
                      "converged": {"newton_full": True, "newton_diagonal": False},
                      "depth": {"scan": 1000, "newton_full": 84, "newton_diagonal": 273}}]}


def test_tables_from_reports_and_missing_gpu_rows_left_out(tmp_path):
    assert "No device report" in readme_block(tmp_path)
    (tmp_path / "parallel_cpu.json").write_text(json.dumps(report("cpu", "cpu", 1.0)))
    text = readme_block(tmp_path)
    assert "H200" not in text
    assert "| CPU (2 cores) | mingru(8) | 1 | 1,000 | 10 ms | 20 ms | 0.5× | 1,000 → 20 |" in text
    assert ("| CPU (2 cores) | gru(4) | 64 | 1,000 | 10 ms | 40 ms (4) | 2 ms (13, not converged) "
            "| 0.25× / 5× | 1,000 → 84 / 273 |") in text
    assert "faster than the scan in 1 of 3 cases" in text
    (tmp_path / "parallel_gpu.json").write_text(json.dumps(report("gpu", "NVIDIA H200", 0.01)))
    text = readme_block(tmp_path)
    assert text.index("CPU (2 cores) | mingru") < text.index("NVIDIA H200 | mingru")
    assert "| NVIDIA H200 | mingru(8) | 1 | 1,000 | 10 ms | 0.2 ms | 50× |" in text
