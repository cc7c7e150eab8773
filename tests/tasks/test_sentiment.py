"""The generated review corpus: labels follow the stated grammar, and only word order decides
the CONTRAST kind; the text<TAB>label loader."""

import jax
import numpy as np
import pytest

from rnnjax.tasks import sentiment as s


def _rule(words: list[str]) -> int:
    """Reference semantics, written from the docstring: the clause after 'but' decides."""
    clause = words[words.index("but") + 1:] if "but" in words else words
    polarity = 1 if clause[-1] in s.POSITIVE else -1
    if "not" in clause:
        polarity = -polarity
    return int(polarity > 0)


@pytest.fixture(scope="module")
def corpus():
    return s.generate(4000, key=jax.random.key(1))


def test_shapes_padding_and_kinds(corpus):
    tokens, lengths, labels, kinds = map(np.asarray, corpus)
    assert tokens.shape == (4000, s.MAX_LEN) and tokens.dtype == np.int32
    pos = np.arange(s.MAX_LEN)[None, :]
    assert ((tokens != s.PAD) == (pos < lengths[:, None])).all()
    assert set(np.unique(kinds)) == {s.SIMPLE, s.NEGATED, s.CONTRAST}
    for k in range(3):  # roughly balanced kinds and labels
        assert abs((kinds == k).mean() - 1 / 3) < 0.05
        assert abs(labels[kinds == k].mean() - 0.5) < 0.06


def test_labels_follow_the_grammar(corpus):
    for t, n, y, k in zip(*map(np.asarray, corpus), strict=True):
        words = s.decode(t, n).split()
        assert _rule(words) == y, words
        assert ("but" in words) == (k == s.CONTRAST)
        assert ("not" in words[-5:]) == (k == s.NEGATED) or k == s.CONTRAST
        if k == s.CONTRAST:  # the two clauses have opposite polarity
            i = words.index("but")
            assert _rule(words[:i]) != _rule(words[i + 1:])


def test_swapping_clauses_keeps_the_bag_and_flips_the_label(corpus):
    for t, n, y, k in zip(*map(np.asarray, corpus), strict=True):
        if k != s.CONTRAST:
            continue
        words = s.decode(t, n).split()
        i = words.index("but")
        swapped = words[i + 1:] + ["but"] + words[:i]
        assert sorted(swapped) == sorted(words)
        assert _rule(swapped) == 1 - y


def _bags(c):
    tokens, lengths = np.asarray(c.tokens), np.asarray(c.lengths)
    real = np.arange(tokens.shape[1])[None, :] < lengths[:, None]
    rows = np.broadcast_to(np.arange(len(tokens))[:, None], tokens.shape)
    counts = np.zeros((len(tokens), len(s.VOCAB)))
    np.add.at(counts, (rows[real], tokens[real]), 1)
    return counts


def _naive_bayes_accuracy(train, test):
    """Multinomial naive Bayes with add-one smoothing, in NumPy."""
    x, y = _bags(train), np.asarray(train.labels)
    log_prior = np.log(np.array([(y == c).mean() for c in (0, 1)]))
    log_lik = np.stack([np.log((x[y == c].sum(0) + 1) / (x[y == c].sum() + x.shape[1]))
                        for c in (0, 1)])
    pred = np.argmax(_bags(test) @ log_lik.T + log_prior, axis=1)
    return (pred == np.asarray(test.labels)).mean()


def test_bag_of_words_is_at_chance_only_on_the_contrast_kind():
    def kind(k, n, seed):
        p = np.eye(3)[k]
        return s.generate(n, key=jax.random.key(seed), kind_probs=p)

    assert _naive_bayes_accuracy(kind(s.SIMPLE, 4000, 2), kind(s.SIMPLE, 4000, 3)) > 0.97
    acc = _naive_bayes_accuracy(kind(s.CONTRAST, 4000, 4), kind(s.CONTRAST, 4000, 5))
    assert abs(acc - 0.5) < 4 * np.sqrt(0.25 / 4000), acc  # 4 sigma of a fair coin


def test_generate_is_a_pure_function_of_the_key():
    a = s.generate(50, key=jax.random.key(7))
    b = s.generate(50, key=jax.random.key(7))
    c = s.generate(50, key=jax.random.key(8))
    assert all((np.asarray(x) == np.asarray(y)).all() for x, y in zip(a, b, strict=True))
    assert not (np.asarray(a.tokens) == np.asarray(c.tokens)).all()


def test_generate_rejects_bad_input():
    with pytest.raises(ValueError, match="kind_probs"):
        s.generate(4, key=jax.random.key(0), kind_probs=(0.5, 0.6, 0.0))
    with pytest.raises(ValueError, match="n must be"):
        s.generate(-1, key=jax.random.key(0))


