"""Tests for mirlab.plotting: the figures' axes (limits, labels, ticks) and input validation."""

import matplotlib

matplotlib.use("Agg")

import librosa  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from mirlab import plotting  # noqa: E402
from mirlab.core.pitch import PITCH_NAMES  # noqa: E402

SR, HOP = 22050, 512


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _yticklabels(ax):
    return tuple(t.get_text() for t in ax.get_yticklabels())


def test_note_name_matches_librosa():
    # the course spells pitch classes with core.pitch.PITCH_NAMES (Eb, Ab, Bb; librosa writes
    # D#, G#, A#): librosa reads every name back to its MIDI number, and where the course has
    # no flat both spell the note alike
    for midi in range(21, 109):
        name = plotting.note_name(midi)
        assert librosa.note_to_midi(name) == midi, name
        if "b" not in name:
            assert name == librosa.midi_to_note(midi, unicode=False)
    assert [plotting.note_name(m) for m in (63, 68, 70)] == ["Eb4", "Ab4", "Bb4"]


def test_specshow_linear_axes_are_centred_frames_and_stft_bins(rng):
    S = rng.random((1025, 40))
    ax = plotting.specshow(S, sr=SR, hop_length=HOP)
    assert isinstance(ax, matplotlib.axes.Axes)
    # centred frames: frame 0 spans [-hop/2, hop/2] / sr, the last one ends half a hop after
    np.testing.assert_allclose(ax.get_xlim(), (-0.5 * HOP / SR, 39.5 * HOP / SR))
    np.testing.assert_allclose(ax.get_ylim(), (0.0, SR / 2 + SR / 2048 / 2))
    assert ax.get_xlabel() == "Time (s)" and ax.get_ylabel() == "Frequency (Hz)"
    mesh = ax.collections[-1]
    np.testing.assert_array_equal(np.asarray(mesh.get_array()).ravel(), S.ravel())


def test_specshow_frames_axis_and_log_scale(rng):
    ax = plotting.specshow(rng.random((513, 10)), y_axis="log", x_axis="frames")
    assert ax.get_yscale() == "log"
    assert ax.get_ylim()[0] > 0
    np.testing.assert_allclose(ax.get_xlim(), (-0.5, 9.5))
    assert ax.get_xlabel() == "Frame"


def test_specshow_mel_ticks_sit_at_librosa_mel_values(rng):
    ax = plotting.specshow(rng.random((64, 5)), sr=SR, y_axis="mel", fmax=8000)
    labels = _yticklabels(ax)
    assert "1000" in labels and "16000" not in labels
    tick = ax.get_yticks()[labels.index("1000")]
    np.testing.assert_allclose(tick, librosa.hz_to_mel(1000.0))
    # the top edge lies above the centre of the last band, below fmax's mel value + a band
    centres = librosa.hz_to_mel(librosa.mel_frequencies(66, fmin=0, fmax=8000))[1:-1]
    assert centres[-1] < ax.get_ylim()[1] < librosa.hz_to_mel(8000.0) + (centres[1] - centres[0])


def test_specshow_cqt_note_axis_labels_every_c(rng):
    ax = plotting.specshow(rng.random((84, 5)), sr=SR, y_axis="cqt_note")
    # default fmin C1 (MIDI 24): rows 24 ... 107, ticks C1 ... C8 but C8 (108) is outside
    assert _yticklabels(ax) == ("C1", "C2", "C3", "C4", "C5", "C6", "C7")
    np.testing.assert_allclose(ax.get_ylim(), (23.5, 107.5))
    ax2 = plotting.specshow(rng.random((36, 5)), y_axis="cqt_note", fmin=librosa.note_to_hz("A2"),
                            bins_per_octave=36)
    np.testing.assert_allclose(ax2.get_ylim(), (45 - 1 / 6, 45 + 35 / 3 + 1 / 6))


def test_specshow_pitch_and_chroma_rows(rng):
    ax = plotting.specshow(rng.random((128, 5)), y_axis="pitch")
    assert ax.get_ylim() == (-0.5, 127.5)
    assert "C4" in _yticklabels(ax) and ax.get_yticks()[_yticklabels(ax).index("C4")] == 60
    ax = plotting.plot_chroma(rng.random((12, 30)), sr=SR, hop_length=HOP)
    assert _yticklabels(ax) == PITCH_NAMES
    assert ax.get_ylabel() == "Pitch class"


@pytest.mark.parametrize(
    ("S", "kwargs", "match"),
    [
        (np.ones(10), {}, "S must have 2 dimensions"),
        (np.ones((5, 4), complex), {}, "S must be real"),
        (np.full((5, 4), np.nan), {}, "S must be finite"),
        (np.ones((5, 4)), {"y_axis": "bark"}, "y_axis must be one of"),
        (np.ones((5, 4)), {"x_axis": "beats"}, "x_axis must be one of"),
        (np.ones((13, 4)), {"y_axis": "chroma"}, "12 rows"),
        (np.ones((5, 4)), {"sr": -1}, "sr must be a positive integer"),
        (np.ones((5, 4)), {"hop_length": 0}, "hop_length must be a positive"),
    ],
)
def test_specshow_rejects_bad_input(S, kwargs, match):
    with pytest.raises(ValueError, match=match):
        plotting.specshow(S, **kwargs)


