"""Transfer learning: embeddings by layer, learning curves, networks on a target task."""

import numpy as np
import pytest
import torch
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from mirlab import transfer
from mirlab.datasets import tagging
from mirlab.nn.models import build, embed, pool_activation

SR = 16000


def toy_task(n_pool=6, n_test=4, n_classes=3, seconds=1.0, seed=0):
    """Classes of noise low-passed at different cut-offs, plus a tone per class."""
    rng = np.random.default_rng(seed)
    n = int(seconds * SR)
    t = np.arange(n) / SR
    audio, y, split = [], [], []
    for part, count in (("pool", n_pool), ("test", n_test)):
        for k in range(n_classes):
            for _ in range(count):
                tone = np.sin(2 * np.pi * 220 * (k + 1) * t + rng.uniform(0, 6))
                audio.append(0.3 * tone + 0.1 * rng.standard_normal(n))
                y.append(k)
                split.append(part)
    return tagging.TransferTask(
        name="toy", classes=[f"c{k}" for k in range(n_classes)], description="toy task",
        audio=np.array(audio, dtype=np.float32), sr=SR, y=np.array(y), split=np.array(split),
        meta=[{} for _ in y])


@pytest.fixture(scope="module")
def task():
    return toy_task()


@pytest.fixture(scope="module")
def model():
    return build("fcn", n_tags=5, scale=0.5, random_state=0).eval()


@pytest.fixture(scope="module")
def small():
    return tagging.load_tagging_dataset(n_clips=120, clip_seconds=3.0, progress=False)


