"""Music tagging: the MFCC-statistics baseline and the analyses of the tagging chapter.

- :mod:`mirlab.tagging.baselines`: MFCC statistics and a logistic regression, as a scikit-learn
  pipeline (:func:`~mirlab.tagging.baselines.mfcc_baseline`);
- :mod:`mirlab.tagging.analysis`: benchmark tables, per-tag matrices, chunk scores, filter
  shapes and attention maps of trained taggers.

The taggers themselves and their training are in :mod:`mirlab.nn`. Taught in
``notebooks/04_music_tagging.ipynb``; lab: ``labs/lab04_music_tagging``.
"""
