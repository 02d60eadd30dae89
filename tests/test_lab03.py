"""Lab 3 (NMF transcription): the checks pass plain solutions, name typical mistakes, and are
tested against hand-derived values (the notebook in both versions: test_lab_notebooks.py)."""

from __future__ import annotations

import numpy as np
import pytest

from mirlab import labs
from mirlab.labs import LabCheckError
from mirlab.labs import nmf_transcription as checks

# --- solutions written plainly, and typical mistakes ----------------------------------------

def update_H(V, W, H, eps, euclidean=False, use_eps=True):
    e = eps if use_eps else 0.0
    if euclidean:
        return H * (W.T @ V) / (W.T @ W @ H + e)
    with np.errstate(invalid="ignore"):  # 0 / 0 without eps: the mistake the check names
        return H * (W.T @ (V / (W @ H + e))) / (W.sum(axis=0)[:, None] + e)


def update_W(V, W, H, eps, euclidean=False):
    if euclidean:
        return W * (V @ H.T) / (W @ H @ H.T + eps)
    return W * ((V / (W @ H + eps)) @ H.T) / (H.sum(axis=1)[None, :] + eps)


def activations(V, W, n_iter, eps, learn_W=False, extra=0):
    H = np.full((W.shape[1], V.shape[1]), V.mean())
    for _ in range(n_iter + extra):
        H = update_H(V, W, H, eps)
        if learn_W:
            W[...] = update_W(V, W, H, eps)
    return H


