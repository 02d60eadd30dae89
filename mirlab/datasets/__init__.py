"""Music for the course: the embedded corpus rendered from music21 scores, and real datasets.

- :mod:`mirlab.datasets.chord_labels`: the rule that derives beat-level chord labels from a
  score;
- :mod:`mirlab.datasets.scores`: the collections of music21 scores (Bach chorales, folk
  tunes), parsed into exact ground truth (notes, beats, chord labels), label coverage;
- :mod:`mirlab.datasets.expert`: music21's expert Roman-numeral analyses aligned with the
  scores, and their agreement with the rule;
- :mod:`mirlab.datasets.synth`: the one synthesiser (FluidSynth, or the fallback);
- :mod:`mirlab.datasets.corpus`: the scores rendered, with exact ground truth for every
  version (tempo, tempo curve, transposition, orchestration). Works offline;
- :mod:`mirlab.datasets.clips`: the design, rendering and effects of tagging clips;
- :mod:`mirlab.datasets.tagging`: a multi-label tagging dataset rendered from the corpus
  (instrument families, ensemble, tempo; splits by piece; a second soundfont for a timbre
  shift), MagnaTagATune/GTZAN through the same class;
- :mod:`mirlab.datasets.transfer_tasks`: small transfer tasks on pieces the tagger never heard;
- :mod:`mirlab.datasets.remote`: public MIR datasets (downloaded on request, e.g. in Colab).

Taught in ``book/datasets.ipynb``.

Examples
--------
>>> from mirlab import datasets
>>> rec = datasets.load_piece("bach/bwv66.6")  # doctest: +SKIP
>>> fast = datasets.load_piece("bach/bwv66.6", datasets.Version(tempo=1.5))  # doctest: +SKIP
"""

from mirlab.core.cache import CacheWarning
from mirlab.core.music import Chords, Notes
from mirlab.datasets.chord_labels import classify_sonority
from mirlab.datasets.corpus import (
    Recording,
    TempoCurve,
    Version,
    load_collection,
    load_piece,
)
from mirlab.datasets.expert import compare_with_expert_analyses
from mirlab.datasets.remote import DatasetUnavailable, list_datasets, load_dataset
from mirlab.datasets.scores import COLLECTIONS, chord_label_coverage, list_pieces
from mirlab.datasets.synth import soundfont_path
from mirlab.datasets.tagging import TAGS, TaggingDataset, design_key, load_tagging_dataset
from mirlab.datasets.transfer_tasks import TRANSFER_TASKS, TransferTask, load_transfer_task

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
    "design_key",
    "list_datasets",
    "list_pieces",
    "load_collection",
    "load_dataset",
    "load_piece",
    "load_tagging_dataset",
    "load_transfer_task",
    "soundfont_path",
]
