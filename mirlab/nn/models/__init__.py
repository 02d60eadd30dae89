"""Deep music taggers in PyTorch: waveforms ``(batch, n_samples)`` -> logits ``(batch, n_tags)``.

Every model is a small :class:`~mirlab.nn.models.base.Tagger` (``nn.Module``) with its front end
inside (log-mel spectrogram or raw waveform), so it takes audio directly:

=================  ==========================================================  ================
name               idea                                                        paper
=================  ==========================================================  ================
``linear``         logistic regression on log-mel band statistics (baseline)   --
``fcn``            fully convolutional 2-D CNN on a log-mel spectrogram        Choi2016fcn
``musicnn``        timbral (vertical) + temporal (horizontal) filter shapes    Pons2018musicnn
``samplecnn``      size-3 1-D convolutions on the raw waveform                 Lee2017samplecnn
``samplecnn_se``   the same with squeeze-and-excitation gates                  Kim2018samplese
``crnn``           CNN front end + GRU back end                                Choi2017crnn
``attention``      CNN front end + transformer-encoder back end                Won2019attention
=================  ==========================================================  ================

``build(name, n_tags)`` makes one; ``scale`` multiplies the widths (1: CPU-sized, trains in
tens of seconds on two cores; 4-8: GPU-sized). ``embed(model, audio)`` turns a trained tagger
into a feature extractor (pooled activations of all layers). Training, evaluation and
chunk-wise prediction live in :mod:`mirlab.nn.training`; shipped, trained weights in
:mod:`mirlab.nn.checkpoints`.

This module needs PyTorch (``pip install mirlab[deep]``). Taught in the music tagging and
transfer learning chapters; benchmarked in :cite:`Won2020evaluation`.
"""

from __future__ import annotations

import numpy as np
import torch

from mirlab.core.checks import check_choice, check_positive, check_sr
from mirlab.nn.models.attention import AttentionTagger
from mirlab.nn.models.base import Tagger, pool_activation, pooled_over_chunks
from mirlab.nn.models.cnn import FCN, LinearTagger
from mirlab.nn.models.crnn import CRNN
from mirlab.nn.models.frontend import LogMel
from mirlab.nn.models.musicnn import Musicnn
from mirlab.nn.models.samplecnn import SampleCNN, samplecnn_se

__all__ = [
    "MODELS",
    "build",
    "embed",
    "count_parameters",
    "Tagger",
    "LogMel",
    "LinearTagger",
    "FCN",
    "Musicnn",
    "SampleCNN",
    "CRNN",
    "AttentionTagger",
    "pool_activation",
]

#: name -> constructor ``(n_tags, sr=16000, scale=1.0, ...)`` (every model takes these three
#: first, in this order)
MODELS = {
    "linear": LinearTagger,
    "fcn": FCN,
    "musicnn": Musicnn,
    "samplecnn": SampleCNN,
    "samplecnn_se": samplecnn_se,
    "crnn": CRNN,
    "attention": AttentionTagger,
}


def build(name: str, n_tags: int, *, sr: int = 16000, scale: float = 1.0,
          random_state: int | None = 0, **kwargs) -> Tagger:
    """Build a tagger by name.

    Parameters
    ----------
    name : str
        One of :data:`MODELS` (``'linear', 'fcn', 'musicnn', 'samplecnn', 'samplecnn_se',
        'crnn', 'attention'``).
    n_tags : int
        Number of outputs.
    sr : int
        Sample rate of the input audio.
    scale : float
        Width multiplier: 1 for a CPU, 4 or more for a GPU.
    random_state : int or None
        Seed of the initial weights (None: torch's global generator as it is).
    **kwargs
        Passed to the model's class (e.g. ``dropout``).

    Returns
    -------
    Tagger
        The model (on the CPU, in training mode); ``model.config`` records the arguments
        (part of the training cache key of :func:`mirlab.nn.training.train` and of the
        shipped checkpoints' cards).

    Examples
    --------
    >>> model = build("fcn", n_tags=10)
    >>> model.config["name"], count_parameters(model) < 100_000
    ('fcn', True)
    """
    check_choice(name, "name", MODELS)
    check_sr(sr)
    check_positive(scale, "scale")
    if random_state is not None:
        torch.manual_seed(random_state)
    model = MODELS[name](n_tags, sr=sr, scale=scale, **kwargs)
    model.config = {"name": name, "n_tags": int(n_tags), "sr": int(sr), "scale": float(scale),
                    "random_state": random_state, **kwargs}
    return model


def count_parameters(model: torch.nn.Module) -> int:
    """Number of trainable parameters of ``model``."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def embed(model: Tagger, audio, *, sr: int | None = None, chunk_seconds: float | None = None,
          hop_seconds: float | None = None, batch_size: int = 32, device=None,
          aggregate: str = "mean", num_threads: int | None = 1) -> np.ndarray:
    """Features of whole clips from a (trained) tagger: pooled activations of all its layers.

    Each clip is cut into chunks (as the model was trained on); :meth:`Tagger.embed` maps
    every chunk to the concatenated mean and max over time of every layer's output
    :cite:`Choi2017transfer`; the chunks' vectors are averaged (or max-pooled) per clip.

    Parameters
    ----------
    model : Tagger
    audio : np.ndarray, shape (n_clips, n_samples) or (n_samples,)
    sr : int or None
        Sample rate of ``audio``; must equal ``model.sr`` (None: assume it does).
    chunk_seconds, hop_seconds : float or None
        Chunk length and hop (None: whole clip; hop None: ``chunk_seconds``).
    batch_size : int
    device : str or None
        None: :func:`mirlab.device`.
    aggregate : {'mean', 'max'}
        How chunk vectors are combined.
    num_threads : int or None
        Torch CPU threads (see :func:`mirlab.nn.training.fit`; None: torch's setting).

    Returns
    -------
    np.ndarray, shape (n_clips, model.embedding_dim) or (embedding_dim,) for one clip

    Examples
    --------
    >>> model = build("linear", n_tags=3)
    >>> embed(model, np.zeros((2, 16000), dtype=np.float32)).shape
    (2, 384)
    """
    return pooled_over_chunks(model, lambda x: model.embed(x), audio, sr, aggregate,
                              chunk_seconds=chunk_seconds, hop_seconds=hop_seconds,
                              single_chunk=False, batch_size=batch_size, device=device,
                              num_threads=num_threads)
