"""The one synthesiser: notes to audio with FluidSynth, or with a documented fallback.

Used by the corpus (:mod:`mirlab.datasets.corpus`) and the tagging clips
(:mod:`mirlab.datasets.clips`); taught in ``book/datasets.ipynb`` (the fallback also in
``notebooks/01_audio_representations.ipynb``).

A render is a pure function of its inputs
-----------------------------------------
:func:`render_tracks` gives the same samples for the same tracks whatever was rendered
before in the process. Two things made FluidSynth renders depend on history, both shown by
rendering one clip in a fresh process and in processes with another history:

1. FluidSynth's 16-bit output (``fluid_synth_write_s16``, pyfluidsynth's ``get_samples``)
   adds dither noise from a table that the library fills with the C library's ``rand()`` when
   the process creates its first synthesiser: a process in which anything had called
   ``rand()`` before got other dither, a difference of 1 to 4 16-bit steps on about half the
   samples. Here FluidSynth writes 32-bit floats (``fluid_synth_write_float``): no dither.
2. One synthesiser instance reused for many clips carried state from clip to clip (up to
   1,300 16-bit steps after a reset and a flush). Here every render uses a new synthesiser.
   The soundfont is loaded once per process and shared with every new synthesiser (the
   MuseScore soundfont takes 3 s to load); its samples are read-only.

``tests/test_synth.py`` holds both: a clip rendered in a subprocess after other clips and
after calls to ``rand()`` equals, bit for bit, the clip rendered alone.
"""

from __future__ import annotations

import ctypes
import functools
import importlib.util
import numbers
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mirlab.core import env
from mirlab.core.cache import code_sha256
from mirlab.core.checks import check_positive_int, check_sr
from mirlab.core.files import sha256_file
from mirlab.core.pitch import midi_to_hz

__all__ = ["SOUNDFONT_NAME", "FAMILY_SOUND", "Track", "soundfont_path", "fluidsynth_version",
           "soundfont_sha256", "renderer_fingerprint", "render_tracks", "render_fluidsynth",
           "render_fallback", "synthesize_notes"]

SOUNDFONT_NAME = "TimGM6mb.sf2"
GAIN = 0.2  # FluidSynth's master gain (synth.gain): a four-part chorale stays below full scale
S16_SCALE = 32766.0 / 32768.0  # FluidSynth's 16-bit writer scales floats by 32766


@dataclass(frozen=True)
class Track:
    """Notes played by one instrument: equal-length arrays (times in seconds).

    Parameters
    ----------
    onset, offset : np.ndarray
        Note start and end in seconds.
    pitch, velocity : np.ndarray
        MIDI pitch and velocity.
    program : int
        General-MIDI program (0..127).
    gain_db : float, optional
        Level of the track: FluidSynth's channel volume (controller 7, about
        ``40 log10(cc / 127)`` dB) and, in the fallback, a gain on the track normalised to
        0.9; None leaves FluidSynth's default volume (cc 100) and the fallback track at 0.9.
    """

    onset: np.ndarray
    offset: np.ndarray
    pitch: np.ndarray
    velocity: np.ndarray
    program: int
    gain_db: float | None = None


def soundfont_path() -> Path:
    """Path of the General-MIDI soundfont shipped with pretty_midi (``TimGM6mb.sf2``)."""
    spec = importlib.util.find_spec("pretty_midi")  # found without importing pretty_midi
    return Path(spec.origin).resolve().parent / SOUNDFONT_NAME


@functools.cache
def fluidsynth_version() -> str:
    """Version of the FluidSynth library that pyfluidsynth loaded, e.g. ``"2.3.1"``."""
    fluidsynth = env.import_fluidsynth()
    parts = [ctypes.c_int(), ctypes.c_int(), ctypes.c_int()]
    fluidsynth.fluid_version(*parts)
    return ".".join(str(p.value) for p in parts)


@functools.cache
def soundfont_sha256(path: str) -> str:
    """sha256 of a soundfont file (6 MB and more: hashed once per process)."""
    return sha256_file(path)


