"""The bottom layer of mirlab: what every other package shares.

- :mod:`mirlab.core.checks`: input validation with messages that name the argument, what was
  expected and what was received;
- :mod:`mirlab.core.files`: checksums and atomic writes;
- :mod:`mirlab.core.cache`: the one cache (keyed by parameters, checksummed, atomic, safe
  across processes) and the one code hasher, :func:`~mirlab.core.cache.code_sha256`;
- :mod:`mirlab.core.music`: the shared types ``Notes`` and ``Chords``;
- :mod:`mirlab.core.env`: the cache folder, the device (CUDA or CPU), FluidSynth, progress bars;
- :mod:`mirlab.core.pitch`: MIDI pitch and frequency, the one table of pitch-class names.

Nothing here imports another mirlab package. Pitch names and frequencies are taught in
``notebooks/01_audio_representations.ipynb``; each module's docstring names the notebook that
uses it.
"""

from mirlab.core.env import (
    cache_dir,
    device,
    environment_info,
    environment_report,
    progress_disabled,
)

__all__ = ["cache_dir", "device", "environment_info", "environment_report", "progress_disabled"]
