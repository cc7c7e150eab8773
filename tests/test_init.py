"""Initialisers against their defining properties, checked with NumPy."""

import jax
import numpy as np
import pytest

import rnnjax
from tests.hang import assert_finishes


@pytest.mark.parametrize("shape", [(8, 8), (5, 12), (12, 5)])
def test_orthogonal(shape, key):
    w = np.asarray(rnnjax.init.orthogonal(scale=2.0)(key, shape), np.float64)
    gram = w.T @ w if shape[0] >= shape[1] else w @ w.T
    np.testing.assert_allclose(gram, 4.0 * np.eye(min(shape)), atol=1e-5)


def test_orthogonal_is_haar_not_biased(key):
    """Sign-fixed QR makes E[Q] = 0; unfixed QR from LAPACK biases the diagonal."""
    qs = jax.vmap(lambda k: rnnjax.init.orthogonal()(k, (4, 4)))(jax.random.split(key, 4000))
    assert np.abs(np.asarray(qs).mean(0)).max() < 0.06


def test_spectral_scalings(key):
    w = jax.random.normal(key, (10, 10))
    np.testing.assert_allclose(np.abs(np.linalg.eigvals(rnnjax.init.scale_spectral_radius(w, 1.1))).max(),
                               1.1, rtol=1e-4)
    np.testing.assert_allclose(np.linalg.svd(rnnjax.init.scale_spectral_norm(w, 0.5), compute_uv=False)[0],
                               0.5, rtol=1e-4)
    with pytest.raises(ValueError, match="square"):
        rnnjax.init.scale_spectral_radius(w[:3], 1.0)


def test_identity_and_unknown_name(key):
    np.testing.assert_array_equal(rnnjax.init.identity(0.5)(key, (3, 3)), 0.5 * np.eye(3))
    with pytest.raises(ValueError, match="unknown initialiser"):
        rnnjax.cells.elman(3, recurrent_init="glorious")


def test_init_recurrent_blocks_are_independent_draws(key):
    """One batched call gives the same blocks as initialising each gate on its own key."""
    H, blocks = 5, 4
    init = rnnjax.init.orthogonal()
    w = rnnjax.init.init_recurrent(init, key, H, blocks)
    keys = jax.random.split(key, blocks)
    ref = np.concatenate([np.asarray(init(k, (H, H))) for k in keys], axis=1)
    np.testing.assert_allclose(w, ref, atol=1e-6)
    for g in range(blocks):  # each block orthogonal on its own
        q = np.asarray(w[:, g * H:(g + 1) * H])
        np.testing.assert_allclose(q.T @ q, np.eye(H), atol=1e-5)


VMAPPED_INIT = """
import jax, rnnjax
for name in ("lstm", "gru"):
    cell = getattr(rnnjax.cells, name)(64)
    init = jax.jit(jax.vmap(lambda k: cell.init(k, 4)))
    for i in range(150):
        jax.block_until_ready(init(jax.random.split(jax.random.key(i), 25)))
print("done")
"""


@pytest.mark.slow
def test_vmapped_gated_init_does_not_deadlock():
    """Regression: four (LSTM) or three (GRU) separate batched QRs in one program deadlocked
    jaxlib 0.10's CPU thread pool on 2 cores within a few dozen calls; one batched QR does not."""
    assert_finishes(VMAPPED_INIT, 240, "vmapped LSTM/GRU init")
