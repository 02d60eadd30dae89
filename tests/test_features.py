"""mirlab.features against librosa and libfmp, on seeded random signals and a rendered chorale.

Tolerances (stated once, used below):

- STFT, mel, MFCC, chroma, CQT against librosa: the same algorithm in float32, so the largest
  absolute difference must stay below ``1e-5`` of the largest reference magnitude (``F32``);
  measured about 2e-7 (float32 rounding). Float64 inputs: ``1e-10`` (``F64``).
- Filterbanks and scales (computed in float64 by both): ``1e-6`` relative (float32 output).
- Pitch pooling against libfmp: the same sums in float64, ``1e-10``.
- The direct (definition) CQT against the fast octave-wise CQT: the fast path keeps only the
  non-negative-frequency half of each kernel's spectrum and drops 1 % of its mass, so the two
  differ by about 2 % (relative Frobenius norm) on white noise; we require < 4 % and a
  magnitude correlation > 0.999.
"""

import libfmp.c3
import librosa
import numpy as np
import pytest
import scipy.signal

from mirlab import features as F

F32 = 1e-5
F64 = 1e-10
SR = 22050


def rel_err(ours, ref):
    """Largest absolute difference relative to the largest reference magnitude."""
    ours, ref = np.asarray(ours), np.asarray(ref)
    assert ours.shape == ref.shape, (ours.shape, ref.shape)
    return float(np.abs(ours - ref).max() / np.abs(ref).max())


@pytest.fixture(scope="module")
def noise():
    return np.random.default_rng(1).standard_normal(3 * SR).astype(np.float32)


@pytest.fixture(scope="module")
def music(chorale):
    """The first 8 s of a rendered Bach chorale (float32 at 22050 Hz)."""
    assert chorale.sr == SR
    return np.ascontiguousarray(chorale.y[: 8 * SR], dtype=np.float32)


# ---------------------------------------------------------------- windows, frames, STFT


@pytest.mark.parametrize("window", ["hann", "hamming", "blackman", "boxcar"])
@pytest.mark.parametrize("n", [1, 7, 512, 1001])
def test_get_window_equals_scipy_periodic(window, n):
    ref = scipy.signal.get_window(window, n, fftbins=True)
    np.testing.assert_allclose(F.get_window(window, n), ref, atol=1e-12)


def test_rectangular_is_boxcar():
    np.testing.assert_array_equal(F.get_window("rectangular", 9), np.ones(9))


def test_frame_holds_the_hopped_slices(rng):
    y = rng.standard_normal(1000)
    frames = F.frame(y, frame_length=128, hop_length=100)
    assert frames.shape == (128, 1 + (1000 - 128) // 100)
    for n in range(frames.shape[1]):
        np.testing.assert_array_equal(frames[:, n], y[n * 100 : n * 100 + 128])
    np.testing.assert_array_equal(frames, librosa.util.frame(y, frame_length=128, hop_length=100))


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"n_fft": 1024, "hop_length": 256},
        {"n_fft": 2048, "hop_length": 300, "win_length": 1000, "window": "hamming"},
        {"n_fft": 512, "hop_length": 128, "window": "blackman", "pad_mode": "reflect"},
        {"n_fft": 511, "hop_length": 100, "pad_mode": "edge"},
        {"n_fft": 2048, "hop_length": 512, "center": False},
        {"n_fft": 256, "hop_length": 256, "window": "boxcar", "center": False},
    ],
)
def test_stft_equals_librosa_on_noise(noise, kwargs):
    ours = F.stft(noise, **kwargs)
    ref = librosa.stft(noise, **kwargs)
    assert ours.dtype == ref.dtype == np.complex64
    assert rel_err(ours, ref) < F32


def test_stft_float64_equals_librosa(rng):
    y = rng.standard_normal(5000)
    ours, ref = F.stft(y, n_fft=1024, hop_length=200), librosa.stft(y, n_fft=1024, hop_length=200)
    assert ours.dtype == np.complex128
    assert rel_err(ours, ref) < F64


