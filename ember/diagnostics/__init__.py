"""ember.diagnostics: why a network does not learn, with the numbers and a suggested fix.

Flow: ``GradientMonitor(model)`` records per-layer gradient norms, update/weight ratios and
activation statistics (by hand with ``monitor.step(loss)`` or as a ``fit`` callback) →
``monitor.save(run_dir)`` → ``doctor.diagnose(run_dir)`` loads them with the run's
metrics.csv and runs the detectors (``detectors.run_detectors``), each returning ``Finding``s;
``doctor`` prints them or writes an HTML report with plots. ``draw_graph(tensor)`` shows the
autograd graph that ``backward()`` will walk.
"""

from __future__ import annotations

from ember.diagnostics.detectors import Finding, run_detectors
from ember.diagnostics.graph import Graph, draw_graph
from ember.diagnostics.monitor import GradientMonitor, RunStats
from ember.diagnostics.runfiles import load_stats

__all__ = [
    "GradientMonitor",
    "RunStats",
    "load_stats",
    "Finding",
    "run_detectors",
    "draw_graph",
    "Graph",
]
