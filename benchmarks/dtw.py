"""Benchmark ``mirlab.sequence.dtw_fast`` against ``librosa.sequence.dtw`` on 1000 x 1000 costs.

Both run in one process, single-threaded (numba without threads: ``NUMBA_NUM_THREADS=1``,
threadpoolctl for BLAS). Each round times every method once, alternating which goes first;
the table keeps each method's fastest round. Every call computes the accumulated cost and the
backtracked path from a given cost matrix; the same call checks that both give the same cost
and path. The plain :func:`mirlab.sequence.dtw` (pure Python) is timed once on a smaller
matrix to show what the compiled loop buys.

``run()`` returns the rows as dicts so that the book can show the table.

``python -m benchmarks.dtw --sync`` also prints the synchronisation table of issue 11 (every
feature and version kind on eight whole chorales, the Sync Toolbox beside where it imports;
about 8 minutes): :func:`sync_table`.
"""

from __future__ import annotations

import os
import time

os.environ.setdefault("NUMBA_NUM_THREADS", "1")  # before numba (through librosa) starts

import numpy as np  # noqa: E402


def _time(fn) -> tuple[float, object]:
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def _cases(n: int):
    """(name, cost matrix, mirlab kwargs, librosa kwargs)."""
    rng = np.random.default_rng(0)
    C = rng.random((n, n))
    steps = np.array([[1, 1], [1, 2], [2, 1]])
    w = np.array([2.0, 3.0, 3.0])
    return [
        (f"dtw {n}x{n}, default steps", C, {}, {}),
        (f"subsequence {n // 4}x{n}", np.ascontiguousarray(C[: n // 4]), {"subsequence": True},
         {"subseq": True}),
        (f"dtw {n}x{n}, steps (1,1),(1,2),(2,1)", C,
         {"step_sizes": steps, "weights": w},
         {"step_sizes_sigma": steps, "weights_mul": w}),
    ]


def run(n: int = 1000, rounds: int = 7, progress: bool = True) -> list[dict]:
    """Time librosa's and mirlab's DTW; return one dict per case.

    Keys: ``case``, ``librosa_ms``, ``mirlab_ms``, ``ratio`` (mirlab / librosa time),
    ``same_path`` (bool), ``max_rel_diff`` (of the final accumulated cost).
    """
    import librosa
    from threadpoolctl import threadpool_limits
    from tqdm.auto import tqdm

    from mirlab import sequence

    cases = _cases(n)
    best = {name: [np.inf, np.inf] for name, *_ in cases}
    checks = {}
    with threadpool_limits(limits=1):
        for name, C, ours_kw, ref_kw in cases:  # warm-up (numba compilation) and parity
            D_ref, wp = librosa.sequence.dtw(C=C, **ref_kw)
            D, path = sequence.dtw_fast(C, **ours_kw)
            end = np.isfinite(D_ref[-1])
            checks[name] = (np.array_equal(path, wp[::-1]),
                            float(np.max(np.abs(D[-1, end] - D_ref[-1, end]) / D_ref[-1, end])))
        for r in tqdm(range(rounds), desc="benchmark rounds", disable=not progress):
            for name, C, ours_kw, ref_kw in cases:
                ref = (0, lambda C=C, kw=ref_kw: librosa.sequence.dtw(C=C, **kw))
                ours = (1, lambda C=C, kw=ours_kw: sequence.dtw_fast(C, **kw))
                for slot, fn in ([ref, ours] if r % 2 == 0 else [ours, ref]):
                    best[name][slot] = min(best[name][slot], _time(fn)[0])
        small = np.random.default_rng(1).random((100, 100))
        t_plain = _time(lambda: sequence.dtw(small))[0]
        t_fast = min(_time(lambda: sequence.dtw_fast(small))[0] for _ in range(5))
    rows = [{"case": name, "librosa_ms": 1000 * best[name][0], "mirlab_ms": 1000 * best[name][1],
             "ratio": best[name][1] / best[name][0], "same_path": checks[name][0],
             "max_rel_diff": checks[name][1]} for name, *_ in cases]
    rows.append({"case": "plain dtw (Python) 100x100, vs dtw_fast", "librosa_ms": np.nan,
                 "mirlab_ms": 1000 * t_plain, "ratio": t_plain / t_fast, "same_path": True,
                 "max_rel_diff": 0.0})
    return rows


def markdown(rows: list[dict]) -> str:
    """The rows as a markdown table."""
    from mirlab.plotting import markdown_table

    shown = [{"case": r["case"],
              "librosa ms": "" if np.isnan(r["librosa_ms"]) else f"{r['librosa_ms']:.2f}",
              "mirlab ms": f"{r['mirlab_ms']:.2f}", "ratio": f"{r['ratio']:.2f}",
              "same path": "yes" if r["same_path"] else "NO",
              "cost rel diff": f"{r['max_rel_diff']:.1g}"} for r in rows]
    return markdown_table(shown, align="lrrrlr")


def sync_table(pieces=slice(10, 18), seconds=None, progress: bool = True) -> list[dict]:
    """Synchronisation errors (ms at the note onsets) by version kind and feature.

    The pieces are chorales 11-18 of ``list_pieces("chorales")``: the settings of
    :mod:`mirlab.alignment.synchronisation` were chosen on chorales 7-10.

    Returns
    -------
    list of dict
        :func:`mirlab.alignment.summarise` rows, ordered by kind and feature.
    """
    from mirlab import alignment
    from mirlab.datasets import list_pieces, versions

    features = list(alignment.FEATURES) + (["synctoolbox"] if alignment.has_synctoolbox()
                                           else [])
    kinds = [k for k in versions.KINDS if versions.has_kind(k)]
    ids = list_pieces("chorales")[pieces]
    rows = alignment.summarise(alignment.evaluate(ids, kinds, features=features,
                                                  seconds=seconds, progress=progress))
    return sorted(rows, key=lambda r: (kinds.index(r["kind"]), features.index(r["feature"])))


def sync_markdown(rows: list[dict]) -> str:
    """The rows of :func:`sync_table` as a markdown table."""
    from mirlab.plotting import markdown_table

    shown = [{"kind": r["kind"], "feature": r["feature"], "mean ms": f"{r['mean_ms']:.1f}",
              "median ms": f"{r['median_ms']:.1f}", "<= 50 ms": f"{r['within_50']:.3f}",
              "<= 100 ms": f"{r['within_100']:.3f}", "<= 200 ms": f"{r['within_200']:.3f}",
              "notes": str(r["n"])} for r in rows]
    return markdown_table(shown, align="llrrrrrr")


def main(n: int = 1000, sync: bool = False) -> None:
    rows = run(n)
    print(f"\n## mirlab.sequence.dtw_fast vs librosa.sequence.dtw: {n} x {n} costs, "
          "single-threaded, best of 7 alternating rounds\n")
    print("The last row times the plain Python dtw on 100 x 100; its ratio is plain / fast.\n")
    print(markdown(rows))
    if sync:
        print("\n## Synchronisation error at the note onsets: 8 whole chorales per kind\n")
        print(sync_markdown(sync_table()))


if __name__ == "__main__":
    import sys

    main(sync="--sync" in sys.argv[1:])
