"""CTC (mirlab.sequence.ctc) against torch.nn.functional.ctc_loss and against enumeration.

Tolerances (stated once): against PyTorch (float64, ``reduction="sum"`` on one sequence) the
loss and the gradient with respect to the log-probabilities agree within ``TOL = 1e-5``
absolute (measured about 1e-14). PyTorch's gradient is ``exp(log_probs) - occupancy``, the
gradient through a log-softmax; ours is ``-occupancy`` by default and PyTorch's form with
``through_softmax=True`` (both are compared). Plain against numba forward pass, and
against the sum over all alignments enumerated on tiny cases: ``1e-10``.
"""

import itertools

import numpy as np
import pytest
import torch

from mirlab.sequence.ctc import (
    ctc_backward,
    ctc_forward,
    ctc_forward_fast,
    ctc_greedy_decode,
    ctc_loss,
    ctc_loss_and_grad,
    extended_target,
)

TOL = 1e-5
EXACT = 1e-10


def random_case(rng, n_classes, n_frames, length, blank, repeats=False):
    logits = rng.normal(size=(n_classes, n_frames)) * 2
    log_probs = logits - np.logaddexp.reduce(logits, axis=0)
    labels = [k for k in range(n_classes) if k != blank]
    target = rng.choice(labels, size=length)
    if repeats and length >= 2:
        target[1] = target[0]  # at least one repeated label
    return log_probs, target.tolist()


def torch_ctc(log_probs, target, blank, zero_infinity=False):
    """PyTorch's loss and gradient for one sequence, in our (n_classes, n_frames) layout."""
    lp = torch.tensor(log_probs.T[:, None, :], requires_grad=True)  # (T, batch=1, C)
    loss = torch.nn.functional.ctc_loss(
        lp, torch.tensor([target], dtype=torch.long).reshape(1, -1),
        torch.tensor([log_probs.shape[1]]), torch.tensor([len(target)]), blank=blank,
        reduction="sum", zero_infinity=zero_infinity)
    loss.backward()
    return loss.item(), lp.grad[:, 0].numpy().T


def collapse(path, blank):
    merged = [k for i, k in enumerate(path) if i == 0 or k != path[i - 1]]
    return [k for k in merged if k != blank]


@pytest.mark.parametrize("seed", range(40))
def test_equals_pytorch_on_random_inputs(seed):
    rng = np.random.default_rng(seed)
    n_classes, blank = int(rng.integers(2, 8)), int(rng.integers(0, 2))
    blank = min(blank, n_classes - 1)
    n_frames, length = int(rng.integers(1, 20)), int(rng.integers(0, 8))
    log_probs, target = random_case(rng, n_classes, n_frames, length, blank, repeats=seed % 2)
    for zero_infinity in (False, True):
        ref_loss, ref_grad = torch_ctc(log_probs, target, blank, zero_infinity)
        loss, grad = ctc_loss_and_grad(log_probs, target, blank, zero_infinity,
                                       through_softmax=True)
        assert ctc_loss(log_probs, target, blank, zero_infinity) == loss
        if np.isinf(ref_loss):
            assert np.isinf(loss) and np.all(np.isnan(grad)) and np.all(np.isnan(ref_grad))
            continue
        assert loss == pytest.approx(ref_loss, abs=TOL)
        np.testing.assert_allclose(grad, ref_grad, atol=TOL)
        _, exact = ctc_loss_and_grad(log_probs, target, blank, zero_infinity)
        if exact.any():  # (zero_infinity on an infeasible target: both are 0)
            np.testing.assert_allclose(exact + np.exp(log_probs), ref_grad, atol=TOL)


@pytest.mark.parametrize("target, n_frames, feasible", [
    ([1, 1], 2, False),     # "1 - 1" needs 3 frames
    ([1, 1], 3, True),
    ([1, 2, 2, 2], 5, False),  # 4 labels + 2 blanks between the repeats = 6
    ([1, 2, 2, 2], 6, True),
    ([1, 2, 3], 2, False),
    ([], 1, True),
])
def test_infeasible_targets_and_zero_infinity(target, n_frames, feasible, rng):
    log_probs, _ = random_case(rng, 4, n_frames, 0, blank=0)
    ref_loss, _ = torch_ctc(log_probs, target, 0)
    loss = ctc_loss(log_probs, target)
    assert np.isfinite(loss) == feasible == np.isfinite(ref_loss)
    if feasible:
        assert loss == pytest.approx(ref_loss, abs=TOL)
    else:
        assert ctc_loss(log_probs, target, zero_infinity=True) == 0.0
        loss, grad = ctc_loss_and_grad(log_probs, target, zero_infinity=True)
        assert loss == 0.0 and not grad.any()
        ref_loss, ref_grad = torch_ctc(log_probs, target, 0, zero_infinity=True)
        assert ref_loss == 0.0 and not ref_grad.any()


