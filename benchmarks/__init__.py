"""Benchmarks: mirlab's implementations against the established libraries, single-threaded.

Run ``python -m benchmarks`` from the repository root (``make bench``).
"""
