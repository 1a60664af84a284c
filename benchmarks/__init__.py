"""Benchmarks: ``python -m benchmarks [--quick]`` (scripts/bench) runs every section."""
