"""Algorithms on sequences: HMM decoding (Viterbi, forward-backward), DTW, soft-DTW and CTC.

- :mod:`mirlab.sequence.hmm`: Viterbi and forward-backward, taught in
  ``notebooks/02_chord_recognition.ipynb``
- :mod:`mirlab.sequence.dtw`: cost matrices, DTW with step sizes and weights, backtracking,
  subsequence DTW
- :mod:`mirlab.sequence.softdtw`: the soft minimum, soft-DTW and its expected alignment
- :mod:`mirlab.sequence.ctc`: connectionist temporal classification (forward, backward, loss)

The last three are taught in ``notebooks/07_alignment.ipynb``. Each plain version has a fast
(numba) path beside it, tested equal.
"""

from mirlab.sequence.ctc import (
    ctc_backward,
    ctc_forward,
    ctc_forward_fast,
    ctc_greedy_decode,
    ctc_loss,
    ctc_loss_and_grad,
    extended_target,
)
from mirlab.sequence.dtw import (
    DEFAULT_STEP_SIZES,
    backtrack,
    cost_matrix,
    dtw,
    dtw_fast,
    matching_function,
    subsequence_dtw,
)
from mirlab.sequence.hmm import forward_backward, viterbi, viterbi_fast
from mirlab.sequence.softdtw import (
    soft_dtw,
    soft_dtw_alignment,
    soft_dtw_alignment_batch,
    soft_dtw_alignment_fast,
    soft_dtw_divergence,
    soft_dtw_fast,
    softmin,
    sqeuclidean_cost,
)

__all__ = [
    "viterbi", "viterbi_fast", "forward_backward",
    "DEFAULT_STEP_SIZES", "cost_matrix", "dtw", "dtw_fast", "backtrack", "subsequence_dtw",
    "matching_function",
    "softmin", "soft_dtw", "soft_dtw_alignment", "soft_dtw_fast", "soft_dtw_alignment_fast",
    "soft_dtw_alignment_batch", "soft_dtw_divergence", "sqeuclidean_cost",
    "extended_target", "ctc_forward", "ctc_forward_fast", "ctc_backward", "ctc_loss",
    "ctc_loss_and_grad", "ctc_greedy_decode",
]
