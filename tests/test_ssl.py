"""Self-supervised learning (mirlab.similarity.ssl): augmentations, NT-Xent, probe, shipped encoder.

NT-Xent itself is mirlab.nn.metric's (tested in tests/test_metric_losses.py). Tolerance: the
shipped encoder's probe re-scored on the test clips against its card, 0.005 (float32
features and probe weights against the float64 probe that wrote the card).
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("sklearn")

from mirlab.nn.shipping import CheckpointError, read_shipped_card  # noqa: E402
from mirlab.similarity import ssl  # noqa: E402

SR = 16000


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def sine(freq, n=SR, batch=2):
    t = torch.arange(n) / SR
    return torch.sin(2 * np.pi * freq * t).repeat(batch, 1)


# ---------------------------------------------------------------------- augmentations
@pytest.mark.parametrize("name", list(ssl.AUGMENTATIONS))
def test_augmentations_keep_shape_and_are_seeded(name):
    aug = ssl.AUGMENTATIONS[name]
    x = torch.randn(4, 8000, generator=gen(1))
    a, b = aug(x, gen(3)), aug(x, gen(3))
    assert a.shape == x.shape and torch.all(torch.isfinite(a))
    assert torch.equal(a, b)
    assert not torch.allclose(a, x)


def test_polarity_inverts():
    x = torch.randn(2, 100, generator=gen())
    assert torch.equal(ssl.Polarity()(x, gen()), -x)


def test_filter_lowpass_and_highpass_attenuate_the_other_end():
    low = ssl.Filter(lowpass_hz=(1000.0, 1000.0), highpass_hz=(1000.0, 1000.0))
    x = sine(6000.0, batch=64) + sine(100.0, batch=64)
    y = low(x, gen())
    spectrum = torch.fft.rfft(y).abs()        # 1 Hz bins (1 s)
    hi_left, lo_left = spectrum[:, 6000], spectrum[:, 100]
    lowpassed = hi_left < 0.05 * spectrum[:, 6000].max()
    # each chunk is either low-passed (6 kHz gone, 100 Hz kept) or high-passed (the reverse)
    assert torch.all(lowpassed == (lo_left > 0.9 * lo_left.max()))
    assert 10 < int(lowpassed.sum()) < 54


def test_delay_adds_one_echo_in_range():
    x = torch.zeros(8, SR)
    x[:, 0] = 1.0
    y = ssl.Delay(delay_ms=(200.0, 500.0), gain=(0.2, 0.5))(x, gen())
    for row in y:
        nz = torch.nonzero(row).flatten().tolist()
        assert nz[0] == 0 and len(nz) == 2
        assert 0.2 * SR <= nz[1] <= 0.5 * SR and 0.2 <= float(row[nz[1]]) <= 0.5


def test_reverb_spreads_an_impulse_and_keeps_the_dry_part():
    x = torch.zeros(4, SR)
    x[:, 100] = 1.0
    y = ssl.Reverb(wet=(0.5, 0.5))(x, gen())
    assert torch.all(y[:, :100].abs() < 1e-6)  # causal (FFT rounding aside)
    ir = (y - 0.5 * x) / 0.5                    # the wet part: the impulse response at 100
    assert torch.allclose(ir.norm(dim=1), torch.ones(4), atol=0.01)  # unit energy
    assert torch.all((ir[:, 1000:].abs() > 1e-6).sum(dim=1) > 1000)  # a tail, not an echo
    early, late = ir[:, 100:1700].pow(2).sum(dim=1), ir[:, 1700:3300].pow(2).sum(dim=1)
    assert torch.all(late < early)               # it decays


def test_random_apply_probability():
    x = torch.ones(1000, 3)
    assert torch.equal(ssl.RandomApply(ssl.Polarity(), 0.0)(x, gen()), x)
    y = ssl.RandomApply(ssl.Polarity(), 0.3)(x, gen())
    assert 0.25 < float((y[:, 0] < 0).float().mean()) < 0.35


def test_augmentation_chain_checks_names_and_probabilities():
    assert len(ssl.augmentation_chain([]).steps) == 0
    assert len(ssl.augmentation_chain().steps) == len(ssl.AUGMENTATIONS)
    with pytest.raises(ValueError, match="names must be keys"):
        ssl.augmentation_chain(["chorus"])
    with pytest.raises(ValueError, match="probabilities"):
        ssl.augmentation_chain(["gain"], {"gain": 1.5})


# ---------------------------------------------------------------------- views and loss
def test_two_view_sampler_crops_the_same_clip():
    audio = np.repeat(np.arange(10, dtype=np.float32)[:, None], 50, axis=1)
    audio += np.linspace(0, 0.5, 50, dtype=np.float32)[None]
    sampler = ssl.TwoViewSampler(audio, chunk=20, batch_size=4)
    batches = list(sampler.batches(np.random.default_rng(0)))
    assert len(batches) == len(sampler) == 2
    for (v1, v2), index in batches:
        assert torch.equal(v1.floor()[:, 0], index.float())
        assert torch.equal(v2.floor()[:, 0], index.float())
        assert not torch.equal(v1, v2)  # independent crops
    with pytest.raises(ValueError, match="chunk"):
        ssl.TwoViewSampler(audio, chunk=60)


# ------------------------------------------------------------------------------ probes
def test_linear_probe_separable_and_random_features():
    rng = np.random.default_rng(0)
    Y = {k: rng.integers(0, 2, (n, 3)) for k, n in (("train", 200), ("valid", 60),
                                                     ("test", 60))}
    X = {k: np.hstack([y * 3.0 + rng.normal(0, 1, y.shape), rng.normal(0, 1, (len(y), 4))])
         for k, y in Y.items()}
    good = ssl.linear_probe(X, Y)
    assert good["test"]["roc_auc"] > 0.95 and good["C"] in ssl.PROBE_C
    W, b = good["W"], good["b"]
    assert W.shape == (3, 7) and b.shape == (3,)
    noise = {k: rng.normal(0, 1, x.shape) for k, x in X.items()}
    assert abs(ssl.linear_probe(noise, Y)["test"]["roc_auc"] - 0.5) < 0.1
    with pytest.raises(ValueError, match="keys"):
        ssl.linear_probe({"train": X["train"]}, Y)


def test_fit_probe_folds_the_standardisation():
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    rng = np.random.default_rng(1)
    X = rng.normal(5, 3, (80, 4))
    y = (X[:, 0] + rng.normal(0, 2, 80) > 5).astype(int)
    W, b = ssl.fit_probe(X, y[:, None], C=0.5)
    scaler = StandardScaler().fit(X)
    ref = LogisticRegression(C=0.5, max_iter=2000).fit(scaler.transform(X), y)
    np.testing.assert_allclose(X @ W[0] + b[0], ref.decision_function(scaler.transform(X)),
                               atol=1e-6)


def test_train_ssl_quick_and_features():
    rng = np.random.default_rng(0)
    audio = (0.1 * rng.standard_normal((16, SR))).astype(np.float32)
    model, history = ssl.train_ssl(audio, quick=True, progress=False)
    assert len(history.train_loss) == 1 and np.isfinite(history.train_loss[0])
    h = ssl.represent(model.encoder, audio[:3], chunk_seconds=1.0, hop_seconds=0.5)
    assert h.shape == (3, model.encoder(torch.zeros(1, SR)).shape[1])
    with pytest.raises(ValueError, match="overrides"):
        ssl.train_ssl(audio, quick=True, progress=False, learning_rate=1.0)


def test_random_encoder_batchnorm_is_fitted_weights_kept():
    rng = np.random.default_rng(0)
    audio = (0.1 * rng.standard_normal((8, 2 * SR))).astype(np.float32)
    plain = ssl.build_encoder(random_state=3)
    fitted = ssl.calibrate_batchnorm(ssl.build_encoder(random_state=3), audio, batch_size=4,
                                     n_batches=2)
    norm = fitted.tagger.input_norm
    assert float(norm.running_mean) < -1  # log-mel decibels of quiet noise, not 0
    assert not fitted.training
    for (k, a), (_, b) in zip(plain.state_dict().items(), fitted.state_dict().items(),
                              strict=True):
        if "running" not in k and "num_batches" not in k:
            assert torch.equal(a, b), k


# --------------------------------------------------------------------- shipped encoder
def test_shipped_encoder_rescores_its_card():
    try:
        card = read_shipped_card(ssl.SSL_NAME, ssl.WEIGHTS)
    except CheckpointError:
        pytest.skip("no shipped ssl encoder")
    model, card = ssl.pretrained_ssl()
    assert card["weights"]["n_bytes"] <= 1_000_000
    data = ssl.load_ssl_data(False, False)
    got = ssl.rescore_ssl(model, data, chunk_seconds=card["recipe"]["chunk_seconds"])
    for key in ("roc_auc", "pr_auc"):
        assert got[key] == pytest.approx(card["scores"]["rescored"][key], abs=0.005)
        assert got[key] == pytest.approx(card["scores"]["probe"]["test"][key], abs=0.005)