@pytest.mark.parametrize("target, blank", [([1], 0), ([2, 2], 0), ([1, 2, 1], 0), ([0, 0], 2),
                                           ([], 1), ([1, 1, 2], 3)])
def test_probability_is_the_sum_over_all_alignments(target, blank, rng):
    """Enumerate every frame-wise class sequence; those that collapse to the target sum up."""
    n_classes, n_frames = 4, 5
    log_probs, _ = random_case(rng, n_classes, n_frames, 0, blank)
    total = 0.0
    for path in itertools.product(range(n_classes), repeat=n_frames):
        if collapse(list(path), blank) == list(target):
            total += np.exp(sum(log_probs[k, t] for t, k in enumerate(path)))
    assert np.exp(-ctc_loss(log_probs, target, blank)) == pytest.approx(total, rel=EXACT)


def test_plain_and_fast_forward_agree_and_beta_is_consistent(rng):
    log_probs, target = random_case(rng, 6, 25, 6, blank=3, repeats=True)
    alpha = ctc_forward(log_probs, target, blank=3)
    fast = ctc_forward_fast(log_probs, target, blank=3)
    assert alpha.shape == (13, 25)
    np.testing.assert_array_equal(np.isinf(alpha), np.isinf(fast))
    np.testing.assert_allclose(alpha[np.isfinite(alpha)], fast[np.isfinite(fast)], rtol=EXACT)
    beta = ctc_backward(log_probs, target, blank=3)
    log_p = -ctc_loss(log_probs, target, blank=3)
    per_frame = np.logaddexp.reduce(alpha + beta, axis=0)
    np.testing.assert_allclose(per_frame, log_p, rtol=EXACT)


def test_gradient_by_finite_differences(rng):
    log_probs, target = random_case(rng, 4, 9, 3, blank=0, repeats=True)
    loss, grad = ctc_loss_and_grad(log_probs, target)
    np.testing.assert_allclose(grad.sum(axis=0), -1.0, atol=EXACT)  # occupancies sum to 1
    h = 1e-6
    for k, t in [(0, 0), (target[0], 2), (target[-1], 8), (3, 4)]:
        step = np.zeros_like(log_probs)
        step[k, t] = h
        # log_probs need not be normalised for the loss: perturb one entry freely
        up = ctc_loss(log_probs + step, target)
        down = ctc_loss(log_probs - step, target)
        assert grad[k, t] == pytest.approx((up - down) / (2 * h), abs=1e-6)


def test_repeated_labels_need_a_blank_between():
    # two frames, both certainly class 1: "1 1" collapses to [1], never to [1, 1]
    log_probs = np.log(np.array([[1e-300, 1e-300], [1.0, 1.0], [1e-300, 1e-300]]))
    assert ctc_loss(log_probs, [1]) == pytest.approx(0.0, abs=1e-12)
    assert ctc_loss(log_probs, [1, 1]) == np.inf


def test_extended_target_and_greedy_decode():
    assert extended_target([4, 4], blank=1).tolist() == [1, 4, 1, 4, 1]
    assert extended_target([], blank=0).tolist() == [0]
    scores = np.log(np.array([[0.1, 0.1, 0.8, 0.1, 0.8], [0.8, 0.8, 0.1, 0.8, 0.1],
                              [0.1, 0.1, 0.1, 0.1, 0.1]]))
    assert ctc_greedy_decode(scores) == [1, 1]
    assert ctc_greedy_decode(scores, blank=1) == [0, 0]


@pytest.mark.parametrize("args, match", [
    ((np.zeros(5), [1]), "log_probs must have shape \\(n_classes, n_frames\\)"),
    ((np.zeros((3, 0)), [1]), "log_probs must have shape"),
    ((np.full((3, 4), np.nan), [1]), "NaN or \\+inf"),
    ((np.full((3, 4), 0.3), [1]), "did you pass probabilities or logits"),
    ((np.log(np.full((3, 4), 1 / 3)), [1, 0]), "must not contain the blank \\(index 0\\)"),
    ((np.log(np.full((3, 4), 1 / 3)), [1, 3]), "class indices in \\[0, 3\\)"),
    ((np.log(np.full((3, 4), 1 / 3)), [[1, 2]]), "1-d sequence of integer"),
    ((np.log(np.full((3, 4), 1 / 3)), [1.5]), "1-d sequence of integer"),
])
def test_errors_name_the_argument(args, match):
    for fn in (ctc_forward, ctc_forward_fast, ctc_backward, ctc_loss, ctc_loss_and_grad):
        with pytest.raises(ValueError, match=match):
            fn(*args)


@pytest.mark.parametrize("blank", [3, -1, 1.0, True])
def test_blank_must_be_a_class_index(blank):
    with pytest.raises(ValueError, match="blank must be a class index in \\[0, 3\\)"):
        ctc_loss(np.log(np.full((3, 4), 1 / 3)), [1], blank=blank)
