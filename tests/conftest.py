"""Shared fixtures: real rendered music from the embedded corpus (rendered once, then cached)."""

import numpy as np
import pytest


@pytest.fixture(scope="session")
def chorale():
    """A Bach chorale rendered from its music21 score (a ``mirlab.datasets.Recording``)."""
    from mirlab import datasets

    return datasets.load_piece("bach/bwv66.6")


@pytest.fixture
def rng():
    """A fresh, seeded random generator for each test."""
    return np.random.default_rng(0)
