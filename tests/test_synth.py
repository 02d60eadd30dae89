"""The one synthesiser (mirlab.datasets.synth): renders are pure functions of their inputs.

The cross-process tests reproduce the situation of issue 9: a clip rendered in a process where
other clips were rendered first (and where the C library's ``rand()`` was called before
FluidSynth started) must equal, bit for bit, the clip rendered alone in a fresh process.
"""

import json
import subprocess
import sys

import numpy as np
import pytest

from mirlab.core.env import has_fluidsynth
from mirlab.datasets import synth

needs_fluidsynth = pytest.mark.skipif(not has_fluidsynth(), reason="FluidSynth is not installed")

_RENDER = """
import ctypes, ctypes.util, hashlib, json, sys
import numpy as np
first, target, n_clips, seconds, calls_to_rand = (int(sys.argv[1]), int(sys.argv[2]),
                                                  int(sys.argv[3]), float(sys.argv[4]),
                                                  int(sys.argv[5]))
libc = ctypes.CDLL(ctypes.util.find_library("c"))
for _ in range(calls_to_rand):  # other libraries may call rand() before FluidSynth starts
    libc.rand()
from mirlab.datasets import clips, tagging
metas = tagging.design_clips(n_clips, seconds, random_state=0)
history = [m for k, m in enumerate(metas[first:]) if k + first != target][:8]
if history:  # other clips first: in one call (as a dataset renders) and in another call
    clips.render_clips(history[:4], 16000, "default")
    q = clips.render_clips(history[4:] + [metas[target]], 16000, "default")[-1]
else:
    q = clips.render_clips([metas[target]], 16000, "default")[0]
print(json.dumps([hashlib.sha256(q.tobytes()).hexdigest(), int(np.abs(q).max())]))
"""


def _render_in_subprocess(first: int, target: int, calls_to_rand: int):
    out = subprocess.run([sys.executable, "-c", _RENDER, str(first), str(target), "30", "3.0",
                          str(calls_to_rand)], capture_output=True, text=True, check=True,
                         env={**__import__("os").environ, "CI": "true"})
    return json.loads(out.stdout.strip().splitlines()[-1])


@needs_fluidsynth
def test_a_clip_is_the_same_whatever_the_process_rendered_before():
    """Fresh process, clip alone vs. another process with rand() called and 8 clips first."""
    alone = _render_in_subprocess(first=5, target=5, calls_to_rand=0)
    after_others = _render_in_subprocess(first=10, target=5, calls_to_rand=1000)
    assert alone[1] > 1000  # a real clip, not silence
    assert alone == after_others


@needs_fluidsynth
def test_fluidsynth_render_is_the_same_in_one_process():
    rng = np.random.default_rng(0)
    tracks = [synth.Track(onset=np.sort(rng.uniform(0, 1.5, 6)), offset=np.full(6, 1.8),
                          pitch=rng.integers(48, 72, 6), velocity=np.full(6, 90), program=p,
                          gain_db=g) for p, g in ((0, 0.0), (40, -3.0), (73, None))]
    first = synth.render_fluidsynth(tracks, 16000 * 2, 16000)
    other = [synth.Track(onset=np.array([0.0]), offset=np.array([1.9]), pitch=np.array([30]),
                         velocity=np.array([127]), program=33)]
    synth.render_fluidsynth(other, 16000 * 2, 16000)  # leaves nothing behind
    again = synth.render_fluidsynth(tracks, 16000 * 2, 16000)
    np.testing.assert_array_equal(first, again)
    assert first.dtype == np.float64 and first.shape == (32000,) and np.abs(first).max() > 0.01


@needs_fluidsynth
def test_shared_soundfont_renders_like_a_freshly_loaded_one():
    """The soundfont loaded once and lent to every synthesiser gives the samples of a
    synthesiser that loads the file itself (pyfluidsynth, float output)."""
    import ctypes

    fluidsynth = pytest.importorskip("fluidsynth")
    track = synth.Track(onset=np.array([0.0, 0.25]), offset=np.array([0.5, 0.75]),
                        pitch=np.array([60, 67]), velocity=np.array([90, 90]), program=0)
    ours = synth.render_fluidsynth([track], 16000, 16000)
    s = fluidsynth.Synth(gain=synth.GAIN, samplerate=16000.0,
                         **{"synth.reverb.active": 0, "synth.chorus.active": 0})
    sfid = s.sfload(str(synth.soundfont_path()))
    s.program_select(0, sfid, 0, 0)
    write = fluidsynth._fl.fluid_synth_write_float
    buf = np.zeros(2 * 16000, np.float32)

    def advance(a, b):
        part = buf[2 * a:]
        write(s.synth, b - a, part.ctypes.data, 0, 2, part.ctypes.data, 1, 2)

    write.argtypes = [ctypes.c_void_p, ctypes.c_int] + [ctypes.c_void_p, ctypes.c_int,
                                                        ctypes.c_int] * 2
    s.noteon(0, 60, 90)
    advance(0, 4000)
    s.noteon(0, 67, 90)
    advance(4000, 8000)
    s.noteoff(0, 60)
    advance(8000, 12000)
    s.noteoff(0, 67)
    advance(12000, 16000)
    s.delete()
    theirs = buf.astype(np.float64).reshape(-1, 2).mean(axis=1) * synth.S16_SCALE
    np.testing.assert_array_equal(ours, theirs)


