"""Real public MIR datasets behind one small interface, for Colab users.

The embedded corpus (:func:`mirlab.datasets.load_piece`) runs anywhere without a network; the
datasets here are the field's real benchmarks and must be downloaded once (in Colab, or on any
machine with internet access)::

    from mirlab.datasets import load_dataset

    gtzan = load_dataset("gtzan", download=True)     # about 1.2 GB, a few minutes in Colab
    track = gtzan.load_track(gtzan.track_ids[0])
    track.y, track.sr, track.annotation              # audio and the genre label

Every dataset comes back as a :class:`RemoteDataset` with the same few members (``name``,
``data_home``, ``track_ids``, ``splits``, ``load_track``), and every track as a
:class:`RemoteTrack` whose ``annotation`` follows mirlab's and mir_eval's conventions:

================  ===============================  ==========================================
name              task                             ``annotation``
================  ===============================  ==========================================
gtzan             genre classification             genre, a string (``"blues"``, ...)
magnatagatune     music auto-tagging               tags, a sorted list of strings
beatles_chords    chord recognition (Isophonics)   :class:`mirlab.datasets.Chords` (seconds,
                                                   labels in mir_eval/Harte syntax)
maestro           piano transcription              :class:`mirlab.datasets.Notes` (seconds,
                                                   MIDI pitches and velocities)
================  ===============================  ==========================================

GTZAN, the Beatles annotations and MAESTRO are read with ``mirdata`` (an optional extra:
``pip install mirlab[datasets]``), which knows each file and its MD5 checksum. MagnaTagATune,
which mirdata does not cover, is fetched with ``pooch`` and checked against a hash. Nothing is
ever downloaded unless ``download=True`` is passed; every failure raises
:class:`DatasetUnavailable` with a message that says what to do next.

The book's page ``book/datasets.ipynb`` describes the datasets and how the course uses them.

References
----------
.. [1] G. Tzanetakis and P. Cook, "Musical genre classification of audio signals", 2002.
.. [2] E. Law et al., "Evaluation of algorithms using games: the case of music tagging", 2009.
.. [3] C. Harte, "Towards automatic extraction of harmony information from music signals",
   PhD thesis, 2010.
.. [4] C. Hawthorne et al., "Enabling factorized piano music modeling and generation with the
   MAESTRO dataset", 2019.
.. [5] R. Bittner et al., "mirdata: software for reproducible usage of datasets", 2019.
"""

from __future__ import annotations

import csv
import importlib
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mirlab.core.files import atomic_write_text, file_digest

__all__ = [
    "DatasetUnavailable",
    "RemoteDataset",
    "RemoteTrack",
    "list_datasets",
    "load_dataset",
]


class DatasetUnavailable(Exception):
    """A dataset cannot be used yet: it is not on disk, failed to download, or is corrupt.

    The message always says what to do next (download, place the files, delete and retry).
    """


@dataclass(frozen=True)
class _Spec:
    """How one dataset is found, downloaded and read."""

    title: str
    loader: str                    # "mirdata" or "pooch"
    mirdata_name: str = ""
    parts: tuple[str, ...] = ()    # mirdata remotes downloaded by default
    mirrors: dict = field(default_factory=dict)   # remote key -> extra URLs, tried in order
    size: str = ""
    note: str = ""
    audio_hint: str = ""           # how to get the audio when the usual download lacks it


