"""Soft-DTW (mirlab.sequence.softdtw) and its PyTorch loss (mirlab.nn.softdtw).

Tolerances (stated once, used below):

- Against tslearn (``SoftDTW(C, gamma).compute()`` / ``.grad()``, ``soft_dtw`` and
  ``SoftDTWLossPyTorch``): the same recursion in float64 with the sums in another order, so
  values within ``REL = 1e-6`` relative and every entry of the expected alignment within
  ``REL`` relative (plus ``1e-300`` absolute for entries that underflow); measured about 1e-13
  on random and on real (chroma) inputs.
- Plain against fast (numba) path: ``1e-10`` relative (the fast backward pass multiplies stored
  weights instead of recomputing exponentials; measured 1e-14).
- Against enumeration of every warping path on tiny matrices: ``1e-10``.
- gamma -> 0: at gamma = 1e-3 on a random 8 x 10 cost matrix in [0, 10) the expected alignment
  is the DTW path (librosa) within 1e-6 and the value is within gamma * log(#paths) below the DTW
  cost, which holds for every gamma.
"""

import librosa
import numpy as np
import pytest
import torch
from tslearn.metrics import SoftDTW, SoftDTWLossPyTorch
from tslearn.metrics import soft_dtw as ts_soft_dtw

from mirlab.nn.softdtw import SoftDTWLoss, soft_dtw_loss, soft_dtw_values, sqeuclidean_costs
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

REL = 1e-6
EXACT = 1e-10


def tslearn_value_grad(C, gamma):
    sdtw = SoftDTW(np.array(C, dtype=np.float64), gamma=gamma)
    return float(sdtw.compute()), np.asarray(sdtw.grad())


def assert_rel(ours, ref, rtol=REL):
    np.testing.assert_allclose(ours, ref, rtol=rtol, atol=1e-300)


def all_paths(N, M):
    """Every warping path from (0, 0) to (N-1, M-1) with steps (1,0), (0,1), (1,1)."""
    def extend(path):
        n, m = path[-1]
        if (n, m) == (N - 1, M - 1):
            yield path
            return
        for dn, dm in ((1, 0), (0, 1), (1, 1)):
            if n + dn < N and m + dm < M:
                yield from extend(path + [(n + dn, m + dm)])
    return list(extend([(0, 0)]))


# ---------------------------------------------------------------- soft minimum


def test_softmin_formula_and_bounds(rng):
    a, b, c = rng.normal(size=(3, 50)) * 3
    for gamma in (0.1, 1.0, 10.0):
        direct = -gamma * np.log(np.exp(-a / gamma) + np.exp(-b / gamma) + np.exp(-c / gamma))
        ours = softmin(a, b, c, gamma)
        np.testing.assert_allclose(ours, direct, rtol=1e-12)
        low = np.minimum(np.minimum(a, b), c)
        assert np.all(ours <= low + 1e-12) and np.all(ours >= low - gamma * np.log(3) - 1e-12)


def test_softmin_does_not_overflow_and_tends_to_min():
    # exp(1e4 / 0.01) overflows without the log-sum-exp shift
    assert softmin(1e4, 1e4 + 1, 2e4, gamma=0.01) == pytest.approx(1e4, abs=1e-9)
    assert softmin(-1e4, 0.0, 5.0, gamma=0.01) == pytest.approx(-1e4)
    assert softmin(1.0, 2.0, np.inf, gamma=1.0) == pytest.approx(-np.log(np.exp(-1) + np.exp(-2)))
    assert softmin(np.inf, np.inf, np.inf, gamma=1.0) == np.inf
    assert abs(softmin(1.0, 2.0, 3.0, 1e-3) - 1.0) < 1e-12


@pytest.mark.parametrize("gamma", [0, -1.0, np.nan, np.inf, "soft", None])
def test_gamma_must_be_positive(gamma):
    with pytest.raises(ValueError, match="gamma must be a positive"):
        softmin(1.0, 2.0, 3.0, gamma)
    for fn in (soft_dtw, soft_dtw_fast, soft_dtw_alignment, soft_dtw_alignment_fast):
        with pytest.raises(ValueError, match="gamma"):
            fn(np.ones((3, 3)), gamma)


