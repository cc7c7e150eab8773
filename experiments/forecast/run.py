"""The series, the models, one training run per model, and the theory lines: one cached part per
dataset."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax

import rnnjax
import rnnjax.train as tr
from experiments.common import cached_part, num_steps, say, write_json
from experiments.common.seeds import across_seeds, per_seed_batches
from experiments.forecast.config import DATASETS, Config
from rnnjax.models import free_running, seq2seq, sequence_model, shift_right, window_forecaster
from rnnjax.tasks import series
from rnnjax.train import sweep

UNITS = {"seasonal": "°C", "population": "units of K"}


def make_data(config: Config, dataset: str, key: jax.Array) -> tuple[np.ndarray, np.ndarray, dict]:
    """``(train (n_train, T), test (n_test, T), info)`` in raw units; ``info`` holds the
    population test series' growth rates and Lyapunov exponents."""
    k_train, k_test = jax.random.split(key)
    n_train, n_test = config.data.n_train, config.data.n_test
    if dataset == "seasonal":
        c = config.seasonal

        def gen(k, n):
            return jax.vmap(lambda kk: series.seasonal(c.length, key=kk, period=c.period,
                                                       noise=c.noise, ar=c.ar))(jax.random.split(k, n))
        return (np.asarray(gen(k_train, n_train), np.float32),
                np.asarray(gen(k_test, n_test), np.float32), {})
    c = config.population

    def gen_pop(k, n):
        return series.population(n, c.length, key=k, rate_range=(c.rate_lo, c.rate_hi))
    train, test = gen_pop(k_train, n_train).series, gen_pop(k_test, n_test)
    lyap = jax.vmap(series.lyapunov_exponent)(test.rate)
    info = {"lyapunov": np.asarray(lyap).tolist(), "rates": np.asarray(test.rate).tolist()}
    return np.asarray(train, np.float32), np.asarray(test.series, np.float32), info


def theory(config: Config, dataset: str, info: dict) -> dict:
    """Seasonal: the noise floor σ·sqrt(1 − a^(2h)); population: the Lyapunov exponents."""
    if dataset == "seasonal":
        c = config.seasonal
        hs = np.arange(1, c.horizon + 1)
        return {"label": "noise floor σ·sqrt(1 − a^(2h))",
                "one_step": c.noise * float(np.sqrt(1 - c.ar**2)),
                "multi_step": (c.noise * np.sqrt(1 - c.ar ** (2 * hs))).tolist()}
    return {"label": "ε·RMS_i exp(λ_i (h − 1)), λ_i: each test series' Lyapunov exponent",
            "lyapunov": info["lyapunov"], "rates": info["rates"], "multi_step": None}


