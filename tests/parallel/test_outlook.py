"""newton_outlook: the extrapolation in closed form, and the estimate against real Newton solves
and a direct Lyapunov computation on contracting and chaotic tanh networks."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import rnnjax
from rnnjax.analysis import lyapunov_spectrum
from rnnjax.parallel import extrapolate_iterations, newton_outlook, newton_unroll


def test_extrapolation_in_closed_form():
    assert extrapolate_iterations(4, 4, 128, 4096) == (0.0, 4)              # constant
    assert extrapolate_iterations(10, 20, 128, 1024) == (1.0, 160)          # linear
    assert extrapolate_iterations(5, 40, 128, 1024) == (1.0, 320)           # p clipped to 1
    assert extrapolate_iterations(8, 6, 128, 1024) == (0.0, 6)              # p clipped to 0
    p, i = extrapolate_iterations(8, 10, 128, 1024)
    assert p == pytest.approx(math.log2(10 / 8)) and i == math.ceil(10 * 8 ** p)
    assert extrapolate_iterations(None, 20, 128, 1024) == (1.0, 1024)       # a probe failed
    assert extrapolate_iterations(30, 60, 128, 200) == (1.0, 94)
    assert extrapolate_iterations(30, 120, 128, 150) == (1.0, 141)


def network(gain, H=8, dtype=None):
    cell = rnnjax.cells.elman(H, dtype=dtype)
    params = rnnjax.cells.elman(H).init(jax.random.key(0), 2)
    w_h = gain * jax.random.normal(jax.random.key(1), (H, H)) / math.sqrt(H)
    params = params._replace(w_h=w_h)
    return cell, jax.tree.map(lambda v: v.astype(dtype or v.dtype), params)


# (H, gain): forgetting; saturated (λ_max < 0, yet Newton gains about a step per iteration);
# chaotic (λ_max > 0; in float64 at T = 256, λ_max·T ≈ 24: Newton stops converging once λ_max·T
# nears ln(1/u): 16.6 in float32, 36.7 in float64)
CASES = {"forgetting": (8, 0.5, 512), "saturated": (8, 3.0, 512), "chaotic": (64, 2.0, 256)}


@pytest.mark.parametrize("case", CASES)
def test_outlook_against_the_solve_it_predicts(case):
    with jax.enable_x64(case == "chaotic"):
        dtype = jnp.float64 if case == "chaotic" else jnp.float32
        H, gain, T = CASES[case]
        cell, params = network(gain, H=H, dtype=dtype)
        xs = (0.2 * jax.random.normal(jax.random.key(2), (T, 2))).astype(dtype)
        o = newton_outlook(cell, params, xs, probe=32, warmup=100, lyapunov_steps=400)
        want = float(lyapunov_spectrum(cell, params, xs[:500], k=1, warmup=100)[0])
        info = newton_unroll(cell, params, xs)[2]
    assert o.lambda_max == pytest.approx(want, rel=1e-6)
    assert o.contracting == (case != "chaotic")
    assert o.worthwhile == (case == "forgetting")
    assert bool(info.converged)
    assert 0.5 <= o.iterations / int(info.iterations) <= 2  # predicted within a factor of 2


def test_outlook_refuses_what_it_cannot_probe():
    cell, params = network(0.5)
    with pytest.raises(ValueError, match="one sequence"):
        newton_outlook(cell, params, jnp.zeros((2, 300, 2)))
    with pytest.raises(ValueError, match="2 \\* probe"):
        newton_outlook(cell, params, jnp.zeros((100, 2)), probe=64, warmup=10)
    np.testing.assert_equal(newton_outlook(cell, params, jnp.zeros((300, 2)), probe=16,
                                           warmup=50).contracting, True)
