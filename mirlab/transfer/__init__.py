"""Transfer learning: a trained music tagger as a feature extractor for small target tasks.

A network trained on a large *source* task (multi-label tagging) has learned to detect
timbres, textures and rhythms. For a *target* task with only a few labelled clips, the network
is kept fixed: every clip is summarised by the pooled activations of its layers (the
*embedding*), and a shallow classifier is trained on these embeddings
:cite:`Choi2017transfer`. Learning curves over the number of labels per class compare this
with MFCC statistics (:mod:`mirlab.tagging.baselines`) and with the same network trained from
scratch, or fine-tuned, on the few labelled clips.

=================================  ==========================================================
module                             what it holds
=================================  ==========================================================
:mod:`mirlab.transfer.embeddings`  the source tagger (shipped checkpoint), pooled layer
                                   embeddings, layer columns, 2-D projections for pictures
:mod:`mirlab.transfer.probes`      shallow classifiers, draws of labelled clips, learning
                                   curves and their plot
:mod:`mirlab.transfer.networks`    networks trained on the target task (from scratch,
                                   fine-tuned) with the one training loop of :mod:`mirlab.nn`
=================================  ==========================================================

Everything is importable from ``mirlab.transfer`` itself. Taught in the transfer learning
chapter (``notebooks/05_transfer_learning``) and lab 5; needs PyTorch.
"""

from mirlab.transfer.embeddings import (
                                        SOURCE_MODEL,
                                        check_model,
                                        extract_embeddings,
                                        layer_slices,
                                        pretrained_tagger,
                                        project_2d,
                                        select_layers,
)
from mirlab.transfer.networks import (
                                        QUICK_SCRATCH,
                                        SCRATCH,
                                        fine_tune,
                                        fit_network,
                                        network_curve,
                                        predict_classes,
                                        train_from_scratch,
)
from mirlab.transfer.probes import (
                                        CLASSIFIERS,
                                        accuracy_on_draw,
                                        check_task,
                                        curve_over_draws,
                                        draw_random_state,
                                        learning_curve,
                                        make_classifier,
                                        plot_learning_curves,
                                        task_subset,
)

__all__ = [
    "SOURCE_MODEL",
    "CLASSIFIERS",
    "SCRATCH",
    "QUICK_SCRATCH",
    "pretrained_tagger",
    "check_model",
    "layer_slices",
    "select_layers",
    "extract_embeddings",
    "project_2d",
    "make_classifier",
    "check_task",
    "task_subset",
    "draw_random_state",
    "accuracy_on_draw",
    "curve_over_draws",
    "learning_curve",
    "plot_learning_curves",
    "network_curve",
    "fit_network",
    "predict_classes",
    "train_from_scratch",
    "fine_tune",
]
