"""Audio features: STFT, mel spectrogram, MFCC, log-frequency spectrogram, CQT, chroma, CENS.

Every function follows librosa's vocabulary (``y, sr, n_fft, hop_length, n_bins``) and returns
features shaped ``(n_features, n_frames)``; frames are centred (frame ``n`` is centred at
``n * hop_length / sr`` seconds). The tests hold each function against librosa (and libfmp
where it computes the same thing) on random signals and on rendered music.

The code is split by concept:

- :mod:`mirlab.features.spectrogram`: framing, windows, STFT, time/frequency helpers, decibels,
  and the input step the other modules share (``check_y_or_S``, ``power_spectrogram_frames``,
  ``stft_frames_major``)
- :mod:`mirlab.features.mel`: mel scale, mel filterbank, mel spectrogram, MFCC
- :mod:`mirlab.features.pitch`: MIDI pitch <-> Hz, log-frequency spectrogram (pitch pooling),
  constant-Q transform (and ``cqt_cutoff``, its Nyquist check)
- :mod:`mirlab.features.chroma`: chroma from STFT, pitch and CQT, CENS, column normalisation

Taught in ``notebooks/01_audio_representations.ipynb``.
"""

from mirlab.features.chroma import (
    chroma_cens,
    chroma_cqt,
    chroma_filterbank,
    chroma_from_pitch,
    chroma_stft,
    cq_to_chroma,
    normalize,
)
from mirlab.features.mel import (
    delta,
    hz_to_mel,
    mel_filterbank,
    mel_frequencies,
    mel_to_hz,
    melspectrogram,
    mfcc,
)
from mirlab.features.pitch import (
    cqt,
    cqt_direct,
    cqt_frequencies,
    hz_to_midi,
    log_frequency_spectrogram,
    midi_to_hz,
    pitch_pooling_matrix,
)
from mirlab.features.spectrogram import (
    amplitude_to_db,
    fft_frequencies,
    frame,
    frames_to_time,
    get_window,
    log_compress,
    power_to_db,
    stft,
    time_to_frames,
)

__all__ = [
    "midi_to_hz",
    "hz_to_midi",
    "frame",
    "get_window",
    "stft",
    "fft_frequencies",
    "frames_to_time",
    "time_to_frames",
    "power_to_db",
    "amplitude_to_db",
    "log_compress",
    "hz_to_mel",
    "mel_to_hz",
    "mel_frequencies",
    "mel_filterbank",
    "melspectrogram",
    "mfcc",
    "delta",
    "pitch_pooling_matrix",
    "log_frequency_spectrogram",
    "cqt_frequencies",
    "cqt",
    "cqt_direct",
    "chroma_from_pitch",
    "chroma_filterbank",
    "chroma_stft",
    "cq_to_chroma",
    "chroma_cqt",
    "chroma_cens",
    "normalize",
]
