"""Benchmark ``mirlab.features`` against librosa on 60 s of rendered music.

Both libraries run in one process, single-threaded (threadpoolctl limits BLAS/OpenMP to one
thread; ``NUMBA_NUM_THREADS=1`` is set by ``python -m benchmarks``). Each round times every
feature once with each library, alternating which goes first; the table keeps each method's
fastest round, the usual estimate of its cost on a shared machine. The same call also reports
how far our values are from librosa's.

``run(seconds=60)`` returns the rows as dicts so that the book can show the table.
"""

from __future__ import annotations

import os
import time

os.environ.setdefault("NUMBA_NUM_THREADS", "1")  # before numba (through librosa) starts

import numpy as np  # noqa: E402

SR = 22050


def _audio(seconds: float, sr: int = SR):
    """``seconds`` of rendered chorales at ``sr`` (or synthesised notes if the corpus fails)."""
    n = int(seconds * sr)
    try:
        from mirlab import datasets

        pieces, total, count = [], 0, 4
        while total < n:
            recordings = datasets.load_collection("chorales", n=count, sr=sr, progress=False)
            pieces = [r.y for r in recordings]
            total = sum(len(p) for p in pieces)
            if total < n:
                count *= 2
        y = np.concatenate(pieces)[:n].astype(np.float32)
        renderers = sorted({r.renderer for r in recordings})
        return y, f"{len(recordings)} Bach chorales rendered with {'/'.join(renderers)}"
    except Exception as err:  # the corpus is optional here: fall back, and say so
        return _synthesised(n, sr), f"synthesised notes (corpus unavailable: {err!r:.80})"


def _synthesised(n: int, sr: int) -> np.ndarray:
    from mirlab.datasets.synth import synthesize_notes

    rng = np.random.default_rng(0)
    seconds = n / sr
    onset = np.repeat(np.arange(0.0, seconds, 0.5), 4)  # four notes every half second
    roots = rng.integers(48, 60, size=len(onset) // 4).repeat(4)
    pitch = roots + np.tile([0, 4, 7, 12], len(onset) // 4)
    y = synthesize_notes(onset, onset + 0.5, pitch, sr=sr, duration=seconds)
    return np.pad(y, (0, max(0, n - len(y))))[:n].astype(np.float32)


def _pairs(y, sr):
    """(name, librosa call, mirlab call) for every benchmarked feature."""
    import librosa

    from mirlab import features as F

    return [
        ("stft (2048/512)",
         lambda: librosa.stft(y, n_fft=2048, hop_length=512),
         lambda: F.stft(y, n_fft=2048, hop_length=512)),
        ("mel (128)",
         lambda: librosa.feature.melspectrogram(y=y, sr=sr, n_mels=128),
         lambda: F.melspectrogram(y=y, sr=sr, n_mels=128)),
        ("mfcc (20)",
         lambda: librosa.feature.mfcc(y=y, sr=sr, n_mfcc=20),
         lambda: F.mfcc(y=y, sr=sr, n_mfcc=20)),
        ("chroma_stft",
         lambda: librosa.feature.chroma_stft(y=y, sr=sr, tuning=0.0),
         lambda: F.chroma_stft(y=y, sr=sr, tuning=0.0)),
        ("cqt (84 bins)",
         lambda: librosa.cqt(y, sr=sr, n_bins=84, tuning=0.0),
         lambda: F.cqt(y, sr=sr, n_bins=84)),
        ("chroma_cqt",
         lambda: librosa.feature.chroma_cqt(y=y, sr=sr, tuning=0.0),
         lambda: F.chroma_cqt(y=y, sr=sr)),
        ("chroma_cens",
         lambda: librosa.feature.chroma_cens(y=y, sr=sr, tuning=0.0),
         lambda: F.chroma_cens(y=y, sr=sr)),
    ]


def _time(fn) -> tuple[float, object]:
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def run(seconds: float = 60.0, rounds: int = 7, progress: bool = True) -> list[dict]:
    """Time each feature with librosa and with mirlab; return one dict per feature.

    Keys: ``feature``, ``librosa_ms``, ``mirlab_ms``, ``ratio`` (mirlab / librosa time),
    ``max_abs_diff``, ``max_rel_diff`` (max abs difference over librosa's max magnitude),
    ``audio`` (what was analysed).
    """
    from threadpoolctl import threadpool_limits
    from tqdm.auto import tqdm

    y, source = _audio(seconds)
    pairs = _pairs(y, SR)
    best = {name: [np.inf, np.inf] for name, _, _ in pairs}
    diffs = {}
    with threadpool_limits(limits=1):
        for name, ref, ours in pairs:  # warm-up: caches, lazy imports, numba compilation
            a, b = np.asarray(ref()), np.asarray(ours())
            diffs[name] = (float(np.abs(a - b).max()), float(np.abs(a - b).max() / np.abs(a).max()))
        for r in tqdm(range(rounds), desc="benchmark rounds", disable=not progress):
            for name, ref, ours in pairs:
                order = [(0, ref), (1, ours)] if r % 2 == 0 else [(1, ours), (0, ref)]
                for slot, fn in order:
                    best[name][slot] = min(best[name][slot], _time(fn)[0])
    rows = []
    for name, _, _ in pairs:
        t_ref, t_ours = best[name]
        rows.append({
            "feature": name,
            "librosa_ms": 1000 * t_ref,
            "mirlab_ms": 1000 * t_ours,
            "ratio": t_ours / t_ref,
            "max_abs_diff": diffs[name][0],
            "max_rel_diff": diffs[name][1],
            "audio": source,
        })
    return rows


def markdown(rows: list[dict]) -> str:
    """The rows as a markdown table."""
    from mirlab.plotting import markdown_table

    shown = [{"feature": r["feature"], "librosa ms": f"{r['librosa_ms']:.1f}",
              "mirlab ms": f"{r['mirlab_ms']:.1f}", "ratio": f"{r['ratio']:.2f}",
              "max abs diff": f"{r['max_abs_diff']:.2g}",
              "max rel diff": f"{r['max_rel_diff']:.2g}"}
             for r in rows]
    return markdown_table(shown, align="lrrrrr")


def main(seconds: float = 60.0) -> None:
    rows = run(seconds)
    print(f"\n## mirlab.features vs librosa: {seconds:g} s at {SR} Hz, single-threaded, "
          "best of 7 alternating rounds\n")
    print(f"Audio: {rows[0]['audio']}\n")
    print(markdown(rows))
