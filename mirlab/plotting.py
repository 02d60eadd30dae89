"""Figures shared by the notebooks: waveforms, spectrograms with real axes, chroma, filterbanks.

Every function draws into a matplotlib ``Axes`` (a new one when ``ax`` is None) and returns it,
so figures can be composed with ``plt.subplots``. Time axes are in seconds, frequency axes in
Hz, pitch axes in note names (``C4`` = MIDI 60). Frames are centred, as in librosa: frame ``n``
covers ``[(n - 1/2) * hop_length, (n + 1/2) * hop_length] / sr`` seconds.

Taught in ``notebooks/01_audio_representations.ipynb``.
"""

from __future__ import annotations

import os

import numpy as np

from mirlab.core.checks import (
    check_audio,
    check_choice,
    check_matrix,
    check_positive,
    check_spectrogram,
    check_sr,
)
from mirlab.core.pitch import PITCH_NAMES, note_name
from mirlab.features import fft_frequencies, frames_to_time, hz_to_mel, hz_to_midi
from mirlab.features.pitch import C1_HZ

__all__ = [
    "specshow",
    "plot_waveform",
    "plot_chroma",
    "plot_filterbank",
    "plot_notes",
    "note_name",
    "markdown_table",
    "table",
    "interact",
]

Y_AXES = ("linear", "log", "mel", "cqt_note", "pitch", "chroma", "index")
X_AXES = ("time", "frames")


def _axes(ax):
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots()
    return ax


def _centres_to_edges(c):
    """Edges half-way between neighbouring centres, extrapolated at both ends."""
    c = np.asarray(c, dtype=float)
    if len(c) == 1:
        return np.array([c[0] - 0.5, c[0] + 0.5])
    mid = (c[1:] + c[:-1]) / 2
    return np.concatenate([[2 * c[0] - mid[0]], mid, [2 * c[-1] - mid[-1]]])


def _note_ticks(ax, lo, hi, axis="y"):
    """Ticks at every C (every 12 semitones) between MIDI numbers lo and hi, labelled C2, C3..."""
    ticks = np.arange(np.ceil(lo / 12) * 12, hi + 1e-9, 12)
    set_ticks = ax.set_yticks if axis == "y" else ax.set_xticks
    set_ticks(ticks, [note_name(t) for t in ticks])


def _y_coordinates(y_axis, n_rows, sr, fmin, fmax, bins_per_octave):
    """Row edges in the plotted coordinate (Hz, mel or MIDI number) and the axis label."""
    if y_axis in ("linear", "log"):
        edges = _centres_to_edges(fft_frequencies(sr, n_fft=2 * (n_rows - 1)))
        edges[0] = max(edges[0], 0.0) if y_axis == "linear" else edges[1] / 2
        return edges, "Frequency (Hz)"
    if y_axis == "mel":
        fmax = sr / 2 if fmax is None else fmax
        lo, hi = hz_to_mel(fmin or 0.0), hz_to_mel(fmax)
        mels = np.linspace(lo, hi, n_rows + 2)[1:-1]
        return _centres_to_edges(mels), "Frequency (Hz, mel-spaced)"
    if y_axis == "cqt_note":
        fmin = C1_HZ if fmin is None or fmin <= 0 else fmin
        centres = hz_to_midi(fmin) + np.arange(n_rows) * 12.0 / bins_per_octave
        return _centres_to_edges(centres), "Pitch"
    if y_axis == "pitch":
        return np.arange(n_rows + 1) - 0.5, "Pitch"
    if y_axis == "chroma":
        return np.arange(n_rows + 1) - 0.5, "Pitch class"
    return np.arange(n_rows + 1) - 0.5, "Coefficient"


def _label_y(ax, y_axis, edges, n_rows, sr, fmax):
    if y_axis == "log":
        ax.set_yscale("log")
    if y_axis == "mel":
        top = sr / 2 if fmax is None else fmax
        nice = np.array([0, 250, 500, 1000, 2000, 4000, 8000, 16000], dtype=float)
        nice = nice[nice <= top]
        ax.set_yticks(hz_to_mel(nice), [f"{f:g}" for f in nice])
    elif y_axis in ("cqt_note", "pitch"):
        _note_ticks(ax, edges[0], edges[-1])
    elif y_axis == "chroma":
        ax.set_yticks(np.arange(n_rows), PITCH_NAMES[:n_rows])
    ax.set_ylim(edges[0], edges[-1])


