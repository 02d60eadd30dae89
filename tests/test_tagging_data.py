"""The corpus tagging dataset and transfer tasks (mirlab.datasets.tagging), kept small."""

import json
import warnings

import numpy as np
import pytest
import soundfile as sf

from mirlab.core import env
from mirlab.core.cache import CacheWarning
from mirlab.datasets import clips, tagging, transfer_tasks
from mirlab.datasets.remote import RemoteDataset

N = 30  # clips: 21 train, 3 valid, 6 test
SECONDS = 3.0


@pytest.fixture
def tagging_cache(tmp_path, monkeypatch):
    """A fresh, empty tagging cache (the corpus' ground truth still comes from the shared one)."""
    real = env.cache_dir

    def cache_dir(*parts):
        if parts[:1] == ("tagging",):
            path = tmp_path.joinpath(*parts)
            path.mkdir(parents=True, exist_ok=True)
            return path
        return real(*parts)

    monkeypatch.setattr(env, "cache_dir", cache_dir)
    return tmp_path / "tagging"


@pytest.fixture(scope="module")
def ds():
    return tagging.load_tagging_dataset(n_clips=N, clip_seconds=SECONDS, progress=False)


def test_shapes_and_dtypes(ds):
    n = int(round(SECONDS * ds.sr))
    assert ds.audio.shape == (N, n) and ds.audio.dtype == np.float32
    assert ds.labels.shape == (N, len(tagging.TAGS)) and ds.labels.dtype == np.float32
    assert set(np.unique(ds.labels)) <= {0.0, 1.0}
    assert ds.tags == tagging.TAGS and len(ds.meta) == len(ds) == N
    assert np.all(np.abs(ds.audio) <= 1) and np.all(np.std(ds.audio, axis=1) > 1e-3)
    assert sorted(np.unique(ds.split)) == ["test", "train", "valid"]
    assert [int(np.sum(ds.split == s)) for s in ("train", "valid", "test")] == [21, 3, 6]


def test_tag_vocabulary():
    assert len(tagging.INSTRUMENT_TAGS) >= 8
    assert {"solo", "small_ensemble", "full_ensemble", "slow", "fast"} <= set(tagging.TAGS)
    for fam, progs in tagging.FAMILIES.items():
        assert all(0 <= p <= 127 for p in progs), fam
    everything = [p for progs in tagging.FAMILIES.values() for p in progs]
    assert len(everything) == len(set(everything))  # a program belongs to one family


def test_splits_are_disjoint_by_piece(ds):
    pieces = {s: {m["piece_id"] for m, x in zip(ds.meta, ds.split, strict=True) if x == s}
              for s in ("train", "valid", "test")}
    assert not pieces["train"] & pieces["valid"]
    assert not pieces["train"] & pieces["test"]
    assert not pieces["valid"] & pieces["test"]
    for m, s in zip(ds.meta, ds.split, strict=True):
        assert tagging.piece_split(m["piece_id"]) == s


def test_transfer_pieces_never_in_training_or_test():
    for collection in ("chorales", "folk"):
        for part in ("pool", "test"):
            for pid in transfer_tasks.transfer_pieces(collection, None, part):
                assert tagging.piece_split(pid) in ("transfer", "valid")
    pool = set(transfer_tasks.transfer_pieces("chorales", None, "pool"))
    assert pool and not pool & set(transfer_tasks.transfer_pieces("chorales", None, "test"))


def test_tags_match_the_design(ds):
    """A clip tagged with a family has a program of that family at an audible level, playing."""
    for row, m in zip(ds.labels, ds.meta, strict=True):
        tags = {t for t, v in zip(ds.tags, row, strict=True) if v}
        programs = {tr["program"]: tr for tr in m["tracks"]}
        notes = clips.clip_notes(m)
        for fam in tagging.INSTRUMENT_TAGS:
            have = [tr for p, tr in programs.items() if p in tagging.FAMILIES[fam]]
            playing = max([np.sum(np.minimum(off, SECONDS) - on)
                           for tr, (on, off, _, _) in zip(m["tracks"], notes, strict=True)
                           if tr["family"] == fam] or [0.0])
            if fam in tags:
                assert have and max(tr["gain_db"] for tr in have) >= -10
                assert playing >= 1.0
            else:  # untagged: not in the orchestration, or silent for most of the clip
                assert not have or playing < 1.0
        assert sum(t in tags for t in tagging.ENSEMBLE_TAGS) == 1
        assert m["ensemble"] in tags
        assert ("slow" in tags) == (m["bpm"] <= 72) and ("fast" in tags) == (m["bpm"] >= 132)
        if m["collection"] == "folk":
            assert "solo" in tags
        if "solo" in tags:
            assert len({tr["program"] for tr in m["tracks"]}) == 1
        if "full_ensemble" in tags:
            assert len(m["tracks"]) > 4