_SPECS = {
    "gtzan": _Spec(
        "GTZAN", "mirdata", "gtzan_genre", ("all", "tempo_beat_annotations"),
        # The original host (opihi.cs.uvic.ca) has been unreachable for years; this mirror
        # serves the same archive, and mirdata's MD5 checksum confirms it byte for byte.
        mirrors={"all": ("https://huggingface.co/datasets/marsyas/gtzan/resolve/main/"
                         "data/genres.tar.gz",)},
        size="1.2 GB", note="1,000 clips of 30 s, 10 genres, 22,050 Hz mono"),
    "magnatagatune": _Spec(
        "MagnaTagATune", "pooch", size="about 3 GB",
        note="25,863 clips of 29 s (MP3), 188 tags from an online game"),
    "beatles_chords": _Spec(
        "Beatles (Isophonics)", "mirdata", "beatles", ("annotations",), size="a few MB",
        note="chord, beat, key and section annotations of about 180 songs; the audio (the CDs) "
             "is not distributed: place it yourself in the audio folder of data_home",
        audio_hint="the Beatles audio is not distributed: place your own copy there"),
    "maestro": _Spec(
        "MAESTRO v2", "mirdata", "maestro", ("midi",), size="60 MB (MIDI) or 100 GB (audio)",
        note="about 200 h of competition piano with aligned MIDI; download=True fetches the "
             "MIDI and metadata, parts=('all',) also the audio (about 100 GB)",
        audio_hint="call load_dataset('maestro', download=True, parts=('all',)) for the audio "
                   "(about 100 GB)"),
}

# MagnaTagATune, read with pooch. The audio comes as one ZIP archive cut into three parts;
# the MD5 of the joined archive and of the tag table are those published with the dataset's
# common download scripts.
_MTAT_URLS = (
    "https://mirg.city.ac.uk/datasets/magnatagatune/",
    "http://mi.soi.city.ac.uk/datasets/magnatagatune/",
)
_MTAT_FILES = {
    "annotations_final.csv": "md5:f04fa01752a8cc64f6e1ca142a0fef1d",
    "mp3.zip.001": None,
    "mp3.zip.002": None,
    "mp3.zip.003": None,
}
_MTAT_ARCHIVE_HASH = "md5:f12add0eb4cd6c2a3ab7e4afaf7b7467"
# Conventional split by the 16 folders of the archive (0-b train, c validation, d-f test),
# introduced by Dieleman and Schrauwen (2014) and used by most tagging papers since.
_MTAT_SPLIT = {"train": "0123456789ab", "validation": "c", "test": "def"}


@dataclass
class RemoteTrack:
    """One track of a real dataset: audio (or ``None``) and its annotation.

    Attributes
    ----------
    track_id : str
        The dataset's own identifier.
    y : np.ndarray or None
        Mono float32 audio, ``None`` when loaded with ``audio=False``.
    sr : int or None
        Sample rate of ``y``.
    annotation : object
        Genre string, tag list, :class:`~mirlab.datasets.Chords` or
        :class:`~mirlab.datasets.Notes` (see the module docstring).
    """

    track_id: str
    y: np.ndarray | None
    sr: int | None
    annotation: Any


@dataclass
class RemoteDataset:
    """A real dataset on disk: its track ids, splits and a loader for one track.

    Attributes
    ----------
    name : str
        The name given to :func:`load_dataset`.
    data_home : pathlib.Path
        Where the files live.
    track_ids : list of str
        Every track, in the dataset's own order.
    splits : dict of str to list of str, or None
        Train/validation/test track ids where the dataset defines them.
    """

    name: str
    data_home: Path
    track_ids: list[str]
    splits: dict[str, list[str]] | None
    _audio_path: Callable[[str], str | None] = field(repr=False)
    _annotation: Callable[[str], Any] = field(repr=False)

    def __post_init__(self):
        self._id_set = frozenset(self.track_ids)

    def __len__(self) -> int:
        return len(self.track_ids)

    def __repr__(self) -> str:
        splits = "" if self.splits is None else f", splits {sorted(self.splits)}"
        return (f"RemoteDataset({self.name!r}: {len(self)} tracks in {str(self.data_home)!r}"
                f"{splits})")

    def load_track(self, track_id: str, sr: int | None = 22050, audio: bool = True):
        """Load one track's audio (through :func:`mirlab.audio.load`) and annotation.

        Parameters
        ----------
        track_id : str
            One of ``track_ids``.
        sr : int or None
            Sample rate of the returned audio (``None``: the file's own rate).
        audio : bool
            Set ``False`` to read the annotation only (faster; needed for the Beatles
            annotations when the audio has not been placed next to them).

        Returns
        -------
        RemoteTrack

        Raises
        ------
        ValueError
            If ``track_id`` is unknown.
        DatasetUnavailable
            If the track's audio file is missing.
        """
        from mirlab.audio import load

        if track_id not in self._id_set:
            raise ValueError(f"track_id must be one of the {len(self)} ids in "
                             f"{self.name}.track_ids (e.g. {self.track_ids[:3]}); "
                             f"got {track_id!r}")
        y = None
        if audio:
            path = self._audio_path(track_id)
            if path is None or not Path(path).is_file():
                raise DatasetUnavailable(
                    f"the audio of {self.name} track {track_id!r} is not in {path}; "
                    f"{_SPECS[self.name].audio_hint or _what_to_do(self.name)}, or call "
                    "load_track(..., audio=False) for "
                    "the annotation alone")
            y, sr = load(path, sr=sr)
        return RemoteTrack(track_id, y, sr if audio else None, self._annotation(track_id))


