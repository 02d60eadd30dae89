"""Shipped, verified checkpoints: trained weights in the package, each with its card.

Every network whose results a chapter shows is trained by one command,
``python -m mirlab.nn.train RECIPE`` (:mod:`mirlab.nn.train`), and shipped in
``mirlab/nn/weights/`` as ``<name>.pt`` (the ``state_dict``) beside ``<name>.json``, its
**card**:

=================  ===========================================================================
key                what it holds
=================  ===========================================================================
``recipe``         the recipe it was trained with (:data:`mirlab.nn.recipes.RECIPES`)
``model``          ``model.config``: architecture, ``n_tags``, ``sr``, ``scale``, seed
``data``           the data design (:data:`~mirlab.nn.recipes.TRAINING_DATA`) and its key
                   (:func:`design_key`), tags, clips per split
``code``           git commit, and the sha256 of the model's and the loop's code
``training``       seconds, epochs, kept epoch, why it stopped, device, the history per epoch
``scores``         validation and test macro ROC-AUC and PR-AUC, and how they were measured
``weights``        file, sha256, bytes, parameters
``torch``          the torch version that trained it
``retrain``        the command that trains it again
=================  ===========================================================================

:func:`pretrained` is what the chapters call: the shipped weights, checked against their card
and their recipe (a tampered or stale file raises :class:`CheckpointError` naming the command
that retrains it); with ``retrain=True`` or the environment variable ``MIRLAB_RETRAIN=1`` the
same recipe is trained from scratch instead (cached). ``tests/test_checkpoints.py`` also scores
every shipped model on the current test clips and compares with its card.

Taught in the music tagging and transfer learning chapters; needs PyTorch.
"""

from __future__ import annotations

import datetime
import io
import json
import os
from pathlib import Path

import numpy as np
import torch

from mirlab.core.cache import canonical_json
from mirlab.core.files import atomic_write_bytes, atomic_write_text, sha256_file
from mirlab.nn.models import count_parameters
from mirlab.nn.recipes import (
    RECIPES,
    TRAINING_DATA,
    load_training_data,
    recipe_model,
    train_recipe,
    train_recipes,
)
from mirlab.nn.shipping import CARD_FORMAT as SHIPPED_CARD_FORMAT
from mirlab.nn.shipping import CheckpointError, git_commit
from mirlab.nn.training import History, code_version, evaluate_tagger

__all__ = ["WEIGHTS_DIR", "SHIPPED", "EVALUATION", "TOLERANCE", "RETRAIN_ENV", "CARD_FORMAT",
           "CheckpointError", "design_key", "jsonable_recipe", "retrain_command", "read_card",
           "check_checkpoint", "load_checkpoint", "pretrained", "pretrained_all",
           "score_checkpoint", "verify_scores", "write_checkpoint", "retrain_requested"]

#: The folder of the shipped weights and cards (package data).
WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"

#: The networks the chapters show: every recipe of :data:`mirlab.nn.recipes.RECIPES`.
SHIPPED = tuple(RECIPES)

#: How the card's scores are measured: :func:`mirlab.nn.training.evaluate_tagger` with the
#: recipe's ``chunk_seconds`` and these settings (chapter 4's benchmark table).
EVALUATION = {"hop_seconds": 1.0, "aggregate": "mean"}

#: Largest difference between a card's score and the score measured now that still passes
#: (macro ROC-AUC and PR-AUC on the test split). On the same machine the scores agree to
#: 1e-6; another torch, BLAS or FluidSynth version moves them by a few thousandths.
TOLERANCE = {"roc_auc": 0.01, "pr_auc": 0.02}

#: The environment variable that makes :func:`pretrained` train instead of load.
RETRAIN_ENV = "MIRLAB_RETRAIN"

CARD_FORMAT = SHIPPED_CARD_FORMAT


def retrain_command(name: str) -> str:
    """The command that trains recipe ``name`` and writes its checkpoint and card."""
    return f"python -m mirlab.nn.train {name}"


def retrain_requested(retrain: bool | None = None) -> bool:
    """``retrain`` when given, else whether ``MIRLAB_RETRAIN`` is set to a true value."""
    if retrain is not None:
        return bool(retrain)
    return os.environ.get(RETRAIN_ENV, "").strip().lower() not in ("", "0", "false", "no")


