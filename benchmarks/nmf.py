"""Benchmark ``mirlab.transcription.nmf``
against scikit-learn's and libfmp's multiplicative-update NMF.

The problem has the size of a piano transcription: ``V`` is 1025 x 2600 (a 2048-point STFT of
about a minute at hop 512, here a random non-negative matrix stored in float64, as a
spectrogram computed by most code is), rank 88 (one component per piano key), both factors
updated. All solvers start from the same factors and run the same number of iterations in
one process, single-threaded (threadpoolctl), alternating which goes first, round by round;
the table keeps each method's fastest round. The per-iteration time includes each solver's
own bookkeeping: scikit-learn measures the cost every 10 iterations, and so does mirlab here
(``cost_every=10``); libfmp measures the spectral norm of the change of both factors every
iteration (its stopping rule, disabled by ``thresh=-1``).

mirlab computes in float32 (its default); scikit-learn and libfmp keep float64. A second
row per cost gives scikit-learn float32 input too. The ``max rel diff`` column compares the
factor product ``W @ H`` with scikit-learn's after the same iterations.

``run()`` returns the rows as dicts so that the book can show the table.
"""

from __future__ import annotations

import time

import numpy as np

SHAPE, RANK = (1025, 2600), 88


def _problem(shape=SHAPE, rank=RANK, random_state: int = 0):
    rng = np.random.default_rng(random_state)
    V = rng.random(shape) ** 4  # skewed, like magnitudes
    W0 = rng.random((shape[0], rank)) * 0.1
    H0 = rng.random((rank, shape[1])) * 0.1
    return V, W0, H0


def _solvers(V, W0, H0, n_iter):
    """(name, beta, callable returning W @ H) for every benchmarked solver."""
    import libfmp.c8
    from sklearn.decomposition import non_negative_factorization

    from mirlab.transcription.nmf import nmf

    rank = W0.shape[1]

    def sk(loss, dtype):
        def run():
            Wt, Ht, _ = non_negative_factorization(
                V.T.astype(dtype), W=H0.T.astype(dtype), H=W0.T.astype(dtype),
                n_components=rank, init="custom", solver="mu", beta_loss=loss,
                max_iter=n_iter, tol=0.0)
            return (Wt @ Ht).T
        return run

    def ours(beta):
        def run():
            r = nmf(V, W=W0, H=H0, beta=beta, n_iter=n_iter, cost_every=10)
            return r.W @ r.H
        return run

    def fmp():
        W, H, *_ = libfmp.c8.nmf(V, rank, thresh=-1.0, L=n_iter, W=W0.copy(), H=H0.copy())
        return W @ H

    return [
        ("scikit-learn mu", "euclidean", sk("frobenius", np.float64)),
        ("scikit-learn mu (float32)", "euclidean", sk("frobenius", np.float32)),
        ("libfmp.c8.nmf", "euclidean", fmp),
        ("mirlab.transcription.nmf", "euclidean", ours("euclidean")),
        ("scikit-learn mu", "kl", sk("kullback-leibler", np.float64)),
        ("scikit-learn mu (float32)", "kl", sk("kullback-leibler", np.float32)),
        ("mirlab.transcription.nmf", "kl", ours("kl")),
    ]


def run(n_iter: int = 20, rounds: int = 3, progress: bool = True, shape=SHAPE,
        rank: int = RANK) -> list[dict]:
    """Time every solver on a ``shape`` matrix at ``rank``; return one dict per (solver, cost).

    Keys: ``solver``, ``cost``, ``ms_per_iter``, ``ratio`` (time over scikit-learn's float64
    time for the same cost), ``max_rel_diff`` (of ``W @ H`` against scikit-learn's float64
    result, relative to its largest value).
    """
    from threadpoolctl import threadpool_limits
    from tqdm.auto import tqdm

    V, W0, H0 = _problem(shape, rank)
    solvers = _solvers(V, W0, H0, n_iter)
    best = [np.inf] * len(solvers)
    products = {}
    with threadpool_limits(limits=1):
        for r in tqdm(range(rounds), desc="nmf benchmark rounds", disable=not progress):
            order = range(len(solvers)) if r % 2 == 0 else reversed(range(len(solvers)))
            for i in order:
                start = time.perf_counter()
                out = solvers[i][2]()
                best[i] = min(best[i], time.perf_counter() - start)
                products[i] = out
    rows = []
    for i, (name, cost, _) in enumerate(solvers):
        ref = next(j for j, s in enumerate(solvers) if s[:2] == ("scikit-learn mu", cost))
        diff = np.abs(products[i] - products[ref]).max() / np.abs(products[ref]).max()
        rows.append({"solver": name, "cost": cost, "ms_per_iter": 1000 * best[i] / n_iter,
                     "ratio": best[i] / best[ref], "max_rel_diff": float(diff)})
    return rows


def markdown(rows: list[dict]) -> str:
    """The rows as a markdown table."""
    from mirlab.plotting import markdown_table

    shown = [{"cost": r["cost"], "solver": r["solver"], "ms / iteration": f"{r['ms_per_iter']:.1f}",
              "ratio to scikit-learn": f"{r['ratio']:.2f}",
              "max rel diff of WH": f"{r['max_rel_diff']:.1e}"} for r in rows]
    return markdown_table(shown, align="llrrr")


def main(n_iter: int = 20) -> None:
    rows = run(n_iter)
    print(f"\n## mirlab.transcription.nmf vs scikit-learn and libfmp: V {SHAPE[0]} x {SHAPE[1]}, "
          f"rank {RANK}, "
          f"{n_iter} iterations, single-threaded, best of 3 alternating rounds\n")
    print(markdown(rows))