def list_datasets() -> list[str]:
    """Names of the real datasets :func:`load_dataset` knows.

    Returns
    -------
    list of str
        ``["beatles_chords", "gtzan", "maestro", "magnatagatune"]``.
    """
    return sorted(_SPECS)


def describe_datasets() -> list[dict]:
    """One row per dataset (name, title, size, content, loader) for a table in the book."""
    return [{"name": k, "dataset": s.title, "download size": s.size, "content": s.note,
             "read with": s.loader} for k, s in sorted(_SPECS.items())]


def load_dataset(name: str, data_home=None, download: bool = False, *, version: str = "default",
                 parts=None) -> RemoteDataset:
    """Open a real public dataset, downloading it first if asked.

    Parameters
    ----------
    name : str
        One of :func:`list_datasets`: ``"gtzan"``, ``"magnatagatune"``, ``"beatles_chords"``,
        ``"maestro"``.
    data_home : str or Path, optional
        Folder that holds (or will hold) the files. Default:
        ``mirlab.cache_dir("datasets", name)``.
    download : bool
        Fetch whatever is missing (files already present and intact are kept). Without it,
        nothing is downloaded and a missing dataset raises :class:`DatasetUnavailable`.
    version : str
        mirdata index version (e.g. ``"mini"`` for GTZAN's small subset); mirdata datasets only.
    parts : sequence of str, optional
        Which of mirdata's archives to download (e.g. ``("all",)`` for MAESTRO's audio);
        default: the dataset's usual set.

    Returns
    -------
    RemoteDataset

    Raises
    ------
    ValueError
        If ``name`` is unknown or ``parts``/``version`` is invalid.
    DatasetUnavailable
        If the data is missing, a download fails, a checksum does not match, or mirdata is not
        installed; the message says what to do.

    Examples
    --------
    >>> from mirlab.datasets import load_dataset
    >>> beatles = load_dataset("beatles_chords", download=True)   # doctest: +SKIP
    >>> chords = beatles.load_track(beatles.track_ids[0], audio=False).annotation  # doctest: +SKIP
    >>> chords.intervals.shape, chords.labels[:3]                                  # doctest: +SKIP

    References
    ----------
    See the module docstring; the book's page ``book/datasets.ipynb`` shows the datasets.
    """
    if name not in _SPECS:
        raise ValueError(f"name must be one of {list_datasets()}; got {name!r}")
    from mirlab.core.env import cache_dir

    home = Path(data_home).expanduser() if data_home is not None else cache_dir("datasets", name)
    if _SPECS[name].loader == "pooch":
        return _load_magnatagatune(home, download)
    return _load_mirdata(name, home, download, version, parts)


def _what_to_do(name: str, home=None) -> str:
    where = f" (into {home})" if home is not None else ""
    return (f"call load_dataset({name!r}, download=True) in Colab or on a machine with internet"
            f"{where}, or place the files there yourself")


# --- mirdata: GTZAN, Beatles, MAESTRO -----------------------------------------------------------

