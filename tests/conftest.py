"""Strict JAX settings for the whole suite, and a key fixture.

- Implicit rank promotion raises: broadcasting must be written out.
- Tests run on the CPU with float32 by default; float64 checks use ``with jax.enable_x64(True):``.
- Matplotlib draws off-screen.
- XLA's compiled programs are kept in pytest's cache folder (``.pytest_cache/d/jax``), shared by
  the xdist workers and later runs: many tests compile the same small programs (a sweep's step,
  a cell's scan). ``--cache-clear`` empties it, ``-p no:cacheprovider`` turns it off, and
  ``JAX_COMPILATION_CACHE_DIR`` chooses another folder.
"""

import os

os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("JAX_PLATFORMS", "cpu")

import jax  # noqa: E402
import pytest  # noqa: E402

jax.config.update("jax_numpy_rank_promotion", "raise")


def pytest_configure(config):
    if config.cache is None or os.environ.get("JAX_COMPILATION_CACHE_DIR"):
        return
    jax.config.update("jax_compilation_cache_dir", str(config.cache.mkdir("jax")))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)


@pytest.fixture
def key():
    return jax.random.key(0)
