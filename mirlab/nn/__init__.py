"""Networks for every chapter that trains one: models, one training loop, shipped checkpoints.

- :mod:`mirlab.nn.models`: front ends (log-mel, raw waveform), the taggers of the tagging
  chapter, pooled embeddings;
- :mod:`mirlab.nn.training`: the one training loop :func:`~mirlab.nn.training.fit` (any model,
  any batch sampler, any loss, an optional validation score), and tagging on bags of chunks
  (``train``, ``predict``, ``evaluate_tagger``);
- :mod:`mirlab.nn.augment`: waveform augmentations (gain, noise, speed);
- :mod:`mirlab.nn.recipes`: how each shipped network is trained (model, data, settings), and
  parallel training;
- :mod:`mirlab.nn.checkpoints`: shipped, verified weights with their cards
  (``mirlab/nn/weights``); :mod:`mirlab.nn.train` is the command line that retrains them,
  ``python -m mirlab.nn.train RECIPE``;
- :mod:`mirlab.nn.shipping`: the same for any other network (``save_shipped`` /
  ``load_shipped``: weights, card, checks), used by the topic packages' ``weights/``;
- :mod:`mirlab.nn.metric`: distances, contrastive / triplet (with mining) / InfoNCE / NT-Xent
  losses with batch statistics, and the P x m class batch sampler (metric learning chapter);
- :mod:`mirlab.nn.softdtw`: soft-DTW and its divergence as a PyTorch loss (autograd on the
  numba kernels of :mod:`mirlab.sequence.softdtw`; alignment chapter).

Taught in the music tagging, transfer learning, metric learning and alignment chapters.
Needs PyTorch (``pip install mirlab[deep]``).
"""
