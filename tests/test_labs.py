"""Tests of mirlab.labs: the checks pass correct solutions and name typical mistakes, the
student version replaces every solution (lab 1 in both versions: test_lab_notebooks.py)."""

from __future__ import annotations

import subprocess
import sys

import librosa
import nbformat
import numpy as np
import pytest
import scipy.signal
from nbtools import REPO

from mirlab import labs
from mirlab.labs import LabCheckError

LAB01 = REPO / "labs" / "lab01_audio_representations.ipynb"


# --- solutions written plainly (as a student would), and typical mistakes -------------------

def frame(y, frame_length, hop_length):
    n_frames = 1 + (len(y) - frame_length) // hop_length
    out = np.empty((frame_length, n_frames), dtype=y.dtype)
    for t in range(n_frames):
        out[:, t] = y[t * hop_length: t * hop_length + frame_length]
    return out


def periodic_hann(n):
    return 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n) / n)


def stft_with(y, n_fft, hop_length, window=periodic_hann, pad="constant"):
    if pad is not None:
        y = np.pad(y, n_fft // 2, mode=pad)
    return np.fft.rfft(frame(y, n_fft, hop_length) * window(n_fft)[:, None], axis=0)


def stft(y, n_fft, hop_length):
    return stft_with(y, n_fft, hop_length)


def hz_to_mel(f, htk=False):
    """Slaney's mel scale (linear below 1 kHz, logarithmic above) or HTK's, written out."""
    f = np.asarray(f, dtype=float)
    if htk:
        return 2595.0 * np.log10(1.0 + f / 700.0)
    with np.errstate(divide="ignore"):
        return np.where(f < 1000.0, 3.0 * f / 200.0,
                        15.0 + 27.0 * np.log(np.maximum(f, 1e-12) / 1000.0) / np.log(6.4))


def mel_to_hz(m, htk=False):
    m = np.asarray(m, dtype=float)
    if htk:
        return 700.0 * (10.0 ** (m / 2595.0) - 1.0)
    return np.where(m < 15.0, 200.0 * m / 3.0, 1000.0 * np.exp((m - 15.0) * np.log(6.4) / 27.0))


def mel_filterbank(sr, n_fft, n_mels, fmin=0.0, fmax=None, norm=True, htk=False):
    fmax = sr / 2 if fmax is None else fmax
    mels = np.linspace(hz_to_mel(fmin, htk=htk), hz_to_mel(fmax, htk=htk), n_mels + 2)
    edges = mel_to_hz(mels, htk=htk)
    freqs = np.arange(1 + n_fft // 2) * sr / n_fft
    weights = np.zeros((n_mels, len(freqs)))
    for m in range(n_mels):
        lo, centre, hi = edges[m], edges[m + 1], edges[m + 2]
        weights[m] = np.maximum(0, np.minimum((freqs - lo) / (centre - lo),
                                              (hi - freqs) / (hi - centre)))
        if norm:
            weights[m] *= 2 / (hi - lo)
    return weights


def pool_chroma(S_pitch, norm=True):
    chroma = np.zeros((12, S_pitch.shape[1]))
    for p in range(128):
        chroma[p % 12] += S_pitch[p]
    if not norm:
        return chroma
    peak = chroma.max(axis=0)
    return chroma / np.where(peak > 0, peak, 1.0)


def min_n_fft(f1, f2, sr):
    n = 1
    while sr / n > abs(f2 - f1) / 2:
        n *= 2
    return n


# min_n_fft above repeats the reference's loop, so comparing the two proves little: these
# values are derived by hand. Two Hann-windowed partials are resolved when they are 2 bins
# apart, i.e. when the bin spacing sr / n_fft is at most |f2 - f1| / 2; n_fft is the smallest
# power of two with n_fft >= 2 * sr / |f2 - f1|.
HAND_DERIVED_MIN_N_FFT = {
    # 26.16 Hz apart: bins <= 13.08 Hz, n_fft >= 22050 / 13.08 = 1685.8 -> 2048 (1024 gives 21.5)
    (440.0, 466.16, 22050): 2048,
    (466.16, 440.0, 22050): 2048,  # the order of the two frequencies does not matter
    # 100 Hz apart: bins <= 50 Hz, n_fft >= 16000 / 50 = 320 -> 512 (256 gives 62.5 Hz)
    (1000.0, 1100.0, 16000): 512,
    # 6.54 Hz apart: bins <= 3.27 Hz, n_fft >= 22050 / 3.27 = 6743 -> 8192
    (110.0, 116.54, 22050): 8192,
    # 3.89 Hz apart: bins <= 1.945 Hz, n_fft >= 44100 / 1.945 = 22674 -> 32768
    (65.41, 69.30, 44100): 32768,
}


@pytest.mark.parametrize(("args", "expected"), HAND_DERIVED_MIN_N_FFT.items())
def test_min_n_fft_reference_gives_the_values_derived_by_hand(args, expected):
    from mirlab.labs.audio_representations import _min_n_fft

    assert _min_n_fft(*args) == expected
    assert min_n_fft(*args) == expected


def test_min_n_fft_check_accepts_the_hand_derived_table_and_rejects_a_wrong_entry():
    labs.check_min_n_fft(lambda f1, f2, sr: HAND_DERIVED_MIN_N_FFT[(f1, f2, sr)], verbose=False)
    wrong = dict(HAND_DERIVED_MIN_N_FFT)
    wrong[(1000.0, 1100.0, 16000)] = 256
    with pytest.raises(LabCheckError, match="expected 512, got 256"):
        labs.check_min_n_fft(lambda f1, f2, sr: wrong[(f1, f2, sr)], verbose=False)


def test_lab_check_error_is_an_assertion_error():
    assert issubclass(LabCheckError, AssertionError)


@pytest.mark.parametrize("check, solution, name", [
    (labs.check_frame, frame, "frame"),
    (labs.check_stft, stft, "stft"),
    (labs.check_mel_filterbank, mel_filterbank, "mel_filterbank"),
    (labs.check_chroma_pooling, pool_chroma, "chroma"),
    (labs.check_min_n_fft, min_n_fft, "resolution"),
])
def test_checks_pass_plain_solutions(check, solution, name, capsys):
    check(solution)
    assert capsys.readouterr().out.strip() == f"✓ {name}: passed"


def test_checks_pass_librosa():
    # the checks' references are mirlab.features; librosa is the independent implementation
    labs.check_frame(lambda y, fl, hop: librosa.util.frame(y, frame_length=fl, hop_length=hop),
                     verbose=False)
    labs.check_stft(lambda y, n_fft, hop: librosa.stft(y, n_fft=n_fft, hop_length=hop),
                    verbose=False)
    labs.check_mel_filterbank(
        lambda sr, n_fft, n_mels, fmin=0.0, fmax=None: librosa.filters.mel(
            sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax), verbose=False)
    # chroma by pitch-class pooling, then each frame divided by its maximum (librosa's
    # normalize with norm=inf leaves silent frames at zero)
    pool = np.zeros((12, 128))
    pool[np.arange(128) % 12, np.arange(128)] = 1.0
    labs.check_chroma_pooling(lambda S: librosa.util.normalize(pool @ S, norm=np.inf, axis=0),
                              verbose=False)


def test_checks_accept_float32_results():
    labs.check_stft(lambda y, n, h: stft(y, n, h).astype(np.complex64), verbose=False)
    labs.check_mel_filterbank(lambda *a, **k: mel_filterbank(*a, **k).astype(np.float32),
                              verbose=False)


def _ceil_frames(y, fl, hop):
    n = int(np.ceil((len(y) - fl) / hop)) + 1
    y = np.concatenate([y, np.zeros(fl)])
    return np.stack([y[t * hop: t * hop + fl] for t in range(n)], axis=1)


def _div_max(C, axis):
    with np.errstate(invalid="ignore", divide="ignore"):
        return C / C.max(axis=axis, keepdims=True)


MISTAKES = [
    # framing
    (labs.check_frame, lambda y, fl, h: frame(y, fl, h)[:, :-1], ["misses the last frame"]),
    (labs.check_frame, _ceil_frames, ["one frame too many", "complete frames"]),
    (labs.check_frame, lambda y, fl, h: frame(y, fl, h).T, ["transposed", "(256, 12)"]),
    (labs.check_frame, lambda y, fl, h: frame(np.pad(y, fl // 2), fl, h), ["padded", "centr"]),
    (labs.check_frame, lambda y, fl, h: frame(y, fl, fl), ["wrong hop", "0 and 256"]),
    (labs.check_frame, lambda y, fl, h: frame(y, fl, h + 1), ["start at samples 0 and 65"]),
    (labs.check_frame, lambda y, fl, h: frame(y, fl, h) * periodic_hann(fl)[:, None],
     ["windowed"]),
    (labs.check_frame, lambda y, fl, h: None, ["returned None", "return"]),
    (labs.check_frame, lambda y, fl, h: frame(y, fl, h).astype(int),
     ["integer dtype", "float dtype"]),
    (labs.check_frame, lambda y, fl, h: [["a"] * 3] * 2, ["numeric array"]),
    # STFT
    (labs.check_stft, lambda y, n, h: stft_with(y, n, h, window=np.ones),
     ["rectangular", "Hann"]),
    (labs.check_stft, lambda y, n, h: stft_with(y, n, h, window=np.hanning),
     ["symmetric Hann", "periodic"]),
    (labs.check_stft, lambda y, n, h: stft_with(
        y, n, h, window=lambda m: scipy.signal.get_window("hann", m, fftbins=False)),
     ["symmetric Hann"]),
    (labs.check_stft, lambda y, n, h: stft_with(y, n, h, pad=None),
     ["no centre padding", "n_fft // 2 zeros"]),
    (labs.check_stft, lambda y, n, h: stft_with(y, n, h, window=np.hanning, pad=None),
     ["symmetric Hann", "no centre padding"]),
    (labs.check_stft, lambda y, n, h: stft_with(y, n, h, pad="reflect"), ["reflection"]),
    (labs.check_stft, lambda y, n, h: stft(y, n, h)[:, :-1], ["misses the last frame"]),
    (labs.check_stft, lambda y, n, h: stft(y, n, h).T, ["transposed", "(129, 32)", "(32, 129)"]),
    (labs.check_stft, lambda y, n, h: np.abs(stft(y, n, h)), ["magnitude", "complex"]),
    (labs.check_stft, lambda y, n, h: stft(y, n, h).real, ["expected complex", "float64"]),
    (labs.check_stft, lambda y, n, h: np.fft.fft(
        frame(np.pad(y, n // 2), n, h) * periodic_hann(n)[:, None], axis=0),
     ["expected shape (129, 32), got (256, 32)", "rfft"]),
    (labs.check_stft, lambda y, n, h: stft(y, n, 2 * h),
     ["expected shape (129, 32), got (129, 16)", "hop"]),
    (labs.check_stft, lambda y, n, h: stft(y, n, h) / n, ["1 / n_fft"]),
    # mel filterbank
    (labs.check_mel_filterbank, lambda *a, **k: mel_filterbank(*a, **k, norm=False),
     ["not normalised", "Slaney", "2 / (f[m + 2] - f[m])"]),
    (labs.check_mel_filterbank, lambda *a, **k: mel_filterbank(*a, **k, htk=True), ["HTK"]),
    (labs.check_mel_filterbank, lambda *a, **k: mel_filterbank(*a, **k, htk=True, norm=False),
     ["HTK", "not normalised"]),
    (labs.check_mel_filterbank, lambda *a, **k: mel_filterbank(*a, **k).T,
     ["transposed", "(40, 1025)", "one filter per row"]),
    (labs.check_mel_filterbank, lambda sr, n, m, fmin=0.0, fmax=None:
     mel_filterbank(sr, n, m, fmin, None), ["ignored fmax=7000.0"]),
    (labs.check_mel_filterbank, lambda sr, n, m, fmin=0.0, fmax=None:
     mel_filterbank(sr, n, m + 2, fmin, fmax), ["got (42, 1025)", "n_mels + 2 edge"]),
    (labs.check_mel_filterbank, lambda *a, **k: (lambda w: w / w.sum(1, keepdims=True))(
        mel_filterbank(*a, **k)), ["sum 1", "bandwidth"]),
    # chroma
    (labs.check_chroma_pooling, lambda S: pool_chroma(S, norm=False),
     ["not normalised", "maximum"]),
    (labs.check_chroma_pooling, lambda S: pool_chroma(S).T, ["transposed", "(12, 10)"]),
    (labs.check_chroma_pooling, lambda S: _div_max(pool_chroma(S, norm=False), 0),
     ["NaN", "(0, 5)", "division by zero"]),
    (labs.check_chroma_pooling, lambda S: _div_max(pool_chroma(S, norm=False), 1),
     ["over time", "axis 0"]),
    (labs.check_chroma_pooling, lambda S: (lambda C: C / np.maximum(
        np.linalg.norm(C, axis=0), 1e-12))(pool_chroma(S, norm=False)), ["Euclidean"]),
    (labs.check_chroma_pooling, lambda S: np.roll(pool_chroma(S), 3, axis=0),
     ["shifted by 3", "p mod 12"]),
    (labs.check_chroma_pooling, lambda S: S, ["got (128, 10)", "12 pitch classes"]),
    # frequency resolution
    (labs.check_min_n_fft, lambda f1, f2, sr: min_n_fft(f1, f2, sr) // 2,
     ["expected 8192, got 4096", "2 bins"]),
    (labs.check_min_n_fft, lambda f1, f2, sr: int(np.ceil(2 * sr / abs(f2 - f1))),
     ["power of two"]),
    (labs.check_min_n_fft, lambda f1, f2, sr: 2 * min_n_fft(f1, f2, sr), ["the smallest"]),
]


@pytest.mark.parametrize("check, wrong, phrases", MISTAKES,
                         ids=[f"{c.exercise}-{i}" for i, (c, _, _) in enumerate(MISTAKES)])
def test_checks_name_typical_mistakes(check, wrong, phrases):
    with pytest.raises(LabCheckError) as info:
        check(wrong)
    message = str(info.value)
    for phrase in phrases:
        assert phrase in message, f"{phrase!r} not in:\n{message}"


def test_value_mismatch_reports_the_position():
    def off(y, n, h):
        X = stft(y, n, h)
        X[5, 7] += 1.0
        return X

    with pytest.raises(LabCheckError, match=r"1 of \d+ values differ.*at \[5, 7\]"):
        labs.check_stft(off)


# --- the Lab object -------------------------------------------------------------------------

def test_lab_records_passed_failed_todo_and_unchecked(capsys):
    def not_done(y, frame_length, hop_length):
        raise NotImplementedError()

    def crashes(S_pitch):
        return S_pitch[len(S_pitch) + 1]

    lab = labs.Lab("lab01")
    lab.check("frame", labs.check_frame, not_done)
    assert capsys.readouterr().out.startswith("✗ frame: not done yet")
    lab.check("stft", labs.check_stft, lambda y, n, h: stft_with(y, n, h, window=np.hanning))
    out = capsys.readouterr().out
    assert out.startswith("✗ stft: failed") and "symmetric Hann" in out
    assert "Traceback" not in out
    lab.check("mel_filterbank", labs.check_mel_filterbank, mel_filterbank)
    assert capsys.readouterr().out.strip() == "✓ mel_filterbank: passed"
    lab.check("chroma", labs.check_chroma_pooling, crashes)
    out = capsys.readouterr().out
    assert "raised IndexError" in out and "S_pitch[len(S_pitch) + 1]" in out
    assert lab.status() == {"frame": "todo", "stft": "failed", "mel_filterbank": "passed",
                            "chroma": "failed", "resolution": "unchecked"}
    lab.report()
    report = capsys.readouterr().out
    assert "1 of 5 exercises passed" in report
    assert "Still to do: frame, stft, chroma, resolution" in report


def test_lab_names_the_unfinished_function_a_solution_depends_on(capsys):
    def frame_stub(y, frame_length, hop_length):
        raise NotImplementedError()

    def my_stft(y, n_fft, hop_length):
        return np.fft.rfft(frame_stub(np.pad(y, n_fft // 2), n_fft, hop_length), axis=0)

    lab = labs.Lab("lab01")
    lab.check("stft", labs.check_stft, my_stft)
    assert "`my_stft` calls `frame_stub`" in capsys.readouterr().out
    assert lab.status()["stft"] == "todo"


def test_lab_can_raise_for_grading_tools():
    lab = labs.Lab("lab01", raise_on_failure=True)
    with pytest.raises(LabCheckError, match="transposed"):
        lab.check("frame", labs.check_frame, lambda y, fl, h: frame(y, fl, h).T)
    assert lab.status()["frame"] == "failed"


def test_all_passed_report(capsys):
    lab = labs.Lab("lab01")
    for name, check, fn in [("frame", labs.check_frame, frame), ("stft", labs.check_stft, stft),
                            ("mel_filterbank", labs.check_mel_filterbank, mel_filterbank),
                            ("chroma", labs.check_chroma_pooling, pool_chroma),
                            ("resolution", labs.check_min_n_fft, min_n_fft)]:
        lab.check(name, check, fn)
    lab.report()
    out = capsys.readouterr().out
    assert "5 of 5 exercises passed" in out and "All exercises passed" in out


def test_comparison_figures_show_both_or_a_placeholder(rng):
    def not_done(*args, **kwargs):
        raise NotImplementedError()

    y = rng.standard_normal(4096)
    fig = labs.compare_spectrograms(stft, y, 22050, n_fft=512, hop_length=128)
    assert [ax.get_title() for ax in fig.axes[:2]] == ["yours", "reference (features.stft)"]
    assert len(fig.axes[0].collections) == 1  # the student's spectrogram is drawn
    fig = labs.compare_filterbanks(not_done, 22050, 1024, 20)
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert texts == ["yours: not done yet"] and len(fig.axes[1].lines) == 20
    S = rng.random((128, 6))
    fig = labs.compare_chromagrams(pool_chroma, S)
    mesh = np.asarray(fig.axes[0].collections[0].get_array()).reshape(12, 6)
    np.testing.assert_allclose(mesh, pool_chroma(S))
    fig = labs.compare_resolution(min_n_fft, 110.0, 116.54, 22050, duration=1.0)
    assert fig.axes[1].get_title().startswith("n_fft = 8192")


# --- student versions -----------------------------------------------------------------------

def _toy_notebook():
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell("# Toy lab\n\nExplain things."),
        nbformat.v4.new_code_cell(
            "def f(x):\n    \"\"\"Doc.\"\"\"\n    ### BEGIN SOLUTION\n    secret_a = x + 1\n"
            "    return secret_a\n    ### END SOLUTION\n\n\ndef g(x):\n    if x:\n"
            "        ### BEGIN SOLUTION\n        return 'secret_b'\n        ### END SOLUTION\n"
            "    return 0"),
        nbformat.v4.new_code_cell("### BEGIN SOLUTION\nsecret_c = 3\n### END SOLUTION\nprint(1)"),
        nbformat.v4.new_markdown_cell("Why?\n\n### BEGIN SOLUTION\nsecret_d\n### END SOLUTION"),
        nbformat.v4.new_code_cell("print('solution only: secret_e')",
                                  metadata={"tags": ["solution-only"]}),
        nbformat.v4.new_code_cell("lab.check('f', check_f, f)", execution_count=3,
                                  outputs=[nbformat.v4.new_output("stream", text="✓ f")]),
    ]
    return nb


def test_student_version_replaces_every_region(tmp_path):
    src = tmp_path / "toy.ipynb"
    nbformat.write(_toy_notebook(), src)
    dst = labs.make_student_version(src, tmp_path / "out")
    assert dst == tmp_path / "out" / "toy.ipynb"
    text = dst.read_text()
    for secret in ("secret_a", "secret_b", "secret_c", "secret_d", "secret_e", "SOLUTION"):
        assert secret not in text
    nb = nbformat.read(dst, as_version=4)
    assert len(nb.cells) == 5  # the solution-only cell is gone
    assert nb.cells[1].source == (
        "def f(x):\n    \"\"\"Doc.\"\"\"\n    # YOUR CODE HERE\n    raise NotImplementedError()\n"
        "\n\ndef g(x):\n    if x:\n        # YOUR CODE HERE\n        raise NotImplementedError()\n"
        "    return 0")
    assert nb.cells[2].source == "# YOUR CODE HERE\nraise NotImplementedError()\nprint(1)"
    assert nb.cells[3].source == "Why?\n\nYOUR ANSWER HERE"
    assert nb.cells[0].source == "# Toy lab\n\nExplain things."
    assert nb.cells[4].source == "lab.check('f', check_f, f)"
    assert nb.cells[4].outputs == [] and nb.cells[4].execution_count is None
    nbformat.validate(nb)


@pytest.mark.parametrize("source, phrase", [
    ("x = 1\n### BEGIN SOLUTION\ny = 2", "without '### END SOLUTION'"),
    ("### BEGIN SOLUTION\n### BEGIN SOLUTION\ny = 2\n### END SOLUTION", "nested"),
    ("y = 2\n### END SOLUTION", "without a matching"),
])
def test_malformed_markers_raise_naming_the_cell(tmp_path, source, phrase):
    nb = _toy_notebook()
    nb.cells.insert(2, nbformat.v4.new_code_cell(source))
    cell_id = nb.cells[2]["id"]
    src = tmp_path / "bad.ipynb"
    nbformat.write(nb, src)
    with pytest.raises(ValueError) as info:
        labs.make_student_version(src, tmp_path / "out.ipynb")
    assert phrase in str(info.value)
    assert "cell 2" in str(info.value) and cell_id in str(info.value)
    assert "bad.ipynb" in str(info.value)
    assert not (tmp_path / "out.ipynb").exists()


def test_cli_writes_student_notebooks(tmp_path):
    out = tmp_path / "student"
    result = subprocess.run([sys.executable, "-m", "mirlab.labs", "student", str(REPO / "labs"),
                             "--out", str(out)], cwd=REPO, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    written = sorted(p.name for p in out.glob("*.ipynb"))
    assert written == sorted(p.name for p in (REPO / "labs").glob("*.ipynb"))
    assert "lab01_audio_representations.ipynb" in written
    assert "BEGIN SOLUTION" not in (out / LAB01.name).read_text()
    assert "wrote" in result.stdout


def test_cli_reports_a_bad_path(tmp_path, capsys):
    assert labs.main(["student", str(tmp_path / "missing.ipynb"), "--out", str(tmp_path)]) == 2
    assert "missing.ipynb" in capsys.readouterr().err
    assert labs.main(["student", str(LAB01), "--out", str(tmp_path / "one")]) == 0
    assert (tmp_path / "one" / LAB01.name).is_file()