def _fit(config: Config, run_dir: Path, name: str, loss_fn, init, init_key, one_batch,
         data_keys, eval_fn, run_config: dict):
    """Train ``train.seeds`` runs of one model as one vmapped program (resumable in
    ``run_dir``); their final parameters, stacked over seeds."""
    tc = config.train
    steps = num_steps(config, tc.steps)
    opt = optax.chain(optax.clip_by_global_norm(1.0), optax.adam(tc.learning_rate))
    states = sweep.init(lambda k: tr.init_state(init(k), opt, key=k),
                        jax.random.split(init_key, tc.seeds))
    step = sweep.vmap_step(tr.make_step(loss_fn, opt, jit=False), batch_axis=0)
    states, _ = tr.fit(step, states, per_seed_batches(one_batch, data_keys), num_steps=steps,
                       workdir=run_dir / name, checkpoint_every=max(steps // 4, 100),
                       log_every=tc.eval_every, eval_fn=eval_fn,
                       config={"model": name, "seeds": tc.seeds, **run_config},
                       description=f"forecast {name}")
    return states.params


def run_dataset(config: Config, dataset: str, run_dir: Path) -> dict:
    """Train every model's seeds on one dataset; RMSE one step and h steps ahead (mean over
    seeds with 95 % t-intervals), seed 0's forecast of one series, the theory lines."""
    mc, tc, dc = config.models, config.train, getattr(config, dataset)
    key = jax.random.fold_in(jax.random.key(config.seed), DATASETS.index(dataset))
    k_data, k_batch, k_init = jax.random.split(key, 3)
    data_keys = jax.random.split(k_batch, tc.seeds)  # seed i: the same batches for every model
    train_raw, test_raw, info = make_data(config, dataset, k_data)
    mu, sd = float(train_raw.mean()), float(train_raw.std())
    train, test = jnp.asarray((train_raw - mu) / sd), jnp.asarray((test_raw - mu) / sd)
    T, C, H = train.shape[1], dc.context, dc.horizon
    u0 = T - C - H  # test forecasts start here: context test[:, u0:u0+C], targets after it
    w_max, B = max(mc.windows), tc.batch_size
    run_config = {"seed": config.seed, "dataset": dataset,
                  "data": {"n_train": config.data.n_train, "n_test": config.data.n_test},
                  dataset: dataclasses.asdict(dc), "hidden_size": mc.hidden_size,
                  "train": {"batch_size": B, "learning_rate": tc.learning_rate}}
    out = {"one_step": {}, "multi_step": {}, "unit": UNITS[dataset], "horizon": H, "context": C,
           "seeds": tc.seeds}
    context, future = test[:, u0:u0 + C], test[:, u0 + C:u0 + C + H]
    example = {"context": (np.asarray(context[0]) * sd + mu).tolist(),
               "truth": (np.asarray(future[0]) * sd + mu).tolist(), "forecasts": {}}

    def rmse(err, axes):  # per seed, in raw units
        return np.sqrt(np.mean(np.asarray(err, np.float64) ** 2, axis=axes)) * sd

    def record(name, one_step_err, multi):
        """``one_step_err`` (seeds, ...) and ``multi`` (seeds, series, H), normalised units."""
        if one_step_err is not None:
            out["one_step"][name] = across_seeds(rmse(one_step_err, tuple(range(1, one_step_err.ndim))),
                                                   bounds=(0, np.inf))
        per_h = rmse(multi - future[None], 1)  # (seeds, H)
        out["multi_step"][name] = [across_seeds(per_h[:, h], bounds=(0, np.inf)) for h in range(H)]
        example["forecasts"][name] = (np.asarray(multi[0, 0]) * sd + mu).tolist()
        say(f"forecast {dataset} {name}: RMSE at horizon {H} "
            f"{out['multi_step'][name][-1]['mean']:.4f} {UNITS[dataset]} (mean of {tc.seeds} seeds)")

    def per_seed_mse(err_fn, key="test_mse"):  # err_fn: stacked params -> (seeds, ...) errors
        def eval_fn(st):
            e = err_fn(st.params)
            return {key: np.round(np.asarray(jnp.mean(e**2, axis=tuple(range(1, e.ndim)))),
                                  6).tolist()}
        return eval_fn

    # fixed-window feed-forward baselines
    for w in mc.windows:
        model = window_forecaster(w, hidden_size=mc.hidden_size)
        xs_test, ys_test = series.windows(test[:, w_max - w:], w)  # same targets for every w

        def one_batch(k, s, w=w):
            k1, k2 = jax.random.split(k)
            i = jax.random.randint(k1, (B,), 0, train.shape[0])
            t = jax.random.randint(k2, (B,), w, T)
            return jax.vmap(lambda a, b: jax.lax.dynamic_slice(train[a], (b - w,), (w + 1,)))(i, t)

        def loss_fn(p, batch, key, model=model, w=w):
            del key
            return tr.mse(model.apply(p, batch[:, :w])[:, 0], batch[:, w])

        err = jax.jit(jax.vmap(lambda p, model=model, xs=xs_test, ys=ys_test: model.apply(p, xs) - ys))
        params = _fit(config, run_dir, f"window{w}", loss_fn, model.init,
                      jax.random.fold_in(k_init, w), one_batch, data_keys,
                      per_seed_mse(err), run_config)
        multi = jax.vmap(lambda p, model=model: free_running(
            model, p, model.initial_carry(p, context), context[:, -1:], H)[1][..., 0])(params)
        record(f"window{w}", err(params), multi)

    # LSTM, many-to-many next-value prediction
    lstm = sequence_model(rnnjax.cells.lstm(mc.hidden_size), input_size=1, output_size=1)

    def rnn_batch(k, s):
        return train[jax.random.randint(k, (B,), 0, train.shape[0])]

    def rnn_loss(p, batch, key):
        del key
        _, pred = lstm.apply(p, batch[:, :-1, None])
        return tr.mse(pred[..., 0], batch[:, 1:])

    def rnn_one_step(p):
        _, pred = lstm.apply(p, test[:, :-1, None])
        return pred[:, w_max - 1:, 0] - test[:, w_max:]  # targets x_t for t >= max(windows)

    rnn_err = jax.jit(jax.vmap(rnn_one_step))
    params = _fit(config, run_dir, "lstm", rnn_loss, lstm.init, jax.random.fold_in(k_init, 100),
                  rnn_batch, data_keys, per_seed_mse(rnn_err), run_config)

    @jax.jit
    @jax.vmap
    def rnn_free_running(p):
        carry, pred = lstm.apply(p, context[..., None])

        def body(state, _):
            c, y = state
            c, y_next = lstm.step(p, c, y)
            return (c, y_next), y[..., 0]

        _, ys = jax.lax.scan(body, (carry, pred[:, -1]), None, length=H)
        return jnp.moveaxis(ys, 0, 1)

    record("lstm", rnn_err(params), rnn_free_running(params))

    # LSTM encoder-decoder, trained on the whole horizon (teacher forcing)
    s2s = seq2seq(rnnjax.cells.lstm(mc.hidden_size), rnnjax.cells.lstm(mc.hidden_size),
                  src_features=1, tgt_features=1)

    def s2s_batch(k, s):
        k1, k2 = jax.random.split(k)
        i = jax.random.randint(k1, (B,), 0, train.shape[0])
        u = jax.random.randint(k2, (B,), 0, T - C - H + 1)
        return jax.vmap(lambda a, b: jax.lax.dynamic_slice(train[a], (b,), (C + H,)))(i, u)

    def s2s_loss(p, batch, key):
        del key
        src, tgt = batch[:, :C, None], batch[:, C:, None]
        _, pred = s2s.apply(p, src, tgt_in=shift_right(tgt, src[:, -1]))
        return tr.mse(pred, tgt)

    s2s_forecast = jax.jit(jax.vmap(lambda p: free_running(
        s2s, p, s2s.initial_carry(p, context[..., None]), context[:, -1:], H)[1][..., 0]))
    params = _fit(config, run_dir, "seq2seq", s2s_loss, s2s.init,
                  jax.random.fold_in(k_init, 200), s2s_batch, data_keys,
                  per_seed_mse(lambda p: s2s_forecast(p) - future[None], "test_mse_horizon"),
                  run_config)
    record("seq2seq", None, s2s_forecast(params))
    return {**out, "theory": theory(config, dataset, info), "example": example, "data_std": sd}


def run(config: Config, workdir: Path) -> None:
    """Every dataset (each cached on its own settings), then ``summary.json``."""
    summary = {}
    for d in config.data.datasets:
        settings = {"seed": config.seed, "steps": num_steps(config, config.train.steps),
                    "data": config.data, d: getattr(config, d), "models": config.models,
                    "train": config.train}
        summary[d] = cached_part(workdir / "runs", d, settings,
                                 lambda d=d: run_dataset(config, d, workdir / "runs" / d))
        summary[d].pop("settings")
    write_json(workdir / "summary.json", summary)
