"""Sparse export, sparse prediction, and feature selection with support_.

The sparse forward pass is checked against the fitted ``module_`` (the dense
path ``_raw_predict`` uses) and against a numpy forward pass written out
here. The tests at the end check the estimator side: ``sparse_coefs_`` and
``_raw_predict`` choosing the path with ``prefer_sparse``.
"""

import pickle
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone
from sklearn.datasets import load_breast_cancer, load_digits, make_regression
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.feature_selection import SelectFromModel
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import sk_sparse_l1._estimator as base_module
from sk_sparse_l1 import SparseL1Classifier, SparseL1Regressor
from sk_sparse_l1.sparse import (
    MAX_DENSITY,
    MIN_DENSE_WORK,
    prefer_sparse,
    sparse_forward,
    stored_bytes,
    to_csr,
)

# Sparse and dense float64 predictions must agree to this relative tolerance
# (of the largest output, so that outputs near zero are compared on the same
# scale). Measured: at most 4.3e-16 (2 ulps) over these tests; 1e-14 leaves
# room for another summation order over fan-ins of up to 300.
RTOL = 1e-14
# The same for float32 computations (measured: at most 1.1e-7, 2 ulps).
RTOL32 = 1e-6


def _fit(estimator, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return estimator.fit(X, y)


def _module_output(estimator, X):
    """Raw outputs of the fitted dense network, as ``_raw_predict`` computes."""
    dtype = next(estimator.module_.parameters()).dtype
    with torch.no_grad():
        return estimator.module_(torch.as_tensor(X, dtype=dtype)).numpy()


def _assert_same_outputs(actual, expected, rtol=RTOL):
    scale = max(np.abs(expected).max(), 1e-300)
    assert_allclose(actual, expected, rtol=rtol, atol=rtol * scale)


def _numpy_forward(coefs, intercepts, activation, X):
    functions = {
        "relu": lambda z: np.maximum(z, 0.0),
        "tanh": np.tanh,
        "logistic": lambda z: 1.0 / (1.0 + np.exp(-z)),
        "identity": lambda z: z,
    }
    h = np.asarray(X, dtype=float)
    for j, (W, b) in enumerate(zip(coefs, intercepts)):
        h = h @ W + b
        if j < len(coefs) - 1:
            h = functions[activation](h)
    return h


def _random_sparse_network(layer_sizes, sparsity, seed):
    rng = np.random.default_rng(seed)
    coefs, intercepts = [], []
    for fan_in, fan_out in zip(layer_sizes[:-1], layer_sizes[1:]):
        W = rng.standard_normal((fan_in, fan_out)) / np.sqrt(fan_in)
        W[rng.random(W.shape) < sparsity] = 0.0
        coefs.append(W)
        intercepts.append(0.1 * rng.standard_normal(fan_out))
    return coefs, intercepts


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X[:600] / 16.0, y[:600]


@pytest.fixture(scope="module")
def breast_cancer():
    X, y = load_breast_cancer(return_X_y=True)
    return StandardScaler().fit_transform(X), y


@pytest.fixture(scope="module")
def fitted_classifier(digits):
    X, y = digits
    estimator = SparseL1Classifier(
        hidden_layer_sizes=(24, 12),
        target_sparsity=0.9,
        max_iter=20,
        random_state=0,
    )
    return _fit(estimator, X, y)


# ------------------------------------------------------------------ export


def test_to_csr_round_trips_coefs(fitted_classifier):
    est = fitted_classifier
    csr = to_csr(est.coefs_)
    assert len(csr) == len(est.coefs_)
    for matrix, W, kept in zip(csr, est.coefs_, est.layer_n_nonzero_):
        assert isinstance(matrix, sp.csr_array)
        assert matrix.shape == W.shape
        assert matrix.dtype == np.float64
        assert matrix.nnz == np.count_nonzero(W) == kept
        assert_array_equal(matrix.toarray(), W)


def test_to_csr_keeps_dtype_and_drops_only_zeros():
    W = np.array([[0.0, -0.0, 1e-300], [2.0, 0.0, -3.0]], dtype=np.float32)
    (matrix,) = to_csr([W])
    assert matrix.dtype == np.float32
    # 1e-300 underflows to 0 in float32; -0.0 is a zero too.
    assert matrix.nnz == 2
    assert_array_equal(matrix.toarray(), W)


def test_stored_bytes_counts_data_indices_and_indptr():
    coefs, _ = _random_sparse_network([200, 300, 5], 0.95, seed=0)
    csr = to_csr(coefs)
    expected = sum(m.data.nbytes + m.indices.nbytes + m.indptr.nbytes for m in csr)
    assert stored_bytes(csr) == expected
    assert stored_bytes(coefs) == 8 * (200 * 300 + 300 * 5)
    # float64 data and int32 indices: 12 bytes a nonzero against 8 a weight.
    assert stored_bytes(coefs) / stored_bytes(csr) > 5


# ------------------------------------------------------ sparse prediction


@pytest.mark.parametrize("activation", ["relu", "tanh", "logistic", "identity"])
def test_sparse_forward_matches_fitted_module_classifier(activation, digits):
    X, y = digits
    est = _fit(
        SparseL1Classifier(
            hidden_layer_sizes=(16, 8),
            activation=activation,
            target_sparsity=0.85,
            max_iter=12,
            random_state=1,
        ),
        X,
        y,
    )
    assert est.sparsity_ > 0.8
    raw = sparse_forward(to_csr(est.coefs_), est.intercepts_, est.activation, X)
    assert raw.dtype == np.float64
    _assert_same_outputs(raw, _module_output(est, X))


@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_sparse_forward_matches_fitted_module_multioutput_regressor(activation):
    X, y = make_regression(
        n_samples=300, n_features=12, n_informative=4, n_targets=3, random_state=0
    )
    y = y / y.std(axis=0)
    est = _fit(
        SparseL1Regressor(
            hidden_layer_sizes=(20,),
            activation=activation,
            target_sparsity=0.9,
            learning_rate_init=0.01,
            max_iter=15,
            random_state=0,
        ),
        X,
        y,
    )
    raw = sparse_forward(to_csr(est.coefs_), est.intercepts_, est.activation, X)
    assert raw.shape == (300, 3)
    _assert_same_outputs(raw, _module_output(est, X))
    _assert_same_outputs(raw, est.predict(X))


def test_sparse_forward_matches_binary_classifier_logit(breast_cancer):
    X, y = breast_cancer
    est = _fit(
        SparseL1Classifier(
            hidden_layer_sizes=(8,), target_sparsity=0.9, max_iter=15, random_state=0
        ),
        X,
        y,
    )
    raw = sparse_forward(to_csr(est.coefs_), est.intercepts_, est.activation, X)
    assert raw.shape == (X.shape[0], 1)
    _assert_same_outputs(raw, _module_output(est, X))
    # The logit decides the same labels as the estimator.
    assert_array_equal(est.classes_[(raw[:, 0] > 0).astype(int)], est.predict(X))


@pytest.mark.parametrize("activation", ["relu", "tanh", "logistic", "identity"])
def test_sparse_forward_matches_numpy_on_wide_sparse_network(activation):
    coefs, intercepts = _random_sparse_network([40, 300, 200, 3], 0.95, seed=2)
    # A hidden unit with no incoming weight still passes act(bias) on.
    coefs[1][:, 7] = 0.0
    X = np.random.default_rng(3).standard_normal((257, 40))
    raw = sparse_forward(to_csr(coefs), intercepts, activation, X)
    _assert_same_outputs(raw, _numpy_forward(coefs, intercepts, activation, X))


def test_sparse_forward_accepts_dense_arrays_and_float32_input():
    coefs, intercepts = _random_sparse_network([10, 30, 2], 0.8, seed=4)
    X = np.random.default_rng(5).standard_normal((50, 10))
    expected = _numpy_forward(coefs, intercepts, "relu", X)
    _assert_same_outputs(sparse_forward(coefs, intercepts, "relu", X), expected)
    raw32 = sparse_forward(to_csr(coefs), intercepts, "relu", X.astype(np.float32))
    assert raw32.dtype == np.float64
    # float64 weights: the float32 input is the only rounding.
    _assert_same_outputs(raw32, expected, rtol=RTOL32)


def test_sparse_forward_float32_weights_compute_in_float32():
    coefs, intercepts = _random_sparse_network([10, 30, 2], 0.8, seed=6)
    coefs32 = [W.astype(np.float32) for W in coefs]
    X = np.random.default_rng(7).standard_normal((50, 10))
    raw = sparse_forward(to_csr(coefs32), intercepts, "tanh", X)
    assert raw.dtype == np.float32
    expected = _numpy_forward(coefs32, intercepts, "tanh", X)
    _assert_same_outputs(raw, expected, rtol=RTOL32)


@pytest.mark.parametrize("block_rows", [1, 7, 64, 10_000])
@pytest.mark.parametrize("n_threads", [1, 3])
def test_sparse_forward_does_not_depend_on_blocks_or_threads(block_rows, n_threads):
    coefs, intercepts = _random_sparse_network([20, 100, 100, 4], 0.9, seed=8)
    X = np.random.default_rng(9).standard_normal((203, 20))
    csr = to_csr(coefs)
    raw = sparse_forward(
        csr, intercepts, "relu", X, block_rows=block_rows, n_threads=n_threads
    )
    _assert_same_outputs(raw, _numpy_forward(coefs, intercepts, "relu", X))


def test_sparse_forward_with_no_rows():
    coefs, intercepts = _random_sparse_network([5, 6, 2], 0.5, seed=10)
    raw = sparse_forward(to_csr(coefs), intercepts, "relu", np.empty((0, 5)))
    assert raw.shape == (0, 2)


def test_sparse_forward_rejects_bad_input():
    coefs, intercepts = _random_sparse_network([5, 6, 2], 0.5, seed=11)
    csr = to_csr(coefs)
    with pytest.raises(ValueError, match="activation must be one of"):
        sparse_forward(csr, intercepts, "softmax", np.ones((2, 5)))
    with pytest.raises(ValueError, match="one intercept per weight matrix"):
        sparse_forward(csr, intercepts[:1], "relu", np.ones((2, 5)))
    with pytest.raises(ValueError, match=r"X must have shape \(n_rows, 5\)"):
        sparse_forward(csr, intercepts, "relu", np.ones((2, 4)))


# ------------------------------------------------------------ the rule


def test_prefer_sparse_needs_both_low_density_and_enough_work():
    n_in, n_out = 1000, 1000
    W = np.zeros((n_in, n_out))
    rng = np.random.default_rng(12)
    flat = W.reshape(-1)
    flat[rng.choice(W.size, int(MAX_DENSITY * W.size), replace=False)] = 1.0
    rows_enough = int(np.ceil(MIN_DENSE_WORK / W.size))
    assert prefer_sparse([W], rows_enough)
    assert not prefer_sparse([W], rows_enough - 1)
    # One more nonzero than the density threshold allows: dense.
    flat[np.flatnonzero(flat == 0)[0]] = 1.0
    assert not prefer_sparse([W], 10 * rows_enough)


def test_prefer_sparse_counts_csr_like_dense():
    coefs, _ = _random_sparse_network([100, 2048, 2048, 1], 0.95, seed=13)
    csr = to_csr(coefs)
    for n_rows in (1, 10, 1_000, 100_000):
        assert prefer_sparse(csr, n_rows) == prefer_sparse(coefs, n_rows)
    assert prefer_sparse(csr, 100_000)
    assert not prefer_sparse(csr, 1)


def test_prefer_sparse_keeps_small_or_dense_networks_dense(fitted_classifier):
    est = fitted_classifier
    # A 64 → 24 → 12 → 10 network at 90% zeros is too small to gain.
    assert not prefer_sparse(est.coefs_, 100_000)
    coefs, _ = _random_sparse_network([100, 2048, 2048, 1], 0.5, seed=14)
    assert not prefer_sparse(coefs, 100_000)


# ------------------------------------------------------ feature selection


def support_importance(estimator):
    """1 for the input features the fitted network uses, 0 for the others.

    A module-level function rather than a lambda, so that a pipeline holding
    it can be pickled.
    """
    return estimator.support_.astype(float)


@pytest.fixture(scope="module")
def sparse_selector_estimator(breast_cancer):
    X, y = breast_cancer
    est = SparseL1Classifier(
        hidden_layer_sizes=(8,), target_sparsity=0.95, max_iter=30, random_state=0
    )
    return _fit(est, X, y)


def test_select_from_model_prefit_with_support_getter(
    breast_cancer, sparse_selector_estimator
):
    X, y = breast_cancer
    est = sparse_selector_estimator
    assert 0 < est.support_.sum() < X.shape[1]
    selector = SelectFromModel(
        est, prefit=True, importance_getter=support_importance, threshold=0.5
    )
    pipe = make_pipeline(selector, LogisticRegression()).fit(X, y)
    assert_array_equal(pipe[0].get_support(), est.support_)
    assert pipe[0].transform(X).shape == (X.shape[0], est.support_.sum())
    assert pipe.score(X, y) > 0.9
    # prefit=True copies the fitted network and does not refit it.
    assert_array_equal(pipe[0].estimator_.coefs_[0], est.coefs_[0])


def test_select_from_model_with_l1_norm_of_first_layer(
    breast_cancer, sparse_selector_estimator
):
    X, y = breast_cancer
    est = sparse_selector_estimator

    # A 2-D importance is reduced by SelectFromModel to the norm of each
    # column (norm_order=1 by default): with coefs_[0].T that is the L1 norm
    # of each input feature's outgoing weights.
    def first_layer(estimator):
        return estimator.coefs_[0].T

    row_l1 = np.abs(est.coefs_[0]).sum(axis=1)
    by_norm = SelectFromModel(
        est, prefit=True, importance_getter=first_layer, threshold=1e-12
    ).fit(X, y)
    assert_array_equal(by_norm.get_support(), est.support_)
    assert_allclose(by_norm.threshold_, 1e-12)
    # Without a threshold SelectFromModel keeps features above the *mean*
    # importance (it does not recognise the estimator as ℓ1-penalized).
    by_mean = SelectFromModel(est, prefit=True, importance_getter=first_layer).fit(X)
    assert_array_equal(by_mean.get_support(), row_l1 >= row_l1.mean())
    # The k strongest features: threshold=-inf and max_features=k.
    top3 = SelectFromModel(
        est,
        prefit=True,
        importance_getter=first_layer,
        threshold=-np.inf,
        max_features=3,
    ).fit(X)
    assert set(np.flatnonzero(top3.get_support())) == set(np.argsort(-row_l1)[:3])


def test_select_from_model_inside_cross_validated_pipeline(breast_cancer):
    X, y = breast_cancer
    pipe = make_pipeline(
        StandardScaler(),
        SelectFromModel(
            SparseL1Classifier(
                hidden_layer_sizes=(8,),
                target_sparsity=0.95,
                max_iter=20,
                random_state=0,
            ),
            importance_getter=support_importance,
            threshold=0.5,
        ),
        LogisticRegression(),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        scores = cross_val_score(pipe, X, y, cv=3)
        pipe.fit(X, y)
    assert scores.min() > 0.85
    selector = pipe[1]
    assert_array_equal(selector.get_support(), selector.estimator_.support_)
    restored = pickle.loads(pickle.dumps(pipe))
    assert_array_equal(restored.predict(X), pipe.predict(X))


def test_prefit_selector_cannot_be_cloned_into_cross_validation(
    breast_cancer, sparse_selector_estimator
):
    # clone() (what cross_val_score does) drops the fitted state that
    # prefit=True relies on: use prefit=False to cross-validate.
    X, y = breast_cancer
    selector = SelectFromModel(
        sparse_selector_estimator,
        prefit=True,
        importance_getter=support_importance,
        threshold=0.5,
    )
    with pytest.raises(NotFittedError, match="prefit=True"):
        clone(selector).fit(X, y)


# ------------------------------------------------------------ estimator path


def test_fitted_sparse_coefs_are_the_csr_of_coefs(fitted_classifier):
    est = fitted_classifier
    assert len(est.sparse_coefs_) == len(est.coefs_)
    for matrix, W in zip(est.sparse_coefs_, est.coefs_):
        assert sp.issparse(matrix) and matrix.format == "csr"
        assert_array_equal(matrix.toarray(), W)


def _raw_predict_forcing_path(monkeypatch, est, X, use_sparse):
    """``est._raw_predict(X)`` with ``prefer_sparse`` forced to
    ``use_sparse``, and whether the sparse forward pass ran."""
    calls = []

    def spy(*args, **kwargs):
        calls.append(1)
        return sparse_forward(*args, **kwargs)

    monkeypatch.setattr(base_module, "prefer_sparse", lambda coefs, n: use_sparse)
    monkeypatch.setattr(base_module, "sparse_forward", spy)
    return est._raw_predict(X), bool(calls)


@pytest.mark.parametrize("use_sparse", [True, False])
def test_raw_predict_follows_prefer_sparse(monkeypatch, digits, use_sparse):
    X, y = digits
    est = _fit(
        SparseL1Classifier(
            hidden_layer_sizes=(16,), target_sparsity=0.9, max_iter=10, random_state=0
        ),
        X,
        y,
    )
    dense_raw = _module_output(est, X)
    raw, used_sparse = _raw_predict_forcing_path(monkeypatch, est, X, use_sparse)
    assert used_sparse == use_sparse
    assert raw.dtype == np.float64
    _assert_same_outputs(raw, dense_raw)
    proba = est.predict_proba(X)
    assert_allclose(proba.sum(axis=1), 1.0)
    assert_array_equal(est.predict(X), est.classes_[dense_raw.argmax(axis=1)])


@pytest.mark.parametrize("use_sparse", [True, False])
def test_raw_predict_of_a_float32_network_stays_float32(
    monkeypatch, digits, use_sparse
):
    """float32 training keeps float32 weights; both paths then compute in
    float32 and agree to float32 rounding."""
    X, y = digits
    X32 = X.astype(np.float32)
    est = _fit(
        SparseL1Classifier(
            hidden_layer_sizes=(16,), target_sparsity=0.9, max_iter=5, random_state=0
        ),
        X32,
        y,
    )
    assert {W.dtype for W in est.coefs_} == {np.dtype(np.float32)}
    assert {W.dtype for W in est.sparse_coefs_} == {np.dtype(np.float32)}
    dense_raw = _module_output(est, X32)
    assert dense_raw.dtype == np.float32
    raw, used_sparse = _raw_predict_forcing_path(monkeypatch, est, X32, use_sparse)
    assert used_sparse == use_sparse
    assert raw.dtype == np.float32
    _assert_same_outputs(raw, dense_raw, rtol=RTOL32)
    assert_array_equal(est.predict(X32), est.classes_[dense_raw.argmax(axis=1)])