def test_fallback_tracks_are_normalised_and_set_to_their_gain():
    one = synth.Track(onset=np.array([0.0]), offset=np.array([0.5]), pitch=np.array([60]),
                      velocity=np.array([90]), program=0, gain_db=-6.0)
    y = synth.render_fallback([one], 8000, 8000)
    assert np.max(np.abs(y)) == pytest.approx(0.9 * 10 ** (-6 / 20), rel=1e-6)
    np.testing.assert_array_equal(y, synth.render_tracks([one], 8000, 8000, "fallback"))
    with pytest.raises(ValueError, match="renderer"):
        synth.render_tracks([one], 8000, 8000, "timidity")


def test_renderer_fingerprint_names_what_decides_the_sound(monkeypatch):
    fallback = synth.renderer_fingerprint("fallback")
    monkeypatch.setitem(synth.FAMILY_SOUND, 9, (0.04, None, 0.08, 1.0))
    assert synth.renderer_fingerprint("fallback")["code"] != fallback["code"]
    if has_fluidsynth():
        fs = synth.renderer_fingerprint("fluidsynth")
        assert fs["soundfont"] == "TimGM6mb.sf2" and int(fs["fluidsynth"].split(".")[0]) >= 2
    with pytest.raises(ValueError, match="renderer"):
        synth.renderer_fingerprint("timidity")


def test_synthesize_notes_puts_energy_at_the_pitch():
    sr = 22050
    y = synth.synthesize_notes([0.1], [0.9], [69], program=[40], sr=sr)
    spec = np.abs(np.fft.rfft(y))
    freqs = np.fft.rfftfreq(len(y), 1 / sr)
    assert abs(freqs[np.argmax(spec)] - 440) < 3
    onset = np.argmax(np.abs(y) > 0.01) / sr
    assert 0.1 <= onset < 0.13
    assert np.max(np.abs(y)) == pytest.approx(0.9, abs=1e-6)


def test_synthesize_families_differ():
    piano = synth.synthesize_notes([0], [1.0], [60], program=[0])
    organ = synth.synthesize_notes([0], [1.0], [60], program=[16])
    late = slice(int(0.8 * 22050), int(0.9 * 22050))
    # the piano decays, the organ sustains
    assert np.abs(piano[late]).max() < 0.5 * np.abs(organ[late]).max()


def test_synthesize_rejects_bad_notes():
    with pytest.raises(ValueError, match=r"offset must have one entry per note \(2\)"):
        synth.synthesize_notes([0, 1], [1], [60])
    with pytest.raises(ValueError, match="offset must not precede onset"):
        synth.synthesize_notes([1.0], [0.5], [60])
    with pytest.raises(ValueError, match="onset must be >= 0"):
        synth.synthesize_notes([-0.5], [0.5], [60])
    with pytest.raises(ValueError, match="pitch must be finite"):
        synth.synthesize_notes([0.0], [0.5], [np.nan])
    with pytest.raises(ValueError, match="program must hold General-MIDI"):
        synth.synthesize_notes([0.0], [0.5], [60], program=[128])
    with pytest.raises(ValueError, match="n_partials must be an integer >= 1"):
        synth.synthesize_notes([0.0], [0.5], [60], n_partials=0)
    with pytest.raises(ValueError, match="duration must be a finite number"):
        synth.synthesize_notes([0.0], [0.5], [60], duration=-1)


def test_synthesize_skips_notes_above_nyquist():
    """A note whose fundamental is above the Nyquist frequency is silent, not NaN."""
    y = synth.synthesize_notes([0, 0], [1, 1], [60, 127], sr=22050)
    assert np.all(np.isfinite(y)) and np.max(np.abs(y)) == pytest.approx(0.9, abs=1e-6)
    only_high = synth.synthesize_notes([0], [1], [127], sr=22050)
    assert np.all(only_high == 0)




def test_parallel_rendering_equals_serial_rendering():
    """Clips rendered by two worker processes, in blocks, equal the same clips rendered one
    after another in this process, bit for bit (renders are pure functions of the design)."""
    from mirlab.datasets import clips, tagging

    metas = tagging.design_clips(30, 1.0, random_state=3)[:6]
    serial = clips.render_clips(metas, 16000, workers=1)
    parallel = clips.render_clips(metas, 16000, workers=2)
    assert serial.shape == (6, 16000) and np.abs(serial).max() > 1000
    np.testing.assert_array_equal(parallel, serial)


def test_render_clips_rejects_clips_of_different_lengths():
    from mirlab.datasets import clips, tagging

    metas = tagging.design_clips(30, 1.0, random_state=3)[:1] + tagging.design_clips(
        30, 2.0, random_state=3)[:1]
    with pytest.raises(ValueError, match="clip_seconds"):
        clips.render_clips(metas, 16000, workers=1)
