"""Real-dataset loaders (mirlab.datasets.remote) against tiny fixtures written by the tests.

Nothing is downloaded. Downloads are simulated by replacing the lowest-level downloader
(urllib for mirdata, pooch's HTTP downloader for pooch) with a function that serves fixture bytes
or raises like a dead network. mirdata's index (normally downloaded from Zenodo into mirdata's
package folder) is written by the tests, with the real MD5 of every fixture file, into a
temporary folder that ``mirdata.core.Index.get_path`` is pointed at; so mirdata's own
``validate`` runs on the fixtures too.
"""

import hashlib
import io
import json
import tarfile
import urllib.error
import urllib.request
import zipfile

import numpy as np
import pooch
import pretty_midi
import pytest
import soundfile as sf

from mirlab.datasets import remote
from mirlab.datasets.remote import DatasetUnavailable, list_datasets, load_dataset

mirdata = pytest.importorskip("mirdata")
mirdata_core = pytest.importorskip("mirdata.core")

SR = 22050


def md5(path):
    return hashlib.md5(path.read_bytes()).hexdigest()


def tone(freq, seconds=0.5, sr=SR):
    t = np.arange(int(seconds * sr)) / sr
    return (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


@pytest.fixture
def index_dir(tmp_path, monkeypatch):
    """Send mirdata's index files to a temporary folder (never into site-packages)."""
    folder = tmp_path / "indexes"
    folder.mkdir()
    monkeypatch.setattr(mirdata_core.Index, "get_path",
                        lambda self: str(folder / self.filename))
    return folder


def write_index(index_dir, dataset, home, tracks):
    """Write a mirdata index listing ``tracks`` {id: {key: relative path}} with real MD5s."""
    ds = mirdata.initialize(dataset, data_home=str(home))
    entries = {tid: {k: [p, md5(home / p) if p and (home / p).is_file() else None]
                     for k, p in files.items()} for tid, files in tracks.items()}
    path = index_dir / ds._index_data.filename
    path.write_text(json.dumps({"version": ds.version, "tracks": entries}))
    return path


@pytest.fixture
def gtzan(tmp_path, index_dir):
    """A two-clip GTZAN in mirdata's layout: genres/<genre>/<genre>.000NN.wav."""
    home = tmp_path / "gtzan"
    clips = {"blues.00000": tone(220.0), "hiphop.00003": tone(330.0, seconds=0.25)}
    tracks = {}
    for tid, y in clips.items():
        rel = f"gtzan_genre/genres/{tid.split('.')[0]}/{tid}.wav"
        (home / rel).parent.mkdir(parents=True, exist_ok=True)
        sf.write(home / rel, y, SR, subtype="FLOAT")
        tracks[tid] = {"audio": rel, "beats": None, "tempo": None}
    write_index(index_dir, "gtzan_genre", home, tracks)
    return home, clips


def test_list_datasets_and_unknown_name():
    names = list_datasets()
    assert {"gtzan", "magnatagatune", "beatles_chords", "maestro"} <= set(names)
    with pytest.raises(ValueError, match=r"name must be one of .*gtzan.*got 'gtzann'"):
        load_dataset("gtzann")


def test_gtzan_loads_audio_and_genre(gtzan):
    home, clips = gtzan
    ds = load_dataset("gtzan", data_home=home)
    assert ds.track_ids == list(clips) and ds.splits is None and len(ds) == 2
    for tid, y in clips.items():
        track = ds.load_track(tid)
        assert track.sr == SR and track.y.dtype == np.float32
        np.testing.assert_allclose(track.y, y, atol=1e-6)
        assert track.annotation == ("hip-hop" if tid.startswith("hiphop") else "blues")
    assert ds.load_track("blues.00000", sr=11025).y.shape == (len(clips["blues.00000"]) // 2,)
    # mirdata's own validation agrees with the fixture: nothing missing, nothing corrupt
    missing, invalid = mirdata.initialize("gtzan_genre", data_home=str(home)).validate(
        verbose=False)
    assert not any(missing["tracks"].values()) and not any(invalid["tracks"].values())


def test_gtzan_bad_track_id_and_missing_audio(gtzan):
    home, _ = gtzan
    ds = load_dataset("gtzan", data_home=home)
    with pytest.raises(ValueError, match="track_id must be one of the 2 ids"):
        ds.load_track("rock.00099")
    (home / "gtzan_genre/genres/hiphop/hiphop.00003.wav").unlink()
    with pytest.raises(DatasetUnavailable, match="hiphop.00003.*download=True"):
        ds.load_track("hiphop.00003")
    assert ds.load_track("hiphop.00003", audio=False).annotation == "hip-hop"


def test_missing_dataset_says_what_to_do(tmp_path, index_dir, gtzan):
    empty = tmp_path / "elsewhere"
    with pytest.raises(DatasetUnavailable) as err:
        load_dataset("gtzan", data_home=empty)
    msg = str(err.value)
    assert "GTZAN is not in" in msg and str(empty) in msg
    assert "load_dataset('gtzan', download=True)" in msg and "place the files" in msg
    # without mirdata's index (never downloaded) the message is just as clear
    for f in index_dir.iterdir():
        f.unlink()
    with pytest.raises(DatasetUnavailable, match="index .* missing.*download=True"):
        load_dataset("gtzan", data_home=empty)


def test_invalid_version_and_parts(tmp_path, index_dir):
    with pytest.raises(ValueError, match="version must be one of"):
        load_dataset("gtzan", data_home=tmp_path, version="2.0")
    with pytest.raises(ValueError, match="parts must be a subset of"):
        load_dataset("maestro", data_home=tmp_path, parts=("video",))


def test_mirdata_missing_tells_how_to_install(monkeypatch, tmp_path):
    import builtins

    real_import = builtins.__import__

    def no_mirdata(name, *args, **kwargs):
        if name == "mirdata" or name.startswith("mirdata."):
            raise ImportError("No module named 'mirdata'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_mirdata)
    with pytest.raises(DatasetUnavailable, match=r"pip install mirlab\[datasets\]"):
        load_dataset("gtzan", data_home=tmp_path)


def dead_network(url, *args, **kwargs):
    raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")


def test_mirdata_network_failure_names_urls(gtzan, monkeypatch):
    home, _ = gtzan
    before = sorted(p.name for p in home.rglob("*"))
    monkeypatch.setattr(urllib.request, "urlretrieve", dead_network)
    with pytest.raises(DatasetUnavailable) as err:
        load_dataset("gtzan", data_home=home, download=True, parts=("all",))
    msg = str(err.value)
    mirrors = remote._SPECS["gtzan"].mirrors["all"]
    for url in ["http://opihi.cs.uvic.ca/sound/genres.tar.gz", *mirrors]:
        assert url in msg          # the original address and the mirror were both tried
    assert "Nothing was lost" in msg and "download=True" in msg
    assert sorted(p.name for p in home.rglob("*")) == before


def test_mirdata_index_download_failure(tmp_path, index_dir, monkeypatch):
    monkeypatch.setattr(urllib.request, "urlretrieve", dead_network)
    with pytest.raises(DatasetUnavailable, match=r"index of GTZAN failed: https://zenodo.org"):
        load_dataset("gtzan", data_home=tmp_path, download=True)


def test_mirdata_download_unpacks_and_checks(tmp_path, index_dir, monkeypatch):
    """A served Beatles archive is unpacked; a corrupt one is deleted with a clear message."""
    lab = "0.000000 0.500000 N\n0.500000 2.250000 E:maj\n2.250000 3.000000 A:min7\n"
    rel = "annotations/chordlab/The Beatles/01_-_Please_Please_Me/01_-_I_Saw_Her.lab"
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        data = lab.encode()
        info = tarfile.TarInfo(rel.replace("annotations/", "", 1))
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    archive = buf.getvalue()
    served = {}

    def fake_urlretrieve(url, filename, reporthook=None, data=None):
        with open(filename, "wb") as f:
            f.write(served[url])

    monkeypatch.setattr(urllib.request, "urlretrieve", fake_urlretrieve)
    ds = mirdata.initialize("beatles", data_home=str(tmp_path))
    r = ds.remotes["annotations"]
    tarball = tmp_path / "annotations" / r.filename
    served[r.url] = b"not the archive"
    tid = "0111"
    (tmp_path / rel).parent.mkdir(parents=True)
    (tmp_path / rel).write_text(lab)          # to compute the index entry, then removed
    write_index(index_dir, "beatles", tmp_path, {tid: {
        "chords": rel, "beat": None, "keys": None, "audio": None,
        "sections": "annotations/seglab/x/01_-_I_Saw_Her.lab"}})
    (tmp_path / rel).unlink()
    with pytest.raises(DatasetUnavailable, match="failed its MD5 checksum.*deleted.*again"):
        load_dataset("beatles_chords", data_home=tmp_path, download=True)
    assert not tarball.exists()

    monkeypatch.setattr(r, "checksum", hashlib.md5(archive).hexdigest())
    served[r.url] = archive
    beatles = load_dataset("beatles_chords", data_home=tmp_path, download=True)
    chords = beatles.load_track(tid, audio=False).annotation
    np.testing.assert_allclose(chords.intervals, [[0, 0.5], [0.5, 2.25], [2.25, 3.0]])
    assert chords.labels == ["N", "E:maj", "A:min7"]
    with pytest.raises(DatasetUnavailable,
                       match="audio of beatles_chords.*not distributed.*audio=False"):
        beatles.load_track(tid)


def test_maestro_notes_and_splits(tmp_path, index_dir):
    home = tmp_path / "maestro"
    rows, tracks = [], {}
    for i, split in enumerate(["train", "test"]):
        pm = pretty_midi.PrettyMIDI()
        piano = pretty_midi.Instrument(program=0)
        piano.notes = [pretty_midi.Note(velocity=40 + i, pitch=60 + i, start=0.5, end=1.0),
                       pretty_midi.Note(velocity=90, pitch=67, start=0.0, end=0.75)]
        pm.instruments.append(piano)
        stem = f"2004/piece_{i}"
        (home / "2004").mkdir(parents=True, exist_ok=True)
        pm.write(str(home / f"{stem}.midi"))
        sf.write(home / f"{stem}.wav", tone(261.6, 1.0, 44100), 44100)
        rows.append({"midi_filename": f"{stem}.midi", "audio_filename": f"{stem}.wav",
                     "split": split, "canonical_composer": "X", "canonical_title": "Y",
                     "year": 2004, "duration": 1.0})
        tracks[stem] = {"audio": f"{stem}.wav", "midi": f"{stem}.midi"}
    (home / "maestro-v2.0.0.json").write_text(json.dumps(rows))
    write_index(index_dir, "maestro", home, tracks)
    ds = load_dataset("maestro", data_home=home)
    assert ds.splits == {"test": ["2004/piece_1"], "train": ["2004/piece_0"]}
    track = ds.load_track("2004/piece_1", sr=None)
    assert track.sr == 44100 and track.y.shape == (44100,)
    notes = track.annotation
    np.testing.assert_allclose(notes.intervals, [[0.0, 0.75], [0.5, 1.0]], atol=1e-3)
    assert list(notes.pitch) == [67, 61] and list(notes.velocity) == [90, 41]
    assert list(notes.program) == [0, 0]


# --- MagnaTagATune (pooch) -------------------------------------------------------------------

TAGS = ["guitar", "classical", "slow"]


@pytest.fixture
def mtat_files(tmp_path):
    """A two-clip MagnaTagATune: the tag table and the MP3 archive cut into three parts."""
    clips = {"2": ("0/a-01-0-29.mp3", ["classical", "slow"], 440.0),
             "7": ("d/b-02-30-59.mp3", ["guitar"], 660.0)}
    table = "\t".join(f'"{c}"' for c in ["clip_id", *TAGS, "mp3_path"]) + "\n"
    zbuf = io.BytesIO()
    with zipfile.ZipFile(zbuf, "w") as z:
        for cid, (path, tags, freq) in clips.items():
            table += "\t".join(f'"{v}"' for v in [cid, *("1" if t in tags else "0" for t in TAGS),
                                                  path]) + "\n"
            mp3 = io.BytesIO()
            sf.write(mp3, tone(freq, 1.0, 16000), 16000, format="MP3")
            z.writestr(path, mp3.getvalue())
    archive = zbuf.getvalue()
    cut = [0, len(archive) // 3, 2 * len(archive) // 3, len(archive)]
    files = {"annotations_final.csv": table.encode()}
    files.update({f"mp3.zip.00{i + 1}": archive[cut[i]:cut[i + 1]] for i in range(3)})
    return files, hashlib.md5(archive).hexdigest(), clips


@pytest.fixture
def mtat_registry(mtat_files, monkeypatch):
    """Point the pooch registry at the fixture's real hashes."""
    files, archive_md5, clips = mtat_files
    registry = dict(remote._MTAT_FILES)
    registry["annotations_final.csv"] = "sha256:" + hashlib.sha256(
        files["annotations_final.csv"]).hexdigest()
    monkeypatch.setattr(remote, "_MTAT_FILES", registry)
    monkeypatch.setattr(remote, "_MTAT_ARCHIVE_HASH", "md5:" + archive_md5)
    return files, clips


def serve(monkeypatch, files, calls):
    """Replace pooch's HTTP downloader: serve fixture bytes by file name, record the URLs."""
    def fake(self, url, output_file, pooch_, check_only=False):
        calls.append(url)
        with open(output_file, "wb") as f:
            f.write(files[url.rsplit("/", 1)[1]])

    monkeypatch.setattr(pooch.HTTPDownloader, "__call__", fake)


def test_mtat_download_and_load(tmp_path, mtat_registry, monkeypatch):
    files, clips = mtat_registry
    calls = []
    serve(monkeypatch, files, calls)
    home = tmp_path / "mtat"
    ds = load_dataset("magnatagatune", data_home=home, download=True)
    assert len(calls) == 4 and all(c.startswith(remote._MTAT_URLS[0]) for c in calls)
    assert ds.track_ids == ["2", "7"]
    assert ds.splits == {"train": ["2"], "validation": [], "test": ["7"]}
    for cid, (_, tags, freq) in clips.items():
        track = ds.load_track(cid)
        assert track.annotation == sorted(tags) and track.sr == SR
        assert abs(len(track.y) / SR - 1.0) < 0.1        # MP3 padding: a few ms either way
        spectrum = np.abs(np.fft.rfft(track.y))
        assert abs(np.argmax(spectrum) * SR / len(track.y) - freq) < 5.0
    assert not list(home.glob("mp3.zip*"))               # parts removed once unpacked
    # already complete: a second call (even with download=True) downloads nothing
    calls.clear()
    load_dataset("magnatagatune", data_home=home, download=True)
    assert calls == []


def test_mtat_cached_file_with_real_hash_is_not_downloaded(tmp_path, mtat_files, monkeypatch):
    files, _, _ = mtat_files
    calls = []
    serve(monkeypatch, files, calls)
    (tmp_path / "annotations_final.csv").write_bytes(files["annotations_final.csv"])
    sha = "sha256:" + hashlib.sha256(files["annotations_final.csv"]).hexdigest()
    path = remote._fetch("magnatagatune", ["https://example.org/annotations_final.csv"],
                         "annotations_final.csv", sha, tmp_path)
    assert path == tmp_path / "annotations_final.csv" and calls == []


def test_mtat_wrong_hash_is_clear(tmp_path, mtat_registry, monkeypatch):
    files, _ = mtat_registry
    served = dict(files, **{"annotations_final.csv": b"truncated"})
    serve(monkeypatch, served, [])
    with pytest.raises(DatasetUnavailable) as err:
        load_dataset("magnatagatune", data_home=tmp_path, download=True)
    msg = str(err.value)
    assert "checksum of annotations_final.csv" in msg and "did not match" in msg
    assert "download=True) again to retry" in msg
    assert not (tmp_path / "annotations_final.csv").exists()


def test_mtat_corrupt_archive_part_is_clear(tmp_path, mtat_registry, monkeypatch):
    files, _ = mtat_registry
    served = dict(files, **{"mp3.zip.002": files["mp3.zip.002"][:-10]})
    serve(monkeypatch, served, [])
    with pytest.raises(DatasetUnavailable,
                       match=r"md5 checksum of .*mp3.zip .*002.* were deleted.*retry"):
        load_dataset("magnatagatune", data_home=tmp_path, download=True)
    assert not (tmp_path / "mp3" / ".complete").exists()
    assert not list(tmp_path.glob("mp3.zip*"))


def test_mtat_not_present_and_network_failure(tmp_path, mtat_registry, monkeypatch):
    with pytest.raises(DatasetUnavailable, match="MagnaTagATune is not in .*download=True"):
        load_dataset("magnatagatune", data_home=tmp_path)

    def unreachable(self, url, output_file, pooch_, check_only=False):
        raise OSError(f"cannot reach {url}")

    monkeypatch.setattr(pooch.HTTPDownloader, "__call__", unreachable)
    monkeypatch.setattr(pooch.core.time, "sleep", lambda s: None)
    with pytest.raises(DatasetUnavailable) as err:
        load_dataset("magnatagatune", data_home=tmp_path, download=True)
    msg = str(err.value)
    assert "MagnaTagATune failed from every address" in msg
    assert all(u + "annotations_final.csv" in msg for u in remote._MTAT_URLS)
    assert "Nothing was lost" in msg and "load_dataset('magnatagatune', download=True)" in msg


def test_mtat_corrupt_table_on_disk(tmp_path, mtat_registry, monkeypatch):
    files, _ = mtat_registry
    serve(monkeypatch, files, [])
    load_dataset("magnatagatune", data_home=tmp_path, download=True)
    (tmp_path / "annotations_final.csv").write_bytes(files["annotations_final.csv"][:-5])
    with pytest.raises(DatasetUnavailable, match="sha256 checksum of .*annotations_final.csv"):
        load_dataset("magnatagatune", data_home=tmp_path)
