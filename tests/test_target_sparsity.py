"""target_sparsity: λ chosen inside fit, search logic and edge cases."""

import pickle
import warnings

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer, make_regression
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sk_sparse_l1 import SparseL1Classifier, SparseL1Regressor
from sk_sparse_l1._lambda_search import (
    GroupHistory,
    next_lambda,
    target_nonzeros,
    within_tolerance,
)
from sk_sparse_l1._search import paper_search

FAST = dict(
    hidden_layer_sizes=(16,), max_iter=60, learning_rate_init=0.01, random_state=0
)


@pytest.fixture(scope="module")
def cancer():
    X, y = load_breast_cancer(return_X_y=True)
    return StandardScaler().fit_transform(X), y


@pytest.fixture(scope="module")
def regression():
    X, y = make_regression(
        n_samples=200, n_features=8, n_informative=4, noise=2.0, random_state=0
    )
    return X, y / y.std()


# ---------------------------------------------------------------- estimators


def on_target(n_nonzero, target_sparsity, n_weights, tol=0.02):
    """The documented tolerance: |NNZ − T| ≤ max(tol · T, 1)."""
    target = round((1 - target_sparsity) * n_weights)
    return abs(n_nonzero - target) <= max(tol * target, 1)


@pytest.mark.parametrize("search,rounds", [("online", 10), ("paper", 40)])
@pytest.mark.parametrize("target", [0.5, 0.9])
def test_global_target_is_reached(cancer, search, rounds, target):
    X, y = cancer
    clf = SparseL1Classifier(
        target_sparsity=target, search=search, max_search_rounds=rounds, **FAST
    ).fit(X, y)
    assert on_target(clf.n_nonzero_, target, 30 * 16 + 16)
    assert clf.target_reached_
    assert clf.score(X, y) > 0.9
    assert isinstance(clf.alpha_, float) and clf.alpha_ > 0
    assert clf.alphas_.shape == (clf.n_search_rounds_, 1)
    assert np.min(np.abs(clf.sparsities_[:, 0] - clf.sparsity_)) < 1e-12


@pytest.mark.parametrize("search,rounds", [("online", 10), ("paper", 40)])
def test_layerwise_target_is_reached(regression, search, rounds):
    X, y = regression
    targets = [0.75, 0.5]  # exact counts: 32 of 128 and 8 of 16 weights
    reg = SparseL1Regressor(
        target_sparsity=targets, search=search, max_search_rounds=rounds, **FAST
    ).fit(X, y)
    assert on_target(reg.layer_n_nonzero_[0], 0.75, 128)
    assert on_target(reg.layer_n_nonzero_[1], 0.5, 16)
    assert reg.alpha_.shape == (2,)
    assert reg.alphas_.shape[1] == 2


def test_target_zero_means_no_penalty(regression):
    X, y = regression
    reg = SparseL1Regressor(target_sparsity=0.0, **FAST).fit(X, y)
    assert reg.sparsity_ == 0.0
    assert reg.alpha_ == 0.0


def test_unreachable_target_warns_and_keeps_closest(cancer):
    X, y = cancer
    clf = SparseL1Classifier(
        target_sparsity=0.9,
        sparsity_tol=1e-4,
        max_search_rounds=2,
        **{**FAST, "max_iter": 4},
    )
    with pytest.warns(ConvergenceWarning, match="target_sparsity=0.9 was not reached"):
        clf.fit(X, y)
    assert not clf.target_reached_
    # Closest on a log scale of the nonzero count (an empty network is not
    # "close" to a small target).
    n_weights = 30 * 16 + 16
    target = round(0.1 * n_weights)
    nonzeros = np.round((1 - clf.sparsities_[:, 0]) * n_weights)
    distances = np.abs(np.log((nonzeros + 1) / (target + 1)))
    kept = np.abs(np.log((clf.n_nonzero_ + 1) / (target + 1)))
    assert kept == pytest.approx(distances.min())


def test_wrong_number_of_layer_targets(regression):
    X, y = regression
    with pytest.raises(ValueError, match="expected 2 values, got 3"):
        SparseL1Regressor(target_sparsity=[0.5, 0.5, 0.5], **FAST).fit(X, y)


