"""``ember playground``: a local page where a small network learns a 2-D data set live.

``session`` trains (ember's Trainer, GradientMonitor and detectors, in a background thread);
``server`` serves the page in ``static/`` and streams snapshots to it as server-sent events.
"""
