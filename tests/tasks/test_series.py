"""Seasonal series and the population-growth model against closed forms and Python loops."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rnnjax.tasks import series


def test_seasonal_without_noise_is_the_sine():
    x = series.seasonal(120, key=jax.random.key(0), period=30.0, mean=10.0, amplitude=5.0,
                        noise=0.0, trend=0.01, phase=7.0)
    t = np.arange(120)
    np.testing.assert_allclose(x, 10 + 0.01 * t + 5 * np.sin(2 * np.pi * (t + 7) / 30), atol=1e-4)


def test_seasonal_noise_is_stationary_ar1():
    x = np.asarray(series.seasonal(40000, key=jax.random.key(1), amplitude=0.0, mean=0.0,
                                   noise=2.0, ar=0.7))
    assert abs(x.std() - 2.0) < 0.1
    assert abs(np.corrcoef(x[:-1], x[1:])[0, 1] - 0.7) < 0.02
    assert abs(np.corrcoef(x[:-2], x[2:])[0, 1] - 0.49) < 0.03


def test_logistic_growth_matches_a_python_loop():
    with jax.enable_x64(True):
        traj = np.asarray(series.logistic_growth(50, n0=0.1, rate=2.7, capacity=2.0))
    n, ref = 0.1, []
    for _ in range(50):
        ref.append(n)
        n = n + 2.7 * n * (1 - n / 2.0)
    np.testing.assert_allclose(traj, ref, rtol=1e-10)


def test_logistic_growth_settles_on_the_capacity_for_small_rates():
    traj = series.logistic_growth(200, n0=0.05, rate=1.2, capacity=3.0)
    assert abs(float(traj[-1]) - 3.0) < 1e-4
    assert bool(jnp.all(jnp.diff(traj[:5]) > 0))  # early growth


@pytest.mark.parametrize("rate, expected", [
    (3.0, np.log(2.0)),          # the fully chaotic logistic map 4x(1-x)
    (1.5, np.log(0.5)),          # stable fixed point N = K: f'(K) = 1 - r
    (2.2, None),                 # period 2: negative, but not log|1-r|
])
def test_lyapunov_exponent(rate, expected):
    with jax.enable_x64(True):
        lam = float(series.lyapunov_exponent(rate, n0=0.3141, n_steps=20000))
    if expected is None:
        # period-2 orbit: lambda = (log|f'(a)| + log|f'(b)|)/2 with a, b the 2-cycle of the map
        mu = 1 + rate
        x = np.roots([mu**2, -(mu**2 + mu), mu + 1])  # non-trivial 2-cycle of x' = mu x (1 - x)
        derivs = mu * (1 - 2 * x)
        expected = np.mean(np.log(np.abs(derivs)))
    assert abs(lam - expected) < 0.02, (lam, expected)


def test_population_batch():
    pop = series.population(64, 30, key=jax.random.key(2), rate_range=(1.0, 2.0), noise=0.0)
    assert pop.series.shape == (64, 30)
    assert float(pop.rate.min()) >= 1.0 and float(pop.rate.max()) <= 2.0
    i = 5
    np.testing.assert_allclose(pop.series[i], series.logistic_growth(30, n0=pop.n0[i],
                                                                     rate=pop.rate[i]), rtol=1e-5)
    noisy = series.population(64, 30, key=jax.random.key(2), rate_range=(1.0, 2.0), noise=0.1)
    assert abs(float(jnp.std(noisy.series - pop.series)) - 0.1) < 0.01


def test_windows_match_a_loop():
    x = np.arange(10.0) ** 2
    inputs, targets = series.windows(x, 3, horizon=2)
    assert inputs.shape == (6, 3) and targets.shape == (6, 2)
    for i, t in enumerate(range(3, 9)):
        np.testing.assert_array_equal(inputs[i], x[t - 3:t])
        np.testing.assert_array_equal(targets[i], x[t:t + 2])
    batched, _ = series.windows(np.stack([x, -x]), 3)
    np.testing.assert_array_equal(batched[1], -series.windows(x, 3)[0])


@pytest.mark.parametrize("call, match", [
    (lambda: series.windows(np.zeros(5), 5), "window"),
    (lambda: series.seasonal(0, key=jax.random.key(0)), "n_steps"),
    (lambda: series.seasonal(5, key=jax.random.key(0), ar=1.0), "ar must"),
    (lambda: series.population(3, 5, key=jax.random.key(0), rate_range=(2.0, 3.5)), "rate_range"),
])
def test_bad_input(call, match):
    with pytest.raises(ValueError, match=match):
        call()


@pytest.mark.slow
def test_forecast_experiment_end_to_end_and_resume(tmp_path):
    import json

    from experiments import forecast as exp

    tiny = ["--quick", "--models.windows", "2", "--steps", "4", "--models.hidden-size", "4",
            "--train.batch-size", "4", "--data.n-train", "8", "--data.n-test", "4",
            "--train.eval-every", "2", "--seasonal.length", "30", "--seasonal.context", "10",
            "--seasonal.horizon", "5", "--population.length", "20", "--population.context", "8",
            "--population.horizon", "4"]
    assert exp.main([*tiny, "--workdir", str(tmp_path)]) == 0
    for f in ("summary.json", "index.json", "one_step.png", "multi_step.png", "examples.png"):
        assert (tmp_path / f).exists(), f
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert set(summary) == {"seasonal", "population"}
    s = summary["seasonal"]
    assert set(s["one_step"]) == {"window2", "lstm"}
    assert set(s["multi_step"]) == {"window2", "lstm", "seq2seq"}
    assert all(len(v) == 5 and np.isfinite(v).all() for v in s["multi_step"].values())
    np.testing.assert_allclose(s["theory"]["one_step"], 1.5 * np.sqrt(1 - 0.8**2))
    assert len(summary["population"]["theory"]["lyapunov"]) == 4
    # rerunning the finished command restores every model from its final checkpoint (no
    # training) and reproduces the results exactly
    assert exp.main([*tiny, "--workdir", str(tmp_path)]) == 0
    assert json.loads((tmp_path / "summary.json").read_text()) == summary
    lines = (tmp_path / "runs" / "population" / "lstm" / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(x)["step"] for x in lines] == [2, 4]


def test_forecast_config_rejects_inconsistent_lengths():
    from experiments import forecast as exp

    assert exp.main(["--models.windows", "50", "--workdir", "/nonexistent/never"]) == 2