def specshow(S, sr: int = 22050, hop_length: int = 512, y_axis: str = "linear",
             x_axis: str = "time", ax=None, fmin: float | None = None, fmax: float | None = None,
             bins_per_octave: int = 12, colorbar: bool = False, cmap: str | None = None,
             **kwargs):
    """Show a feature matrix (spectrogram, CQT, chroma, MFCC ...) with labelled axes.

    Parameters
    ----------
    S : np.ndarray, shape (n_rows, n_frames)
        Real values to display (take the magnitude or dB of a complex STFT first).
    sr : int
        Sample rate of the analysed signal in Hz.
    hop_length : int
        Hop between frames in samples.
    y_axis : str
        How rows map to frequency:

        - ``"linear"``/``"log"``: STFT bins ``k * sr / n_fft`` with ``n_fft = 2 * (n_rows - 1)``,
          on a linear or a logarithmic frequency axis (Hz);
        - ``"mel"``: mel bands evenly spaced on the mel scale between ``fmin`` (default 0) and
          ``fmax`` (default ``sr / 2``), ticks in Hz;
        - ``"cqt_note"``: constant-Q bins from ``fmin`` (default C1 = 32.70 Hz),
          ``bins_per_octave`` per octave, ticks at every C;
        - ``"pitch"``: one row per MIDI pitch (row 60 = C4), as a log-frequency spectrogram;
        - ``"chroma"``: 12 pitch classes C ... B;
        - ``"index"``: row numbers (e.g. MFCC coefficients).
    x_axis : {"time", "frames"}
        Seconds (centred frames) or frame indices.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure when None.
    fmin, fmax : float, optional
        Frequency range for ``"mel"`` and lowest bin for ``"cqt_note"``.
    bins_per_octave : int
        For ``"cqt_note"``.
    colorbar : bool
        Add a colour bar next to the axes.
    cmap : str, optional
        Colour map (default ``"magma"``, or ``"gray_r"`` for chroma).
    **kwargs
        Passed to :meth:`matplotlib.axes.Axes.pcolormesh` (e.g. ``vmin``, ``vmax``).

    Returns
    -------
    matplotlib.axes.Axes
        The axes; the image is ``ax.collections[-1]``.

    Raises
    ------
    ValueError
        If ``S`` is not a finite real 2-D array, or an argument is out of range.

    Examples
    --------
    >>> import numpy as np
    >>> ax = specshow(np.random.rand(1025, 40), sr=22050, hop_length=512)
    >>> ax.get_ylabel()
    'Frequency (Hz)'
    """
    S = check_spectrogram(S, "S", nonnegative=False)
    sr = check_sr(sr)
    hop_length = int(check_positive(hop_length, "hop_length"))
    check_choice(y_axis, "y_axis", Y_AXES)
    check_choice(x_axis, "x_axis", X_AXES)
    if y_axis in ("linear", "log") and S.shape[0] < 2:
        raise ValueError(f"S must have at least 2 rows for y_axis={y_axis!r}; got shape {S.shape}")
    if y_axis == "chroma" and S.shape[0] != 12:
        raise ValueError(f"S must have 12 rows for y_axis='chroma'; got shape {S.shape}")
    ax = _axes(ax)
    n_rows, n_frames = S.shape
    y_edges, y_label = _y_coordinates(y_axis, n_rows, sr, fmin, fmax, bins_per_octave)
    x_edges = np.arange(n_frames + 1) - 0.5
    if x_axis == "time":
        x_edges = frames_to_time(x_edges, sr=sr, hop_length=hop_length)
    if cmap is None:
        cmap = "gray_r" if y_axis == "chroma" else "magma"
    mesh = ax.pcolormesh(x_edges, y_edges, S, cmap=cmap, shading="flat", **kwargs)
    ax.set_xlim(x_edges[0], x_edges[-1])
    ax.set_xlabel("Time (s)" if x_axis == "time" else "Frame")
    ax.set_ylabel(y_label)
    _label_y(ax, y_axis, y_edges, n_rows, sr, fmax)
    if colorbar:
        ax.figure.colorbar(mesh, ax=ax)
    return ax


def plot_waveform(y, sr: int, ax=None, offset: float = 0.0, samples: bool = False, **kwargs):
    """Plot a mono signal against time in seconds.

    Parameters
    ----------
    y : np.ndarray, shape (n_samples,)
        The signal.
    sr : int
        Sample rate in Hz.
    ax : matplotlib.axes.Axes, optional
        Where to draw.
    offset : float
        Time in seconds of the first sample (to plot a zoomed excerpt at its true time).
    samples : bool
        Also mark each sample with a dot (useful for short zooms: shows the discrete signal).
    **kwargs
        Passed to :meth:`matplotlib.axes.Axes.plot`.

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import numpy as np
    >>> ax = plot_waveform(np.zeros(100), sr=100)
    >>> [float(v) for v in ax.get_xlim()]
    [0.0, 0.99]
    """
    y = check_audio(y)
    sr = check_sr(sr)
    ax = _axes(ax)
    t = offset + np.arange(len(y)) / sr
    kwargs.setdefault("linewidth", 0.6 if not samples else 1.0)
    ax.plot(t, y, **kwargs)
    if samples:
        ax.plot(t, y, ".", color=ax.lines[-1].get_color(), markersize=4)
    ax.set_xlim(t[0], t[-1] if len(t) > 1 else t[0] + 1.0 / sr)
    ax.set_xlabel("Time (s)")
    ax.set_ylabel("Amplitude")
    return ax


