"""The similarity excerpts: exact labels, time maps, piano rolls, splits by piece, the cache."""

import numpy as np
import pytest

from mirlab.core import env
from mirlab.datasets import similarity as sim
from mirlab.datasets.clips import piece_split
from mirlab.datasets.scores import ground_truth


@pytest.fixture(scope="module")
def data():
    return sim.load_similarity_data("quick", progress=False)


def test_sizes_and_labels(data):
    n_train, n_valid, n_test = sim.SIZES["quick"]["n_passages"]
    v = sim.SIZES["quick"]["n_versions"]
    n_coll = len(sim.SIM_COLLECTIONS)
    assert len(data) == (n_train + n_valid + n_test) * n_coll * v
    assert data.audio.shape == (len(data), 3 * 16000) and data.audio.dtype == np.float32
    assert data.piano_roll.shape == (len(data), 128, 3 * sim.ROLL_FPS)
    counts = np.bincount(data.notion("passage"))
    assert np.all(counts == v)
    assert set(np.unique(data.notion("collection"))) == set(range(n_coll))
    assert np.all(np.abs(data.audio).max(axis=1) > 0.01)  # nothing silent


def test_passage_versions_differ_but_share_the_score(data):
    for p in np.unique(data.notion("passage")):
        idx = np.flatnonzero(data.notion("passage") == p)
        metas = [data.meta[i] for i in idx]
        assert len({m["piece_id"] for m in metas}) == 1
        assert len({m["centre"] for m in metas}) == 1
        assert len(set(data.notion("collection")[idx])) == 1
        # distinct instrument families within a passage
        assert len(set(data.notion("instrumentation")[idx])) == len(idx)
        # every excerpt covers the passage's centre, and spans overlap by at least 2/3
        spans = data.score_span[idx]
        assert np.all(spans[:, 0] < metas[0]["centre"]) and np.all(spans[:, 1] >
                                                                     metas[0]["centre"])
        overlap = spans[:, 1].min() - spans[:, 0].max()
        assert overlap > 0.66 * np.min(spans[:, 1] - spans[:, 0])


def test_time_map_is_exact(data):
    for m in data.meta[:12]:
        t0, t1 = sim.excerpt_window(m)
        v = sim.version_of(m)
        assert abs(t1 - t0 - m["clip_seconds"]) < 1e-9
        s0, s1 = m["score_span"]
        assert abs(float(v.time_map(s0)) - t0) < 1e-3
        assert abs(float(v.time_map(s1)) - t1) < 1e-3
        assert abs(float(v.time_map(m["centre"])) - (t0 + t1) / 2) < 1e-9


def test_piano_roll_matches_the_score(data):
    """The roll holds the transposed score pitches sounding in the excerpt's score span."""
    for i in range(0, len(data), 7):
        m = data.meta[i]
        truth = ground_truth(m["piece_id"])
        s0, s1 = m["score_span"]
        on, off = np.asarray(truth["onset"]), np.asarray(truth["offset"])
        inside = (on < s1 - 0.05) & (off > s0 + 0.05)
        expected = set((np.asarray(truth["pitch"])[inside] + m["transpose"]).tolist())
        got = set(np.flatnonzero(data.piano_roll[i].any(axis=1)).tolist())
        assert expected <= got and got <= expected | set(
            (np.asarray(truth["pitch"])[(on < s1) & (off > s0)] + m["transpose"]).tolist())


def test_split_by_piece(data):
    for split in sim.SPLITS:
        part = data.subset(split)
        assert np.all(part.split == split)
        assert all(piece_split(p) == split for p in part.piece_id)
    pieces = {s: set(data.subset(s).piece_id) for s in sim.SPLITS}
    assert not pieces["train"] & pieces["test"] and not pieces["train"] & pieces["valid"]


def test_design_is_deterministic():
    a = sim.design_passages("essen_folk", "test", 2, 3, 3.0, np.random.default_rng(5))
    b = sim.design_passages("essen_folk", "test", 2, 3, 3.0, np.random.default_rng(5))
    c = sim.design_passages("essen_folk", "test", 2, 3, 3.0, np.random.default_rng(6))
    assert a == b and a != c


def test_cached_data_equals_a_fresh_rendering(data):
    again = sim.load_similarity_data("quick", progress=False)
    np.testing.assert_array_equal(again.audio, data.audio)
    renderer = "fluidsynth" if env.has_fluidsynth() else "fallback"
    fresh = sim.render_excerpt(data.meta[5], 16000, renderer)
    np.testing.assert_array_equal(fresh.astype(np.float32) / 32768, data.audio[5])


@pytest.mark.parametrize("kwargs, match", [
    (dict(size="huge"), "size must be one of"),
    (dict(n_passages=(1, 2)), "n_passages must hold three"),
    (dict(n_versions=1), "n_versions must be an integer >= 2"),
    (dict(n_versions=10), "n_versions must be at most 9"),
    (dict(clip_seconds=0), "clip_seconds must be a positive"),
    (dict(soundfonts=("nope",)), "soundfont must be one of"),
])
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        sim.load_similarity_data(**{"size": "quick", "progress": False, **kwargs})


def test_too_many_passages():
    with pytest.raises(ValueError, match="too many"):
        sim.design_passages("oneill_irish", "valid", 10_000, 2, 3.0, np.random.default_rng(0))
