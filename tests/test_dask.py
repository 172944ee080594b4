"""Scale-out: a grid search over ``target_sparsity`` on a Dask cluster.

The estimators need nothing special: scikit-learn's searches run their fits
through joblib, and joblib's ``"dask"`` backend sends them to the workers of
a ``distributed`` cluster. Here a real ``LocalCluster`` with 2 worker
processes must give the same search as a run in this process.
"""

import warnings

import joblib
import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV

from sk_sparse_l1 import SparseL1Classifier

distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        dashboard_address=None,
        memory_limit="1GiB",
    )
    with cluster, distributed.Client(cluster) as client:
        yield client


def test_grid_search_on_a_dask_cluster_matches_the_local_run(client):
    rng = np.random.RandomState(0)
    X = rng.randn(90, 5)
    y = (X[:, 0] - 2 * X[:, 1] + 0.3 * rng.randn(90) > 0).astype(int)
    estimator = SparseL1Classifier(
        hidden_layer_sizes=(4,), max_iter=10, learning_rate_init=0.05, random_state=0
    )
    grid = {"target_sparsity": [0.3, 0.6, 0.9]}

    def search(**parallel):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            with joblib.parallel_config(**parallel):
                return GridSearchCV(estimator, grid, cv=3, n_jobs=-1).fit(X, y)

    local = search(backend="sequential")
    with distributed.get_task_stream(client) as tasks:
        remote = search(backend="dask")

    # The fits ran on the cluster's workers: 3 candidates × 3 folds, at least.
    workers = {task["worker"] for task in tasks.data}
    assert len(tasks.data) >= 9 and workers <= set(client.scheduler_info()["workers"])
    assert remote.best_params_ == local.best_params_
    for key in local.cv_results_:
        if key.startswith("split") or key in ("mean_test_score", "rank_test_score"):
            np.testing.assert_array_equal(
                remote.cv_results_[key], local.cv_results_[key]
            )
    for w_remote, w_local in zip(
        remote.best_estimator_.coefs_, local.best_estimator_.coefs_
    ):
        np.testing.assert_array_equal(w_remote, w_local)