def test_stft_equals_librosa_on_music(music):
    ours, ref = F.stft(music), librosa.stft(music)
    assert ours.shape == (1025, 1 + len(music) // 512)
    assert rel_err(ours, ref) < F32


def test_stft_finds_a_sine():
    t = np.arange(SR) / SR
    X = F.stft(np.sin(2 * np.pi * 1000.0 * t), n_fft=2048)
    peak_hz = F.fft_frequencies(SR, 2048)[np.argmax(np.abs(X[:, 20]))]
    assert abs(peak_hz - 1000.0) <= SR / 2048 / 2


@pytest.mark.filterwarnings("ignore:n_fft=512 is too large:UserWarning")  # librosa's warning
def test_short_signal_with_centring_is_padded():
    X = F.stft(np.ones(100, dtype=np.float32), n_fft=512, hop_length=64)
    assert rel_err(X, librosa.stft(np.ones(100, dtype=np.float32), n_fft=512, hop_length=64)) < F32


# ---------------------------------------------------------------- time / frequency helpers


def test_fft_frequencies_equal_librosa():
    np.testing.assert_allclose(F.fft_frequencies(SR, 2048), librosa.fft_frequencies(sr=SR,
                                                                                    n_fft=2048))
    np.testing.assert_allclose(F.fft_frequencies(16000, 511), librosa.fft_frequencies(sr=16000,
                                                                                     n_fft=511))


def test_frames_to_time_equals_librosa():
    frames = np.arange(0, 5000, 7)
    for sr, hop in [(22050, 512), (44100, 441), (16000, 160)]:
        np.testing.assert_allclose(F.frames_to_time(frames, sr=sr, hop_length=hop),
                                   librosa.frames_to_time(frames, sr=sr, hop_length=hop))


def test_time_to_frames_is_the_nearest_centred_frame(rng):
    frames = np.arange(1000)
    np.testing.assert_array_equal(F.time_to_frames(F.frames_to_time(frames)), frames)
    times = rng.uniform(0, 60, size=1000)
    hop_s = 512 / SR
    # nearest centre = librosa's floor after shifting by half a hop
    ref = librosa.time_to_frames(times + hop_s / 2, sr=SR, hop_length=512)
    np.testing.assert_array_equal(F.time_to_frames(times, sr=SR, hop_length=512), ref)
    assert np.all(np.abs(times - F.frames_to_time(F.time_to_frames(times))) <= hop_s / 2 + 1e-12)


# ---------------------------------------------------------------- decibels, compression


def test_power_to_db_equals_librosa(rng):
    S = rng.random((50, 40)) ** 8
    for kwargs in [{}, {"ref": np.max}, {"top_db": None}, {"ref": 0.5, "amin": 1e-6,
                                                           "top_db": 40.0}]:
        np.testing.assert_allclose(F.power_to_db(S, **kwargs), librosa.power_to_db(S, **kwargs),
                                   atol=1e-9)


def test_amplitude_to_db_equals_librosa(noise):
    X = F.stft(noise)
    for kwargs in [{}, {"ref": np.max}, {"top_db": 60.0}]:
        ours = F.amplitude_to_db(X, **kwargs)
        ref = librosa.amplitude_to_db(np.abs(X), **kwargs)
        np.testing.assert_allclose(ours, ref, atol=1e-4)


def test_log_compress(rng):
    S = rng.random((10, 20))
    np.testing.assert_allclose(F.log_compress(S, gamma=100.0), np.log(1 + 100.0 * S))
    assert np.all(np.diff(F.log_compress(np.linspace(0, 1, 50)[:, None], 10.0), axis=0) > 0)


# ---------------------------------------------------------------- mel and MFCC


@pytest.mark.parametrize("htk", [False, True])
def test_mel_scale_equals_librosa(htk):
    f = np.linspace(0, 11025, 500)
    np.testing.assert_allclose(F.hz_to_mel(f, htk=htk), librosa.hz_to_mel(f, htk=htk), rtol=1e-12)
    m = F.hz_to_mel(f, htk=htk)
    np.testing.assert_allclose(F.mel_to_hz(m, htk=htk), f, atol=1e-8)
    np.testing.assert_allclose(F.mel_frequencies(40, 20.0, 8000.0, htk=htk),
                               librosa.mel_frequencies(40, fmin=20.0, fmax=8000.0, htk=htk))


@pytest.mark.parametrize(
    "kwargs",
    [
        {"sr": 22050, "n_fft": 2048},
        {"sr": 16000, "n_fft": 512, "n_mels": 40, "fmin": 100.0, "fmax": 7000.0},
        {"sr": 44100, "n_fft": 4096, "n_mels": 64, "htk": True, "norm": None},
    ],
)
def test_mel_filterbank_equals_librosa(kwargs):
    ours = F.mel_filterbank(**kwargs)
    ref = librosa.filters.mel(**kwargs)
    assert ours.shape == ref.shape and ours.dtype == ref.dtype
    assert rel_err(ours, ref) < 1e-6


def test_mel_filterbank_is_not_shared_state():
    a = F.mel_filterbank(SR, 1024)
    a[:] = 0
    assert F.mel_filterbank(SR, 1024).max() > 0


def test_melspectrogram_equals_librosa(noise, music):
    for y in (noise, music):
        ours = F.melspectrogram(y=y, sr=SR)
        assert rel_err(ours, librosa.feature.melspectrogram(y=y, sr=SR)) < F32
    S = np.abs(F.stft(music, n_fft=1024, hop_length=256))  # magnitude (power=1) input
    ours = F.melspectrogram(S=S, sr=SR, n_mels=64, fmin=50.0, fmax=8000.0)
    ref = librosa.feature.melspectrogram(S=S, sr=SR, n_mels=64, fmin=50.0, fmax=8000.0)
    assert rel_err(ours, ref) < F32
    ours = F.melspectrogram(y=music, sr=SR, power=1.0, n_mels=40)
    assert rel_err(ours, librosa.feature.melspectrogram(y=music, sr=SR, power=1.0,
                                                        n_mels=40)) < F32


def test_mfcc_equals_librosa(noise, music):
    for y in (noise, music):
        ours, ref = F.mfcc(y=y, sr=SR), librosa.feature.mfcc(y=y, sr=SR)
        assert ours.shape == ref.shape == (20, 1 + len(y) // 512)
        assert rel_err(ours, ref) < F32
    S = librosa.power_to_db(librosa.feature.melspectrogram(y=music, sr=SR, n_mels=40))
    assert rel_err(F.mfcc(S=S, n_mfcc=13), librosa.feature.mfcc(S=S, n_mfcc=13)) < F32


# ---------------------------------------------------------------- pitch pooling (libfmp)


def test_pitch_pooling_matrix_equals_libfmp():
    P = F.pitch_pooling_matrix(SR, 4096)
    for p in (0, 30, 45, 60, 69, 100, 127):
        np.testing.assert_array_equal(np.flatnonzero(P[p]), libfmp.c3.pool_pitch(p, SR, 4096))
    assert np.all(P.sum(axis=0) <= 1)  # every bin belongs to at most one pitch


@pytest.mark.parametrize(("pitch_ref", "freq_ref"), [(69, 442.0), (57, 220.0), (60, 256.0)])
def test_pitch_pooling_matrix_with_other_tunings_equals_libfmp(pitch_ref, freq_ref):
    P = F.pitch_pooling_matrix(SR, 4096, pitch_ref=pitch_ref, freq_ref=freq_ref)
    for p in (30, 45, 60, 69, 100, 127):
        ref = libfmp.c3.pool_pitch(p, SR, 4096, pitch_ref=pitch_ref, freq_ref=freq_ref)
        np.testing.assert_array_equal(np.flatnonzero(P[p]), ref)


def test_log_frequency_spectrogram_equals_libfmp(music):
    y = music.astype(np.float64)
    Y = np.abs(F.stft(y, n_fft=4096, hop_length=512)) ** 2
    ref, pitches = libfmp.c3.compute_spec_log_freq(Y, SR, 4096)
    assert rel_err(F.log_frequency_spectrogram(S=Y, sr=SR), ref) < F64
    ours = F.log_frequency_spectrogram(y=y, sr=SR)  # from the signal: same STFT inside
    assert ours.shape == (128, Y.shape[1])
    assert rel_err(ours, ref) < F64


def test_chroma_from_pitch_equals_libfmp(rng):
    S = rng.random((128, 30))
    ref = libfmp.c3.compute_chromagram(S)
    np.testing.assert_allclose(F.chroma_from_pitch(S), ref, rtol=1e-12)


# ---------------------------------------------------------------- CQT


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"hop_length": 256, "n_bins": 48, "bins_per_octave": 24, "fmin": 55.0},
        {"hop_length": 512, "n_bins": 252, "bins_per_octave": 36},
        {"hop_length": 384, "n_bins": 60, "fmin": 65.4},
        {"hop_length": 441, "n_bins": 24, "fmin": 110.0},  # odd hop: no octave downsampling
    ],
)
def test_cqt_equals_librosa_on_noise(noise, kwargs):
    ours = F.cqt(noise, sr=SR, **kwargs)
    ref = librosa.cqt(noise, sr=SR, tuning=0.0, **kwargs)
    assert ours.shape == ref.shape and ours.dtype == ref.dtype
    assert rel_err(ours, ref) < F32