@pytest.mark.parametrize("C, match", [(np.ones(4), "shape"), (np.ones((0, 3)), "shape"),
                                      (np.array([[1.0, np.nan]]), "finite")])
def test_bad_cost_matrix(C, match):
    for fn in (soft_dtw, soft_dtw_fast, soft_dtw_alignment, soft_dtw_alignment_fast):
        with pytest.raises(ValueError, match=f"C must .*{match}"):
            fn(C, 1.0)


# ---------------------------------------------------------------- value and expected alignment


@pytest.mark.parametrize("shape", [(1, 1), (1, 6), (5, 1), (7, 9), (23, 17)])
@pytest.mark.parametrize("gamma", [0.01, 1.0, 30.0])
def test_plain_fast_and_tslearn_agree(shape, gamma, rng):
    C = rng.random(shape) * 4
    value, E = soft_dtw_alignment(C, gamma)
    ref_value, ref_E = tslearn_value_grad(C, gamma)
    assert_rel(value, ref_value)
    assert_rel(E, ref_E)
    assert soft_dtw(C, gamma) == value
    fast_value, fast_E = soft_dtw_alignment_fast(C, gamma)
    assert_rel(fast_value, value, EXACT)
    assert_rel(soft_dtw_fast(C, gamma), value, EXACT)
    np.testing.assert_allclose(fast_E, E, rtol=EXACT, atol=1e-300)


def test_fast_path_equals_tslearn_on_a_large_random_matrix(rng):
    C = rng.random((300, 250))
    for gamma in (0.1, 1.0):
        value, E = soft_dtw_alignment_fast(C, gamma)
        ref_value, ref_E = tslearn_value_grad(C, gamma)
        assert_rel(value, ref_value)
        assert_rel(E, ref_E)


def test_large_costs_and_small_gamma_stay_finite(rng):
    C = rng.random((40, 30)) * 1e4
    value, E = soft_dtw_alignment_fast(C, 1e-3)
    ref_value, ref_E = tslearn_value_grad(C, 1e-3)
    assert np.isfinite(value) and np.all(np.isfinite(E))
    assert_rel(value, ref_value)
    assert_rel(E, ref_E)


@pytest.fixture(scope="module")
def chroma_cost(chorale):
    """A real cost matrix: chroma of 8 s of a chorale against itself at another hop length (the
    second version runs 4/3 times as many frames: a real warping)."""
    from mirlab import features as F

    y = chorale.y[: 8 * chorale.sr]
    X = F.chroma_stft(y=y, sr=chorale.sr, hop_length=2048)
    Y = F.chroma_stft(y=y, sr=chorale.sr, hop_length=1536)
    X, Y = X / np.linalg.norm(X, axis=0), Y / np.linalg.norm(Y, axis=0)
    return X, Y


@pytest.mark.parametrize("gamma", [0.01, 0.1, 1.0])
def test_tslearn_parity_on_chroma(chroma_cost, gamma):
    X, Y = chroma_cost
    C = sqeuclidean_cost(X, Y)
    value, E = soft_dtw_alignment_fast(C, gamma)
    ref_value, ref_E = tslearn_value_grad(C, gamma)
    assert_rel(value, ref_value)
    assert_rel(E, ref_E)
    # the same through tslearn's own squared Euclidean cost on (n_frames, n_features) arrays
    assert_rel(soft_dtw_fast(C, gamma), ts_soft_dtw(X.T, Y.T, gamma=gamma))
    plain_value, plain_E = soft_dtw_alignment(C[:20, :25], gamma)  # the plain loops: smaller
    assert_rel(plain_value, tslearn_value_grad(C[:20, :25], gamma)[0])


@pytest.mark.parametrize("shape", [(2, 2), (3, 3), (3, 4), (4, 2)])
def test_value_and_alignment_match_path_enumeration(shape, rng):
    """SDTW = softmin over all paths of <A, C>; E = the Gibbs-weighted mean of the paths."""
    C = rng.random(shape) * 3
    gamma = 0.7
    paths = all_paths(*shape)
    costs = np.array([sum(C[p] for p in path) for path in paths])
    weights = np.exp(-(costs - costs.min()) / gamma)
    weights /= weights.sum()
    expected = np.zeros(shape)
    for w, path in zip(weights, paths, strict=True):
        for p in path:
            expected[p] += w
    soft_value = costs.min() - gamma * np.log(np.sum(np.exp(-(costs - costs.min()) / gamma)))
    value, E = soft_dtw_alignment(C, gamma)
    assert value == pytest.approx(soft_value, rel=EXACT)
    np.testing.assert_allclose(E, expected, atol=EXACT)
    np.testing.assert_allclose(soft_dtw_alignment_fast(C, gamma)[1], expected, atol=EXACT)


