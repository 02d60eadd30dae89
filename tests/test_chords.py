"""Tests of mirlab.chords: vocabulary, templates, HMMs (against librosa and libfmp), recognisers,
evaluation (against mir_eval). The ``chorale`` fixture (conftest) is BWV 66.6 on the piano."""

from __future__ import annotations

import inspect
import itertools

import libfmp.c5
import librosa
import mir_eval
import numpy as np
import pytest

from mirlab import chords as ch
from mirlab import datasets

TINY = np.finfo(float).tiny


def _random_hmm(n_states, n_frames, random_state):
    rng = np.random.default_rng(random_state)
    A = rng.random((n_states, n_states)) ** 3
    A /= A.sum(axis=1, keepdims=True)
    B = rng.random((n_states, n_frames))
    p0 = rng.random(n_states)
    return A, B, p0 / p0.sum()


# --- vocabulary and templates ---------------------------------------------------------------

def test_labels_round_trip():
    assert len(ch.LABELS) == 25 and len(set(ch.LABELS)) == 25
    for k, label in enumerate(ch.LABELS):
        assert ch.label_to_index(label) == k
        assert ch.index_to_label(k) == label
        assert ch.from_libfmp(ch.to_libfmp(label)) == label


def test_libfmp_labels_convert_in_libfmp_order():
    names = libfmp.c5.get_chord_labels(nonchord=True)
    assert [ch.from_libfmp(n) for n in names] == list(ch.LABELS)
    assert ch.to_libfmp("Eb:min") == "D#m"


@pytest.mark.parametrize("label, index", [("Bb:maj", 10), ("A#:maj", 10), ("G:7", 7),
                                          ("A:min7", 21), ("C:maj/3", 0), ("Db:min", 13)])
def test_label_reduction_to_triads(label, index):
    assert ch.label_to_index(label) == index
    # the reduced label scores as the original one under mir_eval's majmin
    assert mir_eval.chord.majmin([label], [ch.index_to_label(index)])[0] == 1.0


def test_labels_outside_the_vocabulary():
    for label in ("X", "B:dim", "C:aug"):
        assert ch.label_to_index(label, strict=False) == -1
        with pytest.raises(ValueError, match="label"):
            ch.label_to_index(label)


@pytest.mark.parametrize("call, name", [
    (lambda: ch.label_to_index(3), "label"),
    (lambda: ch.label_to_index("H:maj"), "label"),
    (lambda: ch.index_to_label(25), "index"),
    (lambda: ch.from_libfmp("Hm"), "label"),
    (lambda: ch.chord_templates(kind="sevenths"), "kind"),
    (lambda: ch.chord_templates("harmonics", n_harmonics=0), "n_harmonics"),
    (lambda: ch.uniform_transitions(24, 1.5), "self_prob"),
    (lambda: ch.circle_of_fifths_transitions(width=0), "width"),
    (lambda: ch.learn_transitions([[0, 30]]), "sequences"),
    (lambda: ch.learn_transitions([[0, 1]], smoothing=-1), "smoothing"),
    (lambda: ch.template_similarity(np.ones((24, 5))), "chroma"),
    (lambda: ch.emission_log_probabilities(np.ones((24, 5)), kind="gauss"), "kind"),
    (lambda: ch.states_to_segments([0, 1], [0.0, 1.0]), "edges"),
    (lambda: ch.ChordRecognizer(transitions=np.ones((24, 24))), "transitions"),
    (lambda: ch.ChordRecognizer(chroma="mfcc"), "chroma"),
    (lambda: ch.beat_sync(np.ones((12, 5)), 22050, 512, [1.0, 0.5]), "beats"),
])
def test_bad_inputs_name_the_argument(call, name):
    with pytest.raises(ValueError, match=name):
        call()


def test_binary_templates_match_libfmp():
    ours = ch.chord_templates("binary")
    ref = libfmp.c5.generate_chord_templates()
    np.testing.assert_allclose(ours, ref / np.linalg.norm(ref, axis=0), atol=1e-12)


def test_harmonic_templates():
    T = ch.chord_templates("harmonics", n_harmonics=4, decay=0.6)
    np.testing.assert_allclose(np.linalg.norm(T, axis=0), 1.0)
    np.testing.assert_allclose(ch.chord_templates("harmonics", n_harmonics=1),
                               ch.chord_templates("binary"))
    # C major: the chord notes dominate; the 3rd harmonic of E adds B, of G adds D
    c = T[:, 0]
    assert set(np.argsort(c)[-3:]) == {0, 4, 7} and c[11] > 0 and c[2] > 0 and c[1] == 0
    for k in range(12):  # transposing the chord rolls its template
        np.testing.assert_allclose(T[:, k], np.roll(T[:, 0], k))
        np.testing.assert_allclose(T[:, 12 + k], np.roll(T[:, 12], k))


