"""mirlab.sequence.dtw against librosa and libfmp, on seeded random costs and real chroma.

Tolerances (stated once): accumulated costs are the same sums in float64 in the same order,
so they must agree to ``1e-12`` relative; paths must be identical (ties between steps are
broken by the order of the steps in both libraries; random float costs make ties unlikely,
and the real-chroma case checks the tie rule too). The plain :func:`dtw` and the numba
:func:`dtw_fast` must agree exactly.

Layout differences: librosa returns the path from the end to the start (we reverse it);
librosa's subsequence path from a given ``C`` with more rows than columns comes back with its
two columns swapped (we swap them back); libfmp breaks ties in the order diagonal, vertical,
horizontal, which is ``step_sizes=[[1, 1], [1, 0], [0, 1]]`` here.
"""

import libfmp.c3
import libfmp.c7
import librosa
import numpy as np
import pytest

from mirlab import features as F
from mirlab import sequence as S

REL = 1e-12
FMP_ORDER = np.array([[1, 1], [1, 0], [0, 1]])
CUSTOM = {"step_sizes": np.array([[1, 1], [1, 2], [2, 1]]), "weights": np.array([2.0, 3.0, 3.0]),
          "weights_add": np.array([0.1, 0.0, 0.2])}


def librosa_dtw(C, subsequence=False, **kw):
    args = {}
    if "step_sizes" in kw:
        args = {"step_sizes_sigma": kw["step_sizes"], "weights_mul": kw["weights"],
                "weights_add": kw["weights_add"]}
    D, wp = librosa.sequence.dtw(C=C, subseq=subsequence, **args)
    wp = wp[::-1]
    if subsequence and C.shape[0] > C.shape[1]:
        wp = wp[:, ::-1]
    return D, wp


def assert_same(ours, ref):
    (D, path), (D_ref, path_ref) = ours, ref
    assert D.shape == D_ref.shape
    finite = np.isfinite(D_ref)
    np.testing.assert_array_equal(np.isfinite(D), finite)
    np.testing.assert_allclose(D[finite], D_ref[finite], rtol=REL, atol=0)
    np.testing.assert_array_equal(path, path_ref)


@pytest.fixture(scope="module")
def chroma_cost(chorale):
    """Cosine cost between the CQT chroma of 12 s of a chorale and of the same notes later."""
    y, sr = chorale.y, chorale.sr
    X = F.chroma_cqt(y=y[: 12 * sr], sr=sr, hop_length=1024)
    Y = F.chroma_cqt(y=y[2 * sr: 16 * sr], sr=sr, hop_length=1024)
    return S.cost_matrix(X, Y)


SHAPES = [(1, 1), (1, 7), (7, 1), (23, 31), (31, 23), (60, 60)]


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("subsequence", [False, True])
def test_dtw_equals_librosa_on_random_costs(shape, subsequence):
    C = np.random.default_rng(sum(shape)).random(shape)
    ref = librosa_dtw(C, subsequence)
    assert_same(S.dtw(C, subsequence=subsequence), ref)
    assert_same(S.dtw_fast(C, subsequence=subsequence), ref)


@pytest.mark.parametrize("shape", [(23, 31), (31, 23), (40, 40)])
@pytest.mark.parametrize("subsequence", [False, True])
def test_custom_steps_and_weights_equal_librosa(shape, subsequence):
    C = np.random.default_rng(3).random(shape)
    ref = librosa_dtw(C, subsequence, **CUSTOM)
    assert_same(S.dtw(C, subsequence=subsequence, **CUSTOM), ref)
    assert_same(S.dtw_fast(C, subsequence=subsequence, **CUSTOM), ref)


def test_weights_alone_equal_librosa():
    C = np.random.default_rng(4).random((30, 45))
    w = np.array([2.0, 1.0, 1.0])
    D_ref, wp = librosa.sequence.dtw(C=C, weights_mul=w)
    for fn in (S.dtw, S.dtw_fast):
        assert_same(fn(C, weights=w), (D_ref, wp[::-1]))


@pytest.mark.parametrize("subsequence", [False, True])
def test_real_chroma_equals_librosa(chroma_cost, subsequence):
    C = chroma_cost if not subsequence else chroma_cost[40:80]
    ref = librosa_dtw(C, subsequence)
    assert_same(S.dtw(C, subsequence=subsequence), ref)
    assert_same(S.dtw_fast(C, subsequence=subsequence), ref)


def test_integer_costs_break_ties_like_librosa():
    C = np.random.default_rng(5).integers(0, 3, size=(25, 30)).astype(float)
    for sub in (False, True):
        ref = librosa_dtw(C, sub)
        assert_same(S.dtw(C, subsequence=sub), ref)
        assert_same(S.dtw_fast(C, subsequence=sub), ref)


def test_full_dtw_equals_libfmp(chroma_cost):
    for C in (np.random.default_rng(6).random((35, 50)), chroma_cost):
        D_ref = libfmp.c3.compute_accumulated_cost_matrix(C)
        P_ref = libfmp.c3.compute_optimal_warping_path(D_ref)
        assert_same(S.dtw_fast(C, step_sizes=FMP_ORDER), (D_ref, P_ref))


