"""``python -m benchmarks``: print the benchmark tables as markdown."""

import os

# Single-threaded timing: set the thread counts before numpy/numba/torch start their pools.
for _var in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

from benchmarks import baselines, chords, dtw, features, models, nmf, softdtw  # noqa: E402


def main() -> None:
    features.main()
    chords.main()
    nmf.main()
    models.main()
    baselines.main()
    dtw.main()
    softdtw.main()


if __name__ == "__main__":
    main()
