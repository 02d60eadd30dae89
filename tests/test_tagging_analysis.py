"""Tests of mirlab.tagging.analysis and tagging.render_orchestrations (tiny models)."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402
from sklearn.metrics import roc_auc_score, roc_curve  # noqa: E402

from mirlab.datasets.tagging import TaggingDataset  # noqa: E402
from mirlab.nn import models, training  # noqa: E402
from mirlab.tagging import analysis as ta  # noqa: E402

SR = 16000


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def clips():
    rng = np.random.default_rng(0)
    audio = (0.1 * rng.standard_normal((6, 5 * SR // 2))).astype(np.float32)
    labels = np.array([[1, 0, 1], [0, 1, 0], [1, 1, 0], [0, 0, 1], [1, 0, 0], [0, 1, 1]],
                      dtype=np.float32)
    return TaggingDataset(audio=audio, sr=SR, labels=labels, tags=["a", "b", "c"],
                          split=np.array(["test"] * 6), meta=[{}] * 6, name="random")


def tiny(name, n_tags=3):
    return models.build(name, n_tags, sr=SR, scale=0.25, random_state=0).eval()


def test_ordered_models_follows_the_syllabus():
    assert ta.ordered_models(["attention", "zzz", "fcn", "linear", "aaa"]) == [
        "linear", "fcn", "attention", "aaa", "zzz"]
    assert set(ta.SYLLABUS_ORDER) == set(models.MODELS)
    assert set(ta.MODEL_NOTES) == set(models.MODELS)


def test_model_overview_counts_parameters_at_the_given_scale():
    rows = ta.model_overview(["fcn", "samplecnn_se"], 5, sr=SR, scales={"fcn": 0.5})
    assert [r["model"] for r in rows] == ["fcn", "samplecnn_se"]
    for row, scale in zip(rows, (0.5, 1.0), strict=True):
        n = models.count_parameters(models.build(row["model"], 5, sr=SR, scale=scale))
        assert row["parameters"] == f"{n:,}"
    assert rows[0]["paper"] == ta.MODEL_NOTES["fcn"]["paper"]


def test_chunk_scores_average_to_predict(clips):
    model = tiny("fcn")
    y = clips.audio[0]
    times, S = ta.chunk_scores(model, y, SR, chunk_seconds=1.0, hop_seconds=0.5)
    assert S.shape == (3, len(times))
    np.testing.assert_allclose(times, 0.5 + 0.5 * np.arange(4))
    expected = training.predict(model, y, SR, chunk_seconds=1.0, hop_seconds=0.5)
    np.testing.assert_allclose(S.mean(axis=1), expected, atol=1e-6)
    assert np.all((S >= 0) & (S <= 1))


def test_chunk_scores_checks_its_input(clips):
    model = tiny("fcn")
    with pytest.raises(ValueError, match="one clip"):
        ta.chunk_scores(model, clips.audio[:2], SR)
    with pytest.raises(ValueError, match="sr"):
        ta.chunk_scores(model, clips.audio[0], 22050)
    with pytest.raises(ValueError, match="chunk_seconds"):
        ta.chunk_scores(model, clips.audio[0], SR, chunk_seconds=-1.0)


def test_evaluate_models_matches_training_evaluate(clips):
    taggers = {"fcn": tiny("fcn"), "crnn": tiny("crnn")}
    chunk = {"fcn": 1.0, "crnn": 2.0}
    got = ta.evaluate_models(taggers, clips, chunk_seconds=chunk)
    for name, model in taggers.items():
        ref = training.evaluate_tagger(model, clips, chunk_seconds=chunk[name])
        assert got[name]["roc_auc"] == pytest.approx(ref["roc_auc"])
        np.testing.assert_allclose(got[name]["scores"], ref["scores"])
    single = ta.evaluate_models({"fcn": taggers["fcn"]}, clips, chunk_seconds=1.0,
                                single_chunk=True)
    ref = training.predict(taggers["fcn"], clips.audio, SR, chunk_seconds=1.0, single_chunk=True)
    np.testing.assert_allclose(single["fcn"]["scores"], ref)
    with pytest.raises(ValueError, match="crnn"):
        ta.evaluate_models(taggers, clips, chunk_seconds={"fcn": 1.0})


def test_benchmark_rows_format_and_mark_the_best():
    scores = {"x": {"roc_auc": 0.81, "pr_auc": 0.52}, "y": {"roc_auc": 0.79, "pr_auc": 0.6}}
    rows = ta.benchmark_rows(scores, parameters={"x": 12345}, seconds={"y": 3.21})
    assert rows[0] == {"model": "x", "ROC-AUC": "**0.810**", "PR-AUC": "0.520",
                       "parameters": "12,345", "training time (s)": "-"}
    assert rows[1]["PR-AUC"] == "**0.600**" and rows[1]["training time (s)"] == "3.2"
    with pytest.raises(ValueError, match="scores"):
        ta.benchmark_rows({})


def test_shift_rows_report_drops():
    before = {"m": {"roc_auc": 0.9, "pr_auc": 0.5}}
    rows = ta.shift_rows(before, {"m": {"roc_auc": 0.75, "pr_auc": 0.55}})
    assert rows[0]["ROC-AUC drop"] == "+0.150" and rows[0]["PR-AUC drop"] == "-0.050"
    assert rows[0]["ROC-AUC shifted"] == "0.750"
    with pytest.raises(ValueError, match="missing"):
        ta.shift_rows(before, {})


def test_cls_attention_is_the_cls_row_of_the_attention_map(clips):
    model = tiny("attention")
    y = clips.audio[1, :SR]
    times, w = ta.cls_attention(model, y, SR)
    with torch.no_grad():
        maps = model.attention_maps(torch.from_numpy(y)[None])
    full = maps[-1][0, 0].numpy()
    np.testing.assert_allclose(w, full[1:], atol=1e-6)
    assert full.sum() == pytest.approx(1.0, abs=1e-5)
    step = times[1] - times[0]
    assert len(times) == len(w) and times[-1] < 1.0 < times[-1] + step
    assert np.allclose(np.diff(times), step)
    with pytest.raises(ValueError, match="self-attention"):
        ta.cls_attention(tiny("fcn"), y)


def test_filter_shapes_read_the_first_layer():
    assert ta.filter_shapes(tiny("fcn")) == [("3 x 3", 3, 3)]
    musicnn = tiny("musicnn")
    shapes = ta.filter_shapes(musicnn)
    assert [s[1:] for s in shapes] == [tuple(b.conv.kernel_size) for b in musicnn.front]
    assert sum("band average" in s[0] for s in shapes) == 2
    with pytest.raises(ValueError, match="2-D convolutions"):
        ta.filter_shapes(tiny("samplecnn"))


def test_plot_filter_shapes_draws_one_rectangle_per_shape():
    mel = np.random.default_rng(0).random((64, 50))
    shapes = {"fcn": [("3 x 3", 3, 3)], "other": [("5 x 7", 5, 7), ("1 x 9", 1, 9)]}
    ax = ta.plot_filter_shapes(mel, shapes, sr=SR, hop_length=256)
    rects = [p for p in ax.patches if isinstance(p, Rectangle)]
    assert len(rects) == 3
    assert rects[1].get_width() == pytest.approx(7 * 256 / SR) and rects[1].get_height() == 5


def test_plot_tag_matrix_outlines_true_tags():
    M = np.random.default_rng(1).random((3, 4))
    truth = np.array([1, 0, 1])
    ax = ta.plot_tag_matrix(M, ["a", "b", "c"], [0.5, 1.0, 1.5, "mean"], truth=truth,
                            annotate=True)
    assert len([p for p in ax.patches if isinstance(p, Rectangle)]) == 2 * 4
    assert [t.get_text() for t in ax.get_xticklabels()] == ["0.50", "1.00", "1.50", "mean"]
    assert len(ax.texts) == 12
    with pytest.raises(ValueError, match="columns"):
        ta.plot_tag_matrix(M, ["a", "b", "c"], ["x"])


def test_plot_roc_pr_draws_sklearn_curves(clips):
    scores = np.random.default_rng(2).random(clips.labels.shape)
    axes = ta.plot_roc_pr(clips.labels, scores, clips.tags, ["a", "c"])
    fpr, tpr, _ = roc_curve(clips.labels[:, 2], scores[:, 2])
    line = axes[0].get_lines()[1]
    np.testing.assert_allclose(line.get_xdata(), fpr)
    np.testing.assert_allclose(line.get_ydata(), tpr)
    auc = roc_auc_score(clips.labels[:, 0], scores[:, 0])
    assert f"{auc:.3f}" in axes[0].get_legend().get_texts()[0].get_text()
    with pytest.raises(ValueError, match="selected"):
        ta.plot_roc_pr(clips.labels, scores, clips.tags, ["nope"])
    with pytest.raises(ValueError, match="shape"):
        ta.plot_roc_pr(clips.labels, scores[:, :2], clips.tags, ["a"])


def test_texture_vs_content():
    P = np.array([[0.1, 0.2, 0.3], [0.9, 0.6, 0.8]])
    got = ta.texture_vs_content(P)
    assert got["content"] == pytest.approx(np.mean([0.8, 0.4, 0.5]))
    assert got["texture"] == pytest.approx(np.mean([0.2, 0.3]))
    # a tagger that only hears the content: no orchestration effect
    assert ta.texture_vs_content([[0.1] * 3, [0.9] * 3]) == {"content": 0.8, "texture": 0.0}
    with pytest.raises(ValueError, match="at least 2"):
        ta.texture_vs_content([[0.1, 0.2]])


def test_texture_rows_use_the_named_tags():
    rng = np.random.default_rng(3)
    S = rng.random((2, 4, 3))
    rows = ta.texture_rows({"m": S}, ["a", "b", "c"], ["c"])
    effect = ta.texture_vs_content(S[:, :, 2])
    assert rows == [{"model": "m", "c: content": f"{effect['content']:.2f}",
                     "c: orchestration": f"{effect['texture']:.2f}"}]
    with pytest.raises(ValueError, match="shape"):
        ta.texture_rows({"m": S[0]}, ["a", "b", "c"], ["c"])


def test_render_orchestrations_changes_only_the_instruments():
    from mirlab.datasets import tagging

    orchestrations = ["organ", ["strings", "strings", "brass", "bass"]]
    ds = tagging.render_orchestrations("bach/bwv66.6", orchestrations, tempo_class="fast",
                                       clip_seconds=1.5, sr=SR, random_state=1)
    assert ds.audio.shape == (2, int(1.5 * SR)) and ds.tags == tagging.TAGS
    tags = [{t for t, v in zip(ds.tags, row, strict=True) if v} for row in ds.labels]
    assert {"organ", "solo", "fast"} <= tags[0] and "strings" not in tags[0]
    assert {"strings", "small_ensemble", "fast"} <= tags[1] and "organ" not in tags[1]
    assert ds.meta[0]["bpm"] == ds.meta[1]["bpm"] >= tagging.TEMPO_RANGES["fast"][0]
    assert ds.meta[0]["transpose"] == ds.meta[1]["transpose"]
    assert ds.meta[1]["programs"][0] == ds.meta[1]["programs"][1]  # one program per family
    assert not np.allclose(ds.audio[0], ds.audio[1])
    assert [m["orchestration"] for m in ds.meta] == ["organ", "strings + strings + brass + bass"]
    with pytest.raises(ValueError, match="orchestrations"):
        tagging.render_orchestrations("bach/bwv66.6", [["piano"] * 3], sr=SR)
    with pytest.raises(ValueError, match="orchestrations"):
        tagging.render_orchestrations("bach/bwv66.6", ["drums"], sr=SR)
    with pytest.raises(ValueError, match="tempo_class"):
        tagging.render_orchestrations("bach/bwv66.6", ["piano"], tempo_class="medium")
