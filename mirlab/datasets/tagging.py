"""A multi-label music tagging dataset rendered from the corpus, and transfer tasks.

Music auto-tagging predicts several tags per clip at once (instruments, ensemble, tempo, ...),
a multi-label problem learned from short clips [1]_ [2]_. This module builds such a dataset
from the scores of the embedded corpus (:mod:`mirlab.datasets.corpus`), so the tags are exact
by construction, and loads the real benchmarks (MagnaTagATune, GTZAN) through the same
:class:`TaggingDataset` for Colab users.

How a clip is made
------------------
1. A piece is drawn from its split (splits are made **by piece**: a piece's clips are all in
   one split; 70 % of the clips are for training, 10 % validation, 20 % test; 20 % of the
   pieces are held out of the tagging data altogether and serve, with the validation pieces,
   the transfer tasks of :func:`load_transfer_task`).
2. An orchestration: a folk tune is played *solo*; a Bach chorale by one polyphonic
   instrument (*solo*), by four instruments, one per part, from one to four families
   (*small_ensemble*), or by every part doubled plus the bass line an octave lower
   (*full_ensemble*; on a bass, or on strings, organ or piano when they already play).
   Programs vary within each family (e.g. ``brass`` is trumpet, trombone, tuba, French horn
   or a brass section), each family gets its own level (0 to -6 dB).
3. A tempo: the beat rate is drawn from slow (50-72 beats per minute), moderate (84-116) or
   fast (132-176), and a transposition from -4 to +4 semitones; a window of ``clip_seconds``
   is cut from the re-timed notes.
4. Rendering with FluidSynth and a General-MIDI soundfont (``"default"``: TimGM6mb, the one
   pretty_midi ships; ``"musescore"``: MuseScore General, a *different set of samples* for
   the same programs: a timbre shift for testing), then a random equaliser (high-pass,
   low-pass), a synthetic room (exponentially decaying noise, RT60 0.2-1.2 s), additive
   white or pink noise (SNR 20-45 dB) and a random gain.

Tags: an instrument family is tagged when it plays at least 1 s of notes in the clip; an
ensemble tag from the orchestration; ``slow``/``fast`` from the beat rate (moderate tempi
get neither). The design of every clip depends only on ``seed`` (not on the soundfont), so
``soundfont="musescore"`` renders the same clips with other samples.

Cache: the rendered audio (16-bit) of a dataset is one ``.npy`` file under
``mirlab.cache_dir("tagging")``, named by its content, committed by a JSON manifest written
last (parameters, sha256 of the audio file, labels, splits, per-clip metadata), as the corpus
cache does: a partial or corrupt entry is reported with a
:class:`~mirlab.datasets.CacheWarning` and rebuilt.

References
----------
.. [1] K. Choi, G. Fazekas, M. Sandler, "Automatic tagging using deep convolutional neural
   networks", ISMIR 2016.
.. [2] M. Won, A. Ferraro, D. Bogdanov, X. Serra, "Evaluation of CNN-based automatic music
   tagging models", SMC 2020.
.. [3] K. Choi, G. Fazekas, M. Sandler, K. Cho, "Transfer learning for music classification
   and regression tasks", ISMIR 2017.
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mirlab.core import env
from mirlab.core.checks import check_choice, check_positive, check_positive_int, check_sr
from mirlab.core.files import atomic_write_bytes, sha256_file
from mirlab.datasets import corpus

FAMILIES = {  # General-MIDI programs (0-based) of each instrument family
    "piano": (0, 1, 2, 3),  # acoustic pianos (electric pianos sound like mallets)
    "mallets": (8, 9, 11, 12, 13),
    "organ": (16, 17, 18, 19, 20),
    "guitar": (24, 25, 26, 27),
    "bass": (32, 33, 34, 35),
    "strings": (40, 41, 42, 48, 49),
    "brass": (56, 57, 58, 60, 61),
    "reeds": (64, 65, 66, 68, 70, 71),
    "flutes": (72, 73, 74, 75),
    "voices": (52, 53, 54),
}
INSTRUMENT_TAGS = list(FAMILIES)
ENSEMBLE_TAGS = ["solo", "small_ensemble", "full_ensemble"]
TEMPO_TAGS = ["slow", "fast"]
TAGS = INSTRUMENT_TAGS + ENSEMBLE_TAGS + TEMPO_TAGS
SPLITS = ("train", "valid", "test")
SOUNDFONTS = ("default", "musescore")
NAMES = ("corpus", "magnatagatune", "gtzan")
TEMPO_RANGES = {"slow": (50.0, 72.0), "moderate": (84.0, 116.0), "fast": (132.0, 176.0)}
POLYPHONIC = ("piano", "mallets", "organ", "guitar")  # may play a chorale alone
MIN_SOUNDING = 1.0  # seconds of notes a family must play in a clip to be tagged
MUSESCORE_FILES = ("/usr/share/sounds/sf3/MuseScore_General.sf3",
                   "/usr/share/sounds/sf3/MuseScore_General_Lite.sf3",
                   "/usr/share/sounds/sf2/MuseScore_General.sf2",
                   "/usr/share/sounds/sf3/default-GM.sf3")
MUSESCORE_HINT = ("install Debian/Ubuntu's package with 'sudo apt-get install -y "
                  "musescore-general-soundfont-small' (in Colab: '!apt-get install -y "
                  "musescore-general-soundfont-small'), or pass the path of a .sf2/.sf3 file")
_FORMAT = 1  # bump when the clip design or rendering changes what is produced
_PIECE_SHARES = (("transfer", 0.2), ("train", 0.56), ("valid", 0.08), ("test", 0.16))


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


# --- soundfonts ----------------------------------------------------------------------------------

def soundfont_file(soundfont: str = "default") -> Path:
    """The file of a soundfont: ``"default"``, ``"musescore"`` or a path to a .sf2/.sf3.

    Raises
    ------
    ValueError
        If the MuseScore soundfont (or the given file) is not installed; the message says
        how to install it.
    """
    if soundfont == "default":
        return corpus.soundfont_path()
    if soundfont == "musescore":
        for candidate in MUSESCORE_FILES:
            if Path(candidate).is_file():
                return Path(candidate).resolve()
        raise ValueError("soundfont='musescore' needs the MuseScore General soundfont, which "
                         f"is not installed (looked for {MUSESCORE_FILES[0]}); {MUSESCORE_HINT}")
    if isinstance(soundfont, (str, Path)) and Path(soundfont).suffix in (".sf2", ".sf3"):
        if Path(soundfont).is_file():
            return Path(soundfont).resolve()
    raise ValueError(f"soundfont must be one of {list(SOUNDFONTS)} or the path of an existing "
                     f".sf2/.sf3 file; got {soundfont!r}")


def has_soundfont(soundfont: str) -> bool:
    """True when :func:`soundfont_file` finds ``soundfont`` (and FluidSynth is available)."""
    try:
        soundfont_file(soundfont)
    except ValueError:
        return False
    return env.has_fluidsynth()


# --- splits by piece -----------------------------------------------------------------------------

def _piece_unit(piece_id: str) -> float:
    """A fixed pseudo-random number in [0, 1) per piece (the same on every machine)."""
    return int(hashlib.sha256(piece_id.encode()).hexdigest()[:12], 16) / 16.0**12


def piece_split(piece_id: str) -> str:
    """The split of a piece: ``"train"``, ``"valid"``, ``"test"`` or ``"transfer"``.

    Fixed by a hash of the id (20 % transfer, 56 % train, 8 % valid, 16 % test), so that
    every clip of a piece falls in the same split, whatever the dataset's size or seed.
    """
    u, edge = _piece_unit(piece_id), 0.0
    for name, share in _PIECE_SHARES:
        edge += share
        if u < edge:
            return name
    return _PIECE_SHARES[-1][0]


@functools.cache
def _pieces_by_split() -> dict[tuple[str, str], list[str]]:
    """(split, collection) -> piece ids, for the chorales and the folk tunes."""
    out: dict[tuple[str, str], list[str]] = {}
    for collection in corpus.COLLECTIONS:
        for pid in corpus.list_pieces(collection):
            out.setdefault((piece_split(pid), collection), []).append(pid)
    return out


# --- clip design ---------------------------------------------------------------------------------

def _pick_program(family: str, rng) -> int:
    return int(rng.choice(FAMILIES[family]))


def _orchestrate(collection: str, n_parts: int, rng, ensemble: str | None = None,
                 n_families: int | None = None, families=None) -> tuple[str, list[dict]]:
    """Choose the ensemble and the tracks (part, family, program, octave) of a clip."""
    if ensemble is None:
        ensemble = "solo" if collection == "folk" else str(
            rng.choice(ENSEMBLE_TAGS, p=[0.25, 0.45, 0.30]))
    melodic = [f for f in FAMILIES if f != "bass"]
    if ensemble == "solo":
        family = str(rng.choice(melodic if collection == "folk" else list(POLYPHONIC)))
        program = _pick_program(family, rng)
        return ensemble, [dict(part=p, family=family, program=program, octave=0)
                          for p in range(n_parts)]
    if families is not None:
        families, n_families = list(families), -1
    elif n_families is None:
        choices, p = ([1, 2, 3, 4], [0.15, 0.3, 0.3, 0.25]) if ensemble == "small_ensemble" \
            else ([2, 3, 4], [0.3, 0.4, 0.3])
        n_families = int(rng.choice(choices, p=p))
    if n_families > 0:
        families = [str(f) for f in rng.choice(melodic, size=n_families, replace=False)]
        if n_families > 1 and rng.random() < 0.3:  # a bass instrument on the bass part
            families[-1] = "bass"
    # every family plays at least one part; a bass family the lowest part
    assign = {n_parts - 1: "bass"} if "bass" in families else {}
    order = list(rng.permutation(n_parts))
    for fam in families:
        if fam != "bass":
            assign[next(p for p in order if p not in assign)] = fam
    for part in range(n_parts):
        assign.setdefault(part, str(rng.choice([f for f in families if f != "bass"])))
    tracks = [dict(part=p, family=assign[p], program=_pick_program(assign[p], rng), octave=0)
              for p in range(n_parts)]
    if ensemble == "full_ensemble":  # double every part by another family, bass an octave down
        for p in range(n_parts):
            others = [f for f in families if f != assign[p] and f != "bass"] or [assign[p]]
            fam = str(rng.choice(others))
            tracks.append(dict(part=p, family=fam, program=_pick_program(fam, rng), octave=0))
        low = str(rng.choice(["bass", *[f for f in ("strings", "organ", "piano")
                                        if f in families]]))  # no new family hidden below
        tracks.append(dict(part=n_parts - 1, family=low, program=_pick_program(low, rng),
                           octave=-1))
    return ensemble, tracks


def _beat_period(truth: dict) -> float:
    beats = np.asarray(truth["beats"], dtype=float)
    if len(beats) < 2:
        return 0.5
    return float(np.median(np.diff(beats)))


def _design_clip(piece_id: str, rng, clip_seconds: float, ensemble=None, n_families=None,
                 tempo_class=None, tempo_jitter=None, families=None) -> dict:
    """Everything that decides one clip (JSON-ready); the tags follow from it."""
    truth = corpus._ground_truth(piece_id)
    ensemble, tracks = _orchestrate(truth["collection"], truth["n_parts"], rng, ensemble,
                                    n_families, families)
    period = _beat_period(truth)
    if tempo_jitter is not None:  # keep the score's tempo, within +-tempo_jitter
        bpm = 60.0 / period * float(rng.uniform(1 - tempo_jitter, 1 + tempo_jitter))
    else:
        tempo_class = tempo_class or str(rng.choice(list(TEMPO_RANGES)))
        bpm = float(rng.uniform(*TEMPO_RANGES[tempo_class]))
    factor = bpm * period / 60.0
    families = sorted({t["family"] for t in tracks})
    for fam in families:
        gain = float(rng.uniform(-6.0, 0.0))
        for t in tracks:
            if t["family"] == fam:
                t["gain_db"] = round(gain + float(rng.uniform(-1.0, 1.0)), 2)
    end = float(np.max(truth["offset"])) / factor
    start = float(rng.uniform(0.0, max(0.0, end - clip_seconds)))
    effects = dict(highpass=float(rng.choice([0.0, rng.uniform(40, 200)])),
                   lowpass=float(rng.choice([0.0, rng.uniform(2500, 7000)])),
                   rt60=float(rng.uniform(0.2, 1.2)), wet=float(rng.uniform(0.0, 0.4)),
                   snr_db=float(rng.uniform(20.0, 45.0)), noise=str(rng.choice(["white", "pink"])),
                   gain_db=float(rng.uniform(-12.0, 0.0)))
    return dict(piece_id=piece_id, collection=truth["collection"],
                source=piece_id.split("/")[1] if truth["collection"] == "folk" else "bach",
                ensemble=ensemble, tracks=tracks, bpm=round(bpm, 3), tempo_factor=factor,
                transpose=int(rng.integers(-4, 5)), start=start, clip_seconds=clip_seconds,
                effects=effects, rng_state=int(rng.integers(2**31)))


def _clip_notes(meta: dict):
    """Per track: onset, offset, pitch, velocity of the notes inside the clip's window."""
    truth = corpus._ground_truth(meta["piece_id"])
    version = corpus.Version(tempo=meta["tempo_factor"], transpose=meta["transpose"])
    notes, _, _, _ = corpus._apply_version(truth, version)
    t0, t1 = meta["start"], meta["start"] + meta["clip_seconds"]
    out = []
    for tr in meta["tracks"]:
        sel = (notes.part == tr["part"]) & (notes.onset >= t0 - 1e-9) & (notes.onset < t1)
        pitch = np.clip(notes.pitch[sel] + 12 * tr["octave"], 0, 127)
        out.append((notes.onset[sel] - t0, np.minimum(notes.offset[sel], t1 + 0.5) - t0,
                    pitch, notes.velocity[sel]))
    return out


