"""Note transcription with NMF: harmonic templates, informed initialisation, note extraction.

The pipeline taught in ``notebooks/03_nmf_transcription.ipynb``:

1. :func:`spectrogram`: the magnitude STFT ``V`` of a recording, shaped ``(n_bins, n_frames)``;
2. :func:`harmonic_templates`: one template per piano key (MIDI 21..108): partials at
   ``k * f0`` (optionally stretched by inharmonicity) with amplitudes ``k ** -decay``, each
   drawn with the main lobe of the Hann window's spectrum;
3. :func:`mirlab.transcription.nmf.nmf` with the templates fixed estimates the activations ``H``;
   :func:`score_informed_activations` and :func:`onset_informed_activations` build an initial
   ``H`` that is zero wherever the score (or the known onsets) rules a note out;
4. :func:`activations_to_notes`: thresholding, re-onset detection and a minimum duration turn
   ``H`` into notes (a :class:`mirlab.core.music.Notes`);
5. :func:`evaluate_notes`: onset-only and onset-offset precision, recall and F-measure with
   ``mir_eval.transcription`` (50 ms onset tolerance).

:func:`transcribe` runs steps 1-4; :func:`learn_templates` adapts the templates to an
instrument with score-informed NMF on training pieces.
"""

from mirlab.transcription import nmf
from mirlab.transcription.notes import (
    activations_to_notes,
    error_intervals,
    evaluate_notes,
    evaluate_recordings,
    excerpt,
    learn_templates,
    notes_to_hz,
    plot_activations,
    select_decay,
    transcribe,
)
from mirlab.transcription.templates import (
    PIANO_PITCHES,
    hann_lobe,
    harmonic_templates,
    onset_informed_activations,
    score_informed_activations,
    spectrogram,
)

__all__ = [
    "nmf",
    "PIANO_PITCHES",
    "spectrogram",
    "hann_lobe",
    "harmonic_templates",
    "score_informed_activations",
    "onset_informed_activations",
    "activations_to_notes",
    "transcribe",
    "learn_templates",
    "evaluate_notes",
    "evaluate_recordings",
    "error_intervals",
    "select_decay",
    "notes_to_hz",
    "excerpt",
    "plot_activations",
]
