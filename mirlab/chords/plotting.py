"""Figures for chord recognition: chord sequences over time, matrices over the 24 triads.

Taught in ``notebooks/02_chord_recognition.ipynb``.
"""

from __future__ import annotations

import numpy as np

from mirlab.chords.vocabulary import LABELS, N_CHORDS, label_to_index

__all__ = ["plot_chord_sequences", "plot_chord_matrix", "plot_state_image"]


def _short(label: str) -> str:
    """``C:maj`` -> ``C``, ``A:min`` -> ``Am`` (compact tick labels)."""
    return label.replace(":maj", "").replace(":min", "m")


def _axes(ax, figsize):
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=figsize)
    return ax


def plot_chord_sequences(sequences: dict, ax=None, xlim=None):
    """Draw several chord annotations of one piece as rows of labelled segments.

    Parameters
    ----------
    sequences : dict
        ``{name: (intervals, labels)}``, drawn top to bottom.
    ax : matplotlib Axes, optional
    xlim : (float, float), optional
        Time range in seconds.

    Returns
    -------
    matplotlib Axes

    Examples
    --------
    >>> ax = plot_chord_sequences({"ref": (np.array([[0.0, 1.0]]), ["C:maj"])})
    """
    ax = _axes(ax, (10, 0.6 + 0.5 * len(sequences)))
    cmap = __import__("matplotlib").colormaps["tab20"]
    names = list(sequences)
    for row, name in enumerate(names):
        intervals, labels = sequences[name]
        for (start, end), label in zip(np.asarray(intervals), labels, strict=True):
            if xlim is not None and (end < xlim[0] or start > xlim[1]):
                continue
            k = label_to_index(label, strict=False)
            colour = cmap(k % 20) if k >= 0 else (0.85, 0.85, 0.85, 1.0)
            ax.barh(row, end - start, left=start, height=0.8, color=colour, edgecolor="white")
            ax.text((start + end) / 2, row, _short(label), ha="center", va="center",
                    fontsize=7, clip_on=True)
    ax.set_yticks(range(len(names)), names)
    ax.set_ylim(len(names) - 0.5, -0.5)
    ax.set_xlabel("time (s)")
    if xlim is not None:
        ax.set_xlim(*xlim)
    return ax


def plot_chord_matrix(M, ax=None, title: str = "", log: bool = False, colorbar: bool = True,
                      xlabel: str = "to chord", ylabel: str = "from chord"):
    """Show a 24 x 24 (or 25 x 25) matrix over the triads (transitions, confusions).

    Returns
    -------
    matplotlib Axes

    Examples
    --------
    >>> ax = plot_chord_matrix(np.eye(24))
    """
    M = np.asarray(M, dtype=float)
    ax = _axes(ax, (5, 4.2))
    shown = np.log10(M + 1e-6) if log else M
    im = ax.imshow(shown, origin="upper", cmap="gray_r", aspect="equal")
    names = [_short(lab) for lab in LABELS[: M.shape[0]]]
    ax.set_xticks(range(M.shape[1]), names[: M.shape[1]], rotation=90, fontsize=6)
    ax.set_yticks(range(M.shape[0]), names, fontsize=6)
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    if colorbar:
        ax.figure.colorbar(im, ax=ax, label="log10" if log else None)
    return ax


def plot_state_image(P, edges, ax=None, title: str = "", path=None):
    """Show per-frame values over the 24 triads (similarities, posteriors) against time.

    Parameters
    ----------
    P : np.ndarray, shape (24, n)
    edges : np.ndarray, shape (n + 1,)
        Column boundaries in seconds.
    path : array_like of int, optional
        A state sequence drawn on top (e.g. the Viterbi path).

    Returns
    -------
    matplotlib Axes
    """
    ax = _axes(ax, (10, 3.2))
    P = np.asarray(P)
    mesh = ax.pcolormesh(edges, np.arange(P.shape[0] + 1) - 0.5, P, cmap="gray_r",
                         shading="flat")
    if path is not None:
        centres = (np.asarray(edges)[:-1] + np.asarray(edges)[1:]) / 2
        ax.plot(centres, path, ".", color="tab:red", markersize=2, label="decoded")
        ax.legend(loc="upper right", fontsize=7)
    ax.set_yticks(range(min(P.shape[0], N_CHORDS)), [_short(lab) for lab in LABELS[:24]],
                  fontsize=6)
    ax.set_ylim(P.shape[0] - 0.5, -0.5)
    ax.set(xlabel="time (s)", title=title)
    ax.figure.colorbar(mesh, ax=ax)
    return ax