def plot_chroma(C, sr: int = 22050, hop_length: int = 512, ax=None, colorbar: bool = False,
                **kwargs):
    """Show a chromagram ``C`` (shape ``(12, n_frames)``) with pitch-class names C ... B.

    A thin call of :func:`specshow` with ``y_axis="chroma"``; see there for the parameters.

    Examples
    --------
    >>> import numpy as np
    >>> ax = plot_chroma(np.random.rand(12, 50))
    >>> [t.get_text() for t in ax.get_yticklabels()][:3]
    ['C', 'C#', 'D']
    """
    kwargs.setdefault("vmin", 0.0)
    return specshow(C, sr=sr, hop_length=hop_length, y_axis="chroma", ax=ax, colorbar=colorbar,
                    **kwargs)


def plot_filterbank(fb, sr: int, n_fft: int | None = None, ax=None, every: int = 1,
                    log_x: bool = False, **kwargs):
    """Plot the rows of a filterbank (e.g. mel filters) as curves over frequency in Hz.

    Parameters
    ----------
    fb : np.ndarray, shape (n_filters, 1 + n_fft // 2)
        One filter per row, over the STFT bins.
    sr : int
        Sample rate in Hz.
    n_fft : int, optional
        FFT size; must agree with ``fb.shape[1]`` (deduced from it when None).
    ax : matplotlib.axes.Axes, optional
        Where to draw.
    every : int
        Draw only every ``every``-th filter (a 128-band filterbank is unreadable otherwise).
    log_x : bool
        Logarithmic frequency axis.
    **kwargs
        Passed to :meth:`matplotlib.axes.Axes.plot`.

    Returns
    -------
    matplotlib.axes.Axes

    Raises
    ------
    ValueError
        If ``fb`` is not a non-negative 2-D array or ``n_fft`` does not match its width.
    """
    fb = check_matrix(fb, "fb", nonnegative=True)
    sr = check_sr(sr)
    if n_fft is None:
        n_fft = 2 * (fb.shape[1] - 1)
    elif fb.shape[1] != 1 + int(n_fft) // 2:
        raise ValueError(f"fb must have 1 + n_fft // 2 = {1 + int(n_fft) // 2} columns for "
                         f"n_fft={n_fft}; got shape {fb.shape}")
    every = int(check_positive(every, "every"))
    ax = _axes(ax)
    freqs = fft_frequencies(sr, int(n_fft))
    kwargs.setdefault("linewidth", 0.9)
    for row in fb[::every]:
        ax.plot(freqs, row, **kwargs)
    if log_x:
        ax.set_xscale("log")
        ax.set_xlim(freqs[1], sr / 2)
    else:
        ax.set_xlim(0, sr / 2)
    ax.set_xlabel("Frequency (Hz)")
    ax.set_ylabel("Weight")
    return ax


