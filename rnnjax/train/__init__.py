"""Training machinery (train state, steps, losses, checkpointing, metrics, sweeps)."""
