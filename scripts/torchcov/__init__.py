"""Measure how much of PyTorch's public API ember has, matches and tests against PyTorch.

``catalog`` lists the names, ``signatures`` compares them, ``recorder`` finds which ones the
tests exercise against torch, ``reasons`` reads the left-out table and ``report`` writes the
Markdown. ``scripts/torch_coverage.py`` runs them.
"""
