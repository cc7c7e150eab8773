"""Hopfield networks: ``discrete`` (classical), ``dense`` (Krotov–Hopfield, exponential), ``modern`` (Ramsauer)."""