def renderer_fingerprint(renderer: str, soundfont=None) -> dict:
    """What decides the sound besides the notes: the synthesiser, its data and its code.

    Cache keys of rendered audio hold it, so that another FluidSynth, soundfont or code
    renders anew.

    Parameters
    ----------
    renderer : {"fluidsynth", "fallback"}
    soundfont : str or Path, optional
        The soundfont file for FluidSynth (default :func:`soundfont_path`).
    """
    from mirlab import __version__

    if renderer == "fluidsynth":
        path = Path(soundfont) if soundfont is not None else soundfont_path()
        return {"renderer": renderer, "fluidsynth": fluidsynth_version(), "soundfont": path.name,
                "soundfont_sha256": soundfont_sha256(str(path)),
                "code": code_sha256(render_fluidsynth, channel, GAIN, S16_SCALE)}
    if renderer == "fallback":
        return {"renderer": renderer, "mirlab": __version__,
                "code": code_sha256(render_fallback, synthesize_notes, _add_note,
                                    repr(sorted(FAMILY_SOUND.items())))}
    raise ValueError(f"renderer must be 'fluidsynth' or 'fallback'; got {renderer!r}")


def channel(track: int) -> int:
    """MIDI channel of a track (channel 9 is reserved for drums in General MIDI).

    >>> [channel(k) for k in (0, 8, 9, 10)]
    [0, 8, 10, 11]
    """
    return track if track < 9 else track + 1


@functools.cache
def _shared_soundfont(path: str):
    """``(owner synth, soundfont pointer)``: the soundfont loaded once per process.

    The owner synthesiser keeps the soundfont alive; render synthesisers borrow it with
    ``fluid_synth_add_sfont`` and give it back with ``fluid_synth_remove_sfont``.
    """
    fluidsynth = env.import_fluidsynth()
    owner = fluidsynth.Synth()
    sfid = owner.sfload(path)
    if sfid < 0:
        raise ValueError(f"soundfont: FluidSynth could not load {path}")
    get = fluidsynth._fl.fluid_synth_get_sfont_by_id
    get.argtypes, get.restype = [ctypes.c_void_p, ctypes.c_int], ctypes.c_void_p
    return owner, get(owner.synth, sfid)


def _fl_function(name: str, restype, *argtypes):
    func = getattr(env.import_fluidsynth()._fl, name)
    func.argtypes, func.restype = list(argtypes), restype
    return func


def render_fluidsynth(tracks, n_samples: int, sr: int, soundfont=None) -> np.ndarray:
    """Render tracks with FluidSynth: one MIDI channel per track, reverb and chorus off.

    Events are applied at the exact sample of their time (note-offs before note-ons at equal
    times); FluidSynth renders in blocks of 64 samples, so a sound may start up to 64 samples
    after its note's onset. A new synthesiser renders every call (see the module docstring).

    Parameters
    ----------
    tracks : sequence of Track
        At most 15 tracks (16 MIDI channels, one kept for drums).
    n_samples : int
        Length of the output.
    sr : int
        Sample rate in Hz.
    soundfont : str or Path, optional
        A .sf2/.sf3 file (default :func:`soundfont_path`).

    Returns
    -------
    np.ndarray, float64, shape (n_samples,)
        The mix (stereo averaged), on the scale of FluidSynth's 16-bit output / 32768.
    """
    fluidsynth = env.import_fluidsynth()
    path = str(soundfont if soundfont is not None else soundfont_path())
    _, sfont = _shared_soundfont(path)
    add = _fl_function("fluid_synth_add_sfont", ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p)
    remove = _fl_function("fluid_synth_remove_sfont", ctypes.c_int, ctypes.c_void_p,
                          ctypes.c_void_p)
    write = _fl_function("fluid_synth_write_float", ctypes.c_int, ctypes.c_void_p, ctypes.c_int,
                         ctypes.c_void_p, ctypes.c_int, ctypes.c_int, ctypes.c_void_p,
                         ctypes.c_int, ctypes.c_int)
    out = np.zeros(2 * n_samples, dtype=np.float32)  # interleaved stereo

    def advance(start, stop):
        if stop > start:
            buf = out[2 * start:]
            write(synth.synth, stop - start, buf.ctypes.data, 0, 2, buf.ctypes.data, 1, 2)

    synth = fluidsynth.Synth(gain=GAIN, samplerate=float(sr),
                             **{"synth.reverb.active": 0, "synth.chorus.active": 0})
    sfid = add(synth.synth, sfont)
    try:
        events = []
        for k, tr in enumerate(tracks):
            ch = channel(k)
            synth.program_select(ch, sfid, 0, int(tr.program))
            if tr.gain_db is not None:
                synth.cc(ch, 7, int(round(127 * 10 ** (tr.gain_db / 40.0))))
            events += [(int(round(t * sr)), 1, ch, int(p), int(v))
                       for t, p, v in zip(tr.onset, tr.pitch, tr.velocity, strict=True)]
            events += [(int(round(t * sr)), 0, ch, int(p), 0)
                       for t, p in zip(tr.offset, tr.pitch, strict=True)]
        now = 0
        for sample, is_on, ch, key, vel in sorted(events):  # note-offs first at equal times
            sample = min(max(sample, 0), n_samples)
            advance(now, sample)
            now = max(now, sample)
            if is_on:
                synth.noteon(ch, key, vel)
            else:
                synth.noteoff(ch, key)
        advance(now, n_samples)
    finally:
        _give_back(synth.synth, sfont, remove)
        synth.delete()
    return out.astype(np.float64).reshape(-1, 2).mean(axis=1) * S16_SCALE


