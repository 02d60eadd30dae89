"""Benchmark ``mirlab.chords`` Viterbi decoding against librosa and libfmp.

A 24-state problem (the major/minor triads) with a random row-stochastic transition matrix
and random emission probabilities, for 6,000 and 26,000 frames (about 4.6 and 20 minutes of
audio at a hop of 1024 samples and 22,050 Hz). Each method gets probabilities and takes their
logarithms itself (ours: ``np.log`` before ``viterbi_fast``, included in the time), all in one
process, single-threaded (threadpoolctl; ``NUMBA_NUM_THREADS=1`` is set by
``python -m benchmarks``). Each round times every method once, the order rotating from round
to round; the table keeps each method's fastest round. The plain ``viterbi`` (a Python loop
over frames) is timed once for reference, and every path is checked equal to librosa's.

``run()`` returns the rows as dicts so that the book can show the table.
"""

from __future__ import annotations

import os
import time

os.environ.setdefault("NUMBA_NUM_THREADS", "1")  # before numba (through librosa) starts

import numpy as np  # noqa: E402

TINY = np.finfo(float).tiny


def _problem(n_frames: int, n_states: int = 24, random_state: int = 0):
    rng = np.random.default_rng(random_state)
    A = rng.random((n_states, n_states)) ** 4
    A /= A.sum(axis=1, keepdims=True)
    return A, rng.random((n_states, n_frames)), np.full(n_states, 1.0 / n_states)


def _methods(A, B, p0):
    import libfmp.c5
    import librosa

    from mirlab.chords import viterbi_fast

    return {
        "librosa": lambda: librosa.sequence.viterbi(B, A, p_init=p0),
        "libfmp": lambda: libfmp.c5.viterbi_log_likelihood(A, p0[None, :], B)[1],
        "mirlab": lambda: viterbi_fast(np.log(B + TINY), np.log(A + TINY), np.log(p0)),
    }


def _time(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def run(sizes=(6000, 26000), rounds: int = 7, progress: bool = True) -> list[dict]:
    """Time each method on each problem size; return one dict per size.

    Keys: ``frames``, ``librosa_ms``, ``libfmp_ms``, ``mirlab_ms``, ``plain_ms`` (the plain
    Python Viterbi, one run), ``ratio_librosa`` (mirlab / librosa time), ``ratio_libfmp``
    (mirlab / libfmp time), ``same_path`` (all paths equal to librosa's).
    """
    from threadpoolctl import threadpool_limits
    from tqdm.auto import tqdm

    from mirlab.chords import viterbi

    rows = []
    with threadpool_limits(limits=1):
        for n_frames in sizes:
            A, B, p0 = _problem(n_frames)
            methods = _methods(A, B, p0)
            paths = {name: np.asarray(fn()) for name, fn in methods.items()}  # warm-up, compile
            start = time.perf_counter()
            paths["plain"] = viterbi(np.log(B + TINY), np.log(A + TINY), np.log(p0))
            plain_s = time.perf_counter() - start
            best = dict.fromkeys(methods, np.inf)
            names = list(methods)
            for r in tqdm(range(rounds), desc=f"viterbi {n_frames} frames",
                          disable=not progress):
                for name in names[r % 3:] + names[: r % 3]:
                    best[name] = min(best[name], _time(methods[name]))
            rows.append({
                "frames": n_frames,
                "librosa_ms": 1000 * best["librosa"],
                "libfmp_ms": 1000 * best["libfmp"],
                "mirlab_ms": 1000 * best["mirlab"],
                "plain_ms": 1000 * plain_s,
                "ratio_librosa": best["mirlab"] / best["librosa"],
                "ratio_libfmp": best["mirlab"] / best["libfmp"],
                "same_path": all(np.array_equal(p, paths["librosa"]) for p in paths.values()),
            })
    return rows


def markdown(rows: list[dict]) -> str:
    """The rows as a markdown table."""
    from mirlab.plotting import markdown_table

    shown = [{"frames": f"{r['frames']:,}", "librosa ms": f"{r['librosa_ms']:.1f}",
              "libfmp ms": f"{r['libfmp_ms']:.1f}", "mirlab ms": f"{r['mirlab_ms']:.1f}",
              "mirlab / librosa": f"{r['ratio_librosa']:.2f}",
              "mirlab / libfmp": f"{r['ratio_libfmp']:.2f}",
              "plain Python ms": f"{r['plain_ms']:.0f}",
              "same path": "yes" if r["same_path"] else "NO"}
             for r in rows]
    return markdown_table(shown, align="rrrrrrrl")


def main() -> None:
    rows = run()
    print("\n## mirlab.chords Viterbi vs librosa and libfmp: 24 states, single-threaded, "
          "best of 7 rotating rounds\n")
    print(markdown(rows))
