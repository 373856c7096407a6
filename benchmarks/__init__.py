"""Reference workloads and micro-benchmarks, ember next to PyTorch."""
