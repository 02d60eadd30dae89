"""Command line: train shipped networks and write their checkpoints and cards.

::

    python -m mirlab.nn.train fcn              # one recipe -> mirlab/nn/weights/fcn.{pt,json}
    python -m mirlab.nn.train --all            # every recipe, two worker processes
    python -m mirlab.nn.train fcn --quick      # seconds: a tiny model on 120 clips (a check)

Each recipe of :data:`mirlab.nn.recipes.RECIPES` is trained on the ``train`` and ``valid``
splits of :data:`mirlab.nn.recipes.TRAINING_DATA` (one torch thread per worker; a recipe
trained before with the same code and data is loaded from the weights cache), scored on the
``valid`` and ``test`` splits, and written with its card by
:func:`mirlab.nn.checkpoints.write_checkpoint`. ``--quick`` writes into the cache, never over
the shipped weights, unless ``--out`` says otherwise.

Used to make the checkpoints of the music tagging and transfer learning chapters.
"""

from __future__ import annotations

import argparse
import time

from mirlab.core.env import cache_dir
from mirlab.nn.checkpoints import WEIGHTS_DIR, write_checkpoint
from mirlab.nn.recipes import RECIPES, TRAINING_DATA, load_training_data, train_recipes

__all__ = ["main", "parser"]

#: The data design of ``--quick``: 120 clips instead of 2,400.
QUICK_DATA = {**TRAINING_DATA, "n_clips": 120}


def parser() -> argparse.ArgumentParser:
    """The command line's arguments."""
    p = argparse.ArgumentParser(prog="python -m mirlab.nn.train", description=(
        "Train recipes of mirlab.nn.recipes.RECIPES on the corpus tagging data and write "
        "their weights and cards (mirlab/nn/weights)."))
    p.add_argument("recipes", nargs="*", metavar="RECIPE",
                   help=f"recipes to train: {', '.join(RECIPES)}")
    p.add_argument("--all", action="store_true", help="train every recipe")
    p.add_argument("--quick", action="store_true",
                   help="quick check: tiny models, 120 clips, written to the cache")
    p.add_argument("--workers", type=int, default=2, help="worker processes (default 2)")
    p.add_argument("--out", default=None, help="folder for the .pt and .json files "
                   "(default: mirlab/nn/weights, or the cache with --quick)")
    return p


def main(argv=None) -> dict:
    """Run the command line; returns ``name -> card``."""
    args = parser().parse_args(argv)
    names = list(RECIPES) if args.all else args.recipes
    unknown = [n for n in names if n not in RECIPES]
    if not names or unknown:
        parser().error(f"name recipes from {list(RECIPES)} or use --all; got {names}")
    design = QUICK_DATA if args.quick else TRAINING_DATA
    out = args.out or (cache_dir("weights-quick") if args.quick else WEIGHTS_DIR)
    start = time.perf_counter()
    data = load_training_data(design, progress=False)
    print(f"data: {data} ({time.perf_counter() - start:.0f} s)", flush=True)
    trained = train_recipes(names, data.subset("train"), data.subset("valid"),
                            quick=args.quick, workers=args.workers, progress=False)
    cards = {}
    for name, (model, history) in trained.items():
        card = write_checkpoint(name, model, history, data, design, folder=out)
        s = card["scores"]
        print(f"{name}: {card['weights']['n_bytes'] / 1024:.0f} KiB, trained "
              f"{card['training']['seconds']:.0f} s; valid ROC-AUC {s['valid']['roc_auc']:.3f} "
              f"PR-AUC {s['valid']['pr_auc']:.3f}; test ROC-AUC {s['test']['roc_auc']:.3f} "
              f"PR-AUC {s['test']['pr_auc']:.3f} -> {out}/{name}.pt", flush=True)
        cards[name] = card
    print(f"done in {time.perf_counter() - start:.0f} s")
    return cards


if __name__ == "__main__":
    main()
