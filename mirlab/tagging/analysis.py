"""Looking at trained taggers: comparison tables, tag scores over time, curves, texture bias.

The music tagging chapter loads every network of :data:`mirlab.nn.recipes.RECIPES` and then
asks the same questions of each: how well does it rank the clips of every tag (ROC-AUC, PR-AUC),
what does it say chunk by chunk, how much does it lose when the instruments' samples change,
and does it answer questions about the *score* (tempo) by listening to the *instruments*
(the texture bias of CNNs :cite:`Geirhos2019texture`)? This module holds the code behind those
answers so that the chapter's cells stay short:

- :data:`MODEL_NOTES`, :func:`ordered_models`, :func:`model_overview`: the models in the
  order of the syllabus, what their front and back ends are, their sizes;
- :func:`evaluate_models`, :func:`benchmark_rows`, :func:`shift_rows`: scores of many models
  on a dataset, and the tables built from them;
- :func:`chunk_scores`, :func:`cls_attention`: what a model says about each chunk of a clip,
  and where a self-attention back end looks;
- :func:`plot_tag_matrix`, :func:`plot_roc_pr`, :func:`filter_shapes` and
  :func:`plot_filter_shapes`: figures;
- :func:`texture_vs_content`, :func:`texture_rows`: how much a tag's score moves with the
  content of the music versus with its orchestration (clips from
  :func:`mirlab.datasets.tagging.render_orchestrations`).

Taught in ``notebooks/04_music_tagging.ipynb``; needs PyTorch (``pip install mirlab[deep]``).
"""

from __future__ import annotations

import warnings

import numpy as np

from mirlab.core.checks import check_matrix, check_positive, check_sr

__all__ = [
    "SYLLABUS_ORDER",
    "MODEL_NOTES",
    "ordered_models",
    "model_overview",
    "evaluate_models",
    "benchmark_rows",
    "shift_rows",
    "chunk_scores",
    "cls_attention",
    "plot_tag_matrix",
    "plot_roc_pr",
    "plot_filter_shapes",
    "texture_vs_content",
    "texture_rows",
    "filter_shapes",
]

#: The order in which the chapter (and the lecture's benchmark table) presents the models.
SYLLABUS_ORDER = ("linear", "fcn", "musicnn", "samplecnn", "samplecnn_se", "crnn", "attention")

#: Per model: the paper (and its key in book/references.bib), input, front end, back end.
MODEL_NOTES = {
    "linear": dict(paper="", key="", input="log-mel", front="none (band mean and max)",
                   back="logistic regression"),
    "fcn": dict(paper="Choi et al. 2016", key="Choi2016fcn", input="log-mel",
                front="3x3 conv blocks, 2x2 pooling", back="global max pool + linear"),
    "musicnn": dict(paper="Pons et al. 2018", key="Pons2018musicnn", input="log(1 + C mel)",
                    front="timbral (tall) + temporal (long) filters",
                    back="1-D residual mid end, mean/max pool, dense"),
    "samplecnn": dict(paper="Lee et al. 2017", key="Lee2017samplecnn", input="waveform",
                      front="size-3 1-D convs, pooling by 3", back="global max pool + linear"),
    "samplecnn_se": dict(paper="Kim et al. 2018", key="Kim2018samplese", input="waveform",
                         front="size-3 1-D convs + squeeze-excitation gates",
                         back="global max pool + linear"),
    "crnn": dict(paper="Choi et al. 2017", key="Choi2017crnn", input="log-mel",
                 front="3x3 conv blocks (mel axis to 1)", back="2-layer GRU, last state"),
    "attention": dict(paper="Won et al. 2019", key="Won2019attention", input="log-mel",
                      front="3x3 conv blocks (mel axis to 1)",
                      back="transformer encoder, [CLS] token"),
}


def ordered_models(names) -> list[str]:
    """Model names in :data:`SYLLABUS_ORDER`; names it does not know come last, sorted.

    Examples
    --------
    >>> ordered_models(["crnn", "new", "fcn"])
    ['fcn', 'crnn', 'new']
    """
    names = [str(n) for n in names]
    known = [n for n in SYLLABUS_ORDER if n in names]
    return known + sorted(n for n in names if n not in SYLLABUS_ORDER)