def test_alignment_is_the_gradient_by_finite_differences(rng):
    C = rng.random((6, 5))
    gamma, h = 0.5, 1e-6
    _, E = soft_dtw_alignment_fast(C, gamma)
    numeric = np.zeros_like(C)
    for idx in np.ndindex(C.shape):
        step = np.zeros_like(C)
        step[idx] = h
        numeric[idx] = (soft_dtw_fast(C + step, gamma) - soft_dtw_fast(C - step, gamma)) / (2 * h)
    np.testing.assert_allclose(E, numeric, atol=1e-7)


def test_alignment_properties(rng):
    C = rng.random((30, 40))
    _, E = soft_dtw_alignment_fast(C, 1.0)
    assert E[0, 0] == pytest.approx(1.0) and E[-1, -1] == pytest.approx(1.0)
    assert np.all(E >= 0) and np.all(E <= 1 + 1e-12)
    # every path crosses each anti-diagonal band at least once: row sums >= 1
    assert np.all(E.sum(axis=1) >= 1 - 1e-9) and np.all(E.sum(axis=0) >= 1 - 1e-9)


def test_small_gamma_gives_the_dtw_path_and_cost(rng):
    C = rng.random((8, 10)) * 10
    D, wp = librosa.sequence.dtw(C=C)  # steps (1,1), (0,1), (1,0), weights 1: the same DTW
    dtw_cost = D[-1, -1]
    path = np.zeros_like(C)
    path[wp[:, 0], wp[:, 1]] = 1
    n_paths = len(all_paths(*C.shape))
    for gamma in (10.0, 1.0, 0.1, 0.01, 1e-3):
        value, E = soft_dtw_alignment_fast(C, gamma)
        assert dtw_cost - gamma * np.log(n_paths) - 1e-9 <= value <= dtw_cost + 1e-9
    np.testing.assert_allclose(E, path, atol=1e-6)  # at gamma = 1e-3
    assert abs(value - dtw_cost) < 1e-6
    # and the alignment spreads out as gamma grows
    spread = [np.count_nonzero(soft_dtw_alignment_fast(C, g)[1] > 0.01) for g in (0.01, 1, 100)]
    assert spread[0] < spread[1] < spread[2]


# ---------------------------------------------------------------- batch and divergence


def test_batch_equals_pair_by_pair(rng):
    C = rng.random((3, 9, 7))
    n_lengths, m_lengths = [9, 4, 1], [7, 7, 3]
    values, E = soft_dtw_alignment_batch(C, 0.3, n_lengths, m_lengths)
    for b in range(3):
        v, e = soft_dtw_alignment_fast(C[b, :n_lengths[b], :m_lengths[b]], 0.3)
        assert values[b] == pytest.approx(v, rel=EXACT)
        np.testing.assert_allclose(E[b, :n_lengths[b], :m_lengths[b]], e, rtol=EXACT)
        assert E[b].sum() == pytest.approx(e.sum())  # nothing outside the true sizes
    values_full, _ = soft_dtw_alignment_batch(C, 0.3)
    assert values_full[1] == pytest.approx(soft_dtw_fast(C[1], 0.3))


@pytest.mark.parametrize("kwargs, match", [
    ({"n_lengths": [9, 10, 1]}, "n_lengths must hold 3 integers in \\[1, 9\\]"),
    ({"m_lengths": [0, 1, 1]}, "m_lengths"), ({"n_lengths": [1, 2]}, "n_lengths")])
def test_batch_bad_lengths(kwargs, match, rng):
    with pytest.raises(ValueError, match=match):
        soft_dtw_alignment_batch(rng.random((3, 9, 7)), 1.0, **kwargs)


