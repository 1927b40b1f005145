"""Benchmark suite: `python -m benchmarks.run [--smoke] [--json PATH]` (see benchmarks/run.py)."""