def _clip_tags(meta: dict) -> list[str]:
    """The tags of a clip, from its design and the notes inside its window."""
    sounding: dict[str, float] = {}
    for tr, (on, off, _, _) in zip(meta["tracks"], _clip_notes(meta), strict=True):
        dur = np.minimum(off, meta["clip_seconds"]) - on
        sounding[tr["family"]] = max(sounding.get(tr["family"], 0.0), float(np.sum(dur)))
    tags = [f for f in INSTRUMENT_TAGS if sounding.get(f, 0.0) >= MIN_SOUNDING]
    tags.append(meta["ensemble"])
    if meta["bpm"] <= TEMPO_RANGES["slow"][1]:
        tags.append("slow")
    elif meta["bpm"] >= TEMPO_RANGES["fast"][0]:
        tags.append("fast")
    return tags


# --- rendering -----------------------------------------------------------------------------------

class _Synth:
    """One FluidSynth instance with a soundfont loaded once, reused for many clips."""

    def __init__(self, path: Path, sr: int):
        fluidsynth = env.import_fluidsynth()
        self.synth = fluidsynth.Synth(gain=0.2, samplerate=float(sr),
                                      **{"synth.reverb.active": 0, "synth.chorus.active": 0})
        self.sfid = self.synth.sfload(str(path))
        if self.sfid < 0:
            raise ValueError(f"soundfont: FluidSynth could not load {path}")
        self.sr = sr

    def render(self, tracks, notes, n_samples: int) -> np.ndarray:
        s, sr = self.synth, self.sr
        s.system_reset()
        events = []
        for k, (tr, (on, off, pitch, vel)) in enumerate(zip(tracks, notes, strict=True)):
            ch = corpus._channel(k)
            s.program_select(ch, self.sfid, 0, int(tr["program"]))
            s.cc(ch, 7, int(round(127 * 10 ** (tr["gain_db"] / 40.0))))  # ~40 log10(v/127) dB
            events += [(int(round(t * sr)), 1, ch, int(p), int(v))
                       for t, p, v in zip(on, pitch, vel, strict=True)]
            events += [(int(round(t * sr)), 0, ch, int(p), 0)
                       for t, p in zip(off, pitch, strict=True)]
        chunks, now = [], 0
        for sample, is_on, ch, key, v in sorted(events):
            sample = min(max(sample, 0), n_samples)
            if sample > now:
                chunks.append(s.get_samples(sample - now))
                now = sample
            if is_on:
                s.noteon(ch, key, v)
            else:
                s.noteoff(ch, key)
        if n_samples > now:
            chunks.append(s.get_samples(n_samples - now))
        for k in range(len(tracks)):
            s.all_sounds_off(corpus._channel(k))
        s.get_samples(256)  # let the released voices die before the next clip
        return np.concatenate(chunks).astype(np.float64).reshape(-1, 2).mean(axis=1) / 32768.0

    def close(self):
        self.synth.delete()


