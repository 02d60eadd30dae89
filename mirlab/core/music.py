"""Shared music types: notes and chord segments as arrays, as mir_eval expects them.

Every package that reads or writes notes or chords uses these (the corpus, transcription,
chord recognition). Taught in ``book/datasets.ipynb`` and
``notebooks/03_nmf_transcription.ipynb``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Notes", "Chords"]


@dataclass
class Notes:
    """Notes as equal-length arrays (times in seconds), sorted by onset then pitch.

    Functions that take note arrays name them after these fields, singular: ``onset``,
    ``offset``, ``pitch``, ``velocity``, ``program``.

    Examples
    --------
    >>> n = Notes(onset=np.array([0.0, 0.5]), offset=np.array([0.5, 1.0]),
    ...           pitch=np.array([60, 64]), velocity=np.array([90, 90]),
    ...           program=np.array([0, 0]), part=np.array([0, 0]))
    >>> len(n), n.intervals.tolist()
    (2, [[0.0, 0.5], [0.5, 1.0]])
    """

    onset: np.ndarray
    offset: np.ndarray
    pitch: np.ndarray
    velocity: np.ndarray
    program: np.ndarray
    part: np.ndarray

    def __len__(self) -> int:
        return len(self.onset)

    @property
    def intervals(self) -> np.ndarray:
        """(n, 2) array of [onset, offset], the shape mir_eval expects."""
        return np.stack([self.onset, self.offset], axis=1).reshape(-1, 2)


@dataclass
class Chords:
    """Chord segments: ``intervals`` (n, 2) in seconds and mir_eval ``labels``."""

    intervals: np.ndarray
    labels: list[str]
