"""Benchmarks: measured, never estimated. Each method runs in its own process."""
