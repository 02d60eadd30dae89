"""Tests of mirlab.nn.training: bag-of-chunks prediction, the training loop on a separable
synthetic problem, the checkpoint cache, seeds, augmentations and input validation."""

import dataclasses

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from mirlab.metrics import roc_auc  # noqa: E402
from mirlab.nn import models, training  # noqa: E402

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


# ----------------------------------------------------------------------------- training
def test_training_learns_separable_tones(data):
    model = models.build("fcn", 3, sr=SR, n_fft=512, hop_length=256)  # 32 ms hop at 8 kHz
    history = quick(model, data, epochs=4)
    assert history.best_roc_auc > 0.9
    assert history.epochs == list(range(1, len(history.epochs) + 1))
    assert len(history.train_loss) == len(history.valid_pr_auc) == len(history.epochs)
    assert history.train_loss[-1] < history.train_loss[0]
    scores = training.predict(model, data[1].audio, SR, chunk_seconds=0.6, device="cpu")
    assert roc_auc(data[1].labels, scores) == pytest.approx(history.best_roc_auc)
    assert not model.training
    assert "best valid ROC-AUC" in history.summary()


def test_seed_makes_training_reproducible(data):
    states, threads = [], torch.get_num_threads()
    for seed in (0, 0, 1):
        model = models.build("linear", 3, sr=SR)
        quick(model, data, epochs=1, seed=seed, num_threads=1)
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
    assert not first.from_cache and len(list((cache / "models").glob("*.pt"))) == 1

    def no_training(*args, **kwargs):
        raise AssertionError("trained although the checkpoint is cached")

    monkeypatch.setattr(training, "_fit", no_training)
    second_model = models.build("linear", 3, sr=SR)
    second = quick(second_model, data, epochs=2, cache=True)
    assert second.from_cache and second.valid_roc_auc == first.valid_roc_auc
    audio = data[1].audio
    np.testing.assert_array_equal(
        training.predict(first_model, audio, chunk_seconds=0.6, device="cpu"),
        training.predict(second_model, audio, chunk_seconds=0.6, device="cpu"))
    with pytest.raises(AssertionError, match="trained although"):
        quick(models.build("linear", 3, sr=SR), data, epochs=2, cache=True, seed=5)


def test_corrupt_checkpoint_is_trained_again(data, cache):
    history = quick(models.build("linear", 3, sr=SR), data, epochs=1, cache=True)
    path = next((cache / "models").glob("*.pt"))
    path.write_bytes(path.read_bytes()[:100])                 # a truncated file
    with pytest.warns(RuntimeWarning, match="unusable.*training again"):
        again = quick(models.build("linear", 3, sr=SR), data, epochs=1, cache=True)
    assert not again.from_cache and again.valid_roc_auc == history.valid_roc_auc
    assert quick(models.build("linear", 3, sr=SR), data, epochs=1, cache=True).from_cache


def test_train_bad_inputs(data):
    train, valid = data
    model = models.build("linear", 3, sr=SR)
    with pytest.raises(ValueError, match="chunk_seconds"):
        training.train(model, train, valid, chunk_seconds=5.0, cache=False)
    with pytest.raises(ValueError, match="n_tags=4"):
        training.train(models.build("linear", 4, sr=SR), train, valid, cache=False)
    with pytest.raises(ValueError, match="train.sr=8000 differs"):
        training.train(models.build("linear", 3), train, valid, cache=False)
    with pytest.raises(ValueError, match="valid must be a TaggingDataset"):
        training.train(model, train, valid.audio, cache=False)
    with pytest.raises(ValueError, match="augment"):
        training.train(model, train, valid, chunk_seconds=0.6, augment="noise", cache=False)
    with pytest.raises(ValueError, match="epochs"):
        training.train(model, train, valid, chunk_seconds=0.6, epochs=0, cache=False)


def test_evaluate(data):
    model = models.build("linear", 3, sr=SR)
    result = training.evaluate(model, data[1], chunk_seconds=0.6, device="cpu")
    assert result["scores"].shape == data[1].labels.shape
    assert result["roc_auc"] == pytest.approx(roc_auc(data[1].labels, result["scores"]))


