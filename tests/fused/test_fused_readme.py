"""The README table of the fused benchmark comes from the device reports alone."""

import json

from benchmarks.fused_readme import readme_block


def test_table_from_reports_smoke_runs_left_out(tmp_path):
    assert "No device report" in readme_block(tmp_path)
    row = {"cell": "lstm", "B": 16, "T": 1000, "I": 32, "H": 32,
           "ms": {"scan": 30.0, "fused": 3.0, "flax": 33.0, "torch": 2.5}, "errors": {"cudnn": "X"}}
    report = {"platform": "gpu", "device": "NVIDIA H100", "jax": "0.0", "torch": "2.0",
              "loss": "mean", "precision": "highest", "repeats": 5, "smoke": False, "rows": [row]}
    (tmp_path / "fused_h100.json").write_text(json.dumps(report))
    (tmp_path / "fused_cpu.json").write_text(json.dumps({**report, "device": "cpu", "smoke": True}))
    text = readme_block(tmp_path)
    assert "| NVIDIA H100 | lstm | 16 | 1,000 | 32 | 32 | 30 ms | 3 ms | failed | 33 ms | 2.5 ms | 11× | 0.83× |" in text
    assert "| cpu |" not in text
