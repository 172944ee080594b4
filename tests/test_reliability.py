"""Reliability: bad input, faults during training, determinism,
portability of fitted estimators and memory use over long fits.

``test_estimators.py`` already checks NaN/inf/complex/empty/1-D ``X``, NaN
in ``y`` and mismatched lengths for the regressor, and that invalid
parameters raise; here every bad input is tried on both estimators (at
``predict`` too where it applies), and the message is asserted. Inputs that
are valid though unusual (sparse matrices, one class, multilabel targets,
one sample) must give a result. The behaviour checked here is described in
the user guide's "Practical notes" (``docs/user_guide.md``); what is measured
here (memory, timings) is bounded by the tests and printed with ``pytest -s``.

Faults are simulated by replacing ``run_epoch`` in ``sk_sparse_l1._trainer``
(the name ``Trainer.run`` calls) or ``Network.loss_and_gradients``.
"""

import io
import math
import operator
import os
import pickle
import time
import tracemalloc
import warnings

import joblib
import numpy as np
import pytest
import scipy.sparse as sp
import torch
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils._param_validation import InvalidParameterError

import sk_sparse_l1._data as data_module
import sk_sparse_l1._trainer as trainer_module
from sk_sparse_l1 import SparseL1Classifier, SparseL1Regressor
from sk_sparse_l1._network import Network
from sk_sparse_l1._trainer import NonFiniteLossError

# Tiny networks and few epochs: every test here is about behaviour, not fit
# quality, and the whole file must run in about a minute on 2 shared cores.
# refit is explicit: the tests count epochs, and the refit phase adds some.
FAST = dict(
    hidden_layer_sizes=(4,),
    max_iter=5,
    learning_rate_init=0.05,
    refit=False,
    random_state=0,
)
ESTIMATORS = {"regressor": SparseL1Regressor, "classifier": SparseL1Classifier}


@pytest.fixture(scope="module")
def data():
    """60 × 4 float64 regression data (y standardized) and binary labels."""
    rng = np.random.RandomState(0)
    X = rng.randn(60, 4)
    y = X @ np.array([1.0, -2.0, 0.5, 0.0]) + 0.1 * rng.randn(60)
    y /= y.std()
    return X, y, (y > 0).astype(int)


def _xy(data, kind):
    X, y, labels = data
    return X, (y if kind == "regressor" else labels)


