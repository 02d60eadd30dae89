"""Tests of mirlab.nn.models: the log-mel front end against mirlab.features and librosa, and
every tagger's shapes, gradients, sizes, embeddings and input validation."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from mirlab import features  # noqa: E402
from mirlab.nn import models  # noqa: E402
from mirlab.nn.models.base import chunk_starts  # noqa: E402
from mirlab.nn.models.frontend import LogMel  # noqa: E402

SR = 8000


def _mel_reference(y, sr, n_fft=1024, hop_length=512, n_mels=64):
    return features.melspectrogram(y=y.astype(np.float64), sr=sr, n_fft=n_fft,
                                   hop_length=hop_length, n_mels=n_mels)


# --------------------------------------------------------------------------- front end
@pytest.mark.parametrize("sr", [8000, 16000])
def test_logmel_equals_mirlab_features_on_noise(rng, sr):
    y = rng.standard_normal((3, sr)).astype(np.float32)
    db = LogMel(sr)(torch.from_numpy(y)).numpy()
    for i in range(3):
        expected = features.power_to_db(_mel_reference(y[i], sr), top_db=None)
        assert db[i].shape == expected.shape
        np.testing.assert_allclose(db[i], expected, atol=2e-3)


def test_logmel_equals_librosa_on_rendered_music(chorale):
    librosa = pytest.importorskip("librosa")
    y = chorale.y[: 4 * chorale.sr].astype(np.float32)
    layer = LogMel(chorale.sr, n_fft=1024, hop_length=512, n_mels=96, top_db=80.0)
    db = layer(torch.from_numpy(y)[None])[0].numpy()
    ref = librosa.power_to_db(librosa.feature.melspectrogram(
        y=y.astype(np.float64), sr=chorale.sr, n_fft=1024, hop_length=512, n_mels=96),
        top_db=80.0)
    assert db.shape == ref.shape
    np.testing.assert_allclose(db, ref, atol=5e-3)


def test_logmel_top_db_is_per_example(rng):
    y = rng.standard_normal((2, SR)).astype(np.float32)
    y[1] *= 1e-3                                           # a much quieter second example
    db = LogMel(SR, top_db=40.0)(torch.from_numpy(y)).numpy()
    for i in range(2):
        expected = features.power_to_db(_mel_reference(y[i], SR), top_db=40.0)
        np.testing.assert_allclose(db[i], expected, atol=2e-3)


def test_logmel_log1p_equals_log_compress(rng):
    y = 0.1 * rng.standard_normal((1, SR)).astype(np.float32)
    out = LogMel(SR, scale="log1p", log_c=1e4)(torch.from_numpy(y))[0].numpy()
    expected = features.log_compress(_mel_reference(y[0], SR), gamma=1e4)
    np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-4)


def test_logmel_bad_arguments():
    with pytest.raises(ValueError, match="scale"):
        LogMel(SR, scale="linear")
    with pytest.raises(ValueError, match="n_fft"):
        LogMel(SR, n_fft=0)
    with pytest.raises(ValueError, match="x must have shape"):
        LogMel(SR)(torch.zeros(SR))
    with pytest.raises(ValueError, match="torch.Tensor"):
        LogMel(SR)(np.zeros((1, SR), np.float32))


# ----------------------------------------------------------------------------- models
@pytest.fixture(scope="module")
def batch():
    return torch.from_numpy(np.random.default_rng(1).standard_normal((3, SR)).astype(
        np.float32))


@pytest.mark.parametrize("name", sorted(models.MODELS))
def test_model_shapes_gradients_and_size(name, batch):
    model = models.build(name, n_tags=5, sr=SR)
    logits = model(batch)
    assert logits.shape == (3, 5)
    assert torch.isfinite(logits).all()
    logits.sum().backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None]
    assert not missing, f"no gradient reaches {missing}"
    assert any(p.grad.abs().sum() > 0 for p in model.parameters())
    assert 500 < models.count_parameters(model) < 150_000


@pytest.mark.parametrize("name", sorted(models.MODELS))
def test_embed_concatenates_pooled_activations(name, batch):
    model = models.build(name, n_tags=5, sr=SR).eval()
    with torch.no_grad():
        emb = model.embed(batch)
        _, activations = model.forward_all(batch)
    assert emb.shape == (3, sum(2 * a.shape[1] for a in activations))
    assert emb.shape[1] == model.embedding_dim
    assert len(activations) >= 2                           # more than the last layer
    first = activations[0].flatten(2)
    np.testing.assert_allclose(emb[:, : first.shape[1]], first.mean(2), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", ["fcn", "samplecnn", "attention"])
def test_scale_makes_models_wider(name):
    small = models.count_parameters(models.build(name, 5, sr=SR))
    large = models.count_parameters(models.build(name, 5, sr=SR, scale=2))
    assert large > 2 * small


def test_build_is_seeded(batch):
    a, b = (models.build("fcn", 5, sr=SR, random_state=3).eval() for _ in range(2))
    c = models.build("fcn", 5, sr=SR, random_state=4).eval()
    with torch.no_grad():
        assert torch.equal(a(batch), b(batch))
        assert not torch.equal(a(batch), c(batch))
    assert a.config == {"name": "fcn", "n_tags": 5, "sr": SR, "scale": 1.0,
                        "random_state": 3}


def test_model_bad_inputs():
    with pytest.raises(ValueError, match="name must be one of"):
        models.build("resnet", 5)
    with pytest.raises(ValueError, match="n_tags"):
        models.build("fcn", 0)
    with pytest.raises(ValueError, match="scale"):
        models.build("fcn", 5, scale=-1)
    model = models.build("samplecnn", 5, sr=SR)
    with pytest.raises(ValueError, match="at least 6561 samples"):
        model(torch.zeros(1, 1000))
    with pytest.raises(ValueError, match=r"\(batch, n_samples\)"):
        model(torch.zeros(SR))
    with pytest.raises(ValueError, match="floating point"):
        model(torch.zeros(1, SR, dtype=torch.int64))


# ------------------------------------------------------------------------ clip embedding
def test_chunk_starts_cover_the_clip():
    assert chunk_starts(10, 4, 4).tolist() == [0, 4, 6]
    assert chunk_starts(8, 4, 4).tolist() == [0, 4]
    assert chunk_starts(8, 8, 3).tolist() == [0]
    with pytest.raises(ValueError, match="chunk"):
        chunk_starts(3, 4, 1)


def test_embed_function_averages_chunk_embeddings(rng):
    model = models.build("crnn", 4, sr=SR)
    audio = rng.standard_normal((2, 2 * SR)).astype(np.float32)
    model.train()
    out = models.embed(model, audio, sr=SR, chunk_seconds=1.0, device="cpu")
    assert model.training                                  # the mode is restored
    with torch.no_grad():
        model.eval()
        chunks = torch.from_numpy(audio.reshape(4, SR))
        manual = model.embed(chunks).numpy().reshape(2, 2, -1).mean(axis=1)
    np.testing.assert_allclose(out, manual, rtol=1e-5, atol=1e-6)
    single = models.embed(model, audio[0], chunk_seconds=1.0, device="cpu")
    np.testing.assert_allclose(single, out[0], rtol=1e-5, atol=1e-6)


def test_embed_function_bad_inputs(rng):
    model = models.build("linear", 4, sr=SR)
    with pytest.raises(ValueError, match="sr=16000 differs"):
        models.embed(model, np.zeros((1, SR), np.float32), sr=16000)
    with pytest.raises(ValueError, match="audio must have shape"):
        models.embed(model, np.zeros((1, 1, SR), np.float32))
    with pytest.raises(ValueError, match="model must be"):
        models.embed(torch.nn.Linear(2, 2), np.zeros((1, SR), np.float32))
    with pytest.raises(ValueError, match="aggregate"):
        models.embed(model, np.zeros((1, SR), np.float32), aggregate="median")


def test_attention_maps_are_distributions(batch):
    model = models.build("attention", 5, sr=SR).eval()
    with torch.no_grad():
        maps = model.attention_maps(batch)
        _, activations = model.forward_all(batch)
    n_tokens = activations[-1].shape[2]
    assert len(maps) == 2 and maps[0].shape == (3, n_tokens, n_tokens)
    torch.testing.assert_close(maps[-1].sum(dim=2), torch.ones(3, n_tokens))
    assert (maps[0] >= 0).all()
    with torch.no_grad():
        other = model.attention_maps(batch.flip(1))
    assert not torch.allclose(other[0], maps[0])