def _render_fallback(tracks, notes, n_samples: int, sr: int) -> np.ndarray:
    from mirlab.audio import synthesize_notes

    y = np.zeros(n_samples)
    for tr, (on, off, pitch, vel) in zip(tracks, notes, strict=True):
        if len(on):
            x = synthesize_notes(on, off, pitch, vel, np.full(len(on), tr["program"]), sr=sr,
                                 duration=n_samples / sr)[:n_samples]
            y[: len(x)] += 10 ** (tr["gain_db"] / 20.0) * x
    return y


def _pink(n: int, rng) -> np.ndarray:
    spec = np.fft.rfft(rng.standard_normal(n))
    spec[1:] /= np.sqrt(np.arange(1, len(spec)))
    spec[0] = 0.0
    return np.fft.irfft(spec, n)


def apply_effects(y: np.ndarray, sr: int, effects: dict, rng) -> np.ndarray:
    """Equaliser, synthetic room, additive noise and gain, as described by ``effects``.

    Parameters
    ----------
    y : np.ndarray
        Mono signal.
    sr : int
        Sample rate in Hz.
    effects : dict
        ``highpass``/``lowpass`` cutoffs in Hz (0: off), ``rt60`` (s) and ``wet`` (0-1) of
        the room, ``snr_db`` and ``noise`` (``"white"``/``"pink"``), ``gain_db``.
    rng : numpy.random.Generator
        Draws the room's impulse response and the noise.

    Returns
    -------
    np.ndarray
        The processed signal, peak at most 1.
    """
    from scipy import signal

    x = np.asarray(y, dtype=np.float64)
    if effects["highpass"] > 0:
        x = signal.sosfilt(signal.butter(2, effects["highpass"], "highpass", fs=sr,
                                         output="sos"), x)
    if effects["lowpass"] > 0:
        x = signal.sosfilt(signal.butter(2, effects["lowpass"], "lowpass", fs=sr,
                                         output="sos"), x)
    t = np.arange(int(effects["rt60"] * sr)) / sr
    ir = rng.standard_normal(len(t)) * 10 ** (-3 * t / effects["rt60"])  # -60 dB at rt60
    wet = signal.fftconvolve(x, ir)[: len(x)]
    wet *= np.std(x) / max(np.std(wet), 1e-12)
    x = (1 - effects["wet"]) * x + effects["wet"] * wet
    noise = _pink(len(x), rng) if effects["noise"] == "pink" else rng.standard_normal(len(x))
    power = np.mean(x**2)
    if power > 0:
        x = x + noise * np.sqrt(power / np.mean(noise**2) * 10 ** (-effects["snr_db"] / 10))
    peak = np.max(np.abs(x)) if len(x) else 0.0
    return x * (10 ** (effects["gain_db"] / 20) * 0.9 / peak) if peak > 0 else x


