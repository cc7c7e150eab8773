"""Truncated BPTT (k1, k2) and split-and-reset against explicit Python-loop references."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import rnnjax
from rnnjax.train import init_state, optimizer
from rnnjax.train.tbptt import make_tbptt_step, truncated_gradient

H, I, B = 3, 2, 2
CELL = rnnjax.cells.elman(H)


def _setup(key, T):
    kp, kw, kx, ky = jax.random.split(key, 4)
    params = {"cell": CELL.init(kp, I), "w": jax.random.normal(kw, (H, 1))}
    xs = jax.random.normal(kx, (B, T, I))
    ys = jax.random.normal(ky, (B, T, 1))
    mask = (jax.random.uniform(jax.random.fold_in(key, 9), (B, T)) > 0.2).astype(jnp.float32)
    return params, (xs, ys, mask)


def apply_fn(params, carry, xs):
    carry, hs = rnnjax.unroll(CELL, params["cell"], xs, carry)
    return carry, hs @ params["w"]


def loss_fn(out, y):
    return jnp.sum(jnp.square(out - y), axis=-1)


def init_carry(params, batch_shape):
    return CELL.initial_carry(params["cell"], batch_shape)


def _run(params, carry, xs, t0, t1, cut_at=None):
    """Step the cell from position t0 to t1 in a Python loop; stop gradients entering cut_at."""
    outs = []
    for t in range(t0, t1):
        if t == cut_at:
            carry = jax.lax.stop_gradient(carry)
        carry, h = CELL.step(params["cell"], carry, xs[:, t])
        outs.append(h @ params["w"])
    return carry, outs


def _reference_gradient(params, batch, k1, k2, reset):
    xs, ys, mask = batch
    T = xs.shape[1]
    denom = jnp.sum(mask)
    total, grads = 0.0, jax.tree.map(jnp.zeros_like, params)
    for e in range(k1, T + 1, k1):
        def window_loss(p, e=e):
            if reset:
                carry, start = CELL.initial_carry(p["cell"], (B,)), e - k1
            else:  # the carry at e - k1 from a forward pass, then the window with a cut at e - k2
                carry, start = CELL.initial_carry(p["cell"], (B,)), 0
            _, outs = _run(p, carry, xs, start, e, cut_at=max(0, e - k2) if not reset else None)
            loss = 0.0
            for t in range(e - k1, e):
                term = jnp.sum(loss_fn(outs[t - start], ys[:, t]) * mask[:, t])
                if not reset and t < e - k2:  # k2 < k1: outside the backward pass
                    term = jax.lax.stop_gradient(term)
                loss = loss + term
            return loss / denom

        value, g = jax.value_and_grad(window_loss)(params)
        total += value
        grads = jax.tree.map(jnp.add, grads, g)
    return total, grads


@pytest.mark.parametrize("k1,k2,reset", [(2, 4, False), (4, 2, False), (2, 3, False), (3, 3, True)])
@pytest.mark.slow
def test_truncated_gradient_matches_python_loop(key, k1, k2, reset):
    params, batch = _setup(key, 12)
    with jax.enable_x64(True):
        params64 = jax.tree.map(lambda x: x.astype(jnp.float64), params)
        batch64 = jax.tree.map(lambda x: x.astype(jnp.float64), batch)
        loss, grads = jax.jit(lambda p, b: truncated_gradient(
            apply_fn, loss_fn, p, b, initial_carry=init_carry, k1=k1, k2=k2, reset=reset))(
            params64, batch64)
        ref_loss, ref_grads = _reference_gradient(params64, batch64, k1, k2, reset)
    np.testing.assert_allclose(loss, ref_loss, rtol=1e-10)
    for a, b in zip(jax.tree.leaves(grads), jax.tree.leaves(ref_grads), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)


def test_k2_at_least_T_is_full_bptt(key):
    params, batch = _setup(key, 8)
    xs, ys, mask = batch

    def full_loss(p):
        _, outs = apply_fn(p, None, xs)
        return jnp.sum(loss_fn(outs, ys) * mask) / jnp.sum(mask)

    ref_loss, ref = jax.value_and_grad(full_loss)(params)
    for k1, k2 in [(8, 8), (2, 16)]:
        loss, grads = jax.jit(lambda p, b, k1=k1, k2=k2: truncated_gradient(
            apply_fn, loss_fn, p, b, initial_carry=init_carry, k1=k1, k2=k2))(params, batch)
        np.testing.assert_allclose(loss, ref_loss, rtol=1e-5)
        if k1 == 8:  # one window: the very same gradient
            for a, b in zip(jax.tree.leaves(grads), jax.tree.leaves(ref), strict=True):
                np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("k1,k2,reset", [(2, 4, False), (2, 2, True)])
@pytest.mark.slow
def test_tbptt_step_updates_every_k1_steps(key, k1, k2, reset):
    """SGD through make_tbptt_step equals a Python loop that updates after every window,
    starting each window from the carry computed (with the parameters of the time) earlier."""
    T, lr = 6, 0.1
    params, batch = _setup(key, T)
    xs, ys, mask = batch
    denom = jnp.sum(mask)
    opt = optax.sgd(lr)
    step = make_tbptt_step(apply_fn, loss_fn, opt, initial_carry=init_carry, k1=k1, k2=k2,
                           reset=reset)
    state, metrics = step(init_state(params, opt, key=key), batch)

    p = params
    carries = {0: CELL.initial_carry(p["cell"], (B,))}  # position -> carry
    for e in range(k1, T + 1, k1):
        s = e - k1 if reset else max(0, e - k2)
        c0 = CELL.initial_carry(p["cell"], (B,)) if reset else carries[s]

        def window_loss(q, c0=c0, s=s, e=e):
            c, outs, new = c0, [], {}
            for t in range(s, e):
                c, h = CELL.step(q["cell"], c, xs[:, t])
                new[t + 1] = jax.lax.stop_gradient(c)
                outs.append(h @ q["w"])
            loss = sum(jnp.sum(loss_fn(outs[t - s], ys[:, t]) * mask[:, t]) for t in range(e - k1, e))
            return loss / denom, new

        (_, new), g = jax.value_and_grad(window_loss, has_aux=True)(p)
        carries.update(new)
        p = jax.tree.map(lambda a, b: a - lr * b, p, g)
    for a, b in zip(jax.tree.leaves(state.params), jax.tree.leaves(p), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
    assert int(state.step) == 1 and float(metrics["updates"]) == T // k1


def test_bad_k_and_lengths(key):
    params, batch = _setup(key, 6)
    with pytest.raises(ValueError, match="k1"):
        make_tbptt_step(apply_fn, loss_fn, optax.sgd(0.1), initial_carry=init_carry, k1=0, k2=2)
    with pytest.raises(ValueError, match="k1 = k2"):
        make_tbptt_step(apply_fn, loss_fn, optax.sgd(0.1), initial_carry=init_carry, k1=2, k2=3,
                        reset=True)
    step = make_tbptt_step(apply_fn, loss_fn, optimizer("sgd", 0.1), initial_carry=init_carry,
                           k1=4, k2=4)
    with pytest.raises(ValueError, match="multiple of k1"):
        step(init_state(params, optimizer("sgd", 0.1), key=key), batch)


def apply_with_resets(params, carry, xs, resets=None, reset_carry=None):
    carry, hs = rnnjax.unroll(CELL, params["cell"], xs, carry, resets=resets,
                              reset_carry=reset_carry)
    return carry, hs @ params["w"]


def test_resets_at_window_starts_equal_split_and_reset(key):
    """k2 = k1 and k2 = 2 k1 (the reset cuts what reaches back further) against one reference."""
    params, batch = _setup(key, 12)
    resets = jnp.zeros((B, 12), bool).at[:, ::3].set(True)
    grad = jax.jit(lambda p, b, k2, reset, fn: truncated_gradient(
        fn, loss_fn, p, b, initial_carry=init_carry, k1=3, k2=k2, reset=reset),
        static_argnums=(2, 3, 4))
    want = grad(params, batch, 3, True, apply_fn)
    for k2 in (3, 6):
        got = grad(params, (*batch, resets), k2, False, apply_with_resets)
        for a, b in zip(jax.tree.leaves(got), jax.tree.leaves(want), strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


@pytest.mark.slow
def test_full_bptt_with_resets_equals_per_segment_runs(key):
    params, (xs, ys, mask) = _setup(key, 8)
    segments = [(0, 3), (3, 4), (4, 8)]  # batch element 0; element 1 is one sequence
    resets = jnp.zeros((B, 8), bool).at[0, 3].set(True).at[0, 4].set(True)

    def reference(p):
        total = 0.0
        for s, e in segments:
            _, out = apply_fn(p, None, xs[:1, s:e])
            total = total + jnp.sum(loss_fn(out, ys[:1, s:e]) * mask[:1, s:e])
        _, out = apply_fn(p, None, xs[1:])
        return (total + jnp.sum(loss_fn(out, ys[1:]) * mask[1:])) / jnp.sum(mask)

    ref_loss, ref = jax.value_and_grad(reference)(params)
    loss, grads = jax.jit(lambda p, b: truncated_gradient(
        apply_with_resets, loss_fn, p, b, initial_carry=init_carry, k1=8, k2=8))(
        params, (xs, ys, mask, resets))
    np.testing.assert_allclose(loss, ref_loss, rtol=1e-5)
    for a, b in zip(jax.tree.leaves(grads), jax.tree.leaves(ref), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
    with pytest.raises(ValueError, match=r"resets must be boolean of shape \(B, T\)"):
        truncated_gradient(apply_with_resets, loss_fn, params, (xs, ys, mask, resets[:, :4]),
                           initial_carry=init_carry, k1=8, k2=8)


def test_numpy_integer_k_and_named_geometry():
    from rnnjax.train.tbptt import _check_k, _geometry

    assert _check_k(np.int64(4), np.int32(2), False) == (4, 2)
    geo = _geometry(12, 4, 6)
    assert (geo.g, geo.a, geo.b, geo.units, geo.window, geo.updates) == (2, 2, 3, 6, 3, 3)