def test_cqt_with_early_downsampling_equals_librosa(rng):
    y = rng.standard_normal(2 * 44100).astype(np.float32)  # top octave far below Nyquist
    kwargs = {"sr": 44100, "hop_length": 1024, "n_bins": 48, "fmin": 32.7}
    assert rel_err(F.cqt(y, **kwargs), librosa.cqt(y, tuning=0.0, **kwargs)) < F32


def test_cqt_equals_librosa_on_music(music):
    ours, ref = F.cqt(music, sr=SR), librosa.cqt(music, sr=SR, tuning=0.0)
    assert rel_err(ours, ref) < F32


def test_cqt_direct_matches_fast_cqt(rng, music):
    for y in (rng.standard_normal(SR), music[3 * SR : 4 * SR].astype(np.float64)):
        direct, fast = F.cqt_direct(y, sr=SR), F.cqt(y, sr=SR)
        assert direct.shape == fast.shape
        assert np.linalg.norm(direct - fast) / np.linalg.norm(fast) < 0.04
        assert np.corrcoef(np.abs(direct).ravel(), np.abs(fast).ravel())[0, 1] > 0.999


def test_cqt_peak_is_at_the_note():
    t = np.arange(SR) / SR
    C = np.abs(F.cqt(np.sin(2 * np.pi * 440.0 * t), sr=SR))
    assert int(np.argmax(C[:, 20])) == 45  # A4 is 45 semitones above C1