def test_load_tsv_sst2_format(tmp_path):
    path = tmp_path / "train.tsv"
    path.write_text("sentence\tlabel\n"
                    "a gripping , moving film\t1\n"
                    "\n"
                    "Not worth the ticket.\t0\n"
                    "a moving ending\t1\n")
    loaded = s.load_tsv(path)
    c = loaded.corpus
    assert loaded.label_names == ("0", "1")
    np.testing.assert_array_equal(c.labels, [1, 0, 1])
    np.testing.assert_array_equal(c.lengths, [5, 5, 3])
    assert loaded.vocab[:3] == ("<pad>", "<unk>", "a")  # most frequent word first
    assert s.decode(c.tokens[1], c.lengths[1], loaded.vocab) == "not worth the ticket ."
    assert s.decode(c.tokens[2], vocab=loaded.vocab) == "a moving ending"


def test_load_tsv_string_labels_given_vocab_and_truncation(tmp_path):
    path = tmp_path / "mine.tsv"
    path.write_text("good film\tpos\nbad film\tneg\nfilm with a tab\tinside\tpos\n")
    loaded = s.load_tsv(path, vocab=s.VOCAB, max_len=3)
    assert loaded.label_names == ("neg", "pos")
    np.testing.assert_array_equal(loaded.corpus.labels, [1, 0, 1])
    assert loaded.corpus.tokens.shape == (3, 3)
    assert s.decode(loaded.corpus.tokens[2], vocab=s.VOCAB) == "film <unk> <unk>"


@pytest.mark.parametrize("content, match", [
    ("no tab here\n", "found no tab"),
    ("\t1\n", "empty text"),
    ("\n\n", "no examples"),
])
def test_load_tsv_bad_files(tmp_path, content, match):
    path = tmp_path / "bad.tsv"
    path.write_text(content)
    with pytest.raises(ValueError, match=match):
        s.load_tsv(path)


def test_load_tsv_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        s.load_tsv(tmp_path / "nope.tsv")


# ----------------------------------------------------------------------------- the experiment

TINY = ["--train.models", "lstm", "--train.steps", "6", "--train.hidden-size", "4",
        "--train.embed-size", "4", "--data.n-test", "8", "--train.eval-every", "3",
        "--train.batch-size", "8", "--train.checkpoint-every", "3"]


@pytest.mark.slow
def test_experiment_end_to_end_and_resume(tmp_path):
    import json

    from experiments import sentiment as exp

    assert exp.main([*TINY, "--workdir", str(tmp_path)]) == 0
    for f in ("config.json", "summary.json", "curves.json", "examples.json", "index.json",
              "accuracy_by_kind.png", "curves.png"):
        assert (tmp_path / f).exists(), f
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert sum(summary["n_test"].values()) == 8
    assert all(0.0 <= a <= 1.0 for a in summary["models"]["lstm"]["accuracy"].values())
    curves = json.loads((tmp_path / "curves.json").read_text())
    assert curves["lstm"]["step"] == [0, 3, 6]
    # resume: a longer run continues from the step-6 checkpoint
    assert exp.main([*TINY, "--train.steps", "9", "--workdir", str(tmp_path)]) == 0
    lines = (tmp_path / "runs" / "lstm" / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(x)["step"] for x in lines] == [3, 6, 9]
    examples = json.loads((tmp_path / "examples.json").read_text())
    assert examples and all(0.0 <= e["p_positive"] <= 1.0 for e in examples)


def _tsv(path, n=30):
    path.write_text("sentence\tlabel\n" + "".join(
        f"{'a fine film' if i % 2 else 'a dull film'} number {i}\t{i % 2}\n" for i in range(n)))
    return path


@pytest.mark.slow
def test_experiment_on_a_user_tsv(tmp_path):
    import json

    from experiments import sentiment as exp

    corpus = _tsv(tmp_path / "mine.tsv")
    out = tmp_path / "out"
    argv = [*TINY, "--train.models", "bow", "--corpus", str(corpus), "--workdir", str(out)]
    assert exp.main(argv) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["kinds"] == ["all"] and summary["n_test"] == {"all": 3}
    assert not (out / "examples.json").exists()
    # an edited file is new data: the same command refuses to continue the old run
    _tsv(corpus, n=40)
    assert exp.main(argv) == 2


@pytest.mark.parametrize("content, expected", [
    (None, "does not exist"),
    (b"a fine film\n", "expected 'text<TAB>label'"),
    (b"\xff\xfe\tbad\n", "corpus file"),
    ("".join(f"film {i}\t{i % 3}\n" for i in range(30)).encode(), "expected 2 classes"),
    (b"a fine film\t1\na dull film\t0\n", "at least 10 examples"),
])
def test_a_missing_or_bad_corpus_file_is_one_line(tmp_path, capsys, content, expected):
    from experiments import sentiment as exp

    corpus = tmp_path / "train.tsv"
    if content is not None:
        corpus.write_bytes(content)
    status = exp.main([*TINY, "--corpus", str(corpus), "--workdir", str(tmp_path / "w")])
    err = capsys.readouterr().err.strip().splitlines()
    assert status == 2 and len(err) == 1 and expected in err[0], err
    assert "Traceback" not in err[0]


def test_nonfinite_learning_rate_is_refused(tmp_path, capsys):
    from experiments import sentiment as exp

    assert exp.main(["--train.learning-rate", "nan", "--workdir", str(tmp_path / "w")]) == 2
    assert "learning_rate" in capsys.readouterr().err
    assert not (tmp_path / "w").exists()
