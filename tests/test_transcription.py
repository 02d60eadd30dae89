"""mirlab.transcription: harmonic templates, informed activations, note extraction, evaluation
(against mir_eval), and the transcription of a rendered piano chorale above a measured floor."""

import mir_eval.transcription
import numpy as np
import pytest
import scipy.signal

from mirlab import datasets, features
from mirlab import transcription as T

SR, N_FFT, HOP_LENGTH = 22050, 4096, 512


def notes(onset, offset, pitch):
    n = len(onset)
    return datasets.Notes(onset=np.asarray(onset, float), offset=np.asarray(offset, float),
                          pitch=np.asarray(pitch), velocity=np.full(n, 90),
                          program=np.zeros(n, int), part=np.zeros(n, int))


# --- templates ------------------------------------------------------------------------------

def test_hann_lobe_is_the_spectrum_of_a_hann_window():
    # scipy's Hann window, zero-padded 64 times: its FFT samples the spectrum every 1/64 bin
    n, pad = 512, 64
    spectrum = np.abs(np.fft.rfft(scipy.signal.get_window("hann", n), n * pad))
    x = np.arange(2 * pad) / pad  # 0 .. 2 bins (exclusive)
    np.testing.assert_allclose(T.hann_lobe(x), spectrum[: 2 * pad] / spectrum[0], atol=2e-3)
    np.testing.assert_array_equal(T.hann_lobe([-2.0, 2.0, 3.5]), 0.0)  # main lobe only
    assert T.hann_lobe(-1.0) == T.hann_lobe(1.0) == 0.5
    with pytest.raises(ValueError, match="x must be finite"):
        T.hann_lobe([np.nan])


