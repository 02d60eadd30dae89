"""Clips for music tagging: their design (orchestration, tempo, window, effects) and rendering.

The tagging dataset of :mod:`mirlab.datasets.tagging` and the transfer tasks of
:mod:`mirlab.datasets.transfer_tasks` are made of such clips. Taught in
``notebooks/04_music_tagging.ipynb`` (and ``book/datasets.ipynb``).

How a clip is made
------------------
1. A piece is drawn from its split (splits are made **by piece**, :func:`piece_split`: a
   piece's clips are all in one split; 20 % of the pieces are held out of the tagging data
   altogether and serve, with the validation pieces, the transfer tasks).
2. An orchestration: a folk tune is played *solo*; a Bach chorale by one polyphonic
   instrument (*solo*), by four instruments, one per part, from one to four families
   (*small_ensemble*), or by every part doubled plus the bass line an octave lower
   (*full_ensemble*; on a bass, or on strings, organ or piano when they already play).
   Programs vary within each family (e.g. ``brass`` is trumpet, trombone, tuba, French horn
   or a brass section), each family gets its own level (0 to -6 dB).
3. A tempo: the beat rate is drawn from slow (50-72 beats per minute), moderate (84-116) or
   fast (132-176), and a transposition from -4 to +4 semitones; a window of ``clip_seconds``
   is cut from the re-timed notes.
4. Rendering with the one synthesiser (:mod:`mirlab.datasets.synth`: FluidSynth and a
   General-MIDI soundfont, ``"default"``: TimGM6mb, the one pretty_midi ships; ``"musescore"``:
   MuseScore General, a *different set of samples* for the same programs: a timbre shift for
   testing), then a random equaliser (high-pass, low-pass), a synthetic room (exponentially
   decaying noise, RT60 0.2-1.2 s), additive white or pink noise (SNR 20-45 dB) and a random
   gain (:func:`apply_effects`). Every clip is a pure function of its design: the same design
   gives the same samples, whatever was rendered before.

Tags: an instrument family is tagged when it plays at least 1 s of notes in the clip; an
ensemble tag from the orchestration; ``slow``/``fast`` from the beat rate (moderate tempi
get neither). The design of every clip depends only on ``random_state`` (not on the
soundfont), so ``soundfont="musescore"`` renders the same clips with other samples.

Cache: rendered clips are entries of the one cache (:mod:`mirlab.core.cache`) in
``mirlab.cache_dir("tagging")``: the 16-bit audio as one ``.npy`` file, the designs as the
entry's data (:func:`load_or_render`).
"""

from __future__ import annotations

import concurrent.futures
import functools
import hashlib
import multiprocessing
import os
import warnings
from pathlib import Path

import numpy as np

from mirlab.core import env
from mirlab.core.cache import Cache, Entry, code_sha256
from mirlab.datasets.corpus import Version, apply_version
from mirlab.datasets.scores import COLLECTIONS, ground_truth, list_pieces
from mirlab.datasets.synth import Track, render_tracks, renderer_fingerprint, soundfont_path

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
PIECE_SHARES = (("transfer", 0.2), ("train", 0.56), ("valid", 0.08), ("test", 0.16))
CLIPS = Cache("tagging", what="tagging data")


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
        return soundfont_path()
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

def piece_unit(piece_id: str) -> float:
    """A fixed pseudo-random number in [0, 1) per piece (the same on every machine)."""
    return int(hashlib.sha256(piece_id.encode()).hexdigest()[:12], 16) / 16.0**12


def piece_split(piece_id: str) -> str:
    """The split of a piece: ``"train"``, ``"valid"``, ``"test"`` or ``"transfer"``.

    Fixed by a hash of the id (20 % transfer, 56 % train, 8 % valid, 16 % test), so that
    every clip of a piece falls in the same split, whatever the dataset's size or seed.
    """
    u, edge = piece_unit(piece_id), 0.0
    for name, share in PIECE_SHARES:
        edge += share
        if u < edge:
            return name
    return PIECE_SHARES[-1][0]


@functools.cache
def pieces_by_split() -> dict[tuple[str, str], list[str]]:
    """(split, collection) -> piece ids, for the chorales and the folk tunes."""
    out: dict[tuple[str, str], list[str]] = {}
    for collection in COLLECTIONS:
        for pid in list_pieces(collection):
            out.setdefault((piece_split(pid), collection), []).append(pid)
    return out


