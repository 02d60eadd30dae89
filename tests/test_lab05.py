"""Lab 5 (a pre-trained tagger as a feature extractor): the checks pass plain solutions, name
typical mistakes (the notebook in both versions: test_lab_notebooks.py)."""

from __future__ import annotations

import nbformat
import numpy as np
import pytest
import torch
from nbtools import REPO

from mirlab import labs
from mirlab.datasets.tagging import TRANSFER_TASKS
from mirlab.labs import LabCheckError
from mirlab.labs import transfer_learning as checks

LAB05 = REPO / "labs" / "lab05_transfer_learning.ipynb"
EXERCISES = ["pooled_embedding", "clip_embeddings", "few_shot", "learning_curve"]


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny fits and tiny models: one BLAS and one torch thread are the fastest."""
    from threadpoolctl import threadpool_limits

    from mirlab.nn.models.base import torch_threads

    with threadpool_limits(1), torch_threads(1):
        yield


# --- solutions written plainly, and typical mistakes ----------------------------------------

def pooled(activations, stats=("mean", "max"), axes="all", last_only=False, by_stat=False):
    layers = activations[-1:] if last_only else activations
    parts = []
    for a in layers:
        if axes == "time":
            flat = a.reshape(a.shape[0], -1, a.shape[-1])                 # (batch, C*F, T)
        else:
            flat = a.reshape(a.shape[0], a.shape[1], -1)
        reduce_dim = 1 if axes == "channels" else 2
        values = {"mean": flat.mean(dim=reduce_dim), "max": flat.max(dim=reduce_dim).values}
        parts.append([values[s] for s in stats])
    if by_stat:
        return torch.cat([p[i] for i in range(len(stats)) for p in parts], dim=1)
    return torch.cat([v for p in parts for v in p], dim=1)


def clip_embeddings(model, audio, sr, chunk_seconds, hop_seconds, evaluate=True, whole=False,
                    pool=np.mean, end_chunk=True, one_by_one=False):
    if evaluate:
        model.eval()
    chunk, hop = int(round(chunk_seconds * sr)), int(round(hop_seconds * sr))
    n = audio.shape[1]
    if whole:
        starts, chunk = [0], n
    elif end_chunk:
        starts = checks.chunk_starts(n, chunk, hop)
    else:
        starts = range(0, n - chunk + 1, hop)
    rows = []
    with torch.no_grad():
        for clip in audio:
            x = torch.as_tensor(np.stack([clip[s:s + chunk] for s in starts]), dtype=torch.float32)
            e = torch.cat([model.embed(c[None]) for c in x]) if one_by_one else model.embed(x)
            rows.append(pool(e.numpy(), axis=0))
    return np.stack(rows)


def few_shot(X, task, n_per_class, random_state, C, scaler="train", train_on="train",
             standardise=True, use_C=True, percent=False):
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    train, test = task.draw(n_per_class, random_state=random_state), task.test_index
    fit_idx = test if train_on == "test" else train
    scaler_idx = {"train": train, "test": test, "all": np.arange(len(task))}[scaler]
    scale = StandardScaler().fit(X[scaler_idx]) if standardise else None

    def t(Z):
        return scale.transform(Z) if scale is not None else Z

    clf = LogisticRegression(C=C if use_C else 1.0, max_iter=2000).fit(t(X[fit_idx]),
                                                                       task.y[fit_idx])
    acc = clf.score(t(X[test]), task.y[test])
    return 100 * acc if percent else acc


def few_shot_pipeline(X, task, n_per_class, random_state, C):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    train = task.draw(n_per_class, random_state=random_state)
    clf = make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=500))
    clf.fit(X[train], task.y[train])
    return clf.score(X[task.test_index], task.y[task.test_index])


def curve(X, task, sizes, n_draws, C, seed=lambda j: j):
    return np.array([[few_shot(X, task, n, seed(j), C) for j in range(n_draws)] for n in sizes])


def test_plain_solutions_pass(capsys):
    checks.check_pooled_embedding(pooled)
    checks.check_clip_embeddings(clip_embeddings)
    checks.check_few_shot(few_shot)
    checks.check_few_shot(few_shot_pipeline)
    checks.check_learning_curve(curve)
    assert capsys.readouterr().out.count("passed") == 5


def test_pooled_embedding_reference_is_the_models_embed():
    """The check's reference and its mistake builder agree with Tagger.embed."""
    for case, acts, ref in checks._activation_cases():
        assert np.allclose(checks._pool(acts), ref.numpy(), atol=1e-6), case
        assert np.allclose(pooled(acts).numpy(), ref.numpy(), atol=1e-6), case


