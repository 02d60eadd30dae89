"""Benchmark ``mirlab.sequence.softdtw`` against tslearn, and ``mirlab.sequence.ctc`` against
PyTorch's ``ctc_loss``.

Soft-DTW: value and gradient (the expected alignment) of a 1000 x 1000 cost matrix, random and
real (squared Euclidean distances between the chroma of two renderings of chorales, one with
a different hop length), with tslearn's ``SoftDTW(C, gamma)``: ``.compute()`` then ``.grad()``;
also the value alone. CTC: loss and gradient of one sequence (500 frames, 13 classes, a target
of 60 labels with repeats) against ``torch.nn.functional.ctc_loss`` (float64, one thread).

Single-threaded (``NUMBA_NUM_THREADS=1``, threadpoolctl, ``torch.set_num_threads(1)``); each
round times every pair once, alternating which goes first; the table keeps each method's
fastest round. The same call reports how far our results are from the reference.

``run()`` returns the rows as dicts so that the book can show the table.
"""

from __future__ import annotations

import os
import time

os.environ.setdefault("NUMBA_NUM_THREADS", "1")  # before numba starts

import numpy as np  # noqa: E402

N = 1000
GAMMA = 1.0


def _chroma_cost(n: int):
    """An ``n x n`` squared Euclidean cost between chroma of rendered chorales (or None)."""
    try:
        from mirlab import datasets
        from mirlab import features as F

        sr, ys, count = 22050, [], 4
        while sum(len(y) for y in ys) < n * 2048 + 1:
            ys = [r.y for r in datasets.load_collection("chorales", n=count, sr=sr,
                                                       progress=False)]
            count *= 2
        y = np.concatenate(ys)
        X = F.chroma_stft(y=y, sr=sr, hop_length=2048)[:, :n]
        Y = F.chroma_stft(y=y, sr=sr, hop_length=1536)[:, :n]
        X, Y = (Z / np.maximum(np.linalg.norm(Z, axis=0), 1e-9) for Z in (X, Y))  # silence: 0
        from mirlab.sequence.softdtw import sqeuclidean_cost

        return sqeuclidean_cost(X, Y), "chroma of rendered Bach chorales (hop 2048 vs 1536)"
    except Exception as err:  # the corpus is optional here: say so
        return None, f"corpus unavailable: {err!r:.80}"


def _rel(ours, ref) -> float:
    ours, ref = np.asarray(ours, dtype=float), np.asarray(ref, dtype=float)
    return float(np.abs(ours - ref).max() / np.abs(ref).max())


def _softdtw_pairs(C, label):
    from tslearn.metrics import SoftDTW

    from mirlab.sequence.softdtw import soft_dtw_alignment_fast, soft_dtw_fast

    def ts_both():
        sdtw = SoftDTW(C, gamma=GAMMA)
        return sdtw.compute(), sdtw.grad()

    def ts_value():
        return SoftDTW(C, gamma=GAMMA).compute()

    return [
        (f"soft-DTW value + gradient, {label}", ts_both,
         lambda: soft_dtw_alignment_fast(C, GAMMA)),
        (f"soft-DTW value, {label}", ts_value, lambda: soft_dtw_fast(C, GAMMA)),
    ]


def _ctc_pair():
    import torch

    from mirlab.sequence.ctc import ctc_loss_and_grad

    rng = np.random.default_rng(0)
    n_classes, n_frames = 13, 500
    logits = rng.normal(size=(n_classes, n_frames))
    log_probs = logits - np.logaddexp.reduce(logits, axis=0)
    target = rng.integers(1, n_classes, size=60)
    target[1::7] = target[::7][: len(target[1::7])]  # some repeated labels
    lp_t = torch.tensor(log_probs.T[:, None, :])
    tgt_t = torch.tensor(target[None], dtype=torch.long)

    def ref():
        lp = lp_t.clone().requires_grad_()
        loss = torch.nn.functional.ctc_loss(lp, tgt_t, torch.tensor([n_frames]),
                                            torch.tensor([len(target)]), reduction="sum")
        loss.backward()
        return loss.item(), lp.grad[:, 0].numpy().T

    def ours():
        return ctc_loss_and_grad(log_probs, target, through_softmax=True)

    return ("CTC loss + gradient (500 frames, 13 classes, 60 labels) vs torch", ref, ours)


def _time(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def run(n: int = N, rounds: int = 7, progress: bool = True) -> list[dict]:
    """Time each pair; return one dict per row.

    Keys: ``task``, ``reference_ms``, ``mirlab_ms``, ``ratio`` (mirlab / reference time),
    ``value_rel_diff`` (relative difference of the values), ``grad_rel_diff`` (largest absolute
    gradient difference over the reference's largest magnitude; NaN for value-only rows).
    """
    import torch
    from threadpoolctl import threadpool_limits
    from tqdm.auto import tqdm

    torch.set_num_threads(1)
    C = np.random.default_rng(0).random((n, n))
    pairs = _softdtw_pairs(C, f"random {n} x {n}")
    chroma, source = _chroma_cost(n)
    if chroma is not None:
        pairs += _softdtw_pairs(chroma, f"chroma {chroma.shape[0]} x {chroma.shape[1]}")
    pairs.append(_ctc_pair())
    best = {name: [np.inf, np.inf] for name, _, _ in pairs}
    diffs = {}
    with threadpool_limits(limits=1):
        for name, ref, ours in pairs:  # warm-up (numba compilation) and accuracy
            a, b = ref(), ours()
            if isinstance(a, tuple):
                diffs[name] = (_rel(b[0], a[0]), _rel(b[1], a[1]))
            else:
                diffs[name] = (_rel(b, a), float("nan"))
        for r in tqdm(range(rounds), desc="benchmark rounds", disable=not progress):
            for name, ref, ours in pairs:
                order = [(0, ref), (1, ours)] if r % 2 == 0 else [(1, ours), (0, ref)]
                for slot, fn in order:
                    best[name][slot] = min(best[name][slot], _time(fn))
    return [{"task": name, "reference_ms": 1000 * best[name][0],
             "mirlab_ms": 1000 * best[name][1], "ratio": best[name][1] / best[name][0],
             "value_rel_diff": diffs[name][0], "grad_rel_diff": diffs[name][1],
             "data": source} for name, _, _ in pairs]


def markdown(rows: list[dict]) -> str:
    """The rows as a markdown table."""
    from mirlab.plotting import markdown_table

    shown = [{"task": r["task"], "reference ms": f"{r['reference_ms']:.1f}",
              "mirlab ms": f"{r['mirlab_ms']:.1f}", "ratio": f"{r['ratio']:.2f}",
              "value rel diff": f"{r['value_rel_diff']:.2g}",
              "grad rel diff": ("-" if np.isnan(r["grad_rel_diff"])
                                else f"{r['grad_rel_diff']:.2g}")}
             for r in rows]
    return markdown_table(shown, align="lrrrrr")


def main(n: int = N) -> None:
    rows = run(n)
    print(f"\n## mirlab.sequence soft-DTW vs tslearn (gamma = {GAMMA:g}) and CTC vs PyTorch: "
          "single-threaded, best of 7 alternating rounds\n")
    print(f"Real cost matrix: {rows[0]['data']}\n")
    print(markdown(rows))


if __name__ == "__main__":
    main()