def templates(sr, n_fft, pitches, n_partials, decay, sign=-1, norm="sum", nyquist=True,
              a4=69):
    bins = np.arange(1 + n_fft // 2)
    W = np.zeros((len(bins), len(pitches)))
    for j, p in enumerate(pitches):
        f0 = 440.0 * 2 ** ((p - a4) / 12)
        for k in range(1, n_partials + 1):
            if nyquist and k * f0 >= sr / 2:
                continue
            W[:, j] += k ** (sign * decay) * checks.hann_lobe(bins - k * f0 * n_fft / sr)
        if norm == "sum" and W[:, j].sum() > 0:
            W[:, j] /= W[:, j].sum()
    return W


def extract(H, sr, hop, pitches, threshold, min_duration, absolute=False, shift=0, drop=True,
            per_row=False):
    notes = []
    for i, h in enumerate(H):
        level = threshold * (h.max() if per_row else 1.0 if absolute else H.max())
        on = np.concatenate([[False], h > level, [False]])
        starts = np.flatnonzero(on[1:] & ~on[:-1])
        ends = np.flatnonzero(~on[1:] & on[:-1])
        for a, b in zip(starts, ends, strict=True):
            if drop and (b - a) * hop / sr < min_duration:
                continue
            notes.append(((a + shift) * hop / sr, (b + shift) * hop / sr, pitches[i]))
    notes.sort(key=lambda n: (n[0], n[2]))
    intervals = np.array([n[:2] for n in notes]).reshape(-1, 2)
    return intervals, np.array([n[2] for n in notes])


def test_plain_solutions_pass(capsys):
    checks.check_update_H(update_H)
    checks.check_update_W(update_W)
    checks.check_fixed_templates(activations)
    checks.check_harmonic_templates(templates)
    checks.check_note_extraction(extract)
    out = capsys.readouterr().out
    assert out.count("passed") == 5


MISTAKES = [
    (checks.check_update_H, lambda V, W, H, e: update_H(V, W, H, e, use_eps=False),
     ["NaN", "division by zero"]),
    (checks.check_update_H, lambda V, W, H, e: update_H(V, W, H, e, euclidean=True),
     ["Euclidean update"]),
    (checks.check_update_H, lambda V, W, H, e: update_H(V, W, H, e) / np.maximum(H, 1e-300)
     * (H > 0), ["ratio only"]),
    (checks.check_update_H, lambda V, W, H, e: H * (W.T @ (V / (W @ H + e))) / (W.sum() + e),
     ["column sums of W"]),
    (checks.check_update_H, lambda V, W, H, e: update_H(V, W, H, e).T, ["transposed"]),
    (checks.check_update_W, lambda V, W, H, e: update_W(V, W, H, e, euclidean=True),
     ["Euclidean update"]),
    (checks.check_update_W, lambda V, W, H, e: W * ((V / (W @ H + e)) @ H.T) / (H.sum() + e),
     ["row sums of H"]),
    (checks.check_fixed_templates, lambda V, W, n, e: activations(V, W.copy(), n, e,
                                                                  learn_W=True),
     ["also updated W"]),
    (checks.check_fixed_templates, lambda V, W, n, e: activations(V, W, n, e, learn_W=True),
     ["changed W in place"]),
    (checks.check_fixed_templates, lambda V, W, n, e: activations(V, W, n, e, extra=-1),
     ["19 updates", "range of your loop"]),
    (checks.check_harmonic_templates, lambda *a: templates(*a, sign=1), ["k ** -decay"]),
    (checks.check_harmonic_templates, lambda *a: templates(*a, norm=None), ["not normalised"]),
    (checks.check_harmonic_templates, lambda *a: templates(*a, nyquist=False), ["Nyquist"]),
    (checks.check_harmonic_templates, lambda *a: templates(*a, a4=57), ["octave too high"]),
    (checks.check_harmonic_templates, lambda *a: templates(*a).T, ["transposed"]),
    (checks.check_note_extraction, lambda *a: extract(*a, absolute=True), ["absolute"]),
    (checks.check_note_extraction, lambda *a: extract(*a, per_row=True), ["its own maximum"]),
    (checks.check_note_extraction, lambda *a: extract(*a, shift=1), ["one hop late"]),
    (checks.check_note_extraction, lambda *a: extract(*a, drop=False), ["min_duration"]),
    (checks.check_note_extraction, lambda *a: extract(*a)[0], ["(intervals, pitches)"]),
]


@pytest.mark.parametrize("check, wrong, phrases", MISTAKES,
                         ids=[f"{c.exercise}-{i}" for i, (c, _, _) in enumerate(MISTAKES)])
def test_checks_name_typical_mistakes(check, wrong, phrases):
    with pytest.raises(LabCheckError) as info:
        check(wrong)
    message = str(info.value)
    for phrase in phrases:
        assert phrase in message, f"{phrase!r} not in:\n{message}"


def test_hann_lobe_equals_the_spectrum_of_a_hann_window():
    # independent of mirlab: the DTFT of a periodic Hann window of n samples, evaluated x
    # bins from its centre, divided by its value at 0
    n = 4096
    w = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n) / n)
    x = np.linspace(-1.99, 1.99, 81)
    spectrum = np.abs(np.exp(-2j * np.pi * np.outer(x, np.arange(n)) / n) @ w) / w.sum()
    np.testing.assert_allclose(checks.hann_lobe(x), spectrum, atol=1e-3)


def test_hann_lobe_is_the_main_lobe():
    x = np.array([0.0, 0.5, 1.0, 1.5, 2.0, -1.0, 3.0])
    got = checks.hann_lobe(x)
    assert got[0] == 1.0 and got[2] == pytest.approx(0.5) and got[5] == pytest.approx(0.5)
    assert got[4] == 0 and got[6] == 0 and np.all(np.diff(got[:5]) < 0)


def test_lab03_registers_five_exercises_and_the_lab_reports_them(capsys):
    assert labs.exercises_of("lab03") == ["update_H", "update_W", "fixed_templates",
                                          "harmonic_templates", "note_extraction"]
    lab = labs.Lab("lab03")
    lab.check("update_H", checks.check_update_H, update_H)
    lab.check("update_W", checks.check_update_W, lambda *a: update_W(*a, euclidean=True))
    assert lab.status()["update_H"] == "passed" and lab.status()["update_W"] == "failed"
    lab.report()
    assert "1 of 5 exercises passed" in capsys.readouterr().out

