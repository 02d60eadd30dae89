"""Themes from real scores, melody groups, the database design and theme retrieval.

Exact checks on exact data: themes come from the scores (compared with the ground truth's
soprano), groups from equal pitch-class sequences; retrieval costs on constructed chroma are
exactly 0 for an embedded query; ranks are integers.
"""

import numpy as np
import pytest

from mirlab.alignment import themes as R
from mirlab.datasets import themes as T
from mirlab.datasets.scores import ground_truth


def test_chorale_theme_is_the_opening_of_the_soprano():
    t = T.theme("bach/bwv66.6")
    truth = ground_truth("bach/bwv66.6")
    sel = np.asarray(truth["part"]) == 0
    on, p = np.asarray(truth["onset"])[sel], np.asarray(truth["pitch"])[sel]
    assert len(t) == T.THEME_NOTES
    assert t.onset.tolist() == on[:T.THEME_NOTES].tolist()
    assert t.pitch.tolist() == p[:T.THEME_NOTES].tolist()
    assert np.all(np.diff(t.onset) > 0) and np.all(t.offset > t.onset)
    assert t.pitch_class.tolist() == (p[:T.THEME_NOTES] % 12).tolist()


def test_folk_melody_is_the_whole_tune():
    pid = T.split_pieces("test", ("folk",))[0]
    mel, truth = T.melody(pid), ground_truth(pid)
    assert mel.pitch.tolist() == truth["pitch"]
    assert T.theme(pid, 5).pitch.tolist() == truth["pitch"][:5]


def test_version_moves_the_melody_exactly():
    pid = "bach/bwv66.6"
    v = T.database_version(pid, seed=3)
    assert v == T.database_version(pid, seed=3) and v != T.database_version(pid, seed=4)
    assert 0.8 <= v.tempo <= 1.25 and len(v.programs) == 4
    mel, orig = T.melody(pid, v), T.melody(pid)
    assert np.allclose(mel.onset, v.time_map(orig.onset))
    assert mel.pitch.tolist() == orig.pitch.tolist()


def test_groups_are_transposition_invariant():
    a = T.Theme("a", "", np.arange(3.0), np.arange(3.0) + 1, np.array([60, 62, 64]))
    b = T.Theme("b", "", np.arange(3.0), np.arange(3.0) + 1, np.array([65, 67, 69]))
    c = T.Theme("c", "", np.arange(3.0), np.arange(3.0) + 1, np.array([60, 62, 65]))
    assert T.melody_groups([a, b, c]) == {"a": 0, "b": 0, "c": 1}
    stats = T.group_statistics(T.melody_groups([a, b, c]))
    assert stats == {"n_pieces": 3, "n_groups": 2, "n_shared_groups": 1, "n_pieces_shared": 2,
                     "largest": 2}


def test_real_chorales_share_a_melody():
    # BWV 10.7 and BWV 324 harmonise the same tune (Meine Seele erhebt den Herren)
    ths = T.themes(["bach/bwv10.7", "bach/bwv324", "bach/bwv66.6"])
    g = T.melody_groups(ths)
    assert g["bach/bwv10.7"] == g["bach/bwv324"] != g["bach/bwv66.6"]


def test_hcqt_lines_up_the_harmonics():
    sr, f = T.SR, 440.0
    t = np.arange(sr) / sr
    y = sum(np.sin(2 * np.pi * k * f * t) for k in (1, 2, 3, 4))
    H = T.hcqt(y)
    assert H.shape[:2] == (4, 60) and H.dtype == np.float32
    k = 69 - T.PITCH_RANGE[0]  # A4 at bin 33 of the fundamental channel
    mid = H[:, :, H.shape[2] // 2]
    for h in range(4):  # channel h shows A4's (h+1)-th harmonic at the bin of A4
        assert mid[h, k] > 0.5 * mid[h].max()
    assert int(np.argmax(mid[0])) == k


def test_frame_labels_and_notes_chroma():
    lab = T.frame_labels([0.0, 1.0], [60, 67], 30, frame_rate=10.0, legato_end=2.0)
    assert lab[:10].tolist() == [0] * 10 and lab[10:20].tolist() == [7] * 10
    assert (lab[20:] == -1).all()
    X = T.notes_chroma([0.0, 1.0], [60, 67], 20, frame_rate=10.0, legato_end=2.0)
    assert X.shape == (12, 20) and (X.sum(axis=0) == 1).all()
    with pytest.raises(ValueError, match="onset and pitch"):
        T.frame_labels([0.0], [60, 62], 10)


def test_query_chroma_and_match_cost():
    t = T.Theme("x", "", np.array([0.0, 0.5, 1.0]), np.array([0.5, 1.0, 2.0]),
                np.array([60, 64, 67]))
    Q = R.query_chroma(t, frame_rate=10.0)
    assert Q.shape == (12, 20) and Q[0, :5].sum() == 5 and Q[7, 10:].sum() == 10
    noise = np.eye(12)[:, [2, 9, 11, 5, 2]]
    X = np.c_[noise, Q, noise]
    assert R.match_cost(Q, X) == pytest.approx(0.0, abs=1e-12)
    fast = np.c_[noise, Q[:, ::2], noise]  # the recording twice as fast: still a match
    assert R.match_cost(Q, fast) < 0.1  # (the last row needs one step off the match)
    assert R.match_cost(Q, noise) > 0.5
    with pytest.raises(ValueError, match="same number of rows"):
        R.match_cost(Q, np.ones((13, 40)))
    with pytest.raises(ValueError, match="must be a Theme"):
        R.query_chroma(Q)


def test_rank_metrics_counts_groups_and_ties():
    costs = np.array([[0.3, 0.1, 0.2], [0.5, 0.5, 0.1], [0.2, 0.2, 0.9]])
    m = R.rank_metrics(costs, [0, 2, 2], [0, 0, 2])  # recordings 0 and 1 share group 0
    assert m["ranks"] == [1, 1, 3]  # query 2: ties with wrong recordings count against it
    assert m["top1"] == pytest.approx(2 / 3) and m["top10"] == 1.0
    with pytest.raises(ValueError, match="no correct recording"):
        R.rank_metrics(costs, [0, 1, 5], [0, 0, 2])
    with pytest.raises(ValueError, match="costs must be shaped"):
        R.rank_metrics(costs[:2], [0, 1, 2], [0, 0, 2])


def test_top_note_chroma_takes_the_highest_salient_pitch():
    H = np.zeros((4, 60, 3))
    H[:, 10, :] = 1.0  # a loud low pitch
    H[:, 40, 1] = 0.9  # a slightly weaker high pitch in frame 1
    X = R.top_note_chroma(H)
    assert np.argmax(X[:, 0]) == 10 % 12 and np.argmax(X[:, 1]) == 40 % 12
    with pytest.raises(ValueError, match="harmonic CQT"):
        R.top_note_chroma(np.zeros((60, 3)))


def test_bad_arguments():
    with pytest.raises(ValueError, match="split must be"):
        T.split_pieces("training")
    with pytest.raises(ValueError, match="n_notes"):
        T.theme("bach/bwv66.6", 0)
    with pytest.raises(ValueError, match="Theme objects"):
        T.melody_groups(["bach/bwv66.6"])
    with pytest.raises(ValueError, match="name must be one of"):
        R.baseline_chroma("mfcc", np.zeros(1000))