def test_grid_search_over_target_sparsity_in_pipeline(cancer):
    X, y = cancer
    pipe = make_pipeline(
        StandardScaler(), SparseL1Classifier(**{**FAST, "max_iter": 30})
    )
    grid = {"sparsel1classifier__target_sparsity": [0.5, 0.95]}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        search = GridSearchCV(pipe, grid, cv=3).fit(X, y)
    fitted = search.best_estimator_[-1]
    target = search.best_params_["sparsel1classifier__target_sparsity"]
    assert on_target(fitted.n_nonzero_, target, 30 * 16 + 16)


def test_pickles_with_search_trace(regression):
    X, y = regression
    reg = SparseL1Regressor(target_sparsity=0.7, **FAST).fit(X, y)
    restored = pickle.loads(pickle.dumps(reg))
    np.testing.assert_array_equal(restored.alphas_, reg.alphas_)
    np.testing.assert_array_equal(restored.sparsities_, reg.sparsities_)
    np.testing.assert_array_equal(restored.predict(X), reg.predict(X))


# ------------------------------------------------------------- search logic


def test_target_nonzeros_global_and_layerwise():
    targets, groups = target_nonzeros(0.9, [100, 50])
    assert targets.tolist() == [15] and groups == [[0, 1]]
    targets, groups = target_nonzeros([0.5, 0.2], [100, 50])
    assert targets.tolist() == [50, 40] and groups == [[0], [1]]
    # Relative to the count, with one weight of slack: 15 ± max(0.1·15, 1).
    assert within_tolerance([16], [15], tol=0.1)
    assert not within_tolerance([17], [15], tol=0.1)
    assert within_tolerance([101, 50], [100, 49], tol=0.01)
    assert not within_tolerance([0], [3], tol=0.5)  # empty is not "close"


class SyntheticProblem:
    """Lasso with an orthogonal design, in the problem protocol: weight k is
    nonzero iff its score a_k exceeds λ; at the solution γ_k = a_k on zeros
    and γ_k = λ on nonzeros. Sparsity is monotone in λ."""

    def __init__(self, scores):
        self.scores = np.asarray(scores)
        self.lam = 0.0
        self.trained = []

    def train(
        self, lambdas, *, restart, n_epochs, controller=None, epoch_controller=None
    ):
        self.lam = lambdas[0]
        self.trained.append(self.lam)
        return type(
            "Run",
            (),
            {"loss_curve": [0.0], "n_epochs": 1, "converged": True, "lambdas": lambdas},
        )()

    def layer_nonzeros(self):
        return [int(np.sum(self.scores > self.lam))]

    def gradient_magnitudes(self):
        return [np.where(self.scores > self.lam, self.lam, self.scores)]

    def snapshot(self):
        return self.lam

    def restore(self, snapshot):
        self.lam = snapshot


@pytest.mark.parametrize("start", [(1.0, 1e-3), (1e-4, 1e-6), (50.0, 10.0)])
def test_paper_search_on_monotone_curve(start):
    """Reaches the target from a bracketing start and from starts that are
    both too low or both too high (the bracket is expanded)."""
    scores = np.random.RandomState(0).lognormal(mean=-3, sigma=1.5, size=2000)
    problem = SyntheticProblem(scores)
    target = 200
    result = paper_search(
        problem,
        np.array([target]),
        [[0]],
        tol=0.02,
        max_rounds=60,
        lambda_upper=start[0],
        lambda_lower=start[1],
        n_epochs=1,
    )
    assert result.reached
    assert abs(problem.layer_nonzeros()[0] - target) <= 4
    # The returned λ is the one the restored network was trained at.
    assert np.sum(scores > result.lambdas[0]) == problem.layer_nonzeros()[0]


def test_next_lambda_rules():
    history = GroupHistory(target=10)
    history.record(0.1, 50)  # too dense
    assert next_lambda(history, [0.5]) == pytest.approx(1.0)  # expand upwards
    history = GroupHistory(target=10)
    history.record(0.1, 2)  # too sparse
    assert next_lambda(history, [0.5]) == pytest.approx(0.01)
    history.record(0.001, 40)  # now bracketed: (0.001, 0.1)
    assert next_lambda(history, [0.0005, 0.002, 0.004, 0.2]) == pytest.approx(0.003)
    assert next_lambda(history, [0.5]) == pytest.approx(0.01)  # geometric midpoint
