"""Primitives and their public functions, one file per family.

Flow: a public function (``ember.exp``) checks and promotes its arguments → ``core.apply``
runs the primitive's kernel (or records it while tracing) → the primitive's vjp, written in
ember ops, runs during backward.
"""
