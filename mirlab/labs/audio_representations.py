"""Checks and figures for lab 1, audio representations (``labs/lab01_audio_representations``).

Each ``check_*`` function calls a student's function on a few inputs (random signals and a
short rendered chord), compares the result with :mod:`mirlab.features`, and raises
:class:`~mirlab.labs.LabCheckError` naming the input, the shape or value that differs and,
when the result equals the output of a typical mistake, that mistake. The ``compare_*``
functions draw the student's result next to the reference.
"""

from __future__ import annotations

import numpy as np

from mirlab import features
from mirlab.labs.core import LabCheckError, Mistake, compare, exercise

__all__ = [
    "check_frame",
    "check_stft",
    "check_mel_filterbank",
    "check_chroma_pooling",
    "check_min_n_fft",
    "compare_spectrograms",
    "compare_filterbanks",
    "compare_chromagrams",
    "compare_resolution",
]

LAB = "lab01"


def _chord(sr: int = 22050, duration: float = 0.3, pitches=(60, 64, 67)) -> np.ndarray:
    """A short rendered chord (the fallback synthesiser: fast and deterministic)."""
    from mirlab.datasets.synth import synthesize_notes

    n = len(pitches)
    return synthesize_notes(np.zeros(n), np.full(n, duration * 0.8), pitches, sr=sr,
                            duration=duration).astype(np.float64)


# --- exercise 1: framing --------------------------------------------------------------------

def _frame_cases():
    rng = np.random.default_rng(1)
    return [
        ("white noise (1000 samples)",
         rng.standard_normal(1000), 256, 64),
        ("white noise (1024 samples: the last frame ends exactly at the last sample)",
         rng.standard_normal(1024), 256, 128),
        ("a rendered C-major chord (0.3 s at 22050 Hz)", _chord(), 2048, 512),
    ]


