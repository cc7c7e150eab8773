"""Time series for forecasting: a seasonal temperature-like series and the lecture's
population-growth model, plus the fixed-window view a feed-forward baseline needs.

Seasonal series (daily temperature, °C, with an annual cycle of ``period`` days)::

    x_t = mean + trend·t + amplitude·sin(2π (t + phase) / period) + e_t
    e_t = ar·e_{t-1} + noise·sqrt(1 − ar²)·ξ_t,   ξ_t ~ N(0, 1),  e_0 ~ N(0, noise²)

so the weather noise ``e`` is a stationary AR(1) process with standard deviation ``noise``.

Population growth (discrete logistic / Verhulst model, the lecture's fish population)::

    N_{t+1} = N_t + r·N_t·(1 − N_t / K)

Growth is fast while ``N ≪ K`` and slows, or overshoots and reverses, near the carrying capacity
``K``. With ``x = r N / ((1 + r) K)`` this is the logistic map ``x' = (1 + r)·x·(1 − x)``, so it
settles on ``K`` for ``0 < r < 2``, oscillates (period doubling) for ``2 < r < 2.57`` and is
chaotic beyond (``r = 3`` is the fully chaotic map ``4x(1−x)``, Lyapunov exponent ``ln 2``).
Errors then grow like ``exp(λ t)`` with the Lyapunov exponent
``λ = lim (1/T) Σ_t log|f'(N_t)|``, ``f'(N) = 1 + r − 2 r N / K`` (:func:`lyapunov_exponent`):
the sensitivity to initial conditions the lecture warns about.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from rnnjax import _checks


def seasonal(n_steps: int, *, key: jax.Array, period: float = 50.0, mean: float = 12.0,
             amplitude: float = 8.0, noise: float = 1.5, ar: float = 0.8, trend: float = 0.0,
             phase: float | jax.Array | None = None) -> jax.Array:
    """One seasonal series ``(n_steps,)`` in °C; see the module docstring.

    Args:
      period: length of the seasonal cycle in steps (days).
      noise, ar: standard deviation and lag-one autocorrelation of the AR(1) weather noise.
      phase: offset of the cycle in steps; drawn uniformly in ``[0, period)`` when None.
    """
    n_steps = _checks.positive_int(n_steps, "n_steps")
    if not 0.0 <= ar < 1.0:
        raise ValueError(f"ar must be in [0, 1), got {ar}")
    if period <= 0:
        raise ValueError(f"period must be > 0, got {period}")
    k_phase, k_e0, k_xi = jax.random.split(key, 3)
    if phase is None:
        phase = jax.random.uniform(k_phase, (), maxval=period)
    t = jnp.arange(n_steps, dtype=jnp.float32)
    innovations = noise * jnp.sqrt(1.0 - ar**2) * jax.random.normal(k_xi, (n_steps - 1,))

    def ar1(e, xi):
        e = ar * e + xi
        return e, e

    e0 = noise * jax.random.normal(k_e0, ())
    _, rest = jax.lax.scan(ar1, e0, innovations)
    e = jnp.concatenate([e0[None], rest])
    return mean + trend * t + amplitude * jnp.sin(2 * jnp.pi * (t + phase) / period) + e


def logistic_growth(n_steps: int, *, n0: float | jax.Array, rate: float | jax.Array,
                    capacity: float = 1.0) -> jax.Array:
    """The trajectory ``(N_0, …, N_{n_steps−1})`` of ``N_{t+1} = N_t + r N_t (1 − N_t / K)``."""
    n_steps = _checks.positive_int(n_steps, "n_steps")
    n0 = jnp.asarray(n0, jnp.result_type(float))

    def step(n, _):
        nxt = n + rate * n * (1.0 - n / capacity)
        return nxt, n

    _, traj = jax.lax.scan(step, n0, None, length=n_steps)
    return traj


def lyapunov_exponent(rate: float | jax.Array, *, n0: float = 0.3, n_steps: int = 4000,
                      burn_in: int = 500, capacity: float = 1.0) -> jax.Array:
    """Lyapunov exponent of the population model, ``(1/T) Σ log|1 + r − 2 r N_t / K|``
    along one trajectory after a burn-in (natural log, per step)."""
    traj = logistic_growth(burn_in + n_steps, n0=n0, rate=rate, capacity=capacity)[burn_in:]
    deriv = 1.0 + rate - 2.0 * rate * traj / capacity
    return jnp.mean(jnp.log(jnp.abs(deriv) + 1e-30))


class Population(NamedTuple):
    """A batch of noisy population trajectories: ``series (n, T)``, ``rate (n,)``, ``n0 (n,)``."""

    series: jax.Array
    rate: jax.Array
    n0: jax.Array


def population(n: int, n_steps: int, *, key: jax.Array, rate_range: tuple[float, float] = (1.5, 2.8),
               n0_range: tuple[float, float] = (0.02, 0.5), noise: float = 0.0,
               capacity: float = 1.0) -> Population:
    """``n`` trajectories with growth rates and initial sizes drawn uniformly from the ranges,
    observed with additive Gaussian noise of standard deviation ``noise`` (the dynamics are
    noise-free; only the observations are noisy)."""
    n_steps = _checks.positive_int(n_steps, "n_steps")
    if not 0.0 < rate_range[0] <= rate_range[1] <= 3.0:
        raise ValueError(f"rate_range must lie in (0, 3] (beyond 3 populations go negative), "
                         f"got {rate_range}")
    k_r, k_n0, k_obs = jax.random.split(key, 3)
    rate = jax.random.uniform(k_r, (n,), minval=rate_range[0], maxval=rate_range[1])
    n0 = jax.random.uniform(k_n0, (n,), minval=n0_range[0], maxval=n0_range[1]) * capacity
    clean = jax.vmap(lambda a, r: logistic_growth(n_steps, n0=a, rate=r, capacity=capacity))(n0, rate)
    return Population(clean + noise * jax.random.normal(k_obs, clean.shape), rate, n0)


def windows(series: jax.Array, window: int, horizon: int = 1) -> tuple[jax.Array, jax.Array]:
    """The fixed-window supervised view of a series: inputs ``(..., N, window)`` holding
    ``x_{t−window}, …, x_{t−1}`` and targets ``(..., N, horizon)`` holding ``x_t, …, x_{t+horizon−1}``,
    for every ``t`` from ``window`` to ``T − horizon`` (``N = T − window − horizon + 1``)."""
    series = jnp.asarray(series)
    n = series.shape[-1] - window - horizon + 1
    if window < 1 or horizon < 1 or n < 1:
        raise ValueError(f"need window >= 1, horizon >= 1 and window + horizon <= T; got window="
                         f"{window}, horizon={horizon}, T={series.shape[-1]}")
    idx = jnp.arange(n)[:, None]
    inputs = series[..., idx + jnp.arange(window)[None, :]]
    targets = series[..., idx + window + jnp.arange(horizon)[None, :]]
    return inputs, targets
