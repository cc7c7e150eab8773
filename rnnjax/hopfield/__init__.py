"""Hopfield networks.

- ``discrete``: classical networks (Hebbian storage, energy, asynchronous / synchronous runs),
  bipolar and binary.
- ``dense``: dense associative memories (Krotov–Hopfield polynomial, Demircigil exponential).
- ``modern``: continuous modern Hopfield networks (Ramsauer et al.): energy, update, fixed
  points, the update as a cell.
- ``layers``: ``hopfield``, ``hopfield_pooling``, ``hopfield_layer`` as pure functions.
- ``nnx``: the same as Flax NNX modules (imported on use: ``from rnnjax.hopfield import nnx``).
"""

from rnnjax.hopfield import dense, discrete, layers, modern

__all__ = ["dense", "discrete", "layers", "modern"]
