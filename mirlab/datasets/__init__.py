"""Music for the course: the embedded corpus rendered from music21 scores, and real datasets.

- :mod:`mirlab.datasets.corpus`: Bach chorales and folk tunes rendered with FluidSynth, with
  exact ground truth (notes, beats, chord labels, programs) for every version (tempo, tempo
  curve, transposition, orchestration). Works offline.
- :mod:`mirlab.datasets.chord_labels`: the rule that derives beat-level chord labels from a
  score, its coverage, and its agreement with expert Roman-numeral analyses.
- :mod:`mirlab.datasets.remote`: public MIR datasets (downloaded on request, e.g. in Colab).
- :mod:`mirlab.datasets.tagging`: a multi-label tagging dataset rendered from the corpus
  (instrument families, ensemble, tempo; splits by piece; a second soundfont for a timbre
  shift), MagnaTagATune/GTZAN through the same class, and small transfer tasks.

Examples
--------
>>> from mirlab import datasets
>>> rec = datasets.load_piece("bach/bwv66.6")  # doctest: +SKIP
>>> fast = datasets.load_piece("bach/bwv66.6", datasets.Version(tempo=1.5))  # doctest: +SKIP
"""

from mirlab.datasets.chord_labels import (
    chord_label_coverage,
    classify_sonority,
    compare_with_expert_analyses,
)
from mirlab.datasets.corpus import (
    COLLECTIONS,
    CacheWarning,
    Chords,
    Notes,
    Recording,
    TempoCurve,
    Version,
    list_pieces,
    load_collection,
    load_piece,
    soundfont_path,
)
from mirlab.datasets.remote import DatasetUnavailable, list_datasets, load_dataset
from mirlab.datasets.tagging import (
    TAGS,
    TRANSFER_TASKS,
    TaggingDataset,
    TransferTask,
    load_tagging_dataset,
    load_transfer_task,
)

__all__ = [
    "COLLECTIONS",
    "TAGS",
    "TRANSFER_TASKS",
    "CacheWarning",
    "Chords",
    "DatasetUnavailable",
    "Notes",
    "Recording",
    "TaggingDataset",
    "TempoCurve",
    "TransferTask",
    "Version",
    "chord_label_coverage",
    "classify_sonority",
    "compare_with_expert_analyses",
    "list_datasets",
    "list_pieces",
    "load_collection",
    "load_dataset",
    "load_piece",
    "load_tagging_dataset",
    "load_transfer_task",
    "soundfont_path",
]
