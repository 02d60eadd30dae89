"""Input validation shared by all modules: clear ``ValueError`` messages, never a deep traceback.

Every message names the argument, what was expected and what was received.

No chapter teaches this module on its own: a student meets it in the messages of the functions
it guards, from ``notebooks/01_audio_representations.ipynb`` and its lab on.
"""

from __future__ import annotations

import numbers

import numpy as np


def describe(value) -> str:
    """How an error message shows a received value: its repr, or an array's shape and dtype."""
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape} and dtype {value.dtype}"
    return f"{value!r} ({type(value).__name__})"


def check_audio(y, name: str = "y", *, mono: bool = True) -> np.ndarray:
    """Validate an audio signal and return it as a floating-point array.

    Parameters
    ----------
    y : array_like
        The signal: shape ``(n_samples,)``, or ``(n_channels, n_samples)`` when ``mono=False``.
    name : str
        The argument's name, used in error messages.
    mono : bool
        Require a one-dimensional signal.

    Returns
    -------
    np.ndarray
        ``y`` as float32 or float64 (float input keeps its precision, integers become float32).

    Raises
    ------
    ValueError
        If ``y`` is not numeric, has the wrong number of dimensions, is empty, or holds NaN/inf.
    """
    arr = np.asarray(y)
    if arr.dtype == object or not (
        np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)
    ):
        raise ValueError(f"{name} must be a real-valued numeric array; got {describe(y)}")
    if np.issubdtype(arr.dtype, np.integer):
        arr = arr.astype(np.float32)
    allowed = (1,) if mono else (1, 2)
    if arr.ndim not in allowed:
        shape = "(n_samples,)" if mono else "(n_samples,) or (n_channels, n_samples)"
        hint = " (use mirlab.audio.to_mono first)" if mono and arr.ndim == 2 else ""
        raise ValueError(f"{name} must have shape {shape}; got shape {arr.shape}{hint}")
    if arr.size == 0 or arr.shape[-1] == 0:
        raise ValueError(f"{name} must not be empty; got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        bad = int(np.size(arr) - np.count_nonzero(np.isfinite(arr)))
        raise ValueError(f"{name} must be finite; got {bad} NaN or infinite value(s)")
    return arr


def check_sr(sr, name: str = "sr") -> int:
    """Validate a sample rate: a positive integer number of samples per second."""
    if isinstance(sr, bool) or not isinstance(sr, numbers.Real) or sr <= 0 or sr != int(sr):
        raise ValueError(
            f"{name} must be a positive integer sample rate in Hz; got {describe(sr)}"
        )
    return int(sr)


def check_same_sr(sr_a: int, sr_b: int, names: tuple[str, str] = ("sr", "sr")) -> None:
    """Raise when two sample rates differ (e.g. a signal and a filterbank)."""
    if int(sr_a) != int(sr_b):
        raise ValueError(
            f"sample-rate mismatch: {names[0]}={sr_a} Hz but {names[1]}={sr_b} Hz; "
            "resample with mirlab.audio.resample first"
        )


def check_positive_int(value, name: str, *, minimum: int = 1) -> int:
    """Validate an integer parameter that must be at least ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}; got {describe(value)}")
    return int(value)


def check_nonnegative(value, name: str) -> float:
    """A real number ``>= 0`` (not a bool), returned as a float."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not value >= 0:
        raise ValueError(f"{name} must be a number >= 0; got {describe(value)}")
    return float(value)


def check_positive(value, name: str) -> float:
    """Validate a real parameter that must be strictly positive."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not value > 0:
        raise ValueError(f"{name} must be a positive number; got {describe(value)}")
    return float(value)


def check_choice(value, name: str, choices) -> str:
    """Validate that ``value`` is one of ``choices``."""
    if value not in choices:
        raise ValueError(f"{name} must be one of {sorted(choices)}; got {value!r}")
    return value


def check_matrix(x, name: str, *, ndim: int = 2, nonnegative: bool = False) -> np.ndarray:
    """Validate a finite real array with ``ndim`` dimensions (e.g. a spectrogram)."""
    arr = np.asarray(x)
    if arr.dtype == object or not np.issubdtype(arr.dtype, np.number):
        raise ValueError(f"{name} must be a numeric array; got {describe(x)}")
    if arr.ndim != ndim:
        raise ValueError(f"{name} must have {ndim} dimensions; got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name} must not be empty; got shape {arr.shape}")
    if np.iscomplexobj(arr):
        finite = np.isfinite(arr.real) & np.isfinite(arr.imag)
    else:
        finite = np.isfinite(arr)
    if not np.all(finite):
        raise ValueError(f"{name} must be finite; got {int(arr.size - finite.sum())} NaN/inf")
    if nonnegative and not np.iscomplexobj(arr) and np.any(arr < 0):
        raise ValueError(f"{name} must be non-negative; got minimum {arr.min():.3g}")
    return arr


def check_finite_number(value, name: str) -> float:
    """Validate a real scalar parameter that may be negative but must be finite (e.g. tuning)."""
    if (isinstance(value, bool) or not isinstance(value, numbers.Real)
            or not np.isfinite(value)):
        raise ValueError(f"{name} must be a finite real number; got {describe(value)}")
    return float(value)


def check_real(x, name: str) -> np.ndarray:
    """Validate finite real numbers of any shape (e.g. frequencies, times, frame indices)."""
    arr = np.asarray(x)
    if arr.dtype == object or not (
        np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)
    ):
        raise ValueError(f"{name} must be real numbers; got {describe(x)}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite; got NaN or infinite values")
    return arr


def check_spectrogram(S, name: str = "S", *, ndim: int | None = 2, nonnegative: bool = True,
                      min_rows: int = 1) -> np.ndarray:
    """Validate a real spectrogram-like array: finite, not empty, not complex.

    Parameters
    ----------
    S : array_like
        The array, usually shaped ``(n_bins, n_frames)``.
    name : str
        The argument's name, used in error messages.
    ndim : int or None
        Required number of dimensions (None: any).
    nonnegative : bool
        Require values >= 0 (magnitudes, powers); False for decibels or other real features.
    min_rows : int
        Smallest allowed ``S.shape[0]`` (e.g. 2 for an STFT, which has ``1 + n_fft // 2`` rows).

    Returns
    -------
    np.ndarray
        ``S`` as an array (no copy).

    Raises
    ------
    ValueError
        Naming ``name``, what was expected and what was received.
    """
    arr = np.asarray(S)
    if np.iscomplexobj(arr):
        raise ValueError(
            f"{name} must be real-valued (a magnitude, power or dB spectrogram); got a complex "
            f"array of dtype {arr.dtype}: pass np.abs(X) (or np.abs(X) ** 2) instead"
        )
    arr = check_matrix(arr, name, ndim=arr.ndim if ndim is None else ndim,
                       nonnegative=nonnegative)
    if arr.ndim >= 1 and arr.shape[0] < min_rows:
        raise ValueError(
            f"{name} must have at least {min_rows} rows (frequency bins); got shape {arr.shape}"
        )
    return arr