def _render_clips(metas: list[dict], sr: int, soundfont: str, progress: bool,
                  desc: str) -> np.ndarray:
    """Render designed clips to 16-bit integers, shape (n_clips, n_samples)."""
    from tqdm.auto import tqdm

    n_samples = int(round(metas[0]["clip_seconds"] * sr)) if metas else 0
    out = np.zeros((len(metas), n_samples), dtype=np.int16)
    synth = _Synth(soundfont_file(soundfont), sr) if env.has_fluidsynth() else None
    try:
        for i, meta in enumerate(tqdm(metas, desc=desc, disable=env.progress_disabled(progress))):
            notes = _clip_notes(meta)
            if synth is not None:
                x = synth.render(meta["tracks"], notes, n_samples)
            else:
                x = _render_fallback(meta["tracks"], notes, n_samples, sr)
            x = apply_effects(x, sr, meta["effects"], np.random.default_rng(meta["rng_state"]))
            out[i] = np.clip(np.round(x * 32767.0), -32768, 32767).astype(np.int16)
    finally:
        if synth is not None:
            synth.close()
    return out


# --- cache ---------------------------------------------------------------------------------------

def _code_sha256() -> str:
    """sha256 of the code and constants that decide the clips' designs, tags and samples."""
    code = corpus._code_sha256(_pick_program, _orchestrate, _beat_period, _design_clip,
                               _clip_notes, _clip_tags, _Synth.render, _render_fallback, _pink,
                               apply_effects, _render_clips, design_clips, _design_transfer)
    constants = json.dumps([FAMILIES, TAGS, TEMPO_RANGES, POLYPHONIC, MIN_SOUNDING,
                            _PIECE_SHARES], sort_keys=True)
    return hashlib.sha256((code + constants).encode()).hexdigest()