# --- clip design ---------------------------------------------------------------------------------

def pick_program(family: str, rng) -> int:
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
        program = pick_program(family, rng)
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
    tracks = [dict(part=p, family=assign[p], program=pick_program(assign[p], rng), octave=0)
              for p in range(n_parts)]
    if ensemble == "full_ensemble":  # double every part by another family, bass an octave down
        for p in range(n_parts):
            others = [f for f in families if f != assign[p] and f != "bass"] or [assign[p]]
            fam = str(rng.choice(others))
            tracks.append(dict(part=p, family=fam, program=pick_program(fam, rng), octave=0))
        low = str(rng.choice(["bass", *[f for f in ("strings", "organ", "piano")
                                        if f in families]]))  # no new family hidden below
        tracks.append(dict(part=n_parts - 1, family=low, program=pick_program(low, rng),
                           octave=-1))
    return ensemble, tracks


def _beat_period(truth: dict) -> float:
    beats = np.asarray(truth["beats"], dtype=float)
    if len(beats) < 2:
        return 0.5
    return float(np.median(np.diff(beats)))


def design_clip(piece_id: str, rng, clip_seconds: float, ensemble=None, n_families=None,
                 tempo_class=None, tempo_jitter=None, families=None) -> dict:
    """Everything that decides one clip (JSON-ready); the tags follow from it."""
    truth = ground_truth(piece_id)
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


def clip_notes(meta: dict):
    """Per track: onset, offset, pitch, velocity of the notes inside the clip's window."""
    truth = ground_truth(meta["piece_id"])
    version = Version(tempo=meta["tempo_factor"], transpose=meta["transpose"])
    notes, _, _, _ = apply_version(truth, version)
    t0, t1 = meta["start"], meta["start"] + meta["clip_seconds"]
    out = []
    for tr in meta["tracks"]:
        sel = (notes.part == tr["part"]) & (notes.onset >= t0 - 1e-9) & (notes.onset < t1)
        pitch = np.clip(notes.pitch[sel] + 12 * tr["octave"], 0, 127)
        out.append((notes.onset[sel] - t0, np.minimum(notes.offset[sel], t1 + 0.5) - t0,
                    pitch, notes.velocity[sel]))
    return out


def clip_tags(meta: dict) -> list[str]:
    """The tags of a clip, from its design and the notes inside its window."""
    sounding: dict[str, float] = {}
    for tr, (on, off, _, _) in zip(meta["tracks"], clip_notes(meta), strict=True):
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


def render_clip(meta: dict, sr: int, renderer: str, path) -> np.ndarray:
    """Render one designed clip to 16-bit integers: its tracks with
    :func:`mirlab.datasets.synth.render_tracks`, then :func:`apply_effects` with the clip's
    ``rng_state`` (a pure function of the design)."""
    n_samples = int(round(meta["clip_seconds"] * sr))
    tracks = [Track(onset=on, offset=off, pitch=pitch, velocity=vel,
                    program=int(tr["program"]), gain_db=float(tr["gain_db"]))
              for tr, (on, off, pitch, vel) in zip(meta["tracks"], clip_notes(meta),
                                                   strict=True)]
    x = render_tracks(tracks, n_samples, sr, renderer, path)
    x = apply_effects(x, sr, meta["effects"], np.random.default_rng(meta["rng_state"]))
    return np.clip(np.round(x * 32767.0), -32768, 32767).astype(np.int16)


def _render_block(metas, sr, renderer, path) -> np.ndarray:
    """A worker process's share of :func:`render_clips`."""
    return np.stack([render_clip(m, sr, renderer, path) for m in metas])