# ---------------------------------------------------------------- chroma, CENS, normalize


@pytest.mark.parametrize("norm", [np.inf, 1, 2, 3.0, None])
def test_normalize_equals_librosa(rng, norm):
    X = rng.random((12, 20))
    X[:, 3] = 0.0  # a silent column stays silent
    np.testing.assert_allclose(F.normalize(X, norm=norm), librosa.util.normalize(X, norm=norm),
                               rtol=1e-12)
    np.testing.assert_allclose(F.normalize(X, norm=norm, axis=1),
                               librosa.util.normalize(X, norm=norm, axis=1), rtol=1e-12)


@pytest.mark.parametrize("kwargs", [{"n_fft": 2048}, {"n_fft": 4096, "tuning": 0.2},
                                    {"n_fft": 1000, "tuning": -0.3}])
def test_chroma_filterbank_equals_librosa(kwargs):
    ours = F.chroma_filterbank(SR, **kwargs)
    assert rel_err(ours, librosa.filters.chroma(sr=SR, **kwargs)) < 1e-6


def test_chroma_stft_equals_librosa(noise, music):
    for y in (noise, music):
        ours = F.chroma_stft(y=y, sr=SR)
        assert rel_err(ours, librosa.feature.chroma_stft(y=y, sr=SR, tuning=0.0)) < F32
    S = np.abs(F.stft(music, n_fft=4096)) ** 2
    ours = F.chroma_stft(S=S, sr=SR, tuning=0.1, norm=2)
    ref = librosa.feature.chroma_stft(S=S, sr=SR, tuning=0.1, norm=2)
    assert rel_err(ours, ref) < F32


@pytest.mark.parametrize("kwargs", [{"n_input": 84}, {"n_input": 252, "bins_per_octave": 36},
                                    {"n_input": 50, "bins_per_octave": 24, "fmin": 100.0}])
def test_cq_to_chroma_equals_librosa(kwargs):
    np.testing.assert_array_equal(F.cq_to_chroma(**kwargs), librosa.filters.cq_to_chroma(**kwargs))


def test_chroma_cqt_equals_librosa(noise, music):
    for y in (noise, music):
        ours = F.chroma_cqt(y=y, sr=SR)
        assert rel_err(ours, librosa.feature.chroma_cqt(y=y, sr=SR, tuning=0.0)) < F32
    C = np.abs(librosa.cqt(music, sr=SR, n_bins=72, bins_per_octave=24, tuning=0.0))
    ours = F.chroma_cqt(C=C, bins_per_octave=24, norm=1)
    ref = librosa.feature.chroma_cqt(C=C, bins_per_octave=24, norm=1)
    assert rel_err(ours, ref) < F32


