"""Version pairs with exact time maps, and music synchronisation scored against them.

The alignment tests use 12-second excerpts of one chorale (bwv66.6, rendered once and cached).
Thresholds are the measured errors with a margin (the full table over several chorales is in
the chapter and in the closing note of issue 11): they fail when an alignment is clearly
wrong (a shifted or reversed time map, a wrong transposition), not on small changes.
"""

import numpy as np
import pytest

from mirlab import alignment as A
from mirlab import sequence
from mirlab.datasets import versions as V

PIECE = "bach/bwv66.6"
SECONDS = 12.0


@pytest.fixture(scope="module")
def pairs():
    return {kind: V.load_pair(PIECE, kind, seconds=SECONDS)
            for kind in ("tempo", "transposition", "orchestration_curve")}


# --- version pairs -----------------------------------------------------------------------------

def test_version_kinds_and_their_time_maps():
    assert V.version_for("tempo").time_map(8.0) == pytest.approx(6.4)
    curve = V.version_for("orchestration_curve")
    assert curve.tempo_curve is not None and curve.programs == V.STRING_QUARTET
    assert V.version_for("transposition").transpose == 2
    assert V.version_for("orchestration", n_parts=5).programs == (40, 40, 41, 41, 42)
    with pytest.raises(ValueError, match="kind"):
        V.version_for("faster")


def test_pair_onsets_are_the_version_notes(pairs):
    pair = pairs["orchestration_curve"]
    t_ref, t_ver = pair.onsets()
    assert np.all(np.diff(t_ref) > 0) and np.all(np.diff(t_ver) > 0)
    np.testing.assert_allclose(t_ver, np.unique(np.round(pair.version.notes.onset, 6)),
                               atol=1e-5)
    assert t_ref.max() < SECONDS
    assert pair.reference.duration == pytest.approx(SECONDS, abs=1e-3)
    assert pair.version.duration == pytest.approx(float(pair.time_map(SECONDS)), abs=1e-3)
    assert pair.version.programs == list(V.STRING_QUARTET)


def test_transposed_pair_keeps_timing_and_moves_pitch(pairs):
    pair = pairs["transposition"]
    np.testing.assert_array_equal(pair.version.notes.pitch, pair.reference.notes.pitch + 2)
    np.testing.assert_allclose(pair.version.notes.onset, pair.reference.notes.onset)


def test_load_pair_checks_its_arguments():
    with pytest.raises(ValueError, match="kind"):
        V.load_pair(PIECE, "slower")
    with pytest.raises(ValueError, match="seconds"):
        V.load_pair(PIECE, "tempo", seconds=-1.0)


# --- time maps and errors ----------------------------------------------------------------------

def test_path_to_time_map_averages_vertical_runs():
    path = np.array([[0, 0], [1, 1], [1, 2], [1, 3], [2, 4], [3, 4], [4, 5]])
    t_ref, t_ver = A.path_to_time_map(path, sr=10, hop_length=1)
    np.testing.assert_allclose(t_ref, [0.0, 0.1, 0.2, 0.3, 0.4])
    np.testing.assert_allclose(t_ver, [0.0, 0.2, 0.4, 0.4, 0.5])
    est = A.apply_time_map((t_ref, t_ver), [0.05, 0.35, 0.6, -0.1])
    np.testing.assert_allclose(est, [0.1, 0.45, 0.7, -0.2])  # slopes 2 and 1 outside


def test_path_to_time_map_rejects_librosa_order():
    path = np.array([[0, 0], [1, 1], [2, 2]])
    with pytest.raises(ValueError, match="reversed"):
        A.path_to_time_map(path[::-1])
    with pytest.raises(ValueError, match="shaped"):
        A.path_to_time_map(np.arange(4))


def test_alignment_error_counts_notes_within_tolerances():
    err = A.alignment_error([0.0, 1.03, 2.1, 3.5], [0.0, 1.0, 2.0, 3.0])
    assert err["median_ms"] == pytest.approx(65.0)
    assert err["mean_ms"] == pytest.approx(157.5)
    assert (err["within_50"], err["within_100"], err["within_200"]) == (0.5, 0.75, 0.75)
    with pytest.raises(ValueError, match="equal"):
        A.alignment_error([0.0], [0.0, 1.0])