def test_divergence_against_tslearn(rng, chroma_cost):
    X, Y = rng.normal(size=(3, 12)), rng.normal(size=(3, 15))
    for A, B in ((X, Y), chroma_cost):
        for gamma in (0.1, 1.0):
            xx, yy = ts_soft_dtw(A.T, A.T, gamma=gamma), ts_soft_dtw(B.T, B.T, gamma=gamma)
            ref = ts_soft_dtw(A.T, B.T, gamma=gamma) - 0.5 * (xx + yy)
            assert_rel(soft_dtw_divergence(A, B, gamma), ref)
    assert soft_dtw_divergence(X, X, 1.0) == pytest.approx(0.0, abs=1e-12)
    assert soft_dtw_divergence(X, Y, 1.0) > 0
    assert soft_dtw(sqeuclidean_cost(X, X), 1.0) < 0  # why the divergence is needed


def test_sqeuclidean_cost_shapes():
    with pytest.raises(ValueError, match="same number of features"):
        sqeuclidean_cost(np.ones((3, 4)), np.ones((2, 4)))
    assert sqeuclidean_cost(np.arange(3.0), np.arange(2.0)).tolist() == [[0, 1], [1, 0], [4, 1]]


# ---------------------------------------------------------------- PyTorch loss


def test_torch_gradient_wrt_cost_is_the_expected_alignment(rng):
    C = torch.tensor(rng.random((2, 12, 9)), requires_grad=True)
    values = soft_dtw_values(C, 0.5)
    (values * torch.tensor([1.0, 3.0], dtype=torch.float64)).sum().backward()
    for b, scale in enumerate((1.0, 3.0)):
        value, E = soft_dtw_alignment(C[b].detach().numpy(), 0.5)
        assert values[b].item() == pytest.approx(value, rel=EXACT)
        np.testing.assert_allclose(C.grad[b].numpy(), scale * E, rtol=EXACT, atol=1e-300)


def test_gradcheck_float64():
    gen = torch.Generator().manual_seed(0)
    C = torch.rand(2, 4, 3, dtype=torch.float64, generator=gen, requires_grad=True)
    assert torch.autograd.gradcheck(lambda c: soft_dtw_values(c, 0.7), (C,))
    x = torch.randn(2, 3, 5, dtype=torch.float64, generator=gen, requires_grad=True)
    y = torch.randn(2, 3, 4, dtype=torch.float64, generator=gen)
    assert torch.autograd.gradcheck(
        lambda a: soft_dtw_loss(a, y, 0.7, divergence=True, reduction="none"), (x,))


@pytest.mark.parametrize("divergence", [False, True])
def test_loss_and_gradient_against_tslearn(divergence, rng):
    x = torch.tensor(rng.normal(size=(3, 4, 11)), requires_grad=True)  # (batch, features, frames)
    y = torch.tensor(rng.normal(size=(3, 4, 8)))
    ours = soft_dtw_loss(x, y, 0.3, divergence=divergence, reduction="none")
    ours.sum().backward()
    # tslearn's float64 SoftDTW on each pair, its gradient E carried to x by the chain rule:
    # d/dx[:, n] sum_m E[n, m] |x_n - y_m|^2 = 2 (x_n sum_m E[n, m] - sum_m E[n, m] y_m)
    def value_grad(a, b):
        v, E = tslearn_value_grad(sqeuclidean_cost(a, b), 0.3)
        return v, 2 * (a * E.sum(axis=1) - b @ E.T), 2 * (b * E.sum(axis=0) - a @ E)
    for k in range(3):
        a, b = x[k].detach().numpy(), y[k].numpy()
        value, grad, _ = value_grad(a, b)
        if divergence:
            vxx, gxx1, gxx2 = value_grad(a, a)
            vyy = value_grad(b, b)[0]
            value, grad = value - 0.5 * (vxx + vyy), grad - 0.5 * (gxx1 + gxx2)
        assert_rel(ours[k].item(), value)
        assert_rel(x.grad[k].numpy(), grad)
    # tslearn's own PyTorch loss: the same numbers, but it passes its accumulated cost through
    # float32 (torch.Tensor(array)), so agreement is only to about 1e-5 there
    xt = x.detach().transpose(1, 2).clone().requires_grad_()  # tslearn: (batch, frames, features)
    ref = SoftDTWLossPyTorch(gamma=0.3, normalize=divergence)(xt, y.transpose(1, 2))
    ref.sum().backward()
    assert_rel(ours.detach().numpy(), ref.detach().numpy(), rtol=1e-5)
    np.testing.assert_allclose(x.grad.numpy(), xt.grad.transpose(1, 2).numpy(), rtol=1e-3,
                               atol=1e-4)