# ----------------------------------------------------------------------------- data design
def design_key(design: dict | None = None) -> str:
    """The key of a tagging data design: what decides the clips, not their rendered samples
    (:func:`mirlab.datasets.tagging.design_key`; rendered audio differs between FluidSynth
    versions, the design does not).

    Parameters
    ----------
    design : dict or None
        Arguments of :func:`mirlab.datasets.tagging.load_tagging_dataset` (default
        :data:`mirlab.nn.recipes.TRAINING_DATA`).

    Returns
    -------
    str
        16 hexadecimal digits.
    """
    from mirlab.datasets.tagging import design_key as tagging_design_key

    design = dict(TRAINING_DATA if design is None else design)
    return tagging_design_key(**{k: v for k, v in design.items() if k != "name"})


# ----------------------------------------------------------------------------------- cards
def jsonable_recipe(name: str) -> dict:
    """Recipe ``name`` as plain data (an augmentation as its ``repr``), as a card holds it."""
    if name not in RECIPES:
        raise ValueError(f"name must be one of {sorted(RECIPES)}; got {name!r}")
    return {k: repr(v) if k == "augment" else v for k, v in RECIPES[name].items()}


def _paths(name: str, folder) -> tuple[Path, Path]:
    folder = WEIGHTS_DIR if folder is None else Path(folder)
    return folder / f"{name}.pt", folder / f"{name}.json"


def read_card(name: str, folder=None) -> dict:
    """The card of checkpoint ``name`` (see the module docstring)."""
    _, card_path = _paths(name, folder)
    try:
        return json.loads(card_path.read_text())
    except FileNotFoundError as err:
        raise CheckpointError(f"no shipped checkpoint {name!r} in {card_path.parent}; train "
                              f"it with: {retrain_command(name)}") from err
    except ValueError as err:
        raise CheckpointError(f"the card {card_path} is not valid JSON ({err}); train it "
                              f"again with: {retrain_command(name)}") from err


def check_checkpoint(name: str, folder=None, *, data_key: bool = True) -> dict:
    """Check a shipped checkpoint against its card, its recipe and the data design.

    Checks: the card's format; the sha256 of the weights file; the card's recipe against
    :data:`~mirlab.nn.recipes.RECIPES`; the card's model configuration against the model the
    recipe builds; (``data_key``) the card's data design key against :func:`design_key`.

    Returns
    -------
    dict
        The card.

    Raises
    ------
    CheckpointError
        Naming what differs and the command that retrains the checkpoint.
    """
    weights, _ = _paths(name, folder)
    card = read_card(name, folder)
    redo = f"; train it again with: {retrain_command(name)}"
    if card.get("format") != CARD_FORMAT:
        raise CheckpointError(f"checkpoint {name!r}: card format {card.get('format')!r}, "
                              f"expected {CARD_FORMAT}{redo}")
    if not weights.is_file():
        raise CheckpointError(f"checkpoint {name!r}: the weights file {weights} is missing{redo}")
    sha = sha256_file(weights)
    if sha != card["weights"]["sha256"]:
        raise CheckpointError(f"checkpoint {name!r}: the sha256 of {weights.name} is {sha[:12]}…"
                              f", its card says {card['weights']['sha256'][:12]}… (a changed "
                              f"or corrupt file){redo}")
    if name not in RECIPES:
        raise CheckpointError(f"checkpoint {name!r} has no recipe in RECIPES "
                              f"{sorted(RECIPES)}; remove it or add its recipe")
    if card["recipe"] != jsonable_recipe(name):
        changed = sorted(k for k in set(card["recipe"]) | set(jsonable_recipe(name))
                         if card["recipe"].get(k) != jsonable_recipe(name).get(k))
        raise CheckpointError(f"checkpoint {name!r} was trained with another recipe (changed: "
                              f"{changed}){redo}")
    model, _ = recipe_model(name, card["model"]["n_tags"], card["model"]["sr"],
                            random_state=card["model"]["random_state"])
    if json.loads(canonical_json(model.config)) != card["model"]:
        raise CheckpointError(f"checkpoint {name!r}: its model configuration {card['model']} "
                              f"differs from the recipe's {model.config}{redo}")
    if data_key and card["data"]["design_key"] != design_key(card["data"]["design"]):
        raise CheckpointError(f"checkpoint {name!r} was trained on another data design (its "
                              f"key {card['data']['design_key'][:12]}… differs from the "
                              f"current {design_key(card['data']['design'])[:12]}…: the clip "
                              f"design, its code or the design arguments changed){redo}")
    return card


