"""Pitch-based time-frequency representations: log-frequency spectrogram and constant-Q transform.

Taught in ``notebooks/01_audio_representations.ipynb``.
"""

from __future__ import annotations

import functools

import numpy as np
import scipy.fft
import soxr

from mirlab.core.checks import (
    check_audio,
    check_finite_number,
    check_positive,
    check_positive_int,
    check_sr,
)
from mirlab.core.pitch import hz_to_midi, midi_to_hz
from mirlab.features.spectrogram import (
    fft_frequencies,
    frame,
    get_window,
    power_spectrogram_frames,
    stft_frames_major,
)

__all__ = [
    "midi_to_hz",
    "hz_to_midi",
    "pitch_pooling_matrix",
    "log_frequency_spectrogram",
    "cqt_frequencies",
    "cqt",
    "cqt_direct",
    "cqt_cutoff",
]

# Equivalent noise bandwidth of the Hann window in bins (librosa's value for 'hann').
_HANN_BANDWIDTH = 1.50018310546875
_SPARSITY = 0.01  # fraction of each filter's spectral mass dropped (as librosa)


C1_HZ = float(midi_to_hz(24))  # 32.70 Hz, the default lowest CQT bin


# ---------------------------------------------------------------- log-frequency spectrogram


@functools.lru_cache(maxsize=16)
def _pooling_matrix(sr, n_fft, pitch_ref, freq_ref):
    f_bin = fft_frequencies(sr, n_fft)
    # band edges half a semitone below and above each pitch 0 .. 127; the tuning moves them
    # by `detune` semitones (0 when pitch_ref=69 sounds at freq_ref=440 Hz)
    detune = hz_to_midi(freq_ref) - pitch_ref
    edges = midi_to_hz(np.arange(129) - 0.5 + detune)[:, None]
    lower, upper = edges[:-1], edges[1:]
    P = ((lower <= f_bin) & (f_bin < upper)).astype(float)
    P.setflags(write=False)
    return P


def pitch_pooling_matrix(sr: int, n_fft: int, pitch_ref: float = 69,
                         freq_ref: float = 440.0) -> np.ndarray:
    """The 0/1 matrix that assigns each STFT bin to the MIDI pitch whose band contains it.

    Pitch ``p`` (centre ``freq_ref * 2 ** ((p - pitch_ref) / 12)`` Hz) owns the bins ``k`` with
    ``F(p - 1/2) <= k * sr / n_fft < F(p + 1/2)``: a band one semitone wide on a log scale.

    Parameters
    ----------
    sr : int
    n_fft : int
    pitch_ref, freq_ref : float
        Tuning: MIDI pitch ``pitch_ref`` sounds at ``freq_ref`` Hz.

    Returns
    -------
    np.ndarray, shape (128, 1 + n_fft // 2)
        Row ``p`` marks the bins of ``libfmp.c3.pool_pitch(p, sr, n_fft)``.

    Examples
    --------
    >>> P = pitch_pooling_matrix(22050, 4096)
    >>> [int(n) for n in P.sum(axis=1)[[40, 69, 100]]]  # bins per pitch grow with pitch
    [1, 5, 29]

    References
    ----------
    :cite:`Mueller2021FMP` (sec. 3.1.1).
    """
    return _checked_pooling_matrix(sr, n_fft, pitch_ref, freq_ref).copy()


def _checked_pooling_matrix(sr, n_fft, pitch_ref, freq_ref):
    sr = check_sr(sr)
    n_fft = check_positive_int(n_fft, "n_fft")
    pitch_ref = check_finite_number(pitch_ref, "pitch_ref")
    freq_ref = check_finite_number(check_positive(freq_ref, "freq_ref"), "freq_ref")
    return _pooling_matrix(sr, n_fft, pitch_ref, freq_ref)


