"""Cross-modal audio-score retrieval (mirlab.similarity.crossmodal).

Tolerances: InfoNCE against a plain loop, 1e-5 (float32); the
shipped two-tower model re-scored on the test excerpts against its card, 0.01 (recall over
480 queries moves in steps of 0.002; float32 ties aside the result is exact).
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from mirlab.nn.metric import info_nce  # noqa: E402
from mirlab.nn.shipping import CheckpointError, read_shipped_card  # noqa: E402
from mirlab.similarity import crossmodal as cm  # noqa: E402

SR = 16000


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def plain_info_nce(za, zs, tau):
    za = torch.nn.functional.normalize(za, dim=1)
    zs = torch.nn.functional.normalize(zs, dim=1)
    n, total = len(za), 0.0
    for i in range(n):
        row = torch.stack([za[i] @ zs[k] / tau for k in range(n)])
        col = torch.stack([zs[i] @ za[k] / tau for k in range(n)])
        total = total - torch.log_softmax(row, 0)[i] - torch.log_softmax(col, 0)[i]
    return total / (2 * n)


def test_symmetric_info_nce_is_the_two_way_loss_of_a_plain_loop():
    za = torch.randn(5, 4, generator=gen(1))
    zs = torch.randn(5, 4, generator=gen(2))
    ours = float(info_nce(za, zs, 0.3, symmetric=True))
    assert ours == pytest.approx(float(plain_info_nce(za, zs, 0.3)), abs=1e-5)
    swapped = float(info_nce(zs, za, 0.3, symmetric=True))  # either modality may query
    assert ours == pytest.approx(swapped, abs=1e-6)


def test_cross_modal_recall_with_ties_and_passages():
    Q = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    G = np.array([[1.0, 0.0], [1.0, 0.0], [1.0, 1.0]])
    # query 0's partner ties with row 1 (a hit at k=1 half the time); query 1's partner
    # scores 0, tied with row 0 behind row 2 (ranks 2-3); query 2 finds its partner first
    assert cm.cross_modal_recall(Q, G, 1) == pytest.approx((0.5 + 0 + 1) / 3)
    assert cm.cross_modal_recall(Q, G, 2) == pytest.approx((1 + 0.5 + 1) / 3)
    assert cm.cross_modal_recall(Q, G, 3) == 1.0
    # rows 1 and 2 one passage: query 1 now finds row 2 first
    assert cm.cross_modal_recall(Q, G, 1, labels=[0, 1, 1]) == pytest.approx(2.5 / 3)
    with pytest.raises(ValueError, match="row i of each"):
        cm.cross_modal_recall(Q, G[:, :1])


def test_recall_of_random_embeddings_is_near_chance():
    rng = np.random.default_rng(0)
    A, S = rng.normal(size=(400, 16)), rng.normal(size=(400, 16))
    table = cm.retrieval_table(A, S, passage=np.arange(400) // 4)
    assert abs(table["audio->score"]["r@10"] - table["chance"]["r@10"]) < 0.03
    assert abs(table["score->audio (passage)"]["r@10"]
               - table["chance (passage)"]["r@10"]) < 0.06
    perfect = cm.retrieval_table(A, A)
    assert perfect["audio->score"]["r@1"] == perfect["score->audio"]["r@1"] == 1.0


def test_chroma_features_of_a_rendered_note():
    t = np.arange(SR) / SR
    audio = np.sin(2 * np.pi * 440.0 * t)[None].astype(np.float32)     # A4 = MIDI 69
    roll = np.zeros((1, 128, 25), np.uint8)
    roll[0, 69] = 1
    A, S = cm.chroma_features(audio, roll, SR)
    assert A.shape == S.shape == (1, 12)
    assert np.argmax(A[0]) == np.argmax(S[0]) == 9                     # pitch class A
    A4, S4 = cm.chroma_features(audio, roll, SR, n_segments=4)
    assert A4.shape == (1, 48)


def test_pair_sampler_crops_audio_and_roll_together():
    n_frames, fps = 25, 25
    audio = np.tile(np.arange(SR, dtype=np.float32), (3, 1))           # value = sample index
    roll = np.tile(np.arange(n_frames, dtype=np.uint8), (3, 128, 1))    # value = frame index
    sampler = cm.PairSampler(audio, roll, SR, crop_seconds=0.4, batch_size=3)
    (a, r), index = next(sampler.batches(np.random.default_rng(1)))
    start_frame = r[:, 0, 0]
    assert torch.equal(a[:, 0], start_frame * SR / fps)
    assert tuple(a.shape) == (3, int(0.4 * SR)) and tuple(r.shape) == (3, 128, 10)
    with pytest.raises(ValueError, match="crop_seconds"):
        cm.PairSampler(audio, roll, SR, crop_seconds=2.0, batch_size=2)


def test_train_quick_and_evaluate():
    pytest.importorskip("pretty_midi")
    from mirlab.datasets.similarity import load_similarity_data

    data = load_similarity_data("quick", progress=False)
    model, history = cm.train_crossmodal(data, quick=True, progress=False)
    assert len(history.epochs) == 2 and "r1" in history.valid[0]
    result = cm.evaluate_crossmodal(model, data, "valid", n_segments=(1,))
    n = result["chroma"]["n"]
    assert result["two_tower"]["chance"]["r@1"] == pytest.approx(1 / n, abs=1e-4)
    assert set(result) == {"two_tower", "chroma"}


def test_shipped_two_towers_rescore_their_card():
    try:
        read_shipped_card(cm.CROSSMODAL_NAME, cm.WEIGHTS)
    except CheckpointError:
        pytest.skip("no shipped two-tower model")
    from mirlab.datasets.similarity import load_similarity_data

    model, card = cm.pretrained_crossmodal()
    assert card["weights"]["n_bytes"] <= 1_000_000
    data = load_similarity_data("default", progress=False)
    got = cm.evaluate_crossmodal(model, data, "test", n_segments=())["two_tower"]
    want = card["scores"]["test"]["two_tower"]
    for direction in ("audio->score", "score->audio"):
        for k in ("r@1", "r@10"):
            assert got[direction][k] == pytest.approx(want[direction][k], abs=0.01)
