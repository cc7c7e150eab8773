"""Strict JAX settings for the whole suite, and a key fixture.

- Implicit rank promotion raises: broadcasting must be written out.
- Tests run on the CPU with float32 by default; float64 checks use ``with jax.enable_x64(True):``.
- Matplotlib draws off-screen.
"""

import os

os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("JAX_PLATFORMS", "cpu")

import jax  # noqa: E402
import pytest  # noqa: E402

jax.config.update("jax_numpy_rank_promotion", "raise")


@pytest.fixture
def key():
    return jax.random.key(0)
