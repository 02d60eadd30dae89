"""Tests of mirlab.nn.training (the one loop, bag-of-chunks prediction, the weights cache),
mirlab.nn.augment and mirlab.nn.recipes: the loop with pluggable samplers and losses on
separable synthetic problems, seeds, early stopping, the cache, input validation."""

import dataclasses

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from mirlab.core.cache import CacheWarning  # noqa: E402
from mirlab.metrics import roc_auc  # noqa: E402
from mirlab.nn import augment, models, recipes, training  # noqa: E402

SR = 8000
FREQS = (300.0, 700.0, 1500.0)


@dataclasses.dataclass
class FakeTagging:
    """The fields of mirlab.datasets.tagging.TaggingDataset that training uses."""

    audio: np.ndarray
    labels: np.ndarray
    sr: int


def tones(n_clips, seed, seconds=1.5):
    """Tags = which of three tones sound in the clip (plus noise): separable."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(SR * seconds)) / SR
    labels = (rng.random((n_clips, len(FREQS))) < 0.5).astype(np.float32)
    audio = 0.05 * rng.standard_normal((n_clips, len(t)))
    for j, f in enumerate(FREQS):
        phase = rng.uniform(0, 2 * np.pi, (n_clips, 1))
        audio += labels[:, j : j + 1] * 0.3 * np.sin(2 * np.pi * f * t + phase)
    return FakeTagging(audio.astype(np.float32), labels, SR)


@pytest.fixture(scope="module")
def data():
    return tones(48, 0), tones(24, 1)


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("MIRLAB_CACHE", str(tmp_path))
    return tmp_path


def quick(model, data, **kwargs):
    train, valid = data
    options = {"epochs": 3, "chunk_seconds": 0.6, "cache": False, "progress": False}
    return training.train(model, train, valid, **{**options, **kwargs})


# --------------------------------------------------------------------------- prediction
def test_predict_equals_manual_chunk_aggregation(rng):
    model = models.build("fcn", 3, sr=SR).eval()
    audio = rng.standard_normal((2, 3 * SR)).astype(np.float32)
    with torch.no_grad():
        probs = torch.sigmoid(model(torch.from_numpy(audio.reshape(6, SR)))).numpy()
    probs = probs.reshape(2, 3, 3)
    mean = training.predict(model, audio, SR, chunk_seconds=1.0, device="cpu")
    np.testing.assert_allclose(mean, probs.mean(axis=1), rtol=1e-5, atol=1e-6)
    top = training.predict(model, audio, SR, chunk_seconds=1.0, aggregate="max", device="cpu")
    np.testing.assert_allclose(top, probs.max(axis=1), rtol=1e-5, atol=1e-6)
    middle = training.predict(model, audio, SR, chunk_seconds=1.0, single_chunk=True,
                              device="cpu")
    np.testing.assert_allclose(middle, probs[:, 1], rtol=1e-5, atol=1e-6)
    one = training.predict(model, audio[1], SR, chunk_seconds=1.0, device="cpu")
    np.testing.assert_allclose(one, mean[1], rtol=1e-5, atol=1e-6)


def test_predict_with_overlapping_hop(rng):
    model = models.build("linear", 2, sr=SR).eval()
    audio = rng.standard_normal((1, 2 * SR)).astype(np.float32)
    out = training.predict(model, audio, SR, chunk_seconds=1.0, hop_seconds=0.5,
                           device="cpu")
    chunks = np.stack([audio[0, s : s + SR] for s in (0, SR // 2, SR)])
    with torch.no_grad():
        manual = torch.sigmoid(model(torch.from_numpy(chunks))).numpy().mean(axis=0)
    np.testing.assert_allclose(out[0], manual, rtol=1e-5, atol=1e-6)


def test_predict_bad_inputs():
    model = models.build("linear", 2, sr=SR)
    audio = np.zeros((1, SR), np.float32)
    with pytest.raises(ValueError, match="sr=16000 differs"):
        training.predict(model, audio, 16000)
    with pytest.raises(ValueError, match="aggregate"):
        training.predict(model, audio, SR, aggregate="median")
    with pytest.raises(ValueError, match="chunk.*longer than the clip"):
        training.predict(model, audio, SR, chunk_seconds=2.0)
    with pytest.raises(ValueError, match="audio must be finite"):
        training.predict(model, np.full((1, SR), np.nan, np.float32), SR)


# ------------------------------------------------------------------------ the generic loop
class PairSampler:
    """A batch sampler that is not a ChunkSampler: fixed vectors, two classes (the protocol)."""

    def __init__(self, x, y, batch_size=8):
        self.x, self.y, self.batch_size = x, y, batch_size

    def __len__(self):
        return len(self.x) // self.batch_size

    def batches(self, rng):
        order = rng.permutation(len(self.x))
        for k in range(len(self)):
            index = order[k * self.batch_size:(k + 1) * self.batch_size]
            yield torch.from_numpy(self.x[index]), torch.from_numpy(self.y[index])


def linear_problem(n=64, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 10)).astype(np.float32)
    return x, (x[:, 0] + x[:, 1] > 0).astype(np.int64)


def test_fit_takes_any_sampler_loss_and_validation():
    x, y = linear_problem()
    net = torch.nn.Linear(10, 2)
    accuracy = []

    def validate(model):
        with torch.no_grad():
            acc = float((model(torch.from_numpy(x)).argmax(1).numpy() == y).mean())
        accuracy.append(acc)
        return {"accuracy": acc}

    history = training.fit(net, PairSampler(x, y), torch.nn.CrossEntropyLoss(), epochs=15,
                           lr=0.05, validate=validate, monitor="accuracy", device="cpu",
                           progress=False)
    assert history.metric("accuracy") == accuracy
    assert history.best["accuracy"] == max(accuracy) > 0.9
    assert history.best_epoch == int(np.argmax(accuracy)) + 1     # the kept weights
    assert validate(net)["accuracy"] == max(accuracy)
    assert len(history.step_loss) == len(history.epochs) * 8
    assert not net.training
    with pytest.raises(ValueError, match="key must be one of"):
        history.metric("roc_auc")


def test_fit_without_validation_keeps_the_last_weights_and_is_reproducible():
    x, y = linear_problem()
    runs = []
    for random_state in (3, 3, 4):
        net = torch.nn.Linear(10, 2)
        torch.nn.init.zeros_(net.weight), torch.nn.init.zeros_(net.bias)
        history = training.fit(net, training.ChunkSampler(x, y, chunk=10, batch_size=8,
                                                          steps=5),
                               torch.nn.CrossEntropyLoss(), epochs=3, schedule="onecycle",
                               random_state=random_state, device="cpu", progress=False)
        assert history.best_epoch == 3 and history.valid == [] and len(history.step_loss) == 15
        runs.append(net.weight.detach().clone())
    assert torch.equal(runs[0], runs[1]) and not torch.equal(runs[0], runs[2])


def test_chunk_sampler_draws_chunks_of_the_clips():
    audio = np.arange(40, dtype=np.float32).reshape(4, 10)
    sampler = training.ChunkSampler(audio, np.eye(4), chunk=3, batch_size=3)
    batches = list(sampler.batches(np.random.default_rng(0)))
    assert len(sampler) == len(batches) == 2
    seen = []
    for x, y in batches:
        assert y.dtype == torch.float32 and x.shape[1] == 3
        for row, target in zip(x.numpy(), y.numpy(), strict=True):
            clip = int(np.argmax(target))
            assert row[0] // 10 == clip and np.array_equal(np.diff(row), [1, 1])
            seen.append(clip)
    assert sorted(seen) == [0, 1, 2, 3]                       # every clip once per epoch
    with pytest.raises(ValueError, match="chunk must be at most"):
        training.ChunkSampler(audio, np.eye(4), chunk=11)
    with pytest.raises(ValueError, match="targets must have one row per clip"):
        training.ChunkSampler(audio, np.eye(3), chunk=3)


def test_fit_bad_inputs():
    x, y = linear_problem()
    net, loss = torch.nn.Linear(10, 2), torch.nn.CrossEntropyLoss()
    sampler = PairSampler(x, y)
    with pytest.raises(ValueError, match="sampler must have"):
        training.fit(net, (x, y), loss)
    with pytest.raises(ValueError, match="monitor must name"):
        training.fit(net, sampler, loss, validate=lambda m: {"a": 1.0})
    with pytest.raises(ValueError, match="monitor='b' is not a key"):
        training.fit(net, sampler, loss, validate=lambda m: {"a": 1.0}, monitor="b",
                     epochs=1, progress=False)
    with pytest.raises(ValueError, match="schedule must be one of"):
        training.fit(net, sampler, loss, schedule="cosine")
    with pytest.raises(ValueError, match="loss must be callable"):
        training.fit(net, sampler, "bce")


# ------------------------------------------------------------------------ tagging: train
def test_training_learns_separable_tones(data):
    model = models.build("fcn", 3, sr=SR, n_fft=512, hop_length=256)  # 32 ms hop at 8 kHz
    history = quick(model, data, epochs=4)
    assert history.best["roc_auc"] > 0.9
    assert history.epochs == list(range(1, len(history.epochs) + 1))
    assert len(history.train_loss) == len(history.metric("pr_auc")) == len(history.epochs)
    assert history.train_loss[-1] < history.train_loss[0]
    scores = training.predict(model, data[1].audio, SR, chunk_seconds=0.6, device="cpu")
    assert roc_auc(data[1].labels, scores) == pytest.approx(history.best["roc_auc"])
    assert not model.training
    assert "best valid loss" in history.summary() and "roc_auc" in history.summary()


def test_random_state_makes_training_reproducible(data):
    states, threads = [], torch.get_num_threads()
    for random_state in (0, 0, 1):
        model = models.build("linear", 3, sr=SR)
        quick(model, data, epochs=1, random_state=random_state, num_threads=1)
        assert torch.get_num_threads() == threads          # restored after training
        states.append(torch.cat([p.flatten() for p in model.parameters()]))
    assert torch.equal(states[0], states[1])
    assert not torch.equal(states[0], states[2])


def test_early_stopping_and_time_budget(data):
    history = quick(models.build("linear", 3, sr=SR), data, epochs=50, patience=1, lr=1e-6)
    assert history.stopped == "early"
    assert len(history.epochs) < 50
    history = quick(models.build("linear", 3, sr=SR), data, epochs=50, max_seconds=1e-3)
    assert history.stopped == "time" and history.epochs == [1]


def test_cache_loads_instead_of_training(data, cache, monkeypatch):
    first_model = models.build("linear", 3, sr=SR)
    first = quick(first_model, data, epochs=2, cache=True)
    assert not first.from_cache and len(list((cache / "models").glob("linear-*.json"))) == 1

    def no_training(*args, **kwargs):
        raise AssertionError("trained although the weights are cached")

    monkeypatch.setattr(training, "fit", no_training)
    second_model = models.build("linear", 3, sr=SR)
    second = quick(second_model, data, epochs=2, cache=True)
    assert second.from_cache and second.metric("roc_auc") == first.metric("roc_auc")
    audio = data[1].audio
    np.testing.assert_array_equal(
        training.predict(first_model, audio, chunk_seconds=0.6, device="cpu"),
        training.predict(second_model, audio, chunk_seconds=0.6, device="cpu"))
    with pytest.raises(AssertionError, match="trained although"):
        quick(models.build("linear", 3, sr=SR), data, epochs=2, cache=True, random_state=5)


def test_corrupt_cached_weights_are_trained_again(data, cache):
    history = quick(models.build("linear", 3, sr=SR), data, epochs=1, cache=True)
    path = next((cache / "models").glob("linear-*-weights-*.bin"))
    path.write_bytes(path.read_bytes()[:100])                 # a truncated file
    with pytest.warns(CacheWarning, match="not usable"):
        again = quick(models.build("linear", 3, sr=SR), data, epochs=1, cache=True)
    assert not again.from_cache and again.metric("roc_auc") == history.metric("roc_auc")
    assert quick(models.build("linear", 3, sr=SR), data, epochs=1, cache=True).from_cache


def test_train_bad_inputs(data):
    train, valid = data
    model = models.build("linear", 3, sr=SR)
    with pytest.raises(ValueError, match="chunk_seconds"):
        training.train(model, train, valid, chunk_seconds=5.0, cache=False)
    with pytest.raises(ValueError, match="n_tags=4"):
        training.train(models.build("linear", 4, sr=SR), train, valid, cache=False)
    with pytest.raises(ValueError, match="must equal the model's sample rate 16000"):
        training.train(models.build("linear", 3), train, valid, cache=False)
    with pytest.raises(ValueError, match="valid must be a TaggingDataset"):
        training.train(model, train, valid.audio, cache=False)
    with pytest.raises(ValueError, match="augment"):
        training.train(model, train, valid, chunk_seconds=0.6, augment="noise", cache=False)
    with pytest.raises(ValueError, match="epochs"):
        training.train(model, train, valid, chunk_seconds=0.6, epochs=0, cache=False)


def test_evaluate_tagger(data):
    model = models.build("linear", 3, sr=SR)
    result = training.evaluate_tagger(model, data[1], chunk_seconds=0.6, device="cpu")
    assert result["scores"].shape == data[1].labels.shape
    assert result["roc_auc"] == pytest.approx(roc_auc(data[1].labels, result["scores"]))


# ------------------------------------------------------------------------- augmentation
def test_augmentations(rng):
    x = torch.from_numpy(np.sin(2 * np.pi * 500 * np.arange(SR) / SR)[None].repeat(4, 0)
                         .astype(np.float32))
    g = torch.Generator().manual_seed(0)
    gained = augment.RandomGain(6.0)(x, g)
    ratio_db = 20 * torch.log10(gained.abs().amax(1) / x.abs().amax(1))
    assert gained.shape == x.shape and (ratio_db.abs() <= 6.0 + 1e-4).all()
    noisy = augment.AddNoise(20.0, 20.0)(x, g)
    snr = 10 * torch.log10(x.pow(2).mean(1) / (noisy - x).pow(2).mean(1))
    assert torch.allclose(snr, torch.full_like(snr, 20.0), atol=0.5)
    fast = augment.RandomSpeed(3.0)(x, g)
    peaks = np.abs(np.fft.rfft(fast.numpy()[:, : SR // 2], axis=1)).argmax(axis=1) * 2
    assert fast.shape == x.shape
    assert np.all((peaks > 500 * 2 ** (-3 / 12) - 4) & (peaks < 500 * 2 ** (3 / 12) + 4))
    assert len(set(peaks.tolist())) > 1                    # each chunk gets its own factor
    both = augment.Compose((augment.RandomGain(), augment.AddNoise()))
    a = both(x, torch.Generator().manual_seed(1))
    b = both(x, torch.Generator().manual_seed(1))
    assert torch.equal(a, b)


def test_training_with_augmentation_runs(data):
    steps = augment.Compose((augment.RandomGain(3.0), augment.RandomSpeed(1.0)))
    history = quick(models.build("linear", 3, sr=SR), data, epochs=1, augment=steps)
    assert np.isfinite(history.train_loss[0])


# ------------------------------------------------------------------ schedules and recipes
def test_onecycle_schedule_changes_training_and_is_checked(data):
    constant = quick(models.build("linear", 3, sr=SR, random_state=0), data, schedule="constant")
    cycled = quick(models.build("linear", 3, sr=SR, random_state=0), data, schedule="onecycle")
    assert constant.train_loss != cycled.train_loss
    with pytest.raises(ValueError, match="schedule must be one of"):
        quick(models.build("linear", 3, sr=SR), data, schedule="cosine")


def test_every_model_has_a_recipe_with_train_arguments():
    assert {recipe["model"] for recipe in recipes.RECIPES.values()} == set(models.MODELS)
    assert set(models.MODELS) <= set(recipes.RECIPES)
    allowed = set(training.train_parameters()) | {"scale", "model"}
    for name, recipe in recipes.RECIPES.items():
        assert set(recipe) <= allowed, name
    with pytest.raises(ValueError, match="unknown recipe settings"):
        recipes.train_recipe("linear", tones(8, 0), tones(4, 1), quick=True, learning_rate=1.0)


def test_train_recipe_builds_and_caches(data, cache):
    model, history = recipes.train_recipe("linear", *data, quick=True, chunk_seconds=0.6,
                                           progress=False)
    assert model.n_tags == 3 and not history.from_cache
    assert model.config["scale"] == recipes.QUICK_RECIPE["scale"]
    again, cached = recipes.train_recipe("linear", *data, quick=True, chunk_seconds=0.6,
                                          progress=False)
    assert cached.from_cache
    for a, b in zip(model.state_dict().values(), again.state_dict().values(), strict=True):
        torch.testing.assert_close(a, b)
    with pytest.raises(ValueError, match="name must be one of"):
        recipes.train_recipe("resnet", *data)


@pytest.mark.filterwarnings("ignore::mirlab.metrics.SingleClassWarning")
def test_train_recipes_in_worker_processes_equals_in_process(data, cache):
    jobs = {"linear": "linear", "fcn": "fcn", "fcn, 2 epochs": ("fcn", {"epochs": 2})}
    options = {"quick": True, "chunk_seconds": 1.0, "max_seconds": None, "progress": False}
    parallel = recipes.train_recipes(jobs, *data, workers=2, **options)
    assert list(parallel) == list(jobs)
    assert all(history.from_cache for _, history in parallel.values())  # via the cache
    assert [len(parallel[k][1].epochs) for k in jobs] == [1, 1, 2]
    for label, job in jobs.items():
        name, settings = (job, {}) if isinstance(job, str) else job
        fresh, history = recipes.train_recipe(name, *data, cache=False, **options, **settings)
        assert not history.from_cache
        for a, b in zip(parallel[label][0].state_dict().values(),
                        fresh.state_dict().values(), strict=True):
            torch.testing.assert_close(a, b)
    with pytest.raises(ValueError, match="jobs must name keys of RECIPES"):
        recipes.train_recipes(["resnet"], *data)
    with pytest.raises(ValueError, match="at least one recipe"):
        recipes.train_recipes([], *data)
