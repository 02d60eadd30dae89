"""Train and ship the chroma-enhancement networks: ``python -m mirlab.alignment.train NAME``.

``--all`` trains all. One recipe per way of training (:data:`RECIPES`, names ``ctc``,
``strong``, ``linear``, ``softdtw``; see :mod:`mirlab.alignment.enhancement`). Each trains
a :class:`ChromaNet` with :func:`mirlab.nn.training.fit` on the melody excerpts of the
training pieces (a recording per piece of another draw than the database's), keeps the epoch
with the best mean reciprocal rank of theme retrieval on the validation pieces, scores it once
on the test pieces and writes its weights and card to ``mirlab/alignment/weights/``
(:func:`mirlab.nn.shipping.save_shipped`). :func:`load` reads a shipped network back,
checking its card.

Taught in ``notebooks/07_alignment.ipynb``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from mirlab.alignment import enhancement
from mirlab.alignment.enhancement import (
    TARGETS,
    ChromaNet,
    ExcerptSampler,
    make_loss,
)
from mirlab.alignment.themes import Database, load_database
from mirlab.datasets import themes as theme_data
from mirlab.datasets.themes import DESIGN, split_pieces, training_excerpts
from mirlab.nn.shipping import load_shipped, save_shipped
from mirlab.nn.training import fit

__all__ = ["RECIPES", "WEIGHTS", "DATA", "check_pieces", "retrain_command", "train", "load",
           "main", "training_data", "train_and_ship"]

WEIGHTS = Path(__file__).parent / "weights"
BASE = {"width": 8, "batch_size": 16, "lr": 3e-3, "epochs": 4, "excerpt_notes": 8,
        "train_seed": 1, "random_state": 0, "monitor": "mrr"}
RECIPES = {kind: {**BASE, "kind": kind} for kind in TARGETS}
DATA = {**DESIGN, "train": "train split, chorales + folk", "valid": "valid split",
        "test": "test split", "database_seed": 0}


def retrain_command(name: str) -> str:
    """The one command that trains network ``name`` again."""
    return f"python -m mirlab.alignment.train {name}"


def _recipe(name: str) -> dict:
    if name not in RECIPES:
        raise ValueError(f"name must be one of {sorted(RECIPES)}; got {name!r}")
    return RECIPES[name]


def _code():
    return (enhancement, theme_data)


def check_pieces() -> list[str]:
    """The test pieces the shipped-weights test re-scores (every fourth, a quick check)."""
    return split_pieces("test")[::4]


def training_data(name: str, progress: bool = True):
    """``(features, excerpts)`` of the training pieces for network ``name`` (about a minute)."""
    recipe = _recipe(name)
    return training_excerpts(split_pieces("train"), seed=recipe["train_seed"],
                             n_notes=recipe["excerpt_notes"], progress=progress)


def train(name: str, valid: Database | None = None, data=None, progress: bool = True,
          verbose: bool = False):
    """Train network ``name`` of :data:`RECIPES`; return ``(model, history)``.

    Parameters
    ----------
    name : str
        One of :data:`RECIPES`.
    valid : Database, optional
        The validation database (default: :func:`load_database` ``("valid")``).
    data : tuple, optional
        :func:`training_data` (default: built here).
    progress, verbose : bool
        A progress bar; a line per epoch.
    """
    recipe = _recipe(name)
    features, excerpts = training_data(name, progress) if data is None else data
    sampler = ExcerptSampler(features, excerpts, recipe["kind"], recipe["batch_size"])
    valid = load_database("valid") if valid is None else valid
    model = ChromaNet(width=recipe["width"])
    history = fit(model, sampler, make_loss(recipe["kind"]), epochs=recipe["epochs"],
                  lr=recipe["lr"], validate=lambda m: _scores(valid.evaluate(m)),
                  monitor=recipe["monitor"], random_state=recipe["random_state"],
                  device="cpu", progress=progress, verbose=verbose, name=name)
    return model, history


def _scores(metrics: dict) -> dict:
    return {k: round(float(metrics[k]), 4) for k in ("top1", "top10", "mrr")}


def train_and_ship(name: str, valid=None, test=None, check=None, data=None,
                   verbose: bool = True) -> dict:
    """Train ``name``, score it on validation, test and the check pieces, ship it; its card."""
    model, history = train(name, valid, data, verbose=verbose)
    valid = load_database("valid") if valid is None else valid
    test = load_database("test") if test is None else test
    check = Database(check_pieces()) if check is None else check
    scores = {"valid": _scores(valid.evaluate(model)), "test": _scores(test.evaluate(model)),
              "check": _scores(check.evaluate(model)),
              "how": "theme retrieval, subsequence DTW on pooled chroma, correct = any "
                     "recording of the query's melody group; check = every fourth test piece",
              "n_test": len(test.piece_ids), "n_check": len(check.piece_ids)}
    return save_shipped(model, name, WEIGHTS, recipe=_recipe(name), data=DATA, scores=scores,
                        history=history, retrain=retrain_command(name), code=_code())


def load(name: str) -> tuple[ChromaNet, dict]:
    """The shipped network ``name`` and its card (:func:`mirlab.nn.shipping.load_shipped`).

    Raises
    ------
    mirlab.nn.checkpoints.CheckpointError
        When the weights are missing or do not match the card, the recipe, the data design or
        the code; the message names the command that retrains it.
    """
    recipe = _recipe(name)
    model = ChromaNet(width=recipe["width"])
    card = load_shipped(model, name, WEIGHTS, recipe=recipe, data=DATA, code=_code())
    return model, card


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mirlab.alignment.train",
                                     description="Train and ship chroma-enhancement networks.")
    parser.add_argument("names", nargs="*", help=f"networks to train: {sorted(RECIPES)}")
    parser.add_argument("--all", action="store_true", help="train every network")
    args = parser.parse_args(argv)
    names = sorted(RECIPES) if args.all else args.names
    if not names:
        parser.error("give a network name or --all")
    for n in names:
        _recipe(n)
    valid, test = load_database("valid"), load_database("test")
    check = Database(check_pieces())
    data = {}
    for n in names:
        key = (RECIPES[n]["train_seed"], RECIPES[n]["excerpt_notes"])
        if key not in data:
            data[key] = training_data(n)
        card = train_and_ship(n, valid, test, check, data[key])
        print(f"{n}: {card['training']['seconds']} s, valid {card['scores']['valid']}, "
              f"test {card['scores']['test']}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