def test_chroma_cens_equals_librosa(noise, music):
    for y in (noise, music):
        ours = F.chroma_cens(y=y, sr=SR)
        assert rel_err(ours, librosa.feature.chroma_cens(y=y, sr=SR, tuning=0.0)) < F32
    C = np.abs(F.cqt(music, sr=SR, n_bins=252, bins_per_octave=36))
    ours = F.chroma_cens(C=C, win_len_smooth=20)
    ref = librosa.feature.chroma_cens(C=C, win_len_smooth=20)
    assert rel_err(ours, ref) < F32


def test_chroma_cens_downsampling_keeps_every_dth_frame(music):
    C = np.abs(F.cqt(music, sr=SR, n_bins=252, bins_per_octave=36))
    full = F.chroma_cens(C=C)
    for d in (2, 10):
        np.testing.assert_allclose(F.chroma_cens(C=C, downsample=d), full[:, ::d], rtol=1e-6)


def test_chroma_of_a_c_major_triad():
    t = np.arange(SR) / SR
    y = sum(np.sin(2 * np.pi * librosa.midi_to_hz(p) * t) for p in (60, 64, 67))
    for chroma in (F.chroma_stft(y=y, sr=SR), F.chroma_cqt(y=y, sr=SR)):
        top3 = np.sort(np.argsort(chroma[:, 20])[-3:])
        np.testing.assert_array_equal(top3, [0, 4, 7])  # C, E, G


# ---------------------------------------------------------------- MIDI pitch <-> Hz


def test_midi_to_hz_and_hz_to_midi_equal_librosa(rng):
    pitches = np.concatenate([np.arange(0, 128), rng.uniform(0, 127, 50)])
    np.testing.assert_allclose(F.midi_to_hz(pitches), librosa.midi_to_hz(pitches), rtol=1e-12)
    freqs = rng.uniform(8.0, 12000.0, 200)
    np.testing.assert_allclose(F.hz_to_midi(freqs), librosa.hz_to_midi(freqs), rtol=1e-12)
    np.testing.assert_allclose(F.hz_to_midi(F.midi_to_hz(pitches)), pitches, atol=1e-9)
    assert F.midi_to_hz(69) == 440.0 and F.hz_to_midi(261.6255653005986) == pytest.approx(60)
    assert F.pitch.C1_HZ == pytest.approx(librosa.note_to_hz("C1"), rel=1e-12)


# ---------------------------------------------------------------- other rates and input types


@pytest.mark.parametrize("sr", [16000, 44100])
def test_features_from_y_at_other_sample_rates_equal_librosa(sr):
    y = np.random.default_rng(sr).standard_normal(2 * sr).astype(np.float32)
    assert rel_err(F.melspectrogram(y=y, sr=sr), librosa.feature.melspectrogram(y=y, sr=sr)) < F32
    assert rel_err(F.mfcc(y=y, sr=sr, n_mels=64),
                   librosa.feature.mfcc(y=y, sr=sr, n_mels=64)) < F32
    assert rel_err(F.chroma_stft(y=y, sr=sr),
                   librosa.feature.chroma_stft(y=y, sr=sr, tuning=0.0)) < F32
    ours = F.melspectrogram(y=y, sr=sr, n_fft=1024, hop_length=256, fmax=sr / 2)
    ref = librosa.feature.melspectrogram(y=y, sr=sr, n_fft=1024, hop_length=256, fmax=sr / 2)
    assert rel_err(ours, ref) < F32


def test_int16_and_non_contiguous_signals_give_the_float_results(rng):
    y16 = (rng.standard_normal(SR) * 3000).astype(np.int16)
    y32 = y16.astype(np.float32)
    for fn in (F.stft, lambda y: F.melspectrogram(y=y), lambda y: F.mfcc(y=y),
               lambda y: F.chroma_stft(y=y), lambda y: F.log_frequency_spectrogram(y=y)):
        np.testing.assert_array_equal(fn(y16), fn(y32))
    wide = rng.standard_normal(4 * SR).astype(np.float32)
    strided = wide[::2]  # a non-contiguous view
    assert not strided.flags.c_contiguous
    contiguous = np.ascontiguousarray(strided)
    np.testing.assert_array_equal(F.stft(strided), F.stft(contiguous))
    assert rel_err(F.melspectrogram(y=strided), librosa.feature.melspectrogram(y=contiguous)) < F32
    assert rel_err(F.chroma_stft(y=strided),
                   librosa.feature.chroma_stft(y=contiguous, tuning=0.0)) < F32
    assert rel_err(F.mfcc(y=strided), librosa.feature.mfcc(y=contiguous)) < F32
    S = np.abs(F.stft(contiguous)) ** 2
    np.testing.assert_allclose(F.chroma_stft(S=np.asfortranarray(S)), F.chroma_stft(S=S))


