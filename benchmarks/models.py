"""Benchmark the taggers of ``mirlab.nn.models``: size and cost of a training step.

For every model: trainable parameters, the time of one training step (forward, backward and
Adam update) on a batch of 16 chunks of 2 s at 16 kHz, with 1 and with 2 torch threads, and
the time of a forward pass alone (inference). Models alternate round by round; each keeps its
fastest round (these 2-core machines are shared, so the minimum is the estimate of the cost).
The log-mel front end is also timed against ``mirlab.features`` (numpy) and librosa on the
same batch.

``run()`` returns the rows as dicts so that the book can show the table.
"""

from __future__ import annotations

import time

import numpy as np

SR, SECONDS, BATCH, N_TAGS = 16000, 2.0, 16, 15


def _step_timer(model, x, target):
    import torch

    optimiser = torch.optim.Adam(model.parameters(), lr=1e-4)
    loss_fn = torch.nn.BCEWithLogitsLoss()

    def step():
        loss = loss_fn(model(x), target)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()

    def forward():
        with torch.no_grad():
            model(x)

    return step, forward


def _best(fn, best):
    start = time.perf_counter()
    fn()
    return min(best, time.perf_counter() - start)


def run(rounds: int = 5, threads=(1, 2), progress: bool = True) -> list[dict]:
    """Time every model; one dict per model with ``params`` and ``*_ms`` columns."""
    import torch
    from tqdm.auto import tqdm

    from mirlab.nn import models

    g = torch.Generator().manual_seed(0)
    x = torch.randn(BATCH, int(SR * SECONDS), generator=g) * 0.1
    target = (torch.rand(BATCH, N_TAGS, generator=g) > 0.7).float()
    built = {name: models.build(name, N_TAGS, sr=SR) for name in models.MODELS}
    timers = {name: _step_timer(m, x, target) for name, m in built.items()}
    best = {(name, n, kind): np.inf for name in built for n in threads
            for kind in ("train", "infer")}
    previous = torch.get_num_threads()
    try:
        for n in threads:
            torch.set_num_threads(n)
            for step, forward in timers.values():  # warm-up
                step(), forward()
            for r in tqdm(range(rounds), desc=f"models, {n} thread(s)", disable=not progress):
                names = list(built) if r % 2 == 0 else list(built)[::-1]
                for name in names:
                    step, forward = timers[name]
                    best[name, n, "train"] = _best(step, best[name, n, "train"])
                    best[name, n, "infer"] = _best(forward, best[name, n, "infer"])
    finally:
        torch.set_num_threads(previous)
    rows = []
    for name, model in built.items():
        row = {"model": name, "params": models.count_parameters(model),
               "embedding_dim": model.embedding_dim}
        for n in threads:
            row[f"train_ms_{n}"] = 1000 * best[name, n, "train"]
            row[f"infer_ms_{n}"] = 1000 * best[name, n, "infer"]
        rows.append(row)
    return rows


def frontend(rounds: int = 5) -> dict:
    """Log-mel of the batch: torch ``LogMel`` vs ``mirlab.features`` vs librosa (1 thread)."""
    import librosa
    import torch
    from threadpoolctl import threadpool_limits

    from mirlab import features
    from mirlab.nn.models import LogMel

    y = np.random.default_rng(0).standard_normal((BATCH, int(SR * SECONDS))).astype(np.float32)
    layer, xt = LogMel(SR), torch.from_numpy(y)
    kw = {"sr": SR, "n_fft": 512, "hop_length": 256, "n_mels": 64}
    calls = {
        "torch LogMel": lambda: layer(xt),
        "mirlab.features": lambda: [features.power_to_db(features.melspectrogram(y=v, **kw),
                                                         top_db=None) for v in y],
        "librosa": lambda: [librosa.power_to_db(librosa.feature.melspectrogram(y=v, **kw),
                                                top_db=None) for v in y],
    }
    best = dict.fromkeys(calls, np.inf)
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with threadpool_limits(limits=1), torch.no_grad():
            for r in range(rounds + 1):
                for name in (list(calls) if r % 2 == 0 else list(calls)[::-1]):
                    best[name] = _best(calls[name], best[name])
    finally:
        torch.set_num_threads(previous)
    return {name: 1000 * t for name, t in best.items()}


def markdown(rows: list[dict]) -> str:
    """The model rows as a markdown table."""
    from mirlab.plotting import markdown_table

    shown = [{"model": r["model"], "parameters": f"{r['params']:,}",
              "embedding": str(r["embedding_dim"]),
              "train step ms (1 thr)": f"{r['train_ms_1']:.0f}",
              "train step ms (2 thr)": f"{r.get('train_ms_2', float('nan')):.0f}",
              "inference ms (1 thr)": f"{r['infer_ms_1']:.0f}"} for r in rows]
    return markdown_table(shown, align="lrrrrr")


def main() -> None:
    rows = run()
    print(f"\n## mirlab.nn.models: one training step on {BATCH} x {SECONDS:g} s at {SR} Hz "
          "(forward + backward + Adam), best of 5 alternating rounds\n")
    print(markdown(rows))
    times = frontend()
    print("\nLog-mel of the same batch, single-threaded: "
          + ", ".join(f"{name} {ms:.1f} ms" for name, ms in times.items()))


if __name__ == "__main__":
    main()
