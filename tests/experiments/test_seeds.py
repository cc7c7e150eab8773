"""The seed helpers: per-seed batch streams, the across-seeds summary, the band."""

import jax
import numpy as np

from experiments.common.seeds import across_seeds, band, per_seed_batches, seed_keys


def test_per_seed_batches_equal_a_loop_over_seeds():
    keys = seed_keys(3, 4, salt=7)
    assert keys.shape == (4,)

    def one(k, s):
        return jax.random.normal(k, (2,)) + s

    got = np.asarray(per_seed_batches(one, keys)(5))
    want = np.stack([np.asarray(one(jax.random.fold_in(k, 5), 5)) for k in keys])
    np.testing.assert_allclose(got, want, rtol=1e-6)
    assert not np.allclose(got[0], got[1])  # the seeds' streams differ


def test_across_seeds_mean_and_an_interval_inside_the_values():
    values = [0.7, 0.9, 1.0, 0.8]
    s = across_seeds(values)
    assert np.isclose(s["mean"], 0.85) and s["per_seed"] == values
    assert 0.7 <= s["ci"][0] < s["mean"] < s["ci"][1] <= 1.0  # accuracies stay in [0, 1]
    one = across_seeds([0.5])
    assert one["ci"] == [0.5, 0.5]


def test_band_draws_the_mean_and_skips_non_finite_seeds():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    line = band(ax, [1, 2], [[1.0, 3.0], [2.0, np.inf]], scale=10)
    np.testing.assert_allclose(line.get_ydata(), [20.0, 20.0])
    plt.close(fig)