def test_plot_waveform_time_axis_and_offset():
    y = np.sin(np.linspace(0, 10, 1000))
    ax = plotting.plot_waveform(y, sr=1000, offset=2.0, samples=True)
    np.testing.assert_allclose(ax.get_xlim(), (2.0, 2.999))
    assert ax.get_xlabel() == "Time (s)" and ax.get_ylabel() == "Amplitude"
    np.testing.assert_allclose(ax.lines[0].get_ydata(), y)
    assert len(ax.lines) == 2  # the curve and the sample dots
    with pytest.raises(ValueError, match="y must have shape"):
        plotting.plot_waveform(np.ones((2, 10)), sr=1000)
    with pytest.raises(ValueError, match="sr must be"):
        plotting.plot_waveform(y, sr=0)


def test_plot_filterbank_draws_librosa_mel_filters_over_hz():
    fb = librosa.filters.mel(sr=SR, n_fft=1024, n_mels=40)
    ax = plotting.plot_filterbank(fb, sr=SR, n_fft=1024, every=2)
    assert len(ax.lines) == 20
    np.testing.assert_allclose(ax.get_xlim(), (0, SR / 2))
    # each curve peaks at its filter's maximum bin frequency
    peak_hz = ax.lines[3].get_xdata()[np.argmax(ax.lines[3].get_ydata())]
    np.testing.assert_allclose(peak_hz, np.argmax(fb[6]) * SR / 1024)
    with pytest.raises(ValueError, match="1025 columns"):
        plotting.plot_filterbank(fb, sr=SR, n_fft=2048)
    with pytest.raises(ValueError, match="non-negative"):
        plotting.plot_filterbank(-fb, sr=SR)


def test_plot_filterbank_with_an_odd_n_fft_uses_its_bin_frequencies():
    fb = librosa.filters.mel(sr=16000, n_fft=511, n_mels=20)  # 256 columns, also for n_fft=510
    ax = plotting.plot_filterbank(fb, sr=16000, n_fft=511)
    np.testing.assert_allclose(ax.lines[0].get_xdata(), librosa.fft_frequencies(sr=16000,
                                                                                n_fft=511))
    ax = plotting.plot_filterbank(fb, sr=16000)  # deduced: n_fft = 2 * (256 - 1) = 510
    np.testing.assert_allclose(ax.lines[0].get_xdata(), librosa.fft_frequencies(sr=16000,
                                                                                n_fft=510))


def test_specshow_time_axis_with_an_odd_hop_and_another_rate(rng):
    ax = plotting.specshow(rng.random((12, 7)), sr=16000, hop_length=441, y_axis="chroma")
    # centred frames: frame n spans (n -/+ 1/2) * 441 / 16000 s (librosa.frames_to_time would
    # round the half-frame edges to whole samples)
    np.testing.assert_allclose(ax.get_xlim(), (-0.5 * 441 / 16000, 6.5 * 441 / 16000))


def test_plot_notes_piano_roll_and_pitch_classes():
    on, off, pitch = np.array([0.0, 0.5, 1.0]), np.array([0.5, 1.0, 2.0]), np.array([60, 64, 74])
    ax = plotting.plot_notes(on, off, pitch)
    assert ax.get_xlim() == (0.0, 2.0)
    assert ax.get_ylim() == (58.5, 75.5)
    ax = plotting.plot_notes(on, off, pitch, pitch_class=True)
    assert _yticklabels(ax) == PITCH_NAMES
    # one bar collection per pitch class: C (60), E (64), D (74)
    rows = sorted(c.get_paths()[0].vertices[:, 1].min() + 0.4 for c in ax.collections)
    np.testing.assert_allclose(rows, [0, 2, 4])
    ax = plotting.plot_notes(on, off, pitch, fill=False, color="red", label_axis=False)
    np.testing.assert_allclose(ax.collections[0].get_edgecolor()[0], [1, 0, 0, 1])
    face = ax.collections[0].get_facecolor()
    assert len(face) == 0 or face[0][3] == 0  # outlines only: no (or transparent) fill
    # the arguments are named like the fields of Notes
    ax = plotting.plot_notes(onset=on, offset=off, pitch=pitch, ax=None)
    assert ax.get_xlim() == (0.0, 2.0)
    with pytest.raises(ValueError, match="onset, offset and pitch must have the same length"):
        plotting.plot_notes(on, off[:2], pitch)
    with pytest.raises(ValueError, match="offset < onset"):
        plotting.plot_notes(off, on, pitch)


def test_markdown_table_layout_and_errors():
    from mirlab.plotting import markdown_table, table

    text = markdown_table([{"a": 1, "b": "x"}, {"a": 22, "b": "y"}], align="rl")
    assert text.splitlines() == ["| a | b |", "| ---: | :--- |", "| 1 | x |", "| 22 | y |"]
    assert table([{"a": 1}]).data == "| a |\n| :--- |\n| 1 |"
    with pytest.raises(ValueError, match="rows must be a non-empty list of dicts"):
        markdown_table([])
    with pytest.raises(ValueError, match="align must give"):
        markdown_table([{"a": 1, "b": 2}], align="l")


def test_interact_is_live_in_a_notebook_and_static_in_a_build(monkeypatch, capsys):
    from mirlab.plotting import STATIC_ENV, interact

    calls = []
    monkeypatch.setenv(STATIC_ENV, "1")
    assert interact(lambda n=1: calls.append(n), n=[1, 2]) is None
    assert calls == [] and "run this notebook in Colab or Jupyter" in capsys.readouterr().out
    monkeypatch.delenv(STATIC_ENV)
    interact(lambda n=1: calls.append(n), n=[3, 4])
    assert calls == [3], "the live widget draws once with the first value"
