"""README and docs numbers come from the result files; the check command and the statistics are right."""

import json
import math
from pathlib import Path

import numpy as np
import pytest

from experiments import readme
from experiments.__main__ import build_index
from experiments.check import compare
from experiments.common.stats import (
    bootstrap_ci,
    median_interval,
    side_of_half,
    sign_side,
    staged_error,
    wilson_interval,
)

ROOT = Path(__file__).resolve().parents[2]


def test_readme_and_docs_blocks_equal_the_result_files(monkeypatch):
    monkeypatch.chdir(ROOT)
    assert readme.STUDIES.search((ROOT / "README.md").read_text()), "README.md has no studies table"
    pages = readme.pages()
    assert len(pages) > 10 and sum(bool(readme.BLOCK.search(p.read_text())) for p in pages) >= 10
    assert readme.main(["--check"]) == 0, "run python -m experiments.readme"  # pages and API pages


def test_a_block_follows_its_file(tmp_path, monkeypatch):
    """Change a number in a copied results folder: the rendered page changes with it."""
    import shutil

    monkeypatch.chdir(ROOT)
    shutil.copytree(ROOT / "results" / "caption", tmp_path / "caption")
    index = json.loads((tmp_path / "caption" / "index.json").read_text())
    page = "<!-- results: caption -->\nstale\n<!-- /results -->\n"
    out = readme.render(page, tmp_path, page=Path("docs/studies/caption.md"))
    assert "stale" not in out and index["headline"] in out
    assert "![captions](../results/caption/captions.png)" in out  # docs: figures embedded, from docs/
    index["headline"] = "exact match 12.3 %"
    (tmp_path / "caption" / "index.json").write_text(json.dumps(index))
    assert "exact match 12.3 %" in readme.render(page, tmp_path, page=Path("docs/studies/caption.md"))
    assert "[captions](results/caption/captions.png)" in readme.render(page, tmp_path)  # README: links
    fenced = "```text\n" + page + "```\n"
    assert readme.render(fenced, tmp_path) == fenced  # a marker shown in a code block stays


def test_studies_table_counts_the_verdicts_of_a_claims_table(monkeypatch):
    monkeypatch.chdir(ROOT)
    from experiments.jacobian_spectra.plots import readme_table

    folder = readme.preferred_folder("jacobian_spectra")
    rows = readme_table(ROOT / "results" / folder).splitlines()[2:]
    yes = sum(r.split("|")[-2].strip().startswith("yes") for r in rows)
    assert f"{yes} of {len(rows)} claims" in readme.verdict(folder)
    assert readme.verdict("caption").startswith(
        json.loads((ROOT / "results" / "caption" / "index.json").read_text())["headline"])


def test_results_index_is_generated_and_links_every_figure(monkeypatch):
    monkeypatch.chdir(ROOT)
    index = (ROOT / "results" / "README.md").read_text()
    assert index == build_index(), "run python -m experiments to rebuild results/README.md"
    for png in (ROOT / "results").rglob("*.png"):
        rel = png.relative_to(ROOT / "results").as_posix()
        if "/runs/" in f"/{rel}" or "/train/" in f"/{rel}":
            continue
        assert f"({rel})" in index, f"{rel} is not linked from results/README.md"


def test_every_committed_results_folder_records_its_command():
    import json

    from tests.experiments.test_conventions import PACKAGES

    configs = [c for name in PACKAGES for c in (ROOT / "results").glob(f"{name}*/**/config.json")]
    assert configs
    for config in configs:
        if any(p in config.parts for p in ("runs", "train", "checkpoints")):
            continue
        saved = json.loads(config.read_text())
        assert saved.get("command", "").startswith("python -m experiments."), config


def test_every_committed_results_folder_is_the_config_its_command_makes():
    """Rerunning a folder's recorded command in a fresh clone must not be refused as "results
    made with another config" (a setting added to a preset without regenerating the folder)."""
    import importlib
    import shlex

    from experiments.common import cli
    from experiments.common.workdir import _same
    from tests.experiments.test_conventions import PACKAGES

    configs = [c for name in PACKAGES for c in (ROOT / "results").glob(f"{name}*/**/config.json")]
    checked = 0
    for config in configs:
        if any(p in config.parts for p in ("runs", "train", "checkpoints")):
            continue
        saved = json.loads(config.read_text())
        argv = shlex.split(saved["command"])
        study = importlib.import_module(argv[2]).STUDY
        made = cli.parse(study, argv[3:]).config
        recorded = {k: v for k, v in saved["config"].items() if k != "execution"}
        assert _same(recorded, made, skip=("execution",)), config
        checked += 1
    assert checked >= len(PACKAGES)