def render_clips(metas: list[dict], sr: int, soundfont="default", progress: bool = False,
                 desc: str = "rendering clips", workers: int | None = None) -> np.ndarray:
    """Render designed clips to 16-bit integers, shape ``(n_clips, n_samples)``.

    Each clip is rendered on its own (:func:`render_clip`), so the result does not depend on
    the order, the process or the number of processes that render them.

    Parameters
    ----------
    metas : list of dict
        Clip designs (:func:`design_clip`), all of the same ``clip_seconds``.
    sr : int
        Sample rate in Hz.
    soundfont : {"default", "musescore"} or path
        See :func:`soundfont_file`; the fallback synthesiser is used without FluidSynth.
    progress : bool
        Show a progress bar.
    desc : str
        Its label.
    workers : int or None
        Processes that render at once; None: one per CPU core (at most 4) for 200 clips or
        more, else 1 (starting a process costs about two seconds).
    """
    from tqdm.auto import tqdm

    n_samples = int(round(metas[0]["clip_seconds"] * sr)) if metas else 0
    if any(int(round(m["clip_seconds"] * sr)) != n_samples for m in metas):
        raise ValueError("metas must all have the same clip_seconds")
    renderer = "fluidsynth" if env.has_fluidsynth() else "fallback"
    path = soundfont_file(soundfont) if renderer == "fluidsynth" else None
    if workers is None:
        workers = min(4, os.cpu_count() or 1) if len(metas) >= 200 else 1
    out = np.zeros((len(metas), n_samples), dtype=np.int16)
    bar = tqdm(total=len(metas), desc=desc, disable=env.progress_disabled(progress))
    if workers <= 1:
        for i, meta in enumerate(metas):
            out[i] = render_clip(meta, sr, renderer, path)
            bar.update()
    else:
        blocks = [range(i, min(i + 25, len(metas))) for i in range(0, len(metas), 25)]
        context = multiprocessing.get_context("spawn")
        with concurrent.futures.ProcessPoolExecutor(workers, mp_context=context) as pool:
            futures = {pool.submit(_render_block, [metas[i] for i in block], sr, renderer,
                                   path): block for block in blocks}
            for future in concurrent.futures.as_completed(futures):
                block = futures[future]
                out[block.start:block.stop] = future.result()
                bar.update(len(block))
    bar.close()
    return out


# --- design key and cache ------------------------------------------------------------------------

def design_code_sha256() -> str:
    """sha256 of the code and constants that decide the clips' designs and tags.

    The synthesiser is not part of it (see :func:`mirlab.datasets.synth.renderer_fingerprint`).
    """
    return code_sha256(piece_unit, piece_split, pick_program, _orchestrate, _beat_period,
                       design_clip, clip_notes, clip_tags, _pink, apply_effects,
                       [FAMILIES, TAGS, TEMPO_RANGES, POLYPHONIC, MIN_SOUNDING, PIECE_SHARES])


def clip_renderer(soundfont="default") -> dict:
    """The fingerprint of the clips' renderer (:func:`mirlab.datasets.synth.renderer_fingerprint`).

    Without FluidSynth the fallback synthesiser renders them (a warning says so), which only
    the default soundfont allows.
    """
    if not env.has_fluidsynth():
        if soundfont != "default":
            raise ValueError(f"soundfont={soundfont!r} needs FluidSynth, which is not available "
                             "(install libfluidsynth3 and pyfluidsynth)")
        warnings.warn("FluidSynth is not available: the tagging clips are rendered with "
                      "mirlab's fallback synthesiser, whose instruments sound alike",
                      UserWarning, stacklevel=4)
        return renderer_fingerprint("fallback")
    return renderer_fingerprint("fluidsynth", soundfont_file(soundfont))


def load_or_render(kind: str, params: dict, build) -> tuple[np.ndarray, list[dict]]:
    """16-bit clips and their designs from the cache; ``build()`` makes them when needed.

    Parameters
    ----------
    kind : str
        A name for the entry (``"corpus"``, ``"transfer-ensemble"``, ...).
    params : dict
        Everything that decides the clips (the cache key).
    build : callable
        Returns ``(q, metas)``: int16 clips ``(n_clips, n_samples)`` and their designs.

    Returns
    -------
    q : np.ndarray
        int16, a read-only memory map when loaded from the cache.
    metas : list of dict
    """
    def entry():
        q, metas = build()
        return Entry(data=metas, arrays={"audio": q})

    found = CLIPS.get_or_build(kind, params, entry)
    return found.arrays["audio"], found.data


def to_float(q) -> np.ndarray:
    """16-bit samples (an array or a memory map) as float32 in [-1, 1), row block by block."""
    out = np.empty(q.shape, dtype=np.float32)
    for i in range(0, len(q), 256):
        np.multiply(q[i: i + 256], np.float32(1 / 32768), out=out[i: i + 256],
                    dtype=np.float32)
    return out