def _frame_mistakes(y, frame_length, hop_length, ref):
    n = ref.shape[1]
    # y followed by zeros: frames that run past the end of the signal
    padded = np.concatenate([y, np.zeros(frame_length + 2 * hop_length)])
    padded = features.frame(padded, frame_length, hop_length)
    return [
        Mistake(ref[:, :-1], "your result misses the last frame. A signal of N samples holds "
                "1 + (N - frame_length) // hop_length complete frames: the `1 +` counts the "
                "frame that starts at sample 0."),
        Mistake(padded[:, : n + 1],
                "one frame too many, running past the end of the signal (padded with zeros). "
                "frame keeps only complete frames: 1 + (N - frame_length) // hop_length."),
        Mistake(padded[:, : n + 2],
                "two frames too many, running past the end of the signal. frame keeps only "
                "complete frames: 1 + (N - frame_length) // hop_length."),
        Mistake(features.frame(np.pad(y, frame_length // 2), frame_length, hop_length),
                "you padded (centred) the signal. frame must not pad: centring belongs to "
                "the STFT (next exercise)."),
        Mistake(ref * features.get_window("hann", frame_length)[:, None], "your frames are "
                "windowed. frame returns the raw samples; the window is applied in the STFT."),
        Mistake(features.frame(y, frame_length, frame_length), "wrong hop: your frames start "
                "frame_length samples apart; consecutive frames must start hop_length samples "
                "apart."),
    ]


def _frame_offsets_hint(got, y, frame_length):
    """Where in y do the student's columns 0 and 1 start (if they are pieces of y)."""
    try:
        got = np.asarray(got, dtype=float)
    except (TypeError, ValueError):
        return ""
    if got.ndim != 2 or got.shape[0] != frame_length or got.shape[1] < 2:
        return ""
    from numpy.lib.stride_tricks import sliding_window_view

    windows = sliding_window_view(y, frame_length)
    starts = []
    for col in (0, 1):
        hit = np.flatnonzero(np.all(np.isclose(windows, got[:, col]), axis=1))
        if len(hit) == 0:
            return ""
        starts.append(int(hit[0]))
    return f" (your frames 0 and 1 start at samples {starts[0]} and {starts[1]})"


@exercise(LAB, "frame")
def check_frame(frame_fn):
    """Check ``frame_fn(y, frame_length, hop_length) -> (frame_length, n_frames)``.

    The reference is :func:`mirlab.features.frame`: complete frames only, no padding, no
    window, one frame per column.

    Raises
    ------
    LabCheckError
        With the input, the expected and received shape or value, and a hint.
    """
    for case, y, frame_length, hop_length in _frame_cases():
        ref = features.frame(y, frame_length=frame_length, hop_length=hop_length)
        what = f"frame(y, frame_length={frame_length}, hop_length={hop_length})"
        n = ref.shape[1]

        def shape_hint(shape, n=n, y=y, frame_length=frame_length, hop_length=hop_length):
            if len(shape) != 2 or shape[0] != frame_length:
                return (f"each column is one frame of frame_length={frame_length} samples, so "
                        f"the shape is (frame_length, n_frames) = ({frame_length}, {n}).")
            return (f"the number of frames is 1 + (len(y) - frame_length) // hop_length "
                    f"= 1 + ({len(y)} - {frame_length}) // {hop_length} = {n}.")

        got = frame_fn(y.copy(), frame_length, hop_length)
        try:
            compare(got, ref, what=what, case=case, shape_hint=shape_hint,
                    layout="frames are shaped (frame_length, n_frames): one frame per column",
                    mistakes=_frame_mistakes(y, frame_length, hop_length, ref))
        except LabCheckError as err:
            extra = _frame_offsets_hint(got, y, frame_length)
            raise LabCheckError(str(err) + extra) from None


# --- exercise 2: the STFT -------------------------------------------------------------------

# the reference window, and the windows of typical mistakes (np.hanning is the symmetric Hann)
_WINDOWS = {
    "periodic Hann": (lambda n: features.get_window("hann", n), ""),
    "symmetric Hann": (np.hanning,
                       "you used the symmetric Hann window (np.hanning(n_fft), or "
                       "scipy.signal.get_window('hann', n_fft, fftbins=False)); the STFT uses "
                       "the periodic one, w[n] = 0.5 - 0.5 cos(2 pi n / n_fft) for n = 0 ... "
                       "n_fft - 1 (scipy.signal.get_window('hann', n_fft), fftbins=True by "
                       "default). Its n_fft-periodic continuation is smooth, which makes "
                       "overlapping windows add up to a constant."),
    "rectangular": (np.ones, "no window (a rectangular window): multiply every frame by the "
                             "periodic Hann window before the FFT, otherwise the frame edges "
                             "leak energy into every frequency bin."),
    "Hamming": (lambda n: features.get_window("hamming", n),
                "you used a Hamming window; this STFT uses the periodic Hann "
                "window, w[n] = 0.5 - 0.5 cos(2 pi n / n_fft)."),
}
_PADDING = {
    "constant": "",
    "reflect": "you padded by reflection; pad n_fft // 2 zeros at both ends "
               "(np.pad(y, n_fft // 2), mode 'constant': librosa's default since 0.10).",
    None: "no centre padding: pad n_fft // 2 zeros at both ends of y before framing, so that "
          "frame t is centred at sample t * hop_length (librosa's center=True); this gives "
          "1 + len(y) // hop_length frames.",
}


def _simulate_stft(y, n_fft, hop_length, window, pad):
    if pad is not None:
        y = np.pad(y, n_fft // 2, mode=pad)
    return np.fft.rfft(features.frame(y, n_fft, hop_length) * window[:, None], axis=0)


def _stft_mistakes(y, n_fft, hop_length, ref):
    out = []
    for wname, (wfun, whint) in _WINDOWS.items():
        for pad, phint in _PADDING.items():
            if wname == "periodic Hann" and pad == "constant":
                continue
            hint = " Also: ".join(h for h in (whint, phint) if h)
            sim = _simulate_stft(y, n_fft, hop_length, wfun(n_fft), pad)
            out.append(Mistake(sim, hint))
            if pad is not None:
                out.append(Mistake(sim[:, :-1], hint + " Also: your result misses the last "
                                   "frame."))
    out += [
        Mistake(ref[:, :-1], "your result misses the last frame: after padding n_fft // 2 "
                "zeros at both ends there are 1 + len(y) // hop_length frames."),
        Mistake(np.abs(ref), "you returned the magnitude; return the complex STFT (the "
                "figure and later exercises take np.abs themselves)."),
        Mistake(np.conj(ref), "your spectrum is the complex conjugate of the reference: the "
                "DFT uses exp(-2 pi i k n / N) (np.fft.rfft does)."),
        Mistake(ref / n_fft, "your spectrum is scaled by 1 / n_fft: use the unnormalised "
                "DFT (np.fft.rfft with its default norm)."),
        Mistake(ref / np.sqrt(n_fft), "your spectrum is scaled by 1 / sqrt(n_fft): use the "
                "unnormalised DFT (np.fft.rfft with its default norm)."),
    ]
    return out


def _stft_cases():
    rng = np.random.default_rng(2)
    return [
        ("white noise (2000 samples)", rng.standard_normal(2000), 256, 64),
        ("white noise (1500 samples)", rng.standard_normal(1500), 512, 128),
        ("a rendered C-major chord (0.3 s at 22050 Hz)", _chord(), 1024, 256),
    ]


@exercise(LAB, "stft")
def check_stft(stft_fn):
    """Check ``stft_fn(y, n_fft, hop_length) -> complex (1 + n_fft // 2, n_frames)``.

    The reference is :func:`mirlab.features.stft` with its defaults: periodic Hann window,
    centred frames (``n_fft // 2`` zeros padded at both ends), ``np.fft.rfft`` of each frame.

    Raises
    ------
    LabCheckError
        With the input, the expected and received shape or value, and a hint naming the
        typical mistake (window, padding, frame count, transposition, magnitude, scaling).
    """
    for case, y, n_fft, hop_length in _stft_cases():
        ref = features.stft(y, n_fft=n_fft, hop_length=hop_length)
        what = f"stft(y, n_fft={n_fft}, hop_length={hop_length})"
        n_bins, n_frames = ref.shape

        def shape_hint(shape, y=y, n_fft=n_fft, hop_length=hop_length, n_bins=n_bins,
                       n_frames=n_frames):
            hints = []
            if len(shape) != 2:
                return "return a 2-D array: one column (spectrum) per frame."
            if shape[0] == n_fft:
                hints.append("you kept all n_fft FFT bins; a real signal needs only the "
                             "1 + n_fft // 2 non-negative frequencies (np.fft.rfft).")
            elif shape[0] == n_fft // 2:
                hints.append("you dropped a bin: np.fft.rfft returns 1 + n_fft // 2 bins, "
                             "from 0 Hz up to and including sr / 2.")
            if shape[1] == 1 + (len(y) - n_fft) // hop_length and shape[1] != n_frames:
                hints.append(_PADDING[None])
            elif shape[1] == n_frames - 1:
                hints.append("your result misses the last frame: after padding n_fft // 2 "
                             "zeros at both ends there are 1 + len(y) // hop_length frames.")
            elif shape[1] != n_frames:
                hints.append(f"expected 1 + len(y) // hop_length = {n_frames} frames: pad "
                             "n_fft // 2 zeros at both ends, then take every complete frame, "
                             "hop_length samples apart.")
            return " ".join(hints) or None

        got = stft_fn(y.copy(), n_fft, hop_length)
        compare(got, ref, what=what, case=case, shape_hint=shape_hint,
                mistakes=_stft_mistakes(y, n_fft, hop_length, ref))


# --- exercise 3: mel filterbank -------------------------------------------------------------

def _mel_cases():
    return [
        (22050, 2048, 40, 0.0, None),
        (16000, 512, 26, 50.0, 7000.0),
        (44100, 1024, 64, 30.0, 16000.0),
    ]


def _mel_in_mel_domain(sr, n_fft, n_mels, fmin, fmax, htk=False):
    """Triangles linear on the mel axis (a common mistake): raw, and Slaney-normalised."""
    edges_mel = np.linspace(features.hz_to_mel(fmin, htk=htk),
                            features.hz_to_mel(fmax, htk=htk), n_mels + 2)
    bins_mel = features.hz_to_mel(features.fft_frequencies(sr, n_fft), htk=htk)
    lower = (bins_mel[None, :] - edges_mel[:-2, None]) / np.diff(edges_mel)[:-1, None]
    upper = (edges_mel[2:, None] - bins_mel[None, :]) / np.diff(edges_mel)[1:, None]
    tri = np.maximum(0, np.minimum(lower, upper))
    edges_hz = features.mel_to_hz(edges_mel, htk=htk)
    return tri, tri * (2.0 / (edges_hz[2:] - edges_hz[:-2]))[:, None]


def _mel_mistakes(sr, n_fft, n_mels, fmin, fmax):
    fmax_ = sr / 2 if fmax is None else fmax

    def mel(**kw):
        args = {"sr": sr, "n_fft": n_fft, "n_mels": n_mels, "fmin": fmin, "fmax": fmax_,
                "htk": False, "norm": "slaney", "dtype": np.float64}
        args.update(kw)
        return features.mel_filterbank(**args)

    raw = mel(norm=None)
    unnormalised = ("your filters are not normalised (triangles of height 1). Slaney "
                    "normalisation scales triangle m by 2 / (f[m + 2] - f[m]) (its width in "
                    "Hz), so that every filter has the same area and wide high-frequency "
                    "bands do not dominate.")
    htk = ("you used the HTK mel formula 2595 log10(1 + f / 700); use Slaney's mel scale "
           "(linear below 1 kHz, logarithmic above), as librosa does by default (htk=False).")
    tri_mel, tri_mel_norm = _mel_in_mel_domain(sr, n_fft, n_mels, fmin, fmax_)
    peak = raw / np.maximum(raw.max(axis=1, keepdims=True), 1e-12)
    out = [
        Mistake(raw, unnormalised),
        Mistake(peak, "you scaled each filter to a peak of 1; " + unnormalised),
        Mistake(raw / np.maximum(raw.sum(axis=1, keepdims=True), 1e-12),
                "you normalised each filter to sum 1 over the FFT bins; Slaney normalisation "
                "divides by the bandwidth in Hz instead: weights * 2 / (f[m + 2] - f[m])."),
        Mistake(mel(htk=True), htk),
        Mistake(mel(htk=True, norm=None), htk + " Also: " + unnormalised),
        Mistake(tri_mel_norm, "your triangles are linear on the mel axis; they should be "
                "linear in Hz between mel-spaced edge frequencies (compute the slopes from "
                "the FFT bin frequencies in Hz)."),
        Mistake(tri_mel, "your triangles are linear on the mel axis (they should be linear in "
                "Hz between mel-spaced edges) and not normalised. " + unnormalised),
    ]
    if fmax is not None:
        out.append(Mistake(mel(fmax=sr / 2), f"you ignored fmax={fmax}: the highest edge "
                           "frequency must be fmax (sr / 2 only when fmax is None)."))
    if fmin > 0:
        out.append(Mistake(mel(fmin=0.0, fmax=fmax_), f"you ignored fmin={fmin}: the lowest "
                           "edge frequency must be fmin."))
    return out


@exercise(LAB, "mel_filterbank")
def check_mel_filterbank(mel_fn):
    """Check ``mel_fn(sr, n_fft, n_mels, fmin=0.0, fmax=None) -> (n_mels, 1 + n_fft // 2)``.

    The reference is :func:`mirlab.features.mel_filterbank` (Slaney's mel scale, triangles
    linear in Hz, Slaney area normalisation), equal to ``librosa.filters.mel``.

    Raises
    ------
    LabCheckError
        With the parameters, the expected and received shape or value, and a hint naming the
        typical mistake (no normalisation, HTK scale, fmin/fmax ignored, transposition).
    """
    for sr, n_fft, n_mels, fmin, fmax in _mel_cases():
        ref = features.mel_filterbank(sr, n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax)
        what = f"mel_filterbank(sr={sr}, n_fft={n_fft}, n_mels={n_mels}, fmin={fmin}, fmax={fmax})"

        def shape_hint(shape, n_fft=n_fft, n_mels=n_mels):
            if len(shape) != 2:
                return "return a 2-D array: one filter (row) per mel band."
            hints = []
            if shape[0] in (n_mels + 1, n_mels + 2):
                hints.append("n_mels + 2 edge frequencies give n_mels triangles: triangle m "
                             "rises from f[m] to f[m + 1] and falls to f[m + 2].")
            if shape[1] != 1 + n_fft // 2:
                hints.append("each filter has one weight per STFT bin: 1 + n_fft // 2 columns.")
            return " ".join(hints) or None

        got = mel_fn(sr, n_fft, n_mels, fmin=fmin, fmax=fmax)
        compare(got, ref, what=what, case=None, shape_hint=shape_hint,
                layout="the filterbank is shaped (n_mels, 1 + n_fft // 2): one filter per row",
                mistakes=_mel_mistakes(sr, n_fft, n_mels, fmin, fmax))


# --- exercise 4: chroma by pooling pitches ----------------------------------------------------

def _pool(S, offset=0, reduce=np.sum):
    return np.stack([reduce(S[(np.arange(128) + offset) % 12 == c], axis=0) for c in range(12)])


def _safe_div(X, d):
    return np.where(d > 0, X / np.where(d > 0, d, 1.0), 0.0)


def _chroma_reference(S):
    return features.normalize(features.chroma_from_pitch(S), norm=np.inf, axis=0)


def _chroma_mistakes(S, ref):
    raw = _pool(S)
    not_norm = ("your chroma is not normalised: divide every column (frame) by its maximum, "
                "so that the strongest pitch class of each frame is 1 and loud and soft "
                "frames become comparable (leave silent frames at 0).")
    out = [
        Mistake(raw, not_norm),
        Mistake(_safe_div(raw, np.linalg.norm(raw, axis=0)), "you normalised each frame to "
                "unit Euclidean length (2-norm); this exercise uses the maximum norm: divide "
                "each column by its maximum."),
        Mistake(_safe_div(raw, raw.sum(axis=0)), "you normalised each frame to sum 1 "
                "(1-norm); this exercise uses the maximum norm: divide each column by its "
                "maximum."),
        Mistake(_safe_div(raw, raw.max(axis=1, keepdims=True)), "you normalised each pitch "
                "class over time (along axis 1); normalise each frame (column, axis 0)."),
        Mistake(_safe_div(raw, raw.max()), "you divided by the global maximum; normalise each "
                "frame (column) by its own maximum."),
    ]
    mean = _pool(S, reduce=np.mean)
    out.append(Mistake(_safe_div(mean, mean.max(axis=0)), "you averaged the pitches of a "
                       "class; sum them (classes C to G have 11 MIDI pitches in 0 ... 127, "
                       "G# to B only 10)."))
    for k in range(1, 12):
        rolled = _pool(S, offset=k)
        hint = (f"your pitch classes are shifted by {k}: pitch p belongs to class p mod 12 "
                "(MIDI 60 = C4 in row 0, 69 = A4 in row 9).")
        out.append(Mistake(_safe_div(rolled, rolled.max(axis=0)), hint))
        out.append(Mistake(rolled, hint + " Also: " + not_norm))
    return out


def _chroma_cases():
    rng = np.random.default_rng(4)
    noise = rng.random((128, 10)) ** 4
    noise[:, 5] = 0.0
    sparse = np.zeros((128, 8))
    for j in range(8):
        sparse[rng.choice(np.arange(36, 96), size=3, replace=False), j] = rng.random(3) + 0.1
    cases = [("random non-negative pitch energies (128 x 10, frame 5 silent)", noise),
             ("three random pitches per frame (128 x 8)", sparse)]
    chord = _chord(duration=0.4, pitches=(57, 60, 64, 69))
    S = features.log_frequency_spectrogram(y=chord, sr=22050, n_fft=4096, hop_length=1024)
    cases.append(("the log-frequency spectrogram of a rendered A-minor chord", S))
    return cases


@exercise(LAB, "chroma")
def check_chroma_pooling(chroma_fn):
    """Check ``chroma_fn(S_pitch) -> (12, n_frames)``: pitch energies pooled into 12 pitch
    classes, each frame divided by its maximum (silent frames stay 0).

    The reference is ``features.normalize(features.chroma_from_pitch(S_pitch), norm=np.inf)``.

    Raises
    ------
    LabCheckError
        With the input, the expected and received shape or value, and a hint naming the
        typical mistake (no / wrong normalisation, shifted pitch classes, transposition).
    """
    for case, S in _chroma_cases():
        ref = _chroma_reference(S)

        def shape_hint(shape, n=S.shape[1]):
            if len(shape) == 2 and shape[0] == 128:
                return "pool the 128 pitch rows into 12 pitch classes: row c sums pitches p " \
                       "with p % 12 == c."
            return f"one row per pitch class and one column per frame: (12, {n})."

        got = chroma_fn(S.copy())
        compare(got, ref, what="chroma_fn(S_pitch)", case=case, shape_hint=shape_hint,
                mistakes=_chroma_mistakes(S, ref), atol=1e-6)


# --- exercise 5: frequency resolution -------------------------------------------------------

def _min_n_fft(f1, f2, sr):
    n = 1
    while sr / n > abs(f2 - f1) / 2:
        n *= 2
    return n


@exercise(LAB, "resolution")
def check_min_n_fft(min_n_fft_fn):
    """Check ``min_n_fft_fn(f1, f2, sr) -> int``: the smallest power of two ``n_fft`` whose
    bin spacing ``sr / n_fft`` is at most half the distance ``|f2 - f1|`` (two bins apart, the
    half-width of the Hann window's main lobe).

    Raises
    ------
    LabCheckError
        With the input, the expected and received value, and what the received ``n_fft``
        resolves.
    """
    cases = [(110.0, 116.54, 22050), (440.0, 466.16, 22050), (65.41, 69.30, 44100),
             (1000.0, 1100.0, 16000), (466.16, 440.0, 22050)]
    for f1, f2, sr in cases:
        expected = _min_n_fft(f1, f2, sr)
        got = min_n_fft_fn(f1, f2, sr)
        head = f"min_n_fft({f1}, {f2}, sr={sr}):"
        if got is None:
            raise LabCheckError(f"{head} your function returned None (forgot `return`?)")
        try:
            value = float(got)
        except (TypeError, ValueError):
            raise LabCheckError(f"{head} expected a number, got {got!r}") from None
        if value == expected:
            continue
        gap = abs(f2 - f1)
        msg = f"{head} expected {expected}, got {got!r}."
        if value > 0 and int(value) == value and (int(value) & (int(value) - 1)) == 0:
            spacing = sr / value
            if value < expected:
                msg += (f" With n_fft = {int(value)} the bins are {spacing:.3g} Hz apart; the "
                        f"partials are {gap:.3g} Hz apart, so they need bins of at most "
                        f"{gap / 2:.3g} Hz: a Hann-windowed partial spreads over 2 bins on "
                        "each side, so two peaks are separate only 2 bins apart.")
            else:
                msg += (f" n_fft = {int(value)} separates them, but n_fft = {int(value) // 2} "
                        f"already does (bins {2 * spacing:.3g} Hz <= {gap / 2:.3g} Hz): return "
                        "the smallest.")
        elif value > 0:
            msg += " n_fft must be a power of two (round up: 2 ** ceil(log2(...)))."
        if value < 0:
            msg += " Use the absolute difference |f2 - f1|."
        raise LabCheckError(msg)


# --- figures: the student's result next to the reference ----------------------------------

def _try(fn, *args, **kwargs):
    """The student's result, or a short text saying why there is none."""
    try:
        out = np.asarray(fn(*args, **kwargs))
    except NotImplementedError:
        return None, "yours: not done yet"
    except Exception as err:
        return None, f"yours: {type(err).__name__}: {err}"[:80]
    return out, "yours"


def _two_panels(width=11, height=3.4):
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(width, height), layout="constrained")
    plt.close(fig)  # shown once, as the returned figure
    return fig, axes


def _placeholder(ax, text):
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, wrap=True)
    ax.set_title(text.split(":")[0])
    ax.set_axis_off()


def compare_spectrograms(stft_fn, y, sr, n_fft=2048, hop_length=512, fmax=None):
    """Show the student's STFT (dB magnitude) next to :func:`mirlab.features.stft`.

    Parameters
    ----------
    stft_fn : callable
        ``stft_fn(y, n_fft, hop_length)``.
    y, sr : np.ndarray, int
        The signal and its sample rate.
    n_fft, hop_length : int
        STFT parameters.
    fmax : float, optional
        Upper limit of the frequency axis in Hz.

    Returns
    -------
    matplotlib.figure.Figure
    """
    from mirlab import plotting

    ref = features.stft(y, n_fft=n_fft, hop_length=hop_length)
    mine, title = _try(stft_fn, y, n_fft, hop_length)
    fig, axes = _two_panels()
    top = features.amplitude_to_db(np.abs(ref), ref=np.max(np.abs(ref)))
    for ax, S, name in ((axes[0], mine, title), (axes[1], ref, "reference (features.stft)")):
        if S is None or S.ndim != 2 or not np.all(np.isfinite(S)):
            _placeholder(ax, name if S is None else "yours: not a finite 2-D array")
            continue
        db = features.amplitude_to_db(np.abs(S), ref=np.max(np.abs(ref)))
        plotting.specshow(db, sr=sr, hop_length=hop_length, ax=ax, vmin=top.max() - 80,
                          vmax=top.max())
        ax.set_title(name)
        if fmax is not None:
            ax.set_ylim(0, fmax)
    return fig


def compare_filterbanks(mel_fn, sr, n_fft, n_mels, fmin=0.0, fmax=None, every=1):
    """Plot the student's mel filterbank next to :func:`mirlab.features.mel_filterbank`.

    Returns
    -------
    matplotlib.figure.Figure
    """
    from mirlab import plotting

    ref = features.mel_filterbank(sr, n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax)
    mine, title = _try(mel_fn, sr, n_fft, n_mels, fmin=fmin, fmax=fmax)
    fig, axes = _two_panels(height=3.0)
    for ax, fb, name in ((axes[0], mine, title),
                         (axes[1], ref, "reference (features.mel_filterbank)")):
        if fb is None or fb.ndim != 2 or fb.shape[1] != 1 + n_fft // 2 or np.any(fb < 0):
            _placeholder(ax, name if fb is None else f"yours: shape {fb.shape}")
            continue
        plotting.plot_filterbank(fb, sr, n_fft=n_fft, ax=ax, every=every)
        ax.set_title(name)
        if fmax is not None:
            ax.set_xlim(0, fmax)
    return fig


def compare_chromagrams(chroma_fn, S_pitch, sr=22050, hop_length=512):
    """Show the student's chromagram next to the reference pooling of ``S_pitch``.

    Returns
    -------
    matplotlib.figure.Figure
    """
    from mirlab import plotting

    ref = _chroma_reference(S_pitch)
    mine, title = _try(chroma_fn, S_pitch.copy())
    fig, axes = _two_panels(height=3.0)
    for ax, C, name in ((axes[0], mine, title), (axes[1], ref, "reference")):
        if C is None or C.shape != ref.shape or not np.all(np.isfinite(C)):
            _placeholder(ax, name if C is None else f"yours: shape {C.shape}")
            continue
        plotting.plot_chroma(C, sr=sr, hop_length=hop_length, ax=ax)
        ax.set_title(name)
    return fig


def compare_resolution(min_n_fft_fn, f1, f2, sr, duration=2.0):
    """Spectra of two equally loud sinusoids at ``f1`` and ``f2`` Hz, analysed with the
    student's ``n_fft = min_n_fft_fn(f1, f2, sr)`` (right) and with half of it (left).

    The centre frame of each STFT is shown in dB around the two frequencies, with the true
    frequencies marked: with enough bins between them the two peaks separate.

    Returns
    -------
    matplotlib.figure.Figure
    """
    t = np.arange(int(duration * sr)) / sr
    y = np.sin(2 * np.pi * f1 * t) + np.sin(2 * np.pi * f2 * t)
    answer, title = _try(min_n_fft_fn, f1, f2, sr)
    fig, axes = _two_panels(height=3.0)
    valid = answer is not None and answer.size == 1 and float(answer) >= 4
    if not valid:
        _placeholder(axes[1], title if answer is None else f"yours: {answer!r}")
        sizes = [(axes[0], 2048)]
    else:
        n = int(answer)
        sizes = [(axes[0], max(n // 2, 2)), (axes[1], n)]
    lo, hi = min(f1, f2), max(f1, f2)
    span = max(4 * (hi - lo), 20.0)
    for ax, n_fft in sizes:
        X = np.abs(features.stft(y, n_fft=n_fft, hop_length=n_fft // 4))
        spectrum = X[:, X.shape[1] // 2]
        freqs = features.fft_frequencies(sr, n_fft)
        db = 20 * np.log10(np.maximum(spectrum / spectrum.max(), 1e-5))
        keep = (freqs > lo - span) & (freqs < hi + span)
        ax.plot(freqs[keep], db[keep], ".-", linewidth=0.9)
        for f in (f1, f2):
            ax.axvline(f, color="tab:red", linewidth=0.8, linestyle="--")
        ax.set_title(f"n_fft = {n_fft}: bins {sr / n_fft:.2f} Hz apart")
        ax.set_xlabel("Frequency (Hz)")
        ax.set_ylim(-60, 3)
    axes[0].set_ylabel("Magnitude (dB)")
    return fig
