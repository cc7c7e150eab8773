
"""char_lm and truncated_bptt end to end at tiny size, including resume from checkpoints."""

import json
import math

import pytest

from experiments import char_lm, truncated_bptt
from rnnjax.train import read_metrics

CHAR_TINY = ["--train.cells", "elman", "--train.hidden-size", "8", "--train.embed-size", "4",
             "--train.seq-len", "8", "--train.batch-size", "4", "--corpus-chars", "3000",
             "--hello.steps", "5", "--ngram.orders", "1", "2", "3", "--ngram.alphas", "1.0",
             "--train.eval-every", "2", "--train.checkpoint-every", "2", "--train.log-every", "1",
             "--sample.chars", "12", "--sample.temperatures", "0", "1"]


def _same_curves_in_tensorboard(run, records):
    """With the optional writer installed, the study's event files hold metrics.jsonl's scalars."""
    try:
        from tests.train.test_tensorboard import read_scalars
    except pytest.skip.Exception:
        return  # tensorboardX is not installed
    from rnnjax.train.tensorboard import scalars

    shown = read_scalars(run / "tensorboard")
    assert sorted(shown) == [r["step"] for r in records]
    for r in records:
        assert shown[r["step"]] == pytest.approx(scalars(r), rel=1e-6)


@pytest.mark.slow
def test_char_lm_tiny_and_resume(tmp_path, capsys):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("the cat sees the dog. the dogs see a cat.\n" * 40)
    work = tmp_path / "run"
    argv = [*CHAR_TINY, "--corpus", str(corpus), "--workdir", str(work)]
    assert char_lm.main([*argv, "--train.steps", "3"]) == 0
    metrics = work / "runs" / "elman" / "metrics.jsonl"
    assert [r["step"] for r in read_metrics(metrics)] == [1, 2, 3]
    # more steps on the same workdir: resumes from the step-3 checkpoint, keeps the records
    assert char_lm.main([*argv, "--train.steps", "5"]) == 0
    records = read_metrics(metrics)
    assert [r["step"] for r in records] == [1, 2, 3, 4, 5]
    assert all("time" not in r for r in records)
    _same_curves_in_tensorboard(work / "runs" / "elman", records)
    assert sorted(p.name for p in (work / "runs" / "elman" / "checkpoints").iterdir()
                  if p.name.isdigit()) == ["3", "4", "5"]
    summary = json.loads((work / "summary.json").read_text())
    cell = summary["cells"]["elman"]
    ppl = cell["test_perplexity"]
    assert 1.0 <= ppl["ci"][0] <= ppl["mean"] <= ppl["ci"][1] and "steps_per_s" not in cell
    assert (ppl["interval"], ppl["ci_level"], ppl["n"]) == ("t", 0.95, len(ppl["per_seed"]))
    # the curve's perplexities are exp of the logged validation losses
    logged = {r["step"]: r["valid_loss"] for r in records if "valid_loss" in r}
    assert [row[0] for row in cell["curve"]] == [2, 3, 4, 5]  # and at the end of each run
    assert all(math.isclose(p, math.exp(v), rel_tol=1e-12)  # one value per seed
               for s, *per_seed in cell["curve"] for p, v in zip(per_seed, logged[s], strict=True))
    ngram = json.loads((work / "ngram.json").read_text())
    assert [r["order"] for r in ngram["rows"]] == [1, 2, 3]
    assert ngram["rows"][2]["test_perplexity"] < ngram["rows"][0]["test_perplexity"]
    samples = json.loads((work / "samples.json").read_text())["elman"]
    assert set(samples) == {"0.0", "1.0"} and all(s.startswith("the ") for s in samples.values())
    assert all(len(s) == len("the ") + 12 for s in samples.values())
    hello = json.loads((work / "hello.json").read_text())
    assert hello["inputs"] == "hell" and len(hello["cells"]["elman"]["probs"]) == 4
    for png in ("hello.png", "perplexity.png", "samples.png"):
        assert (work / png).stat().st_size > 10_000
    index = json.loads((work / "index.json").read_text())
    assert "Elman" in index["headline"] and "n-gram" in index["headline"]
    # fewer steps than the workdir holds, and no checkpoint kept there: refused in one line
    capsys.readouterr()
    assert char_lm.main([*argv, "--train.steps", "2"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: "), err
    assert [r["step"] for r in read_metrics(metrics)] == [1, 2, 3, 4, 5]
    # plot-only redraws from the saved results
    (work / "hello.png").unlink()
    assert char_lm.main(["--plot-only", "--workdir", str(work)]) == 0
    assert (work / "hello.png").exists()


@pytest.mark.slow
def test_truncated_bptt_tiny_and_refuses_other_config(tmp_path, capsys):
    argv = ["--task.seq-len", "8", "--task.lag", "3", "--methods.k1", "2", "--methods.k2s", "2",
            "--methods.naive-chunks", "4", "--train.hidden-size", "4", "--train.batch-size", "4",
            "--steps", "4", "--train.seeds", "2", "--train.n-test", "8", "--train.eval-every", "2",
            "--train.checkpoint-every", "2", "--workdir", str(tmp_path)]
    assert truncated_bptt.main(argv) == 0
    summary = json.loads((tmp_path / "summary.json").read_text())
    names = sorted({r["name"] for r in summary["rows"]})
    assert names == ["full", "reset_4", "tbptt_k2_2"]
    assert len(summary["rows"]) == 3 * 2
    assert all(0.0 <= r["test_accuracy"] <= 1.0 for r in summary["rows"])
    curves = json.loads((tmp_path / "curves.json").read_text())
    assert [p["batch"] for p in curves["full"]] == [2, 4]
    # TBPTT(2, 2) makes 4 updates per batch of length 8; full BPTT one
    rows = {r["name"]: r for r in summary["rows"]}
    assert rows["tbptt_k2_2"]["updates_per_batch"] == 4 and rows["full"]["updates_per_batch"] == 1
    # (resuming a finished or killed run is checked by the char_lm test and in test_core)
    for png in ("accuracy_vs_k2.png", "curves.png"):
        assert (tmp_path / png).stat().st_size > 10_000
    # a different config on the same workdir is refused in one line; the checkpoints stay
    capsys.readouterr()
    assert truncated_bptt.main([*argv, "--train.hidden-size", "5"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "different config" in err[0] and "hidden_size" in err[0], err
    assert (tmp_path / "runs" / "full" / "checkpoints" / "4").exists()
