"""The one cache (mirlab.core.cache): keys, round trips, damage detection, commit order."""

import hashlib
import json
import os
import time
import warnings

import numpy as np
import pytest

from mirlab.core import cache as cache_mod
from mirlab.core.cache import Cache, CacheWarning, Entry, cache_key, canonical_json, code_sha256

PARAMS = {"what": "test", "n": 3, "tuple": (1, 2)}


@pytest.fixture
def cache(tmp_path):
    return Cache(folder=tmp_path, what="test data")


def _entry():
    rng = np.random.default_rng(0)
    return Entry(data={"labels": ["a", "b"], "x": 0.25},
                 arrays={"X": rng.standard_normal((4, 5)).astype(np.float32)},
                 audio={"y": (rng.standard_normal(1000) * 3000).astype(np.int16)}, sr=8000,
                 blobs={"weights": b"\x00\x01binary"})


def test_key_is_sha256_of_canonical_json():
    assert canonical_json({"b": 1, "a": (2, 3)}) == b'{"a":[2,3],"b":1}'
    assert cache_key({"b": 1, "a": [2, 3]}) == hashlib.sha256(b'{"a":[2,3],"b":1}').hexdigest()
    assert cache_key({"a": 1}) != cache_key({"a": 1.5})
    with pytest.raises(ValueError, match="params"):
        cache_key({"a": object()})
    with pytest.raises(ValueError, match="params"):
        cache_key({"a": float("nan")})


def test_code_hash_follows_the_code():
    def f(x):
        return x + 1

    def g(x):
        return x + 2

    assert code_sha256(f) == code_sha256(f) and code_sha256(f) != code_sha256(g)
    assert code_sha256(f, g) != code_sha256(g, f)
    assert code_sha256("ab", "c") != code_sha256("a", "bc")  # items are delimited
    assert code_sha256({"a": 1}) == code_sha256({"a": 1}) != code_sha256({"a": 2})
    assert code_sha256(np) == code_sha256(np)  # a module: its source


def test_round_trip_of_every_kind(cache):
    saved = cache.save("piece/one#2", PARAMS, _entry())
    loaded = cache.load("piece/one#2", PARAMS)
    assert loaded.data == saved.data and loaded.sr == 8000
    np.testing.assert_array_equal(loaded.arrays["X"], saved.arrays["X"])
    assert loaded.arrays["X"].dtype == np.float32
    np.testing.assert_array_equal(loaded.audio["y"], saved.audio["y"])
    assert loaded.audio["y"].dtype == np.int16
    assert loaded.blobs["weights"] == b"\x00\x01binary"
    assert cache.load("piece/one#2", {**PARAMS, "n": 4}) is None  # another key: not there
    names = sorted(p.name for p in cache.folder.iterdir())
    assert len(names) == 4 and all(n.startswith("piece__one_n2-") for n in names)


def test_get_or_build_builds_once(cache):
    calls = []

    def build():
        calls.append(1)
        return Entry(data=[1, 2, 3])

    for _ in range(3):
        assert cache.get_or_build("x", PARAMS, build).data == [1, 2, 3]
    assert len(calls) == 1


def _damage(path, how):
    raw = bytearray(path.read_bytes())
    if how == "truncate":
        path.write_bytes(bytes(raw[: len(raw) // 2]))
    elif how == "flip":
        raw[len(raw) // 2] ^= 0xFF
        path.write_bytes(bytes(raw))
    else:
        path.unlink()


@pytest.mark.parametrize("suffix", [".npy", ".flac", ".bin", ".json"])
@pytest.mark.parametrize("how", ["truncate", "flip", "delete"])
def test_damage_is_detected_and_rebuilt(cache, suffix, how):
    cache.save("x", PARAMS, _entry())
    (path,) = cache.folder.glob(f"*{suffix}")
    _damage(path, how)
    if suffix == ".json" and how == "delete":  # no manifest: no entry, quietly
        with warnings.catch_warnings():
            warnings.simplefilter("error", CacheWarning)
            assert cache.load("x", PARAMS) is None
        return
    with pytest.warns(CacheWarning, match="not usable"):
        entry = cache.get_or_build("x", PARAMS, _entry)
    with warnings.catch_warnings():
        warnings.simplefilter("error", CacheWarning)
        again = cache.load("x", PARAMS)
    np.testing.assert_array_equal(again.audio["y"], entry.audio["y"])


def test_silently_edited_data_fails_its_checksum(cache):
    cache.save("x", PARAMS, Entry(data={"pitch": [60, 62]}))
    path = cache.manifest_path("x", PARAMS)
    man = json.loads(path.read_text())
    man["data"]["pitch"][0] += 1
    path.write_text(json.dumps(man))
    with pytest.warns(CacheWarning, match="checksum"):
        assert cache.load("x", PARAMS) is None


def test_other_parameters_in_the_manifest_are_not_used(cache):
    cache.save("x", PARAMS, Entry(data=1))
    path = cache.manifest_path("x", PARAMS)
    man = json.loads(path.read_text())
    man["params"]["n"] = 99
    path.write_text(json.dumps(man))
    with pytest.warns(CacheWarning, match="other parameters"):
        assert cache.load("x", PARAMS) is None


def test_manifest_is_written_last_and_orphans_are_cleaned(cache, monkeypatch):
    order = []
    real = cache_mod.atomic_write_bytes

    def spy(path, data):
        order.append(path.suffix)
        real(path, data)

    monkeypatch.setattr(cache_mod, "atomic_write_bytes", spy)
    cache.save("x", PARAMS, _entry())
    assert order[-1] == ".json" and sorted(order[:-1]) == [".bin", ".flac", ".npy"]
    stem = cache.manifest_path("x", PARAMS).name[: -len(".json")]
    old, young = cache.folder / f"{stem}-y-00000000.flac", cache.folder / f"{stem}-y-11111111.flac"
    for orphan in (old, young):
        orphan.write_bytes(b"uncommitted")
    ago = time.time() - 2 * cache_mod.ORPHAN_AGE
    os.utime(old, (ago, ago))
    cache.save("x", PARAMS, _entry())
    assert not old.exists() and young.exists()
    assert not list(cache.folder.glob("*.tmp"))


def test_bad_arguments(cache):
    with pytest.raises(ValueError, match="int16"):
        cache.save("x", PARAMS, Entry(audio={"y": np.zeros(3)}, sr=8000))
    with pytest.raises(ValueError, match="sr"):
        cache.save("x", PARAMS, Entry(audio={"y": np.zeros(3, np.int16)}))
    with pytest.raises(ValueError, match="bytes"):
        cache.save("x", PARAMS, Entry(blobs={"w": "text"}))
    with pytest.raises(ValueError, match="name"):
        cache.save("a b", PARAMS, Entry())
    with pytest.raises(ValueError, match="entry"):
        cache.save("x", PARAMS, {"data": 1})
