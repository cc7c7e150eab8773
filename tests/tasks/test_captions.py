"""Captioned shape images: captions describe exactly what is drawn, left to right."""

import math

import jax
import numpy as np
import pytest

from rnnjax.tasks import captions as cap


def _inside(shape, r, dx, dy):
    """Pixel-by-pixel reference of the shape definitions in the docstring."""
    if shape == "square":
        return max(abs(dx), abs(dy)) <= r
    if shape == "circle":
        return math.hypot(dx, dy) <= r
    if shape == "triangle":
        return abs(dy) <= r and abs(dx) <= (dy + r) / 2
    return (abs(dx) <= r / 3 and abs(dy) <= r) or (abs(dy) <= r / 3 and abs(dx) <= r)


@pytest.mark.parametrize("shape", range(4))
def test_shape_mask_matches_pixel_loop(shape):
    r, cx, cy = 5.5, 7.3, 8.6
    mask = np.asarray(cap.shape_mask(shape, r, cx, cy))
    ref = np.array([[_inside(cap.SHAPES[shape], r, x - cx, y - cy) for x in range(16)]
                    for y in range(16)])
    np.testing.assert_array_equal(mask, ref)


def test_circle_area_is_pi_r_squared():
    rng = np.random.default_rng(0)
    areas = [np.asarray(cap.shape_mask(1, 5.5, *rng.uniform(6, 9, 2))).sum() for _ in range(50)]
    assert abs(np.mean(areas) / (math.pi * 5.5**2) - 1) < 0.05


def test_captions_describe_the_pixels():
    c = cap.generate(200, key=jax.random.key(0), noise=0.0)
    images, tokens, lengths, objects = map(np.asarray, c)
    assert images.shape == (200, 16, 32, 3) and tokens.shape == (200, cap.CAPTION_LEN)
    assert 0.3 < (lengths == 10).mean() < 0.7 and set(lengths.tolist()) == {5, 10}
    for img, tok, n, obj in zip(images, tokens, lengths, objects, strict=True):
        assert tok[n - 1] == cap.EOS and (tok[n:] == cap.PAD).all()
        described = cap.decode(tok).split(" and ")
        drawn = [o for o in obj if o[0] >= 0]
        assert len(described) == len(drawn)
        for text, o in zip(described, drawn, strict=True):
            assert text == f"a {cap.SIZES[o[2]]} {cap.COLOURS[o[1]]} {cap.SHAPES[o[0]]}"
        for side, o in enumerate(obj):
            half = img[:, 16 * side:16 * (side + 1)]
            lit = half.max(-1) > 0
            if o[0] < 0:
                assert not lit.any()
                continue
            np.testing.assert_allclose(half[lit], np.broadcast_to(cap.RGB[o[1]], half[lit].shape))
            r = cap.HALF_WIDTHS[o[2]]
            assert 0.2 * (2 * r) ** 2 < lit.sum() <= (2 * r + 1) ** 2


def test_noise_and_purity():
    a = cap.generate(8, key=jax.random.key(3), noise=0.1)
    b = cap.generate(8, key=jax.random.key(3), noise=0.1)
    np.testing.assert_array_equal(a.images, b.images)
    assert float(a.images.min()) >= 0.0 and float(a.images.max()) <= 1.0
    assert 0.02 < float(a.images[..., 0][a.images.max(-1) < 0.5].std()) < 0.1


def test_bad_input():
    with pytest.raises(ValueError, match="p_two"):
        cap.generate(2, key=jax.random.key(0), p_two=1.5)


@pytest.mark.slow
def test_experiment_end_to_end_and_resume(tmp_path):
    import json

    from experiments import caption as exp

    tiny = ["--quick", "--steps", "4", "--model.hidden-size", "4", "--model.embed-size", "4",
            "--model.features", "2", "--model.feature-size", "4", "--data.n-test", "16",
            "--train.eval-every", "2", "--train.batch-size", "4"]
    assert exp.main([*tiny, "--workdir", str(tmp_path)]) == 0
    for f in ("summary.json", "curves.json", "samples.npz", "index.json", "captions.png",
              "curves.png"):
        assert (tmp_path / f).exists(), f
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert 0.0 <= summary["exact_match"] <= summary["count_accuracy"] <= 1.0
    assert len(summary["examples"]) == 12
    assert exp.main([*tiny, "--steps", "6", "--workdir", str(tmp_path)]) == 0
    lines = (tmp_path / "runs" / "captioner" / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(x)["step"] for x in lines] == [2, 4, 6]


@pytest.mark.parametrize("flags", [["--data.p-two", "1.5"], ["--train.learning-rate", "nan"],
                                   ["--model.hidden-size", "0"]])
def test_experiment_rejects_bad_config(tmp_path, flags, capsys):
    from experiments import caption as exp

    assert exp.main(["--quick", *flags, "--workdir", str(tmp_path / "w")]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1
    assert not (tmp_path / "w").exists()