MISTAKES = [
    (checks.check_pooled_embedding, lambda a: pooled(a, axes="channels"), ["channel axis"]),
    (checks.check_pooled_embedding, lambda a: pooled(a, axes="time"), ["over time only"]),
    (checks.check_pooled_embedding, lambda a: pooled(a, stats=("mean",)), ["only the mean"]),
    (checks.check_pooled_embedding, lambda a: pooled(a, last_only=True), ["only the last layer"]),
    (checks.check_pooled_embedding, lambda a: pooled(a, by_stat=True),
     ["all the means and then all the maxima"]),
    (checks.check_pooled_embedding, lambda a: pooled(a).T, ["transposed"]),
    (checks.check_clip_embeddings, lambda *a: clip_embeddings(*a, evaluate=False),
     ["training mode", "model.eval()"]),
    (checks.check_clip_embeddings, lambda *a: clip_embeddings(*a, evaluate=False,
                                                              one_by_one=True),
     ["still in training mode", "model.eval()"]),
    (checks.check_clip_embeddings, lambda *a: clip_embeddings(*a, whole=True),
     ["whole clip at once"]),
    (checks.check_clip_embeddings, lambda *a: clip_embeddings(*a, pool=np.max),
     ["maximum over the chunks"]),
    (checks.check_clip_embeddings, lambda *a: clip_embeddings(*a, end_chunk=False),
     ["dropped the last chunk"]),
    (checks.check_clip_embeddings, lambda *a: clip_embeddings(*a).mean(axis=0),
     ["expected shape (3, "]),
    (checks.check_few_shot, lambda *a: few_shot(*a, scaler="test"), ["on the test clips", "leaks"]),
    (checks.check_few_shot, lambda *a: few_shot(*a, scaler="all"), ["leaks the test set"]),
    (checks.check_few_shot, lambda *a: few_shot(*a, train_on="test"),
     ["trained the classifier on the test clips"]),
    (checks.check_few_shot, lambda *a: few_shot(*a, standardise=False), ["not standardised"]),
    (checks.check_few_shot, lambda *a: few_shot(*a, use_C=False), ["ignored C"]),
    (checks.check_few_shot, lambda *a: few_shot(*a, percent=True), ["percentage"]),
    (checks.check_few_shot, lambda X, t, n, s, C: few_shot(X, t, n, None, C),
     ["same random_state"]),
    (checks.check_few_shot, lambda *a: None, ["returned None"]),
    (checks.check_learning_curve, lambda X, t, s, n, C: curve(X, t, s, n, C, seed=lambda j: 0),
     ["same labelled clips"]),
    (checks.check_learning_curve, lambda *a: curve(*a).T, ["transposed"]),
]


@pytest.mark.parametrize("check, wrong, phrases", MISTAKES,
                         ids=[f"{c.exercise}-{i}" for i, (c, _, _) in enumerate(MISTAKES)])
def test_checks_name_typical_mistakes(check, wrong, phrases):
    with pytest.raises(LabCheckError) as info:
        check(wrong)
    message = str(info.value)
    for phrase in phrases:
        assert phrase in message, f"{phrase!r} not in:\n{message}"


