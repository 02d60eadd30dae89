"""The similarity networks of the chapter: recipes, training, scoring, shipped weights.

Each recipe of :data:`RECIPES` names a network (:class:`~mirlab.similarity.embedding.Encoder`
or :class:`~mirlab.similarity.embedding.ConditionalEncoder`), the notions it is trained on
and its settings. :func:`train_recipe` trains it with the one training loop
(:func:`mirlab.nn.training.fit`: batches of :class:`~mirlab.similarity.embedding.NotionSampler`,
:class:`~mirlab.similarity.embedding.NotionTripletLoss`, validation mAP on the valid pieces);
:func:`score_model` measures it on the test pieces; :func:`pretrained` loads the shipped weights
(checked against their card by :func:`mirlab.nn.shipping.load_shipped`). Retrain one with
``python -m mirlab.similarity.train NAME`` (or ``--all``).

Taught in ``notebooks/06_metric_learning.ipynb``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mirlab.core.checks import check_choice
from mirlab.datasets.similarity import NOTIONS, SIZES, load_similarity_data
from mirlab.nn.shipping import load_shipped, save_shipped
from mirlab.nn.training import fit
from mirlab.similarity import embedding, evaluation, triplet
from mirlab.similarity.embedding import (
    ConditionalEncoder,
    Encoder,
    NotionSampler,
    NotionTripletLoss,
    embed,
)
from mirlab.similarity.evaluation import distance_statistics, retrieval_scores

__all__ = ["RECIPES", "WEIGHTS", "build_model", "data_design", "train_recipe", "score_model",
           "pretrained", "ship", "notion_embeddings"]

WEIGHTS = Path(__file__).resolve().parent / "weights"
_COMMON = dict(dim=64, width=16, margin=0.2, mining="batch_hard", lr=1e-3, epochs=30,
               steps=40, chunk_seconds=2.5, random_state=0, patience=10)
# Several notions in one network: batch-hard mining sat at the margin (loss 0.201 for 20
# epochs, valid mAP falling) on the validation pieces; semi-hard mining, 20 epochs of 60 steps.
_CONDITIONAL = dict(_COMMON, notions=list(NOTIONS), mining="semi_hard", epochs=20, steps=60)
_PM = {"passage": (8, 4), "instrumentation": (8, 4), "collection": (3, 10)}

#: name -> settings: ``model`` ("encoder" or a mask kind of ConditionalEncoder), ``notions``.
RECIPES = {
    "passage": dict(_COMMON, model="encoder", notions=["passage"]),
    "instrumentation": dict(_COMMON, model="encoder", notions=["instrumentation"]),
    "collection": dict(_COMMON, model="encoder", notions=["collection"]),
    "masked": dict(_CONDITIONAL, model="learned", mask_l1=5e-4),
    "fixed_masks": dict(_CONDITIONAL, model="fixed"),
    "unmasked": dict(_CONDITIONAL, model="none"),
}
QUICK = dict(epochs=2, steps=3, width=4, dim=12)


def recipe_of(name: str, quick: bool = False) -> dict:
    """The settings of recipe ``name`` (``quick``: tiny and short, for tests)."""
    check_choice(name, "name", RECIPES)
    return dict(RECIPES[name], **(QUICK if quick else {}))


def build_model(recipe: dict, sr: int = 16000):
    """The untrained network of a recipe (seeded by its ``random_state``)."""
    import torch

    torch.manual_seed(recipe["random_state"])
    if recipe["model"] == "encoder":
        return Encoder(recipe["dim"], sr, recipe["width"])
    return ConditionalEncoder(recipe["notions"], recipe["dim"], recipe["model"], sr,
                              recipe["width"], recipe["random_state"])


def data_design(quick: bool = False) -> dict:
    """The data a recipe trains on: :func:`load_similarity_data`'s size and settings."""
    size = "quick" if quick else "default"
    return {"loader": "load_similarity_data", "size": size, **SIZES[size],
            "clip_seconds": 3.0, "sr": 16000, "random_state": 0}


def _load(quick: bool, progress: bool):
    return load_similarity_data("quick" if quick else "default", progress=progress)


def notion_embeddings(model, audio, notion: str) -> np.ndarray:
    """The embedding of ``audio`` that ``model`` offers for ``notion``."""
    return embed(model, audio, notion if isinstance(model, ConditionalEncoder) else None)