# --- transitions ----------------------------------------------------------------------------

def test_uniform_transitions_match_libfmp():
    np.testing.assert_allclose(ch.uniform_transitions(24, 0.15),
                               libfmp.c5.uniform_transition_matrix(p=0.15, N=24))


def test_circle_of_fifths_transitions():
    A = ch.circle_of_fifths_transitions(self_prob=0.5)
    np.testing.assert_allclose(A.sum(axis=1), 1.0)
    np.testing.assert_allclose(A.diagonal(), 0.5)
    assert A[0, 7] > A[0, 2] > A[0, 6]  # C -> G, C -> D, C -> F#
    assert A[0, 21] > A[0, 15]  # C -> A minor (relative) likelier than C -> D# minor


def test_learned_transitions_count_pairs():
    A = ch.learn_transitions([[0, 0, 7, -1, 7, 0], [12, 12]], smoothing=0.0,
                             transpose_invariant=False)
    np.testing.assert_allclose(A.sum(axis=1), 1.0)
    assert A[0, 0] == 0.5 and A[0, 7] == 0.5 and A[7, 0] == 1.0 and A[12, 12] == 1.0
    np.testing.assert_allclose(A[3], 1 / 24)  # never left: uniform


def test_learned_transitions_from_chorales_are_key_invariant():
    train, _ = ch.chorale_split()
    A = ch.learn_transitions(ch.label_sequences(train[:20]))
    np.testing.assert_allclose(A.sum(axis=1), 1.0)
    np.testing.assert_allclose(A[0, 7], A[2, 9])  # C -> G as D -> A
    np.testing.assert_allclose(A[12, 19], A[17, 12])  # Cm -> G#... as Fm -> Cm
    assert A[7, 0] > A[7, 1]  # V -> I far likelier than a move by a semitone


def test_frame_sequences_follow_the_beats():
    pid = ch.chorale_split()[1][0]
    intervals, labels = ch.reference_chords(pid)
    beats = ch.label_sequences([pid], "beat")[0]
    frames = ch.label_sequences([pid], "frame", sr=1000, hop_length=100)[0]
    assert len(beats) == len(labels)
    centre = 10 * 0.1  # frame 10 is centred at 1.0 s
    k = np.searchsorted(intervals[:, 0], centre, side="right") - 1
    assert frames[10] == beats[k]


# --- Viterbi and forward-backward -----------------------------------------------------------

@pytest.mark.parametrize("n_states, n_frames, random_state",
                         [(24, 400, 0), (5, 60, 1), (2, 1, 2)])
def test_viterbi_matches_librosa_and_libfmp_on_random_input(n_states, n_frames, random_state):
    A, B, p0 = _random_hmm(n_states, n_frames, random_state)
    log = (np.log(B + TINY), np.log(A + TINY), np.log(p0 + TINY))
    plain, logp = ch.viterbi(*log, return_logp=True)
    fast, logp_fast = ch.viterbi_fast(*log, return_logp=True)
    ref, ref_logp = librosa.sequence.viterbi(B, A, p_init=p0, return_logp=True)
    _, fmp, _, _ = libfmp.c5.viterbi_log_likelihood(A, p0[None, :], B)
    np.testing.assert_array_equal(plain, ref)
    np.testing.assert_array_equal(fast, ref)
    np.testing.assert_array_equal(fmp, ref)
    np.testing.assert_allclose([logp, logp_fast], np.ravel(ref_logp)[0], rtol=1e-10)


def test_viterbi_matches_librosa_and_libfmp_on_a_rendered_chorale(chorale):
    chroma = ch.chord_chroma(chorale.y, chorale.sr, hop_length=1024, variant="cqt")
    B = np.exp(ch.emission_log_probabilities(ch.template_similarity(chroma), "libfmp"))
    A, p0 = ch.uniform_transitions(24, 0.15), np.full(24, 1 / 24)
    log = (np.log(B + TINY), np.log(A), np.log(p0))
    ref = librosa.sequence.viterbi(B, A, p_init=p0)
    _, fmp, _, _ = libfmp.c5.viterbi_log_likelihood(A, p0[None, :], B)
    np.testing.assert_array_equal(ch.viterbi(*log), ref)
    np.testing.assert_array_equal(ch.viterbi_fast(*log), ref)
    np.testing.assert_array_equal(fmp, ref)
    assert len(np.unique(ref)) > 5  # a real chord sequence, not a constant