def test_subsequence_dtw_equals_libfmp(chroma_cost):
    query = chroma_cost[30:60]
    for C in (np.random.default_rng(7).random((20, 90)), query):
        D_ref = libfmp.c7.compute_accumulated_cost_matrix_subsequence_dtw(C)
        for end in (None, C.shape[1] // 2):
            P_ref = libfmp.c7.compute_optimal_warping_path_subsequence_dtw(
                D_ref, -1 if end is None else end)
            for fast in (True, False):
                ours = S.subsequence_dtw(C, step_sizes=FMP_ORDER, end=end, fast=fast)
                assert_same(ours, (D_ref, P_ref))


def test_subsequence_dtw_21_equals_libfmp():
    C = np.random.default_rng(8).random((15, 70))
    D_ref = libfmp.c7.compute_accumulated_cost_matrix_subsequence_dtw_21(C)
    P_ref = libfmp.c7.compute_optimal_warping_path_subsequence_dtw_21(D_ref)
    D, path = S.subsequence_dtw(C, step_sizes=[[1, 1], [2, 1], [1, 2]])
    finite = np.isfinite(D_ref)
    np.testing.assert_allclose(D[finite], D_ref[finite], rtol=REL)
    np.testing.assert_array_equal(path, P_ref)


def test_matching_function_equals_libfmp():
    rng = np.random.default_rng(9)
    X, Y = rng.random((12, 20)), rng.random((12, 80))
    X, Y = X / np.linalg.norm(X, axis=0), Y / np.linalg.norm(Y, axis=0)  # libfmp: 1 - <x, y>
    C = S.cost_matrix(X, Y)
    for stepsize, steps in ((1, None), (2, [[1, 1], [2, 1], [1, 2]])):
        Delta_ref, C_ref, _ = libfmp.c7.compute_matching_function_dtw(X, Y, stepsize=stepsize)
        np.testing.assert_allclose(C, C_ref, atol=1e-12)
        D, _ = S.subsequence_dtw(C, step_sizes=steps)
        np.testing.assert_allclose(S.matching_function(D), Delta_ref, rtol=1e-10)


def test_subsequence_finds_the_planted_query():
    rng = np.random.default_rng(10)
    Y = rng.random((12, 200))
    X = Y[:, 120:150][:, np.repeat(np.arange(30), 2)]  # the same notes, twice as slow
    D, path = S.subsequence_dtw(S.cost_matrix(X, Y))
    assert path[0, 1] == 120 and path[-1, 1] == 149
    assert int(np.argmin(S.matching_function(D))) == 149


@pytest.mark.parametrize("metric", ["cosine", "euclidean", "sqeuclidean", "cityblock"])
def test_cost_matrix_equals_scipy(metric):
    import scipy.spatial.distance

    rng = np.random.default_rng(11)
    X, Y = rng.random((12, 30)), rng.random((12, 40))
    ref = scipy.spatial.distance.cdist(X.T, Y.T, metric=metric)
    np.testing.assert_allclose(S.cost_matrix(X, Y, metric), ref, atol=1e-10)


def test_cosine_cost_of_silence_is_one():
    X = np.zeros((12, 3))
    X[0, 0] = 1.0
    C = S.cost_matrix(X, X)
    assert C[0, 0] == 0.0 and C[1, 2] == 1.0 and C[0, 1] == 1.0


def test_fast_equals_plain_on_inf_cells():
    C = np.random.default_rng(12).random((30, 30))
    C[np.triu_indices(30, 8)] = np.inf  # a band: forbidden far above the diagonal
    a, b = S.dtw(C), S.dtw_fast(C)
    assert_same(a, b)
    assert_same(a, librosa_dtw(C))


@pytest.mark.parametrize("bad, match", [
    (np.zeros((0, 3)), "shape"),
    (np.zeros(4), "shape"),
    (np.array([[0.0, np.nan]]), "NaN"),
])
def test_bad_cost_matrix_raises(bad, match):
    for fn in (S.dtw, S.dtw_fast):
        with pytest.raises(ValueError, match=match):
            fn(bad)


@pytest.mark.parametrize("kw, match", [
    ({"step_sizes": [[1, 1], [0, 0]]}, "move forward"),
    ({"step_sizes": [[1.5, 1]]}, "integer"),
    ({"step_sizes": [1, 1]}, "shaped"),
    ({"weights": [1.0, 1.0]}, "one finite number per step"),
    ({"weights_add": [0.0, np.inf, 0.0]}, "weights_add"),
    ({"end": 3}, "only for subsequence"),
])
def test_bad_arguments_raise(kw, match):
    with pytest.raises(ValueError, match=match):
        S.dtw(np.ones((4, 5)), **kw)


def test_unreachable_end_raises():
    with pytest.raises(ValueError, match="no warping path reaches"):
        S.dtw_fast(np.ones((10, 3)), step_sizes=[[1, 1], [1, 2], [2, 1]])
    with pytest.raises(ValueError, match="end must be a column index"):
        S.subsequence_dtw(np.ones((3, 5)), end=5)


def test_cost_matrix_checks_its_inputs():
    with pytest.raises(ValueError, match="same number of features"):
        S.cost_matrix(np.ones((12, 3)), np.ones((11, 3)))
    with pytest.raises(ValueError, match="metric must be one of"):
        S.cost_matrix(np.ones((12, 3)), np.ones((12, 3)), "manhattan")
    with pytest.raises(ValueError, match="finite"):
        S.cost_matrix(np.full((12, 3), np.nan), np.ones((12, 3)))