def test_loss_lists_lengths_and_reductions(rng):
    xs = [torch.tensor(rng.normal(size=(2, n))) for n in (5, 9)]
    ys = [torch.tensor(rng.normal(size=(2, m))) for m in (7, 3)]
    per_pair = soft_dtw_loss(xs, ys, 1.0, reduction="none")
    for b in range(2):
        ref = soft_dtw_fast(sqeuclidean_cost(xs[b].numpy(), ys[b].numpy()), 1.0)
        assert per_pair[b].item() == pytest.approx(ref, rel=EXACT)
    assert soft_dtw_loss(xs, ys, 1.0).item() == pytest.approx(per_pair.mean().item())
    # gradients flow through the padding back to each listed sequence, as pair by pair
    leaves = [x.clone().requires_grad_() for x in xs]
    soft_dtw_loss(leaves, ys, 1.0, reduction="sum").backward()
    for x, y, leaf in zip(xs, ys, leaves, strict=True):
        alone = x.clone().requires_grad_()
        soft_dtw_loss(alone, y, 1.0).backward()
        np.testing.assert_allclose(leaf.grad.numpy(), alone.grad.numpy(), rtol=EXACT)
    assert soft_dtw_loss(xs, ys, 1.0, reduction="sum").item() == pytest.approx(
        per_pair.sum().item())
    assert soft_dtw_loss(xs[0], ys[0], 1.0, reduction="none").ndim == 0
    # a given cost: negative cosine similarity
    def neg_cos(a, b):
        return -torch.nn.functional.normalize(a, dim=1).transpose(1, 2) @ \
            torch.nn.functional.normalize(b, dim=1)
    value = SoftDTWLoss(0.1, cost=neg_cos)(xs[0][None], ys[0][None]).item()
    C = neg_cos(xs[0][None], ys[0][None])[0].numpy()
    assert value == pytest.approx(soft_dtw_fast(C, 0.1), rel=EXACT)
    np.testing.assert_allclose(sqeuclidean_costs(xs[0][None], ys[0][None])[0].numpy(),
                               sqeuclidean_cost(xs[0].numpy(), ys[0].numpy()), atol=1e-12)


def test_loss_teaches_on_bad_input():
    x = torch.zeros(2, 3, 5)
    with pytest.raises(ValueError, match="gamma must be a positive"):
        soft_dtw_loss(x, x, 0.0)
    with pytest.raises(ValueError, match="gamma must be a positive"):
        SoftDTWLoss("soft")
    with pytest.raises(ValueError, match="reduction must be one of"):
        soft_dtw_loss(x, x, 1.0, reduction="avg")
    with pytest.raises(ValueError, match="same batch size and number of features"):
        soft_dtw_loss(x, torch.zeros(2, 4, 5), 1.0)
    with pytest.raises(ValueError, match="x must be a torch.Tensor"):
        soft_dtw_loss(np.zeros((3, 5)), x, 1.0)
    with pytest.raises(ValueError, match="cost must be"):
        soft_dtw_loss(x, x, 1.0, cost="cosine")


def test_loss_fits_a_sequence_without_alignment():
    """Gradient descent on x under soft-DTW divergence pulls it to a warped copy of y."""
    torch.manual_seed(0)
    y = torch.tensor([[0.0, 0.0, 1.0, 1.0, 1.0, 0.0, -1.0, -1.0]])
    x = torch.zeros(1, 6, requires_grad=True)
    opt = torch.optim.Adam([x], lr=0.1)
    start = soft_dtw_loss(x, y, 0.1, divergence=True).item()
    for _ in range(150):
        opt.zero_grad()
        loss = soft_dtw_loss(x, y, 0.1, divergence=True)
        loss.backward()
        opt.step()
    assert loss.item() < 0.05 * start
    assert x.detach().max() > 0.8 and x.detach().min() < -0.8
