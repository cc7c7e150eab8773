"""Cells (one step) and layers (whole sequences): which is which, what refuses a layer, and the
capabilities a wrapper keeps."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import rnnjax
from rnnjax import analysis
from rnnjax.compose import BidirectionalLayer, StackLayer
from rnnjax.init import learned_initial_carry
from rnnjax.parallel import newton_unroll


def _bi():
    return rnnjax.bidirectional(rnnjax.cells.gru(4), rnnjax.cells.gru(4))


def test_bidirectional_and_stacks_containing_it_are_layers():
    bi = _bi()
    assert isinstance(bi, rnnjax.Layer) and not isinstance(bi, rnnjax.Cell)
    assert isinstance(bi, BidirectionalLayer) and bi.merge == "concat" and bi.forward.output_size == 4
    deep = rnnjax.stack([rnnjax.cells.gru(3), bi])
    assert isinstance(deep, StackLayer) and deep.layers[-1] == bi
    assert isinstance(rnnjax.stack([rnnjax.cells.gru(3), rnnjax.cells.gru(3)]), rnnjax.Cell)
    # built alike: equal and hashing alike (a static jit argument); immutable; not a pytree
    assert deep == rnnjax.stack([rnnjax.cells.gru(3), _bi()]) and hash(bi) == hash(_bi())
    assert bi != rnnjax.bidirectional(rnnjax.cells.gru(4), rnnjax.cells.gru(4), merge="sum")
    with pytest.raises(AttributeError):
        bi.name = "other"
    assert jax.tree.leaves(bi) == [bi]


def test_newton_and_analysis_refuse_a_layer(key):
    bi = _bi()
    params = bi.init(key, 3)
    xs = jnp.ones((5, 3))
    calls = {
        "newton_unroll": lambda: newton_unroll(bi, params, xs[None]),
        "jacobian_norms": lambda: analysis.jacobian_norms(bi, params, xs),
        "log_jacobian_norms": lambda: analysis.log_jacobian_norms(bi, params, xs),
        "step_jacobians": lambda: analysis.step_jacobians(bi, params, xs),
        "jacobian_singular_values": lambda: analysis.jacobian_singular_values(bi, params, xs),
        "lyapunov_spectrum": lambda: analysis.lyapunov_spectrum(bi, params, xs),
        "gradient_flow": lambda: analysis.gradient_flow(bi, params, xs, lambda c, y: jnp.sum(y)),
        "carry_gradients": lambda: analysis.carry_gradients(bi, params, xs, lambda c, y: jnp.sum(y)),
    }
    for name, call in calls.items():
        with pytest.raises(TypeError, match=rf"^{name}: bidirectional\(gru.*is a layer.*"
                                            r"rnnjax.unroll"):
            call()
    with pytest.raises(TypeError, match="stack.*is a layer"):
        newton_unroll(rnnjax.stack([rnnjax.cells.gru(3), bi]), None, xs[None])


@pytest.mark.parametrize("options", [{}, {"lengths": np.array([6, 2])}, {"reverse": True},
                                     {"resets": np.array([[0, 0, 1, 0, 0, 0]] * 2, bool)}],
                         ids=["plain", "lengths", "reverse", "resets"])
def test_learned_carry_keeps_the_affine_form(key, options):
    cell = learned_initial_carry(rnnjax.cells.mingru(4))
    assert cell.affine is not None and cell.project is not None
    params = cell.init(key, 3)
    params = params._replace(carry0=jnp.linspace(-1.0, 1.0, 4))  # a non-zero learned carry
    xs = jax.random.normal(jax.random.key(1), (2, 6, 3))
    c_scan, y_scan = rnnjax.unroll(cell, params, xs, **options)
    c_assoc, y_assoc = rnnjax.unroll(cell, params, xs, method="associative", **options)
    np.testing.assert_allclose(y_assoc, y_scan, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(c_assoc, c_scan, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("big", [2**31, 2**40, 10**12])
def test_huge_lengths_mean_the_whole_sequence(key, big):
    """Lengths are clipped in their own dtype, before the cast to JAX's 32-bit integers."""
    cell = rnnjax.cells.gru(3)
    params = cell.init(key, 2)
    xs = jax.random.normal(key, (2, 5, 2))
    want_c, want_y = rnnjax.unroll(cell, params, xs)
    for lengths in (np.array([big, big]), [big, big]):
        c, y = rnnjax.unroll(cell, params, xs, lengths=lengths)
        np.testing.assert_array_equal(y, want_y)
        np.testing.assert_array_equal(c, want_c)
    c, y = rnnjax.unroll(cell, params, xs, lengths=np.array([-(2**40), big]))
    np.testing.assert_array_equal(y[0], 0.0)
    np.testing.assert_array_equal(y[1], want_y[1])
    with pytest.raises(TypeError, match="lengths must be integers"):
        rnnjax.unroll(cell, params, xs, lengths=[10**30, 1])
