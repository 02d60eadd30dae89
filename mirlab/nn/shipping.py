"""Shipped weights of any network, each with its card, checked when loaded.

The taggers of :mod:`mirlab.nn.checkpoints` have recipes of their own; the networks of the
later chapters (similarity embeddings, chroma enhancement, ...) are shipped the same way
through two functions:

- :func:`save_shipped` writes ``<folder>/<name>.pt`` (the ``state_dict``) and
  ``<folder>/<name>.json``, the **card**: the recipe and the data design it was trained
  with, the sha256 of the code that decides the network, its scores, its training history,
  the git commit, the torch version and the one command that trains it again;
- :func:`load_shipped` loads the weights into a model built by the caller, after checking
  the weights' sha256 and that the card's recipe, data design and code hash are the current
  ones. Anything else raises :class:`~mirlab.nn.checkpoints.CheckpointError` (a
  ``ValueError``) naming the command that retrains the network.

A topic package keeps its weights in its own ``weights/`` folder (package data) and tests
that each shipped network still scores, on its test data, what its card says.
"""

from __future__ import annotations

import datetime
import inspect
import io
import json
import subprocess
from pathlib import Path

import torch

from mirlab.core.cache import canonical_json
from mirlab.core.files import atomic_write_bytes, atomic_write_text, sha256_file
from mirlab.nn.models import count_parameters

__all__ = ["CARD_FORMAT", "CheckpointError", "code_hash", "git_commit", "read_shipped_card",
           "save_shipped", "load_shipped"]

CARD_FORMAT = 1


class CheckpointError(ValueError):
    """A shipped checkpoint does not match its card, its recipe or the current data."""


def git_commit() -> dict:
    """The repository's commit and whether ``mirlab/`` has uncommitted changes (or Nones)."""
    root = Path(__file__).resolve().parents[2]
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True,
                                text=True, check=True).stdout.strip()
        dirty = bool(subprocess.run(["git", "status", "--porcelain", "--", "mirlab"], cwd=root,
                                    capture_output=True, text=True, check=True).stdout.strip())
    except (OSError, subprocess.CalledProcessError):
        return {"git_commit": None, "git_dirty": None}
    return {"git_commit": commit, "git_dirty": dirty}


def code_hash(code) -> str:
    """sha256 of the source of the given modules, classes or functions, in the given order.

    Examples
    --------
    >>> len(code_hash([code_hash]))
    64
    """
    import hashlib

    h = hashlib.sha256()
    for obj in code:
        try:
            h.update(inspect.getsource(obj).encode())
        except (TypeError, OSError) as err:
            raise ValueError(f"code must hold modules, classes or functions whose source "
                             f"can be read; got {obj!r}") from err
    return h.hexdigest()


def _plain(d: dict, what: str) -> dict:
    if not isinstance(d, dict):
        raise ValueError(f"{what} must be a dict of plain (JSON) data; got {type(d).__name__}")
    try:
        return json.loads(canonical_json(d))
    except (TypeError, ValueError) as err:
        raise ValueError(f"{what} must be a dict of plain (JSON) data: {err}") from err


def _paths(name: str, folder) -> tuple[Path, Path]:
    if not isinstance(name, str) or not name or "/" in name:
        raise ValueError(f"name must be a non-empty file stem; got {name!r}")
    folder = Path(folder)
    return folder / f"{name}.pt", folder / f"{name}.json"


