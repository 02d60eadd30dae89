"""Transfer learning, step 1: a trained tagger's layers as embeddings of clips.

A network trained on a large *source* task (multi-label tagging) has learned to detect
timbres, textures and rhythms. For a *target* task with few labels the network is kept fixed:
every clip is summarised by the pooled activations of its layers (the mean and the maximum over
time of every layer's output, concatenated: the *embedding*) :cite:`Choi2017transfer`.

Taught in the transfer learning chapter (``notebooks/05_transfer_learning``); needs PyTorch.
"""

from __future__ import annotations

import numpy as np
import torch
from tqdm.auto import tqdm

from mirlab.core.checks import check_choice, check_positive_int
from mirlab.core.env import progress_disabled
from mirlab.nn.checkpoints import pretrained
from mirlab.nn.models.base import Tagger, as_clips, evaluating, pooled_over_chunks
from mirlab.nn.recipes import RECIPES

__all__ = ["SOURCE_MODEL", "pretrained_tagger", "check_model", "layer_slices", "select_layers",
           "extract_embeddings", "project_2d"]

#: The source tagger of the transfer chapter (a key of :data:`mirlab.nn.recipes.RECIPES`).
SOURCE_MODEL = "fcn"


# ------------------------------------------------------------------------ the source model
def pretrained_tagger(name: str | None = None, *, data=None, retrain: bool | None = None,
                      quick: bool = False, progress: bool = True):
    """The source task: a tagger trained on the corpus tagging data (the shipped checkpoint).

    The music tagging chapter shows the same network: :func:`mirlab.nn.checkpoints.pretrained`
    loads its shipped weights (checked against their card), or trains the recipe again with
    ``retrain=True`` or ``MIRLAB_RETRAIN=1``.

    Parameters
    ----------
    name : str or None
        A key of :data:`mirlab.nn.recipes.RECIPES`; None: :data:`SOURCE_MODEL`.
    data : TaggingDataset or None
        The source data, used only to retrain (None: the recipe's data).
    retrain : bool or None
        See :func:`mirlab.nn.checkpoints.pretrained`.
    quick : bool
        With retraining, the recipe's quick test mode (a small model, seconds of training).
    progress : bool
        Progress bars and a one-line summary.

    Returns
    -------
    model : Tagger
        The trained tagger, in evaluation mode.
    history : mirlab.nn.training.History

    References
    ----------
    :cite:`Choi2017transfer` (source task: tagging; target tasks: small classification tasks).
    """
    name = SOURCE_MODEL if name is None else name
    check_choice(name, "name", RECIPES)
    return pretrained(name, data, retrain=retrain, quick=quick, progress=progress)


# ----------------------------------------------------------------------------- embeddings
def check_model(model) -> Tagger:
    """``model`` if it is a :class:`~mirlab.nn.models.Tagger`, else a ValueError."""
    if not isinstance(model, Tagger):
        raise ValueError(f"model must be a mirlab.nn.models.Tagger; got {type(model).__name__}")
    return model


def layer_slices(model: Tagger) -> list[slice]:
    """Columns of :func:`mirlab.nn.models.embed`'s output that come from each hidden layer.

    Layer ``i`` with ``C`` channels contributes ``2 C`` columns (mean, then max over time).

    Examples
    --------
    >>> from mirlab.nn.models import build
    >>> model = build("fcn", 3)
    >>> slices = layer_slices(model)
    >>> slices[0].start, slices[-1].stop == model.embedding_dim
    (0, True)
    """
    check_model(model)
    device = next(model.parameters()).device
    with evaluating(model), torch.no_grad():
        _, activations = model.forward_all(torch.zeros(1, max(model.min_samples, model.sr),
                                                       device=device))
    edges = np.cumsum([0, *(2 * a.shape[1] for a in activations)])
    return [slice(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:], strict=True)]


def _layer_list(layers, n_layers: int) -> list[int]:
    if isinstance(layers, str):
        check_choice(layers, "layers", ("all", "last"))
        return list(range(n_layers)) if layers == "all" else [n_layers - 1]
    single = isinstance(layers, (int, np.integer))
    chosen = [layers] if single else list(layers) if isinstance(layers, (list, tuple)) else []
    if not chosen or not all(isinstance(i, (int, np.integer)) and -n_layers <= i < n_layers
                             for i in chosen):
        raise ValueError(f"layers must be 'all', 'last', or layer indices in "
                         f"[{-n_layers}, {n_layers - 1}]; got {layers!r}")
    return [int(i) % n_layers for i in chosen]


