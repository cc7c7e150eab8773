"""Hopfield networks.

- ``discrete``: classical networks (Hebbian storage, energy, asynchronous / synchronous runs),
  bipolar and binary; the asynchronous runs are defined in ``asynchronous`` and re-exported.
- ``dense``: dense associative memories (Krotov–Hopfield polynomial, Demircigil exponential).
- ``modern``: continuous modern Hopfield networks (Ramsauer et al.): energy, update, fixed
  points, the update as a cell.
- ``layers``: ``hopfield``, ``hopfield_pooling``, ``hopfield_layer`` as pure functions.
- ``theory``: capacities and retrieval bounds from the papers (AGS overlap m(α), McEliece,
  Krotov–Hopfield, Demircigil, Ramsauer et al.'s separation bound), NumPy float64.
- ``nnx``: the same as Flax NNX modules (imported on use: ``from rnnjax.hopfield import nnx``).
"""

from rnnjax.hopfield import dense, discrete, layers, modern, theory

__all__ = ["dense", "discrete", "layers", "modern", "theory"]