def _mirdata_module(spec: _Spec):
    try:
        import mirdata  # noqa: F401
    except ImportError as exc:
        raise DatasetUnavailable(
            f"{spec.title} is read with mirdata, which is not installed: run "
            "`pip install mirlab[datasets]` (or `pip install mirdata`) and try again") from exc
    return importlib.import_module(f"mirdata.datasets.{spec.mirdata_name}")


def _load_mirdata(name, home, download, version, parts) -> RemoteDataset:
    spec = _SPECS[name]
    module = _mirdata_module(spec)
    import mirdata

    if version not in module.INDEXES:
        raise ValueError(f"version must be one of {sorted(module.INDEXES)} for {name}; "
                         f"got {version!r}")
    ds = mirdata.initialize(spec.mirdata_name, data_home=str(home), version=version)
    parts = list(spec.parts if parts is None else parts)
    unknown = [p for p in parts if p not in ds.remotes]
    if unknown:
        raise ValueError(f"parts must be a subset of {sorted(ds.remotes)} for {name}; "
                         f"got {parts!r}")
    if download:
        _mirdata_download(name, ds, module.INDEXES[ds.version], parts)
    try:
        track_ids = list(ds.track_ids)
    except FileNotFoundError as exc:
        raise DatasetUnavailable(
            f"{spec.title} is not in {home} (mirdata's index of its files is missing too); "
            f"{_what_to_do(name, home)}") from exc
    first = ds.track(track_ids[0])
    key_file = first.midi_path if name == "maestro" else (
        first.chords_path if name == "beatles_chords" else first.audio_path)
    if not Path(key_file).is_file():
        raise DatasetUnavailable(
            f"{spec.title} is not in {home} (expected e.g. {key_file}); "
            f"{_what_to_do(name, home)}")
    return RemoteDataset(
        name=name, data_home=home, track_ids=track_ids,
        splits=_maestro_splits(ds, track_ids) if name == "maestro" else None,
        _audio_path=lambda tid: ds.track(tid).audio_path,
        _annotation=_MIRDATA_ANNOTATIONS[name](ds))


def _mirdata_download(name, ds, index, parts) -> None:
    """Download the index, then each part, trying mirrors in turn; explain any failure."""
    from mirdata.download_utils import RemoteFileMetadata as Remote

    index_path = Path(index.get_path())
    if index.remote is not None and not index_path.is_file():
        remote = Remote(index.filename, index.remote.url, index.remote.checksum,
                        str(index_path.parent))
        try:
            _mirdata_fetch(name, ds, "index", remote)
        except _NetworkError as exc:
            raise DatasetUnavailable(
                f"downloading mirdata's index of {_SPECS[name].title} failed: {exc}. Nothing "
                "was lost. Check the connection and call load_dataset again with "
                "download=True.") from exc
    for key in parts:
        r = ds.remotes[key]
        failures = []
        for url in [r.url, *_SPECS[name].mirrors.get(key, ())]:
            try:
                _mirdata_fetch(name, ds, key, Remote(r.filename, url, r.checksum,
                                                     r.destination_dir, r.unpack_directories))
                break
            except _NetworkError as exc:
                failures.append(str(exc))
        else:
            raise DatasetUnavailable(
                f"downloading {_SPECS[name].title} failed: " + "; ".join(failures)
                + f". Nothing was lost: files already in {ds.data_home} are kept. Check the "
                "connection and call load_dataset again with download=True, or download the "
                "archive yourself and place it there.")


class _NetworkError(Exception):
    pass