def log_frequency_spectrogram(y=None, sr: int = 22050, S=None, n_fft: int | None = None,
                              hop_length: int = 512, power: float = 2.0,
                              pitch_ref: float = 69, freq_ref: float = 440.0) -> np.ndarray:
    """Log-frequency spectrogram: STFT energy pooled into the 128 MIDI-pitch bands.

    ``Y_LF[p, n] = sum of |X[k, n]| ** power over the bins k in the band of pitch p``
    (:func:`pitch_pooling_matrix`). Low pitches own few bins (or none: the STFT is too coarse
    there), high pitches many; a large ``n_fft`` helps the bass.

    Parameters
    ----------
    y : np.ndarray or None
        Signal (give ``y`` or ``S``).
    sr : int
    S : np.ndarray or None, shape (1 + n_fft // 2, n_frames)
        A precomputed ``|X| ** power`` spectrogram (real, non-negative).
    n_fft : int or None
        FFT size: 4096 when None and ``y`` is given; inferred from the height of ``S`` when
        None and ``S`` is given (if given with ``S``, ``S`` must have ``1 + n_fft // 2`` rows).
    hop_length : int
    power : float
    pitch_ref, freq_ref : float
        Tuning: MIDI pitch ``pitch_ref`` sounds at ``freq_ref`` Hz.

    Returns
    -------
    np.ndarray, shape (128, n_frames)
        Equal to ``libfmp.c3.compute_spec_log_freq(S, sr, n_fft)[0]``.

    Examples
    --------
    >>> import numpy as np
    >>> y = np.sin(2 * np.pi * 440 * np.arange(22050) / 22050)
    >>> int(np.argmax(log_frequency_spectrogram(y, sr=22050)[:, 20]))
    69

    References
    ----------
    :cite:`Mueller2021FMP` (sec. 3.1.1); taught in ``notebooks/01_audio_representations.ipynb``.
    """
    check_sr(sr)
    P, n_fft = power_spectrogram_frames(y, S, n_fft, hop_length, power, default_n_fft=4096)
    pool = _checked_pooling_matrix(sr, n_fft, pitch_ref, freq_ref)
    return (P @ pool.T.astype(P.dtype, copy=False)).T


# ------------------------------------------------------------------- constant-Q transform


def cqt_frequencies(n_bins: int = 84, fmin: float | None = None,
                    bins_per_octave: int = 12) -> np.ndarray:
    """Centre frequencies ``fmin * 2 ** (k / bins_per_octave)`` of the CQT bins (Hz).

    Parameters
    ----------
    n_bins : int > 0
    fmin : float > 0 or None
        Lowest frequency (default C1, 32.70 Hz).
    bins_per_octave : int > 0

    Returns
    -------
    np.ndarray, shape (n_bins,)
        Equal to ``librosa.cqt_frequencies``.

    Examples
    --------
    >>> cqt_frequencies(3, fmin=440.0, bins_per_octave=1)
    array([ 440.,  880., 1760.])
    """
    n_bins = check_positive_int(n_bins, "n_bins")
    bins_per_octave = check_positive_int(bins_per_octave, "bins_per_octave")
    fmin = C1_HZ if fmin is None else check_positive(fmin, "fmin")
    return fmin * 2.0 ** (np.arange(n_bins) / bins_per_octave)


def _q_factor(bins_per_octave):
    """Quality factor Q = f_k / bandwidth_k for bins spaced 1/bins_per_octave octave apart."""
    r = 2.0 ** (2.0 / bins_per_octave)
    return (r + 1.0) / (r - 1.0)


def _filter_lengths(freqs, sr, bins_per_octave):
    """Window length ``N_k = Q * sr / f_k`` (samples) of each bin: Q periods of its frequency."""
    return _q_factor(bins_per_octave) * sr / np.asarray(freqs)


