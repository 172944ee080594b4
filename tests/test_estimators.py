"""Behaviour of the estimators at a fixed λ: sparsity, determinism,
persistence, composition with scikit-learn tools, labels and errors."""

import pickle
import threading
from collections import defaultdict

import joblib
import numpy as np
import pytest
import torch
from sklearn.datasets import load_breast_cancer, load_digits, make_regression
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils._param_validation import InvalidParameterError

import sk_sparse_l1._trainer as trainer_module
from sk_sparse_l1 import SparseL1Classifier, SparseL1Regressor
from sk_sparse_l1._network import (
    Network,
    build_mlp,
    linear_layers,
    loss_and_gradients,
)

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

FAST = dict(
    hidden_layer_sizes=(16,), max_iter=30, learning_rate_init=0.01, random_state=0
)


@pytest.fixture(scope="module")
def regression():
    X, y = make_regression(
        n_samples=150, n_features=6, n_informative=3, noise=2.0, random_state=0
    )
    return X, y / y.std()


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X[:400] / 16.0, y[:400]


def test_sparsity_grows_with_alpha(regression):
    X, y = regression
    sparsities = [
        SparseL1Regressor(alpha=a, **FAST).fit(X, y).sparsity_
        for a in (0.0, 1e-3, 1e-2, 5e-2, 2e-1)
    ]
    assert sparsities[0] == 0.0
    assert all(a <= b for a, b in zip(sparsities, sparsities[1:]))
    assert sparsities[-1] > 0.5


def test_fitted_attributes_are_consistent(regression):
    X, y = regression
    reg = SparseL1Regressor(alpha=0.02, **FAST).fit(X, y)
    weights = reg.coefs_
    assert [w.shape for w in weights] == [(6, 16), (16, 1)]
    assert all(w.dtype == np.float64 for w in weights)
    n_zero = sum(int(np.sum(w == 0)) for w in weights)
    assert reg.n_nonzero_ == sum(w.size for w in weights) - n_zero
    assert reg.sparsity_ == pytest.approx(n_zero / sum(w.size for w in weights))
    np.testing.assert_allclose(reg.layer_sparsity_, [np.mean(w == 0) for w in weights])
    np.testing.assert_array_equal(reg.support_, np.any(weights[0] != 0, axis=1))
    assert reg.alpha_ == 0.02
    assert (reg.n_layers_, reg.n_outputs_, reg.out_activation_) == (3, 1, "identity")
    assert all(isinstance(v, float) for v in reg.loss_curve_)
    # Without early stopping the rule watches the objective recorded in
    # loss_curve_ (one phase here: refit="auto" does not refit a fixed λ).
    assert reg.best_loss_ == min(reg.loss_curve_)
    assert reg.validation_scores_ is None and reg.best_validation_score_ is None
    # Full-batch Adam at a small learning rate: the objective falls overall.
    assert reg.loss_curve_[-1] < 0.5 * reg.loss_curve_[0]
    assert reg.t_ == reg.n_iter_ * len(X)
    assert reg.predict(X).shape == (150,) and reg.predict(X).dtype == np.float64


def test_alpha_auto_is_a_fraction_of_the_initial_gradient(regression):
    """alpha="auto": λ = 0.05 × the mean |∂L/∂W| of the weights of the
    initial network, here rebuilt from the seed ``fit`` draws."""
    X, y = regression
    reg = SparseL1Regressor(**FAST).fit(X, y)
    seed = int(np.random.RandomState(0).randint(np.iinfo(np.int32).max))
    generator = torch.Generator().manual_seed(seed)
    module = build_mlp([6, 16, 1], "relu", dtype=torch.float64, generator=generator)
    with torch.no_grad():
        _, grads, _ = loss_and_gradients(
            linear_layers(module),
            "relu",
            "squared_error",
            torch.as_tensor(X),
            torch.as_tensor(y[:, None]),
        )
    magnitudes = torch.cat([g.abs().reshape(-1) for g in grads])
    assert reg.alpha_ == pytest.approx(0.05 * float(magnitudes.mean()), rel=1e-12)
    assert reg.sparsity_ > 0  # a real penalty