def select_layers(embeddings, model: Tagger, layers="all") -> np.ndarray:
    """Keep the columns of the chosen layers from all-layer embeddings.

    Parameters
    ----------
    embeddings : np.ndarray, shape (n_clips, embedding_dim)
        From :func:`extract_embeddings` with ``layers="all"``.
    model : Tagger
        The model that produced them.
    layers : {'all', 'last'}, int or sequence of int
        Layer indices count from 0 (the first hidden layer); negative ones from the end.

    Returns
    -------
    np.ndarray, shape (n_clips, dim)
    """
    slices = layer_slices(model)
    E = np.asarray(embeddings)
    if E.ndim != 2 or E.shape[1] != slices[-1].stop:
        raise ValueError(f"embeddings must have shape (n_clips, {slices[-1].stop}) (the "
                         f"model's embedding_dim); got {E.shape}")
    return np.concatenate([E[:, slices[i]] for i in _layer_list(layers, len(slices))], axis=1)


def extract_embeddings(model: Tagger, audio, sr: int | None = None, *, layers="all",
                       chunk_seconds: float | None = None, hop_seconds: float | None = None,
                       aggregate: str = "mean", batch_size: int = 16,
                       progress: bool = True) -> np.ndarray:
    """Embeddings of clips: the pooled activations of a tagger's layers :cite:`Choi2017transfer`.

    Every hidden layer's output is reduced to its mean and its maximum over time (and
    frequency) per channel, and the layers are concatenated (:meth:`Tagger.embed`). A clip
    longer than ``chunk_seconds`` is cut into chunks whose vectors are averaged.

    Parameters
    ----------
    model : Tagger
        A trained tagger (its weights are not changed).
    audio : np.ndarray, shape (n_clips, n_samples)
    sr : int or None
        Sample rate of ``audio``; must equal ``model.sr`` (None: assume it does).
    layers : {'all', 'last'}, int or sequence of int
        Which layers to keep (see :func:`select_layers`).
    chunk_seconds, hop_seconds : float or None
        Chunks (None: each whole clip in one pass).
    aggregate : {'mean', 'max'}
        How the chunks of a clip are combined.
    batch_size : int
    progress : bool
        Show a progress bar over the clips.

    Returns
    -------
    np.ndarray, float32, shape (n_clips, dim)

    Examples
    --------
    >>> from mirlab.nn.models import build
    >>> model = build("fcn", n_tags=3)
    >>> x = np.random.default_rng(0).standard_normal((2, 16000)).astype(np.float32)
    >>> last = layer_slices(model)[-1]
    >>> extract_embeddings(model, x, layers="last", progress=False).shape == (2, last.stop -
    ...                                                                      last.start)
    True
    """
    check_model(model)
    clips, _ = as_clips(audio)
    block = 8 * check_positive_int(batch_size, "batch_size")
    parts = []
    for begin in tqdm(range(0, len(clips), block), desc="embeddings",
                      disable=progress_disabled(progress)):
        parts.append(pooled_over_chunks(
            model, model.embed, clips[begin:begin + block], sr, aggregate,
            chunk_seconds=chunk_seconds, hop_seconds=hop_seconds, single_chunk=False,
            batch_size=batch_size, device=None, num_threads=1))
    return select_layers(np.concatenate(parts), model, layers).astype(np.float32)


def project_2d(features, method: str = "tsne", *, random_state: int = 0) -> np.ndarray:
    """Two coordinates per clip for a scatter plot: PCA or t-SNE of standardised features.

    Parameters
    ----------
    features : np.ndarray, shape (n_clips, dim)
    method : {'tsne', 'pca'}
        t-SNE keeps neighbourhoods (clusters), PCA the directions of largest variance.
    random_state : int

    Returns
    -------
    np.ndarray, shape (n_clips, 2)
    """
    from sklearn.decomposition import PCA
    from sklearn.manifold import TSNE
    from sklearn.preprocessing import StandardScaler
    from threadpoolctl import threadpool_limits

    check_choice(method, "method", ("tsne", "pca"))
    X = np.asarray(features, dtype=np.float64)
    if X.ndim != 2 or len(X) < 5 or not np.all(np.isfinite(X)):
        raise ValueError(f"features must be a finite (n_clips, dim) array with n_clips >= 5; "
                         f"got shape {X.shape}")
    with threadpool_limits(1):  # t-SNE of a few hundred points: threads only slow it down
        X = StandardScaler().fit_transform(X)
        if method == "pca":
            return PCA(n_components=2, random_state=random_state).fit_transform(X)
        X = PCA(n_components=min(50, *X.shape), random_state=random_state).fit_transform(X)
        return TSNE(n_components=2, perplexity=min(30.0, (len(X) - 1) / 3), init="pca",
                    random_state=random_state).fit_transform(X)