def load_checkpoint(name: str, folder=None, *, data_key: bool = True):
    """The shipped model ``name``, checked (:func:`check_checkpoint`), in eval mode on the CPU.

    Returns
    -------
    model : Tagger
    history : History
        The training history recorded on the card (``from_cache`` is True).

    Examples
    --------
    >>> model, history = load_checkpoint("fcn")  # doctest: +SKIP
    """
    card = check_checkpoint(name, folder, data_key=data_key)
    weights, _ = _paths(name, folder)
    model, _ = recipe_model(name, card["model"]["n_tags"], card["model"]["sr"],
                            random_state=card["model"]["random_state"])
    state = torch.load(weights, map_location="cpu", weights_only=True)
    model.load_state_dict({k: v.float() if v.is_floating_point() else v
                           for k, v in state.items()})
    model.eval()
    history = History(**card["training"]["history"])
    history.from_cache, history.path = True, str(weights)
    return model, history


def score_checkpoint(model, data, name: str) -> dict:
    """Macro ROC-AUC and PR-AUC of a checkpoint's model on ``data``, measured as its card's
    scores are (:data:`EVALUATION`, the recipe's ``chunk_seconds``)."""
    result = evaluate_tagger(model, data, chunk_seconds=RECIPES[name]["chunk_seconds"],
                             **EVALUATION)
    return {"roc_auc": float(result["roc_auc"]), "pr_auc": float(result["pr_auc"])}


def verify_scores(name: str, test_set, folder=None, *, tolerance: dict | None = None) -> dict:
    """Score a shipped checkpoint on the current test clips and compare with its card.

    Parameters
    ----------
    name : str
    test_set : TaggingDataset
        The ``test`` split of the card's data design, as the data code renders it now.
    folder : path or None
        Another folder of checkpoints (default :data:`WEIGHTS_DIR`).
    tolerance : dict or None
        Largest allowed difference per score (default :data:`TOLERANCE`).

    Returns
    -------
    dict
        The scores measured now.

    Raises
    ------
    CheckpointError
        When a score differs from the card's by more than the tolerance (a stale checkpoint:
        the data or the code changed what the network computes), naming the command that
        retrains it; or when the checkpoint itself fails :func:`check_checkpoint`.
    """
    model, _ = load_checkpoint(name, folder)
    card = read_card(name, folder)
    tolerance = TOLERANCE if tolerance is None else tolerance
    got = score_checkpoint(model, test_set, name)
    off = {k: (got[k], card["scores"]["test"][k]) for k, tol in tolerance.items()
           if not abs(got[k] - card["scores"]["test"][k]) <= tol}
    if off:
        said = ", ".join(f"{k} {now:.4f} now vs {then:.4f} on the card (tolerance "
                         f"{tolerance[k]})" for k, (now, then) in off.items())
        raise CheckpointError(f"checkpoint {name!r} is stale: on the current test clips "
                              f"{said}; train it again with: {retrain_command(name)}")
    return got


