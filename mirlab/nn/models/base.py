"""What every tagger shares: the ``Tagger`` base class, pooled embeddings, chunking, blocks.

A tagger maps waveforms ``(batch, n_samples)`` to logits ``(batch, n_tags)``. Subclasses
implement :meth:`Tagger.forward_all`, which returns the logits and the list of hidden
activations; :meth:`Tagger.embed` pools every activation over time (mean and max) and
concatenates them: the tagger used as a feature extractor for transfer learning.
"""

from __future__ import annotations

import contextlib
import math

import numpy as np
import torch
from torch import nn

from mirlab.core.checks import check_audio, check_positive, check_positive_int, check_sr
from mirlab.nn.models.frontend import check_waveform

__all__ = ["Tagger", "pool_activation", "chunk_starts", "conv2d_block", "evaluating",
           "torch_threads"]


def pool_activation(a: torch.Tensor) -> torch.Tensor:
    """Mean and max of an activation over every axis but the channels: ``(batch, 2 * C)``.

    ``a`` is shaped ``(batch, C, n_frames)`` or ``(batch, C, n_freq, n_frames)``.
    """
    flat = a.flatten(start_dim=2)
    return torch.cat([flat.mean(dim=2), flat.amax(dim=2)], dim=1)


class Tagger(nn.Module):
    """Base class of the taggers: waveforms in, tag logits out, pooled activations as features.

    Parameters
    ----------
    n_tags : int
        Number of outputs (one logit per tag; apply a sigmoid for probabilities).
    sr : int
        Sample rate the model expects.
    """

    #: shortest input (in samples) the model accepts; subclasses may raise it
    min_samples = 1

    def __init__(self, n_tags: int, sr: int = 16000):
        super().__init__()
        self.n_tags = check_positive_int(n_tags, "n_tags")
        self.sr = check_sr(sr)
        self.config = {"name": type(self).__name__, "n_tags": self.n_tags, "sr": self.sr}

    def forward_all(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Return ``(logits, activations)``; each activation is ``(batch, C, ...time)``."""
        raise NotImplementedError

    def check_input(self, x) -> torch.Tensor:
        """Validate ``x`` (``(batch, n_samples)``, long enough for the model)."""
        check_waveform(x)
        if x.shape[1] < self.min_samples:
            raise ValueError(
                f"x must have at least {self.min_samples} samples "
                f"({self.min_samples / self.sr:.2f} s at sr={self.sr}) for "
                f"{type(self).__name__}; got {x.shape[1]}")
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``(batch, n_tags)`` of the waveforms ``x`` ``(batch, n_samples)``."""
        return self.forward_all(self.check_input(x))[0]

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """Pooled activations of all hidden layers, concatenated: ``(batch, embedding_dim)``.

        Each layer's output is reduced to its mean and maximum over time (and frequency),
        as the all-layer features used for transfer learning :cite:`Choi2017transfer`.
        """
        _, activations = self.forward_all(self.check_input(x))
        return torch.cat([pool_activation(a) for a in activations], dim=1)

    @property
    def embedding_dim(self) -> int:
        """Length of :meth:`embed`'s output (runs the model once on silence)."""
        n = max(self.min_samples, self.sr)
        device = next(self.parameters()).device
        with evaluating(self), torch.no_grad():
            return int(self.embed(torch.zeros(1, n, device=device)).shape[1])


@contextlib.contextmanager
def torch_threads(n: int | None):
    """Use ``n`` torch threads inside the ``with`` block (None: leave the setting alone)."""
    if n is None:
        yield
        return
    previous = torch.get_num_threads()
    torch.set_num_threads(check_positive_int(n, "num_threads"))
    try:
        yield
    finally:
        torch.set_num_threads(previous)


@contextlib.contextmanager
def evaluating(model: nn.Module):
    """Put ``model`` in eval mode for the ``with`` block, then restore its previous mode."""
    was_training = model.training
    model.eval()
    try:
        yield model
    finally:
        model.train(was_training)


def chunk_starts(n_samples: int, chunk: int, hop: int) -> np.ndarray:
    """Start samples of the chunks of length ``chunk`` taken every ``hop`` samples.

    Chunks start at ``0, hop, 2 hop, ...`` while they fit in the clip; when the last chunk
    does not reach the end of the clip, one more chunk ending at the end is added, so every
    sample is covered.

    Examples
    --------
    >>> chunk_starts(10, 4, 4).tolist()
    [0, 4, 6]
    """
    chunk = check_positive_int(chunk, "chunk")
    hop = check_positive_int(hop, "hop")
    if chunk > n_samples:
        raise ValueError(f"chunk ({chunk} samples) must not be longer than the clip "
                         f"({n_samples} samples); use a shorter chunk_seconds")
    starts = np.arange(0, n_samples - chunk + 1, hop)
    if starts[-1] + chunk < n_samples:
        starts = np.append(starts, n_samples - chunk)
    return starts


def as_clips(audio, name: str = "audio") -> tuple[np.ndarray, bool]:
    """Validate clips: ``(n_samples,)`` or ``(n_clips, n_samples)`` -> float32 2-D, was_1d."""
    arr = np.asarray(audio)
    single = arr.ndim == 1
    if arr.ndim not in (1, 2):
        raise ValueError(f"{name} must have shape (n_samples,) or (n_clips, n_samples); "
                         f"got shape {arr.shape}")
    arr = arr[None] if single else arr
    if arr.shape[0] == 0:
        raise ValueError(f"{name} must hold at least one clip; got shape {arr.shape}")
    check_audio(arr[0], name)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite; got NaN or infinite values")
    return arr.astype(np.float32, copy=False), single


def chunked_apply(fn, audio: np.ndarray, sr: int, chunk_seconds: float | None,
                  hop_seconds: float | None, single_chunk: bool, batch_size: int,
                  device) -> list[np.ndarray]:
    """Apply ``fn`` (a batch of chunks -> ``(batch, dim)``) to the chunks of every clip.

    Returns one array ``(n_chunks, dim)`` per clip. ``chunk_seconds=None``: the whole clip.
    """
    n = audio.shape[1]
    if chunk_seconds is None:
        chunk = n
    else:
        chunk = int(round(check_positive(chunk_seconds, "chunk_seconds") * sr))
    hop = chunk if hop_seconds is None else int(round(check_positive(hop_seconds,
                                                                     "hop_seconds") * sr))
    batch_size = check_positive_int(batch_size, "batch_size")
    if single_chunk:
        if chunk > n:
            raise ValueError(f"chunk_seconds={chunk_seconds} is longer than the clips "
                             f"({n / sr:.2f} s)")
        starts = np.array([(n - chunk) // 2])
    else:
        starts = chunk_starts(n, chunk, max(hop, 1))
    index = np.arange(chunk)[None, :] + starts[:, None]      # (n_chunks, chunk)
    chunks = audio[:, index].reshape(-1, chunk)               # clip-major order
    outputs = []
    for begin in range(0, len(chunks), batch_size):
        batch = torch.from_numpy(np.ascontiguousarray(chunks[begin:begin + batch_size]))
        outputs.append(fn(batch.to(device)).detach().cpu().numpy())
    return list(np.concatenate(outputs).reshape(audio.shape[0], len(starts), -1))


def pooled_over_chunks(model, fn, audio, sr, aggregate: str, *, chunk_seconds, hop_seconds,
                       single_chunk: bool, batch_size: int, device, num_threads) -> np.ndarray:
    """Apply ``fn`` (a batch of chunks -> one row per chunk) to every clip and pool over chunks.

    The shared body of :func:`mirlab.nn.models.embed` and :func:`mirlab.nn.training.predict`:
    checks the model, the sample rate and ``aggregate``, runs ``fn`` in evaluation mode
    without gradients, and returns ``(n_clips, dim)`` (or ``(dim,)`` for one clip).
    """
    from mirlab.core.checks import check_choice
    from mirlab.core.env import device as default_device

    if not isinstance(model, Tagger):
        raise ValueError(f"model must be a mirlab.nn.models.Tagger; got {type(model).__name__}")
    if sr is not None and check_sr(sr) != model.sr:
        raise ValueError(f"sr={sr} differs from the model's sample rate {model.sr}; resample "
                         "the audio with mirlab.audio.resample first")
    check_choice(aggregate, "aggregate", {"mean", "max"})
    clips, single = as_clips(audio)
    device = default_device() if device is None else device
    model.to(device)
    with evaluating(model), torch.no_grad(), torch_threads(num_threads):
        per_clip = chunked_apply(fn, clips, model.sr, chunk_seconds, hop_seconds, single_chunk,
                                 batch_size, device)
    pool = np.mean if aggregate == "mean" else np.max
    out = np.stack([pool(v, axis=0) for v in per_clip])
    return out[0] if single else out


def conv2d_block(c_in: int, c_out: int, pool: tuple[int, int]) -> nn.Sequential:
    """3x3 convolution, batch normalisation, ReLU, max pooling ``pool`` (freq, time)."""
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, kernel_size=3, padding=1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(),
        nn.MaxPool2d(pool, ceil_mode=False),
    )


def scaled(width: int, scale: float) -> int:
    """A layer width multiplied by ``scale`` (at least 1)."""
    return max(1, int(math.ceil(width * scale)))