def test_viterbi_rejects_probabilities_instead_of_logs():
    A, B, p0 = _random_hmm(3, 10, 0)
    with pytest.raises(ValueError, match="log_A"):
        ch.viterbi(np.log(B), A)
    with pytest.raises(ValueError, match="log_A must have shape"):
        ch.viterbi_fast(np.log(B), np.log(A[:2, :2]))


def _brute_force(A, B, p0):
    """Probability of every path of a tiny HMM, by enumeration."""
    n_states, n_frames = B.shape
    paths = np.array(list(itertools.product(range(n_states), repeat=n_frames)))
    prob = p0[paths[:, 0]] * B[paths[:, 0], 0]
    for n in range(1, n_frames):
        prob = prob * A[paths[:, n - 1], paths[:, n]] * B[paths[:, n], n]
    return paths, prob


def test_forward_backward_agrees_with_enumeration():
    A, B, p0 = _random_hmm(3, 6, 4)
    gamma, loglik = ch.forward_backward(np.log(B), np.log(A), np.log(p0))
    paths, prob = _brute_force(A, B, p0)
    np.testing.assert_allclose(loglik, np.log(prob.sum()), rtol=1e-10)
    expected = np.array([[prob[paths[:, n] == i].sum() for n in range(6)] for i in range(3)])
    np.testing.assert_allclose(gamma, expected / prob.sum(), atol=1e-12)
    np.testing.assert_allclose(gamma.sum(axis=0), 1.0)
    np.testing.assert_array_equal(ch.viterbi(np.log(B), np.log(A), np.log(p0)),
                                  paths[np.argmax(prob)])


def test_forward_backward_on_long_input_does_not_underflow():
    A, B, p0 = _random_hmm(24, 3000, 5)
    gamma, loglik = ch.forward_backward(np.log(B * 1e-3), np.log(A), np.log(p0))
    assert np.isfinite(loglik) and loglik < -3000 * np.log(1e3)
    np.testing.assert_allclose(gamma.sum(axis=0), 1.0)


# --- recognition and evaluation -------------------------------------------------------------

def test_states_to_segments_and_frame_edges():
    edges = ch.frame_edges(4, sr=100, hop_length=10)
    np.testing.assert_allclose(edges, [0.0, 0.05, 0.15, 0.25, 0.35])
    iv, labels = ch.states_to_segments(np.array([21, 21, 24, 0]), edges)
    assert labels == ["A:min", "N", "C:maj"]
    np.testing.assert_allclose(iv, [[0.0, 0.15], [0.15, 0.25], [0.25, 0.35]])


def test_beat_sync_averages_frames_by_centre():
    X = np.arange(12 * 10, dtype=float).reshape(12, 10)
    synced, edges = ch.beat_sync(X, sr=10, hop_length=2, beats=[0.5, 1.1])
    # centres 0, .2, .4 | .6, .8, 1.0 | 1.2 ... 1.8
    np.testing.assert_allclose(synced[0], [1.0, 4.0, 7.5])
    np.testing.assert_allclose(edges, [0.0, 0.5, 1.1, 1.9])


def test_score_piece_matches_mir_eval(chorale):
    ref_iv, ref_lab = chorale.chords.intervals, chorale.chords.labels
    est_iv, est_lab = ch.ChordRecognizer().predict(chorale.y, chorale.sr)
    scores = ch.score_piece(ref_iv, ref_lab, est_iv, est_lab)
    ref = mir_eval.chord.evaluate(ref_iv, ref_lab, est_iv, est_lab)
    for metric in ch.METRICS:
        correct, total = scores[metric]
        assert total > 0.8 * chorale.duration - 2
        np.testing.assert_allclose(correct / total, ref[metric], rtol=1e-9)
    # over pieces, durations add up: a piece scored twice gives the same score
    np.testing.assert_allclose(ch.aggregate_scores([scores, scores])["majmin"], ref["majmin"])