def _validator(model_notions, data):
    def validate(model) -> dict:
        device = str(next(model.parameters()).device)
        if isinstance(model, ConditionalEncoder):
            E = embed(model, data.audio, "all", device=device)
            per = {n: E[:, model.notion_index(n)] for n in model_notions}
        else:
            E = embed(model, data.audio, device=device)
            per = {n: E for n in model_notions}
        scores = {n: retrieval_scores(per[n], data.notion(n))["map"] for n in model_notions}
        out = {f"map_{n}": v for n, v in scores.items()}
        for n in model_notions:  # training dynamics: mean distances of positives, negatives
            stats = distance_statistics(per[n], data.notion(n))
            out.update({f"{k}_{n}": v for k, v in stats.items()})
        return {**out, "mean_map": float(np.mean(list(scores.values())))}
    return validate


def train_recipe(name: str, data=None, *, quick: bool = False, progress: bool = True,
                 verbose: bool = False, **overrides):
    """Train recipe ``name`` on the train pieces, keeping the epoch of best valid mAP.

    Parameters
    ----------
    name : str
        A key of :data:`RECIPES`.
    data : SimilarityData or None
        None: :func:`load_similarity_data` of the recipe's size.
    quick : bool
        A tiny network trained for seconds (tests).
    overrides
        Settings that replace the recipe's (e.g. ``lr=0.05`` to watch a collapse).

    Returns
    -------
    model, history
    """
    recipe = dict(recipe_of(name, quick), **overrides)
    data = _load(quick, progress) if data is None else data
    train, valid = data.subset("train"), data.subset("valid")
    notions = recipe["notions"]
    model = build_model(recipe, data.sr)
    p_m = {n: _PM[n] for n in notions}
    if quick:
        p_m = {n: (min(p, 3), min(m, 3)) for n, (p, m) in p_m.items()}
    sampler = NotionSampler(train.audio, {n: train.notion(n) for n in notions},
                            chunk=int(recipe["chunk_seconds"] * data.sr),
                            p={n: v[0] for n, v in p_m.items()},
                            m={n: v[1] for n, v in p_m.items()}, steps=recipe["steps"])
    loss = NotionTripletLoss(recipe["margin"], recipe["mining"], model,
                             recipe.get("mask_l1", 0.0))
    history = fit(model, sampler, loss, epochs=recipe["epochs"], lr=recipe["lr"],
                  validate=_validator(notions, valid), monitor="mean_map",
                  patience=recipe["patience"], random_state=recipe["random_state"],
                  progress=progress, verbose=verbose, name=f"similarity {name}")
    return model, history


def score_model(model, data, notions=NOTIONS, split: str = "test") -> dict:
    """Precision@1 and mAP per notion on the excerpts of ``split``."""
    part = data.subset(split)
    return {n: {k: round(v, 4) for k, v in retrieval_scores(
        notion_embeddings(model, part.audio, n), part.notion(n)).items() if k != "n_queries"}
        for n in notions}


#: the code whose hash is on each card: the networks, the batches, the loss, the scoring
CODE = (embedding.LogPitch, embedding.Encoder, embedding.ConditionalEncoder,
        embedding.NotionSampler, embedding.NotionTripletLoss, triplet.pairwise_distances,
        triplet.batch_hard_triplet_loss, triplet.semi_hard_triplet_loss, build_model,
        evaluation.retrieval_scores, evaluation.rank_lists)


def ship(name: str, *, quick: bool = False, progress: bool = True, folder=WEIGHTS) -> dict:
    """Train recipe ``name``, score it on valid and test, and write its weights and card."""
    data = _load(quick, progress)
    model, history = train_recipe(name, data, quick=quick, progress=progress, verbose=progress)
    recipe = recipe_of(name, quick)
    scores = {"valid": score_model(model, data, split="valid"),
              "test": score_model(model, data, split="test"),
              "measured": "leave-one-out retrieval by cosine distance among the excerpts of "
                          "the split (mirlab.similarity.evaluation.retrieval_scores)"}
    return save_shipped(model, name, folder, recipe=recipe, data=data_design(quick),
                        scores=scores, history=history,
                        retrain=f"python -m mirlab.similarity.train {name}", code=CODE)


def pretrained(name: str, *, folder=WEIGHTS):
    """The shipped network of recipe ``name`` (weights checked against its card).

    Returns
    -------
    model, card
    """
    recipe = recipe_of(name)
    model = build_model(recipe)
    card = load_shipped(model, name, folder, recipe=recipe, data=data_design(), code=CODE)
    return model, card