def model_overview(names, n_tags: int, *, sr: int = 16000, scales=None) -> list[dict]:
    """One table row per model: input, front end, back end, paper key, trainable parameters.

    Parameters
    ----------
    names : iterable of str
        Keys of :data:`mirlab.nn.models.MODELS`.
    n_tags : int
        Number of outputs (the parameter count depends on it).
    sr : int
        Sample rate of the models.
    scales : dict or None
        Width multiplier per name (e.g. from :data:`mirlab.nn.recipes.RECIPES`); default 1.

    Returns
    -------
    list of dict
        Keys ``model, input, front end, back end, paper, parameters`` (for
        :func:`mirlab.plotting.table`).
    """
    from mirlab.nn.models import build, count_parameters

    rows = []
    for name in names:
        notes = MODEL_NOTES.get(name, dict(paper="", input="?", front="?", back="?"))
        scale = (scales or {}).get(name, 1.0)
        model = build(name, n_tags, sr=sr, scale=scale, random_state=0)
        rows.append({"model": name, "input": notes["input"], "front end": notes["front"],
                     "back end": notes["back"], "paper": notes["paper"] or "-",
                     "parameters": f"{count_parameters(model):,}"})
    return rows


def evaluate_models(taggers: dict, data, chunk_seconds=None, **predict_kwargs) -> dict:
    """Evaluate several taggers on one dataset with :func:`mirlab.nn.training.evaluate_tagger`.

    Tags with one class in ``data`` (possible in small splits) are left out of the averages
    without a warning.

    Parameters
    ----------
    taggers : dict
        Name -> trained :class:`~mirlab.nn.models.Tagger`.
    data : TaggingDataset
    chunk_seconds : float, dict or None
        Chunk length for all models, or per name (e.g. the recipes' ``chunk_seconds``);
        None: each clip in one pass.
    **predict_kwargs
        Passed to :func:`mirlab.nn.training.predict` (``single_chunk``, ``aggregate``, ...).

    Returns
    -------
    dict
        Name -> ``{"roc_auc", "pr_auc", "scores"}``.
    """
    from mirlab.metrics import SingleClassWarning
    from mirlab.nn.training import evaluate_tagger

    if isinstance(chunk_seconds, dict) and set(taggers) - set(chunk_seconds):
        raise ValueError(f"chunk_seconds must give a chunk length for every model; missing "
                         f"{sorted(set(taggers) - set(chunk_seconds))}")
    out = {}
    for name, model in taggers.items():
        chunk = chunk_seconds[name] if isinstance(chunk_seconds, dict) else chunk_seconds
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SingleClassWarning)
            out[name] = evaluate_tagger(model, data, chunk_seconds=chunk, **predict_kwargs)
    return out


def benchmark_rows(scores: dict, parameters: dict | None = None,
                   seconds: dict | None = None) -> list[dict]:
    """Rows of a benchmark table: model, ROC-AUC, PR-AUC, parameters, training time.

    Parameters
    ----------
    scores : dict
        Name -> dict with ``roc_auc`` and ``pr_auc`` (e.g. from :func:`evaluate_models`).
    parameters, seconds : dict or None
        Name -> number of trainable parameters / training time in seconds ("-" if missing).

    Returns
    -------
    list of dict
        In the order of ``scores``; the best ROC-AUC and PR-AUC are set in bold.

    Examples
    --------
    >>> benchmark_rows({"a": {"roc_auc": 0.9, "pr_auc": 0.5}})[0]["ROC-AUC"]
    '**0.900**'
    """
    if not scores:
        raise ValueError("scores must hold at least one model; got an empty dict")
    best = {k: max(s[k] for s in scores.values()) for k in ("roc_auc", "pr_auc")}

    def cell(name, key):
        value = f"{scores[name][key]:.3f}"
        return f"**{value}**" if scores[name][key] == best[key] else value

    rows = []
    for name in scores:
        n = (parameters or {}).get(name)
        t = (seconds or {}).get(name)
        rows.append({"model": name, "ROC-AUC": cell(name, "roc_auc"),
                     "PR-AUC": cell(name, "pr_auc"),
                     "parameters": "-" if n is None else f"{int(n):,}",
                     "training time (s)": "-" if t is None else f"{t:.1f}"})
    return rows


def shift_rows(before: dict, after: dict) -> list[dict]:
    """Rows comparing scores on two test sets (e.g. two soundfonts): values and drops.

    Parameters
    ----------
    before, after : dict
        Name -> dict with ``roc_auc`` and ``pr_auc``; the names of ``before`` are used.

    Returns
    -------
    list of dict
        Keys ``model``, ``ROC-AUC``, ``ROC-AUC shifted``, ``ROC-AUC drop`` and the same for
        PR-AUC; a drop is ``before - after`` (positive: worse after the shift).
    """
    missing = set(before) - set(after)
    if missing:
        raise ValueError(f"after must score every model of before; missing {sorted(missing)}")
    rows = []
    for name in before:
        row = {"model": name}
        for key, label in (("roc_auc", "ROC-AUC"), ("pr_auc", "PR-AUC")):
            b, a = before[name][key], after[name][key]
            row.update({label: f"{b:.3f}", f"{label} shifted": f"{a:.3f}",
                        f"{label} drop": f"{b - a:+.3f}"})
        rows.append(row)
    return rows


