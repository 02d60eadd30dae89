"""``python -m mirlab.datasets``: render the data the book's chapters need, into the cache.

``make book`` calls it before executing the notebooks, so that notebooks executed in parallel
find their data rendered instead of each rendering the same clips. It renders, with one
process per core: the corpus tagging dataset (chapter 4), its test split with the MuseScore
soundfont (the timbre shift, where that soundfont is installed) and the transfer tasks
(chapter 5). Data already in the cache is only checked, not rendered again.
"""

from __future__ import annotations

import argparse
import time

from mirlab.datasets.clips import has_soundfont
from mirlab.datasets.similarity import load_similarity_data
from mirlab.datasets.tagging import load_tagging_dataset
from mirlab.datasets.themes import load_recording, split_pieces
from mirlab.datasets.transfer_tasks import TRANSFER_TASKS, load_transfer_task


def prepare(progress: bool = True) -> list[str]:
    """Render (or check in the cache) the data of the book: tagging data, transfer tasks,
    similarity excerpts and the theme-retrieval recordings.

    Returns
    -------
    list of str
        One line per data set: its name and size.
    """
    done = [str(load_tagging_dataset(progress=progress))]
    if has_soundfont("musescore"):
        done.append(str(load_tagging_dataset(soundfont="musescore", splits="test",
                                             progress=progress)))
    for name in TRANSFER_TASKS:
        task = load_transfer_task(name, progress=progress)
        done.append(f"transfer task {name}: {len(task)} clips")
    done.append(str(load_similarity_data(progress=progress)))
    for split, seed in (("valid", 0), ("test", 0), ("train", 1)):
        pieces = split_pieces(split)
        for pid in pieces:
            load_recording(pid, seed)
        done.append(f"theme retrieval, {split}: {len(pieces)} recordings")
    return done


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m mirlab.datasets", description=__doc__)
    parser.add_argument("command", choices=["prepare"])
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    for line in prepare(progress=not args.no_progress):
        print(line)
    print(f"data ready in {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