# ---------------------------------------------------------------- n_fft and the height of S


def test_shared_input_helpers_against_librosa(noise):
    # the input step that mel, pitch and chroma share, held against librosa's spectrogram
    from mirlab.features.pitch import cqt_cutoff
    from mirlab.features.spectrogram import (
        check_y_or_S,
        power_spectrogram_frames,
        stft_frames_major,
    )

    X = stft_frames_major(noise, n_fft=1024, hop_length=256)
    assert X.shape == (1 + len(noise) // 256, 513) and X.flags.c_contiguous
    ref = np.abs(librosa.stft(noise, n_fft=1024, hop_length=256)) ** 2
    for power in (2.0, 1.0):
        P, n_fft = power_spectrogram_frames(y=noise, n_fft=1024, hop_length=256, power=power)
        assert n_fft == 1024 and rel_err(P.T, ref ** (power / 2)) < F32
    P, n_fft = power_spectrogram_frames(S=ref)  # a given spectrogram passes unchanged
    assert n_fft == 1024 and P.base is ref
    with pytest.raises(ValueError, match="got both"):
        check_y_or_S(noise, ref)
    with pytest.raises(ValueError, match=r"C \(a CQT\); got neither"):
        check_y_or_S(None, None, "C", "a CQT")
    # the upper band edge of the top CQT bin: above Nyquist it raises with the remedy given
    freqs = F.cqt_frequencies(84)
    assert freqs[-1] < cqt_cutoff(freqs, SR) < SR / 2
    with pytest.raises(ValueError, match="above the Nyquist frequency 4000.0 Hz of sr=8000; try"):
        cqt_cutoff(freqs, 8000, remedy="try")



def test_n_fft_is_inferred_from_s_or_must_match_it(music):
    S = np.abs(F.stft(music, n_fft=1024)) ** 2  # 513 rows
    inferred = F.chroma_stft(S=S, sr=SR)
    np.testing.assert_array_equal(F.chroma_stft(S=S, sr=SR, n_fft=1024), inferred)
    assert rel_err(inferred, librosa.feature.chroma_stft(S=S, sr=SR, tuning=0.0)) < F32
    with pytest.raises(ValueError, match=r"S must have 1 \+ n_fft // 2 = 1025 rows for n_fft=2048"):
        F.chroma_stft(S=S, sr=SR, n_fft=2048)
    with pytest.raises(ValueError, match="n_fft=4096"):
        F.melspectrogram(S=S, sr=SR, n_fft=4096)
    with pytest.raises(ValueError, match="n_fft=2048"):
        F.log_frequency_spectrogram(S=S, sr=SR, n_fft=2048)
    # an odd n_fft can only be given explicitly (the height of S gives 2 * (rows - 1), even)
    S_odd = np.abs(F.stft(music[:SR], n_fft=511)) ** 2  # 256 rows
    ours = F.melspectrogram(S=S_odd, sr=SR, n_fft=511, n_mels=40)
    np.testing.assert_allclose(ours, F.mel_filterbank(SR, 511, n_mels=40) @ S_odd, rtol=1e-5)


@pytest.mark.parametrize("fn", [F.melspectrogram, F.chroma_stft, F.log_frequency_spectrogram])
def test_spectrogram_with_one_row_names_s(fn):
    with pytest.raises(ValueError, match=r"S must have at least 2 rows.*shape \(1, 10\)"):
        fn(S=np.ones((1, 10)))


def test_complex_spectrograms_are_rejected_where_a_real_one_is_expected(rng):
    X = F.stft(rng.standard_normal(4096))
    for call in (lambda: F.mfcc(S=X[:40]), lambda: F.melspectrogram(S=X),
                 lambda: F.chroma_stft(S=X), lambda: F.log_frequency_spectrogram(S=X)):
        with pytest.raises(ValueError, match="S must be real-valued.*complex"):
            call()
    # a complex CQT is fine for chroma_cqt: its magnitude is used
    C = F.cqt(rng.standard_normal(SR), sr=SR)
    np.testing.assert_allclose(F.chroma_cqt(C=C), F.chroma_cqt(C=np.abs(C)))


# ---------------------------------------------------------------- empty mel filters


@pytest.mark.filterwarnings("ignore:Empty filters detected:UserWarning")
@pytest.mark.parametrize("kwargs", [{"sr": 22050, "n_fft": 256, "n_mels": 128},
                                    {"sr": 16000, "n_fft": 512, "n_mels": 128, "fmax": 300.0}])
def test_too_many_mel_bands_for_n_fft_raise(kwargs):
    assert np.any(librosa.filters.mel(**kwargs).max(axis=1) == 0)  # librosa: all-zero rows
    with pytest.raises(ValueError, match=f"n_mels={kwargs['n_mels']} is too many mel bands for "
                                         f"n_fft={kwargs['n_fft']}"):
        F.mel_filterbank(**kwargs)
    y = np.zeros(kwargs["sr"], dtype=np.float32)
    with pytest.raises(ValueError, match="too many mel bands"):
        F.melspectrogram(y=y, **kwargs)


def test_default_mel_filterbanks_have_no_empty_filter():
    for sr, n_fft, n_mels in [(22050, 2048, 128), (16000, 512, 40), (44100, 1024, 64),
                              (8000, 256, 40)]:
        assert F.mel_filterbank(sr, n_fft, n_mels=n_mels).max(axis=1).min() > 0


@pytest.mark.filterwarnings("ignore:Empty filters detected:UserWarning")
def test_mel_fmax_above_nyquist_raises():
    assert np.sum(librosa.filters.mel(sr=SR, n_fft=2048, fmax=20000).max(axis=1) == 0) == 18
    for call in (lambda: F.mel_filterbank(SR, 2048, fmax=20000),
                 lambda: F.melspectrogram(y=np.zeros(SR), sr=SR, fmax=20000.0)):
        with pytest.raises(ValueError, match=r"fmax must be at most .* sr / 2 = 11025.0 Hz; "
                                             r"got fmax=20000.0"):
            call()
    assert F.mel_filterbank(SR, 2048, fmax=SR / 2).shape == (128, 1025)  # the limit is fine


# ---------------------------------------------------------------- input validation


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: F.stft(np.array([], dtype=np.float32)), "must not be empty"),
        (lambda: F.stft(np.array([0.0, np.nan, 1.0] * 1000)), "finite"),
        (lambda: F.stft(np.zeros((2, 4096))), "shape"),
        (lambda: F.stft(np.zeros(1000), n_fft=2048, center=False), "n_fft=2048 is longer"),
        (lambda: F.stft(np.zeros(4096), hop_length=0), "hop_length"),
        (lambda: F.stft(np.zeros(4096), hop_length=-512), "hop_length"),
        (lambda: F.stft(np.zeros(4096), n_fft=0), "n_fft"),
        (lambda: F.stft(np.zeros(4096), n_fft=1024, win_length=2048), "win_length"),
        (lambda: F.stft(np.zeros(4096), window="kaiser"), "window"),
        (lambda: F.stft(np.zeros(4096), pad_mode="wrap"), "pad_mode"),
        (lambda: F.get_window("hann", 0), "n must be"),
        (lambda: F.frame(np.zeros(10), frame_length=20, hop_length=5), "at least frame_length"),
        (lambda: F.frame(np.zeros(100), frame_length=20, hop_length=0), "hop_length"),
        (lambda: F.fft_frequencies(0, 2048), "sr"),
        (lambda: F.frames_to_time([0, np.nan]), "frames must be finite"),
        (lambda: F.time_to_frames([0.0, 1.0], hop_length=0), "hop_length"),
        (lambda: F.power_to_db(np.array([1.0, -1.0])), "non-negative"),
        (lambda: F.power_to_db(np.ones(3, dtype=complex)), "complex"),
        (lambda: F.power_to_db(np.ones(3), top_db=-1.0), "top_db"),
        (lambda: F.power_to_db(np.ones(3), amin=0.0), "amin"),
        (lambda: F.power_to_db(np.ones(3), ref=np.nan), "ref"),
        (lambda: F.amplitude_to_db(np.ones(3), ref="max"), "ref"),
        (lambda: F.log_compress(np.ones(3), gamma=0.0), "gamma"),
        (lambda: F.log_compress(np.array([np.inf])), "finite"),
        (lambda: F.mel_filterbank(SR, 2048, fmin=8000.0, fmax=4000.0), "fmin < fmax"),
        (lambda: F.mel_filterbank(SR, 2048, norm="l2"), "norm"),
        (lambda: F.mel_filterbank(SR, 2048, n_mels=0), "n_mels"),
        (lambda: F.melspectrogram(), "exactly one of y"),
        (lambda: F.melspectrogram(y=np.zeros(4096), S=np.ones((1025, 9))), "exactly one of y"),
        (lambda: F.melspectrogram(S=np.ones(1025)), "2 dimensions"),
        (lambda: F.melspectrogram(y=np.zeros(4096), power=0.0), "power"),
        (lambda: F.mfcc(S=np.ones((10, 5)), n_mfcc=20), "n_mfcc"),
        (lambda: F.mfcc(), "exactly one of y"),
        (lambda: F.log_frequency_spectrogram(y=np.zeros(8192), sr=0), "sr"),
        (lambda: F.chroma_from_pitch(np.ones((12, 5))), r"\(128, n_frames\)"),
        (lambda: F.chroma_stft(S=-np.ones((1025, 4))), "non-negative"),
        (lambda: F.cq_to_chroma(84, bins_per_octave=18), "multiple of 12"),
        (lambda: F.chroma_cqt(y=np.zeros(SR), bins_per_octave=30), "multiple of 12"),
        (lambda: F.chroma_cqt(), "exactly one of y"),
        (lambda: F.cqt(np.zeros(SR), sr=SR, n_bins=120), "Nyquist"),
        (lambda: F.cqt(np.zeros(SR), sr=SR, fmin=-1.0), "fmin"),
        (lambda: F.cqt(np.zeros(SR), sr=22050.5), "sr"),
        (lambda: F.cqt(np.zeros(SR), hop_length=0), "hop_length"),
        (lambda: F.cqt_direct(np.zeros(0)), "must not be empty"),
        (lambda: F.chroma_cens(y=np.zeros(SR), downsample=0), "downsample"),
        (lambda: F.chroma_cens(y=np.zeros(SR), win_len_smooth=0), "win_len_smooth"),
        (lambda: F.normalize(np.ones((3, 3)), norm=-1), "norm"),
        (lambda: F.normalize(np.ones((3, 3)), threshold=0.0), "threshold"),
        (lambda: F.normalize(np.ones((3, 3)), axis=2), r"axis must be an integer in \[-2, 1\]"),
        (lambda: F.normalize(np.ones((3, 3)), axis=-3), "axis"),
        (lambda: F.normalize(np.ones((3, 3)), axis=0.5), "axis"),
        (lambda: F.mel_filterbank(22050.5, 2048), "sr must be a positive integer"),
        (lambda: F.melspectrogram(y=np.zeros(4096), sr=22050.5), "sr must be a positive integer"),
        (lambda: F.chroma_stft(y=np.zeros(4096), tuning=np.nan), "tuning must be a finite"),
        (lambda: F.chroma_stft(y=np.zeros(4096), tuning="0"), "tuning must be a finite"),
        (lambda: F.chroma_filterbank(SR, 2048, tuning=np.inf), "tuning must be a finite"),
        (lambda: F.chroma_filterbank(SR, 2048, ctroct=np.nan), "ctroct must be a finite"),
        (lambda: F.chroma_filterbank(SR, 2048, octwidth=np.inf), "octwidth"),
        (lambda: F.pitch_pooling_matrix(SR, 4096, pitch_ref=np.nan), "pitch_ref must be a finite"),
        (lambda: F.pitch_pooling_matrix(SR, 4096, freq_ref=np.inf), "freq_ref"),
        (lambda: F.log_frequency_spectrogram(y=np.zeros(8192), pitch_ref=np.inf), "pitch_ref"),
        (lambda: F.cq_to_chroma(84, fmin=np.inf), "fmin"),
        (lambda: F.chroma_cqt(y=np.zeros(8000), sr=8000), "reduce n_octaves or fmin"),
        (lambda: F.chroma_cens(y=np.zeros(8000), sr=8000), "reduce n_octaves or fmin"),
        (lambda: F.mfcc(S=np.ones((40, 5), dtype=complex)), "S must be real-valued"),
        (lambda: F.hz_to_midi([440.0, 0.0]), "f must be positive"),
        (lambda: F.midi_to_hz([60, np.nan]), "pitch must be finite"),
    ],
)
def test_invalid_input_raises_a_clear_value_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()