def chunk_scores(model, y, sr: int | None = None, *, chunk_seconds: float = 2.0,
                 hop_seconds: float | None = None):
    """Tag probabilities of every chunk of one clip: what the bag of chunks averages.

    Parameters
    ----------
    model : Tagger
    y : np.ndarray, shape (n_samples,)
        One clip.
    sr : int or None
        Its sample rate (must equal ``model.sr``; None: assume it does).
    chunk_seconds, hop_seconds : float
        Chunks as in :func:`mirlab.nn.training.predict` (hop None: no overlap).

    Returns
    -------
    times : np.ndarray, shape (n_chunks,)
        Centre of each chunk in seconds.
    scores : np.ndarray, shape (n_tags, n_chunks)
        Probabilities; their mean over chunks is ``predict(model, y, ...)``.
    """
    from mirlab.nn.models.base import as_clips, chunk_starts
    from mirlab.nn.training import predict

    clip, single = as_clips(y, "y")
    if not single:
        raise ValueError(f"y must be one clip, shape (n_samples,); got shape {np.shape(y)}")
    if sr is not None and check_sr(sr) != model.sr:
        raise ValueError(f"sr={sr} differs from the model's sample rate {model.sr}; resample "
                         "the audio with mirlab.audio.resample first")
    rate = model.sr
    chunk = int(round(check_positive(chunk_seconds, "chunk_seconds") * rate))
    hop = chunk if hop_seconds is None else int(round(check_positive(hop_seconds,
                                                                     "hop_seconds") * rate))
    starts = chunk_starts(clip.shape[1], chunk, max(hop, 1))
    chunks = np.stack([clip[0, s:s + chunk] for s in starts])
    scores = predict(model, chunks, sr, chunk_seconds=None)   # one pass per chunk
    return (starts + chunk / 2) / rate, scores.T


def cls_attention(model, y, sr: int | None = None, *, layer: int = -1):
    """Attention of the ``[CLS]`` summary to each time step of one chunk.

    Parameters
    ----------
    model : AttentionTagger
        A tagger with a self-attention back end :cite:`Won2019attention`.
    y : np.ndarray, shape (n_samples,)
        One chunk (as long as the model was trained on).
    sr : int or None
        Sample rate (must equal ``model.sr``; None: assume it does).
    layer : int
        Which self-attention layer (default: the last).

    Returns
    -------
    times : np.ndarray, shape (n_steps,)
        Centre of each step of the front end's output sequence, in seconds.
    weights : np.ndarray, shape (n_steps,)
        Attention weights (averaged over heads) from ``[CLS]`` to each step; with the
        weight ``[CLS]`` gives itself, they sum to 1.
    """
    import torch

    from mirlab.nn.models.base import as_clips, evaluating

    if not hasattr(model, "attention_maps"):
        raise ValueError(f"model must have a self-attention back end (attention_maps); got "
                         f"{type(model).__name__}")
    clip, single = as_clips(y, "y")
    if not single:
        raise ValueError(f"y must be one chunk, shape (n_samples,); got shape {np.shape(y)}")
    if sr is not None and check_sr(sr) != model.sr:
        raise ValueError(f"sr={sr} differs from the model's sample rate {model.sr}")
    device = next(model.parameters()).device
    with evaluating(model), torch.no_grad():
        maps = model.attention_maps(torch.from_numpy(clip).to(device))
    weights = maps[layer][0, 0, 1:].cpu().numpy()
    times = (np.arange(len(weights)) + 0.5) * clip.shape[1] / model.sr / len(weights)
    return times, weights