def test_float32_training_gives_float32_parameters_and_predictions(regression):
    X, y = regression
    reg32 = SparseL1Regressor(alpha=1e-3, **FAST).fit(X.astype(np.float32), y)
    reg64 = SparseL1Regressor(alpha=1e-3, **FAST).fit(X, y)
    assert {a.dtype for a in reg32.coefs_ + reg32.intercepts_} == {np.dtype("float32")}
    assert reg32.predict(X).dtype == np.float32
    # Both start from the same network (drawn in float64, then cast) and
    # follow the same steps: they differ by float32 rounding only. Measured:
    # at most 5.2e-7 on outputs up to 2.8 (torch 2.13, 1 to 2 threads);
    # atol=1e-6 leaves a factor of 2 for other builds. A λ off by 1e-4
    # relative in the float32 fit moves the predictions by 6e-6.
    np.testing.assert_allclose(reg32.predict(X), reg64.predict(X), rtol=0, atol=1e-6)


def test_layerwise_alpha(regression):
    X, y = regression
    reg = SparseL1Regressor(alpha=[0.1, 0.0], **FAST).fit(X, y)
    np.testing.assert_array_equal(reg.alpha_, [0.1, 0.0])
    assert reg.layer_sparsity_[0] > 0.3 and reg.layer_sparsity_[1] == 0.0
    with pytest.raises(ValueError, match="expected 2 values"):
        SparseL1Regressor(alpha=[0.1, 0.1, 0.1], **FAST).fit(X, y)


def test_multioutput_regression(regression):
    X, y = regression
    Y = np.column_stack([y, -y])
    reg = SparseL1Regressor(alpha=1e-3, **FAST).fit(X, Y)
    assert reg.predict(X).shape == (150, 2)
    assert SparseL1Regressor(**FAST).fit(X, y[:, None]).predict(X).shape == (150, 1)


@pytest.mark.parametrize("solver", ["sgd", "adam"])
def test_same_random_state_same_coefs(regression, solver):
    X, y = regression
    a = SparseL1Regressor(alpha=0.01, solver=solver, **FAST).fit(X, y)
    b = SparseL1Regressor(alpha=0.01, solver=solver, **FAST).fit(X, y)
    for wa, wb in zip(a.coefs_, b.coefs_):
        np.testing.assert_array_equal(wa, wb)
    c = SparseL1Regressor(alpha=0.01, solver=solver, **{**FAST, "random_state": 1}).fit(
        X, y
    )
    assert not np.array_equal(a.coefs_[0], c.coefs_[0])


def test_library_does_not_touch_global_torch_seed(regression):
    X, y = regression
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    SparseL1Regressor(**FAST).fit(X, y)
    torch.testing.assert_close(torch.rand(3), expected)


def test_pickle_and_joblib_round_trips(tmp_path, digits):
    X, y = digits
    clf = SparseL1Classifier(alpha=1e-3, **FAST).fit(X, y)
    restored = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(restored.predict_proba(X), clf.predict_proba(X))
    path = tmp_path / "model.joblib"
    joblib.dump(clf, path)
    np.testing.assert_array_equal(
        joblib.load(path).predict_proba(X), clf.predict_proba(X)
    )


def test_grid_search_in_pipeline_parallel(regression):
    """Parameters reach the estimator through the pipeline in the joblib
    workers: the scores depend on alpha, and the refitted best pipeline is
    the one a direct fit with the best alpha gives."""
    X, y = regression
    pipe = make_pipeline(StandardScaler(), SparseL1Regressor(**FAST))
    search = GridSearchCV(
        pipe, {"sparsel1regressor__alpha": [1e-3, 1e-2, 1e-1]}, cv=3, n_jobs=2
    ).fit(X, y)
    scores = search.cv_results_["mean_test_score"]
    assert np.all(np.isfinite(scores)) and len(set(scores)) == 3
    best = search.best_params_["sparsel1regressor__alpha"]
    direct = make_pipeline(StandardScaler(), SparseL1Regressor(alpha=best, **FAST)).fit(
        X, y
    )
    for W_search, W_direct in zip(search.best_estimator_[-1].coefs_, direct[-1].coefs_):
        np.testing.assert_array_equal(W_search, W_direct)
    assert search.best_estimator_[-1].alpha_ == best


