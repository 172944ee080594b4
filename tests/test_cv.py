"""SparseL1RegressorCV and SparseL1ClassifierCV: scikit-learn's estimator
checks, the choice of level against the fold scores, and the refit."""

import pickle
import warnings

import numpy as np
import pytest
from sklearn.datasets import make_classification, make_regression
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import KFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from sk_sparse_l1 import (
    SparseL1ClassifierCV,
    SparseL1Regressor,
    SparseL1RegressorCV,
)
from sk_sparse_l1._cv import select_level

# Tiny networks, two levels and two folds keep the ~50 checks per estimator
# fast; every check runs, none is marked as an expected failure.
SMALL = dict(
    hidden_layer_sizes=(8,),
    max_iter=30,
    learning_rate_init=0.01,
    sparsities=[0.3, 0.6],
    cv=2,
)


@parametrize_with_checks(
    [
        SparseL1RegressorCV(**SMALL),
        SparseL1ClassifierCV(**SMALL),
    ]
)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


@pytest.fixture(scope="module")
def regression():
    X, y = make_regression(n_samples=160, n_features=6, noise=5.0, random_state=0)
    return StandardScaler().fit_transform(X), y / np.std(y)


def quiet_fit(estimator, X, y, **kwargs):
    """Fit with the budget-exhausted warnings of short test fits silenced."""
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", "Proximal training used all", ConvergenceWarning
        )
        return estimator.fit(X, y, **kwargs)


def test_select_level_best_and_1se():
    mean = np.array([0.80, 0.90, 0.88, 0.86, 0.50])
    std = np.array([0.05, 0.04, 0.05, 0.02, 0.10])
    assert select_level(mean, std, 4, "best") == 1
    # one standard error of the best: 0.04 / √4 = 0.02 → scores ≥ 0.88
    assert select_level(mean, std, 4, "1se") == 2
    assert select_level(mean, std, 1, "1se") == 3  # 0.90 − 0.04 = 0.86
    # ties: the first (densest), as GridSearchCV chooses
    assert select_level(np.array([0.9, 0.9]), np.zeros(2), 3, "best") == 0


def test_cv_results_match_fold_scores_and_refit(regression):
    X, y = regression
    levels = [0.8, 0.3, 0.6]  # given unsorted: reported dense to sparse
    cv = KFold(3, shuffle=True, random_state=0)
    reg = SparseL1RegressorCV(
        hidden_layer_sizes=(16,), sparsities=levels, cv=cv, max_iter=40,
        learning_rate_init=0.01, random_state=0,
    )  # fmt: skip
    quiet_fit(reg, X, y)
    results = reg.cv_results_
    np.testing.assert_array_equal(results["target_sparsity"], [0.3, 0.6, 0.8])
    splits = np.vstack([results[f"split{k}_test_score"] for k in range(3)])
    np.testing.assert_allclose(results["mean_test_score"], splits.mean(axis=0))
    np.testing.assert_allclose(results["std_test_score"], splits.std(axis=0))
    best = int(np.argmax(results["mean_test_score"]))
    assert reg.best_index_ == best
    assert reg.target_sparsity_ == results["target_sparsity"][best]
    assert results["rank_test_score"][best] == 1
    # the fold paths landed on their levels
    np.testing.assert_allclose(results["mean_sparsity"], [0.3, 0.6, 0.8], atol=0.02)
    # the refit is the base estimator at the chosen level, on all the data
    alone = SparseL1Regressor(
        hidden_layer_sizes=(16,), target_sparsity=reg.target_sparsity_,
        max_iter=40, learning_rate_init=0.01, random_state=0,
    )  # fmt: skip
    quiet_fit(alone, X, y)
    np.testing.assert_allclose(reg.predict(X), alone.predict(X))
    assert reg.alpha_ == alone.alpha_
    assert abs(reg.sparsity_ - reg.target_sparsity_) < 0.02
    # a fold score is the estimator's R² on the held-out part
    train, test = next(iter(cv.split(X)))
    assert -1.0 < results["split0_test_score"][0] <= 1.0


def test_1se_picks_a_sparser_level_within_one_standard_error(regression):
    X, y = regression
    params = dict(
        hidden_layer_sizes=(16,), sparsities=[0.2, 0.5, 0.7, 0.85], cv=3,
        max_iter=40, learning_rate_init=0.01, random_state=0,
    )  # fmt: skip
    best = quiet_fit(SparseL1RegressorCV(**params), X, y)
    one_se = quiet_fit(SparseL1RegressorCV(**params, selection="1se"), X, y)
    # the same folds and paths: only the rule differs
    for key in ("mean_test_score", "std_test_score"):
        np.testing.assert_allclose(best.cv_results_[key], one_se.cv_results_[key])
    mean = best.cv_results_["mean_test_score"]
    std = best.cv_results_["std_test_score"]
    assert one_se.target_sparsity_ >= best.target_sparsity_
    chosen = one_se.best_index_
    assert mean[chosen] >= mean[best.best_index_] - std[best.best_index_] / np.sqrt(3)
    # no sparser level qualifies
    later = mean[chosen + 1 :]
    assert np.all(later < mean[best.best_index_] - std[best.best_index_] / np.sqrt(3))


