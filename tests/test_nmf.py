"""mirlab.transcription.nmf against scikit-learn and libfmp, on seeded random matrices and a
rendered chorale.

Tolerances: the same multiplicative updates in float64 differ only in where the safety
constant enters (scikit-learn clips ``WH`` at eps, we add eps), so after 50 iterations the
factors agree to ``1e-4`` of their largest value (measured about 1e-5). The fast and the plain
updates differ by the order of floating-point operations: ``1e-9`` in float64.
"""

import libfmp.c8
import numpy as np
import pytest
from sklearn.decomposition import non_negative_factorization
from sklearn.decomposition._nmf import _beta_divergence

from mirlab import transcription as T
from mirlab.transcription import nmf as N

SK_LOSS = {"euclidean": "frobenius", "kl": "kullback-leibler"}
TOL = 1e-4


def rel(a, b):
    return float(np.abs(a - b).max() / np.abs(b).max())


@pytest.fixture
def problem(rng):
    V = rng.random((40, 30)) ** 3
    V[:, 7] = 0.0  # a silent frame
    return V, rng.random((40, 6)), rng.random((6, 30))


@pytest.mark.parametrize("beta", ["euclidean", "kl"])
def test_full_nmf_equals_scikit_learn(problem, beta):
    V, W0, H0 = problem
    ours = N.nmf(V, W=W0, H=H0, beta=beta, n_iter=50, dtype=np.float64)
    # scikit-learn factorises X ≈ W H with samples in rows: our V.T ≈ H.T W.T
    Wt, Ht, _ = non_negative_factorization(V.T, W=H0.T.copy(), H=W0.T.copy(), n_components=6,
                                           init="custom", solver="mu", beta_loss=SK_LOSS[beta],
                                           max_iter=50, tol=0.0)
    assert rel(ours.H, Wt.T) < TOL and rel(ours.W, Ht.T) < TOL


@pytest.mark.parametrize("beta", ["euclidean", "kl"])
def test_sparsity_equals_scikit_learn_l1(problem, beta):
    V, W0, H0 = problem
    ours = N.nmf(V, W=W0, H=H0, beta=beta, n_iter=30, sparsity=0.5, dtype=np.float64)
    # scikit-learn scales the L1 weight of its W (our H.T) by n_features (our n_bins)
    Wt, Ht, _ = non_negative_factorization(V.T, W=H0.T.copy(), H=W0.T.copy(), n_components=6,
                                           init="custom", solver="mu", beta_loss=SK_LOSS[beta],
                                           max_iter=30, tol=0.0, alpha_W=0.5 / V.shape[0],
                                           alpha_H=0.0, l1_ratio=1.0)
    assert rel(ours.H, Wt.T) < TOL and rel(ours.W, Ht.T) < TOL
    plain = N.nmf(V, W=W0, H=H0, beta=beta, n_iter=30, dtype=np.float64)
    assert ours.H.sum() < plain.H.sum()  # the penalty makes activations smaller


def test_euclidean_equals_libfmp(problem):
    V, W0, H0 = problem
    ours = N.nmf(V, W=W0, H=H0, beta="euclidean", n_iter=40, dtype=np.float64)
    W, H, *_ = libfmp.c8.nmf(V, 6, thresh=-1.0, L=40, W=W0.copy(), H=H0.copy())
    assert rel(ours.W, W) < 1e-9 and rel(ours.H, H) < 1e-9