# ----------------------------------------------------------------------------- embeddings
def test_embeddings_equal_models_embed_and_layers_are_slices(model, task):
    audio = task.audio[:10]
    all_layers = transfer.extract_embeddings(model, audio, SR, batch_size=2, progress=False)
    np.testing.assert_allclose(all_layers, embed(model, audio, sr=SR), rtol=1e-5, atol=1e-6)
    slices = transfer.layer_slices(model)
    assert slices[0].start == 0 and slices[-1].stop == all_layers.shape[1] == model.embedding_dim
    assert all(a.stop == b.start for a, b in zip(slices[:-1], slices[1:], strict=True))
    last = transfer.extract_embeddings(model, audio, SR, layers="last", progress=False)
    np.testing.assert_allclose(last, all_layers[:, slices[-1]], rtol=1e-5, atol=1e-6)
    pick = transfer.extract_embeddings(model, audio, SR, layers=[2, 0], progress=False)
    np.testing.assert_allclose(pick, np.hstack([all_layers[:, slices[2]],
                                                all_layers[:, slices[0]]]), rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(transfer.select_layers(all_layers, model, -1),
                                  transfer.select_layers(all_layers, model, "last"))


def test_layer_columns_are_mean_and_max_of_that_layer(model, task):
    x = torch.from_numpy(task.audio[:3])
    with torch.no_grad():
        _, activations = model.forward_all(x)
    E = transfer.extract_embeddings(model, task.audio[:3], SR, progress=False)
    for i, a in enumerate(activations):
        columns = transfer.select_layers(E, model, i)
        np.testing.assert_allclose(columns, pool_activation(a).numpy(), rtol=1e-4, atol=1e-5)
        C = a.shape[1]
        np.testing.assert_allclose(columns[:, :C], a.mean(dim=(2, 3)).numpy(), rtol=1e-4,
                                   atol=1e-5)


def test_layer_errors(model):
    E = np.zeros((2, model.embedding_dim))
    for layers in ("first", 4, -5, [], [0, "1"], 1.5):
        with pytest.raises(ValueError, match="layers"):
            transfer.select_layers(E, model, layers)
    with pytest.raises(ValueError, match="embeddings"):
        transfer.select_layers(E[:, :10], model)
    with pytest.raises(ValueError, match="model"):
        transfer.layer_slices(torch.nn.Linear(2, 2))
    with pytest.raises(ValueError, match="sr"):
        transfer.extract_embeddings(model, np.zeros((1, SR), np.float32), 22050)


# ------------------------------------------------------------------------ learning curves
def test_learning_curve_equals_direct_sklearn_fits(model, task):
    X = transfer.extract_embeddings(model, task.audio, SR, progress=False)
    curve = transfer.learning_curve(X, task, n_per_class=(2, 4), n_draws=3, random_state=7,
                                    progress=False)
    assert list(curve.columns) == ["n_per_class", "n_train", "accuracy", "std", "n_draws"]
    assert curve["n_train"].tolist() == [6, 12]
    test = task.test_index
    for row in curve.itertuples():
        accuracies = []
        for d in range(3):
            state = transfer.draw_random_state(7, row.n_per_class, d)
            idx = task.draw(row.n_per_class, random_state=state)
            scaler = StandardScaler().fit(X[idx])
            clf = LogisticRegression(C=transfer.CLASSIFIERS["logreg"], max_iter=5000,
                                     random_state=7).fit(scaler.transform(X[idx]), task.y[idx])
            accuracies.append(np.mean(clf.predict(scaler.transform(X[test])) == task.y[test]))
        assert row.accuracy == pytest.approx(np.mean(accuracies))
        assert row.std == pytest.approx(np.std(accuracies))


def test_learning_curve_is_deterministic_and_accepts_estimators(task, rng):
    X = rng.standard_normal((len(task.y), 8)) + task.y[:, None]
    a = transfer.learning_curve(X, task, (2, 3), n_draws=2, classifier="svm", progress=False)
    b = transfer.learning_curve(X, task, (2, 3), n_draws=2, classifier="svm", progress=False)
    assert a.equals(b)
    c = transfer.learning_curve(X, task, (2, 3), n_draws=2,
                                classifier=transfer.make_classifier("svm"), progress=False)
    np.testing.assert_allclose(a["accuracy"], c["accuracy"])
    assert a["accuracy"].min() > 1 / len(task.classes)  # well separated classes


def test_learning_curve_errors(task):
    X = np.ones((len(task.y), 3))
    with pytest.raises(ValueError, match="features"):
        transfer.learning_curve(X[:-1], task, (2,), progress=False)
    with pytest.raises(ValueError, match="features"):
        transfer.learning_curve(np.full_like(X, np.nan), task, (2,), progress=False)
    with pytest.raises(ValueError, match="n_per_class"):
        transfer.learning_curve(X, task, (7,), progress=False)
    with pytest.raises(ValueError, match="n_draws"):
        transfer.learning_curve(X, task, (2,), n_draws=0, progress=False)
    with pytest.raises(ValueError, match="task"):
        transfer.learning_curve(X, object(), (2,), progress=False)
    with pytest.raises(ValueError, match="index"):
        transfer.accuracy_on_draw(X, task, np.flatnonzero(task.y == 0)[:2])
    with pytest.raises(ValueError, match="kind"):
        transfer.make_classifier("knn")
    with pytest.raises(ValueError, match="C"):
        transfer.make_classifier("logreg", C=0)


def test_task_subset(task):
    sub = transfer.task_subset(task, n_pool=2, n_test=3)
    assert len(sub) == 3 * (2 + 3) and sub.classes == task.classes
    assert np.sum(sub.split == "test") == 9 and np.all(np.bincount(sub.y) == 5)
    first = np.flatnonzero((task.split == "pool") & (task.y == 1))[:2]
    np.testing.assert_array_equal(sub.audio[(sub.split == "pool") & (sub.y == 1)],
                                  task.audio[first])
    assert len(transfer.task_subset(task)) == len(task)
    with pytest.raises(ValueError, match="n_test"):
        transfer.task_subset(task, n_test=0)


# ----------------------------------------------------------------------- networks
def test_fit_network_is_deterministic_and_learns(task):
    audio, y = task.audio[task.split == "pool"], task.y[task.split == "pool"]
    runs = []
    for _ in range(2):
        net = build("linear", n_tags=3, random_state=0)
        history = transfer.fit_network(net, audio, y, steps=40, batch_size=8,
                                       chunk_seconds=0.5, lr=3e-2, random_state=3,
                                       device="cpu")
        runs.append(history.step_loss)
    assert runs[0] == runs[1] and len(runs[0]) == 40 and history.epochs == [1]
    assert np.mean(runs[0][-5:]) < np.mean(runs[0][:5])
    predicted = transfer.predict_classes(net, task.audio[task.test_index], SR, chunk_seconds=0.5)
    assert predicted.shape == (len(task.test_index),)
    assert np.mean(predicted == task.y[task.test_index]) > 0.5


def test_fit_network_errors(task):
    net = build("linear", n_tags=3)
    with pytest.raises(ValueError, match="y must be"):
        transfer.fit_network(net, task.audio[:2], np.array([0, 3]), steps=1)
    with pytest.raises(ValueError, match="y must be"):
        transfer.fit_network(net, task.audio[:2], np.array([0.0, 1.0]), steps=1)
    with pytest.raises(ValueError, match="chunk_seconds"):
        transfer.fit_network(net, task.audio[:2], np.array([0, 1]), steps=1, chunk_seconds=2.0)
    with pytest.raises(ValueError, match="steps"):
        transfer.fit_network(net, task.audio[:2], np.array([0, 1]), steps=0, chunk_seconds=0.5)


def test_scratch_and_fine_tuning(model, task):
    index = task.draw(2, random_state=0)
    acc = [transfer.train_from_scratch("fcn", task, index, quick=True, random_state=1)
           for _ in range(2)]
    assert acc[0] == acc[1] and 0.0 <= acc[0] <= 1.0
    before = {k: v.clone() for k, v in model.state_dict().items()}
    tuned = transfer.fine_tune(model, task, index, quick=True, random_state=1)
    assert 0.0 <= tuned <= 1.0
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert model.head.out_features == 5
    curve = transfer.network_curve(transfer.train_from_scratch, task, (2, 3), n_draws=1,
                                   progress=False, name="fcn", quick=True)
    assert curve["n_per_class"].tolist() == [2, 3] and curve["accuracy"].between(0, 1).all()
    alone = transfer.network_curve(transfer.train_from_scratch, task, (3,), n_draws=1,
                                   progress=False, name="fcn", quick=True)
    assert alone["accuracy"][0] == curve["accuracy"][1]  # seeds do not depend on the sizes
    with pytest.raises(ValueError, match="name"):
        transfer.train_from_scratch("resnet", task, index)
    with pytest.raises(ValueError, match="method"):
        transfer.network_curve("scratch", task)


def test_pretrained_tagger_loads_or_retrains_the_recipe(small, monkeypatch, tmp_path):
    monkeypatch.setenv("MIRLAB_CACHE", str(tmp_path))           # nothing trained before
    monkeypatch.setenv("MIRLAB_RETRAIN", "1")
    model, history = transfer.pretrained_tagger(data=small, quick=True, progress=False)
    assert model.config["recipe"] == transfer.SOURCE_MODEL and not history.from_cache
    assert model.n_tags == small.labels.shape[1] and history.best_epoch == 1
    monkeypatch.setenv("MIRLAB_RETRAIN", "0")
    shipped, card = transfer.pretrained_tagger(progress=False)
    assert card.from_cache and card.path.endswith(f"{transfer.SOURCE_MODEL}.pt")
    assert shipped.config["scale"] == 1.0 and not shipped.training
    with pytest.raises(ValueError, match="name"):
        transfer.pretrained_tagger("vgg", data=small)


# ----------------------------------------------------------------------- pictures
def test_project_2d(rng):
    X = rng.standard_normal((20, 6)) * np.arange(1, 7)
    P = transfer.project_2d(X, "pca")
    expected = PCA(2, random_state=0).fit_transform(StandardScaler().fit_transform(X))
    np.testing.assert_allclose(np.abs(P), np.abs(expected), atol=1e-8)
    T = transfer.project_2d(X, "tsne", random_state=0)
    assert T.shape == (20, 2) and np.allclose(T, transfer.project_2d(X, "tsne", random_state=0))
    with pytest.raises(ValueError, match="method"):
        transfer.project_2d(X, "umap")
    with pytest.raises(ValueError, match="features"):
        transfer.project_2d(X[:3])


def test_plot_learning_curves():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd

    curves = pd.DataFrame({"method": ["a", "a", "b"], "n_per_class": [2, 10, 10],
                           "accuracy": [0.5, 0.8, 0.6], "std": [0.1, 0.05, 0.0]})
    ax = transfer.plot_learning_curves(curves, chance=1 / 3)
    assert [line.get_label() for line in ax.get_lines()] == ["a", "b", "chance"]
    np.testing.assert_array_equal(ax.get_lines()[0].get_ydata(), [0.5, 0.8])
    assert [t.get_text() for t in ax.get_xticklabels()] == ["2", "10"]
    plt.close(ax.figure)
    with pytest.raises(ValueError, match="std"):
        transfer.plot_learning_curves(curves.drop(columns="std"))
