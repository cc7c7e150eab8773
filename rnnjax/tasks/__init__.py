"""Data generators, one task per module: ``from rnnjax.tasks import adding``.

Every generator is a pure function of a key (a fresh stream) or returns a fixed split; nothing is
downloaded. Modules import nothing from each other's experiments.
"""