@pytest.mark.parametrize(
    "labels", [np.array(["cat", "dog", "emu"]), np.array([-3, 7, 40])]
)
def test_classifier_any_labels(labels, digits):
    X, y = digits
    mask = y < 3
    X, y = X[mask], labels[y[mask]]
    clf = SparseL1Classifier(**FAST).fit(X, y)
    np.testing.assert_array_equal(clf.classes_, np.sort(labels))
    assert set(clf.predict(X)) <= set(labels)
    assert clf.score(X, y) > 0.9
    proba = clf.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_allclose(np.exp(clf.predict_log_proba(X)), proba, rtol=1e-10)
    np.testing.assert_array_equal(clf.classes_[proba.argmax(1)], clf.predict(X))


def test_binary_classifier_has_one_output():
    X, y = load_breast_cancer(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    clf = SparseL1Classifier(**FAST).fit(X, np.where(y == 1, "yes", "no"))
    assert clf.coefs_[-1].shape == (16, 1)
    assert clf.predict_proba(X).shape == (len(X), 2)
    assert clf.score(X, np.where(y == 1, "yes", "no")) > 0.95


def test_class_weight_balanced_changes_the_fit(digits):
    X, y = digits
    y = (y == 0).astype(int)  # imbalanced: about 10% positives
    plain = SparseL1Classifier(**FAST).fit(X, y)
    balanced = SparseL1Classifier(class_weight="balanced", **FAST).fit(X, y)
    assert balanced.predict_proba(X)[:, 1].mean() > plain.predict_proba(X)[:, 1].mean()


def test_inputs_are_not_modified(regression):
    X, y = regression
    X_copy, y_copy = X.copy(), y.copy()
    sw = np.ones(len(y))
    SparseL1Regressor(alpha=0.01, **FAST).fit(X, y, sample_weight=sw)
    np.testing.assert_array_equal(X, X_copy)
    np.testing.assert_array_equal(y, y_copy)
    np.testing.assert_array_equal(sw, np.ones(len(y)))


@pytest.mark.parametrize(
    "bad,match",
    [
        (np.nan, "NaN"),
        (np.inf, "infinity"),
    ],
)
def test_non_finite_input_is_rejected(regression, bad, match):
    X, y = regression
    X = X.copy()
    X[3, 2] = bad
    with pytest.raises(ValueError, match=match):
        SparseL1Regressor(**FAST).fit(X, y)


def test_other_bad_inputs(regression):
    X, y = regression
    reg = SparseL1Regressor(**FAST)
    with pytest.raises(ValueError, match="[Cc]omplex"):
        reg.fit(X + 1j, y)
    with pytest.raises(ValueError, match="0 sample"):
        reg.fit(X[:0], y[:0])
    with pytest.raises(ValueError, match="2D array"):
        reg.fit(X[:, 0], y)
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        reg.fit(X, y[:-1])
    y_nan = y.copy()
    y_nan[0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        reg.fit(X, y_nan)
    fitted = SparseL1Regressor(**FAST).fit(X, y)
    with pytest.raises(ValueError, match="6 features"):
        fitted.predict(X[:, :4])


@pytest.mark.parametrize(
    "params",
    [
        dict(alpha=-1.0),
        dict(solver="lbfgs"),
        dict(activation="gelu"),
        dict(max_iter=0),
        dict(batch_size=0),
        dict(target_sparsity=1.0),
        dict(target_sparsity=-0.1),
        dict(target_sparsity="high"),
        dict(target_sparsity=[0.5, 1.2]),
        dict(device="tpu"),
    ],
)
def test_invalid_parameters(regression, params):
    X, y = regression
    with pytest.raises(InvalidParameterError):
        SparseL1Regressor(**{**FAST, **params}).fit(X, y)


def test_non_finite_loss_stops_with_a_clear_error(regression):
    X, y = regression
    reg = SparseL1Regressor(
        solver="sgd",
        learning_rate_init=10.0,
        hidden_layer_sizes=(16,),
        max_iter=50,
        random_state=0,
    )
    with pytest.raises(ValueError, match="scale the inputs"):
        reg.fit(X * 1e3, y * 1e3)
    assert not hasattr(reg, "coefs_")


def test_warm_start_continues_from_previous_weights(regression):
    X, y = regression
    reg = SparseL1Regressor(alpha=0.01, warm_start=True, **{**FAST, "max_iter": 5})
    first_curve = list(reg.fit(X, y).loss_curve_)
    reg.fit(X, y)
    assert reg.n_iter_ == 5  # the epochs of this call
    # The second fit starts where the first ended, not from a new network.
    assert reg.loss_curve_[-5] < first_curve[-1] < first_curve[0]
    assert reg.loss_curve_[-1] < first_curve[-1]


@pytest.mark.parametrize("early_stopping", [False, True])
def test_warm_start_record_grows_over_fits(regression, early_stopping):
    X, y = regression
    reg = SparseL1Regressor(
        alpha=0.01,
        warm_start=True,
        early_stopping=early_stopping,
        **{**FAST, "max_iter": 5, "n_iter_no_change": 100},
    )
    reg.fit(X, y)
    first_curve = list(reg.loss_curve_)
    first_scores = list(reg.validation_scores_ or [])
    reg.fit(X, y)
    assert reg.n_iter_ == 5 and len(reg.loss_curve_) == 10
    assert reg.loss_curve_[:5] == first_curve
    if early_stopping:
        assert len(reg.validation_scores_) == 10
        assert reg.validation_scores_[:5] == first_scores
    # A fit without warm_start starts over, its record too.
    reg.set_params(warm_start=False).fit(X, y)
    assert reg.loss_curve_ == first_curve


def test_early_stopping_keeps_the_best_validation_score(regression):
    """The network kept is the one with the best validation score, not the
    last one: its R² on the held-out split (recomputed here from the split
    ``fit`` makes) is ``best_validation_score_``."""
    X, y = regression
    reg = SparseL1Regressor(
        alpha=1e-3,
        early_stopping=True,
        tol=0.0,
        n_iter_no_change=3,
        **{**FAST, "max_iter": 200, "batch_size": 16, "learning_rate_init": 0.05},
    ).fit(X, y)
    assert reg.n_iter_ < 200  # the rule stopped it
    assert len(reg.validation_scores_) == reg.n_iter_
    assert reg.best_validation_score_ == max(reg.validation_scores_)
    # The premise: the last epoch was worse than the best.
    assert reg.validation_scores_[-1] < reg.best_validation_score_
    random_state = np.random.RandomState(0)
    random_state.randint(np.iinfo(np.int32).max)  # fit's seed for torch
    _, X_val, _, y_val = train_test_split(
        X, y, test_size=0.1, random_state=random_state
    )
    assert reg.score(X_val, y_val) == pytest.approx(
        reg.best_validation_score_, rel=1e-12
    )
    assert reg.best_loss_ is None


def test_validation_set_too_small(regression):
    X, y = regression
    # 1% of 60 rows: a validation set of one row, on which R² is undefined.
    reg = SparseL1Regressor(early_stopping=True, validation_fraction=0.01, **FAST)
    with pytest.raises(ValueError, match="The validation set is too small"):
        reg.fit(X[:60], y[:60])
    assert not hasattr(reg, "n_features_in_")


@pytest.mark.parametrize("n_threads", [1, None, "auto"])
def test_n_threads_during_fit_and_restored(regression, monkeypatch, n_threads):
    X, y = regression
    seen = []
    original = trainer_module.run_epoch

    def recording_run_epoch(*args, **kwargs):
        seen.append(torch.get_num_threads())
        return original(*args, **kwargs)

    monkeypatch.setattr(trainer_module, "run_epoch", recording_run_epoch)
    previous = torch.get_num_threads()
    torch.set_num_threads(2)  # not n_threads=1: a change would show
    try:
        SparseL1Regressor(n_threads=n_threads, **{**FAST, "max_iter": 2}).fit(X, y)
        # "auto": one thread for a network this small.
        expected = {None: 2, "auto": 1}.get(n_threads, n_threads)
        assert seen == [expected] * 2
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(previous)


def test_n_threads_of_concurrent_fits_in_threads(regression, monkeypatch):
    # Fits run in threads (joblib's "threading" backend, as GridSearchCV or
    # cross_validate use it with n_jobs) must each train at their own
    # n_threads and leave the count of the thread that called them alone.
    # With torch's OpenMP backend the count belongs to the calling thread;
    # a backend with one count per process would fail here.
    X, y = regression
    counts = [1, 3, 4, None]
    # Every fit stops at its first step until all have started: the four are
    # then under way at once, each having set its count before any goes on.
    barrier = threading.Barrier(len(counts), timeout=60)
    seen = defaultdict(list)  # thread id -> torch threads at each step
    original = Network.loss_and_gradients

    def recording_loss_and_gradients(self, *args, **kwargs):
        steps = seen[threading.get_ident()]
        steps.append(torch.get_num_threads())
        if len(steps) == 1:
            try:
                barrier.wait()
            except threading.BrokenBarrierError:
                raise AssertionError("the fits did not run concurrently") from None
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Network, "loss_and_gradients", recording_loss_and_gradients)

    def fit(n_threads):
        before = torch.get_num_threads()
        reg = SparseL1Regressor(
            alpha=1e-3, n_threads=n_threads, **{**FAST, "max_iter": 5}
        )
        reg.fit(X, y)
        return threading.get_ident(), before, torch.get_num_threads()

    previous = torch.get_num_threads()
    torch.set_num_threads(2)  # none of the fits' counts: a change would show
    try:
        with joblib.parallel_backend("threading", n_jobs=len(counts)):
            results = joblib.Parallel()(joblib.delayed(fit)(n) for n in counts)
        assert torch.get_num_threads() == 2, "the caller's count changed"
    finally:
        torch.set_num_threads(previous)

    assert len({ident for ident, _, _ in results}) == len(counts)
    for n_threads, (ident, before, after) in zip(counts, results):
        expected = before if n_threads is None else n_threads
        steps = seen[ident]
        assert len(steps) >= 5, f"n_threads={n_threads}: {len(steps)} steps seen"
        assert set(steps) == {expected}, (
            f"n_threads={n_threads}: torch ran at {sorted(set(steps))} threads, "
            f"expected {expected}"
        )
        assert after == before, (
            f"n_threads={n_threads}: the fit's thread had {before} threads "
            f"before and {after} after"
        )


def test_auto_threads_by_the_work_of_a_step(monkeypatch):
    from sk_sparse_l1._trainer import AUTO_THREADS_MIN_WORK, auto_threads

    assert auto_threads([20, 64, 64, 1], 128) == 1
    assert auto_threads([100, 256, 256, 1], 128) == 1
    big = [1000, 1000]
    assert 1000 * 1000 * 128 >= AUTO_THREADS_MIN_WORK
    previous = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        monkeypatch.setattr("os.sched_getaffinity", lambda pid: {0, 1}, raising=False)
        monkeypatch.setattr("os.getloadavg", lambda: (1.0, 1.0, 1.0))
        assert auto_threads(big, 128) == 2  # idle but for this process
        monkeypatch.setattr("os.getloadavg", lambda: (2.5, 1.0, 1.0))
        assert auto_threads(big, 128) == 1  # the other core is busy
    finally:
        torch.set_num_threads(previous)