# ------------------------------------------------------------------------- augmentation
def test_augmentations(rng):
    x = torch.from_numpy(np.sin(2 * np.pi * 500 * np.arange(SR) / SR)[None].repeat(4, 0)
                         .astype(np.float32))
    g = torch.Generator().manual_seed(0)
    gained = training.RandomGain(6.0)(x, g)
    ratio_db = 20 * torch.log10(gained.abs().amax(1) / x.abs().amax(1))
    assert gained.shape == x.shape and (ratio_db.abs() <= 6.0 + 1e-4).all()
    noisy = training.AddNoise(20.0, 20.0)(x, g)
    snr = 10 * torch.log10(x.pow(2).mean(1) / (noisy - x).pow(2).mean(1))
    assert torch.allclose(snr, torch.full_like(snr, 20.0), atol=0.5)
    fast = training.RandomSpeed(3.0)(x, g)
    peaks = np.abs(np.fft.rfft(fast.numpy()[:, : SR // 2], axis=1)).argmax(axis=1) * 2
    assert fast.shape == x.shape
    assert np.all((peaks > 500 * 2 ** (-3 / 12) - 4) & (peaks < 500 * 2 ** (3 / 12) + 4))
    assert len(set(peaks.tolist())) > 1                    # each chunk gets its own factor
    both = training.Compose((training.RandomGain(), training.AddNoise()))
    a = both(x, torch.Generator().manual_seed(1))
    b = both(x, torch.Generator().manual_seed(1))
    assert torch.equal(a, b)


def test_training_with_augmentation_runs(data):
    augment = training.Compose((training.RandomGain(3.0), training.RandomSpeed(1.0)))
    history = quick(models.build("linear", 3, sr=SR), data, epochs=1, augment=augment)
    assert np.isfinite(history.train_loss[0])


# ------------------------------------------------------------------------- command line
@pytest.mark.filterwarnings("ignore::mirlab.metrics.SingleClassWarning")
def test_command_line_trains_and_reports(monkeypatch, cache, capsys):
    tagging = pytest.importorskip("mirlab.datasets.tagging")
    clips = tones(36, 2)
    split = np.array(["train"] * 20 + ["valid"] * 8 + ["test"] * 8)

    class Fake(FakeTagging):
        tags = ["low", "mid", "high"]

        def subset(self, name):
            keep = split == name
            return FakeTagging(self.audio[keep], self.labels[keep], self.sr)

    fake = Fake(clips.audio, clips.labels, SR)
    monkeypatch.setattr(tagging, "load_tagging_dataset", lambda **kwargs: fake)
    scores = training.main(["--model", "linear", "--epochs", "2", "--chunk-seconds", "0.6",
                            "--scale", "2", "--device", "cpu"])
    out = capsys.readouterr().out
    assert "linear (scale 2.0)" in out and "test ROC-AUC" in out
    assert 0.0 <= scores["roc_auc"] <= 1.0
    assert len(list((cache / "models").glob("linear-*.pt"))) == 1


# ------------------------------------------------------------------ schedules and recipes
def test_onecycle_schedule_changes_training_and_is_checked(data):
    constant = quick(models.build("linear", 3, sr=SR, seed=0), data, schedule="constant")
    cycled = quick(models.build("linear", 3, sr=SR, seed=0), data, schedule="onecycle")
    assert constant.train_loss != cycled.train_loss
    with pytest.raises(ValueError, match="schedule must be 'constant' or 'onecycle'"):
        quick(models.build("linear", 3, sr=SR), data, schedule="cosine")


def test_every_model_has_a_recipe_with_train_arguments():
    assert set(training.RECIPES) == set(models.MODELS)
    allowed = set(training.train_parameters()) | {"scale"}
    for name, recipe in training.RECIPES.items():
        assert set(recipe) <= allowed, name
    with pytest.raises(ValueError, match="unknown recipe settings"):
        training.train_recipe("linear", tones(8, 0), tones(4, 1), quick=True, learning_rate=1.0)


def test_train_recipe_builds_and_caches(data, cache):
    model, history = training.train_recipe("linear", *data, quick=True, chunk_seconds=0.6,
                                           progress=False)
    assert model.n_tags == 3 and not history.from_cache
    assert model.config["scale"] == training.QUICK_RECIPE["scale"]
    again, cached = training.train_recipe("linear", *data, quick=True, chunk_seconds=0.6,
                                          progress=False)
    assert cached.from_cache
    for a, b in zip(model.state_dict().values(), again.state_dict().values(), strict=True):
        torch.testing.assert_close(a, b)
    with pytest.raises(ValueError, match="name must be one of"):
        training.train_recipe("resnet", *data)


@pytest.mark.filterwarnings("ignore::mirlab.metrics.SingleClassWarning")
def test_train_recipes_in_worker_processes_equals_in_process(data, cache):
    jobs = {"linear": "linear", "fcn": "fcn", "fcn, 2 epochs": ("fcn", {"epochs": 2})}
    options = {"quick": True, "chunk_seconds": 1.0, "max_seconds": None, "progress": False}
    parallel = training.train_recipes(jobs, *data, workers=2, **options)
    assert list(parallel) == list(jobs)
    assert all(history.from_cache for _, history in parallel.values())  # via the cache
    assert [len(parallel[k][1].epochs) for k in jobs] == [1, 1, 2]
    for label, job in jobs.items():
        name, settings = (job, {}) if isinstance(job, str) else job
        fresh, history = training.train_recipe(name, *data, cache=False, **options, **settings)
        assert not history.from_cache
        for a, b in zip(parallel[label][0].state_dict().values(),
                        fresh.state_dict().values(), strict=True):
            torch.testing.assert_close(a, b)
    with pytest.raises(ValueError, match="jobs must name keys of RECIPES"):
        training.train_recipes(["resnet"], *data)
    with pytest.raises(ValueError, match="at least one recipe"):
        training.train_recipes([], *data)