def save_shipped(model: torch.nn.Module, name: str, folder, *, recipe: dict, data: dict,
                 scores: dict, history=None, retrain: str, code=()) -> dict:
    """Write a trained network's weights and its card (see the module docstring).

    Parameters
    ----------
    model : torch.nn.Module
        The trained network (saved from the CPU, in eval mode).
    name : str
        File stem of the weights and the card.
    folder : path
        The topic's ``weights/`` folder.
    recipe, data : dict
        Plain data: how it was trained (settings) and the data design it was trained on.
        :func:`load_shipped` requires both to be equal to the caller's.
    scores : dict
        Plain data: its validation and test scores, and how they were measured.
    history : History or None
        The training history of :func:`mirlab.nn.training.fit`.
    retrain : str
        The one command that trains it again.
    code : sequence of modules, classes or functions
        The code that decides the network (model, loss, training); its hash is on the card.

    Returns
    -------
    dict
        The card.
    """
    if not isinstance(model, torch.nn.Module):
        raise ValueError(f"model must be a torch.nn.Module; got {type(model).__name__}")
    if not isinstance(retrain, str) or not retrain:
        raise ValueError(f"retrain must be the command that trains it again; got {retrain!r}")
    weights, card_path = _paths(name, folder)
    weights.parent.mkdir(parents=True, exist_ok=True)
    model = model.cpu().eval()
    buf = io.BytesIO()
    torch.save({k: v.detach().cpu().clone() for k, v in model.state_dict().items()}, buf)
    atomic_write_bytes(weights, buf.getvalue())
    card = {
        "format": CARD_FORMAT,
        "name": name,
        "recipe": _plain(recipe, "recipe"),
        "data": _plain(data, "data"),
        "code": {**git_commit(), "sha256": code_hash(code)},
        "training": None if history is None else {
            "seconds": round(history.total_seconds, 1), "epochs": len(history.epochs),
            "best_epoch": history.best_epoch, "stopped": history.stopped,
            "device": "cuda" if torch.cuda.is_available() else "cpu",
            "history": history.to_dict(steps=False)},
        "scores": _plain(scores, "scores"),
        "weights": {"file": weights.name, "sha256": sha256_file(weights),
                    "n_bytes": weights.stat().st_size, "n_parameters": count_parameters(model)},
        "torch": torch.__version__,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "retrain": retrain,
    }
    atomic_write_text(card_path, json.dumps(card, indent=1) + "\n")
    return card


def read_shipped_card(name: str, folder) -> dict:
    """The card of shipped network ``name`` in ``folder``.

    Raises
    ------
    CheckpointError
        When the card is missing or not valid JSON.
    """
    _, card_path = _paths(name, folder)
    try:
        return json.loads(card_path.read_text())
    except FileNotFoundError as err:
        raise CheckpointError(f"no shipped network {name!r} in {card_path.parent} (no "
                              f"{card_path.name}); train it with its command (see the "
                              f"chapter or the module's RECIPES)") from err
    except ValueError as err:
        raise CheckpointError(f"the card {card_path} is not valid JSON ({err}); train the "
                              f"network again") from err


def _differs(card_part: dict, now: dict) -> list[str]:
    return sorted(k for k in set(card_part) | set(now) if card_part.get(k) != now.get(k))


def load_shipped(model: torch.nn.Module, name: str, folder, *, recipe: dict, data: dict,
                 code=()) -> dict:
    """Load shipped weights into ``model`` (in place, eval mode) after checking its card.

    Parameters
    ----------
    model : torch.nn.Module
        Built by the caller exactly as it was for training.
    name, folder
        As given to :func:`save_shipped`.
    recipe, data : dict
        The current recipe and data design: they must equal the card's.
    code : sequence
        The current code that decides the network: its hash must equal the card's.

    Returns
    -------
    dict
        The card (its ``scores`` are what the network measured when it was trained).

    Raises
    ------
    CheckpointError
        Missing or tampered weights, or a card whose recipe, data design or code differs,
        naming what differs and the command that retrains the network.
    """
    weights, _ = _paths(name, folder)
    card = read_shipped_card(name, folder)
    redo = f"; train it again with: {card.get('retrain', '(see the chapter)')}"
    if card.get("format") != CARD_FORMAT:
        raise CheckpointError(f"network {name!r}: card format {card.get('format')!r}, "
                              f"expected {CARD_FORMAT}{redo}")
    if not weights.is_file():
        raise CheckpointError(f"network {name!r}: the weights file {weights} is missing{redo}")
    sha = sha256_file(weights)
    if sha != card["weights"]["sha256"]:
        raise CheckpointError(f"network {name!r}: the sha256 of {weights.name} is {sha[:12]}…, "
                              f"its card says {card['weights']['sha256'][:12]}… (a changed or "
                              f"corrupt file){redo}")
    for what, now in (("recipe", _plain(recipe, "recipe")), ("data", _plain(data, "data"))):
        if card[what] != now:
            raise CheckpointError(f"network {name!r} was trained with another {what} "
                                  f"(changed: {_differs(card[what], now)}){redo}")
    if card["code"]["sha256"] != code_hash(code):
        raise CheckpointError(f"network {name!r} was trained by other code (the hash of "
                              f"{[getattr(c, '__name__', repr(c)) for c in code]} changed)"
                              f"{redo}")
    state = torch.load(weights, map_location="cpu", weights_only=True)
    try:
        model.load_state_dict(state)
    except RuntimeError as err:
        raise CheckpointError(f"network {name!r}: the weights do not fit the model built "
                              f"({str(err).splitlines()[0]}){redo}") from err
    model.eval()
    return card