def test_every_listed_mistake_differs_from_the_reference():
    """A hint can only fire on a wrong answer: no mistake's output equals the reference."""
    def distinct(mistakes, ref):
        for m in mistakes:
            out = np.asarray(m.output)
            assert out.shape != ref.shape or not np.allclose(out, ref, atol=1e-6), m.hint

    for _, acts, ref in checks._activation_cases():
        distinct(checks._pooling_mistakes(acts), ref.numpy())
    audio = np.random.default_rng(4).normal(0.0, 0.1, (3, 40000)).astype(np.float32)
    model = checks._toy_model()
    for chunk_s, hop_s in ((1.0, 1.0), (1.0, 0.5)):
        ref = checks.reference_embed(model, audio, sr=16000, chunk_seconds=chunk_s,
                                     hop_seconds=hop_s)
        distinct(checks._clip_mistakes(model, audio, 16000, chunk_s, hop_s), ref)
    X, task = checks.toy_task()
    distinct(checks._few_shot_mistakes(X, task),
             checks._accuracies(checks.few_shot_reference, X, task))


def _results(gain_on_first: float, shape=(3, 2)):
    good = np.full(shape, 0.6)
    return {"a": {"embedding": good + gain_on_first, "mfcc": good},
            "b": {"embedding": good - 0.1, "mfcc": good}}


def test_learning_curve_check_reads_the_labs_results():
    sizes = (2, 10, 20)
    checks.check_learning_curve(curve, results=_results(0.1), sizes=sizes, n_draws=2,
                                require_gain=True)
    checks.check_learning_curve(curve, results=_results(-0.1), sizes=sizes, n_draws=2)
    with pytest.raises(LabCheckError, match="does not beat the MFCC"):
        checks.check_learning_curve(curve, results=_results(-0.1), sizes=sizes, n_draws=2,
                                    require_gain=True)
    with pytest.raises(LabCheckError, match=r"has shape \(2, 3\)"):
        checks.check_learning_curve(curve, results=_results(0.1, shape=(2, 3)), sizes=sizes,
                                    n_draws=2)
    with pytest.raises(LabCheckError, match="must include 10"):
        checks.check_learning_curve(curve, results=_results(0.1, shape=(2, 2)), sizes=(2, 5),
                                    n_draws=2, require_gain=True)
    with pytest.raises(LabCheckError, match=r"must hold a 'mfcc' curve"):
        checks.check_learning_curve(curve, results={"a": {"embedding": np.ones((3, 2))}},
                                    sizes=sizes, n_draws=2)


def test_subset_task_keeps_classes_and_splits():
    X, task = checks.toy_task()
    small = checks.subset_task(task, n_pool=4, n_test=7, random_state=1)
    assert small.classes == task.classes
    for k in range(len(task.classes)):
        assert np.sum((small.split == "pool") & (small.y == k)) == 4
        assert np.sum((small.split == "test") & (small.y == k)) == 7
    assert len(small.audio) == len(small.y) == len(small.meta) == 33
    assert small.draw(4, random_state=0).size == 12
    with pytest.raises(ValueError, match="n_pool"):
        checks.subset_task(task, n_pool=0, n_test=7)


def test_toy_task_needs_standardisation_and_has_a_shifted_test_set():
    X, task = checks.toy_task()
    spread = X.std(axis=0)
    assert spread[4:].min() > 2 * spread[:4].max()
    pool, test = X[task.split == "pool", :4], X[task.split == "test", :4]
    assert abs(test.mean() - pool.mean()) > 0.3


def test_lab05_registers_four_exercises(capsys):
    assert labs.exercises_of("lab05") == EXERCISES
    lab = labs.Lab("lab05")
    lab.check("few_shot", checks.check_few_shot, few_shot)
    lab.check("pooled_embedding", checks.check_pooled_embedding,
              lambda a: pooled(a, last_only=True))
    assert lab.status()["few_shot"] == "passed"
    assert lab.status()["pooled_embedding"] == "failed"
    lab.report()
    assert "1 of 4 exercises passed" in capsys.readouterr().out


# --- the notebook ---------------------------------------------------------------------------

# (both versions run in test_lab_notebooks.py)

def test_lab05_never_names_a_task():
    full = "".join(c.source for c in nbformat.read(LAB05, as_version=4).cells)
    for name in TRANSFER_TASKS:  # tasks are iterated, never named in the notebook
        assert f'"{name}"' not in full