def _mirdata_fetch(name, ds, key, remote) -> None:
    """Let mirdata download (and check, and unpack) exactly one remote file."""
    from mirdata import core, download_utils

    bare = core.Index(filename="unused.json")   # an index without a remote: fetch only `remote`
    target = Path(ds.data_home, remote.destination_dir or "", remote.filename)
    existed = target.exists()
    try:
        download_utils.downloader(ds.data_home, remotes={key: remote}, index=bare)
    except Exception as exc:  # noqa: BLE001 - sorted into checksum / network failures
        corrupt = "checksum" in str(exc).lower()
        if corrupt or not existed:   # a partial or corrupt download is never kept
            target.unlink(missing_ok=True)
        if corrupt:
            raise DatasetUnavailable(
                f"a downloaded file of {_SPECS[name].title} ({remote.url}) failed its MD5 "
                f"checksum: {exc}. The corrupt or partial file was deleted; call "
                f"load_dataset({name!r}, download=True) again to retry.") from exc
        raise _NetworkError(f"{remote.url} ({type(exc).__name__}: {exc})") from exc


def _maestro_splits(ds, track_ids) -> dict[str, list[str]] | None:
    try:
        split_of = {tid: ds.track(tid).split for tid in track_ids}
    except (FileNotFoundError, AttributeError):
        return None
    names = sorted({s for s in split_of.values() if s})
    return {s: [t for t in track_ids if split_of[t] == s] for s in names} or None


def _gtzan_annotation(ds):
    return lambda tid: ds.track(tid).genre


def _beatles_annotation(ds):
    def annotation(tid):
        from mirlab.datasets import Chords

        path = ds.track(tid).chords_path
        if path is None or not Path(path).is_file():
            raise DatasetUnavailable(f"the chord annotation of {tid!r} is not in {path}; "
                                     f"{_what_to_do('beatles_chords', ds.data_home)}")
        chords = ds.track(tid).chords
        return Chords(intervals=np.asarray(chords.intervals, dtype=float),
                      labels=list(chords.labels))
    return annotation


def _maestro_annotation(ds):
    def annotation(tid):
        return notes_from_midi(ds.track(tid).midi_path)
    return annotation


_MIRDATA_ANNOTATIONS = {"gtzan": _gtzan_annotation, "beatles_chords": _beatles_annotation,
                        "maestro": _maestro_annotation}


def notes_from_midi(path):
    """Read the notes of a MIDI file as :class:`mirlab.datasets.Notes` (sorted by onset).

    Parameters
    ----------
    path : str or Path
        A MIDI file (for MAESTRO: the performance aligned with the audio to about 3 ms).

    Returns
    -------
    Notes
        Onsets and offsets in seconds, MIDI pitches and velocities, the instrument's
        General-MIDI program and its index as ``part``.
    """
    import pretty_midi

    from mirlab.datasets import Notes

    if not Path(path).is_file():
        raise DatasetUnavailable(f"the MIDI file {path} is missing; "
                                 f"{_what_to_do('maestro', Path(path).parent)}")
    rows = [(n.start, n.end, n.pitch, n.velocity, inst.program, part)
            for part, inst in enumerate(pretty_midi.PrettyMIDI(str(path)).instruments)
            for n in inst.notes]
    cols = np.array(sorted(rows, key=lambda r: (r[0], r[2])), dtype=float).reshape(-1, 6).T
    return Notes(onset=cols[0], offset=cols[1], pitch=cols[2].astype(int),
                 velocity=cols[3].astype(int), program=cols[4].astype(int),
                 part=cols[5].astype(int))


# --- pooch: MagnaTagATune -----------------------------------------------------------------------

def _load_magnatagatune(home: Path, download: bool) -> RemoteDataset:
    if download:
        _mtat_download(home)
    table = home / "annotations_final.csv"
    audio = home / "mp3"
    if not table.is_file() or not (audio / ".complete").is_file():
        missing = table if not table.is_file() else audio
        raise DatasetUnavailable(f"MagnaTagATune is not in {home} ({missing} is missing); "
                                 f"{_what_to_do('magnatagatune', home)}")
    _check_hash(table, _MTAT_FILES["annotations_final.csv"], "magnatagatune")
    tags, paths = _read_mtat_table(table)
    ids = list(tags)
    folder = {tid: paths[tid].split("/")[0] for tid in ids}
    splits = {s: [t for t in ids if folder[t] in dirs] for s, dirs in _MTAT_SPLIT.items()}
    return RemoteDataset(name="magnatagatune", data_home=home, track_ids=ids, splits=splits,
                         _audio_path=lambda tid: str(audio / paths[tid]),
                         _annotation=lambda tid: list(tags[tid]))