def test_alphas_instead_of_sparsities(regression):
    X, y = regression
    reg = SparseL1RegressorCV(
        hidden_layer_sizes=(16,), alphas=[0.05, 0.005], cv=2, max_iter=30,
        learning_rate_init=0.01, random_state=0,
    )  # fmt: skip
    quiet_fit(reg, X, y)
    np.testing.assert_array_equal(reg.cv_results_["alpha"], [0.005, 0.05])
    assert reg.target_sparsity_ is None
    assert reg.alpha_ == reg.cv_results_["alpha"][reg.best_index_]
    # a larger λ leaves more zeros, on every fold on average
    assert reg.cv_results_["mean_sparsity"][1] > reg.cv_results_["mean_sparsity"][0]


def test_classifier_in_pipeline_pickles_and_runs_folds_in_parallel():
    X, y = make_classification(
        n_samples=150, n_features=8, n_informative=4, n_classes=3, random_state=0
    )
    y = np.array(["a", "b", "c"])[y]
    params = dict(
        hidden_layer_sizes=(12,), sparsities=[0.4, 0.8], cv=3, max_iter=30,
        learning_rate_init=0.01, random_state=0, scoring="neg_log_loss",
    )  # fmt: skip
    pipe = make_pipeline(StandardScaler(), SparseL1ClassifierCV(**params))
    quiet_fit(pipe, X, y)
    clf = pipe[-1]
    assert set(pipe.predict(X)) <= {"a", "b", "c"}
    np.testing.assert_array_equal(clf.classes_, ["a", "b", "c"])
    assert np.all(clf.cv_results_["mean_test_score"] < 0)  # log loss, negated
    restored = pickle.loads(pickle.dumps(pipe))
    np.testing.assert_allclose(restored.predict_proba(X), pipe.predict_proba(X))
    # two joblib workers give the same results as one
    parallel = make_pipeline(StandardScaler(), SparseL1ClassifierCV(**params, n_jobs=2))
    quiet_fit(parallel, X, y)
    np.testing.assert_allclose(
        parallel[-1].cv_results_["mean_test_score"],
        clf.cv_results_["mean_test_score"],
    )


@pytest.mark.parametrize(
    "params, match",
    [
        (dict(sparsities=[0.5], alphas=[0.1]), "not both"),
        (dict(sparsities=[0.5, 1.0]), r"in \[0, 1\)"),
        (dict(sparsities=[0.5, 0.5]), "distinct"),
        (dict(sparsities=[[0.5, 0.6]]), "1-D"),
        (dict(alphas=[-0.1]), r"alpha levels must lie in \[0, inf\)"),
    ],
)
def test_bad_levels_are_named(regression, params, match):
    X, y = regression
    with pytest.raises(ValueError, match=match):
        SparseL1RegressorCV(hidden_layer_sizes=(4,), max_iter=2, **params).fit(X, y)


def test_selection_is_validated(regression):
    X, y = regression
    with pytest.raises(ValueError, match="selection"):
        SparseL1RegressorCV(selection="smallest").fit(X, y)
    with pytest.raises(TypeError):
        SparseL1RegressorCV(target_sparsity=0.5)  # chosen by the search


def test_folds_run_on_a_dask_cluster_as_in_this_process(regression):
    # The folds go through joblib, so joblib's "dask" backend sends them to
    # the workers of a cluster, as it does GridSearchCV's fits.
    distributed = pytest.importorskip("distributed")
    import joblib

    X, y = regression
    params = dict(
        hidden_layer_sizes=(8,), sparsities=[0.3, 0.7], cv=2, max_iter=20,
        learning_rate_init=0.01, random_state=0, n_jobs=-1,
    )  # fmt: skip
    local = quiet_fit(SparseL1RegressorCV(**params), X, y)
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True,
        dashboard_address=None, memory_limit="1GiB",
    )  # fmt: skip
    with cluster, distributed.Client(cluster) as client:
        with distributed.get_task_stream(client) as tasks:
            with joblib.parallel_config(backend="dask"):
                remote = quiet_fit(SparseL1RegressorCV(**params), X, y)
        assert len(tasks.data) >= 2  # the two folds ran on the workers
    for key in ("mean_test_score", "mean_sparsity", "mean_alpha"):
        np.testing.assert_allclose(remote.cv_results_[key], local.cv_results_[key])
