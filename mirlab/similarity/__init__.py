"""Musical similarity: metric learning for several notions of "the same".

=====================================  ===========================================================
module                                 what it holds
=====================================  ===========================================================
:mod:`mirlab.similarity.embedding`     encoders (a CNN on a log-pitch spectrogram), masks per
                                       notion, batches of classes, the triplet loss per notion
:mod:`mirlab.similarity.evaluation`    retrieval (precision@1, mAP), baselines, training dynamics
:mod:`mirlab.similarity.models`        recipes, training, scoring, shipped weights
=====================================  ===========================================================

The data (excerpts labelled by passage, instrumentation and collection) come from
:func:`mirlab.datasets.similarity.load_similarity_data`. Taught in
``notebooks/06_metric_learning.ipynb``; needs PyTorch.
"""

from mirlab.datasets.similarity import NOTIONS, load_similarity_data
from mirlab.similarity.embedding import (
    MASKS,
    ConditionalEncoder,
    Encoder,
    LogPitch,
    NotionSampler,
    NotionTripletLoss,
    embed,
)
from mirlab.similarity.evaluation import (
    BASELINES,
    baseline_embeddings,
    distance_monitor,
    distance_statistics,
    rank_lists,
    retrieval_scores,
    training_dynamics,
)
from mirlab.similarity.models import (
    RECIPES,
    build_model,
    notion_embeddings,
    pretrained,
    score_model,
    train_recipe,
)

__all__ = ["NOTIONS", "MASKS", "BASELINES", "RECIPES", "load_similarity_data", "LogPitch",
           "Encoder", "ConditionalEncoder", "NotionSampler", "NotionTripletLoss", "embed",
           "rank_lists", "retrieval_scores", "baseline_embeddings", "distance_statistics",
           "distance_monitor", "training_dynamics", "build_model", "train_recipe",
           "score_model", "notion_embeddings", "pretrained"]
