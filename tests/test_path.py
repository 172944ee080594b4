"""l1_path: levels reached, cost in epochs, the λ it reports, and errors."""

import warnings

import numpy as np
import pytest
from sklearn.datasets import make_regression
from sklearn.exceptions import ConvergenceWarning
from sklearn.preprocessing import StandardScaler

from sk_sparse_l1 import SparseL1Classifier, SparseL1Regressor, l1_path
from sk_sparse_l1._path import MIN_EPOCHS_PER_POINT, point_budget


@pytest.fixture(scope="module")
def data():
    X, y = make_regression(n_samples=200, n_features=8, noise=5.0, random_state=0)
    return StandardScaler().fit_transform(X), y / np.std(y)


def net(**params):
    base = dict(
        hidden_layer_sizes=(24,), max_iter=60, learning_rate_init=0.01,
        random_state=0,
    )  # fmt: skip
    return SparseL1Regressor(**{**base, **params})


@pytest.fixture(scope="module")
def ten_point_path(data):
    X, y = data
    levels = np.linspace(0.3, 0.95, 10)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)  # no level missed
        return l1_path(net(), X, y, sparsities=levels, return_estimators=True)


def test_every_point_lands_on_its_level(ten_point_path):
    path = ten_point_path
    assert path.kind == "sparsity"
    assert path.target_reached.all()
    n_weights = 8 * 24 + 24
    for level, nnz in zip(path.levels, path.n_nonzero):
        target = round((1 - level) * n_weights)
        assert abs(nnz - target) <= max(0.02 * target, 1)
    np.testing.assert_allclose(path.sparsity, 1 - path.n_nonzero / n_weights)


def test_a_ten_point_path_costs_at_most_three_fits(ten_point_path):
    # Epochs are the cost: every epoch of a point is an epoch of a fit of the
    # same network on the same data. Retries count.
    assert ten_point_path.n_iter[0] == 60
    assert ten_point_path.n_iter.sum() <= 3 * 60
    assert point_budget(60, 10) == 7
    assert point_budget(60, 1) == 60
    assert point_budget(10, 10) == MIN_EPOCHS_PER_POINT


def test_layer_sparsity_and_the_estimators_of_the_points(ten_point_path, data):
    X, _ = data
    path = ten_point_path
    sizes = np.array([8 * 24, 24 * 1])
    assert path.layer_sparsity.shape == (10, 2)
    np.testing.assert_allclose(path.layer_sparsity @ sizes / sizes.sum(), path.sparsity)
    assert len(path.estimators) == 10
    for i, est in enumerate(path.estimators):
        assert est.sparsity_ == path.sparsity[i]
        assert est.alpha_ == path.alphas[i]
        assert est.loss_curve_[-1] == path.loss[i]
        assert est.predict(X).shape == (X.shape[0],)
    # the points are distinct networks, not one network changed in place
    assert path.estimators[0].n_nonzero_ > path.estimators[-1].n_nonzero_


def test_sparser_points_cost_training_loss_and_need_a_larger_lambda(ten_point_path):
    path = ten_point_path
    assert np.all(np.isfinite(path.loss))
    assert path.loss[-1] > path.loss[0]
    # λ grows along the path (ALGORITHM.md §3), allowing reversals between
    # neighbouring points: a point that retries starts λ's warm-up from the
    # bottom (measured here: 6 of 9 steps up, λ ×55 from first to last)
    assert path.alphas[-1] > 3 * path.alphas[0]
    assert np.mean(np.diff(path.alphas) > 0) >= 0.6


def test_path_at_given_alphas(data):
    X, y = data
    path = l1_path(net(max_iter=30), X, y, alphas=[0.05, 0.0, 0.01])
    assert path.kind == "alpha"
    np.testing.assert_array_equal(path.levels, [0.0, 0.01, 0.05])
    np.testing.assert_array_equal(path.alphas, path.levels)
    assert path.target_reached.all()
    assert path.sparsity[0] == 0.0  # no penalty: no zeros
    assert path.sparsity[2] > path.sparsity[1] > 0


def test_estimator_is_not_changed(data):
    X, y = data
    model = net(max_iter=20)
    params = model.get_params()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        l1_path(model, X, y, sparsities=[0.5])
    assert model.get_params() == params
    assert not hasattr(model, "coefs_")


def test_classifier_path_and_default_levels():
    from sklearn.datasets import load_iris

    X, y = load_iris(return_X_y=True)
    model = SparseL1Classifier(
        hidden_layer_sizes=(16,), max_iter=40, learning_rate_init=0.01,
        random_state=0,
    )  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        path = l1_path(model, StandardScaler().fit_transform(X), y)
    np.testing.assert_array_equal(path.levels, [0.5, 0.7, 0.8, 0.9, 0.95, 0.98])
    assert np.all(np.diff(path.sparsity) > 0)


def test_missed_levels_are_warned_about_by_name(data):
    X, y = data
    # one epoch per point and a one-weight tolerance: points cannot settle
    with pytest.warns(ConvergenceWarning, match=r"missed the sparsity levels \["):
        path = l1_path(
            net(max_iter=3, sparsity_tol=1e-6), X, y, sparsities=[0.2, 0.9],
            max_iter_per_point=1,
        )  # fmt: skip
    assert not path.target_reached.all()


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(estimator="net"), TypeError, "SparseL1Regressor or Sparse"),
        (dict(sparsities=[0.5], alphas=[0.1]), ValueError, "not both"),
        (dict(sparsities=[]), ValueError, "non-empty"),
        (dict(sparsities=["a"]), ValueError, "must be numbers"),
        (dict(alphas=[np.inf]), ValueError, r"\[0, inf\)"),
        (dict(max_iter_per_point=0), ValueError, "max_iter_per_point"),
        (dict(max_iter_per_point=2.5), ValueError, "max_iter_per_point"),
    ],
)
def test_bad_input_is_named(data, kwargs, error, match):
    X, y = data
    estimator = kwargs.pop("estimator", net(max_iter=2))
    with pytest.raises(error, match=match):
        l1_path(estimator, X, y, **kwargs)
