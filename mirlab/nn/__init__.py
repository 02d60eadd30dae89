"""Networks for every chapter that trains one: models, one training loop, checkpoints.

- :mod:`mirlab.nn.models`: front ends (log-mel, raw waveform), the taggers of the tagging
  chapter, pooled embeddings;
- :mod:`mirlab.nn.training`: the one training loop (any model, any loss), prediction,
  evaluation, augmentations;
- :mod:`mirlab.nn.recipes`: how each shipped network is trained (model, data, settings);
- :mod:`mirlab.nn.checkpoints`: shipped, verified weights with their cards; ``python -m
  mirlab.nn.train RECIPE`` retrains one.

Needs PyTorch (``pip install mirlab[deep]``).
"""
