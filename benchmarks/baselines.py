"""Benchmark ``mirlab.tagging.baselines.mfcc_features`` against librosa clip by clip.

The tagging and transfer chapters compute MFCC statistics (mean and standard deviation of 20
MFCCs and of their deltas) for thousands of clips of 5 s at 16 kHz. ``mfcc_features`` takes the
MFCCs of :func:`mirlab.features.mfcc` and computes deltas and statistics for a batch of clips
at once; the reference computes the same statistics with ``librosa.feature.mfcc`` and
``librosa.feature.delta``, clip by clip, and the two agree (``max abs diff``).
Here: 128 clips of noise, single-threaded (threadpoolctl), both methods alternating round by
round, the fastest round kept.

``run()`` returns the rows as dicts so that the book can show the table.
"""

from __future__ import annotations

import time

import numpy as np

N_CLIPS, SECONDS, SR = 128, 5.0, 16000


def run(rounds: int = 3, n_clips: int = N_CLIPS, progress: bool = True) -> list[dict]:
    """Time both implementations; keys ``method``, ``ms_per_clip``, ``ratio``, ``max_abs_diff``.

    ``ratio`` is the time over the clip loop's time (below 1: faster).
    """
    from threadpoolctl import threadpool_limits
    from tqdm.auto import tqdm

    from mirlab.tagging import baselines

    audio = np.random.default_rng(0).standard_normal((n_clips, int(SECONDS * SR)))
    audio = (0.1 * audio).astype(np.float32)
    methods = [("librosa clip by clip", lambda: np.stack([_librosa_statistics(y) for y in audio])),
               ("baselines.mfcc_features (mirlab.features, batches of 64)",
                lambda: baselines.mfcc_features(audio, SR))]
    best, outputs = [np.inf] * len(methods), {}
    with threadpool_limits(limits=1):
        for r in tqdm(range(rounds), desc="MFCC benchmark rounds", disable=not progress):
            order = range(len(methods)) if r % 2 == 0 else reversed(range(len(methods)))
            for i in order:
                start = time.perf_counter()
                outputs[i] = methods[i][1]()
                best[i] = min(best[i], time.perf_counter() - start)
    return [{"method": name, "ms_per_clip": 1000 * best[i] / n_clips, "ratio": best[i] / best[0],
             "max_abs_diff": float(np.abs(outputs[i] - outputs[0]).max())}
            for i, (name, _) in enumerate(methods)]


def _librosa_statistics(y, n_mfcc: int = 20) -> np.ndarray:
    """[mean, std] of librosa's MFCCs and of their deltas (9 frames): the reference."""
    import librosa

    M = librosa.feature.mfcc(y=y, sr=SR, n_mfcc=n_mfcc, n_fft=1024, hop_length=512)
    D = librosa.feature.delta(M, width=9)
    return np.concatenate([M.mean(1), M.std(1), D.mean(1), D.std(1)])


def markdown(rows: list[dict]) -> str:
    """The rows as a markdown table."""
    from mirlab.plotting import markdown_table

    shown = [{"method": r["method"], "ms / clip": f"{r['ms_per_clip']:.1f}",
              "ratio": f"{r['ratio']:.2f}", "max abs diff": f"{r['max_abs_diff']:.1e}"}
             for r in rows]
    return markdown_table(shown, align="lrrr")


def main() -> None:
    rows = run()
    print(f"\n## MFCC statistics of {N_CLIPS} clips of {SECONDS:g} s at {SR} Hz: librosa vs "
          "mirlab, single-threaded, best of 3 alternating rounds\n")
    print(markdown(rows))
