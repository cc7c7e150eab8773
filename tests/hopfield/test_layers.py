"""Hopfield layers: one update equals softmax attention (jax.nn and Flax), iteration, NNX."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from rnnjax.hopfield import layers
from rnnjax.hopfield import nnx as hnnx


def flax_mha(num_heads=2, in_features=6, qkv=8, out=5):
    return nnx.MultiHeadAttention(num_heads=num_heads, in_features=in_features,
                                  qkv_features=qkv, out_features=out, decode=False,
                                  rngs=nnx.Rngs(0))


def projections_of(mha):
    return layers.Projections(
        mha.query.kernel[...], mha.query.bias[...], mha.key.kernel[...], mha.key.bias[...],
        mha.value.kernel[...], mha.value.bias[...], mha.out.kernel[...], mha.out.bias[...])


@pytest.mark.slow
def test_one_update_equals_flax_multi_head_attention(key):
    mha = flax_mha()
    # non-zero biases so that they are checked too
    mha.query.bias[...] = jax.random.normal(key, mha.query.bias.shape)
    mha.out.bias[...] = jax.random.normal(jax.random.fold_in(key, 1), mha.out.bias.shape)
    r = jax.random.normal(jax.random.fold_in(key, 2), (3, 4, 6))
    y = jax.random.normal(jax.random.fold_in(key, 3), (3, 7, 6))
    mask = jax.random.bernoulli(jax.random.fold_in(key, 4), 0.7, (3, 4, 7)).at[..., 0].set(True)
    params = projections_of(mha)
    np.testing.assert_allclose(layers.hopfield(params, r, y), mha(r, y, y), atol=1e-5)
    np.testing.assert_allclose(layers.hopfield(params, r, y, mask=mask),
                               mha(r, y, y, mask=mask[:, None]), atol=1e-5)


def test_one_update_equals_jax_dot_product_attention(key):
    params = layers.init_projections(key=key, query_size=6, stored_size=5, num_heads=3,
                                     head_dim=4, out_size=2)
    r = jax.random.normal(jax.random.fold_in(key, 1), (2, 4, 6))
    y = jax.random.normal(jax.random.fold_in(key, 2), (2, 9, 5))
    q = np.einsum("bsd,dhk->bshk", r, params.w_q)
    k = np.einsum("bnd,dhk->bnhk", y, params.w_k)
    v = np.einsum("bnd,dhk->bnhk", y, params.w_v)
    for beta in (None, 0.7):
        z = jax.nn.dot_product_attention(q, k, v, scale=beta)     # (B, S, H, d_v)
        want = np.einsum("bshk,hko->bso", z, params.w_o)
        np.testing.assert_allclose(layers.hopfield(params, r, y, beta=beta), want, atol=1e-5)


def test_iterated_update_matches_numpy_loop(key):
    params = layers.init_projections(key=key, query_size=4, stored_size=4, num_heads=2,
                                     head_dim=3)
    r = jax.random.normal(jax.random.fold_in(key, 1), (1, 2, 4))
    y = jax.random.normal(jax.random.fold_in(key, 2), (1, 5, 4))
    beta = 2.0
    with jax.enable_x64(True):
        params64 = jax.tree.map(lambda a: np.asarray(a, np.float64), params)
        r64, y64 = np.asarray(r, np.float64), np.asarray(y, np.float64)
        got = layers.hopfield(params64, r64, y64, beta=beta, steps=4)
    q = np.einsum("bsd,dhk->bshk", r64, params64.w_q)
    k = np.einsum("bnd,dhk->bnhk", y64, params64.w_k)
    v = np.einsum("bnd,dhk->bnhk", y64, params64.w_v)
    for _ in range(3):
        for h in range(2):
            a = np.exp(beta * q[0, :, h] @ k[0, :, h].T)
            a /= a.sum(-1, keepdims=True)
            q[0, :, h] = a @ k[0, :, h]
    z = np.zeros((1, 2, 2, 3))
    for h in range(2):
        a = np.exp(beta * q[0, :, h] @ k[0, :, h].T)
        a /= a.sum(-1, keepdims=True)
        z[0, :, h] = a @ v[0, :, h]
    np.testing.assert_allclose(got, np.einsum("bshk,hko->bso", z, params64.w_o), rtol=1e-10)
    # eps freezes a state once it moves less than eps: an infinite eps stops after one update
    np.testing.assert_allclose(layers.hopfield(params, r, y, beta=beta, steps=6, eps=np.inf),
                               layers.hopfield(params, r, y, beta=beta, steps=2), atol=1e-6)


@pytest.mark.slow
def test_pooling_and_layer_are_hopfield_with_learned_patterns(key):
    pool = layers.init_pooling(key=key, input_size=6, num_queries=2, num_heads=2)
    y = jax.random.normal(jax.random.fold_in(key, 1), (3, 10, 6))
    mask = jnp.arange(10)[None, :] < jnp.array([[3], [10], [7]])
    got = layers.hopfield_pooling(pool, y, mask=mask)
    assert got.shape == (3, 2, 6)
    for b in range(3):
        n = int(mask[b].sum())
        want = layers.hopfield(pool.proj, pool.query[None], y[b:b + 1, :n])
        np.testing.assert_allclose(got[b:b + 1], want, atol=1e-5)   # padding is ignored
    lay = layers.init_layer(key=key, input_size=6, num_stored=12)
    r = jax.random.normal(jax.random.fold_in(key, 2), (3, 4, 6))
    np.testing.assert_allclose(layers.hopfield_layer(lay, r),
                               layers.hopfield(lay.proj, r, jnp.stack([lay.stored] * 3)),
                               atol=1e-6)


@pytest.mark.slow
def test_nnx_modules_call_the_pure_functions_and_train(key):
    r = jax.random.normal(key, (2, 3, 6))
    y = jax.random.normal(jax.random.fold_in(key, 1), (2, 5, 6))
    h = hnnx.Hopfield(6, 6, num_heads=2, rngs=nnx.Rngs(0))
    np.testing.assert_allclose(h(r, y), layers.hopfield(h.params, r, y), atol=1e-6)
    mha = flax_mha(num_heads=2, in_features=6, qkv=6, out=6)
    for ours, theirs in zip(layers.Projections._fields, projections_of(mha), strict=True):
        getattr(h, ours)[...] = theirs
    np.testing.assert_allclose(h(r, y), mha(r, y, y), atol=1e-5)
    pool = hnnx.HopfieldPooling(6, num_queries=1, rngs=nnx.Rngs(1))
    assert pool(y).shape == (2, 1, 6)
    lay = hnnx.HopfieldLayer(6, num_stored=4, rngs=nnx.Rngs(2))
    assert lay(r).shape == (2, 3, 6)

    def loss(m):
        return jnp.mean(m(y) ** 2)

    grads = nnx.grad(loss)(pool)
    assert float(jnp.abs(grads.query[...]).sum()) > 0


def test_bad_input(key):
    params = layers.init_projections(key=key, query_size=4, stored_size=4)
    with pytest.raises(ValueError, match="query"):
        layers.hopfield(params, jnp.ones((2, 3, 5)), jnp.ones((2, 3, 4)))
    with pytest.raises(ValueError, match="stored"):
        layers.hopfield(params, jnp.ones((2, 3, 4)), jnp.ones((2, 3, 5)))
    with pytest.raises(ValueError, match="steps"):
        layers.hopfield(params, jnp.ones((2, 3, 4)), jnp.ones((2, 3, 4)), steps=0)
