"""Small single-label transfer tasks on corpus pieces the tagger never heard.

Learned features are tested by how well they serve a new task from few labelled examples
[1]_. Taught in ``labs/lab05_transfer_learning.ipynb``; the clips are those of
:mod:`mirlab.datasets.clips`.

References
----------
.. [1] K. Choi, G. Fazekas, M. Sandler, K. Cho, "Transfer learning for music classification
   and regression tasks", ISMIR 2017.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from mirlab.core.cache import code_sha256
from mirlab.core.checks import check_choice, check_positive, check_positive_int, check_sr
from mirlab.datasets.clips import (
    SOUNDFONTS,
    clip_renderer,
    design_clip,
    design_code_sha256,
    load_or_render,
    piece_unit,
    pieces_by_split,
    render_clips,
    soundfont_file,
    to_float,
)

FORMAT = 1  # bump when the task design changes what is produced without a change of its code

__all__ = ["TRANSFER_TASKS", "TransferTask", "load_transfer_task", "transfer_pieces"]

TRANSFER_TASKS = {
    "collection": (["bach_chorale", "essen_folk", "oneill_irish"],
                   "Which collection a clip comes from: a Bach chorale (four-part homophony), "
                   "a German folk song (Essen) or an Irish dance tune (O'Neill), each played "
                   "by randomly drawn instruments at about the score's tempo. Texture "
                   "(several voices or one) and rhythmic style decide, while timbre varies: "
                   "MFCC statistics mostly see the timbre."),
    "orchestration": (["keyboard", "string_quartet", "wind_ensemble", "choir"],
                      "How a chorale is orchestrated: one keyboard-like instrument (piano, "
                      "organ, mallets or guitar), four string instruments, a mixture of two "
                      "or three wind families (brass, reeds, flutes), or a choir of voices; "
                      "programs, levels, tempo and effects vary. A grouping of instrument "
                      "families that is no single tag: a tagger's timbre detectors should "
                      "separate it from a few examples better than average MFCCs."),
    "ensemble": (["solo", "quartet", "full_ensemble"],
                 "How large the ensemble playing a chorale is: one polyphonic instrument, four "
                 "instruments (one per part, one to four families), or every part doubled with "
                 "a bass an octave lower; families, programs, levels, tempo and effects vary. "
                 "The nearest task to the source tags (which include ensemble tags), on pieces "
                 "the tagger never heard: the case where transfer should help most."),
}


@dataclass
class TransferTask:
    """A small single-label classification task on corpus pieces unseen by the tagger.

    The clips of ``pool`` (to draw labelled examples from) and ``test`` come from disjoint
    pieces, none of them in the tagging dataset's train or test split: the 20 % of pieces held
    out of the tagging data and the tagging validation pieces (only used for early stopping).

    Attributes
    ----------
    name : str
        Key of :data:`TRANSFER_TASKS`.
    classes : list of str
        Class names; ``y`` indexes them.
    description : str
        What the task asks and why learned features should help.
    audio : np.ndarray
        float32, ``(n_clips, n_samples)``.
    sr : int
        Sample rate in Hz.
    y : np.ndarray
        int, ``(n_clips,)``.
    split : np.ndarray
        ``"pool"`` or ``"test"`` per clip.
    meta : list of dict
        Per-clip design (piece, tracks, tempo, effects).
    """

    name: str
    classes: list[str]
    description: str
    audio: np.ndarray
    sr: int
    y: np.ndarray
    split: np.ndarray
    meta: list[dict] = field(repr=False)

    def __len__(self) -> int:
        return len(self.y)

    def __repr__(self) -> str:
        return (f"TransferTask({self.name!r}: classes {self.classes}, "
                f"{int(np.sum(self.split == 'pool'))} pool and "
                f"{int(np.sum(self.split == 'test'))} test clips)")

    @property
    def test_index(self) -> np.ndarray:
        """Indices of the fixed test clips."""
        return np.flatnonzero(self.split == "test")

    def draw(self, n_per_class: int, random_state=None) -> np.ndarray:
        """Indices of ``n_per_class`` labelled pool clips per class (a learning-curve point).

        Parameters
        ----------
        n_per_class : int
            At most the number of pool clips of the rarest class.
        random_state : int or numpy.random.Generator, optional
            Which clips are drawn.

        Returns
        -------
        np.ndarray
            Sorted indices into ``audio``/``y``, ``n_per_class`` of each class.
        """
        rng = np.random.default_rng(random_state)
        available = min(int(np.sum((self.split == "pool") & (self.y == k)))
                        for k in range(len(self.classes)))
        n = check_positive_int(n_per_class, "n_per_class")
        if n > available:
            raise ValueError(f"n_per_class must be at most {available} (pool clips of the "
                             f"rarest class); got {n}")
        picks = [rng.choice(np.flatnonzero((self.split == "pool") & (self.y == k)), n,
                            replace=False) for k in range(len(self.classes))]
        return np.sort(np.concatenate(picks))


def transfer_pieces(collection: str, source: str | None, part: str) -> list[str]:
    """Pieces never trained on (the transfer pieces and the tagging validation pieces) of a
    collection, optionally of one folk source, halved into pool and test."""
    pieces = [p for split in ("transfer", "valid") for p in pieces_by_split()[(split, collection)]
              if source is None or p.split("/")[1] == source]
    half = [p for p in pieces if (piece_unit(p + "#transfer") < 0.5) == (part == "pool")]
    return half


def _design_transfer(name: str, label: int, piece_id: str, rng, clip_seconds: float) -> dict:
    if name == "collection":
        return design_clip(piece_id, rng, clip_seconds, tempo_jitter=0.15)
    if name == "orchestration":
        if label == 0:
            return design_clip(piece_id, rng, clip_seconds, ensemble="solo")
        winds = [str(f) for f in rng.choice(["brass", "reeds", "flutes"],
                                            size=int(rng.integers(2, 4)), replace=False)]
        families = (None, ["strings"], winds, ["voices"])[label]
        return design_clip(piece_id, rng, clip_seconds, ensemble="small_ensemble",
                            families=families)
    return design_clip(piece_id, rng, clip_seconds,
                        ensemble=("solo", "small_ensemble", "full_ensemble")[label])


def _transfer_sources(name: str, label: int):
    if name == "collection":
        return [("chorales", None), ("folk", "essenFolksong"), ("folk", "oneills1850")][label]
    return ("chorales", None)


def load_transfer_task(name: str, *, n_pool: int = 40, n_test: int = 60,
                       clip_seconds: float = 5.0, sr: int = 16000, soundfont="default",
                       random_state: int = 0, progress: bool = True) -> TransferTask:
    """Load (render once, then from the cache) a transfer task of :data:`TRANSFER_TASKS`.

    Parameters
    ----------
    name : {"collection", "orchestration", "ensemble"}
        The task.
    n_pool, n_test : int
        Clips per class in the labelled pool and in the test set.
    clip_seconds : float
        Length of every clip in seconds.
    sr : int
        Sample rate in Hz.
    soundfont : {"default", "musescore"} or path
        As in :func:`load_tagging_dataset`.
    random_state : int
        Seed of the clip design.
    progress : bool
        Show a progress bar while rendering.

    Returns
    -------
    TransferTask

    Examples
    --------
    >>> task = load_transfer_task("collection", n_pool=10, n_test=20)  # doctest: +SKIP
    >>> idx = task.draw(10, random_state=0)  # doctest: +SKIP
    >>> X_train, y_train = task.audio[idx], task.y[idx]  # doctest: +SKIP
    """
    check_choice(name, "name", TRANSFER_TASKS)
    n_pool = check_positive_int(n_pool, "n_pool")
    n_test = check_positive_int(n_test, "n_test")
    clip_seconds = check_positive(clip_seconds, "clip_seconds")
    sr = check_sr(sr)
    seed = check_positive_int(random_state, "random_state", minimum=0)
    if not (isinstance(soundfont, str) and soundfont in SOUNDFONTS):
        soundfont_file(soundfont)
    classes, description = TRANSFER_TASKS[name]
    params = {"format": FORMAT, "design_code": design_code_sha256(),
              "task_code": code_sha256(transfer_pieces, _design_transfer, _transfer_sources,
                                       TRANSFER_TASKS),
              "task": name, "n_pool": n_pool, "n_test": n_test, "clip_seconds": clip_seconds,
              "sr": sr, "random_state": seed, "synth": clip_renderer(soundfont)}

    def build():
        rng = np.random.default_rng([seed, len(name)])
        metas = []
        for part, n in (("pool", n_pool), ("test", n_test)):
            for label in range(len(classes)):
                pool = transfer_pieces(*_transfer_sources(name, label), part)
                ids = np.concatenate([rng.permutation(pool) for _ in range(n // len(pool) + 1)])
                for pid in ids[:n]:
                    meta = _design_transfer(name, label, str(pid),
                                            np.random.default_rng(rng.integers(2**63)),
                                            clip_seconds)
                    metas.append(dict(meta, split=part, label=label))
        q = render_clips(metas, sr, soundfont, progress, f"rendering task {name!r}")
        return q, metas

    q, metas = load_or_render(f"transfer-{name}", params, build)
    audio = to_float(q)
    return TransferTask(name=name, classes=list(classes), description=description,
                        audio=audio, sr=sr, y=np.array([m["label"] for m in metas]),
                        split=np.array([m["split"] for m in metas]), meta=metas)