def filter_shapes(model) -> list[tuple[str, int, int]]:
    """Shapes of the first-layer 2-D filters of a spectrogram tagger.

    Returns
    -------
    list of (label, n_bands, n_frames)
        One entry per filter shape: the first ``Conv2d`` of the model, or every branch of a
        Musicnn-style front end (``"... on the band average"`` for its temporal filters).
    """
    import torch

    branches = getattr(model, "front", None)
    if isinstance(branches, torch.nn.ModuleList) and all(hasattr(b, "conv") for b in branches):
        return [(f"{b.conv.kernel_size[0]} x {b.conv.kernel_size[1]}"
                 + (" on the band average" if b.average else ""), *b.conv.kernel_size)
                for b in branches]
    convs = [m for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
    if not convs:
        raise ValueError(f"model must have 2-D convolutions (a spectrogram tagger); "
                         f"{type(model).__name__} has none")
    h, w = convs[0].kernel_size
    return [(f"{h} x {w}", h, w)]


def plot_filter_shapes(mel, shapes, *, sr: int, hop_length: int, ax=None, title=None):
    """Draw filter shapes (bands x frames) to scale on a log-mel spectrogram.

    Parameters
    ----------
    mel : np.ndarray, shape (n_mels, n_frames)
        Log-mel spectrogram (dB), e.g. what a model's ``melspec`` front end computes.
    shapes : dict
        Model name -> list of ``(label, n_bands, n_frames)`` (from :func:`filter_shapes`).
    sr, hop_length : int
        For the time axis in seconds.
    ax : matplotlib Axes, optional
    title : str, optional

    Returns
    -------
    matplotlib Axes
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    mel = check_matrix(mel, "mel")
    ax = ax if ax is not None else plt.subplots(figsize=(10, 3.5))[1]
    step = hop_length / check_sr(sr)
    ax.imshow(mel, origin="lower", aspect="auto", cmap="gray_r",
              extent=(-step / 2, (mel.shape[1] - 0.5) * step, -0.5, mel.shape[0] - 0.5))
    x, colours = 0.2, plt.rcParams["axes.prop_cycle"].by_key()["color"]
    k = 0
    for model, entries in shapes.items():
        for label, height, width in entries:
            colour = colours[k % len(colours)]
            y0 = mel.shape[0] - 1.5 if "average" in label else 0.5
            ax.add_patch(Rectangle((x, y0), width * step, max(height, 1), fill=False, lw=2,
                                   edgecolor=colour, label=f"{model}: {label}"))
            x, k = x + width * step + 0.15, k + 1
    ax.set(xlabel="Time (s)", ylabel="mel band", title=title or "Filter shapes, to scale")
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize="small")
    return ax


def plot_tag_matrix(M, tags, columns, *, truth=None, ax=None, vmin=0.0, vmax=1.0,
                    cmap="viridis", annotate: bool = False, colorbar: bool = True,
                    title=None):
    """Heat map of one value per tag and column (chunks, models, orchestrations ...).

    Parameters
    ----------
    M : np.ndarray, shape (n_tags, n_columns)
        Values (e.g. probabilities or per-tag ROC-AUC).
    tags : list of str
        Row names.
    columns : list of str or np.ndarray
        Column labels (numbers are written with two decimals, e.g. chunk times).
    truth : np.ndarray, shape (n_tags,) or (n_tags, n_columns), optional
        0/1 ground truth: its positive cells are outlined in red.
    ax : matplotlib Axes, optional
    vmin, vmax : float
        Colour range.
    cmap : str
    annotate : bool
        Write each value in its cell.
    colorbar : bool
    title : str, optional

    Returns
    -------
    matplotlib Axes
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    M = check_matrix(M, "M")
    if len(tags) != M.shape[0] or len(columns) != M.shape[1]:
        raise ValueError(f"tags and columns must name the {M.shape[0]} rows and {M.shape[1]} "
                         f"columns of M; got {len(tags)} and {len(columns)} names")
    ax = ax if ax is not None else plt.subplots(figsize=(1 + 0.6 * M.shape[1], 4.5))[1]
    image = ax.imshow(M, aspect="auto", cmap=cmap, vmin=vmin, vmax=vmax)
    labels = [f"{c:.2f}" if isinstance(c, (float, np.floating)) else str(c) for c in columns]
    ax.set_xticks(range(M.shape[1]), labels, rotation=45 if M.shape[1] > 3 else 0, ha="right")
    ax.set_yticks(range(M.shape[0]), list(tags))
    if truth is not None:
        T = np.broadcast_to(np.asarray(truth).reshape(M.shape[0], -1), M.shape)
        for i, j in zip(*np.nonzero(T), strict=True):
            ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, edgecolor="red", lw=2))
    if annotate:
        for (i, j), value in np.ndenumerate(M):
            ax.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize="x-small",
                    color="w" if value < (vmin + vmax) / 2 else "k")
    if colorbar:
        ax.figure.colorbar(image, ax=ax)
    if title:
        ax.set_title(title)
    return ax


