"""mirlab.audio against soundfile/librosa/scipy, and its error messages."""

import numpy as np
import pytest
import soundfile as sf

from mirlab import audio


def test_load_matches_soundfile_and_librosa(tmp_path, rng):
    import librosa

    stereo = rng.uniform(-0.5, 0.5, size=(2, 16000)).astype(np.float32)
    path = tmp_path / "x.wav"
    sf.write(path, stereo.T, 16000, subtype="FLOAT")
    y, sr = audio.load(path, sr=None)
    assert sr == 16000 and y.shape == (16000,) and y.dtype == np.float32
    np.testing.assert_allclose(y, stereo.mean(axis=0), atol=1e-7)
    y2, _ = audio.load(path, sr=None, mono=False)
    np.testing.assert_allclose(y2, stereo, atol=1e-7)
    ref, _ = librosa.load(path, sr=None)
    np.testing.assert_allclose(y, ref, atol=1e-6)


def test_load_offset_duration(tmp_path):
    sig = np.arange(8000, dtype=np.float32) / 8000
    path = tmp_path / "ramp.flac"
    sf.write(path, sig, 8000, subtype="PCM_24")
    y, sr = audio.load(path, sr=None, offset=0.25, duration=0.5)
    assert sr == 8000 and len(y) == 4000
    np.testing.assert_allclose(y[0], sig[2000], atol=1e-5)


def test_load_resamples_like_librosa(tmp_path, chorale):
    path = tmp_path / "c.wav"
    sf.write(path, chorale.y[: chorale.sr * 3], chorale.sr)
    y, sr = audio.load(path, sr=16000)
    assert sr == 16000 and len(y) == 3 * 16000
    import librosa

    ref = librosa.resample(chorale.y[: chorale.sr * 3], orig_sr=chorale.sr, target_sr=16000,
                           res_type="polyphase")
    # both are polyphase low-pass resamplers: the same signal to within 1e-4 of full scale
    assert np.max(np.abs(y - ref)) < 1e-4


def test_resample_keeps_a_tone_and_removes_aliases():
    sr = 22050
    t = np.arange(sr) / sr
    low = np.sin(2 * np.pi * 440 * t)
    high = np.sin(2 * np.pi * 6000 * t)  # above the new Nyquist frequency (4000 Hz)
    y = audio.resample(low + high, sr, 8000)
    spec = np.abs(np.fft.rfft(y * np.hanning(len(y))))
    freqs = np.fft.rfftfreq(len(y), 1 / 8000)
    assert abs(freqs[np.argmax(spec)] - 440) < 2
    alias = spec[np.abs(freqs - 2000) < 20].max()  # 6000 Hz would fold to 2000 Hz
    assert alias < 1e-3 * spec.max()


def test_quantize_snr_grows_6db_per_bit(rng):
    y = rng.uniform(-1, 1, 50000)
    snr = []
    for bits in (4, 8, 12):
        err = audio.quantize(y, bits) - y
        snr.append(10 * np.log10(np.mean(y**2) / np.mean(err**2)))
    slope = np.diff(snr) / 4
    np.testing.assert_allclose(slope, 6.02, atol=0.2)


def test_to_mono_and_normalize_peak():
    y = np.array([[1.0, -1.0], [0.0, 0.0]])
    np.testing.assert_allclose(audio.to_mono(y), [0.5, -0.5])
    np.testing.assert_allclose(audio.normalize_peak(np.array([0.1, -0.2])), [0.5, -1.0])
    np.testing.assert_array_equal(audio.normalize_peak(np.zeros(3)), np.zeros(3))
    np.testing.assert_allclose(audio.normalize_peak(np.array([0.5, -0.25]), peak=0.9), [0.9, -0.45])
    assert not hasattr(audio, "normalize")  # one name, one meaning (features.normalize differs)


def test_player_returns_audio_widget():
    p = audio.player(np.zeros(100), 8000)
    assert "<audio" in p._repr_html_()