def test_tagged_family_is_audible():
    """Rendering one clip with and without a tagged family changes the audio clearly."""
    # a clip with two families at least: with one, muting it leaves silence at -96 dB (the
    # floor of FluidSynth's channel volume) that the effects' normalisation brings back
    metas = [m for m in tagging.design_clips(N, SECONDS) if m["ensemble"] == "small_ensemble"
             and len({tr["family"] for tr in m["tracks"]}) > 1]
    m = metas[0]
    fam = m["tracks"][0]["family"]
    muted = json.loads(json.dumps(m))
    for tr in muted["tracks"]:
        if tr["family"] == fam:
            tr["gain_db"] = -200.0
    m["effects"].update(snr_db=200.0, wet=0.0)
    muted["effects"].update(snr_db=200.0, wet=0.0, gain_db=m["effects"]["gain_db"])
    a, b = (clips.render_clips([x], 16000, "default")[0].astype(float) for x in (m, muted))
    assert np.std(a - b) > 0.05 * np.std(a)


def test_deterministic_and_cache_reload_equals_first_render(ds, tagging_cache):
    first = tagging.load_tagging_dataset(n_clips=N, clip_seconds=SECONDS, progress=False)
    again = tagging.load_tagging_dataset(n_clips=N, clip_seconds=SECONDS, progress=False)
    np.testing.assert_array_equal(first.audio, again.audio)
    np.testing.assert_array_equal(first.audio, ds.audio)  # fresh render == shared cache
    np.testing.assert_array_equal(first.labels, ds.labels)
    other = tagging.design_clips(N, SECONDS, random_state=1)
    assert [m["piece_id"] for m in other] != [m["piece_id"] for m in first.meta]


def test_corrupt_cache_is_detected_and_rebuilt(tagging_cache):
    tagging.load_tagging_dataset(n_clips=3, clip_seconds=1.0, progress=False)
    (npy,) = tagging_cache.glob("*.npy")
    raw = bytearray(npy.read_bytes())
    raw[-10] ^= 0xFF
    npy.write_bytes(bytes(raw))
    with pytest.warns(CacheWarning, match="checksum"):
        again = tagging.load_tagging_dataset(n_clips=3, clip_seconds=1.0, progress=False)
    assert again.audio.shape == (3, 16000)
    with warnings.catch_warnings():
        warnings.simplefilter("error", CacheWarning)
        tagging.load_tagging_dataset(n_clips=3, clip_seconds=1.0, progress=False)


def test_subset_and_counts(ds):
    test = ds.subset("test")
    assert len(test) == int(np.sum(ds.split == "test")) and set(test.split) == {"test"}
    both = ds.subset(["train", "valid"])
    assert len(both) + len(test) == len(ds)
    counts = ds.tag_counts()
    assert counts["solo"] + counts["small_ensemble"] + counts["full_ensemble"] == len(ds)
    table = ds.tag_table()
    assert table.loc["(clips)", "total"] == len(ds)
    assert table.loc["piano", "total"] == counts["piano"]
    with pytest.raises(ValueError, match="split"):
        ds.subset("training")


@pytest.mark.parametrize("kwargs, word", [
    ({"n_clips": 0}, "n_clips"), ({"n_clips": 2.5}, "n_clips"), ({"clip_seconds": -1}, "clip"),
    ({"sr": 0}, "sr"), ({"soundfont": "nonesuch"}, "soundfont"), ({"splits": "all"}, "splits"),
    ({"splits": []}, "splits"), ({"random_state": -1}, "random_state"),
    ({"name": "mtat"}, "name")])
def test_bad_arguments(kwargs, word):
    with pytest.raises(ValueError, match=word):
        tagging.load_tagging_dataset(**{"progress": False, **kwargs})


def test_musescore_renders_the_same_clips_with_other_samples(ds):
    if not tagging.has_soundfont("musescore"):
        with pytest.raises(ValueError, match="musescore-general-soundfont-small"):
            tagging.load_tagging_dataset(n_clips=N, clip_seconds=SECONDS, soundfont="musescore")
        pytest.skip("the MuseScore soundfont is not installed")
    shifted = tagging.load_tagging_dataset(n_clips=N, clip_seconds=SECONDS,
                                           soundfont="musescore", splits="test", progress=False)
    test = ds.subset("test")
    np.testing.assert_array_equal(shifted.labels, test.labels)
    assert [m["piece_id"] for m in shifted.meta] == [m["piece_id"] for m in test.meta]
    assert shifted.audio.shape == test.audio.shape
    assert not np.allclose(shifted.audio, test.audio, atol=1e-2)
    assert {m["soundfont"] for m in shifted.meta} == {"musescore"}


def test_missing_musescore_soundfont_says_what_to_install(monkeypatch):
    monkeypatch.setattr(clips, "MUSESCORE_FILES", ("/nonexistent/MuseScore_General.sf3",))
    with pytest.raises(ValueError, match="apt-get install"):
        tagging.soundfont_file("musescore")
    assert not tagging.has_soundfont("musescore")