@pytest.mark.parametrize("beta", ["euclidean", "kl"])
def test_learned_factors_on_a_rendered_chorale_equal_libfmp_and_scikit_learn(chorale, beta):
    V = T.spectrogram(chorale.y[: 3 * chorale.sr], chorale.sr, n_fft=1024).astype(np.float64)
    rng = np.random.default_rng(1)
    W0, H0 = rng.random((V.shape[0], 6)), rng.random((6, V.shape[1]))
    ours = N.nmf(V, W=W0, H=H0, beta=beta, n_iter=30, dtype=np.float64)
    Wt, Ht, _ = non_negative_factorization(V.T, W=H0.T.copy(), H=W0.T.copy(), n_components=6,
                                           init="custom", solver="mu", beta_loss=SK_LOSS[beta],
                                           max_iter=30, tol=0.0)
    assert rel(ours.W @ ours.H, (Wt @ Ht).T) < TOL
    if beta == "euclidean":  # libfmp implements the Euclidean cost
        W, H, *_ = libfmp.c8.nmf(V, 6, thresh=-1.0, L=30, W=W0.copy(), H=H0.copy())
        assert rel(ours.W, W) < 1e-9 and rel(ours.H, H) < 1e-9


@pytest.mark.parametrize("beta", ["euclidean", "kl"])
def test_fixed_templates_on_a_rendered_chorale_equal_scikit_learn(chorale, beta):
    y = chorale.y[: 5 * chorale.sr]
    V = T.spectrogram(y, chorale.sr, n_fft=2048).astype(np.float64)
    W = T.harmonic_templates(chorale.sr, 2048, decay=1.5).astype(np.float64)
    # with update_H=False scikit-learn starts its W (our H.T) at sqrt(mean(V) / n_components)
    H0 = np.full((W.shape[1], V.shape[1]), np.sqrt(V.mean() / W.shape[1]))
    ours = N.nmf(V, W=W, H=H0, beta=beta, n_iter=30, update_W=False, dtype=np.float64)
    Ht, _, _ = non_negative_factorization(V.T, H=W.T.copy(), n_components=88,
                                          init="custom", update_H=False, solver="mu",
                                          beta_loss=SK_LOSS[beta], max_iter=30, tol=0.0)
    np.testing.assert_array_equal(ours.W, W)  # fixed templates stay fixed
    assert rel(ours.H, Ht.T) < TOL
    ours32 = N.nmf(V, W=W, H=H0, beta=beta, n_iter=30, update_W=False)
    assert ours32.H.dtype == np.float32 and rel(ours32.H, Ht.T) < 1e-3


@pytest.mark.parametrize("beta", ["euclidean", "kl"])
@pytest.mark.parametrize("update_W", [True, False])
def test_fast_updates_equal_plain_updates(problem, beta, update_W):
    V, W0, H0 = problem
    kw = dict(W=W0, H=H0, beta=beta, n_iter=25, update_W=update_W, sparsity=0.1,
              dtype=np.float64)
    fast, plain = N.nmf(V, method="fast", **kw), N.nmf(V, method="plain", **kw)
    assert rel(fast.W, plain.W) < 1e-9 and rel(fast.H, plain.H) < 1e-9
    np.testing.assert_allclose(fast.cost, plain.cost, rtol=1e-9)


def test_update_functions_take_one_step(problem):
    V, W0, H0 = problem
    H1 = N.update_H(V, W0, H0, beta=2.0)
    np.testing.assert_allclose(H1, H0 * (W0.T @ V) / (W0.T @ W0 @ H0 + N.EPS), rtol=1e-6)
    W1 = N.update_W(V, W0, H0, beta=1.0)
    expected = W0 * ((V / (W0 @ H0 + N.EPS)) @ H0.T) / (H0.sum(axis=1) + N.EPS)
    np.testing.assert_allclose(W1, expected, rtol=1e-9)


@pytest.mark.parametrize("beta", ["euclidean", "kl", "is", 1.5, 0.5])
def test_cost_never_increases(problem, beta):
    V, W0, H0 = problem
    V = V + 0.01 * (beta in ("is", 0.5))  # Itakura-Saito needs positive data
    result = N.nmf(V, W=W0, H=H0, beta=beta, n_iter=60, sparsity=0.05, dtype=np.float64)
    assert len(result.cost) == 61 and result.cost_iterations[-1] == 60
    assert np.all(np.diff(result.cost) <= 1e-9 * result.cost[0])
    assert result.cost[-1] < 0.9 * result.cost[0]