def _kernel(freq, length, sr):
    """Complex analysis kernel: a Hann window times a complex exponential at ``freq``,
    sampled at ``-length/2 .. length/2`` and scaled to unit sum of magnitudes."""
    t = np.arange(-length // 2, length // 2)
    w = get_window("hann", len(t))
    return w * np.exp(2j * np.pi * freq * t / sr) / w.sum()


def _check_cqt_args(y, sr, hop_length, fmin, n_bins, bins_per_octave):
    y = check_audio(y)
    sr = check_sr(sr)
    hop_length = check_positive_int(hop_length, "hop_length")
    freqs = cqt_frequencies(n_bins, fmin, bins_per_octave)
    cutoff = cqt_cutoff(freqs, sr, bins_per_octave)
    return y, sr, hop_length, freqs, cutoff


def cqt_cutoff(freqs, sr: int, bins_per_octave: int = 12,
               remedy: str = "reduce n_bins or fmin") -> float:
    """Upper band edge (Hz) of the highest CQT bin; raise if it lies above Nyquist.

    The highest bin ``f`` reaches ``f * (1 + B / (2 Q))``, with ``B`` the Hann window's
    equivalent noise bandwidth (1.5 bins) and ``Q`` the quality factor of
    ``bins_per_octave`` (as librosa's check).

    Parameters
    ----------
    freqs : np.ndarray
        Bin frequencies (:func:`cqt_frequencies`); the last is the highest.
    sr : int
    bins_per_octave : int
    remedy : str
        What the error message suggests.

    Returns
    -------
    float

    Raises
    ------
    ValueError
        If the cutoff lies above ``sr / 2``.

    Examples
    --------
    >>> round(cqt_cutoff(cqt_frequencies(84), 22050), 1)  # B7 is 3951.1 Hz
    4122.1
    """
    cutoff = freqs[-1] * (1 + 0.5 * _HANN_BANDWIDTH / _q_factor(bins_per_octave))
    if cutoff > sr / 2:
        raise ValueError(
            f"the highest CQT bin ({freqs[-1]:.1f} Hz) reaches {cutoff:.1f} Hz, above the "
            f"Nyquist frequency {sr / 2:.1f} Hz of sr={sr}; {remedy}"
        )
    return float(cutoff)


def cqt_direct(y, sr: int = 22050, hop_length: int = 512, fmin: float | None = None,
               n_bins: int = 84, bins_per_octave: int = 12) -> np.ndarray:
    """Constant-Q transform computed directly from its definition (slow; for reading).

    Bin ``k`` has frequency ``f_k = fmin * 2 ** (k / bins_per_octave)`` and a window of
    ``N_k = Q * sr / f_k`` samples, with ``Q`` fixed so that neighbouring bins overlap at
    their half-power points. Each coefficient is the inner product of the signal around the
    frame centre ``n * hop_length`` with the bin's kernel (Hann window times a complex
    exponential at ``f_k``, unit L1 norm), scaled by ``sqrt(N_k)``:

    ``C[k, n] = sqrt(N_k) * sum_m y[n * hop_length + m] * conj(a_k[m])``,
    ``m = -N_k/2 .. N_k/2``.

    Low bins need long windows (for C1 at 22050 Hz about 11,700 samples), which makes this
    loop over bins slow; :func:`cqt` computes nearly the same numbers octave by octave. The
    arguments and the shape match :func:`cqt`. The two differ by about 2 % (relative
    Frobenius norm, on white noise): the fast path keeps only the non-negative-frequency half
    of each kernel's spectrum, drops the smallest 1 % of it, and resamples the lower octaves.

    Parameters
    ----------
    y, sr, hop_length, fmin, n_bins, bins_per_octave
        As :func:`cqt`.

    Returns
    -------
    np.ndarray, complex128, shape (n_bins, 1 + len(y) // hop_length)

    Examples
    --------
    >>> import numpy as np
    >>> y = np.sin(2 * np.pi * 440 * np.arange(11025) / 22050)
    >>> C = cqt_direct(y, sr=22050, fmin=220.0, n_bins=24)
    >>> int(np.argmax(np.abs(C[:, 10])))  # A4, one octave above fmin
    12

    References
    ----------
    :cite:`Brown1991cqt`; taught in ``notebooks/01_audio_representations.ipynb``.
    """
    y, sr, hop_length, freqs, _ = _check_cqt_args(y, sr, hop_length, fmin, n_bins,
                                                  bins_per_octave)
    lengths = _filter_lengths(freqs, sr, bins_per_octave)
    n_frames = 1 + len(y) // hop_length
    C = np.zeros((n_bins, n_frames), dtype=np.complex128)
    for k, (f_k, n_k) in enumerate(zip(freqs, lengths, strict=True)):
        a_k = _kernel(f_k, n_k, sr)
        centre = int(-np.floor(-n_k / 2))  # index of t = 0 in the kernel
        # pad so that the kernel centred on every frame centre stays inside the signal
        y_pad = np.pad(y.astype(float), (centre, len(a_k) - centre + hop_length))
        segments = frame(y_pad, len(a_k), hop_length)[:, :n_frames]  # (len(a_k), n_frames)
        C[k] = np.sqrt(n_k) * (np.conj(a_k) @ segments)
    return C


def _sparsify_rows(B, quantile):
    """Zero the smallest entries of each row whose magnitudes add up to < ``quantile`` of it."""
    mags = np.abs(B)
    out = np.zeros_like(B)
    for i, row in enumerate(mags):
        order = np.sort(row)
        cumulative = np.cumsum(order) / row.sum()
        threshold = order[np.argmin(cumulative < quantile)]
        keep = row >= threshold
        out[i, keep] = B[i, keep]
    return out


@functools.lru_cache(maxsize=64)
def _octave_basis(freqs, sr, bins_per_octave):
    """Spectra of one octave's kernels at rate ``sr``, the band of FFT bins they cover and
    the FFT size that holds them.

    Each kernel is centred in an FFT frame of ``n_fft`` samples (the next power of two above
    the longest kernel) and scaled by ``N_k / n_fft``; multiplying a frame's spectrum by this
    basis (non-negative frequencies only) then gives ``N_k`` times the inner product with the
    kernel, by Parseval's theorem.
    """
    freqs = np.asarray(freqs)
    lengths = _filter_lengths(freqs, sr, bins_per_octave)
    n_fft = int(2 ** np.ceil(np.log2(lengths.max())))
    kernels = np.zeros((len(freqs), n_fft), dtype=complex)
    for i, (f, n) in enumerate(zip(freqs, lengths, strict=True)):
        a = _kernel(f, n, sr) * (n / n_fft)
        start = (n_fft - len(a)) // 2
        kernels[i, start : start + len(a)] = a
    basis = scipy.fft.fft(kernels, axis=1)[:, : n_fft // 2 + 1]
    basis = _sparsify_rows(basis, _SPARSITY)
    # an octave's kernels only cover a band of FFT bins: keep that band (the rest is zero)
    used = np.flatnonzero(np.any(basis != 0, axis=0))
    band = slice(used[0], used[-1] + 1)
    basis = np.ascontiguousarray(basis[:, band])
    basis.setflags(write=False)
    return basis, band, n_fft


def _downsample(y, factor=2):
    """Band-limited downsampling by ``factor`` (SoX's high-quality resampler, as librosa),
    scaled by ``sqrt(factor)`` so that the energy of the band that is kept stays the same."""
    n_out = -(-len(y) // factor)
    z = soxr.resample(y, factor, 1, quality="HQ")
    z = np.pad(z, (0, max(0, n_out - len(z))))[:n_out]
    return (z * np.sqrt(factor)).astype(y.dtype, copy=False)


def _n_early_downsamplings(sr, cutoff, hop_length, n_octaves):
    """How many factors of 2 the signal can lose before the top octave (as librosa): as long
    as the top octave stays well below the new Nyquist frequency and the hop stays an integer
    through all the octaves."""
    by_band = max(0, int(np.ceil(np.log2(0.5 * sr / cutoff)) - 1) - 1)
    twos = 0
    while hop_length % 2 == 0:
        hop_length //= 2
        twos += 1
    return min(by_band, max(0, twos - n_octaves + 1))


def cqt(y, sr: int = 22050, hop_length: int = 512, fmin: float | None = None,
        n_bins: int = 84, bins_per_octave: int = 12) -> np.ndarray:
    """Constant-Q transform, computed octave by octave with downsampling (fast).

    The result approximates :func:`cqt_direct`: bin ``k`` at ``f_k = fmin * 2 ** (k / B)``
    correlates the signal with a Hann-windowed complex exponential of ``N_k = Q * sr / f_k``
    samples, scaled by ``sqrt(N_k)``. Computing it fast uses two ideas:

    1. **Kernels in the frequency domain** (Brown & Puckette): for one octave at a time, the
       spectra of its ``B`` kernels form a small (sparse) matrix; one FFT of each frame of
       ``n_fft`` samples and a matrix product give all ``B`` coefficients.
    2. **Octave-wise downsampling** (Schörkhuber & Klapuri): one octave down, the kernels are
       twice as long in samples but need half the bandwidth, so the signal is low-pass filtered
       and halved in rate (and the hop halved) before each lower octave. Every octave then uses
       the same short FFT. If even the top octave lies far below Nyquist, the signal is
       downsampled once before the top octave ("early downsampling").

    Parameters
    ----------
    y : np.ndarray, shape (n_samples,)
    sr : int
    hop_length : int
        Samples between frames (a multiple of ``2 ** (n_octaves - 1)`` keeps all octaves on
        the same frame grid).
    fmin : float or None
        Lowest bin frequency (default C1, 32.70 Hz).
    n_bins : int
    bins_per_octave : int

    Returns
    -------
    np.ndarray, complex, shape (n_bins, n_frames)
        Close to ``librosa.cqt(y, sr=sr, hop_length=hop_length, fmin=fmin, n_bins=n_bins,
        bins_per_octave=bins_per_octave, tuning=0.0)`` (the tests state the tolerance).

    Raises
    ------
    ValueError
        For an invalid ``y``/``sr``/``hop_length``, or bins that reach above Nyquist.

    Examples
    --------
    >>> import numpy as np
    >>> y = np.sin(2 * np.pi * 440 * np.arange(22050) / 22050)
    >>> C = cqt(y, sr=22050)
    >>> int(np.argmax(np.abs(C[:, 20])))  # A4 is 45 semitones above C1
    45

    References
    ----------
    :cite:`Brown1991cqt`, :cite:`Brown1992cqt`, :cite:`Schoerkhuber2010cqt`,
    :cite:`McFee2015librosa`; taught in ``notebooks/01_audio_representations.ipynb``.
    """
    y, sr, hop_length, freqs, cutoff = _check_cqt_args(y, sr, hop_length, fmin, n_bins,
                                                       bins_per_octave)
    n_octaves = int(np.ceil(n_bins / bins_per_octave))
    # 1. early downsampling, only when even the top octave lies far below Nyquist
    factor = 2 ** _n_early_downsamplings(sr, cutoff, hop_length, n_octaves)
    if factor > 1:
        y, hop_length = _downsample(y, factor), hop_length // factor
    base_rate = rate = sr / factor
    dtype = np.result_type(y.dtype, np.complex64)
    # 2. octave by octave from the top, halving the rate (and the hop) each time
    octaves = []
    for i in range(n_octaves):
        top = n_bins - i * bins_per_octave
        f_oct = freqs[max(0, top - bins_per_octave) : top]
        basis, band, n_fft = _octave_basis(tuple(f_oct), rate, bins_per_octave)
        # spectra of unwindowed frames (the window is inside the kernels) times kernel spectra
        D = stft_frames_major(y, n_fft, hop_length, window="boxcar")
        # at rate sr / 2**j the kernels are 2**j times shorter in samples; this factor and the
        # sqrt(2) gain of each downsampling bring the octave back to the scale of base_rate
        octaves.append(D[:, band] @ (np.sqrt(base_rate / rate) * basis.T).astype(dtype))
        if hop_length % 2 == 0 and i < n_octaves - 1:
            y, rate, hop_length = _downsample(y), rate / 2, hop_length // 2
    # 3. stack the octaves (lowest first) and scale bin k by 1 / sqrt(N_k)
    n_frames = min(len(o) for o in octaves)
    C = np.concatenate([o[:n_frames] for o in reversed(octaves)], axis=1).T
    lengths = _filter_lengths(freqs, base_rate, bins_per_octave)
    return C / np.sqrt(lengths)[:, None].astype(C.real.dtype)
