"""Algorithms on sequences: HMM decoding (Viterbi, forward-backward).

Taught in ``notebooks/02_chord_recognition.ipynb``; DTW, soft-DTW and CTC join this package
with the alignment chapter.
"""

from mirlab.sequence.hmm import forward_backward, viterbi, viterbi_fast

__all__ = ["viterbi", "viterbi_fast", "forward_backward"]
