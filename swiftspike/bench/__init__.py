"""Benchmarks behind ``swiftspike bench ...`` (timings reported as ratios against peers run in the same process)."""
