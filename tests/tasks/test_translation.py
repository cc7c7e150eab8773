"""Numbers to words: every pair against an independent Python spelling."""

import jax
import numpy as np
import pytest

from rnnjax.tasks import translation as tr

_SMALL = "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen " \
         "fifteen sixteen seventeen eighteen nineteen".split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()


def _words(n: int) -> str:
    """Reference spelling, written independently of the module."""
    if n < 20:
        return _SMALL[n]
    if n < 100:
        return _TENS[n // 10] + ("" if n % 10 == 0 else " " + _SMALL[n % 10])
    if n < 1000:
        rest = n % 100
        return _SMALL[n // 100] + " hundred" + ("" if rest == 0 else " " + _words(rest))
    rest = n % 1000
    return _words(n // 1000) + " thousand" + ("" if rest == 0 else " " + _words(rest))


def test_numbers_match_the_reference():
    """Every number below 10 000, then 20 000 random ones up to a million."""
    rng = np.random.default_rng(0)
    numbers = np.concatenate([np.arange(10_000), rng.integers(10_000, tr.MAX_NUMBER, 20_000),
                              [tr.MAX_NUMBER - 1, 100_000, 100_001, 110_000]])
    p = tr.pairs(numbers)
    src, src_lengths, tgt, tgt_lengths = (np.asarray(a) for a in p[:4])
    assert src.shape == (len(numbers), tr.SRC_LEN) and tgt.shape == (len(numbers), tr.TGT_LEN)
    for i, n in enumerate(numbers.tolist()):
        words = _words(n)
        assert tr.decode(tgt[i]) == words
        assert tr.decode(src[i], tr.SRC_VOCAB) == " ".join(str(n))
        assert src_lengths[i] == len(str(n)) and tgt_lengths[i] == len(words.split()) + 1
        assert tgt[i, tgt_lengths[i] - 1] == tr.EOS
        assert (tgt[i, tgt_lengths[i]:] == tr.PAD).all() and (src[i, src_lengths[i]:] == tr.PAD).all()
    assert tgt_lengths.max() == tr.TGT_LEN


def test_split_is_disjoint_and_complete():
    train, test = tr.split(key=jax.random.key(0), n_test=300, max_number=1000)
    assert len(test) == 300 and len(train) == 700
    assert sorted(np.concatenate([train, test]).tolist()) == list(range(1000))
    again, _ = tr.split(key=jax.random.key(0), n_test=300, max_number=1000)
    np.testing.assert_array_equal(train, again)


@pytest.mark.parametrize("call, match", [
    (lambda: tr.pairs([5, tr.MAX_NUMBER]), "numbers must lie"),
    (lambda: tr.pairs([[1, 2]]), "1-D"),
    (lambda: tr.split(key=jax.random.key(0), n_test=0), "n_test"),
    (lambda: tr.split(key=jax.random.key(0), max_number=tr.MAX_NUMBER + 1), "max_number"),
])
def test_bad_input(call, match):
    with pytest.raises(ValueError, match=match):
        call()


@pytest.mark.slow
def test_experiment_end_to_end_and_resume(tmp_path):
    import json

    from experiments import translate as exp

    tiny = ["--quick", "--train.modes", "scheduled", "--steps", "4", "--model.hidden-size", "4",
            "--model.embed-size", "4", "--data.n-test", "20", "--train.eval-every", "2",
            "--train.batch-size", "8", "--data.max-number", "500"]
    assert exp.main([*tiny, "--workdir", str(tmp_path)]) == 0
    for f in ("summary.json", "curves.json", "examples.json", "index.json", "exposure_bias.png",
              "curves.png"):
        assert (tmp_path / f).exists(), f
    summary = json.loads((tmp_path / "summary.json").read_text())
    for mode in ("scheduled",):
        s = summary["modes"][mode]
        assert 0.0 <= s["exact_match"] <= s["fr_token_acc"] + 1e-6 <= 1.0 + 1e-6
        assert len(s["tf_by_pos"]) == tr.TGT_LEN
    assert exp.main([*tiny, "--steps", "6", "--workdir", str(tmp_path)]) == 0
    lines = (tmp_path / "runs" / "scheduled" / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(x)["step"] for x in lines] == [2, 4, 6]


@pytest.mark.parametrize("flags", [["--train.modes", "beam"],
                                   ["--data.n-test", "600", "--data.max-number", "500"]])
def test_experiment_rejects_bad_config(tmp_path, flags, capsys):
    from experiments import translate as exp

    assert exp.main(["--quick", *flags, "--workdir", str(tmp_path / "w")]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1
    assert not (tmp_path / "w").exists()
