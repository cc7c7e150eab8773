"""A process 1 .. N-1 of ``--local-processes N``: ``python -m experiments.longrange.worker``.

Arguments: the pickled config that process 0 wrote for it (a temporary file outside the workdir),
and the workdir. It computes its share of every program and writes nothing.
"""

import pickle
import sys
from pathlib import Path

import jax

from experiments.longrange.run import run

if __name__ == "__main__":
    jax.config.update("jax_numpy_rank_promotion", "raise")
    config_path, workdir = map(Path, sys.argv[1:3])
    config = pickle.loads(config_path.read_bytes())
    config_path.unlink()
    run(config, workdir)
