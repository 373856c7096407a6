"""Layers: one file per family, each layer a thin Module over ``ember.nn.functional``."""