def test_chorale_split_is_by_piece_and_fixed():
    train, test = ch.chorale_split()
    ids = datasets.list_pieces("chorales")
    assert not set(train) & set(test) and set(train) | set(test) == set(ids)
    assert len(test) == -(-len(ids) // 5) and ch.chorale_split() == (train, test)


def test_recognisers_on_a_rendered_chorale_score_above_floors(chorale):
    """Floors a few points below the values measured with mir_eval on BWV 66.6 (piano):
    libfmp 0.79, template matching 0.77, beat-synchronous HMM 0.88 (estimated beats)."""
    train, _ = ch.chorale_split()
    A = ch.learn_transitions(ch.label_sequences(train[:20]))
    ref = chorale.chords.intervals, chorale.chords.labels

    def majmin(intervals, labels):
        return mir_eval.chord.evaluate(*ref, intervals, labels)["majmin"]

    y, sr = chorale.y, chorale.sr
    fmp = majmin(*ch.libfmp_recognize(y, sr))
    templates = majmin(*ch.ChordRecognizer().predict(y, sr))
    best = ch.ChordRecognizer(transitions=A, beta=80.0)
    est = majmin(*best.predict(y, sr, beats=ch.estimate_beats(y, sr)))
    truth = majmin(*best.predict(y, sr, beats=chorale.beats))
    assert fmp > 0.74 and templates > 0.72 and est > 0.83 and truth > 0.83
    assert est > fmp + 0.03


def test_expert_reference_sits_on_the_beats_of_the_rendering():
    pid = ch.expert_pieces()[0]
    assert len(ch.expert_pieces()) >= 15
    intervals, labels = ch.expert_reference(pid)
    truth_iv, truth_labels = ch.reference_chords(pid)
    assert len(labels) == len(intervals) > 20
    # every expert beat is a beat of the rule labels, at the same time
    starts = {round(float(t), 6) for t in truth_iv[:, 0]}
    assert all(round(float(t), 6) in starts for t in intervals[:, 0])
    # and the two references mostly agree (the rule agrees with experts on ~90 % of beats)
    s = ch.score_piece(intervals, labels, truth_iv, truth_labels)
    assert s["majmin"][0] / s["majmin"][1] > 0.8
    with pytest.raises(ValueError, match="piece_id"):
        ch.expert_reference("bach/bwv66.6")
    # the analysis of BWV 277 follows an edition with other barlines than the rendered score
    assert "bach/bwv277" not in ch.expert_pieces()
    with pytest.raises(ValueError, match="matching expert analysis"):
        ch.expert_reference("bach/bwv277")


def test_confusion_matrix_and_error_segments():
    ref = (np.array([[0.0, 2.0], [2.0, 3.0], [3.0, 5.0]]), ["C:maj", "B:dim", "G:7"])
    est = (np.array([[0.0, 1.0], [1.0, 5.0]]), ["C:maj", "A:min"])
    M = ch.confusion_matrix([(*ref, *est)])
    assert M.shape == (25, 25) and M[0, 0] == 1.0 and M[0, 21] == 1.0 and M[7, 21] == 2.0
    assert M.sum() == 4.0  # the diminished second is left out
    errors = ch.error_segments(*ref, *est)
    assert [(e["start"], e["end"], e["reference"]) for e in errors] == [
        (3.0, 5.0, "G:7"), (1.0, 2.0, "C:maj")]


def test_one_hop_length_default_across_the_chord_package():
    # chapter 2's tables are computed at 1024 samples; every function that frames the audio
    # (or the labels) defaults to the same hop, so a recogniser and its chroma always agree
    assert ch.HOP_LENGTH == 1024
    for fn in (ch.chord_chroma, ch.prepare, ch.label_sequences, ch.libfmp_recognize):
        assert inspect.signature(fn).parameters["hop_length"].default == ch.HOP_LENGTH, fn
    assert ch.ChordRecognizer().hop_length == ch.HOP_LENGTH


def test_prepare_and_compare_recognizers(chorale):
    items = ch.prepare([chorale], variants=("cqt_log",), progress=False)
    assert items[0].chroma["cqt_log"].shape == (12, 1 + len(chorale.y) // ch.HOP_LENGTH)
    beats = items[0].est_beats
    assert np.all(np.diff(beats) > 0) and beats[0] >= 0 and beats[-1] < chorale.duration
    # estimated beats: near the score's (the lag is compensated)
    assert mir_eval.beat.f_measure(chorale.beats, beats) > 0.8
    rz = ch.ChordRecognizer()
    out = ch.compare_recognizers(items, {"tm": lambda it: rz.predict(
        it.y, it.sr, chroma=it.chroma["cqt_log"])}, progress=False)
    direct = mir_eval.chord.evaluate(chorale.chords.intervals, chorale.chords.labels,
                                     *rz.predict(chorale.y, chorale.sr))
    np.testing.assert_allclose(out["scores"]["tm"]["majmin"], direct["majmin"])
    with pytest.raises(ValueError, match="chroma"):
        rz.predict(chorale.y, chorale.sr, chroma=items[0].chroma["cqt_log"][:, :-1])