def _read_mtat_table(path: Path):
    """Parse annotations_final.csv (tab-separated: clip_id, 188 tag columns, mp3_path)."""
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f, delimiter="\t"))
    header = rows[0]
    tag_names = header[1:-1]
    tags, paths = {}, {}
    for row in rows[1:]:
        if len(row) != len(header) or not row[-1]:
            continue
        tid = row[0]
        tags[tid] = sorted(t for t, v in zip(tag_names, row[1:-1], strict=True) if v == "1")
        paths[tid] = row[-1]
    return tags, paths


def _mtat_download(home: Path) -> None:
    """Fetch the tag table and the three archive parts with pooch, check, join and unpack."""
    for fname, known_hash in _MTAT_FILES.items():
        if fname.startswith("mp3") and (home / "mp3" / ".complete").is_file():
            continue
        _fetch("magnatagatune", [u + fname for u in _MTAT_URLS], fname, known_hash, home)
    if (home / "mp3" / ".complete").is_file():
        return
    archive = home / "mp3.zip"
    parts = [home / f"mp3.zip.00{i}" for i in (1, 2, 3)]
    with open(archive, "wb") as out:
        for part in parts:
            out.write(part.read_bytes())
    try:
        _check_hash(archive, _MTAT_ARCHIVE_HASH, "magnatagatune", delete=parts)
        with zipfile.ZipFile(archive) as z:
            z.extractall(home / "mp3")
    finally:
        archive.unlink()
    atomic_write_text(home / "mp3" / ".complete", "extracted from mp3.zip.001-003\n")
    for part in parts:
        part.unlink()


def _fetch(name: str, urls, fname: str, known_hash, folder: Path) -> Path:
    """Download ``fname`` into ``folder`` with pooch (kept if present and intact)."""
    import pooch

    failures = []
    for url in urls:
        try:
            return Path(pooch.retrieve(url, known_hash, fname=fname, path=folder,
                                       progressbar=True))
        except ValueError as exc:   # pooch: the downloaded file's hash does not match
            raise DatasetUnavailable(
                f"the checksum of {fname} of {_SPECS[name].title} downloaded from {url} did not "
                f"match ({exc}). The file was not kept; the server may have sent a partial "
                f"file: call load_dataset({name!r}, download=True) again to retry.") from exc
        except Exception as exc:  # noqa: BLE001 - any network failure: try the next mirror
            failures.append(f"{url} ({type(exc).__name__}: {exc})")
    raise DatasetUnavailable(
        f"downloading {fname} of {_SPECS[name].title} failed from every address: "
        + "; ".join(failures) + f". Nothing was lost: files already in {folder} are kept. "
        f"Check the connection and call load_dataset({name!r}, download=True) again, or "
        "download the file yourself and place it there.")


def _check_hash(path: Path, known_hash: str | None, name: str, delete=()) -> None:
    """Raise :class:`DatasetUnavailable` when ``path`` does not have the expected hash.

    ``delete`` lists downloaded files to remove on a mismatch, so that a retry starts clean.
    """
    if known_hash is None:
        return
    alg, _, expected = known_hash.rpartition(":")
    alg = alg or "sha256"
    actual = file_digest(path, alg)
    if actual == expected:
        return
    for p in delete:
        Path(p).unlink(missing_ok=True)
    todo = (f"{', '.join(str(p) for p in delete)} were deleted; call "
            f"load_dataset({name!r}, download=True) again to retry" if delete else
            f"delete it and call load_dataset({name!r}, download=True) again")
    raise DatasetUnavailable(
        f"the {alg} checksum of {path} ({_SPECS[name].title}) is {actual}, "
        f"expected {expected}: the file is corrupt or partial; {todo}.")