@pytest.mark.parametrize(
    ("y", "message"),
    [
        (np.array([]), "y must not be empty"),
        (np.array([0.0, np.nan]), "y must be finite"),
        (np.array([0.0, np.inf]), "y must be finite"),
        (np.array(["a", "b"]), "y must be a real-valued numeric array"),
        (np.zeros((2, 3, 4)), "y must have shape"),
    ],
)
def test_bad_signals_raise_clear_errors(y, message):
    with pytest.raises(ValueError, match=message):
        audio.to_mono(y)


@pytest.mark.parametrize("sr", [0, -1, 22050.5, "44100", None])
def test_bad_sample_rates(sr):
    with pytest.raises(ValueError, match="sr must be a positive integer sample rate"):
        audio.player(np.zeros(10), sr)


def test_load_errors(tmp_path):
    with pytest.raises(ValueError, match="not found"):
        audio.load(tmp_path / "missing.wav")
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"this is not audio")
    with pytest.raises(ValueError, match="could not be decoded as audio"):
        audio.load(bad)
    empty = tmp_path / "empty.wav"
    sf.write(empty, np.zeros(0, np.float32), 8000)
    with pytest.raises(ValueError, match="holds no samples"):
        audio.load(empty, sr=None)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"offset": -0.05}, "offset must be a finite number of seconds >= 0"),
     ({"offset": float("nan")}, "offset must be a finite number"),
     ({"duration": -1.0}, "duration must be a positive number"),
     ({"duration": 0}, "duration must be a positive number")],
)
def test_load_validates_offset_and_duration(tmp_path, kwargs, message):
    path = tmp_path / "x.wav"
    sf.write(path, np.zeros(800, np.float32), 8000)
    with pytest.raises(ValueError, match=message):
        audio.load(path, sr=None, **kwargs)


def test_load_falls_back_to_audioread(tmp_path, monkeypatch, rng):
    """Formats libsndfile cannot read are decoded by audioread (here: a WAV, forced)."""
    sig = (rng.uniform(-0.5, 0.5, size=(2, 4000)) * 32767).astype(np.int16)
    path = tmp_path / "x.wav"
    sf.write(path, sig.T, 8000, subtype="PCM_16")

    def refuse(*args, **kwargs):
        raise sf.LibsndfileError(0, "forced failure")

    monkeypatch.setattr(sf, "SoundFile", refuse)
    y, sr = audio.load(path, sr=None, mono=False, offset=0.1, duration=0.2)
    assert sr == 8000 and y.shape == (2, 1600)
    np.testing.assert_allclose(y, sig[:, 800:2400] / 32768, atol=1e-7)


def test_mix_sums_with_gains_and_checks_rates():
    y, sr = audio.mix((np.ones(4), 8000), (np.ones(2), 8000), gains_db=[0.0, -20.0])
    assert sr == 8000
    np.testing.assert_allclose(y, [1.1, 1.1, 1.0, 1.0], rtol=1e-6)
    with pytest.raises(ValueError, match="sample-rate mismatch: track 0=8000 Hz but track 1=16000"):
        audio.mix((np.ones(4), 8000), (np.ones(4), 16000))
    with pytest.raises(ValueError, match="gains_db must have one gain per track"):
        audio.mix((np.ones(4), 8000), gains_db=[0, 1])
    with pytest.raises(ValueError, match="y of track 1 must be finite"):
        audio.mix((np.ones(4), 8000), (np.array([np.nan]), 8000))
    with pytest.raises(ValueError, match="at least one"):
        audio.mix()


def test_resample_refuses_to_return_nothing():
    with pytest.raises(ValueError, match="too short to resample"):
        audio.resample(np.ones(1), 44100, 22050)


def test_quantize_bits_validated():
    with pytest.raises(ValueError, match="n_bits"):
        audio.quantize(np.zeros(4), 0)
