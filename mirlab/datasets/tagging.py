"""A multi-label music tagging dataset rendered from the corpus, and the real benchmarks.

Music auto-tagging predicts several tags per clip at once (instruments, ensemble, tempo, ...),
a multi-label problem learned from short clips [1]_ [2]_. :func:`load_tagging_dataset` renders
such a dataset from the scores of the embedded corpus (clips designed and rendered by
:mod:`mirlab.datasets.clips`), so the tags are exact by construction, and loads the real
benchmarks (MagnaTagATune, GTZAN) through the same :class:`TaggingDataset` for Colab users.
Taught in ``notebooks/04_music_tagging.ipynb`` and ``labs/lab04_music_tagging.ipynb``.

Splits are made by piece: 70 % of the clips are for training, 10 % validation, 20 % test.
The transfer tasks (:mod:`mirlab.datasets.transfer_tasks`) use the pieces held out of it;
their names are importable from here too.

The **design key** (:func:`design_key`) names the data a network was trained on by its design
(seeds, sizes, soundfont, the code and constants of the clip design), not by a hash of the
rendered audio, which differs between FluidSynth versions. The cache key of the rendered clips
is the design key plus the sample rate, the splits and the renderer's fingerprint.

References
----------
.. [1] K. Choi, G. Fazekas, M. Sandler, "Automatic tagging using deep convolutional neural
   networks", ISMIR 2016.
.. [2] M. Won, A. Ferraro, D. Bogdanov, X. Serra, "Evaluation of CNN-based automatic music
   tagging models", SMC 2020.
"""

from __future__ import annotations

import importlib.metadata
from dataclasses import dataclass, field

import numpy as np

from mirlab.core import env
from mirlab.core.cache import cache_key, code_sha256
from mirlab.core.checks import check_choice, check_positive, check_positive_int, check_sr
from mirlab.datasets.clips import (  # noqa: F401 - the public names of the clip design
    ENSEMBLE_TAGS,
    FAMILIES,
    INSTRUMENT_TAGS,
    MIN_SOUNDING,
    MUSESCORE_FILES,
    MUSESCORE_HINT,
    POLYPHONIC,
    SOUNDFONTS,
    SPLITS,
    TAGS,
    TEMPO_RANGES,
    TEMPO_TAGS,
    apply_effects,
    clip_renderer,
    clip_tags,
    design_clip,
    design_code_sha256,
    has_soundfont,
    load_or_render,
    pick_program,
    piece_split,
    piece_unit,
    pieces_by_split,
    render_clips,
    soundfont_file,
    to_float,
)
from mirlab.datasets.scores import FORMAT as SCORES_FORMAT
from mirlab.datasets.scores import ground_truth
from mirlab.datasets.transfer_tasks import (  # noqa: F401 - importable from here as before
    TRANSFER_TASKS,
    TransferTask,
    load_transfer_task,
)

NAMES = ("corpus", "magnatagatune", "gtzan")
FORMAT = 2  # bump when the clip design changes what is produced without a change of its code


# --- the dataset -------------------------------------------------------------------------------

@dataclass
class TaggingDataset:
    """Clips of equal length with multi-label tags, splits and per-clip metadata.

    Attributes
    ----------
    audio : np.ndarray
        float32, shape ``(n_clips, n_samples)``.
    sr : int
        Sample rate in Hz.
    labels : np.ndarray
        float32 in {0, 1}, shape ``(n_clips, n_tags)``.
    tags : list of str
        Names of the columns of ``labels``.
    split : np.ndarray
        ``"train"``, ``"valid"`` or ``"test"`` per clip (made by piece).
    meta : list of dict
        Per clip: ``piece_id``, ``collection``, ``source``, ``tracks`` (part, program,
        family, octave, gain_db), ``programs``, ``families`` (tagged), ``ensemble``, ``bpm``,
        ``tags``, ``soundfont``, ``start`` (s in the re-timed piece), ``effects``, ...
    name : str
        A readable name.
    """

    audio: np.ndarray
    sr: int
    labels: np.ndarray
    tags: list[str]
    split: np.ndarray
    meta: list[dict] = field(repr=False)
    name: str = "corpus-tagging"

    def __len__(self) -> int:
        return len(self.audio)

    def __repr__(self) -> str:
        sizes = {s: int(np.sum(self.split == s)) for s in SPLITS}
        return (f"TaggingDataset({self.name!r}: {len(self)} clips of "
                f"{self.audio.shape[1] / self.sr:.1f} s at {self.sr} Hz, {len(self.tags)} "
                f"tags, splits {sizes})")

    def subset(self, split) -> TaggingDataset:
        """The clips of one split (``"train"``, ``"valid"``, ``"test"``) or of several."""
        wanted = [split] if isinstance(split, str) else list(split)
        for s in wanted:
            check_choice(s, "split", SPLITS)
        keep = np.flatnonzero(np.isin(self.split, wanted))
        return TaggingDataset(audio=self.audio[keep], sr=self.sr, labels=self.labels[keep],
                              tags=list(self.tags), split=self.split[keep],
                              meta=[self.meta[i] for i in keep], name=self.name)

    def tag_counts(self) -> dict[str, int]:
        """Number of clips carrying each tag."""
        return {t: int(c) for t, c in zip(self.tags, self.labels.sum(axis=0), strict=True)}

    def tag_table(self):
        """A pandas DataFrame: clips per tag in each split, and the total."""
        import pandas as pd

        cols = {s: self.subset(s).tag_counts() for s in SPLITS if np.any(self.split == s)}
        table = pd.DataFrame(cols, index=self.tags)
        table["total"] = table.sum(axis=1)
        table.loc["(clips)"] = [int(np.sum(self.split == s)) for s in cols] + [len(self)]
        return table