def plot_roc_pr(y_true, y_score, tags, selected, *, axes=None):
    """ROC and precision-recall curves of a few tags, with what a random scorer gets.

    Parameters
    ----------
    y_true, y_score : np.ndarray, shape (n_clips, n_tags)
        0/1 ground truth and scores.
    tags : list of str
        Column names.
    selected : list of str
        Tags to draw (each needs positive and negative clips).
    axes : pair of matplotlib Axes, optional

    Returns
    -------
    pair of matplotlib Axes
        ROC curves (left; chance: the diagonal) and PR curves (right; chance: a horizontal
        line at the tag's prevalence). The legends give the areas, as
        :func:`mirlab.metrics.roc_auc` and :func:`mirlab.metrics.pr_auc` compute them.
    """
    import matplotlib.pyplot as plt
    from sklearn.metrics import precision_recall_curve, roc_curve

    from mirlab.metrics import pr_auc, roc_auc

    y_true, y_score = check_matrix(y_true, "y_true"), check_matrix(y_score, "y_score")
    if y_true.shape != y_score.shape or len(tags) != y_true.shape[1]:
        raise ValueError(f"y_true and y_score must have the same shape (n_clips, {len(tags)} "
                         f"tags); got {y_true.shape} and {y_score.shape}")
    axes = axes if axes is not None else plt.subplots(1, 2, figsize=(10, 4))[1]
    for tag in selected:
        if tag not in tags:
            raise ValueError(f"selected must name tags of {list(tags)}; got {tag!r}")
        t, s = y_true[:, [list(tags).index(tag)]], y_score[:, [list(tags).index(tag)]]
        fpr, tpr, _ = roc_curve(t[:, 0], s[:, 0])
        line, = axes[0].plot(fpr, tpr, label=f"{tag}: ROC-AUC {roc_auc(t, s):.3f}")
        precision, recall, _ = precision_recall_curve(t[:, 0], s[:, 0])
        axes[1].step(recall, precision, where="post", color=line.get_color(),
                     label=f"{tag}: PR-AUC {pr_auc(t, s):.3f}")
        axes[1].axhline(t.mean(), color=line.get_color(), ls=":", lw=1)
    axes[0].plot([0, 1], [0, 1], "k:", lw=1, label="random scores")
    axes[0].set(xlabel="false positive rate (1 - specificity)",
                ylabel="true positive rate (recall)", title="ROC curves")
    axes[1].set(xlabel="recall", ylabel="precision", ylim=(0, 1.05),
                title="Precision-recall curves (dotted: prevalence)")
    for ax in axes:
        ax.legend(fontsize="small")
    return axes


def texture_vs_content(scores) -> dict:
    """How far one tag's score moves with the music's content and with its orchestration.

    Parameters
    ----------
    scores : np.ndarray, shape (n_contents, n_orchestrations)
        A tag's score for every combination, e.g. rows: the same passage at a slow and at a
        fast tempo; columns: orchestrations.

    Returns
    -------
    dict
        ``content``: the mean over orchestrations of the range (max - min) across contents;
        ``texture``: the mean over contents of the range across orchestrations. For a tag the
        score decides (tempo), a tagger without texture bias has a large ``content`` and a
        small ``texture`` value.

    Examples
    --------
    >>> texture_vs_content([[0.1, 0.2], [0.9, 0.6]])
    {'content': 0.6, 'texture': 0.2}
    """
    P = check_matrix(scores, "scores")
    if P.shape[0] < 2 or P.shape[1] < 2:
        raise ValueError(f"scores must have at least 2 contents and 2 orchestrations; got "
                         f"shape {P.shape}")
    content = float(np.mean(P.max(axis=0) - P.min(axis=0)))
    texture = float(np.mean(P.max(axis=1) - P.min(axis=1)))
    return {"content": round(content, 12), "texture": round(texture, 12)}


def texture_rows(scores: dict, tags, selected) -> list[dict]:
    """Table rows of :func:`texture_vs_content` for several models and tags.

    Parameters
    ----------
    scores : dict
        Model name -> array ``(n_contents, n_orchestrations, n_tags)`` of probabilities.
    tags : list of str
        Names of the last axis.
    selected : list of str
        Tags to report.

    Returns
    -------
    list of dict
        Per model: ``"<tag>: content"`` and ``"<tag>: orchestration"`` for each selected tag.
    """
    rows = []
    for name, S in scores.items():
        S = np.asarray(S, dtype=float)
        if S.ndim != 3 or S.shape[2] != len(tags):
            raise ValueError(f"scores[{name!r}] must have shape (n_contents, "
                             f"n_orchestrations, {len(tags)}); got {S.shape}")
        row = {"model": name}
        for tag in selected:
            effect = texture_vs_content(S[:, :, list(tags).index(tag)])
            row.update({f"{tag}: content": f"{effect['content']:.2f}",
                        f"{tag}: orchestration": f"{effect['texture']:.2f}"})
        rows.append(row)
    return rows