def test_transfer_task_draws_n_per_class():
    task = tagging.load_transfer_task("ensemble", n_pool=4, n_test=3, clip_seconds=2.0,
                                      progress=False)
    assert task.audio.shape == (3 * 7, 32000) and task.audio.dtype == np.float32
    assert np.bincount(task.y[task.test_index]).tolist() == [3, 3, 3]
    idx = task.draw(2, random_state=0)
    assert np.bincount(task.y[idx]).tolist() == [2, 2, 2] and set(task.split[idx]) == {"pool"}
    np.testing.assert_array_equal(idx, task.draw(2, random_state=0))
    for m, label in zip(task.meta, task.y, strict=True):  # label: the ensemble's size
        assert m["ensemble"] == ("solo", "small_ensemble", "full_ensemble")[label]
        n_parts = len({tr["part"] for tr in m["tracks"]})
        assert len(m["tracks"]) == (n_parts, n_parts, 2 * n_parts + 1)[label]
    pool = {m["piece_id"] for m in task.meta if m["split"] == "pool"}
    assert not pool & {m["piece_id"] for m in task.meta if m["split"] == "test"}
    with pytest.raises(ValueError, match="n_per_class"):
        task.draw(5)
    with pytest.raises(ValueError, match="name"):
        tagging.load_transfer_task("genre")


def test_collection_task_classes_come_from_their_collections():
    task = tagging.load_transfer_task("collection", n_pool=2, n_test=2, clip_seconds=1.0,
                                      progress=False)
    sources = [m["source"] for m in task.meta]
    expected = {0: "bach", 1: "essenFolksong", 2: "oneills1850"}
    assert all(s == expected[k] for s, k in zip(sources, task.y, strict=True))


def test_real_dataset_through_the_same_interface(tmp_path, monkeypatch):
    """A fake MagnaTagATune (files written here) loads as a TaggingDataset."""
    sr = 16000
    ids, tags = ["a", "b", "c", "d"], {"a": ["guitar", "rock"], "b": ["piano"],
                                        "c": ["choir", "slow"], "d": ["guitar"]}
    for k, tid in enumerate(ids):
        t = np.arange(int((1 + k) * sr)) / sr
        sf.write(tmp_path / f"{tid}.wav", 0.3 * np.sin(2 * np.pi * 220 * (k + 1) * t), sr)
    fake = RemoteDataset(name="magnatagatune", data_home=tmp_path, track_ids=ids,
                         splits={"train": ["a", "b"], "validation": ["c"], "test": ["d"]},
                         _audio_path=lambda tid: str(tmp_path / f"{tid}.wav"),
                         _annotation=lambda tid: tags[tid])
    monkeypatch.setattr("mirlab.datasets.remote.load_dataset", lambda name, data_home: fake)
    ds = tagging.load_tagging_dataset("magnatagatune", clip_seconds=2.0, progress=False)
    assert ds.audio.shape == (4, 2 * sr) and ds.tags == tagging.MTAT_TOP50
    assert ds.split.tolist() == ["train", "train", "valid", "test"]
    assert ds.labels[0, ds.tags.index("guitar")] == 1 and ds.labels[0].sum() == 2
    assert ds.labels[2, ds.tags.index("choir")] == 1
    assert np.all(ds.audio[0, sr:] == 0)  # a 1 s track zero-padded to 2 s
    assert len(ds.subset("test")) == 1


def test_design_key_is_the_design_not_the_audio(monkeypatch):
    key = tagging.design_key(n_clips=N, clip_seconds=SECONDS, random_state=0)
    assert len(key) == 16 and key == tagging.design_key(n_clips=N, clip_seconds=SECONDS)
    others = [tagging.design_key(n_clips=N + 1, clip_seconds=SECONDS),
              tagging.design_key(n_clips=N, clip_seconds=2.0),
              tagging.design_key(n_clips=N, clip_seconds=SECONDS, random_state=1),
              tagging.design_key(n_clips=N, clip_seconds=SECONDS, soundfont="musescore")]
    assert len({key, *others}) == 5
    # the renderer (FluidSynth's version, the soundfont's bytes) is not part of the design
    monkeypatch.setattr("mirlab.datasets.synth.soundfont_sha256", lambda path: "0" * 64)
    assert tagging.design_key(n_clips=N, clip_seconds=SECONDS) == key
    # the code of the clip design is
    monkeypatch.setitem(clips.TEMPO_RANGES, "slow", (40.0, 72.0))
    assert tagging.design_key(n_clips=N, clip_seconds=SECONDS) != key
    with pytest.raises(ValueError, match="random_state"):
        tagging.design_key(random_state=-1)


def test_tagging_cache_is_keyed_on_design_and_renderer(tagging_cache, monkeypatch):
    tagging.load_tagging_dataset(n_clips=3, clip_seconds=1.0, progress=False)
    (manifest,) = tagging_cache.glob("*.json")
    params = json.loads(manifest.read_text())["params"]
    assert params["design"] == tagging.design_key(n_clips=3, clip_seconds=1.0)
    assert params["synth"]["renderer"] in ("fluidsynth", "fallback")
    monkeypatch.setattr("mirlab.datasets.synth.soundfont_sha256", lambda path: "0" * 64)
    if env.has_fluidsynth():  # another soundfont file: rendered anew, the old entry kept
        tagging.load_tagging_dataset(n_clips=3, clip_seconds=1.0, progress=False)
        assert len(list(tagging_cache.glob("*.json"))) == 2
