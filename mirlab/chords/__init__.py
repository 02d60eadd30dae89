"""Chord recognition: vocabulary and templates, HMMs (transitions, Viterbi, forward-backward),
recognisers from chroma, and evaluation with mir_eval on the rendered chorales.

- :mod:`mirlab.chords.vocabulary`: the 24 major/minor triads and ``N``, mir_eval and libfmp
  labels, binary and harmonics-weighted templates;
- :mod:`mirlab.chords.transitions`: uniform, circle-of-fifths and learned transition
  matrices (decoding with Viterbi and forward-backward: :mod:`mirlab.sequence`);
- :mod:`mirlab.chords.recognition`: chroma variants, smoothing, beat-synchronous chroma,
  template similarity, emissions, :class:`ChordRecognizer`;
- :mod:`mirlab.chords.evaluation`: the train/test split by piece, ground-truth label
  sequences, duration-weighted mir_eval scores, libfmp's HMM recogniser.

Taught in ``notebooks/02_chord_recognition.ipynb``; lab: ``labs/lab02_chord_recognition``.
"""

from mirlab.chords.evaluation import (
    METRICS,
    Prepared,
    aggregate_scores,
    chorale_split,
    compare_recognizers,
    confusion_matrix,
    error_segments,
    expert_pieces,
    expert_reference,
    label_sequences,
    libfmp_recognize,
    prepare,
    reference_chords,
    score_piece,
)
from mirlab.chords.recognition import (
    CHROMA_VARIANTS,
    HOP_LENGTH,
    ChordRecognizer,
    beat_sync,
    chord_chroma,
    emission_log_probabilities,
    estimate_beats,
    frame_edges,
    smooth_chroma,
    states_to_segments,
    template_similarity,
)
from mirlab.chords.transitions import (
    circle_of_fifths_transitions,
    learn_transitions,
    uniform_transitions,
)
from mirlab.chords.vocabulary import (
    LABELS,
    N_CHORDS,
    chord_pitch_classes,
    chord_templates,
    from_libfmp,
    index_to_label,
    label_to_index,
    to_libfmp,
)
from mirlab.sequence import forward_backward, viterbi, viterbi_fast

__all__ = [
    "LABELS", "N_CHORDS", "label_to_index", "index_to_label", "from_libfmp", "to_libfmp",
    "chord_pitch_classes", "chord_templates",
    "uniform_transitions", "circle_of_fifths_transitions", "learn_transitions", "viterbi",
    "viterbi_fast", "forward_backward",
    "HOP_LENGTH", "CHROMA_VARIANTS", "chord_chroma", "smooth_chroma", "beat_sync", "frame_edges",
    "template_similarity", "emission_log_probabilities", "states_to_segments",
    "ChordRecognizer",
    "METRICS", "chorale_split", "reference_chords", "label_sequences", "score_piece",
    "aggregate_scores", "libfmp_recognize", "expert_pieces", "expert_reference", "estimate_beats",
    "Prepared", "prepare", "compare_recognizers", "confusion_matrix", "error_segments",
]
