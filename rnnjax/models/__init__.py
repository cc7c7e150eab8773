"""Heads and architectures built from cells, one concept per module.

Import them by name: ``from rnnjax.models import sequence``.
"""
