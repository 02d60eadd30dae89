"""Alignment: music synchronisation with DTW, scored against exact time maps.

- :mod:`mirlab.alignment.synchronisation`: synchronisation features, a DTW path turned into a
  time map, its error at the note onsets, evaluation tables (and the Sync Toolbox as a
  reference where it imports)

The DTW, soft-DTW and CTC recursions themselves live in :mod:`mirlab.sequence`; version pairs
with exact time maps in :mod:`mirlab.datasets.versions`. Taught in
``notebooks/07_alignment.ipynb``.
"""

from mirlab.alignment.synchronisation import (
    FEATURES,
    align,
    alignment_error,
    apply_time_map,
    estimate_transposition,
    evaluate,
    evaluate_pair,
    has_synctoolbox,
    path_to_time_map,
    summarise,
    sync_cost,
    sync_features,
    synctoolbox_time_map,
)

__all__ = ["FEATURES", "sync_features", "sync_cost", "estimate_transposition", "align",
           "path_to_time_map", "apply_time_map", "alignment_error", "evaluate_pair", "evaluate",
           "summarise", "has_synctoolbox", "synctoolbox_time_map"]