def _fit_quietly(estimator, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return estimator.fit(*args, **kwargs)


@pytest.fixture
def one_torch_thread():
    """torch's OpenMP threads spin-wait on a shared, loaded CPU (one epoch of
    the memory tests took 30× longer with 2 threads than with 1 here); the
    estimators never change the thread count, so the test does."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


# ============================================================== bad input

_NAN, _INF = np.nan, np.inf


def _with_value(X, value):
    X = X.copy()
    X[3, 2] = value
    return X


def _str_column(X):
    out = X.astype(object)
    out[:, 1] = "a"
    return out


# (id, make (X, y, fit kwargs) from (X, y), exception, message pattern)
BAD_INPUTS = [
    ("nan-in-X", lambda X, y: (_with_value(X, _NAN), y, {}), ValueError,
     "Input X contains NaN"),
    ("inf-in-X", lambda X, y: (_with_value(X, _INF), y, {}), ValueError,
     "Input X contains infinity"),
    ("complex-X", lambda X, y: (X + 1j, y, {}), ValueError,
     "Complex data not supported"),
    ("str-column", lambda X, y: (_str_column(X), y, {}), ValueError,
     "could not convert string to float: 'a'"),
    ("empty-X", lambda X, y: (X[:0], y[:0], {}), ValueError,
     r"Found array with 0 sample\(s\)"),
    ("no-feature", lambda X, y: (X[:, :0], y, {}), ValueError,
     r"Found array with 0 feature\(s\)"),
    ("1d-X", lambda X, y: (X[:, 0], y, {}), ValueError, "Expected 2D array"),
    ("3d-X", lambda X, y: (X[:, :, None], y, {}), ValueError,
     "Found array with dim 3"),
    ("lengths-differ", lambda X, y: (X, y[:-1], {}), ValueError,
     r"inconsistent numbers of samples: \[60, 59\]"),
    ("nan-in-y", lambda X, y: (X, np.where(np.arange(60) == 0, np.nan, y), {}),
     ValueError, "Input y contains NaN"),
    ("sample-weight-too-short", lambda X, y: (X, y, {"sample_weight": np.ones(59)}),
     ValueError, r"sample_weight.shape == \(59,\), expected \(60,\)"),
    ("sample-weight-negative",
     lambda X, y: (X, y, {"sample_weight": np.r_[-1.0, np.ones(59)]}),
     ValueError, "Negative values in data passed to `sample_weight`"),
    # scikit-learn >= 1.9 rejects all-zero weights itself; before, the
    # package's own check does.
    ("sample-weight-all-zero", lambda X, y: (X, y, {"sample_weight": np.zeros(60)}),
     ValueError, "at least one non-zero|sums to zero: at least one sample"),
    ("sample-weight-nan",
     lambda X, y: (X, y, {"sample_weight": np.r_[np.nan, np.ones(59)]}),
     ValueError, "Input sample_weight contains NaN"),
]  # fmt: skip


@pytest.mark.parametrize("kind", ESTIMATORS)
@pytest.mark.parametrize(
    "make,error,match",
    [case[1:] for case in BAD_INPUTS],
    ids=[c[0] for c in BAD_INPUTS],
)
def test_bad_input_is_rejected_with_a_clear_message(data, kind, make, error, match):
    X, y, kwargs = make(*_xy(data, kind))
    estimator = ESTIMATORS[kind](**FAST)
    with pytest.raises(error, match=match):
        estimator.fit(X, y, **kwargs)
    # The error came from validation: nothing was trained.
    assert not hasattr(estimator, "module_")


@pytest.mark.parametrize(
    "bad,match",
    [
        (_NAN, "Input X contains NaN"),
        (_INF, "Input X contains infinity"),
        ("str", "could not convert string to float"),
    ],
)
@pytest.mark.parametrize("kind", ESTIMATORS)
def test_bad_input_at_predict(data, kind, bad, match):
    X, y = _xy(data, kind)
    estimator = _fit_quietly(ESTIMATORS[kind](**FAST), X, y)
    X_bad = _str_column(X) if bad == "str" else _with_value(X, bad)
    with pytest.raises(ValueError, match=match):
        estimator.predict(X_bad)


@pytest.mark.parametrize(
    "y_bad,match",
    [
        (lambda y: y + 1j, "Complex data not supported"),
        (lambda y: np.array(["a"] * len(y)), "could not convert string to float"),
        (lambda y: np.where(np.arange(60) == 0, np.inf, y), "y contains infinity"),
    ],
    ids=["complex", "str", "inf"],
)
def test_regressor_rejects_bad_targets(data, y_bad, match):
    X, y, _ = data
    with pytest.raises(ValueError, match=match):
        SparseL1Regressor(**FAST).fit(X, y_bad(y))


@pytest.mark.parametrize(
    "y_bad,match",
    [
        (lambda y: y, "Unknown label type: continuous"),
        (
            lambda y: np.c_[y > 0, 2 * (y > 1)],
            "1-D array of class labels or a multilabel indicator matrix.*"
            "'multiclass-multioutput'",
        ),
    ],
    ids=["continuous", "multiclass-multioutput"],
)
def test_classifier_rejects_bad_targets(data, y_bad, match):
    X, y, _ = data
    with pytest.raises(ValueError, match=match):
        SparseL1Classifier(**FAST).fit(X, y_bad(y))


@pytest.mark.parametrize("case", ["one-label", "one-sample"])
def test_a_single_class_is_predicted(data, case):
    """Like scikit-learn's MLP: one class is a valid (if trivial) target,
    every prediction is that class with probability 1."""
    X, _, labels = data
    if case == "one-label":
        X_fit, y_fit, only = X, np.full(60, "only"), "only"
    else:
        X_fit, y_fit, only = X[:1], labels[:1], labels[0]
    clf = _fit_quietly(SparseL1Classifier(**FAST), X_fit, y_fit)
    assert clf.classes_.tolist() == [only]
    assert clf.predict(X).tolist() == [only] * 60
    assert_array_equal(clf.predict_proba(X), np.ones((60, 1)))
    assert clf.score(X, np.full(60, only)) == 1.0


def test_multilabel_indicator_targets_are_learned(data):
    """An indicator matrix: one sigmoid per label (probabilities need not
    sum to 1), ``predict`` returns the indicator matrix."""
    X, y, _ = data
    Y = np.c_[y > 0, y > 1, X[:, 0] > 0].astype(int)
    clf = _fit_quietly(SparseL1Classifier(**{**FAST, "max_iter": 50}), X, Y)
    assert clf.out_activation_ == "logistic" and clf.coefs_[-1].shape == (4, 3)
    predicted = clf.predict(X)
    assert predicted.shape == (60, 3)
    proba = clf.predict_proba(X)
    assert_array_equal(predicted, (proba > 0.5).astype(int))
    assert np.abs(proba.sum(axis=1) - 1.0).max() > 0.5  # not a softmax
    assert clf.score(X, Y) > 0.9  # subset accuracy: every label right


def test_dataframe_with_a_string_column_is_rejected(data):
    pd = pytest.importorskip("pandas")
    X, y, _ = data
    frame = pd.DataFrame(X, columns=list("abcd")).assign(d="x")
    with pytest.raises(ValueError, match="could not convert string to float: 'x'"):
        SparseL1Regressor(**FAST).fit(frame, y)


@pytest.mark.parametrize("fmt", ["csr_matrix", "csc_array", "coo_matrix"])
@pytest.mark.parametrize("kind", ESTIMATORS)
def test_sparse_input_trains_and_predicts_like_dense(data, kind, fmt):
    """Sparse matrices are densified a minibatch at a time, the same rows
    in the same order as the dense array: the same fit (identical in this
    run; 1e-12 leaves room for another BLAS) and the same predictions."""
    X, y = _xy(data, kind)
    X_sparse = getattr(sp, fmt)(X)
    params = {**FAST, "batch_size": 16, "target_sparsity": 0.5}
    dense = _fit_quietly(ESTIMATORS[kind](**params), X, y)
    sparse = _fit_quietly(ESTIMATORS[kind](**params), X_sparse, y)
    for a, b in zip(
        dense.coefs_ + dense.intercepts_, sparse.coefs_ + sparse.intercepts_
    ):
        assert_allclose(b, a, rtol=0, atol=1e-12)
    predict = "predict" if kind == "regressor" else "predict_proba"
    expected = getattr(dense, predict)(X)
    assert_allclose(getattr(sparse, predict)(X_sparse), expected, rtol=0, atol=1e-12)
    assert_allclose(getattr(dense, predict)(X_sparse), expected, rtol=0, atol=1e-12)


def test_sparse_batches_are_densified_a_chunk_at_a_time(data, monkeypatch):
    """A full batch of a sparse matrix is densified in chunks of at most
    ``MAX_DENSE_VALUES`` values, never whole; the loss and gradients of the
    chunks add up to the full batch's (to rounding)."""
    X, y, _ = data
    monkeypatch.setattr(data_module, "MAX_DENSE_VALUES", 8 * 4)  # 8 rows
    densified = []
    as_tensor = data_module.as_tensor

    def recording_as_tensor(array, dtype, device):
        densified.append(array.shape)
        return as_tensor(array, dtype, device)

    monkeypatch.setattr(data_module, "as_tensor", recording_as_tensor)
    params = {**FAST, "batch_size": 60}
    sparse = _fit_quietly(SparseL1Regressor(**params), sp.csr_matrix(X), y)
    sparse_prediction = sparse.predict(sp.csr_matrix(X))
    rows = [shape[0] for shape in densified if shape[1] == 4]
    # The gradient for alpha="auto", 5 epochs and predict: 7 passes over
    # the 60 rows, each in 8 chunks.
    assert len(rows) == 7 * 8 and max(rows) == 8 and sum(rows) == 7 * 60
    monkeypatch.undo()
    dense = _fit_quietly(SparseL1Regressor(**params), X, y)
    assert sparse.alpha_ == pytest.approx(dense.alpha_, rel=1e-12)
    for a, b in zip(dense.coefs_, sparse.coefs_):
        assert_allclose(b, a, rtol=0, atol=1e-12)
    assert_allclose(sparse_prediction, dense.predict(X), rtol=0, atol=1e-12)


# ---------------------------------------- small but valid data: a result


def test_one_sample_gives_finite_predictions(data):
    X, y, _ = data
    for params in ({}, {"target_sparsity": 0.5}):
        reg = _fit_quietly(SparseL1Regressor(**FAST, **params), X[:1], y[:1])
        prediction = reg.predict(X)
        assert prediction.shape == (60,)
        assert np.all(np.isfinite(prediction))


def test_one_feature_is_learned(data):
    X, _, _ = data
    x = X[:, :1]
    reg = _fit_quietly(SparseL1Regressor(**{**FAST, "max_iter": 100}), x, 2 * x[:, 0])
    assert reg.coefs_[0].shape == (1, 4)
    assert np.all(np.isfinite(reg.predict(x)))
    assert reg.score(x, 2 * x[:, 0]) > 0.9


def test_constant_target_is_predicted(data):
    X, _, _ = data
    reg = _fit_quietly(
        SparseL1Regressor(**{**FAST, "max_iter": 100}), X, np.full(60, 3.0)
    )
    np.testing.assert_allclose(reg.predict(X), 3.0, atol=0.2)


def test_huge_values_in_float64_give_finite_predictions(data):
    """Values of 1e30 keep a float64 loss finite (about 1e60): the fit runs
    and every prediction is finite, though of no use; ``StandardScaler``, as
    the non-finite-loss error advises, makes the same data learnable."""
    X, y, labels = data
    big = X * 1e30
    reg = _fit_quietly(SparseL1Regressor(**FAST), big, y)
    assert np.all(np.isfinite(reg.predict(big)))
    clf = _fit_quietly(SparseL1Classifier(**FAST), big, labels)
    proba = clf.predict_proba(big)
    assert np.all(np.isfinite(proba)) and np.all(
        np.isfinite(clf.predict_log_proba(big))
    )
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    scaled = make_pipeline(
        StandardScaler(), SparseL1Regressor(**{**FAST, "max_iter": 50})
    )
    assert _fit_quietly(scaled, big, y).score(big, y) > 0.9


def test_huge_values_that_overflow_stop_with_advice_to_scale(data):
    """In float32 (or past 1e154 in float64) the squared error overflows: the
    fit stops at the first loss, before any weight update."""
    X, y, _ = data
    with pytest.raises(NonFiniteLossError, match="scale the inputs"):
        SparseL1Regressor(**FAST).fit((X * 1e30).astype(np.float32), y)
    with pytest.raises(ValueError, match=r"loss became inf.*StandardScaler"):
        SparseL1Regressor(**FAST).fit(X, y * 1e200)


# --------------------------------------------------- invalid target_sparsity


@pytest.mark.parametrize(
    "target,hidden,error,match",
    [
        (1.0, (4,), InvalidParameterError, r"'target_sparsity'.*range \[0.0, 1.0\)"),
        (-0.1, (4,), InvalidParameterError, r"'target_sparsity'.*Got -0.1 instead"),
        ("high", (4,), InvalidParameterError, r"'target_sparsity'.*Got 'high'"),
        (np.nan, (4,), InvalidParameterError, r"'target_sparsity'.*Got nan"),
        ([0.5, 1.0], (4,), InvalidParameterError, r"float in \[0, 1\).*one per"),
        ([0.5], (4,), ValueError, "expected 2 values, got 1"),
        ([0.5, 0.5], (4, 4), ValueError, "expected 3 values, got 2"),
        ([[0.5, 0.5]], (4,), ValueError, r"1-D sequence.*shape \(1, 2\)"),
    ],
)
@pytest.mark.parametrize("kind", ESTIMATORS)
def test_invalid_target_sparsity_is_named(data, kind, target, hidden, error, match):
    X, y = _xy(data, kind)
    estimator = ESTIMATORS[kind](
        **{**FAST, "hidden_layer_sizes": hidden}, target_sparsity=target
    )
    with pytest.raises(error, match=match):
        estimator.fit(X, y)


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_without_a_gpu_is_a_clear_error(data):
    X, y, _ = data
    with pytest.raises(ValueError, match="device='cuda'.*CUDA is not available"):
        SparseL1Regressor(**FAST, device="cuda").fit(X, y)
    auto = _fit_quietly(SparseL1Regressor(**FAST, device="auto"), X, y)
    assert all(p.device.type == "cpu" for p in auto.module_.parameters())


# ------------------------------------------------- the caller's arrays


def _layout(array, layout):
    if layout == "float32":
        return np.ascontiguousarray(array, dtype=np.float32)
    if layout == "fortran":
        return np.asfortranarray(array)
    array = np.array(array)
    if layout == "read-only":
        array.flags.writeable = False
    return array


@pytest.mark.parametrize("layout", ["float64", "float32", "fortran", "read-only"])
@pytest.mark.parametrize(
    "kind,params",
    [
        ("regressor", {}),
        ("regressor", {"target_sparsity": 0.5}),
        ("regressor", {"early_stopping": True, "batch_size": 16}),
        ("classifier", {"class_weight": "balanced", "target_sparsity": 0.5}),
    ],
    ids=["plain", "search", "early-stopping", "classifier"],
)
def test_user_arrays_are_never_modified(data, kind, params, layout):
    X, y = _xy(data, kind)
    X = _layout(X, layout)
    y = _layout(np.c_[y, -y] if kind == "regressor" else y, layout)
    if kind == "regressor" and not params:
        y = y[:, 0]  # 1-D y, a view: the case where the target could alias it
    sample_weight = _layout(np.linspace(0.5, 2.0, 60), layout)
    before = [
        (a.copy(), a.dtype, a.flags.c_contiguous, a.flags.writeable)
        for a in (X, y, sample_weight)
    ]
    estimator = _fit_quietly(
        ESTIMATORS[kind](**FAST, **params), X, y, sample_weight=sample_weight
    )
    for array, (copy, dtype, c_contiguous, writeable) in zip(
        (X, y, sample_weight), before
    ):
        np.testing.assert_array_equal(array, copy)
        assert array.dtype == dtype
        assert array.flags.c_contiguous == c_contiguous
        assert array.flags.writeable == writeable
    # The fitted estimator holds no view of the training data.
    X_test = np.array(X, dtype=np.float64)
    expected = estimator.predict(X_test)
    if X.flags.writeable:
        X[:] = 1e6
        np.testing.assert_array_equal(estimator.predict(X_test), expected)


# ================================================================ faults


def _counting_run_epoch(monkeypatch, interrupt_at=None, after=None):
    """Replace ``run_epoch`` by a wrapper that counts calls, raises
    ``KeyboardInterrupt`` at call ``interrupt_at`` (before any step of it),
    and calls ``after(call, network)`` once an epoch has run."""
    calls = []
    original = trainer_module.run_epoch

    def run_epoch(network, *args, **kwargs):
        calls.append(1)
        if len(calls) == interrupt_at:
            raise KeyboardInterrupt
        loss = original(network, *args, **kwargs)
        if after is not None:
            after(len(calls), network)
        return loss

    monkeypatch.setattr(trainer_module, "run_epoch", run_epoch)
    return calls


def _weights_after_each_epoch(estimator, X, y, monkeypatch):
    """The weights after every epoch of an uninterrupted fit of
    ``estimator`` (the schedule of a fit depends on its whole ``max_iter``,
    so a shorter fit is not the start of a longer one)."""
    snapshots = []

    def after(call, network):
        snapshots.append([w.detach().clone().numpy().T for w in network.weights])

    with monkeypatch.context() as patch:
        _counting_run_epoch(patch, after=after)
        _fit_quietly(estimator, X, y)
    return snapshots


def _state(estimator, X):
    """What a failed call must leave as it was: every attribute (the same
    objects), the weights' values and the predictions."""
    return (
        dict(vars(estimator)),
        [w.copy() for w in estimator.coefs_],
        estimator.predict(X),
    )


def _assert_unchanged(estimator, X, state):
    attributes, coefs, predictions = state
    assert vars(estimator).keys() == attributes.keys()
    assert all(vars(estimator)[k] is v for k, v in attributes.items())
    for w, w0 in zip(estimator.coefs_, coefs):
        assert_array_equal(w, w0)
    assert_array_equal(estimator.predict(X), predictions)


def test_loss_turning_non_finite_mid_training_stops_cleanly(data, monkeypatch):
    X, y, _ = data
    calls = _counting_run_epoch(monkeypatch)
    # Plain SGD at a learning rate of 2 diverges after a few finite epochs.
    reg = SparseL1Regressor(
        **{**FAST, "solver": "sgd", "learning_rate_init": 2.0, "max_iter": 50}
    )
    before = dict(vars(reg))
    with pytest.raises(NonFiniteLossError, match="lower learning_rate_init") as error:
        reg.fit(X, y)
    assert isinstance(error.value, ValueError)
    assert len(calls) >= 3, "the loss should become non-finite mid-training"
    # Not even n_features_in_: the estimator is as it was before fit.
    assert vars(reg) == before


@pytest.mark.parametrize(
    "where,params,match",
    [
        ("mid-training", {}, "The training loss became nan"),
        ("last-epoch", {}, "The network's parameters became non-finite"),
        (
            "early-stopping",
            {"early_stopping": True},
            "The network's outputs became non-finite",
        ),
    ],
)
def test_non_finite_weights_after_an_epoch_are_caught(
    data, monkeypatch, where, params, match
):
    """A diverging last step of an epoch leaves non-finite weights after a
    finite epoch loss: the next epoch's loss, the check after the last
    epoch, or the validation score (early stopping, checked before the
    metric chokes on NaN) raises NonFiniteLossError."""
    X, y, _ = data
    spoil_at = 5 if where == "last-epoch" else 2

    def spoil(call, network):
        if call == spoil_at:
            network.weights[0][0, 0] = np.nan

    reg = _fit_quietly(SparseL1Regressor(**FAST), X, y)  # fitted before
    reg.set_params(warm_start=True, **params)
    state = _state(reg, X)
    calls = _counting_run_epoch(monkeypatch, after=spoil)
    with pytest.raises(NonFiniteLossError, match=match):
        reg.fit(X, y)
    assert len(calls) == {"mid-training": 3, "last-epoch": 5}.get(where, 2)
    _assert_unchanged(reg, X, state)


@pytest.mark.parametrize(
    "failure", ["non-finite-loss", "validation-set-too-small", "layer-targets"]
)
def test_failed_fit_leaves_the_estimator_unfitted(data, failure):
    X, y, labels = data
    if failure == "non-finite-loss":
        estimator = SparseL1Regressor(
            **{**FAST, "solver": "sgd", "learning_rate_init": 2.0, "max_iter": 50}
        )
    elif failure == "validation-set-too-small":
        # Fails after validate_data has set n_features_in_.
        estimator = SparseL1Regressor(
            **FAST, early_stopping=True, validation_fraction=0.01
        )
    else:
        estimator = SparseL1Regressor(**FAST, target_sparsity=[0.5, 0.5, 0.5])
    with pytest.raises(ValueError):
        estimator.fit(X, y)
    assert set(vars(estimator)) == set(estimator.get_params())
    with pytest.raises(NotFittedError):
        estimator.predict(X)


def test_failed_refit_keeps_the_previous_fit(data):
    """A fitted estimator refitted on 6 columns, failing: it keeps the
    4-input network, ``n_features_in_`` and all, as before the call."""
    X, y, _ = data
    reg = _fit_quietly(SparseL1Regressor(**FAST), X, y)
    reg.set_params(solver="sgd", learning_rate_init=2.0, max_iter=50)
    state = _state(reg, X)
    with pytest.raises(NonFiniteLossError):
        reg.fit(np.c_[X, X[:, :2]] * 1e3, y * 1e3)
    _assert_unchanged(reg, X, state)
    assert reg.n_features_in_ == 4


def test_failed_warm_start_refit_keeps_the_previous_fit(data):
    X, y, _ = data
    reg = _fit_quietly(SparseL1Regressor(**FAST, warm_start=True), X, y)
    reg.set_params(solver="sgd", learning_rate_init=50.0, max_iter=50)
    state = _state(reg, X)
    with pytest.raises(NonFiniteLossError):
        reg.fit(X, y * 1e3)
    _assert_unchanged(reg, X, state)


@pytest.mark.parametrize("how", ["fit", "partial_fit", "warm_start"])
@pytest.mark.parametrize(
    "params", [{"target_sparsity": 0.5}, {"alpha": 0.01}], ids=["target", "alpha"]
)
def test_a_failed_call_changes_nothing_a_later_call_sees(
    data, how, params, monkeypatch
):
    """A call failing after its steps ran (the schedule advanced, the
    optimizer moved, the shuffling generator drew) leaves every fitted
    object as it was: the next call continues exactly as if the failed one
    had never been made."""
    X, y, _ = data
    params = {**FAST, "max_iter": 8, **params, "warm_start": how == "warm_start"}

    def call(estimator):
        if how == "partial_fit":
            estimator.partial_fit(X, y)
        else:
            _fit_quietly(estimator, X, y)

    failed, clean = SparseL1Regressor(**params), SparseL1Regressor(**params)
    for estimator in (failed, clean):
        for _ in range(3 if how == "partial_fit" else 1):
            call(estimator)
    state = _state(failed, X)
    schedule = pickle.dumps(failed._schedule)

    def failing_check(value):
        raise trainer_module.non_finite_error("The training loss became nan")

    with monkeypatch.context() as patch:
        patch.setattr(trainer_module, "check_finite_loss", failing_check)
        with pytest.raises(NonFiniteLossError):
            call(failed)
    _assert_unchanged(failed, X, state)
    assert pickle.dumps(failed._schedule) == schedule
    call(failed)
    call(clean)
    for a, b in zip(
        failed.coefs_ + failed.intercepts_, clean.coefs_ + clean.intercepts_
    ):
        assert_array_equal(a, b)
    assert failed.loss_curve_ == clean.loss_curve_


def _assert_consistent(estimator, X):
    """coefs_ are the module's weights, sparsity_ counts their zeros and the
    predictions are finite."""
    weights = [
        p.detach().numpy().T
        for n, p in estimator.module_.named_parameters()
        if n.endswith("weight")
    ]
    for w, coef in zip(weights, estimator.coefs_):
        np.testing.assert_array_equal(w, coef)
    n_zero = sum(int(np.sum(w == 0)) for w in estimator.coefs_)
    n_total = sum(w.size for w in estimator.coefs_)
    assert estimator.sparsity_ == pytest.approx(n_zero / n_total, abs=1e-12)
    assert np.all(np.isfinite(estimator.predict(X)))
    assert len(estimator.loss_curve_) == estimator.n_iter_


def _fit_interrupted(estimator, X, y):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        estimator.fit(X, y)
    user = [
        w
        for w in caught
        if issubclass(w.category, UserWarning)
        and "Training interrupted by the user" in str(w.message)
    ]
    assert len(user) == 1
    # The warning points at the caller's line, not into the package.
    assert user[0].filename == __file__
    # An interrupted fit is not a fit that ran out of epochs.
    assert not [w for w in caught if issubclass(w.category, ConvergenceWarning)]
    return estimator


@pytest.mark.parametrize("kind", ESTIMATORS)
def test_keyboard_interrupt_keeps_a_usable_estimator(data, kind, monkeypatch):
    X, y = _xy(data, kind)
    params = {**FAST, "max_iter": 20, "alpha": 0.01}
    _counting_run_epoch(monkeypatch, interrupt_at=3)
    estimator = _fit_interrupted(ESTIMATORS[kind](**params), X, y)
    assert estimator.n_iter_ == 2
    _assert_consistent(estimator, X)
    monkeypatch.undo()
    # The network is exactly the one after two epochs of the same fit.
    epochs = _weights_after_each_epoch(ESTIMATORS[kind](**params), X, y, monkeypatch)
    for w, w2 in zip(estimator.coefs_, epochs[1]):
        np.testing.assert_array_equal(w, w2)


@pytest.mark.parametrize("search", ["online", "paper"])
def test_keyboard_interrupt_during_a_sparsity_search(data, search, monkeypatch):
    """Interrupted in epoch 3 of 20: online, λ was rising along its warm-up
    and the record holds its two epochs; paper, the first round (at λ_max)
    was running and is the one kept."""
    X, y, _ = data
    _counting_run_epoch(monkeypatch, interrupt_at=3)
    reg = SparseL1Regressor(
        **{**FAST, "max_iter": 20}, target_sparsity=0.5, search=search
    )
    _fit_interrupted(reg, X, y)
    assert reg.n_iter_ == 2
    assert not reg.target_reached_
    if search == "online":
        assert reg.alphas_.shape == (2, 1) and reg.alpha_ == reg.alphas_[-1, 0]
        assert 0 < reg.alphas_[0, 0] <= reg.alphas_[1, 0]
    else:
        assert reg.n_search_rounds_ == 1 and reg.alpha_ > 0
        assert_array_equal(reg.alphas_, [[reg.alpha_]])
    _assert_consistent(reg, X)


def test_keyboard_interrupt_before_the_first_epoch(data, monkeypatch):
    X, y, _ = data
    _counting_run_epoch(monkeypatch, interrupt_at=1)
    reg = _fit_interrupted(SparseL1Regressor(**FAST), X, y)
    assert reg.n_iter_ == 0 and reg.loss_curve_ == []
    _assert_consistent(reg, X)


def test_keyboard_interrupt_inside_an_epoch_keeps_the_last_step(data, monkeypatch):
    """Interrupted at the 3rd minibatch of epoch 3: two epochs are recorded,
    and the weights are those after the two steps of epoch 3 already taken."""
    X, y, _ = data
    # 6 steps per epoch, after one gradient over the whole training set
    # (the scale of the λ warm-up).
    params = {**FAST, "batch_size": 10, "max_iter": 20, "alpha": 0.01}
    original = Network.loss_and_gradients
    seen = []

    def loss_and_gradients(network, *args, **kwargs):
        seen.append([w.clone() for w in network.weights])
        if len(seen) == 1 + 6 + 6 + 3:
            raise KeyboardInterrupt
        return original(network, *args, **kwargs)

    monkeypatch.setattr(Network, "loss_and_gradients", loss_and_gradients)
    reg = _fit_interrupted(SparseL1Regressor(**params), X, y)
    monkeypatch.undo()
    assert reg.n_iter_ == 2
    _assert_consistent(reg, X)
    for coef, w in zip(reg.coefs_, seen[-1]):
        assert_array_equal(coef, w.numpy().T)
    epochs = _weights_after_each_epoch(SparseL1Regressor(**params), X, y, monkeypatch)
    for coef, w in zip(epochs[1], seen[13]):
        assert_array_equal(coef, w.numpy().T)
    assert not np.array_equal(reg.coefs_[0], epochs[1][0])


def test_keyboard_interrupt_during_refit_keeps_the_search(data, monkeypatch):
    """The ℓ1 phase finished before the refit: its λ, its record and its
    network stay, and the network returned is the ℓ1 network."""
    X, y, _ = data
    params = {**FAST, "max_iter": 10, "refit": True, "target_sparsity": 0.5}
    complete = _fit_quietly(SparseL1Regressor(**params), X, y)
    original = trainer_module.run_epoch
    phases = []

    def run_epoch(network, data, optimizer, schedule, **kwargs):
        phases.append(schedule.phase)
        if schedule.phase == "refit":
            raise KeyboardInterrupt
        return original(network, data, optimizer, schedule, **kwargs)

    monkeypatch.setattr(trainer_module, "run_epoch", run_epoch)
    reg = _fit_interrupted(SparseL1Regressor(**params), X, y)
    _assert_consistent(reg, X)
    assert reg.n_iter_ == len(phases) - 1 and "l1" in phases
    assert reg.alpha_ == complete.alpha_ > 0
    assert_array_equal(reg.alphas_, complete.alphas_)
    assert reg.target_reached_ and complete.target_reached_
    for W, W_l1, W_complete in zip(reg.coefs_, reg.l1_coefs_, complete.l1_coefs_):
        assert_array_equal(W_l1, W_complete)
        assert_array_equal(W, W_l1)


@pytest.mark.parametrize("second_fit", ["without-target", "interrupted-search"])
def test_no_search_results_left_from_an_earlier_fit(data, second_fit, monkeypatch):
    X, y, _ = data
    first = SparseL1Regressor(**{**FAST, "max_iter": 20}, target_sparsity=0.5)
    reg = _fit_quietly(first, X, y)
    assert reg.target_reached_ and len(reg.alphas_) > 0  # the premise
    if second_fit == "without-target":
        _fit_quietly(reg.set_params(target_sparsity=None), X, y)
        assert not hasattr(reg, "alphas_") and not hasattr(reg, "target_reached_")
    else:
        _counting_run_epoch(monkeypatch, interrupt_at=2)
        _fit_interrupted(reg.set_params(target_sparsity=0.9), X, y)
        # 1 epoch of the warm-up towards 90 % zeros: target missed.
        assert not reg.target_reached_ and reg.alphas_.shape == (1, 1)


def test_running_out_of_epochs_warns(data):
    X, y, _ = data
    reg = SparseL1Regressor(**{**FAST, "max_iter": 3})
    match = r"used all max_iter=3 epochs and its l1 phase had not converged"
    with pytest.warns(ConvergenceWarning, match=match) as record:
        reg.fit(X, y)
    assert record[0].filename == __file__
    assert reg.n_iter_ == 3 and np.all(np.isfinite(reg.predict(X)))


@pytest.mark.filterwarnings("ignore:Proximal training used all max_iter")
def test_running_out_of_paper_search_rounds_warns(data):
    X, y, _ = data
    # One round: at λ_max, far too sparse.
    reg = SparseL1Regressor(
        **FAST, target_sparsity=0.5, search="paper", max_search_rounds=1
    )
    match = "target_sparsity=0.5 was not reached within max_search_rounds=1 rounds"
    with pytest.warns(ConvergenceWarning, match=match) as record:
        reg.fit(X, y)
    assert [w.filename for w in record if match in str(w.message)] == [__file__]
    assert reg.n_search_rounds_ == 1 and not reg.target_reached_
    assert np.all(np.isfinite(reg.predict(X)))


def test_converged_fit_does_not_warn(data):
    X, y, _ = data
    reg = SparseL1Regressor(**{**FAST, "max_iter": 100}, tol=10.0, n_iter_no_change=2)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        reg.fit(X, y)
    # Once λ holds (the end of its warm-up), the first epoch sets the best
    # objective and the next 3 do not improve it by tol, which is more than
    # n_iter_no_change.
    assert reg._schedule.converged and reg.n_iter_ < 100
    epochs_to_hold = math.ceil(
        reg._schedule.plan.progress_at(reg.alpha_) * reg._schedule.l1_epochs
    )
    assert reg.n_iter_ == epochs_to_hold + 3


# =========================================================== determinism


@pytest.mark.parametrize(
    "kind,params",
    [
        ("regressor", {"target_sparsity": 0.6}),
        ("regressor", {"target_sparsity": [0.5, 0.25], "search": "paper"}),
        ("classifier", {"early_stopping": True, "batch_size": 8, "alpha": 0.01}),
        ("classifier", {"target_sparsity": 0.5, "refit": True, "solver": "sgd"}),
    ],
    ids=["online", "paper-layerwise", "early-stopping", "refit-sgd"],
)
def test_same_random_state_same_fit(data, kind, params):
    X, y = _xy(data, kind)
    X = X.astype(np.float32) if kind == "classifier" else X
    fits = []
    for torch_seed in (1, 2):
        # The global generators must not matter: only random_state does.
        torch.manual_seed(torch_seed)
        np.random.seed(torch_seed)
        fits.append(_fit_quietly(ESTIMATORS[kind](**{**FAST, **params}), X, y))
    a, b = fits
    for name in ("coefs_", "intercepts_"):
        for wa, wb in zip(getattr(a, name), getattr(b, name)):
            np.testing.assert_array_equal(wa, wb)
    np.testing.assert_array_equal(a.alpha_, b.alpha_)
    assert a.loss_curve_ == b.loss_curve_


def test_fit_does_not_consume_the_global_numpy_generator(data):
    X, y, _ = data
    np.random.seed(0)
    expected = np.random.rand()
    np.random.seed(0)
    _fit_quietly(SparseL1Regressor(**FAST, target_sparsity=0.5), X, y)
    assert np.random.rand() == expected


def test_grid_search_in_parallel_is_reproducible(data):
    """Fits in joblib's worker processes give bit-identical scores to fits
    in this process, and the refitted best estimator equals a direct fit.

    The data are small enough that no torch operation is split over threads,
    so the workers' thread limit (1 thread each) cannot change a sum's order
    (with larger layers, torch may split a sum over threads, and the order
    of the additions, so the last bits, depends on the thread count).
    """
    X, y, _ = data
    grid = {"target_sparsity": [0.3, 0.6]}
    estimator = SparseL1Regressor(**{**FAST, "max_iter": 10})
    results = {}
    for n_jobs in (1, 2):
        search = GridSearchCV(estimator, grid, cv=3, n_jobs=n_jobs)
        results[n_jobs] = _fit_quietly(search, X, y)
    serial, parallel = results[1], results[2]
    assert serial.best_params_ == parallel.best_params_
    for key in serial.cv_results_:
        if "test_score" in key:
            np.testing.assert_array_equal(
                serial.cv_results_[key], parallel.cv_results_[key]
            )
    direct = _fit_quietly(estimator.set_params(**parallel.best_params_), X, y)
    for w_best, w_direct in zip(parallel.best_estimator_.coefs_, direct.coefs_):
        np.testing.assert_array_equal(w_best, w_direct)


# =========================================================== portability


def _storage_locations(pickled):
    """Unpickle ``pickled`` and return the device each tensor storage was
    saved from ('cpu', 'cuda:0', …), as torch records it in the stream.

    ``pickle`` saves a tensor's storage with ``torch.save``, tagged with its
    device; loading a 'cuda' tag on a machine without a GPU fails unless the
    user passes ``map_location``. The tags are read by loading each storage
    with a ``map_location`` that records them.
    """
    locations = []

    def record(storage, location):
        locations.append(location)
        return storage

    def load_from_bytes(b):
        return torch.load(io.BytesIO(b), weights_only=False, map_location=record)

    class Unpickler(pickle.Unpickler):
        def find_class(self, module, name):
            if (module, name) == ("torch.storage", "_load_from_bytes"):
                return load_from_bytes
            return super().find_class(module, name)

    return Unpickler(io.BytesIO(pickled)).load(), locations


def _tensors_held(obj, seen=None):
    """Every tensor reachable from ``obj`` through attributes, dicts, lists
    and tuples: the module's parameters, and the optimizer state, shuffling
    state and schedule masks kept for ``partial_fit``."""
    seen = set() if seen is None else seen
    if id(obj) in seen:
        return []
    seen.add(id(obj))
    if isinstance(obj, torch.Tensor):
        return [obj]
    if isinstance(obj, dict):
        children = list(obj.values())
    elif isinstance(obj, list | tuple):
        children = list(obj)
    elif hasattr(obj, "__dict__") and not isinstance(obj, type):
        children = list(vars(obj).values())
    else:
        return []
    return [t for child in children for t in _tensors_held(child, seen)]


@pytest.mark.parametrize("kind", ESTIMATORS)
def test_pickled_estimator_holds_only_cpu_tensors(data, kind):
    X, y = _xy(data, kind)
    estimator = _fit_quietly(
        ESTIMATORS[kind](**{**FAST, "refit": True}, target_sparsity=0.5), X, y
    )
    assert estimator._schedule.masks is not None  # the refit ran
    restored, locations = _storage_locations(pickle.dumps(estimator))
    held = _tensors_held(estimator)
    assert len(held) > len(list(estimator.module_.parameters()))
    assert len(locations) == len(held) and set(locations) == {"cpu"}
    tensors = list(restored.module_.parameters()) + list(restored.module_.buffers())
    assert all(t.device.type == "cpu" and not t.requires_grad for t in tensors)
    np.testing.assert_array_equal(restored.predict(X), estimator.predict(X))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_fitted_on_cuda_pickles_for_the_cpu(data):  # pragma: no cover
    X, y, _ = data
    reg = _fit_quietly(SparseL1Regressor(**FAST, device="cuda"), X, y)
    _, locations = _storage_locations(pickle.dumps(reg))
    assert set(locations) == {"cpu"}
    assert all(p.device.type == "cpu" for p in reg.module_.parameters())


def test_torch_save_and_load_without_map_location(data, tmp_path):
    X, y, _ = data
    reg = _fit_quietly(SparseL1Regressor(**FAST, target_sparsity=0.5), X, y)
    torch.save(reg, tmp_path / "model.pt")
    # weights_only=False: an estimator is not a state dict (torch >= 2.6
    # refuses arbitrary objects by default).
    restored = torch.load(tmp_path / "model.pt", weights_only=False)
    np.testing.assert_array_equal(restored.predict(X), reg.predict(X))


@pytest.mark.parametrize("how", ["compress", "mmap"])
def test_joblib_round_trip_float32_and_search(data, tmp_path, how):
    X, y, labels = data
    X32 = X.astype(np.float32)
    models = [
        _fit_quietly(SparseL1Classifier(**FAST, target_sparsity=0.5), X32, labels),
        _fit_quietly(SparseL1Regressor(**FAST, target_sparsity=[0.5, 0.5]), X, y),
    ]
    path = tmp_path / "models.joblib"
    if how == "compress":
        joblib.dump(models, path, compress=3)
        restored = joblib.load(path)
    else:
        joblib.dump(models, path)
        restored = joblib.load(path, mmap_mode="r")
    np.testing.assert_array_equal(
        restored[0].predict_proba(X32), models[0].predict_proba(X32)
    )
    np.testing.assert_array_equal(restored[1].predict(X), models[1].predict(X))
    np.testing.assert_array_equal(restored[1].alphas_, models[1].alphas_)


def test_loads_and_predicts_in_another_process(data):
    """A worker process that never saw the fit unpickles the estimator and
    predicts the same values (joblib's loky workers, reused from the grid
    search above, so no start-up cost)."""
    X, _, labels = data
    clf = _fit_quietly(SparseL1Classifier(**FAST, target_sparsity=0.5), X, labels)
    predict_proba = operator.methodcaller("predict_proba", X)
    in_workers = joblib.Parallel(n_jobs=2, backend="loky")(
        [joblib.delayed(predict_proba)(clf), joblib.delayed(os.getpid)()]
    )
    assert in_workers[1] != os.getpid()
    np.testing.assert_array_equal(in_workers[0], clf.predict_proba(X))


# ================================================================ memory

PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


def _rss():
    """Resident set size of this process in bytes (Linux /proc)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE_SIZE


def _memory_of_fit(estimator, X, y, monkeypatch, leak=None):
    """Peak growth during ``fit``: RSS sampled after every epoch (torch's
    allocations are invisible to tracemalloc) and tracemalloc's peak (Python
    and numpy allocations). ``leak`` lets the test check its own meter."""
    samples = []
    original = trainer_module.run_epoch

    def run_epoch(*args, **kwargs):
        out = original(*args, **kwargs)
        if leak is not None:
            leak.append(args[1].X * 1.0)  # keeps a copy of X per epoch
        samples.append(_rss())
        return out

    monkeypatch.setattr(trainer_module, "run_epoch", run_epoch)
    try:
        baseline = _rss()
        tracemalloc.start()
        started = time.perf_counter()
        _fit_quietly(estimator, X, y)
        elapsed = time.perf_counter() - started
        _, python_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        monkeypatch.setattr(trainer_module, "run_epoch", original)
    return dict(
        rss=max(samples) - baseline,
        python=python_peak,
        epochs=len(samples),
        seconds=elapsed,
    )


@pytest.fixture(scope="module")
def memory_data():
    """500 × 20 float64: an epoch's activations are ~130 KB each, so keeping
    one epoch's graph (the authors' code kept ~0.75 MB per epoch) would add
    tens of MB over 180 epochs."""
    rng = np.random.RandomState(0)
    X = rng.randn(500, 20)
    return X, X[:, :3].sum(axis=1) + 0.1 * rng.randn(500)


MEMORY = dict(
    refit=False,
    hidden_layer_sizes=(32,),
    batch_size=500,
    learning_rate_init=0.01,
    alpha=1e-3,
    tol=0.0,
    n_iter_no_change=10**6,
    random_state=0,
)
RSS_BOUND = 4 * 2**20  # 4 MB for 180 more epochs: < 23 KB per epoch
PYTHON_BOUND = 100 * 2**10  # the loss curve grows by design (8 B a float)


def _growth(make, X, y, monkeypatch, short, long):
    _memory_of_fit(make(short), X, y, monkeypatch)  # warm-up
    _memory_of_fit(make(long), X, y, monkeypatch)
    a = _memory_of_fit(make(short), X, y, monkeypatch)
    b = _memory_of_fit(make(long), X, y, monkeypatch)
    return a, b


def test_memory_does_not_grow_with_epochs(memory_data, monkeypatch, one_torch_thread):
    X, y = memory_data

    def make(epochs):
        return SparseL1Regressor(**MEMORY, max_iter=epochs)

    short, long = _growth(make, X, y, monkeypatch, 20, 200)
    assert (short["epochs"], long["epochs"]) == (20, 200)
    print(f"\nepochs 20 vs 200: {short} / {long}")
    assert long["rss"] - short["rss"] < RSS_BOUND
    assert long["python"] - short["python"] < PYTHON_BOUND


def test_memory_does_not_grow_with_search_rounds(
    memory_data, monkeypatch, one_torch_thread
):
    X, y = memory_data

    def make(rounds):
        # Every paper round retrains from the start; sparsity_tol=1e-6 asks
        # for the target count within one weight, which takes several rounds.
        return SparseL1Regressor(
            **{**MEMORY, "max_iter": 10},
            target_sparsity=0.7,
            search="paper",
            sparsity_tol=1e-6,
            max_search_rounds=rounds,
        )

    short, long = _growth(make, X, y, monkeypatch, 1, 20)
    print(f"\nsearch rounds 1 vs 20: {short} / {long}")
    assert long["epochs"] >= 5 * short["epochs"]
    assert long["rss"] - short["rss"] < RSS_BOUND
    assert long["python"] - short["python"] < PYTHON_BOUND


def test_memory_meter_detects_a_leak(memory_data, monkeypatch, one_torch_thread):
    """The same measurement flags 80 KB kept per epoch (a copy of X): the
    bound above is tight enough to catch a retained autograd graph."""
    X, y = memory_data
    kept = []
    short = _memory_of_fit(SparseL1Regressor(**MEMORY, max_iter=20), X, y, monkeypatch)
    long = _memory_of_fit(
        SparseL1Regressor(**MEMORY, max_iter=200), X, y, monkeypatch, leak=kept
    )
    print(f"\nleaking 80 KB per epoch, 20 vs 200: {short} / {long}")
    assert len(kept) == 200
    assert long["rss"] - short["rss"] > RSS_BOUND


# ========================================================== dead networks


def test_input_reaches_output_follows_chains_of_nonzero_weights():
    from sk_sparse_l1._estimator import input_reaches_output

    # Input 0 feeds unit 0 only; only unit 1 feeds the output: no layer is
    # empty, and yet no path.
    W0, W1 = np.array([[1.0, 0.0], [0.0, 0.0]]), np.array([[0.0], [1.0]])
    assert not input_reaches_output([W0, W1])
    W0[1, 1] = 0.5  # input 1 → unit 1 → output
    assert input_reaches_output([W0, W1])
    assert not input_reaches_output([W0, np.zeros((2, 1))])


@pytest.mark.parametrize("how", ["fit", "partial_fit"])
def test_a_network_that_ignores_its_input_warns(data, how):
    """A penalty that empties a layer leaves a constant predictor: the fit
    says so, naming the layer, instead of returning it quietly."""
    X, y, _ = data
    reg = SparseL1Regressor(**{**FAST, "alpha": 1e3, "max_iter": 5})
    with pytest.warns(UserWarning, match=r"ignores its input: layer\(s\) \[") as record:
        if how == "fit":
            reg.fit(X, y)
        else:
            for _ in range(5):  # the max_iter calls of λ's warm-up
                reg.partial_fit(X, y)
    assert {w.filename for w in record if "ignores" in str(w.message)} == {__file__}
    assert any(not np.any(W) for W in reg.coefs_)
    assert np.ptp(reg.predict(X)) == 0


def test_a_sparse_network_with_a_path_does_not_warn(data):
    X, y, _ = data
    reg = SparseL1Regressor(**{**FAST, "max_iter": 20}, target_sparsity=0.8)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        reg.fit(X, y)
    assert not [w for w in caught if "ignores its input" in str(w.message)]
