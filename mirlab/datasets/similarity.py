"""Excerpts with exact notions of similarity: passage, instrumentation, collection.

Metric learning needs to know which items are "the same". The rendered corpus knows it
exactly, for three notions at once, so a chapter can train and test embeddings for each notion
without label noise. Taught in ``notebooks/06_metric_learning.ipynb``.

How the data is made
--------------------
1. **Pieces** come from the corpus (Bach chorales, Essen folk songs, O'Neill's Irish tunes) and
   are split *by piece* with :func:`mirlab.datasets.clips.piece_split`: the train, valid and test
   pieces of the tagging data. The 20 % "transfer" pieces are left out, so the transfer tasks of
   chapter 5 stay on pieces that no embedding of this chapter was trained on.
2. A **passage** is a point ``c`` of the score (seconds of the original rendering). It is
   played in ``n_versions`` *versions*, each with its own tempo factor (0.8-1.25 times the
   score's tempo), a tempo curve for half of them (:class:`mirlab.datasets.corpus.TempoCurve`,
   depth 0.1-0.25, period 4-10 s), a transposition (-4..+4 semitones), an instrument family
   (distinct families within a passage), programs within the family, a soundfont and effects
   (equaliser, room, noise, gain: :func:`mirlab.datasets.clips.apply_effects`).
3. Each version's **excerpt** is the ``clip_seconds`` window of the version centred on
   ``tau(c)``, where ``tau`` is the version's exact time map: every excerpt of a passage is
   centred on the same point of the score; the score span it covers (``score_span``, by the
   inverse time map) shrinks or grows with the local tempo.
4. **Instrumentation**: one family plays the excerpt. A Bach chorale is played by one
   polyphonic instrument (piano, mallets, organ, guitar: one program) or by four instruments of
   one family (strings, brass, reeds, flutes, voices: a program per part); a folk tune by one
   instrument of any family.

Labels (all exact, by construction): ``passage`` (an integer per passage, unique over the whole
dataset), ``instrumentation`` (index into :data:`FAMILIES`), ``collection`` (index into
:data:`SIM_COLLECTIONS`), and the notes of each excerpt as a piano roll (``piano_roll``:
what the audio plays, MIDI pitch x frame at :data:`ROLL_FPS` frames per second).

Cache: one entry of the one cache (:mod:`mirlab.core.cache`) in
``mirlab.cache_dir("similarity")`` per design: int16 audio and the piano rolls as arrays, the
designs as data. The key holds the sizes, the seed, the sample rate, the soundfonts, the
renderer's fingerprint and a hash of this module's design code.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from mirlab.core import env
from mirlab.core.cache import Cache, Entry, code_sha256
from mirlab.core.checks import check_positive, check_positive_int, check_sr
from mirlab.datasets.clips import (
    FAMILIES as PROGRAMS,
)
from mirlab.datasets.clips import (
    POLYPHONIC,
    apply_effects,
    clip_renderer,
    piece_split,
    pieces_by_split,
    soundfont_file,
    to_float,
)
from mirlab.datasets.corpus import TempoCurve, Version
from mirlab.datasets.scores import ground_truth
from mirlab.datasets.synth import Track, render_tracks

__all__ = ["FAMILIES", "NOTIONS", "SIM_COLLECTIONS", "SIZES", "ROLL_FPS", "SimilarityData",
           "design_passages", "excerpt_notes", "load_similarity_data", "piano_roll",
           "similarity_pieces"]

FORMAT = 1  # bump when the design changes what is produced without a change of its code
NOTIONS = ("passage", "instrumentation", "collection")
SIM_COLLECTIONS = ("bach_chorale", "essen_folk", "oneill_irish")
FAMILIES = tuple(f for f in PROGRAMS if f != "bass")  # nine families that can play a melody
ROLL_FPS = 25  # frames per second of the piano rolls
SIZES = {  # passages per collection in (train, valid, test), versions per passage
    "default": dict(n_passages=(80, 20, 40), n_versions=4),
    "quick": dict(n_passages=(6, 3, 3), n_versions=3),
}
TEMPO_RANGE = (0.8, 1.25)  # tempo factor relative to the score's tempo
SPLITS = ("train", "valid", "test")
SIMILARITY = Cache("similarity", what="similarity data")


# --- pieces ----------------------------------------------------------------------------------

def similarity_pieces(collection: str, split: str) -> list[str]:
    """The piece ids of one collection of :data:`SIM_COLLECTIONS` in one split.

    Splits are those of :func:`mirlab.datasets.clips.piece_split` (by piece); the "transfer"
    pieces are never used here.
    """
    if collection not in SIM_COLLECTIONS:
        raise ValueError(f"collection must be one of {SIM_COLLECTIONS}; got {collection!r}")
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}; got {split!r}")
    if collection == "bach_chorale":
        return list(pieces_by_split()[(split, "chorales")])
    source = "essenFolksong" if collection == "essen_folk" else "oneills1850"
    return [p for p in pieces_by_split()[(split, "folk")] if p.split("/")[1] == source]


# --- design ----------------------------------------------------------------------------------

def _version_design(truth: dict, family: str, rng, soundfonts) -> dict:
    """Tempo, curve, transposition, programs, levels, soundfont and effects of one version."""
    n_parts = truth["n_parts"]
    if truth["collection"] == "chorales" and family in POLYPHONIC:
        programs = [int(rng.choice(PROGRAMS[family]))] * n_parts
    else:
        programs = [int(rng.choice(PROGRAMS[family])) for _ in range(n_parts)]
    curve = None
    if rng.random() < 0.5:
        curve = [round(float(rng.uniform(0.1, 0.25)), 3), round(float(rng.uniform(4.0, 10.0)), 3)]
    return dict(family=family, tempo=round(float(rng.uniform(*TEMPO_RANGE)), 4),
                tempo_curve=curve, transpose=int(rng.integers(-4, 5)), programs=programs,
                gain_db=[round(float(rng.uniform(-3.0, 0.0)), 2) for _ in range(n_parts)],
                soundfont=str(rng.choice(list(soundfonts))),
                effects=dict(highpass=float(rng.choice([0.0, rng.uniform(40, 200)])),
                             lowpass=float(rng.choice([0.0, rng.uniform(2500, 7000)])),
                             rt60=float(rng.uniform(0.2, 1.2)), wet=float(rng.uniform(0.0, 0.4)),
                             snr_db=float(rng.uniform(20.0, 45.0)),
                             noise=str(rng.choice(["white", "pink"])),
                             gain_db=float(rng.uniform(-12.0, 0.0))),
                rng_state=int(rng.integers(2**31)))


def version_of(design: dict) -> Version:
    """The :class:`~mirlab.datasets.corpus.Version` (time map, transposition) of a design."""
    curve = TempoCurve(*design["tempo_curve"]) if design["tempo_curve"] else None
    return Version(tempo=design["tempo"], tempo_curve=curve, transpose=design["transpose"],
                   programs=tuple(design["programs"]))


def _max_stretch() -> float:
    """The largest local stretch any version can apply (slowest tempo, deepest curve)."""
    return (1 + 0.25) / TEMPO_RANGE[0]


def design_passages(collection: str, split: str, n_passages: int, n_versions: int,
                    clip_seconds: float, rng, soundfonts=("default", "musescore")) -> list[dict]:
    """Designs of ``n_passages`` passages of a collection, ``n_versions`` excerpts each.

    Pieces are visited in a random order (again and again when there are fewer pieces than
    passages); two passages of one piece are at least ``2 * clip_seconds`` of score apart.

    Returns
    -------
    list of dict
        One design per excerpt (JSON-ready): ``piece_id``, ``collection``, ``split``,
        ``centre`` (score seconds), ``version`` (index within the passage), ``family``,
        ``tempo``, ``tempo_curve``, ``transpose``, ``programs``, ``gain_db``, ``soundfont``,
        ``effects``, ``rng_state``, ``clip_seconds``; the passage index is added by
        :func:`load_similarity_data`.
    """
    if n_versions > len(FAMILIES):
        raise ValueError(f"n_versions must be at most {len(FAMILIES)} (one family per "
                         f"version); got {n_versions}")
    pieces = similarity_pieces(collection, split)
    margin = 0.5 * clip_seconds * _max_stretch() + 0.1
    taken: dict[str, list[float]] = {}
    designs: list[dict] = []
    for _ in range(50):  # rounds over the (shuffled) pieces
        for pid in rng.permutation(pieces):
            if len(designs) == n_passages * n_versions:
                return designs
            truth = ground_truth(str(pid))
            end = float(np.max(truth["offset"]))
            lo, hi = margin, end - margin
            if hi <= lo:
                continue
            centre = float(rng.uniform(lo, hi))
            if any(abs(centre - c) < 2 * clip_seconds for c in taken.get(str(pid), [])):
                continue
            taken.setdefault(str(pid), []).append(centre)
            families = rng.choice(FAMILIES, size=n_versions, replace=False)
            for v, fam in enumerate(families):
                d = _version_design(truth, str(fam), rng, soundfonts)
                designs.append(dict(piece_id=str(pid), collection=collection, split=split,
                                    centre=round(centre, 4), version=v,
                                    clip_seconds=clip_seconds, **d))
    raise ValueError(f"n_passages={n_passages} is too many for the {len(pieces)} {split} "
                     f"pieces of {collection!r}")


def excerpt_window(design: dict) -> tuple[float, float]:
    """Start and end (seconds of the version) of an excerpt: centred on ``tau(centre)``."""
    mid = float(version_of(design).time_map(design["centre"]))
    return mid - design["clip_seconds"] / 2, mid + design["clip_seconds"] / 2


def score_span(design: dict) -> tuple[float, float]:
    """The span of the score (seconds of the original rendering) an excerpt covers.

    The inverse of the version's time map at the window's ends (the map is increasing, so it
    is inverted by interpolation on a fine grid).
    """
    t0, t1 = excerpt_window(design)
    c, half = design["centre"], design["clip_seconds"] * _max_stretch()
    grid = np.linspace(c - half, c + half, 4001)
    tau = version_of(design).time_map(grid)
    return float(np.interp(t0, tau, grid)), float(np.interp(t1, tau, grid))


def excerpt_notes(design: dict) -> list[tuple]:
    """Per part: onset, offset (s from the excerpt's start), pitch, velocity of its notes.

    Every note sounding in the window is kept: a note that began before the window starts
    at 0 (it is struck again), one that lasts beyond it is cut at the window's end.
    """
    truth = ground_truth(design["piece_id"])
    version = version_of(design)
    t0, t1 = excerpt_window(design)
    onset = version.time_map(truth["onset"])
    offset = version.time_map(truth["offset"])
    pitch = np.asarray(truth["pitch"], dtype=int) + version.transpose
    part, velocity = np.asarray(truth["part"]), np.asarray(truth["velocity"])
    out = []
    for p in range(truth["n_parts"]):
        sel = (part == p) & (onset < t1) & (offset > t0 + 0.02)
        out.append((np.maximum(onset[sel], t0) - t0, np.minimum(offset[sel], t1) - t0,
                    pitch[sel], velocity[sel]))
    return out


def piano_roll(design: dict, fps: int = ROLL_FPS) -> np.ndarray:
    """The notes an excerpt plays as a binary piano roll, ``uint8`` of shape ``(128, n_frames)``.

    Frame ``n`` covers ``[n / fps, (n + 1) / fps)`` seconds of the excerpt; a note is on in
    every frame it overlaps. Pitches are MIDI numbers as played (transposition included).
    """
    n_frames = int(round(design["clip_seconds"] * fps))
    roll = np.zeros((128, n_frames), dtype=np.uint8)
    for on, off, pitch, _ in excerpt_notes(design):
        for a, b, p in zip(on, off, pitch, strict=True):
            first, last = int(np.floor(a * fps)), int(np.ceil(b * fps))
            roll[int(p), max(first, 0): min(max(last, first + 1), n_frames)] = 1
    return roll


def render_excerpt(design: dict, sr: int, renderer: str) -> np.ndarray:
    """Render one excerpt to 16-bit integers (a pure function of its design)."""
    n_samples = int(round(design["clip_seconds"] * sr))
    tracks = [Track(onset=on, offset=off, pitch=pitch, velocity=vel, program=int(prog),
                    gain_db=float(gain))
              for (on, off, pitch, vel), prog, gain in zip(
                  excerpt_notes(design), design["programs"], design["gain_db"], strict=True)]
    path = soundfont_file(design["soundfont"]) if renderer == "fluidsynth" else None
    x = render_tracks(tracks, n_samples, sr, renderer, path)
    x = apply_effects(x, sr, design["effects"], np.random.default_rng(design["rng_state"]))
    return np.clip(np.round(x * 32767.0), -32768, 32767).astype(np.int16)


def design_code_sha256() -> str:
    """sha256 of the code and constants that decide the excerpts (the renderer aside)."""
    return code_sha256(similarity_pieces, _version_design, version_of, _max_stretch,
                       design_passages, excerpt_window, excerpt_notes, piano_roll,
                       render_excerpt, apply_effects, piece_split,
                       [FAMILIES, PROGRAMS, POLYPHONIC, TEMPO_RANGE, SIM_COLLECTIONS, ROLL_FPS])


# --- the dataset -----------------------------------------------------------------------------

@dataclass
class SimilarityData:
    """Excerpts with three exact notions of similarity (see the module docstring).

    Attributes
    ----------
    audio : np.ndarray
        float32, ``(n_excerpts, n_samples)``.
    sr : int
        Sample rate in Hz.
    labels : dict of str -> np.ndarray
        int labels per notion of :data:`NOTIONS`: ``"passage"`` (unique over the dataset),
        ``"instrumentation"`` (index into :data:`FAMILIES`), ``"collection"`` (index into
        :data:`SIM_COLLECTIONS`).
    split : np.ndarray
        ``"train"``, ``"valid"`` or ``"test"`` per excerpt (by piece).
    piece_id : np.ndarray
        The piece of each excerpt.
    piano_roll : np.ndarray
        uint8, ``(n_excerpts, 128, n_frames)``: the notes each excerpt plays (MIDI pitch as
        played, :data:`ROLL_FPS` frames per second, aligned with the audio).
    score_span : np.ndarray
        ``(n_excerpts, 2)``: the span of the score (seconds of the original rendering) each
        excerpt covers.
    meta : list of dict
        The design of each excerpt (tempo, curve, transposition, programs, soundfont, ...).
    """

    audio: np.ndarray
    sr: int
    labels: dict
    split: np.ndarray
    piece_id: np.ndarray
    piano_roll: np.ndarray
    score_span: np.ndarray
    meta: list = field(repr=False)
    notions: tuple = NOTIONS
    classes: dict = field(default_factory=lambda: {"instrumentation": list(FAMILIES),
                                                   "collection": list(SIM_COLLECTIONS)})

    def __len__(self) -> int:
        return len(self.split)

    def __repr__(self) -> str:
        counts = ", ".join(f"{int(np.sum(self.split == s))} {s}" for s in SPLITS)
        n = len(np.unique(self.labels["passage"]))
        seconds = self.audio.shape[1] / self.sr if len(self) else 0.0
        return (f"SimilarityData({len(self)} excerpts of {seconds:g} s at {self.sr} Hz: "
                f"{counts}; {n} passages)")

    def subset(self, split) -> SimilarityData:
        """The excerpts of one split (``"train"``, ``"valid"``, ``"test"``) or of an index."""
        if isinstance(split, str):
            if split not in SPLITS:
                raise ValueError(f"split must be one of {SPLITS}; got {split!r}")
            idx = np.flatnonzero(self.split == split)
        else:
            idx = np.asarray(split)
        return SimilarityData(audio=self.audio[idx], sr=self.sr,
                              labels={k: v[idx] for k, v in self.labels.items()},
                              split=self.split[idx], piece_id=self.piece_id[idx],
                              piano_roll=self.piano_roll[idx], score_span=self.score_span[idx],
                              meta=[self.meta[i] for i in idx])

    def notion(self, name: str) -> np.ndarray:
        """The integer labels of a notion of :data:`NOTIONS`."""
        if name not in self.labels:
            raise ValueError(f"name must be one of {list(self.labels)}; got {name!r}")
        return self.labels[name]


def resolve_size(size, n_passages, n_versions) -> tuple[tuple[int, int, int], int]:
    if size not in SIZES:
        raise ValueError(f"size must be one of {list(SIZES)}; got {size!r}")
    n_passages = SIZES[size]["n_passages"] if n_passages is None else n_passages
    if len(n_passages) != 3:
        raise ValueError("n_passages must hold three numbers (train, valid, test); "
                         f"got {n_passages!r}")
    n_passages = tuple(check_positive_int(n, "n_passages") for n in n_passages)
    n_versions = SIZES[size]["n_versions"] if n_versions is None else n_versions
    n_versions = check_positive_int(n_versions, "n_versions", minimum=2)
    return n_passages, n_versions


def load_similarity_data(size: str = "default", *, n_passages=None, n_versions=None,
                         clip_seconds: float = 3.0, sr: int = 16000,
                         soundfonts=("default", "musescore"), random_state: int = 0,
                         progress: bool = True) -> SimilarityData:
    """Load (render once, then from the cache) excerpts labelled by passage, instrumentation
    and collection.

    Parameters
    ----------
    size : {"default", "quick"}
        ``"default"``: 80/20/40 passages per collection in train/valid/test, 4 versions each
        (1,680 excerpts; about 3 minutes to render on 2 cores); ``"quick"``: 6/3/3 passages,
        3 versions (108 excerpts, a few seconds), for tests.
    n_passages : (int, int, int), optional
        Passages per collection in (train, valid, test); overrides ``size``.
    n_versions : int, optional
        Excerpts (versions) per passage, 2 to 9; overrides ``size``.
    clip_seconds : float
        Length of every excerpt in seconds.
    sr : int
        Sample rate in Hz.
    soundfonts : tuple of str
        Soundfonts the versions are drawn from (see
        :func:`mirlab.datasets.clips.soundfont_file`); the MuseScore one needs
        ``musescore-general-soundfont-small``.
    random_state : int
        Seed of the design.
    progress : bool
        Show a progress bar while rendering.

    Returns
    -------
    SimilarityData

    Examples
    --------
    >>> data = load_similarity_data("quick")  # doctest: +SKIP
    >>> train = data.subset("train")  # doctest: +SKIP
    >>> same = train.notion("passage")[:, None] == train.notion("passage")[None]  # doctest: +SKIP
    """
    from tqdm.auto import tqdm

    n_passages, n_versions = resolve_size(size, n_passages, n_versions)
    clip_seconds = check_positive(clip_seconds, "clip_seconds")
    sr = check_sr(sr)
    seed = check_positive_int(random_state, "random_state", minimum=0)
    soundfonts = tuple(soundfonts)
    for sf in soundfonts:
        soundfont_file(sf)  # a ValueError with the install hint when missing
    synth = {sf: clip_renderer(sf) for sf in soundfonts}
    params = {"format": FORMAT, "code": design_code_sha256(), "n_passages": list(n_passages),
              "n_versions": n_versions, "clip_seconds": clip_seconds, "sr": sr,
              "soundfonts": list(soundfonts), "random_state": seed, "synth": synth}

    def build():
        designs = []
        for s, split in enumerate(SPLITS):
            for c, coll in enumerate(SIM_COLLECTIONS):
                rng = np.random.default_rng([seed, s, c])
                designs += design_passages(coll, split, n_passages[s], n_versions, clip_seconds,
                                           rng, soundfonts)
        for i, d in enumerate(designs):
            d["passage"] = i // n_versions
            d["score_span"] = list(score_span(d))
        renderer = "fluidsynth" if env.has_fluidsynth() else "fallback"
        n_samples = int(round(clip_seconds * sr))
        q = np.zeros((len(designs), n_samples), dtype=np.int16)
        rolls = np.zeros((len(designs), 128, int(round(clip_seconds * ROLL_FPS))), np.uint8)
        for i, d in enumerate(tqdm(designs, desc="rendering similarity excerpts",
                                   disable=env.progress_disabled(progress))):
            q[i] = render_excerpt(d, sr, renderer)
            rolls[i] = piano_roll(d)
        return Entry(data=designs, arrays={"audio": q, "piano_roll": rolls})

    found = SIMILARITY.get_or_build(f"similarity-{size}", params, build)
    metas = found.data
    labels = {"passage": np.array([m["passage"] for m in metas], dtype=int),
              "instrumentation": np.array([FAMILIES.index(m["family"]) for m in metas]),
              "collection": np.array([SIM_COLLECTIONS.index(m["collection"]) for m in metas])}
    return SimilarityData(audio=to_float(found.arrays["audio"]), sr=sr, labels=labels,
                          split=np.array([m["split"] for m in metas]),
                          piece_id=np.array([m["piece_id"] for m in metas]),
                          piano_roll=np.asarray(found.arrays["piano_roll"]),
                          score_span=np.array([m["score_span"] for m in metas]), meta=metas)
