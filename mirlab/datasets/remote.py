"""Real public MIR datasets (GTZAN, MagnaTagATune, Beatles chords, MAESTRO) for Colab users."""

from __future__ import annotations

__all__ = ["DatasetUnavailable", "list_datasets", "load_dataset"]


class DatasetUnavailable(Exception):
    """A dataset is not on disk (or failed to download/validate); the message says what to do."""


def list_datasets() -> list[str]:
    """Names accepted by :func:`load_dataset`."""
    return ["beatles_chords", "gtzan", "maestro", "magnatagatune"]


def load_dataset(name, data_home=None, download=False):
    """Load a real public dataset (being written)."""
    raise DatasetUnavailable(f"{name}: not implemented yet")