def test_compare_flags_differences_beyond_tolerance():
    committed = {"rows": [{"loss": 1.0, "name": "a"}, {"loss": 0.5, "name": "b"}], "n": 3}
    same = {"rows": [{"loss": 1.0 + 1e-6, "name": "a"}, {"loss": 0.5, "name": "b"}], "n": 3}
    assert compare(committed, same, {}, 1e-4) == []
    moved = {"rows": [{"loss": 1.2, "name": "a"}, {"loss": 0.5, "name": "c"}], "n": 3}
    rows = compare(committed, moved, {}, 1e-4)
    assert [r[0] for r in rows] == ["rows[0].loss", "rows[1].name"]
    assert math.isclose(rows[0][3], 0.2 / 1.2)
    assert compare(committed, moved, {"loss": 0.5}, 1e-4)[0][0] == "rows[1].name"  # per key
    assert compare({"x": 1e-3}, {"x": 2e-3}, {}, 1e-4, absolute=0.01) == []
    assert compare({"x": [1]}, {"x": [1, 2]}, {}, 1e-4)[0][0] == "x[1]"  # missing numbers count
    # a number without a tolerance of its own takes its nearest enclosing key's
    a = {"acc": {"mean": 0.90, "ci": [0.8, 1.0]}, "other": {"mean": 0.90}}
    b = {"acc": {"mean": 0.95, "ci": [0.8, 1.0]}, "other": {"mean": 0.95}}
    assert [r[0] for r in compare(a, b, {"acc": 0.1}, 1e-4)] == ["other.mean"]
    assert compare(a, b, {"acc": 0.1, "mean": 1e-4}, 1e-4)[0][0] == "acc.mean"  # own key first


def test_wilson_interval_closed_forms():
    z = 1.959963984540054
    p, lo, hi = wilson_interval(0, 10)
    assert p == 0 and lo == 0 and math.isclose(hi, z**2 / (10 + z**2), rel_tol=1e-9)
    p, lo, hi = wilson_interval(10, 10)
    assert hi == 1 and math.isclose(lo, 10 / (10 + z**2), rel_tol=1e-9)
    p, lo, hi = wilson_interval(5, 10)  # symmetric about 1/2
    assert math.isclose(lo + hi, 1.0) and lo < 0.5 < hi
    with pytest.raises(ValueError, match="n > 0"):
        wilson_interval(0, 0)


def test_staged_error_is_the_closed_form_and_the_simulated_rate():
    # one look: 5/5 (p = 1/32) and 9/10 or more (11/1024) are the only counts placed above 1/2
    assert staged_error((5,)) == 1 / 32 and math.isclose(staged_error((10,)), 11 / 1024)
    # two looks: 5/5 at once, or 4/5 then 5/5 of the added seeds
    assert math.isclose(staged_error((5, 10)), 1 / 32 + 5 / 32 / 32)
    rng = np.random.default_rng(0)
    for p in (0.5, 0.3):  # simulated at p = 1/2 and below it (smaller)
        wins = rng.uniform(size=(200_000, 10)) < p
        first, total = wins[:, :5].sum(1), wins.sum(1)
        above = (first == 5) | ((first > 0) & (first < 5) & (total >= 9))
        assert [side_of_half(k, 5) for k in range(6)] == [-1, 0, 0, 0, 0, 1]
        if p == 0.5:
            assert abs(above.mean() - staged_error((5, 10))) < 4 * math.sqrt(0.036 / 200_000)
        else:
            assert above.mean() < staged_error((5, 10)) / 3
    with pytest.raises(ValueError, match="increasing"):
        staged_error((5, 5))


@pytest.mark.parametrize("n", [3, 5, 10, 20])
def test_sign_side_is_where_the_median_interval_of_signed_values_lies(n):
    for k in range(n + 1):
        values = [float(i + 1) for i in range(k)] + [-float(i + 1) for i in range(n - k)]
        _, lo, hi, _ = median_interval(values)
        assert sign_side(k, n) == (1 if lo > 0 else -1 if hi < 0 else 0), (n, k)


def test_the_paired_sign_rule_error_bound_with_ties_against_simulation():
    """Differences are +1, 0 (a tie) or -1; the median is 0 when P(+1) = ½; seeds are added while
    the median interval holds 0. ``max(sign_side, 0)`` adds seeds on every path not yet above,
    so its rate bounds the simulated one (here equal: no path placed below could rise above)."""
    def upper(k, n, level):
        return max(sign_side(k, n, level=level), 0)

    bound = staged_error((5, 10), side=upper)
    assert math.isclose(bound, 1 / 32 + 5 / 32 / 32) and staged_error((3,), side=upper) == 1 / 8
    rng = np.random.default_rng(2)
    for tie in (0.0, 0.3):
        d = rng.choice([1.0, 0.0, -1.0], p=[0.5, tie, 0.5 - tie], size=(30_000, 10))
        first = np.array([median_interval(row) for row in d[:, :5]])
        both = np.array([median_interval(row) for row in d])
        above = (first[:, 1] > 0) | ((first[:, 1] <= 0) & (first[:, 2] >= 0) & (both[:, 1] > 0))
        assert above.mean() < bound + 4 * math.sqrt(bound / 30_000), tie
        if tie == 0:
            assert abs(above.mean() - bound) < 4 * math.sqrt(bound / 30_000)


def test_bootstrap_interval_covers_the_mean_of_normal_samples():
    rng = np.random.default_rng(1)
    covered = 0
    for _ in range(200):
        x = rng.normal(size=30)
        _, lo, hi = bootstrap_ci(x, resamples=400, seed=int(rng.integers(1 << 30)))
        covered += lo <= 0.0 <= hi
    assert 0.88 <= covered / 200 <= 0.99  # nominal 95 %
    assert bootstrap_ci([3.0]) == (3.0, 3.0, 3.0)