def test_harmonic_template_peaks_sit_on_the_partials_with_the_chosen_decay():
    W = T.harmonic_templates(SR, N_FFT, pitches=[45], n_partials=8, decay=1.5)
    f0 = 110.0
    assert W.shape == (1 + N_FFT // 2, 1) and W.dtype == np.float32
    assert W.sum() == pytest.approx(1.0, rel=1e-5)
    peaks = [W[int(round(k * f0 * N_FFT / SR)) - 1: int(round(k * f0 * N_FFT / SR)) + 2].max()
             for k in range(1, 9)]
    ratios = np.array(peaks) / peaks[0]
    # the sampled lobe's height depends on where the partial falls between bins: within 25 %
    np.testing.assert_allclose(ratios, np.arange(1, 9) ** -1.5, rtol=0.25)
    assert W[: int(0.5 * f0 * N_FFT / SR)].max() == 0  # nothing below the fundamental's lobe


def test_decay_zero_gives_equal_partials_and_nyquist_drops_partials():
    W = T.harmonic_templates(8000, 1024, pitches=[69], n_partials=12, decay=0.0)
    bins = [int(round(k * 440 * 1024 / 8000)) for k in range(1, 10)]
    heights = np.array([W[b - 1: b + 2].max() for b in bins])
    assert heights.max() / heights.min() < 1.3  # equal amplitudes up to the bin position
    assert T.harmonic_templates(8000, 1024, pitches=[108], n_partials=5).sum() == 0  # C8 > 4 kHz


def test_inharmonicity_stretches_the_partials_upwards():
    plain = T.harmonic_templates(SR, N_FFT, pitches=[40], n_partials=20, decay=0.0)[:, 0]
    stretched = T.harmonic_templates(SR, N_FFT, pitches=[40], n_partials=20, decay=0.0,
                                     inharmonicity=4e-4)[:, 0]
    centroid = [np.sum(np.arange(len(w)) * w) / w.sum() for w in (plain, stretched)]
    assert centroid[1] > centroid[0] * 1.01


@pytest.mark.parametrize("kwargs, phrase", [
    (dict(decay=-1.0), "decay must be a number >= 0"),
    (dict(width=0.0), "width must be a positive number"),
    (dict(pitches=[]), "pitches must be a non-empty"),
    (dict(n_fft=1), "n_fft must be an integer >= 2"),
    (dict(inharmonicity=-1e-4), "inharmonicity must be a number >= 0"),
])
def test_template_bad_input_names_the_argument(kwargs, phrase):
    with pytest.raises(ValueError, match=phrase):
        T.harmonic_templates(**kwargs)


# --- informed activations -------------------------------------------------------------------

def test_score_informed_activations_mark_each_note_with_its_tolerance():
    ref = notes([0.5, 1.0], [1.0, 2.0], [60, 64])
    H = T.score_informed_activations(ref, 100, SR, HOP_LENGTH, pitches=[60, 62, 64], tolerance=0.1)
    frames = features.time_to_frames(np.array([0.4, 1.1, 0.9, 2.1]), sr=SR, hop_length=HOP_LENGTH)
    assert H.shape == (3, 100) and H[1].sum() == 0
    np.testing.assert_array_equal(np.flatnonzero(H[0]), np.arange(frames[0], frames[1]))
    np.testing.assert_array_equal(np.flatnonzero(H[2]), np.arange(frames[2], frames[3]))


def test_onset_informed_activations_end_at_the_next_onset_of_the_same_pitch():
    H = T.onset_informed_activations([0.5, 1.5, 1.0], [60, 60, 64], 200, SR, HOP_LENGTH,
                                     pitches=[60, 64], tolerance=0.0, max_duration=2.0)
    f = lambda t: int(features.time_to_frames(t, sr=SR, hop_length=HOP_LENGTH))  # noqa: E731
    np.testing.assert_array_equal(np.flatnonzero(H[0]), np.arange(f(0.5), f(3.5)))
    np.testing.assert_array_equal(np.flatnonzero(H[1]), np.arange(f(1.0), f(3.0)))
    H = T.onset_informed_activations([0.5, 1.5], [60, 60], 200, SR, HOP_LENGTH, pitches=[60],
                                     tolerance=0.0, max_duration=0.5)
    assert np.flatnonzero(np.diff(H[0])).size == 4  # two separate notes
    # the arguments are named like the fields of Notes
    same = T.onset_informed_activations(onset=[0.5, 1.5], pitch=[60, 60], n_frames=200, sr=SR,
                                        hop_length=HOP_LENGTH, pitches=[60], tolerance=0.0,
                                        max_duration=0.5)
    np.testing.assert_array_equal(same, H)
    with pytest.raises(ValueError, match="onset and pitch must have the same shape"):
        T.onset_informed_activations([0.5], [60, 61], 10)


# --- note extraction ------------------------------------------------------------------------

def test_activations_to_notes_on_a_hand_made_activation():
    sr, hop = 100, 10  # 0.1 s per frame
    H = np.zeros((3, 30))
    H[0, 2:8] = 1.0             # a note from 0.2 to 0.8 s
    H[1, 10:12] = 0.9           # too short for min_duration 0.25 s
    H[2, 5:20] = 0.5
    H[2, 12:20] = [2.0, 1.8, 1.6, 1.4, 1.2, 1.0, 0.8, 0.6]  # re-struck at 1.2 s, decaying
    H[2, 25] = 0.05             # below the threshold
    got = T.activations_to_notes(H, sr, hop, pitches=[60, 62, 64], threshold=0.1,
                                 min_duration=0.25, rise=2.0)
    np.testing.assert_allclose(got.onset, [0.2, 0.5, 1.2])
    np.testing.assert_allclose(got.offset, [0.8, 1.2, 2.0])
    assert got.pitch.tolist() == [60, 64, 64]
    assert got.velocity.tolist() == [64, 32, 127]
    no_split = T.activations_to_notes(H, sr, hop, pitches=[60, 62, 64], threshold=0.1,
                                      min_duration=0.25, rise=0.0)
    assert no_split.onset.tolist() == pytest.approx([0.2, 0.5])


def test_threshold_is_relative_or_absolute():
    H = np.zeros((1, 10))
    H[0, 2:5], H[0, 6:9] = 10.0, 3.0
    rel = T.activations_to_notes(H, 100, 10, pitches=[60], threshold=0.5, min_duration=0)
    ab = T.activations_to_notes(H, 100, 10, pitches=[60], threshold=0.5, min_duration=0,
                                relative=False)
    assert len(rel) == 1 and len(ab) == 2


def test_silent_activations_give_no_notes_and_evaluate_to_zero():
    got = T.activations_to_notes(np.zeros((88, 50)))
    assert len(got) == 0
    scores = T.evaluate_notes(notes([0.1], [0.5], [60]), got)
    assert scores["f_measure"] == 0 and scores["offset_f_measure"] == 0


def test_activations_to_notes_bad_input():
    with pytest.raises(ValueError, match="one pitch per row of H"):
        T.activations_to_notes(np.ones((3, 5)), pitches=[60, 61])
    with pytest.raises(ValueError, match="H must be non-negative"):
        T.activations_to_notes(-np.ones((88, 5)))


# --- evaluation -----------------------------------------------------------------------------

def test_evaluate_notes_equals_mir_eval():
    ref = notes([0.0, 0.5, 1.0, 1.5], [0.5, 1.0, 1.5, 2.5], [60, 62, 64, 65])
    est = notes([0.02, 0.56, 1.0, 1.52], [0.5, 1.4, 1.9, 1.9], [60, 62, 64, 66])
    got = T.evaluate_notes(ref, est)
    ri, rp = ref.intervals, features.midi_to_hz(ref.pitch.astype(float))
    ei, ep = est.intervals, features.midi_to_hz(est.pitch.astype(float))
    p, r, f, _ = mir_eval.transcription.precision_recall_f1_overlap(ri, rp, ei, ep,
                                                                     offset_ratio=None)
    assert (got["precision"], got["recall"], got["f_measure"]) == (p, r, f)
    assert got["f_measure"] == pytest.approx(2 / 4)  # one late onset, one wrong pitch
    assert got["offset_f_measure"] == pytest.approx(1 / 4)  # and one wrong offset
    assert T.evaluate_notes(ref, ref)["offset_f_measure"] == 1.0


def test_error_intervals_sort_the_wrong_notes():
    ref = notes([0.0, 0.0, 1.0], [1.0, 1.0, 2.0], [48, 55, 60])
    est = notes([0.0, 0.01, 0.3, 1.2, 3.0], [1.0, 1.0, 0.9, 2.0, 3.5], [48, 60, 67, 60, 70])
    got = T.evaluate_notes(ref, est)
    assert got["recall"] == pytest.approx(1 / 3)
    assert T.error_intervals(ref, est) == {"extra": {5: 1, 12: 1, 0: 1, None: 1},
                                           "missed": 2, "matched": 1}


# --- transcription of real rendered music ---------------------------------------------------

@pytest.fixture(scope="module")
def excerpt(chorale):
    """The first 8 s of the chorale on piano and the notes that start in them."""
    rec = T.excerpt(chorale, 8.0)
    assert len(rec.y) == 8 * rec.sr and rec.notes.onset.max() < 8.0
    assert rec.notes.offset.max() <= 8.0 and len(rec.notes) < len(chorale.notes)
    return rec.y, rec.sr, rec.notes


def test_transcribing_a_rendered_piano_chorale_scores_above_the_floor(excerpt):
    y, sr, ref = excerpt
    est, result = T.transcribe(y, sr, decay=1.5, threshold=0.2, n_iter=30)
    scores = T.evaluate_notes(ref, est)
    # measured 0.80 (onset) on this excerpt; the floor leaves room for other renderers
    assert scores["f_measure"] > 0.7
    assert scores["offset_f_measure"] < scores["f_measure"]  # offsets are the hard part
    assert np.all(np.diff(result.cost) <= 0)
    flat, _ = T.transcribe(y, sr, decay=0.0, threshold=0.2, n_iter=30)
    assert T.evaluate_notes(ref, flat)["f_measure"] < scores["f_measure"]  # the decay matters


def test_score_informed_transcription_and_learned_templates(excerpt, chorale):
    y, sr, ref = excerpt
    V = T.spectrogram(y, sr)
    H0 = T.score_informed_activations(ref, V.shape[1], sr) * V.mean()
    est, result = T.transcribe(y, sr, H=H0, threshold=0.2, n_iter=30)
    assert np.all(result.H[H0 == 0] == 0)  # zeros stay zeros
    assert T.evaluate_notes(ref, est)["f_measure"] > 0.7  # measured 0.82
    W0 = T.harmonic_templates(decay=1.5)
    W = T.learn_templates([chorale], W0, n_iter=10)
    assert W.shape == W0.shape and np.allclose(W.sum(axis=0)[W0.sum(axis=0) > 0], 1, atol=1e-4)
    used = np.isin(T.PIANO_PITCHES, chorale.notes.pitch)
    assert not np.allclose(W[:, used], W0[:, used])
    np.testing.assert_array_equal(W[:, ~used], W0[:, ~used])


def test_decay_selection_and_evaluation_of_several_recordings(chorale):
    rec = T.excerpt(chorale, 6.0)
    rows = T.select_decay([rec], decays=(0.0, 1.5), thresholds=(0.15, 0.2), n_iter=15)
    assert [(r["decay"], r["threshold"]) for r in rows] == [(0.0, 0.15), (0.0, 0.2),
                                                            (1.5, 0.15), (1.5, 0.2)]
    best = max(rows, key=lambda r: r["f_measure"])
    assert best["decay"] == 1.5  # flat partials explain every note with a lower key
    same = T.evaluate_recordings([rec], decay=1.5, threshold=best["threshold"], n_iter=15)
    assert same["n_pieces"] == 1 and same["f_measure"] == pytest.approx(best["f_measure"])
    informed = T.evaluate_recordings([rec], decay=1.5, informed="score", n_iter=15)
    assert 0 < informed["f_measure"] <= 1
    onset = T.evaluate_recordings([rec], decay=1.5, informed="onset", n_iter=15)
    assert 0 < onset["f_measure"] <= 1
    with pytest.raises(ValueError, match="informed must be None, 'score' or 'onset'"):
        T.evaluate_recordings([rec], informed="midi")
