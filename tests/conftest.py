"""Shared fixtures: real rendered music from the embedded corpus (rendered once, then cached)."""

import os

import numpy as np
import pytest

# librosa compiles its numba functions with cache=True into site-packages; two pytest-xdist
# workers compiling the same function at once can leave a half-written cache file that the
# other loads, and crash with a segmentation fault. Each worker gets its own numba cache.
# (This must happen before numba is imported.)
if os.environ.get("PYTEST_XDIST_WORKER"):
    from mirlab.core.env import cache_dir

    os.environ.setdefault("NUMBA_CACHE_DIR",
                          str(cache_dir("numba", os.environ["PYTEST_XDIST_WORKER"])))


@pytest.fixture(scope="session")
def chorale():
    """A Bach chorale rendered from its music21 score (a ``mirlab.datasets.Recording``)."""
    from mirlab import datasets

    return datasets.load_piece("bach/bwv66.6")


@pytest.fixture
def rng():
    """A fresh, seeded random generator for each test."""
    return np.random.default_rng(0)