@pytest.mark.parametrize("beta", ["euclidean", "kl", 0.0, 1.5])
def test_beta_divergence_equals_scikit_learn(problem, beta):
    V, W0, H0 = problem
    V = V + 0.1
    sk_beta = {"euclidean": 2, "kl": 1}.get(beta, beta)
    expected = _beta_divergence(V, W0, H0, sk_beta)
    assert N.beta_divergence(V, W0 @ H0, beta) == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize("method", ["fast", "plain"])
@pytest.mark.parametrize("beta", ["euclidean", "kl", 1.5])
def test_silent_frames_give_zero_activations_not_nan(beta, method):
    V = np.zeros((20, 10), dtype=np.float32)
    V[:, 3] = 1.0
    result = N.nmf(V, 3, beta=beta, n_iter=20, random_state=0, method=method)
    assert np.all(np.isfinite(result.W)) and np.all(np.isfinite(result.H))
    assert np.all(np.isfinite(result.cost))
    assert result.H[:, [0, 9]].max() < 1e-3 * result.H[:, 3].max()


def test_random_initialisation_is_reproducible(problem):
    V = problem[0]
    a, b = (N.nmf(V, 4, n_iter=5, random_state=3) for _ in range(2))
    np.testing.assert_array_equal(a.H, b.H)
    c = N.nmf(V, 4, n_iter=5, random_state=4)
    assert not np.allclose(a.H, c.H)


def test_normalize_templates_keeps_the_product(problem):
    _, W0, H0 = problem
    for norm in ("max", "sum", "l2"):
        W, H = N.normalize_templates(W0, H0, norm)
        np.testing.assert_allclose(W @ H, W0 @ H0)
    W, _ = N.normalize_templates(W0, H0, "max")
    np.testing.assert_allclose(W.max(axis=0), 1.0)


@pytest.mark.parametrize("kwargs, phrase", [
    (dict(V=-np.ones((3, 3)), n_components=2), "V must be non-negative"),
    (dict(V=np.ones(5), n_components=2), "V must have 2 dimensions"),
    (dict(V=np.full((3, 3), np.nan), n_components=2), "V must be finite"),
    (dict(V=np.ones((3, 3))), "n_components must be given"),
    (dict(V=np.ones((3, 3)), n_components=0), "n_components must be an integer >= 1"),
    (dict(V=np.ones((3, 3)), W=np.ones((4, 2))), "W must have shape (3, 2)"),
    (dict(V=np.ones((3, 3)), n_components=2, H=np.ones((2, 5))), "H must have shape (2, 3)"),
    (dict(V=np.ones((3, 3)), n_components=2, update_W=False), "W must be given when update_W"),
    (dict(V=np.ones((3, 3)), n_components=2, beta="frobenius"), "beta must be one of"),
    (dict(V=np.ones((3, 3)), n_components=2, beta=3.0), "beta must be 'euclidean'"),
    (dict(V=np.ones((3, 3)), n_components=2, sparsity=-1), "sparsity must be a number >= 0"),
    (dict(V=np.ones((3, 3)), n_components=2, method="slow"), "method must be one of"),
    (dict(V=np.ones((3, 3)), n_components=2, n_iter=1.5), "n_iter must be an integer"),
])
def test_bad_input_raises_naming_the_argument(kwargs, phrase):
    with pytest.raises(ValueError) as info:
        N.nmf(**kwargs)
    assert phrase in str(info.value)


def test_benchmark_runs_every_solver_and_they_agree():
    from benchmarks import nmf as bench

    rows = bench.run(n_iter=5, rounds=1, progress=False, shape=(60, 50), rank=4)
    assert {(r["solver"], r["cost"]) for r in rows} >= {("mirlab.transcription.nmf", "euclidean"),
                                                         ("mirlab.transcription.nmf", "kl"),
                                                         ("libfmp.c8.nmf", "euclidean")}
    assert all(r["max_rel_diff"] < 1e-4 and r["ms_per_iter"] > 0 for r in rows)
    assert "| euclidean | mirlab.transcription.nmf |" in bench.markdown(rows)
