"""Thin launchers, one per study: ``python -m experiments.<name> --help``.

``python -m experiments`` runs every study's ``--quick`` preset and rebuilds ``results/README.md``.
"""