def _renderer_fingerprint(soundfont: str) -> dict:
    if not env.has_fluidsynth():
        if soundfont != "default":
            raise ValueError(f"soundfont={soundfont!r} needs FluidSynth, which is not available "
                             "(install libfluidsynth3 and pyfluidsynth)")
        warnings.warn("FluidSynth is not available: the tagging clips are rendered with "
                      "mirlab's fallback synthesiser, whose instruments sound alike",
                      UserWarning, stacklevel=4)
        return {"renderer": "fallback"}
    path = soundfont_file(soundfont)
    return {"renderer": "fluidsynth", "fluidsynth": corpus._fluidsynth_version(),
            "soundfont": path.name, "soundfont_sha256": corpus._soundfont_sha256(str(path))}


def _cached(kind: str, params: dict, build, progress: bool):
    """Audio (int16) and manifest data of a cache entry; ``build()`` makes them if needed."""
    folder = env.cache_dir("tagging")
    key = hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()[:16]
    manifest = folder / f"{kind}-{key}.json"
    loaded = _read_entry(manifest, params)
    if loaded is not None:
        return loaded
    q, data = build()
    buf = io.BytesIO()
    np.save(buf, q, allow_pickle=False)
    raw = buf.getvalue()
    sha = hashlib.sha256(raw).hexdigest()
    audio = folder / f"{kind}-{key}-{sha[:8]}.npy"
    atomic_write_bytes(audio, raw)
    entry = {"params": params, "file": audio.name, "sha256": sha, "data": data}
    atomic_write_bytes(manifest, json.dumps(entry).encode())
    return q, data