def test_sync_features_shapes_and_errors(pairs):
    y, sr = pairs["tempo"].reference.y[: 2 * 22050], 22050
    n = 1 + len(y) // 512
    for feature in A.FEATURES:
        X = A.sync_features(y, sr, feature)
        assert X.shape == ((24 if feature == "chroma_onset" else 12), n)
        assert np.all(np.isfinite(X))
    with pytest.raises(ValueError, match="feature"):
        A.sync_features(y, sr, "mfcc")
    with pytest.raises(ValueError, match="12 or 24 rows"):
        A.sync_cost(np.ones((13, 4)), np.ones((13, 5)))


def test_estimate_transposition_finds_two_semitones(pairs):
    pair = pairs["transposition"]
    X = A.sync_features(pair.reference.y, pair.sr, "chroma_cqt")
    Y = A.sync_features(pair.version.y, pair.sr, "chroma_cqt")
    assert A.estimate_transposition(X, Y) == 2
    assert A.estimate_transposition(Y, X) == 10
    assert A.estimate_transposition(X, X) == 0


# --- alignments against the exact time maps ----------------------------------------------------

def test_tempo_pair_aligns_within_a_frame(pairs):
    row = A.evaluate_pair(pairs["tempo"], "chroma_cqt")
    assert row["median_ms"] < 25 and row["within_100"] >= 0.95, row


def test_transposed_pair_needs_the_shift(pairs):
    good = A.evaluate_pair(pairs["transposition"], "log_chroma")
    assert good["median_ms"] < 25 and good["within_100"] >= 0.95, good
    bad = A.evaluate_pair(pairs["transposition"], "log_chroma", transpose=None)
    assert bad["mean_ms"] > 2 * good["mean_ms"] + 20, (bad, good)


@pytest.mark.parametrize("feature", ["log_chroma", "chroma_onset"])
def test_hardest_pair_reaches_the_target(pairs, feature):
    row = A.evaluate_pair(pairs["orchestration_curve"], feature)
    assert row["median_ms"] <= 50 and row["within_100"] >= 0.9, row


@pytest.mark.parametrize("kind, shift", [("orchestration_curve", 0), ("transposition", 2)])
def test_log_features_find_the_right_shift(pairs, kind, shift):
    """The average log chroma is nearly flat: align estimates the shift from CQT chroma."""
    for feature in ("log_chroma", "chroma_onset"):
        auto = A.evaluate_pair(pairs[kind], feature)
        known = A.evaluate_pair(pairs[kind], feature, transpose=shift)
        np.testing.assert_array_equal(auto["errors"], known["errors"])


def test_align_returns_a_monotone_map_and_a_dtw_path(pairs):
    pair = pairs["tempo"]
    (t_ref, t_ver), path = A.align(pair.reference.y, pair.version.y, pair.sr, "chroma_cqt",
                                   weights=(1, 1, 1))
    assert np.all(np.diff(t_ref) > 0) and np.all(np.diff(t_ver) >= 0)
    X = A.sync_features(pair.reference.y, pair.sr, "chroma_cqt")
    Y = A.sync_features(pair.version.y, pair.sr, "chroma_cqt")
    _, expected = sequence.dtw(A.sync_cost(X, Y)[:40, :40])  # the plain DTW on a corner
    _, fast = sequence.dtw_fast(A.sync_cost(X, Y)[:40, :40])
    np.testing.assert_array_equal(expected, fast)
    assert tuple(path[0]) == (0, 0) and tuple(path[-1]) == (X.shape[1] - 1, Y.shape[1] - 1)


def test_evaluate_and_summarise_pool_the_notes():
    rows = A.evaluate([PIECE], ["tempo"], features=["chroma_cqt"], seconds=6.0, progress=False)
    (summary,) = A.summarise(rows + rows)
    assert summary["pieces"] == 2 and summary["n"] == 2 * rows[0]["n"]
    assert summary["median_ms"] == pytest.approx(rows[0]["median_ms"])


@pytest.mark.skipif(not A.has_synctoolbox(), reason="synctoolbox is not installed")
def test_synctoolbox_reference_aligns_the_tempo_pair():
    pair = V.load_pair(PIECE, "tempo", seconds=8.0)
    row = A.evaluate_pair(pair, "synctoolbox")
    assert row["median_ms"] < 40 and row["within_100"] >= 0.9, row
