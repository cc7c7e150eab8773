"""Heads and architectures built from cells, one concept per module: ``from rnnjax.models import sequence``."""