def plot_notes(onset, offset, pitch, ax=None, pitch_class: bool = False,
               color: str = "tab:cyan", alpha: float = 0.5, fill: bool = True,
               label_axis: bool = True, **kwargs):
    """Draw notes as rectangles: a piano roll, or folded to the 12 pitch classes.

    Rows use the coordinates of :func:`specshow`: MIDI pitch with ``y_axis="pitch"``, pitch
    class 0 (C) ... 11 (B) with ``y_axis="chroma"``, so notes can be overlaid on a spectrogram or
    a chromagram of the same recording.

    Parameters
    ----------
    onset, offset : array_like, shape (n_notes,)
        Start and end times in seconds (the fields of :class:`~mirlab.core.music.Notes` of the
        same names: ``plot_notes(notes.onset, notes.offset, notes.pitch)``).
    pitch : array_like, shape (n_notes,)
        MIDI pitch numbers.
    ax : matplotlib.axes.Axes, optional
        Where to draw.
    pitch_class : bool
        Fold pitches to ``pitch % 12``.
    color, alpha : str, float
        Colour and opacity of the boxes.
    fill : bool
        Filled boxes; ``False`` draws outlines only (opaque), to overlay on an image.
    label_axis : bool
        Set the axis labels, ticks and limits (False when overlaying on an existing image).
    **kwargs
        Passed to :meth:`matplotlib.axes.Axes.broken_barh`.

    Returns
    -------
    matplotlib.axes.Axes

    Raises
    ------
    ValueError
        If the arrays differ in length or a note ends before it starts.
    """
    onset = np.atleast_1d(np.asarray(onset, dtype=float))
    offset = np.atleast_1d(np.asarray(offset, dtype=float))
    pitch = np.atleast_1d(np.asarray(pitch))
    if not (len(onset) == len(offset) == len(pitch)):
        raise ValueError("onset, offset and pitch must have the same length; got "
                         f"{len(onset)}, {len(offset)} and {len(pitch)}")
    if np.any(offset < onset):
        raise ValueError("offset must not precede onset; got a note with offset < onset")
    ax = _axes(ax)
    rows = np.round(pitch).astype(int)
    rows = rows % 12 if pitch_class else rows
    if fill:
        kwargs.update(facecolors=color, alpha=alpha)
    else:
        kwargs.setdefault("linewidth", 0.9)
        kwargs.update(facecolors="none", edgecolors=color)
    for r in np.unique(rows):
        sel = rows == r
        spans = list(zip(onset[sel], offset[sel] - onset[sel], strict=True))
        ax.broken_barh(spans, (r - 0.4, 0.8), **kwargs)
    if label_axis:
        ax.set_xlabel("Time (s)")
        if len(onset):
            ax.set_xlim(onset.min(), offset.max())
        if pitch_class:
            ax.set_yticks(np.arange(12), PITCH_NAMES)
            ax.set_ylim(-0.5, 11.5)
            ax.set_ylabel("Pitch class")
        elif len(rows):
            ax.set_ylim(rows.min() - 1.5, rows.max() + 1.5)
            _note_ticks(ax, rows.min() - 1.5, rows.max() + 1.5)
            ax.set_ylabel("Pitch")
    return ax


def markdown_table(rows: list[dict], align: str | None = None) -> str:
    """Format rows (dicts with the same keys, in column order) as a Markdown table.

    Parameters
    ----------
    rows : list of dict
        One dict per row; the keys of the first row are the column headings. Values are
        written with ``str`` (format numbers before, e.g. ``f"{x:.2f}"``).
    align : str, optional
        One character per column, ``"l"`` or ``"r"`` (default: all left-aligned).

    Examples
    --------
    >>> print(markdown_table([{"method": "a", "score": "0.9"}], align="lr"))
    | method | score |
    | :--- | ---: |
    | a | 0.9 |
    """
    if not rows or not isinstance(rows[0], dict):
        raise ValueError(f"rows must be a non-empty list of dicts; got {rows!r:.80}")
    head = list(rows[0])
    align = align or "l" * len(head)
    if len(align) != len(head) or set(align) - {"l", "r"}:
        raise ValueError(f"align must give 'l' or 'r' for each of the {len(head)} columns; "
                         f"got {align!r}")
    rule = [":---" if a == "l" else "---:" for a in align]
    lines = ["| " + " | ".join(map(str, head)) + " |", "| " + " | ".join(rule) + " |"]
    lines += ["| " + " | ".join(str(r.get(k, "")) for k in head) + " |" for r in rows]
    return "\n".join(lines)


def table(rows: list[dict], align: str | None = None):
    """Show rows as a table in a notebook (an ``IPython.display.Markdown`` object).

    The built book renders it as an HTML table; see :func:`markdown_table` for the format.
    """
    from IPython.display import Markdown

    return Markdown(markdown_table(rows, align))


STATIC_ENV = "MIRLAB_STATIC"


def interact(function, **controls):
    """Attach interactive controls (ipywidgets) to ``function`` in a live notebook.

    In Colab or Jupyter this is ``ipywidgets.interact(function, **controls)``: a list becomes a
    drop-down menu, a ``(min, max, step)`` tuple a slider. When the book is built (the
    environment variable ``MIRLAB_STATIC`` is set, as ``make book`` and the tests do) there is
    no one to move a slider, so the widget is not created and a note says where to use it:
    every widget in the book has a static figure beside it that teaches without a kernel.
    (Executing ``interact`` during a build also risks a known stall of notebook executors
    waiting on widget output.)

    Parameters
    ----------
    function : callable
        Draws a figure for the values of its keyword arguments.
    **controls
        One control (or ipywidgets abbreviation) per keyword argument of ``function``.

    Returns
    -------
    The widget's return value in a live notebook, ``None`` in a static build.
    """
    if os.environ.get(STATIC_ENV):
        print("Interactive widget: run this notebook in Colab or Jupyter to move its controls.")
        return None
    import ipywidgets

    return ipywidgets.interact(function, **controls)
