"""Lab 4 (music tagging): the checks pass plain solutions, name typical mistakes (the
notebook in both versions: test_lab_notebooks.py)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from sklearn.metrics import auc, precision_recall_curve, roc_auc_score
from torch import nn

from mirlab import labs
from mirlab.labs import LabCheckError
from mirlab.labs import music_tagging as checks
from mirlab.nn.models import LogMel, Tagger

# --- solutions written plainly, and typical mistakes ----------------------------------------

def roc_auc(y_true, y_score, tie=0.5, reverse=False):
    pos, neg = y_score[y_true == 1], y_score[y_true == 0]
    if reverse:
        pos, neg = neg, pos
    return np.mean((pos[:, None] > neg[None, :]) + tie * (pos[:, None] == neg[None, :]))


def roc_auc_by_ranks(y_true, y_score, ordinal=False):
    order = np.argsort(y_score, kind="stable")
    ranks = np.empty(len(y_score))
    ranks[order] = np.arange(1, len(y_score) + 1)
    if not ordinal:  # average ranks within ties
        for value in np.unique(y_score):
            ranks[y_score == value] = ranks[y_score == value].mean()
    n_pos = int(y_true.sum())
    n_neg = len(y_true) - n_pos
    return (ranks[y_true == 1].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


def macro_average(metric, Y, S, skip=True, axis=0, fill=None):
    Y, S = (Y, S) if axis == 0 else (Y.T, S.T)
    values = []
    for j in range(Y.shape[1]):
        if skip and Y[:, j].min() == Y[:, j].max():
            if fill is not None:
                values.append(fill)
            continue
        values.append(metric(Y[:, j], S[:, j]))
    return float(np.mean(values))


def average_precision(y_true, y_score, ties=True, ascending=False, trapezoid=False,
                      interpolate=False):
    order = np.argsort(y_score if ascending else -y_score, kind="stable")
    y, s = y_true[order], y_score[order]
    last = np.r_[np.flatnonzero(np.diff(s)), len(s) - 1] if ties else np.arange(len(s))
    tp = np.cumsum(y)[last]
    precision, recall = tp / (last + 1), tp / tp[-1]
    if interpolate:
        precision = np.maximum.accumulate(precision[::-1])[::-1]
    if trapezoid:
        p, r, _ = precision_recall_curve(y_true, y_score)
        return auc(r, p)
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


class SmallCNN(Tagger):
    def __init__(self, n_tags, sr=16000, widths=(8, 16, 32), sigmoid=False, pool=True,
                 relu_out=False, detach=False, unused=False):
        super().__init__(n_tags, sr)
        self.melspec = LogMel(sr, n_fft=1024, hop_length=512, n_mels=48)
        self.input_norm = nn.BatchNorm2d(1)
        layers, c_in = [], 1
        for c_out in widths:
            layers += [nn.Conv2d(c_in, c_out, 3, padding=1), nn.BatchNorm2d(c_out), nn.ReLU(),
                       nn.MaxPool2d(2)]
            c_in = c_out
        self.blocks = nn.Sequential(*layers)
        self.head = nn.Linear(c_in, n_tags)
        self.extra = nn.Linear(3, 3) if unused else None
        self.options = (sigmoid, pool, relu_out, detach)

    def forward(self, x):
        sigmoid, pool, relu_out, detach = self.options
        h = self.blocks(self.input_norm(self.melspec(x)[:, None]))
        h = h.detach() if detach else h
        if not pool:
            return self.head(h.amax(dim=2).transpose(1, 2))       # one row per frame
        out = self.head(h.amax(dim=(2, 3)))
        return torch.sigmoid(out) if sigmoid else torch.relu(out) if relu_out else out


class Flattening(SmallCNN):
    """A dense head on the flattened feature map: works for one input length only."""

    def __init__(self, n_tags, sr=16000):
        super().__init__(n_tags, sr)
        self.head = nn.Linear(32 * 6 * 4, n_tags)

    def forward(self, x):
        h = self.blocks(self.input_norm(self.melspec(x)[:, None]))
        return self.head(h.flatten(1))


class NoFrontEnd(SmallCNN):
    """Forgets the front end: a conv layer on the waveform viewed as an image."""

    def __init__(self, n_tags, sr=16000):
        super().__init__(n_tags, sr)
        self.melspec = nn.Identity()

    def forward(self, x):
        return self.head(self.blocks(self.input_norm(x[:, None, None])).amax(dim=(2, 3)))


class WithSoftmax(SmallCNN):
    def forward(self, x):
        return torch.softmax(super().forward(x), dim=1)


def model_class(**options):
    return lambda n_tags, sr: SmallCNN(n_tags, sr, **options)


def predict_clips(model, audio, sr, chunk_seconds, drop_last=False, mean_logits=False,
                  train_mode=False, grad=False, aggregate="mean"):
    chunk = int(round(chunk_seconds * sr))
    n = audio.shape[1]
    starts = list(range(0, n - chunk + 1, chunk))
    if not drop_last and starts[-1] + chunk < n:
        starts.append(n - chunk)
    model.train(train_mode)
    x = torch.from_numpy(audio)
    with torch.set_grad_enabled(grad):
        logits = torch.stack([model(x[:, s:s + chunk]) for s in starts], dim=1)
    if mean_logits:
        return torch.sigmoid(logits.mean(dim=1)).detach().numpy()
    probs = torch.sigmoid(logits)
    return (probs.mean(dim=1) if aggregate == "mean" else probs.amax(dim=1)).detach().numpy()


def test_plain_solutions_pass(capsys):
    checks.check_roc_auc(roc_auc)
    checks.check_roc_auc(roc_auc_by_ranks)
    checks.check_macro_average(macro_average)
    checks.check_average_precision(average_precision)
    checks.check_tagger(SmallCNN)
    checks.check_bag_of_chunks(predict_clips)
    out = capsys.readouterr().out
    assert out.count("passed") == 6


def test_metric_checks_also_pass_on_real_like_scores():
    rng = np.random.default_rng(0)
    Y = (rng.random((45, 4)) < 0.3).astype(np.float32)
    Y[0], Y[1] = 1.0, 0.0
    S = np.round(rng.random((45, 4)) + 0.3 * Y, 2)
    checks.check_roc_auc(roc_auc, real=(Y, S), verbose=False)
    checks.check_average_precision(average_precision, real=(Y, S), verbose=False)
    checks.check_macro_average(macro_average, real=(Y, S), verbose=False)
    with pytest.raises(LabCheckError, match="column 0"):
        checks.check_roc_auc(lambda y, s: roc_auc_score(y, s) if len(y) != 45 else 0.5,
                             real=(Y, S))


MISTAKES = [
    (checks.check_roc_auc, lambda y, s: roc_auc(y, s, reverse=True), ["1 - AUC"]),
    (checks.check_roc_auc, lambda y, s: roc_auc(y, s, tie=0.0), ["ties", "1/2, not 0"]),
    (checks.check_roc_auc, lambda y, s: roc_auc(y, s, tie=1.0), ["ties", "1/2, not 1"]),
    (checks.check_roc_auc, lambda y, s: roc_auc_by_ranks(y, s, ordinal=True),
     ["without ties but wrong when several clips share a score"]),
    (checks.check_roc_auc, lambda y, s: roc_auc(s, y), ["swapped", "(y_true, y_score)"]),
    (checks.check_roc_auc, lambda y, s: roc_auc(y, s) * y.sum() * (len(y) - y.sum()),
     ["Mann-Whitney", "n_pos * n_neg"]),
    (checks.check_roc_auc, lambda y, s: roc_auc(1 - y, s), ["1 - AUC", "negatives (label 0)"]),
    (checks.check_roc_auc, lambda y, s: np.array([0.5, 0.5]), ["one number"]),
    (checks.check_macro_average, lambda m, Y, S: m(Y.ravel(), S.ravel())
     if len(np.unique(Y.ravel())) == 2 else 0.0, ["micro average"]),
    (checks.check_macro_average, lambda m, Y, S: macro_average(m, Y, S, skip=False),
     ["one class only"]),
    (checks.check_macro_average, lambda m, Y, S: macro_average(m, Y, S, fill=0.5),
     ["one class as 0.5"]),
    (checks.check_macro_average, lambda m, Y, S: macro_average(m, Y, S, axis=1),
     ["over clips (rows)"]),
    (checks.check_average_precision, lambda y, s: average_precision(y, s, trapezoid=True),
     ["trapezoid"]),
    (checks.check_average_precision, lambda y, s: average_precision(y, s, ascending=True),
     ["lowest score up"]),
    (checks.check_average_precision, lambda y, s: average_precision(y, s, interpolate=True),
     ["interpolated"]),
    (checks.check_average_precision, lambda y, s: average_precision(y, s, ties=False),
     ["without ties but wrong", "distinct score"]),
    (checks.check_average_precision, lambda y, s: roc_auc_score(y, s), ["ROC-AUC"]),
    (checks.check_average_precision, lambda y, s: average_precision(s, y),
     ["swapped"]),
    (checks.check_tagger, model_class(sigmoid=True), ["probabilities", "logits"]),
    (checks.check_tagger, model_class(relu_out=True), ["never negative"]),
    (checks.check_tagger, model_class(pool=False), ["expected logits of shape", "Pool"]),
    (checks.check_tagger, Flattening, ["raised RuntimeError", "pool globally"]),
    (checks.check_tagger, model_class(widths=(64, 128, 256, 256)), ["too many"]),
    (checks.check_tagger, model_class(widths=(2, 2)), ["too few"]),
    (checks.check_tagger, model_class(unused=True), ["received no gradient", "extra"]),
    (checks.check_tagger, lambda n_tags, sr: nn.Linear(3, n_tags), ["subclass"]),
    (checks.check_tagger, model_class(detach=True), ["received no gradient", "blocks.0"]),
    (checks.check_tagger, NoFrontEnd, ["no LogMel layer"]),
    (checks.check_tagger, WithSoftmax, ["look like probabilities"]),
    (checks.check_bag_of_chunks, lambda *a: predict_clips(*a, mean_logits=True),
     ["averaged the logits"]),
    (checks.check_bag_of_chunks, lambda *a: predict_clips(*a, drop_last=True),
     ["dropped the last"]),
    (checks.check_bag_of_chunks, lambda *a: predict_clips(*a, train_mode=True),
     ["training mode", "model.eval()"]),
    (checks.check_bag_of_chunks, lambda *a: predict_clips(*a, grad=True), ["no_grad"]),
    (checks.check_bag_of_chunks, lambda *a: predict_clips(*a, aggregate="max"),
     ["maximum over the chunks"]),
    (checks.check_bag_of_chunks, lambda *a: predict_clips(*a)[:, None].repeat(2, axis=1),
     ["average over the chunks"]),
]


@pytest.mark.filterwarnings("ignore:Mean of empty slice")
@pytest.mark.parametrize("check, wrong, phrases", MISTAKES,
                         ids=[f"{c.exercise}-{i}" for i, (c, _, _) in enumerate(MISTAKES)])
def test_checks_name_typical_mistakes(check, wrong, phrases):
    with pytest.raises(LabCheckError) as info:
        check(wrong)
    message = str(info.value)
    for phrase in phrases:
        assert phrase in message, f"{phrase!r} not in:\n{message}"


def test_tagger_check_names_a_sigmoid_even_when_built_as_a_module():
    class WithSigmoid(SmallCNN):
        def forward(self, x):
            return nn.Sigmoid()(super().forward(x))

    with pytest.raises(LabCheckError, match="look like probabilities"):
        checks.check_tagger(WithSigmoid)


def test_probe_model_logits_are_moderate_and_vary_between_chunks():
    model = checks.probe_model()
    assert not model.training
    x = checks._noise(2, 3.0, 16000, seed=1)
    with torch.no_grad():
        chunks = torch.stack([model(x[:, s:s + 16000]) for s in (0, 16000, 32000)], dim=1)
    assert 0.3 < float(chunks.abs().max()) < 20
    assert float((chunks[:, 0] - chunks[:, 1]).abs().max()) > 0.05


@dataclasses.dataclass
class _Data:
    audio: np.ndarray
    labels: np.ndarray
    sr: int = 16000


@dataclasses.dataclass
class _History:
    epochs: list


def test_training_check_compares_scores_with_the_model_and_chance():
    model = checks.probe_model(n_tags=3)
    audio = checks._noise(6, 2.0, 16000, seed=3).numpy()
    # the check's reference is mirlab.nn.training.predict; the scores here come from the plain
    # bag-of-chunks solution above (mean of chunk probabilities), not from that function
    scores = predict_clips(model, audio, 16000, 1.0).astype(np.float32)
    good = (scores > np.median(scores, axis=0)).astype(np.float32)
    good[0], good[1] = 1.0, 0.0
    data, history = _Data(audio, good), _History([1])
    checks.check_training(model, history, scores, data, 1.0, verbose=False)
    with pytest.raises(LabCheckError, match="hardly better than chance"):
        checks.check_training(model, history, scores, _Data(audio, 1 - good), 1.0)
    checks.check_training(model, history, scores, _Data(audio, 1 - good), 1.0, quick=True,
                          verbose=False)
    with pytest.raises(LabCheckError, match="differ from mirlab.nn.training.predict"):
        checks.check_training(model, history, scores[::-1].copy(), data, 1.0)
    with pytest.raises(LabCheckError, match=r"probabilities in \[0, 1\]"):
        checks.check_training(model, history, scores * 3 - 1, data, 1.0)
    with pytest.raises(NotImplementedError):
        checks.check_training(None, None, None, data, 1.0)


def test_subsample_draws_clips_of_one_split_by_index():
    @dataclasses.dataclass
    class Clips:
        audio: np.ndarray
        labels: np.ndarray
        split: np.ndarray
        meta: list

        def __len__(self):
            return len(self.audio)

    split = np.array(["train", "test"] * 10)
    data = Clips(np.arange(20.0)[:, None], np.zeros((20, 2)), split,
                 [{"i": i} for i in range(20)])
    small = checks.subsample(data, "train", 4, random_state=1)
    assert len(small) == 4 and np.all(np.diff(small.audio[:, 0]) > 0)
    assert np.all(small.audio[:, 0] % 2 == 0) and set(small.split) == {"train"}
    assert [m["i"] for m in small.meta] == small.audio[:, 0].astype(int).tolist()
    assert len(checks.subsample(data, "test")) == len(checks.subsample(data, "test", 50)) == 10
    with pytest.raises(ValueError, match="n_clips"):
        checks.subsample(data, "train", 0)
    with pytest.raises(ValueError, match="split"):
        checks.subsample(data, "valid")


def test_tagger_stub_is_reported_as_to_do(capsys):
    class Stub(Tagger):
        def __init__(self, n_tags, sr=16000):
            super().__init__(n_tags, sr)
            raise NotImplementedError()

    lab = labs.Lab("lab04")
    lab.check("tagger", checks.check_tagger, Stub)
    assert lab.status()["tagger"] == "todo"
    assert "replace `raise NotImplementedError()` by your code" in capsys.readouterr().out


def test_lab04_registers_six_exercises_and_the_lab_reports_them(capsys):
    assert labs.exercises_of("lab04") == ["roc_auc", "macro_average", "average_precision",
                                          "tagger", "bag_of_chunks", "training"]
    lab = labs.Lab("lab04")
    lab.check("roc_auc", checks.check_roc_auc, roc_auc)
    lab.check("average_precision", checks.check_average_precision,
              lambda y, s: average_precision(y, s, trapezoid=True))
    status = lab.status()
    assert status["roc_auc"] == "passed" and status["average_precision"] == "failed"
    lab.report()
    assert "1 of 6 exercises passed" in capsys.readouterr().out

