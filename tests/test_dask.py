"""Scale-out on Dask: a grid search over ``target_sparsity`` on a cluster, and
streaming fits of chunked ``dask.array`` data with dask-ml's ``Incremental``.

The estimators need nothing special: scikit-learn's searches run their fits
through joblib, and joblib's ``"dask"`` backend sends them to the workers of
a ``distributed`` cluster. Here a real ``LocalCluster`` with 2 worker
processes must give the same search as a run in this process.

``Incremental`` chains one ``partial_fit`` task per block; on a cluster the
estimator is pickled and moved to whichever worker holds the next block.
The cluster runs its workers as processes, not threads: only then is that
hand-over the pickling a real cluster does, and ``n_threads`` (torch's
thread count is global to a process) cannot race with the test process. The
streamed fits must be accurate, on target, and identical to the same stream
run in this process by the threaded and the synchronous scheduler.
"""

import warnings

import joblib
import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV

from sk_sparse_l1 import SparseL1Classifier, SparseL1Regressor

dask = pytest.importorskip("dask")
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


# ----------------------------------------------------- dask-ml's Incremental

N_BLOCKS, BLOCK_ROWS, N_PASSES, N_FEATURES = 10, 300, 3, 20
N_TEST = 1000
# Measured on this stream: test accuracy 0.96 and R² 0.99 at every setting
# below (seed 0), at least 0.93 and 0.98 for data and estimator seeds 0-5;
# the fixed λ leaves 66-80% of the weights at zero with estimator seeds 0-2
# (λ reaches it along its warm-up, over the max_iter calls).
MIN_ACCURACY, MIN_R2, MIN_FIXED_ALPHA_SPARSITY = 0.9, 0.95, 0.5

SETTINGS = {
    "fixed alpha": dict(alpha=2e-2, target_sparsity=None),
    "global target": dict(target_sparsity=0.9),
    "layer-wise target": dict(target_sparsity=[0.9, 0.5]),
}
CASES = [
    ("classifier", "fixed alpha"),
    ("regressor", "fixed alpha"),
    ("classifier", "global target"),
    ("regressor", "global target"),
    ("classifier", "layer-wise target"),
]


@pytest.fixture(scope="module")
def Incremental():
    return pytest.importorskip("dask_ml.wrappers").Incremental


def _stream(task):
    """Training blocks as a chunked dask array, and a held-out set: 3 classes
    (or a real target) from a linear teacher on 4 of 20 features."""
    rng = np.random.RandomState(0)
    X = rng.randn(N_BLOCKS * BLOCK_ROWS + N_TEST, N_FEATURES)
    teacher = np.zeros((N_FEATURES, 3))
    teacher[:4] = 2 * rng.randn(4, 3)
    if task == "classifier":
        y = np.argmax(X @ teacher, axis=1)
    else:
        y = X @ teacher[:, 0] + 0.1 * rng.randn(len(X))
    train, test = slice(None, -N_TEST), slice(-N_TEST, None)
    X_blocks = dask.array.from_array(X[train], chunks=(BLOCK_ROWS, N_FEATURES))
    y_blocks = dask.array.from_array(y[train], chunks=BLOCK_ROWS)
    return X_blocks, y_blocks, X[test], y[test]


def _stream_fit(Incremental, task, setting, X_blocks, y_blocks):
    """``N_PASSES`` passes of ``Incremental.partial_fit`` over the blocks: one
    ``partial_fit`` call per block and pass, so the schedule of a target
    spans ``max_iter = N_BLOCKS · N_PASSES`` calls."""
    Estimator = SparseL1Classifier if task == "classifier" else SparseL1Regressor
    estimator = Estimator(
        hidden_layer_sizes=(16,),
        batch_size=50,
        learning_rate_init=1e-2,
        max_iter=N_BLOCKS * N_PASSES,
        random_state=0,
        **SETTINGS[setting],
    )
    stream = Incremental(estimator, random_state=0)
    fit_params = dict(classes=[0, 1, 2]) if task == "classifier" else {}
    for _ in range(N_PASSES):
        stream.partial_fit(X_blocks, y_blocks, **fit_params)
    return stream.estimator_


# Older dask warns when a local scheduler is chosen while a client is active,
# which the comparison below does on purpose.
@pytest.mark.filterwarnings("ignore:Running on a single-machine scheduler")
@pytest.mark.parametrize("task, setting", CASES)
def test_incremental_stream_is_accurate_and_on_target(
    client, Incremental, task, setting
):
    X_blocks, y_blocks, X_test, y_test = _stream(task)
    # The client fixture made the cluster the default scheduler.
    with distributed.get_task_stream(client) as tasks:
        remote = _stream_fit(Incremental, task, setting, X_blocks, y_blocks)

    # Every block's partial_fit ran on the cluster, and continued one fit.
    # dask-ml names them ("fit-<token>", i), i ≥ 0; ("fit-<token>", -1) only
    # holds the estimator the chain starts from.
    fit_tasks = [
        t
        for t in tasks.data
        if isinstance(t["key"], tuple)
        and str(t["key"][0]).startswith("fit-")
        and t["key"][-1] >= 0
    ]
    assert len(fit_tasks) == N_BLOCKS * N_PASSES
    assert len(remote.loss_curve_) == N_BLOCKS * N_PASSES
    workers = {t["worker"] for t in fit_tasks}
    assert workers <= set(client.scheduler_info()["workers"])

    if task == "classifier":
        assert remote.score(X_test, y_test) > MIN_ACCURACY
    else:
        assert remote.score(X_test, y_test) > MIN_R2
    layer_nonzeros = np.array([np.count_nonzero(W) for W in remote.coefs_])
    layer_sizes = np.array([W.size for W in remote.coefs_])
    assert remote.n_nonzero_ == layer_nonzeros.sum()
    target_sparsity = SETTINGS[setting]["target_sparsity"]
    if target_sparsity is None:
        assert remote.alpha_ == SETTINGS[setting]["alpha"]
        assert remote.sparsity_ > MIN_FIXED_ALPHA_SPARSITY
    else:
        # One target for all layers, or one per layer.
        if np.ndim(target_sparsity) == 0:
            nonzeros, sizes = layer_nonzeros.sum(keepdims=True), layer_sizes.sum()
        else:
            nonzeros, sizes = layer_nonzeros, layer_sizes
        targets = np.round((1 - np.asarray(target_sparsity)) * sizes)
        allowed = np.maximum(remote.sparsity_tol * targets, 1)
        assert np.all(np.abs(nonzeros - targets) <= allowed), (nonzeros, targets)
        assert remote.target_reached_

    # Moving the estimator between worker processes changes nothing: the
    # same stream in this process gives the same network.
    for scheduler in ("threads", "sync"):
        with dask.config.set(scheduler=scheduler):
            local = _stream_fit(Incremental, task, setting, X_blocks, y_blocks)
        for W_remote, W_local in zip(remote.coefs_, local.coefs_):
            np.testing.assert_array_equal(W_remote, W_local)