def _give_back(synth, sfont, remove) -> None:
    """Remove the shared soundfont from a synthesiser without deleting it.

    FluidSynth then resets every channel's program and warns, once per channel, that no
    preset is left; those warnings (FluidSynth's level FLUID_WARN = 2) are silenced meanwhile.
    """
    set_log = _fl_function("fluid_set_log_function", ctypes.c_void_p, ctypes.c_int,
                           ctypes.c_void_p, ctypes.c_void_p)
    previous = set_log(2, None, None)
    try:
        remove(synth, sfont)  # the soundfont stays loaded for the next render
    finally:
        set_log(2, previous, None)


def render_fallback(tracks, n_samples: int, sr: int) -> np.ndarray:
    """Render tracks with :func:`synthesize_notes`: each track normalised to 0.9, at its gain.

    Returns
    -------
    np.ndarray, float64, shape (n_samples,)
    """
    y = np.zeros(n_samples)
    for tr in tracks:
        if len(tr.onset):
            x = synthesize_notes(tr.onset, tr.offset, tr.pitch, tr.velocity,
                                 np.full(len(tr.onset), tr.program), sr=sr,
                                 duration=n_samples / sr)[:n_samples]
            gain = 1.0 if tr.gain_db is None else 10 ** (tr.gain_db / 20.0)
            y[: len(x)] += gain * x
    return y


def render_tracks(tracks, n_samples: int, sr: int, renderer: str = "fluidsynth",
                  soundfont=None) -> np.ndarray:
    """Render tracks with ``renderer`` (``"fluidsynth"`` or ``"fallback"``), float64 samples."""
    if renderer == "fluidsynth":
        return render_fluidsynth(tracks, n_samples, sr, soundfont)
    if renderer == "fallback":
        return render_fallback(tracks, n_samples, sr)
    raise ValueError(f"renderer must be 'fluidsynth' or 'fallback'; got {renderer!r}")


# --- fallback synthesiser -------------------------------------------------------------------
# Envelope (attack s, decay time constant s or None for sustain, release s) and the exponent of
# the partial amplitudes k**-rolloff per General-MIDI family (program // 8).
FAMILY_SOUND = {
    0: (0.005, 0.6, 0.08, 1.5),   # piano: percussive, decaying
    1: (0.002, 0.3, 0.05, 1.8),   # chromatic percussion
    2: (0.01, None, 0.05, 1.0),   # organ: sustained, bright
    3: (0.005, 0.8, 0.10, 1.6),   # guitar
    4: (0.02, 1.0, 0.10, 2.0),    # bass
    5: (0.08, None, 0.15, 1.2),   # strings: slow bow attack
    6: (0.10, None, 0.20, 1.4),   # ensemble / choir
    7: (0.04, None, 0.08, 0.9),   # brass
    8: (0.03, None, 0.08, 1.1),   # reed
    9: (0.04, None, 0.08, 2.5),   # pipe / flute: few partials
}


