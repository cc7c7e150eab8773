"""The seed helpers: per-seed batch streams, the across-seeds summary, the band."""

import jax
import numpy as np

from experiments.common.seeds import across_seeds, band, band_label, per_seed_batches, seed_keys


def test_per_seed_batches_equal_a_loop_over_seeds():
    keys = seed_keys(3, 4, salt=7)
    assert keys.shape == (4,)

    def one(k, s):
        return jax.random.normal(k, (2,)) + s

    got = np.asarray(per_seed_batches(one, keys)(5))
    want = np.stack([np.asarray(one(jax.random.fold_in(k, 5), 5)) for k in keys])
    np.testing.assert_allclose(got, want, rtol=1e-6)
    assert not np.allclose(got[0], got[1])  # the seeds' streams differ


def test_across_seeds_mean_and_its_t_interval_with_level_and_n():
    from scipy import stats

    values = [0.7, 0.9, 1.0, 0.8]
    s = across_seeds(values)
    assert np.isclose(s["mean"], 0.85) and s["per_seed"] == values
    want = stats.t.interval(0.95, df=3, loc=0.85, scale=stats.sem(values))
    np.testing.assert_allclose(s["ci"], want, rtol=1e-12)
    assert (s["ci_level"], s["n"], s["interval"]) == (0.95, 4, "t")
    np.testing.assert_allclose(across_seeds(values, bounds=(0, 1))["ci"], [want[0], 1.0])  # in [0, 1]
    assert across_seeds(values, level=0.5)["ci"][1] < want[1]
    one = across_seeds([0.5])
    assert one["ci"] == [0.5, 0.5] and one["ci_level"] is None
    diverged = across_seeds([2.0, np.inf])
    assert diverged["ci"] == [2.0, np.inf] and diverged["interval"] == "range"


def test_band_draws_the_mean_and_skips_non_finite_seeds():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    line = band(ax, [1, 2], [[1.0, 3.0], [2.0, np.inf]], scale=10)
    np.testing.assert_allclose(line.get_ydata(), [20.0, 20.0])
    # the band at x = 1: 10 × (2 ± t_{1, 0.975} · 1), t_{1, 0.975} = tan(0.475 π)
    low, high = ax.collections[0].get_paths()[0].vertices[:, 1].min(), 10 * (2 + np.tan(0.475 * np.pi))
    assert np.isclose(low, 10 * (2 - np.tan(0.475 * np.pi))) and high > 20
    plt.close(fig)
    assert band_label(3) == "band: 95 % t-interval of the mean, 3 seeds"
    assert band_label(1) == "1 seed, no band"
