"""char_lm without training: overflow-safe perplexities, figures of a diverged run, flag checks."""

import math

import pytest

from experiments import char_lm
from experiments.char_lm import plots
from experiments.char_lm.run import perplexity
from experiments.common import read_json, write_json
from experiments.common.seeds import across_seeds


def test_perplexity_of_a_huge_finite_loss_is_inf_not_an_error():
    assert perplexity(30801.0) == math.inf  # math.exp(30801.0) raises OverflowError
    assert math.isclose(perplexity(math.log(1.7)), 1.7, rel_tol=1e-12)
    assert math.isnan(perplexity(math.nan))


def _diverged(tmp_path):
    cell = {"test_perplexity": across_seeds([math.inf, 2.0]),
            "valid_perplexity": across_seeds([math.inf, 2.1]), "params": 10,
            "hidden_size": 4, "steps": 4, "curve": [[2, 3.5, 3.4], [4, math.inf, 2.1]],
            "train_loss": [[1, 2.0, 2.0], [4, 30801.0, 0.7]]}
    ok = {**cell, "test_perplexity": across_seeds([2.4, 2.6]),
          "valid_perplexity": across_seeds([2.6, 2.6]), "curve": [[2, 3.0, 3.1], [4, 2.6, 2.6]]}
    ngram = {"rows": [{"order": n, "alpha": 1.0, "valid_perplexity": 4.0 / n,
                       "test_perplexity": 4.0 / n} for n in (1, 2, 3, 4)]}
    ngram["best"] = ngram["rows"][-1]
    write_json(tmp_path / "summary.json", {"cells": {"elman": cell, "lstm": ok}, "seeds": 2})
    write_json(tmp_path / "ngram.json", ngram)
    return read_json(tmp_path / "summary.json"), read_json(tmp_path / "ngram.json")


def test_a_diverged_cell_is_saved_as_inf_and_named_in_the_headline(tmp_path):
    summary, ngram = _diverged(tmp_path)
    assert summary["cells"]["elman"]["test_perplexity"]["mean"] == math.inf  # JSON Infinity
    hello = {"seeds": 2, "cells": {"elman": {"p_correct": [[0.95] * 4, [0.95] * 4]},
                                   "lstm": {"p_correct": [[0.5] * 4, [0.95] * 4]}}}
    line = plots.headline(hello, summary, ngram)
    # LSTM: 2.5 ± t_{1, 0.975} · 0.1 = 2.5 ± 1.2706 (t_{1, 0.975} = tan(0.475 π) = 12.706)
    assert line.startswith("test perplexity per character, mean [range of 2 seeds (1 diverged); "
                           "95 % t-interval, 2 seeds]: LSTM 2.500 [1.229, 3.771], Elman (tanh) "
                           "inf (diverged)"), line
    assert "(n = 4) 1.000" in line and '"hello" learned by 3/4 runs' in line
    plots.perplexity_figure(summary, ngram, tmp_path / "perplexity.png")
    assert (tmp_path / "perplexity.png").stat().st_size > 10_000


@pytest.mark.parametrize("argv", [["--sample.temperatures", "nan"], ["--sample.temperatures", "inf"],
                                  ["--sample.temperatures", "-1"], ["--train.learning-rate", "nan"],
                                  ["--ngram.alphas", "inf"], ["--train.cells", "rnn"],
                                  ["--corpus", "/no/such/file.txt"]])
def test_bad_flags_are_one_line_before_anything_is_written(argv, tmp_path, capsys):
    assert char_lm.main([*argv, "--workdir", str(tmp_path / "w")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: "), err
    assert not (tmp_path / "w").exists()

