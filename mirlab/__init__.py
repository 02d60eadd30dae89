"""mirlab: reference implementations for an open course on Music Information Retrieval.

Packages are named by concept and layered: a package imports only from the layers below it
(``tests/test_layers.py`` holds this).

=========================================================  ====================================
layer                                                      packages
=========================================================  ====================================
labs                                                       :mod:`mirlab.labs`
transfer learning (builds on tagging)                      :mod:`mirlab.transfer`
topics of the book                                         :mod:`mirlab.chords`,
                                                           :mod:`mirlab.transcription`,
                                                           :mod:`mirlab.tagging`
networks: models, the training loop, checkpoints           :mod:`mirlab.nn`
music for the course: corpus, synthesiser, datasets        :mod:`mirlab.datasets`
figures and tables                                         :mod:`mirlab.plotting`
features, sequence algorithms, evaluation metrics          :mod:`mirlab.features`,
                                                           :mod:`mirlab.sequence`,
                                                           :mod:`mirlab.metrics`
audio input and output                                     :mod:`mirlab.audio`
shared types and helpers                                   :mod:`mirlab.core`
=========================================================  ====================================
"""

from mirlab.core.env import (
    cache_dir,
    device,
    environment_info,
    environment_report,
    progress_disabled,
)

__version__ = "0.1.0"
__all__ = ["cache_dir", "device", "environment_info", "environment_report",
           "progress_disabled", "__version__"]