def write_checkpoint(name: str, model, history: History, data, design: dict | None = None,
                     folder=None) -> dict:
    """Score a trained recipe on the validation and test splits; write its weights and card.

    Parameters
    ----------
    name : str
        The recipe (a key of :data:`~mirlab.nn.recipes.RECIPES`).
    model : Tagger
        Trained by :func:`mirlab.nn.recipes.train_recipe`.
    history : History
    data : TaggingDataset
        All splits of the data design it was trained on.
    design : dict or None
        That design (default :data:`~mirlab.nn.recipes.TRAINING_DATA`).
    folder : path or None
        Where to write (default :data:`WEIGHTS_DIR`).

    Returns
    -------
    dict
        The card.
    """
    design = dict(TRAINING_DATA if design is None else design)
    weights, card_path = _paths(name, folder)
    weights.parent.mkdir(parents=True, exist_ok=True)
    model = model.cpu().eval()
    buf = io.BytesIO()
    torch.save({k: v.detach().cpu().clone() for k, v in model.state_dict().items()}, buf)
    atomic_write_bytes(weights, buf.getvalue())
    scores = {split: score_checkpoint(model, data.subset(split), name)
              for split in ("valid", "test")}
    card = {
        "format": CARD_FORMAT,
        "name": name,
        "recipe": jsonable_recipe(name),
        "model": json.loads(canonical_json(model.config)),
        "data": {"design": design, "design_key": design_key(design), "tags": list(data.tags),
                 "clips": {s: int(np.sum(np.asarray(data.split) == s))
                           for s in ("train", "valid", "test")}},
        "code": {**git_commit(), "model_and_loop_sha256": code_version(model)},
        "training": {"seconds": round(history.total_seconds, 1), "epochs": len(history.epochs),
                     "best_epoch": history.best_epoch, "stopped": history.stopped,
                     "device": "cpu" if not torch.cuda.is_available() else "cuda",
                     "num_threads": 1, "history": history.to_dict(steps=False)},
        "scores": {**scores, "evaluation": {"function": "mirlab.nn.training.evaluate_tagger",
                                            "chunk_seconds": RECIPES[name]["chunk_seconds"],
                                            **EVALUATION}},
        "weights": {"file": weights.name, "sha256": sha256_file(weights),
                    "n_bytes": weights.stat().st_size,
                    "n_parameters": count_parameters(model)},
        "torch": torch.__version__,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "retrain": retrain_command(name),
    }
    atomic_write_text(card_path, json.dumps(card, indent=1) + "\n")
    return card


def pretrained(name: str, data=None, *, retrain: bool | None = None, quick: bool = False,
               progress: bool = True, folder=None):
    """The trained network of recipe ``name``: the shipped weights, or trained again.

    Parameters
    ----------
    name : str
        A key of :data:`~mirlab.nn.recipes.RECIPES`.
    data : TaggingDataset or None
        The training data, needed only to retrain (None: the recipe's
        :data:`~mirlab.nn.recipes.TRAINING_DATA`, loaded when needed).
    retrain : bool or None
        True: train the recipe from scratch with the same code (cached in
        ``mirlab.core.env.cache_dir("models")``, so a second call loads it); False: load the
        shipped weights; None: retrain only when ``MIRLAB_RETRAIN=1`` is set.
    quick : bool
        With retraining, the recipe's quick test mode (a tiny model, seconds).
    progress : bool
        Progress bars and a summary line.
    folder : path or None
        Another folder of checkpoints (default :data:`WEIGHTS_DIR`).

    Returns
    -------
    model : Tagger
        In evaluation mode, on the CPU.
    history : History
        The training history (from the card when loaded).

    Examples
    --------
    >>> model, history = pretrained("fcn")  # doctest: +SKIP
    >>> print(history.summary())  # doctest: +SKIP
    """
    if name not in RECIPES:
        raise ValueError(f"name must be one of {sorted(RECIPES)}; got {name!r}")
    if not retrain_requested(retrain):
        model, history = load_checkpoint(name, folder)
        if progress:
            print(f"{history.summary()} (shipped checkpoint; retrain with "
                  f"{RETRAIN_ENV}=1 or {retrain_command(name)})")
        return model, history
    data = load_training_data(progress=progress) if data is None else data
    model, history = train_recipe(name, data.subset("train"), data.subset("valid"),
                                  quick=quick, progress=progress)
    return model.cpu().eval(), history


def pretrained_all(names, data=None, *, retrain: bool | None = None, quick: bool = False,
                   workers: int | None = None, progress: bool = True) -> dict:
    """:func:`pretrained` for several recipes; retraining runs them in parallel processes.

    Parameters
    ----------
    names : sequence of str
        Keys of :data:`~mirlab.nn.recipes.RECIPES`.
    data, retrain, quick, progress
        As in :func:`pretrained`.
    workers : int or None
        Processes for retraining (:func:`mirlab.nn.recipes.train_recipes`).

    Returns
    -------
    dict
        ``name -> (model, History)``, in the order of ``names``.
    """
    names = list(names)
    if not retrain_requested(retrain):
        return {name: pretrained(name, retrain=False, progress=progress) for name in names}
    data = load_training_data(progress=progress) if data is None else data
    trained = train_recipes(names, data.subset("train"), data.subset("valid"), quick=quick,
                            workers=workers, progress=progress)
    return {name: (model.cpu().eval(), history) for name, (model, history) in trained.items()}