def _read_entry(manifest: Path, params: dict):
    try:
        entry = json.loads(manifest.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as err:
        return _bad(manifest, f"its manifest is unreadable ({type(err).__name__})")
    try:
        if entry["params"] != json.loads(json.dumps(params)):
            return _bad(manifest, "it was made with other parameters")
        audio = manifest.parent / Path(entry["file"]).name
        if sha256_file(audio) != entry["sha256"]:  # streamed: the file is not held twice
            return _bad(manifest, "its checksum does not match (partial or corrupt file)")
        q = np.load(audio, mmap_mode="r", allow_pickle=False)
    except FileNotFoundError:
        return _bad(manifest, "the audio file its manifest names is missing")
    except (KeyError, TypeError, ValueError, OSError) as err:
        return _bad(manifest, f"it is unreadable ({type(err).__name__})")
    return q, entry["data"]


def _to_float(q) -> np.ndarray:
    """16-bit samples (an array or a memory map) as float32 in [-1, 1), row block by block."""
    out = np.empty(q.shape, dtype=np.float32)
    for i in range(0, len(q), 256):
        np.multiply(q[i: i + 256], np.float32(1 / 32768), out=out[i: i + 256],
                    dtype=np.float32)
    return out


def _bad(manifest: Path, problem: str):
    warnings.warn(f"cached tagging data {manifest} is not usable: {problem}; rendering it anew",
                  corpus.CacheWarning, stacklevel=4)
    return None


# --- public loaders ------------------------------------------------------------------------------

#: Default number of corpus clips: 1,680 for training, 240 for validation, 480 for testing.
N_CLIPS = 2400

def design_clips(n_clips: int = N_CLIPS, clip_seconds: float = 5.0, seed: int = 0) -> list[dict]:
    """The designs (metadata, without audio) of the corpus tagging dataset's clips.

    70 % of the clips come from training pieces, 10 % validation, 20 % test; within a split
    7 clips in 10 come from chorales, the rest from folk tunes, the pieces drawn in a shuffled
    cycle so that each piece is used about equally often.
    """
    n_clips = check_positive_int(n_clips, "n_clips", minimum=3)
    clip_seconds = check_positive(clip_seconds, "clip_seconds")
    rng = np.random.default_rng(check_positive_int(seed, "seed", minimum=0))
    pieces = _pieces_by_split()
    sizes = {"valid": max(1, round(0.1 * n_clips)), "test": max(1, round(0.2 * n_clips))}
    sizes["train"] = n_clips - sizes["valid"] - sizes["test"]
    metas = []
    for split in SPLITS:
        n_chorale = int(round(0.7 * sizes[split]))
        for collection, n in (("chorales", n_chorale), ("folk", sizes[split] - n_chorale)):
            pool = pieces[(split, collection)]
            ids = np.concatenate([rng.permutation(pool) for _ in range(n // len(pool) + 1)])[:n]
            for pid in ids:
                meta = _design_clip(str(pid), np.random.default_rng(rng.integers(2**63)),
                                    clip_seconds)
                meta["split"] = split
                metas.append(meta)
    return metas


def load_tagging_dataset(name: str = "corpus", *, n_clips: int = N_CLIPS,
                         clip_seconds: float = 5.0, sr: int = 16000, soundfont="default",
                         splits=SPLITS, seed: int = 0, progress: bool = True,
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
    seed : int
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
    seed = check_positive_int(seed, "seed", minimum=0)
    params = {"format": _FORMAT, "code": _code_sha256(), "n_clips": n_clips,
              "clip_seconds": clip_seconds, "sr": sr, "seed": seed,
              "splits": [s for s in SPLITS if s in wanted],
              "synth": _renderer_fingerprint(soundfont)}

    def build():
        metas = [m for m in design_clips(n_clips, clip_seconds, seed) if m["split"] in wanted]
        q = _render_clips(metas, sr, soundfont, progress, f"rendering {n_clips} clips "
                          f"({soundfont} soundfont)")
        return q, [dict(m, tags=_clip_tags(m)) for m in metas]

    q, metas = _cached("corpus", params, build, progress)
    audio = _to_float(q)
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
        which = ["train" if _piece_unit(t) < 0.7 else "valid" if _piece_unit(t) < 0.8
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


# --- transfer tasks ------------------------------------------------------------------------------

TRANSFER_TASKS = {
    "collection": (["bach_chorale", "essen_folk", "oneill_irish"],
                   "Which collection a clip comes from: a Bach chorale (four-part homophony), "
                   "a German folk song (Essen) or an Irish dance tune (O'Neill), each played "
                   "by randomly drawn instruments at about the score's tempo. Texture "
                   "(several voices or one) and rhythmic style decide, while timbre varies: "
                   "MFCC statistics mostly see the timbre."),
    "orchestration": (["keyboard", "string_quartet", "wind_ensemble", "choir"],
                      "How a chorale is orchestrated: one keyboard-like instrument (piano, "
                      "organ, mallets or guitar), four string instruments, a mixture of two "
                      "or three wind families (brass, reeds, flutes), or a choir of voices; "
                      "programs, levels, tempo and effects vary. A grouping of instrument "
                      "families that is no single tag: a tagger's timbre detectors should "
                      "separate it from a few examples better than average MFCCs."),
    "ensemble": (["solo", "quartet", "full_ensemble"],
                 "How large the ensemble playing a chorale is: one polyphonic instrument, four "
                 "instruments (one per part, one to four families), or every part doubled with "
                 "a bass an octave lower; families, programs, levels, tempo and effects vary. "
                 "The nearest task to the source tags (which include ensemble tags), on pieces "
                 "the tagger never heard: the case where transfer should help most."),
}


@dataclass
class TransferTask:
    """A small single-label classification task on corpus pieces unseen by the tagger.

    The clips of ``pool`` (to draw labelled examples from) and ``test`` come from disjoint
    pieces, none of them in the tagging dataset's train or test split: the 20 % of pieces held
    out of the tagging data and the tagging validation pieces (only used for early stopping).

    Attributes
    ----------
    name : str
        Key of :data:`TRANSFER_TASKS`.
    classes : list of str
        Class names; ``y`` indexes them.
    description : str
        What the task asks and why learned features should help.
    audio : np.ndarray
        float32, ``(n_clips, n_samples)``.
    sr : int
        Sample rate in Hz.
    y : np.ndarray
        int, ``(n_clips,)``.
    split : np.ndarray
        ``"pool"`` or ``"test"`` per clip.
    meta : list of dict
        Per-clip design (piece, tracks, tempo, effects).
    """

    name: str
    classes: list[str]
    description: str
    audio: np.ndarray
    sr: int
    y: np.ndarray
    split: np.ndarray
    meta: list[dict] = field(repr=False)

    def __len__(self) -> int:
        return len(self.y)

    def __repr__(self) -> str:
        return (f"TransferTask({self.name!r}: classes {self.classes}, "
                f"{int(np.sum(self.split == 'pool'))} pool and "
                f"{int(np.sum(self.split == 'test'))} test clips)")

    @property
    def test_index(self) -> np.ndarray:
        """Indices of the fixed test clips."""
        return np.flatnonzero(self.split == "test")

    def draw(self, n_per_class: int, random_state=None) -> np.ndarray:
        """Indices of ``n_per_class`` labelled pool clips per class (a learning-curve point).

        Parameters
        ----------
        n_per_class : int
            At most the number of pool clips of the rarest class.
        random_state : int or numpy.random.Generator, optional
            Which clips are drawn.

        Returns
        -------
        np.ndarray
            Sorted indices into ``audio``/``y``, ``n_per_class`` of each class.
        """
        rng = np.random.default_rng(random_state)
        available = min(int(np.sum((self.split == "pool") & (self.y == k)))
                        for k in range(len(self.classes)))
        n = check_positive_int(n_per_class, "n_per_class")
        if n > available:
            raise ValueError(f"n_per_class must be at most {available} (pool clips of the "
                             f"rarest class); got {n}")
        picks = [rng.choice(np.flatnonzero((self.split == "pool") & (self.y == k)), n,
                            replace=False) for k in range(len(self.classes))]
        return np.sort(np.concatenate(picks))


def _transfer_pieces(collection: str, source: str | None, part: str) -> list[str]:
    """Pieces never trained on (the transfer pieces and the tagging validation pieces) of a
    collection, optionally of one folk source, halved into pool and test."""
    pieces = [p for split in ("transfer", "valid") for p in _pieces_by_split()[(split, collection)]
              if source is None or p.split("/")[1] == source]
    half = [p for p in pieces if (_piece_unit(p + "#transfer") < 0.5) == (part == "pool")]
    return half


def _design_transfer(name: str, label: int, piece_id: str, rng, clip_seconds: float) -> dict:
    if name == "collection":
        return _design_clip(piece_id, rng, clip_seconds, tempo_jitter=0.15)
    if name == "orchestration":
        if label == 0:
            return _design_clip(piece_id, rng, clip_seconds, ensemble="solo")
        winds = [str(f) for f in rng.choice(["brass", "reeds", "flutes"],
                                            size=int(rng.integers(2, 4)), replace=False)]
        families = (None, ["strings"], winds, ["voices"])[label]
        return _design_clip(piece_id, rng, clip_seconds, ensemble="small_ensemble",
                            families=families)
    return _design_clip(piece_id, rng, clip_seconds,
                        ensemble=("solo", "small_ensemble", "full_ensemble")[label])


def _transfer_sources(name: str, label: int):
    if name == "collection":
        return [("chorales", None), ("folk", "essenFolksong"), ("folk", "oneills1850")][label]
    return ("chorales", None)


def load_transfer_task(name: str, *, n_pool: int = 40, n_test: int = 60,
                       clip_seconds: float = 5.0, sr: int = 16000, soundfont="default",
                       seed: int = 0, progress: bool = True) -> TransferTask:
    """Load (render once, then from the cache) a transfer task of :data:`TRANSFER_TASKS`.

    Parameters
    ----------
    name : {"collection", "orchestration", "ensemble"}
        The task.
    n_pool, n_test : int
        Clips per class in the labelled pool and in the test set.
    clip_seconds : float
        Length of every clip in seconds.
    sr : int
        Sample rate in Hz.
    soundfont : {"default", "musescore"} or path
        As in :func:`load_tagging_dataset`.
    seed : int
        Seed of the clip design.
    progress : bool
        Show a progress bar while rendering.

    Returns
    -------
    TransferTask

    Examples
    --------
    >>> task = load_transfer_task("collection", n_pool=10, n_test=20)  # doctest: +SKIP
    >>> idx = task.draw(10, random_state=0)  # doctest: +SKIP
    >>> X_train, y_train = task.audio[idx], task.y[idx]  # doctest: +SKIP
    """
    check_choice(name, "name", TRANSFER_TASKS)
    n_pool = check_positive_int(n_pool, "n_pool")
    n_test = check_positive_int(n_test, "n_test")
    clip_seconds = check_positive(clip_seconds, "clip_seconds")
    sr = check_sr(sr)
    seed = check_positive_int(seed, "seed", minimum=0)
    if not (isinstance(soundfont, str) and soundfont in SOUNDFONTS):
        soundfont_file(soundfont)
    classes, description = TRANSFER_TASKS[name]
    params = {"format": _FORMAT, "code": _code_sha256(), "task": name, "n_pool": n_pool,
              "n_test": n_test, "clip_seconds": clip_seconds, "sr": sr, "seed": seed,
              "synth": _renderer_fingerprint(soundfont)}

    def build():
        rng = np.random.default_rng([seed, len(name)])
        metas = []
        for part, n in (("pool", n_pool), ("test", n_test)):
            for label in range(len(classes)):
                pool = _transfer_pieces(*_transfer_sources(name, label), part)
                ids = np.concatenate([rng.permutation(pool) for _ in range(n // len(pool) + 1)])
                for pid in ids[:n]:
                    meta = _design_transfer(name, label, str(pid),
                                            np.random.default_rng(rng.integers(2**63)),
                                            clip_seconds)
                    metas.append(dict(meta, split=part, label=label))
        q = _render_clips(metas, sr, soundfont, progress, f"rendering task {name!r}")
        return q, metas

    q, metas = _cached(f"transfer-{name}", params, build, progress)
    audio = _to_float(q)
    return TransferTask(name=name, classes=list(classes), description=description,
                        audio=audio, sr=sr, y=np.array([m["label"] for m in metas]),
                        split=np.array([m["split"] for m in metas]), meta=metas)


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
        return _pick_program(fam, np.random.default_rng([seed, INSTRUMENT_TAGS.index(fam)]))

    tracks = [dict(part=p, family=f, program=program(f), octave=0, gain_db=0.0)
              for p, f in enumerate(families)]
    return ("solo" if isinstance(item, str) else "small_ensemble"), tracks


def render_orchestrations(piece_id: str, orchestrations, *, tempo_class: str = "moderate",
                          clip_seconds: float = 5.0, sr: int = 16000, soundfont="default",
                          seed: int = 0, progress: bool = False) -> TaggingDataset:
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
    seed : int
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
    seed = check_positive_int(seed, "seed", minimum=0)
    items = [o if isinstance(o, str) else [str(f) for f in o] for o in orchestrations]
    if not items:
        raise ValueError("orchestrations must hold at least one orchestration; got none")
    n_parts = int(corpus._ground_truth(piece_id)["n_parts"])
    designs = [_orchestration_tracks(item, n_parts, seed) for item in items]
    if not (isinstance(soundfont, str) and soundfont in SOUNDFONTS):
        soundfont_file(soundfont)
    params = {"format": _FORMAT, "code": _code_sha256(), "piece_id": piece_id,
              "items": items, "tempo_class": tempo_class, "clip_seconds": clip_seconds,
              "sr": sr, "seed": seed, "synth": _renderer_fingerprint(soundfont),
              "orchestration_code": corpus._code_sha256(_orchestration_tracks,
                                                        render_orchestrations)}

    def build():
        base = _design_clip(piece_id, np.random.default_rng(seed), clip_seconds,
                            tempo_class=tempo_class)
        metas = []
        for item, (ensemble, tracks) in zip(items, designs, strict=True):
            name = (item if isinstance(item, str) else f"{len(item)} x {item[0]}"
                    if len(set(item)) == 1 else " + ".join(item))
            meta = dict(base, ensemble=ensemble, tracks=tracks, start=0.0, split="test",
                        orchestration=name)
            metas.append(dict(meta, tags=_clip_tags(meta)))
        return _render_clips(metas, sr, soundfont, progress, "rendering orchestrations"), metas

    q, metas = _cached("orchestrations", params, build, progress)
    labels = np.array([[t in m["tags"] for t in TAGS] for m in metas], dtype=np.float32)
    for m in metas:
        m["soundfont"] = str(soundfont)
        m["programs"] = [tr["program"] for tr in m["tracks"]]
        m["families"] = sorted({t["family"] for t in m["tracks"]} & set(m["tags"]))
    return TaggingDataset(audio=_to_float(q), sr=sr, labels=labels.reshape(len(metas), len(TAGS)),
                          tags=list(TAGS), split=np.array(["test"] * len(metas)), meta=metas,
                          name=f"orchestrations of {piece_id} ({soundfont} soundfont)")
