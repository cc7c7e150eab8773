"""``experiments.check`` catches what differs in every kind of result file, and reads no file
into a traceback: NaN against a number, a number against a boolean, markdown tables, ``.npz``
arrays, the headline's numbers, and files that are empty, truncated, not UTF-8 or folders."""

import json
import math
from pathlib import Path

import numpy as np
import pytest

from experiments import check
from experiments.common import Study

STUDY = Study(name="toy", config=object, presets={"quick": None}, run=None, plot=None,
              tolerances={"loose": 0.1})


def _rows(tmp_path: Path, name: str, committed, rerun) -> list:
    """Write the two versions of one result file (bytes, text, JSON or arrays); compare."""
    for side, content in (("old", committed), ("new", rerun)):
        path = tmp_path / side / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        elif isinstance(content, str):
            path.write_text(content)
        elif name.endswith(".npz"):
            np.savez(path, **content)
        else:
            path.write_text(json.dumps(content))
    return check.compare_folders(STUDY, tmp_path / "old", tmp_path / "new")


@pytest.mark.parametrize("committed, rerun", [
    ({"x": math.nan}, {"x": 1.0}),
    ({"x": 1.0}, {"x": math.nan}),
    ({"x": math.inf}, {"x": -math.inf}),
    ({"x": 1.0}, {"x": True}),
    ({"x": 0}, {"x": False}),
    ({"x": 1}, {"x": "1"}),
    ({"x": None}, {"x": 0}),
    ({"x": []}, {"x": {}}),
    ({"x": [1]}, {"x": []}),
])
def test_json_values_of_another_kind_differ(tmp_path, committed, rerun):
    rows = _rows(tmp_path, "s.json", committed, rerun)
    assert rows and all(r[0] == "s.json" and r[4] == math.inf for r in rows), rows


@pytest.mark.parametrize("committed, rerun", [
    ({"x": math.nan}, {"x": math.nan}),
    ({"x": 1}, {"x": 1.0}),
    ({"x": math.inf}, {"x": math.inf}),
    ({"loose": 1.0}, {"loose": 1.05}),
])
def test_json_values_that_match(tmp_path, committed, rerun):
    assert _rows(tmp_path, "s.json", committed, rerun) == []


TABLE = "| model | loss |\n|---|---|\n| lstm | {} |\n| elman | 0.9 [0.87, 0.94] |\n"


def test_markdown_tables_compare_their_numbers_and_words(tmp_path):
    # loosest tolerance 0.1, plus half a unit in the last printed place of each number
    assert _rows(tmp_path, "t.md", TABLE.format("0.0166"), TABLE.format("0.0171")) == []
    rows = _rows(tmp_path, "t.md", TABLE.format("0.0166"), TABLE.format("0.0200"))
    assert [r[:4] for r in rows] == [("t.md", "(text) (number 1)", "0.0166", "0.0200")]
    rows = _rows(tmp_path, "t.md", TABLE.format("0.0166"), TABLE.format("nan"))
    assert len(rows) == 1 and "(text at character" in rows[0][1]
    rows = _rows(tmp_path, "t.md", TABLE.format("1"), TABLE.format("1").replace("lstm", "gru"))
    assert len(rows) == 1 and "gru" in rows[0][3]


def test_the_headline_compares_its_numbers(tmp_path):
    def index(headline):
        return {"title": "t", "headline": headline, "figures": [], "tables": []}

    assert _rows(tmp_path, "index.json", index("loss 0.25 at T = 100"),
                 index("loss 0.26 at T = 100")) == []
    rows = _rows(tmp_path, "index.json", index("loss 0.25 at T = 100"),
                 index("loss 0.5 at T = 100"))
    assert [r[:4] for r in rows] == [("index.json", "headline (number 1)", "0.25", "0.5")]
    rows = _rows(tmp_path, "index.json", index("LSTM beats Elman"), index("LSTM ties Elman"))
    assert len(rows) == 1 and rows[0][1].startswith("headline (text at character")


def test_npz_arrays_compare_by_value_dtype_and_shape(tmp_path):
    a = np.array([[1.0, np.nan], [3.0, 4.0]], np.float32)
    assert _rows(tmp_path, "a.npz", {"x": a}, {"x": a.copy()}) == []
    b = a.copy()
    b[1, 0] = 3.1
    rows = _rows(tmp_path, "a.npz", {"x": a}, {"x": b})
    assert [r[:4] for r in rows] == [("a.npz", "x[1, 0] (1 of 4)", 3.0, pytest.approx(3.1))]
    c = a.copy()
    c[0, 0] = np.nan
    assert _rows(tmp_path, "a.npz", {"x": a}, {"x": c})[0][1] == "x[0, 0] (1 of 4)"
    assert _rows(tmp_path, "a.npz", {"x": a}, {"x": a.astype(np.float64)})[0][1] == "x (dtype, shape)"
    assert _rows(tmp_path, "a.npz", {"x": a}, {"x": a, "y": a})[0][1:3] == ("y", "missing")
    images = np.arange(12, dtype=np.uint8)
    assert _rows(tmp_path, "a.npz", {"i": images}, {"i": images[::-1].copy()})[0][1] == "i[0] (12 of 12)"


@pytest.mark.parametrize("content, reason", [
    (b"", "(unreadable: rerun empty)"),
    (b'{"x": [1, 2', "(unreadable: rerun not valid JSON"),
    (b'{"x": "\xff"}', "(unreadable: rerun not UTF-8"),
    (None, "(unreadable: rerun a folder where a file belongs)"),
])
def test_an_unreadable_file_is_one_row(tmp_path, capsys, content, reason):
    old, new = tmp_path / "old", tmp_path / "new"
    for side in (old, new):
        side.mkdir()
        (side / "s.json").write_text('{"x": 1}')
    (new / "s.json").unlink()
    if content is None:
        (new / "s.json").mkdir()
        (new / "s.json" / "inner.json").write_text("{}")
    else:
        (new / "s.json").write_bytes(content)
    rows = check.compare_folders(STUDY, old, new)
    assert len(rows) == 1 and rows[0][0] == "s.json" and rows[0][1].startswith(reason)
    assert rows[0][2:4] == ("ok", "unreadable")
    check.print_table("toy", rows)
    assert reason in capsys.readouterr().out
    npz = tmp_path / "bad.npz"
    npz.write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(check.Unreadable, match="not a readable .npz archive"):
        check.load(npz)


def test_the_results_index_leaves_out_an_unreadable_index_in_one_line(tmp_path, capsys):
    from experiments.__main__ import build_index

    for name, content in (("hopfield", b"\xff{"), ("char_lm", b'{"title": "T", "headline": "h 1"}')):
        (tmp_path / name).mkdir()
        (tmp_path / name / "index.json").write_bytes(content)
    page = build_index(tmp_path)
    assert "## T (`char_lm`)" in page and "hopfield" not in page
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"{tmp_path / 'hopfield' / 'index.json'} left out of the index: cannot be read "
                   "(UnicodeDecodeError)"]
