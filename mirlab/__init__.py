"""mirlab: reference implementations for an open course on Music Information Retrieval.

Modules are named by concept:

- :mod:`mirlab.audio`: loading, validation, resampling, players, the fallback synthesiser
- :mod:`mirlab.features`: STFT, mel, MFCC, log-frequency/CQT, chroma, CENS
- :mod:`mirlab.datasets`: the embedded corpus rendered from music21 scores, and real datasets
- :mod:`mirlab.chords`: chord vocabulary, templates, HMMs with Viterbi, evaluation
- :mod:`mirlab.nmf`: non-negative matrix factorisation with multiplicative updates
- :mod:`mirlab.transcription`: harmonic templates, NMF transcription, note extraction
- :mod:`mirlab.baselines`: the MFCC-statistics tagging baseline
- :mod:`mirlab.models`, :mod:`mirlab.training`, :mod:`mirlab.metrics`: PyTorch taggers,
  their training loop with a checkpoint cache, ROC-AUC / PR-AUC
- :mod:`mirlab.labs`: lab checks and the student-version generator
"""

from mirlab.env import cache_dir, device, environment_info, environment_report

__version__ = "0.1.0"
__all__ = ["cache_dir", "device", "environment_info", "environment_report", "__version__"]