#: Default number of corpus clips: 1,680 for training, 240 for validation, 480 for testing.
N_CLIPS = 2400

def design_clips(n_clips: int = N_CLIPS, clip_seconds: float = 5.0,
                 random_state: int = 0) -> list[dict]:
    """The designs (metadata, without audio) of the corpus tagging dataset's clips.

    70 % of the clips come from training pieces, 10 % validation, 20 % test; within a split
    7 clips in 10 come from chorales, the rest from folk tunes, the pieces drawn in a shuffled
    cycle so that each piece is used about equally often.

    Parameters
    ----------
    n_clips : int
        Number of clips (at least 3).
    clip_seconds : float
        Length of every clip in seconds.
    random_state : int
        Seed of the design (pieces, orchestration, tempo, window, effects).

    Returns
    -------
    list of dict
        One design per clip (:func:`mirlab.datasets.clips.design_clip`) with its ``split``.
    """
    n_clips = check_positive_int(n_clips, "n_clips", minimum=3)
    clip_seconds = check_positive(clip_seconds, "clip_seconds")
    rng = np.random.default_rng(check_positive_int(random_state, "random_state", minimum=0))
    pieces = pieces_by_split()
    sizes = {"valid": max(1, round(0.1 * n_clips)), "test": max(1, round(0.2 * n_clips))}
    sizes["train"] = n_clips - sizes["valid"] - sizes["test"]
    metas = []
    for split in SPLITS:
        n_chorale = int(round(0.7 * sizes[split]))
        for collection, n in (("chorales", n_chorale), ("folk", sizes[split] - n_chorale)):
            pool = pieces[(split, collection)]
            ids = np.concatenate([rng.permutation(pool) for _ in range(n // len(pool) + 1)])[:n]
            for pid in ids:
                meta = design_clip(str(pid), np.random.default_rng(rng.integers(2**63)),
                                   clip_seconds)
                meta["split"] = split
                metas.append(meta)
    return metas


def design_key(n_clips: int = N_CLIPS, clip_seconds: float = 5.0, random_state: int = 0,
               soundfont="default", sr: int = 16000) -> str:
    """The key of a tagging data design: what a shipped network records it was trained on.

    A hash of the design, not of rendered audio (which differs between FluidSynth versions):
    the sizes, the seed, the sample rate, the soundfont's name, the code and constants of the
    clip design (:func:`mirlab.datasets.clips.design_code_sha256`), the version of the
    ground-truth code and of music21 (the scores). The same design renders the same clips
    with a given FluidSynth; another design (or another design code) gives another key.

    Parameters
    ----------
    n_clips, clip_seconds, random_state, sr
        As in :func:`load_tagging_dataset`.
    soundfont : {"default", "musescore"} or path
        Recorded by name (a path by its file name).

    Returns
    -------
    str
        16 hexadecimal digits.

    Examples
    --------
    >>> design_key(n_clips=120) == design_key(n_clips=120)  # doctest: +SKIP
    True
    """
    n_clips = check_positive_int(n_clips, "n_clips", minimum=3)
    clip_seconds = float(check_positive(clip_seconds, "clip_seconds"))
    random_state = check_positive_int(random_state, "random_state", minimum=0)
    sr = check_sr(sr)
    if isinstance(soundfont, str) and soundfont in SOUNDFONTS:
        name = soundfont
    else:
        name = soundfont_file(soundfont).name  # raises a ValueError naming the argument
    return cache_key({"what": "corpus tagging design", "format": FORMAT, "n_clips": n_clips,
                      "clip_seconds": clip_seconds, "random_state": random_state, "sr": sr,
                      "soundfont": name, "design_code": design_code_sha256(),
                      "scores_format": SCORES_FORMAT,
                      "music21": importlib.metadata.version("music21")})[:16]


def load_tagging_dataset(name: str = "corpus", *, n_clips: int = N_CLIPS,
                         clip_seconds: float = 5.0, sr: int = 16000, soundfont="default",
                         splits=SPLITS, random_state: int = 0, progress: bool = True,
                         data_home=None) -> TaggingDataset:
    """Load a multi-label tagging dataset: the rendered corpus, MagnaTagATune or GTZAN.

    Parameters
    ----------
    name : {"corpus", "magnatagatune", "gtzan"}
        ``"corpus"`` renders clips from the embedded corpus (see the module docstring); the
        others read a real dataset downloaded beforehand with
        :func:`mirlab.datasets.load_dataset` (Colab).
    n_clips : int
        Number of corpus clips (at least 3); 2,400 clips of 5 s at 16 kHz hold 768 MB of
        float32 audio. For the real datasets, the number of tracks to read per split is not
        limited by default; ``n_clips`` caps the total (spread over the splits).
    clip_seconds : float
        Length of every clip in seconds.
    sr : int
        Sample rate in Hz.
    soundfont : {"default", "musescore"} or path
        Soundfont for the corpus: ``"musescore"`` renders the very same clips with the MuseScore
        General samples (a timbre shift); needs ``musescore-general-soundfont-small``.
    splits : str or sequence of str
        Which splits to render/return (e.g. ``"test"`` for the timbre-shift evaluation alone).
    random_state : int
        Seed of the clip design (pieces, orchestration, tempo, window, effects).
    progress : bool
        Show a progress bar while rendering.
    data_home : str or Path, optional
        Folder of a real dataset (see :func:`mirlab.datasets.load_dataset`).

    Returns
    -------
    TaggingDataset

    Raises
    ------
    ValueError
        For a bad argument, or ``soundfont="musescore"`` when the soundfont is not installed.

    Examples
    --------
    >>> ds = load_tagging_dataset(n_clips=120)  # doctest: +SKIP
    >>> train, test = ds.subset("train"), ds.subset("test")  # doctest: +SKIP
    >>> shifted = load_tagging_dataset(n_clips=120, soundfont="musescore",
    ...                                splits="test")  # doctest: +SKIP
    """
    check_choice(name, "name", NAMES)
    n_clips = check_positive_int(n_clips, "n_clips", minimum=3)
    clip_seconds = check_positive(clip_seconds, "clip_seconds")
    sr = check_sr(sr)
    wanted = [splits] if isinstance(splits, str) else list(splits)
    if not wanted:
        raise ValueError(f"splits must name at least one of {list(SPLITS)}; got {splits!r}")
    for s in wanted:
        check_choice(s, "splits", SPLITS)
    if name != "corpus":
        return _load_real(name, n_clips, clip_seconds, sr, wanted, data_home, progress)
    if not (isinstance(soundfont, str) and soundfont in SOUNDFONTS):
        soundfont_file(soundfont)  # raises a ValueError naming the argument
    random_state = check_positive_int(random_state, "random_state", minimum=0)
    params = {"design": design_key(n_clips, clip_seconds, random_state, soundfont, sr),
              "splits": [s for s in SPLITS if s in wanted], "synth": clip_renderer(soundfont)}

    def build():
        metas = [m for m in design_clips(n_clips, clip_seconds, random_state)
                 if m["split"] in wanted]
        q = render_clips(metas, sr, soundfont, progress, f"rendering {n_clips} clips "
                         f"({soundfont} soundfont)")
        return q, [dict(m, tags=clip_tags(m)) for m in metas]

    q, metas = load_or_render("corpus", params, build)
    audio = to_float(q)
    labels = np.array([[t in m["tags"] for t in TAGS] for m in metas], dtype=np.float32)
    for m in metas:
        m["soundfont"] = str(soundfont)
        m["programs"] = [tr["program"] for tr in m["tracks"]]
        m["families"] = sorted({t["family"] for t in m["tracks"]} & set(m["tags"]))
    return TaggingDataset(audio=audio, sr=sr, labels=labels.reshape(len(metas), len(TAGS)),
                          tags=list(TAGS), split=np.array([m["split"] for m in metas]),
                          meta=metas, name=f"corpus-tagging ({soundfont} soundfont)")



# --- real datasets -------------------------------------------------------------------------------

MTAT_TOP50 = ["guitar", "classical", "slow", "techno", "strings", "drums", "electronic", "rock",
              "fast", "piano", "ambient", "beat", "violin", "vocal", "synth", "female", "indian",
              "opera", "male", "singing", "vocals", "no vocals", "harpsichord", "loud", "quiet",
              "flute", "woman", "male vocal", "no vocal", "pop", "soft", "sitar", "solo", "man",
              "classic", "choir", "voice", "new age", "dance", "male voice", "female vocal",
              "beats", "harp", "cello", "no voice", "weird", "country", "metal", "female voice",
              "choral"]
GTZAN_GENRES = ["blues", "classical", "country", "disco", "hiphop", "jazz", "metal", "pop",
                "reggae", "rock"]


def _fix_length(y: np.ndarray, n: int) -> np.ndarray:
    """The middle ``n`` samples of ``y`` (zero-padded at the end when shorter)."""
    if len(y) >= n:
        start = (len(y) - n) // 2
        return y[start: start + n]
    return np.pad(y, (0, n - len(y)))


def _load_real(name, n_clips, clip_seconds, sr, wanted, data_home, progress) -> TaggingDataset:
    """MagnaTagATune (50 most frequent tags) or GTZAN (one-hot genres) as a TaggingDataset."""
    from tqdm.auto import tqdm

    from mirlab.datasets.remote import load_dataset

    ds = load_dataset(name, data_home=data_home)
    tags = MTAT_TOP50 if name == "magnatagatune" else GTZAN_GENRES
    alias = {"train": "train", "valid": "validation", "test": "test"}
    if ds.splits:
        by_split = {s: list(ds.splits.get(alias[s], ds.splits.get(s, []))) for s in wanted}
    else:  # GTZAN without splits: a fixed 70/10/20 split of the sorted ids
        ids = sorted(ds.track_ids)
        which = ["train" if piece_unit(t) < 0.7 else "valid" if piece_unit(t) < 0.8
                 else "test" for t in ids]
        by_split = {s: [t for t, w in zip(ids, which, strict=True) if w == s] for s in wanted}
    per_split = max(1, n_clips // len(wanted))
    n = int(round(clip_seconds * sr))
    rows, labels, split, meta = [], [], [], []
    for s in wanted:
        for tid in tqdm(by_split[s][:per_split], desc=f"reading {name} ({s})",
                        disable=env.progress_disabled(progress)):
            track = ds.load_track(tid, sr=sr)
            ann = track.annotation if isinstance(track.annotation, list) else [track.annotation]
            rows.append(_fix_length(np.asarray(track.y, dtype=np.float32), n))
            labels.append([t in ann for t in tags])
            split.append(s)
            meta.append({"track_id": tid, "annotation": ann})
    audio = np.stack(rows) if rows else np.zeros((0, n), np.float32)
    return TaggingDataset(audio=audio.astype(np.float32), sr=sr,
                          labels=np.asarray(labels, dtype=np.float32).reshape(-1, len(tags)),
                          tags=list(tags), split=np.array(split, dtype=str), meta=meta,
                          name=name)



# --- one passage, several orchestrations (the texture-bias demo) -------------------------------

def _orchestration_tracks(item, n_parts: int, seed: int) -> tuple[str, list[dict]]:
    """Ensemble tag and tracks of one orchestration: a family name (one instrument plays every
    part: ``solo``) or one family per part (``small_ensemble``). A family always gets the same
    program for a given ``seed``, whichever orchestration it appears in."""
    families = [item] * n_parts if isinstance(item, str) else [str(f) for f in item]
    if len(families) != n_parts:
        raise ValueError(f"orchestrations: each item must be a family name or a list of "
                         f"{n_parts} families (one per part); got {item!r}")
    for fam in families:
        check_choice(fam, "orchestrations", FAMILIES)

    def program(fam):
        return pick_program(fam, np.random.default_rng([seed, INSTRUMENT_TAGS.index(fam)]))

    tracks = [dict(part=p, family=f, program=program(f), octave=0, gain_db=0.0)
              for p, f in enumerate(families)]
    return ("solo" if isinstance(item, str) else "small_ensemble"), tracks


def render_orchestrations(piece_id: str, orchestrations, *, tempo_class: str = "moderate",
                          clip_seconds: float = 5.0, sr: int = 16000, soundfont="default",
                          random_state: int = 0, progress: bool = False) -> TaggingDataset:
    """Render the opening of one piece under several orchestrations: same notes, other sounds.

    Every clip has the same notes, tempo, transposition, window (the first ``clip_seconds``
    of the re-timed piece) and effects; only the instruments change, all at the same level.
    A tagger whose tempo scores move with the instruments uses timbre (texture) as a shortcut
    for what the score decides, the texture bias of CNNs :cite:`Geirhos2019texture`.

    Parameters
    ----------
    piece_id : str
        A corpus piece (:func:`mirlab.datasets.list_pieces`).
    orchestrations : sequence
        Each item is a family name of :data:`FAMILIES` (one instrument of that family plays
        every part, tagged ``solo``) or a list with one family per part of the piece (tagged
        ``small_ensemble``).
    tempo_class : {"slow", "moderate", "fast"}
        The beat rate is drawn from this range of :data:`TEMPO_RANGES` (tags ``slow``/``fast``).
    clip_seconds : float
        Length of the clips.
    sr : int
        Sample rate in Hz.
    soundfont : {"default", "musescore"} or path
        As in :func:`load_tagging_dataset`.
    random_state : int
        Seed of the tempo, transposition, effects and programs (the same for every clip).
    progress : bool
        Show a progress bar while rendering (cached afterwards).

    Returns
    -------
    TaggingDataset
        One clip per orchestration (split ``"test"``), tags in :data:`TAGS`; ``meta[i]``
        holds the design and ``"orchestration"``, a readable name.

    Examples
    --------
    >>> ds = render_orchestrations("bach/bwv66.6", ["piano", ["strings"] * 4],
    ...                            tempo_class="slow")  # doctest: +SKIP
    >>> ds.labels.shape  # doctest: +SKIP
    (2, 15)
    """
    check_choice(tempo_class, "tempo_class", TEMPO_RANGES)
    clip_seconds = check_positive(clip_seconds, "clip_seconds")
    sr = check_sr(sr)
    seed = check_positive_int(random_state, "random_state", minimum=0)
    items = [o if isinstance(o, str) else [str(f) for f in o] for o in orchestrations]
    if not items:
        raise ValueError("orchestrations must hold at least one orchestration; got none")
    n_parts = int(ground_truth(piece_id)["n_parts"])
    designs = [_orchestration_tracks(item, n_parts, seed) for item in items]
    if not (isinstance(soundfont, str) and soundfont in SOUNDFONTS):
        soundfont_file(soundfont)
    params = {"format": FORMAT, "design_code": design_code_sha256(), "piece_id": piece_id,
              "items": items, "tempo_class": tempo_class, "clip_seconds": clip_seconds,
              "sr": sr, "random_state": seed, "synth": clip_renderer(soundfont),
              "orchestration_code": code_sha256(_orchestration_tracks, render_orchestrations)}

    def build():
        base = design_clip(piece_id, np.random.default_rng(seed), clip_seconds,
                           tempo_class=tempo_class)
        metas = []
        for item, (ensemble, tracks) in zip(items, designs, strict=True):
            name = (item if isinstance(item, str) else f"{len(item)} x {item[0]}"
                    if len(set(item)) == 1 else " + ".join(item))
            meta = dict(base, ensemble=ensemble, tracks=tracks, start=0.0, split="test",
                        orchestration=name)
            metas.append(dict(meta, tags=clip_tags(meta)))
        return render_clips(metas, sr, soundfont, progress, "rendering orchestrations"), metas

    q, metas = load_or_render("orchestrations", params, build)
    labels = np.array([[t in m["tags"] for t in TAGS] for m in metas], dtype=np.float32)
    for m in metas:
        m["soundfont"] = str(soundfont)
        m["programs"] = [tr["program"] for tr in m["tracks"]]
        m["families"] = sorted({t["family"] for t in m["tracks"]} & set(m["tags"]))
    return TaggingDataset(audio=to_float(q), sr=sr, labels=labels.reshape(len(metas), len(TAGS)),
                          tags=list(TAGS), split=np.array(["test"] * len(metas)), meta=metas,
                          name=f"orchestrations of {piece_id} ({soundfont} soundfont)")