def synthesize_notes(onset, offset, pitch, velocity=None, program=None, sr: int = 22050,
                     n_partials: int = 12, duration: float | None = None) -> np.ndarray:
    """Render notes with harmonic partials and a per-instrument-family envelope.

    This is the documented fallback when FluidSynth is not installed: each note is a sum of
    ``n_partials`` harmonics with amplitudes ``k**-rolloff`` and an attack / decay / release
    envelope chosen by the General-MIDI family of its program (piano decays, strings swell,
    organ sustains; families without an entry sound like the piano), see
    :data:`FAMILY_SOUND`. It is far from a sampled instrument, but keeps onsets, pitches and
    chords exact, so every chapter still runs.

    Parameters
    ----------
    onset, offset : array_like, shape (n_notes,)
        Note start and end times in seconds (onset >= 0, offset >= onset), the fields of
        :class:`mirlab.core.music.Notes`.
    pitch : array_like, shape (n_notes,)
        MIDI pitch numbers.
    velocity : array_like, optional
        MIDI velocities 1..127 (default 90).
    program : array_like, optional
        General-MIDI program numbers 0..127 (default 0, piano).
    sr : int
        Sample rate in Hz.
    n_partials : int
        Number of harmonics per note (those at or above the Nyquist frequency are dropped; a
        note with none left is silent).
    duration : float, optional
        Length of the output in seconds (default: last offset plus 0.3 s for the release).

    Returns
    -------
    np.ndarray, float32, shape (n_samples,)
        The mix, peak-normalised to 0.9 (silence if no note is audible).

    Examples
    --------
    >>> y = synthesize_notes([0.0, 0.5], [0.5, 1.0], [60, 64], program=[0, 40], sr=8000)
    >>> y.shape, round(float(abs(y).max()), 6)
    ((10400,), 0.9)
    """
    sr = check_sr(sr)
    n_partials = check_positive_int(n_partials, "n_partials")
    notes = _check_notes(onset, offset, pitch, velocity, program)
    if duration is None:
        duration = notes[1].max() + 0.3 if len(notes[0]) else 0.0
    elif not (isinstance(duration, numbers.Real) and np.isfinite(duration) and duration >= 0):
        raise ValueError(f"duration must be a finite number of seconds >= 0; got {duration!r}")
    out = np.zeros(max(int(np.ceil(duration * sr)), 1))
    for note in zip(*notes, strict=True):
        _add_note(out, *note, sr=sr, n_partials=n_partials)
    peak = np.max(np.abs(out))
    return (out * (0.9 / peak) if peak > 0 else out).astype(np.float32)


def _check_notes(onset, offset, pitch, velocity, program):
    """Validate note arrays; return them as five equal-length float/int arrays."""
    cols = {"onset": onset, "offset": offset, "pitch": pitch}
    cols = {k: np.atleast_1d(np.asarray(v, dtype=float)) for k, v in cols.items()}
    n = len(cols["onset"])
    cols["velocity"] = np.full(n, 90.0) if velocity is None else velocity
    cols["program"] = np.zeros(n) if program is None else program
    for name, values in cols.items():
        values = np.atleast_1d(np.asarray(values, dtype=float))
        if values.ndim != 1 or len(values) != n:
            raise ValueError(f"{name} must have one entry per note ({n}); got shape {values.shape}")
        if not np.all(np.isfinite(values)):
            raise ValueError(f"{name} must be finite; got NaN or infinite values")
        cols[name] = values
    if np.any(cols["onset"] < 0):
        raise ValueError(f"onset must be >= 0 s; got minimum {cols['onset'].min():.3g}")
    if np.any(cols["offset"] < cols["onset"]):
        raise ValueError("offset must not precede onset; got a note with offset < onset")
    if np.any((cols["program"] < 0) | (cols["program"] > 127)):
        raise ValueError("program must hold General-MIDI program numbers in 0..127")
    cols["program"] = cols["program"].astype(int)
    return tuple(cols.values())


def _add_note(out, onset, offset, pitch, velocity, program, sr, n_partials):
    """Add one synthesised note to ``out`` in place."""
    attack, decay, release, rolloff = FAMILY_SOUND.get(program // 8, FAMILY_SOUND[0])
    f0 = midi_to_hz(pitch)
    k = np.arange(1, n_partials + 1)
    k = k[k * f0 < sr / 2]
    start = int(round(onset * sr))
    if len(k) == 0 or start >= len(out):
        return  # inaudible at this sample rate, or after the end
    length = offset - onset
    n = min(int(round((length + release) * sr)), len(out) - start)
    t = np.arange(n) / sr
    envelope = np.minimum(t / attack, 1.0)
    if decay is not None:
        envelope *= np.exp(-np.maximum(t - attack, 0) / decay)
    tail = t > length
    envelope[tail] *= np.exp(-(t[tail] - length) / (release / 4))
    amps = k ** -rolloff
    partials = amps @ np.sin(2 * np.pi * f0 * np.outer(k, t)) / amps.sum()
    out[start:start + n] += (velocity / 127.0) * envelope * partials
