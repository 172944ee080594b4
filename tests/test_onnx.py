"""ONNX export: onnxruntime reproduces predict and predict_proba.

Every model is converted with ``skl2onnx.to_onnx`` on float32 input and run
with onnxruntime; labels must equal ``predict`` and probabilities or
predictions must be within 1e-5 of the estimator's. Networks are tiny and
trained for a few epochs: the export, not the fit, is under test.
"""

import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.exceptions import ConvergenceWarning
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

pytest.importorskip("skl2onnx")
ort = pytest.importorskip("onnxruntime")

import onnx  # noqa: E402
from skl2onnx import convert_sklearn, to_onnx  # noqa: E402
from skl2onnx.common.data_types import FloatTensorType  # noqa: E402

from sk_sparse_l1 import SparseL1Classifier, SparseL1Regressor  # noqa: E402
from sk_sparse_l1.onnx import output_activation, to_sparse_initializers  # noqa: E402

# The numerical contract: onnxruntime on float32 input against the estimator.
ATOL = 1e-5

ACTIVATIONS = ["identity", "logistic", "tanh", "relu"]


def _fit(estimator, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return estimator.fit(X, y)


def _classifier(**params):
    params = {"hidden_layer_sizes": (8,), "max_iter": 20, "random_state": 0, **params}
    return SparseL1Classifier(**params)


def _regressor(**params):
    params = {"hidden_layer_sizes": (8,), "max_iter": 20, "random_state": 0, **params}
    return SparseL1Regressor(**params)


def _data(n_samples=80, n_features=6, seed=0):
    rng = np.random.RandomState(seed)
    return rng.randn(n_samples, n_features).astype(np.float32), rng


def _class_codes(X, n_classes, rng):
    """Codes of classes that depend on X, so that the fit learns something."""
    return np.argmax(X @ rng.randn(X.shape[1], n_classes), axis=1)


def _run(model, X):
    """onnxruntime outputs of ``model`` on ``X``, by output name."""
    session = ort.InferenceSession(
        model.SerializeToString(), providers=["CPUExecutionProvider"]
    )
    names = [output.name for output in session.get_outputs()]
    return dict(zip(names, session.run(None, {session.get_inputs()[0].name: X})))


def _sparse_constants(model):
    return [
        attribute.sparse_tensor
        for node in model.graph.node
        if node.op_type == "Constant"
        for attribute in node.attribute
        if attribute.name == "sparse_value"
    ]


def _multilabel_supported():
    """Whether SparseL1Classifier fits a multilabel indicator matrix yet."""
    X, _ = _data(n_samples=8, n_features=3)
    Y = np.array([[0, 1], [1, 0], [1, 1], [0, 0]] * 2)
    try:
        _fit(_classifier(hidden_layer_sizes=(2,), max_iter=1), X, Y)
    except ValueError:
        return False
    return True


def _check_classifier(clf, X):
    model = to_onnx(clf, X[:1], options={"zipmap": False})
    outputs = _run(model, X)
    assert_array_equal(outputs["label"], clf.predict(X))
    # Integer labels come out as int64, strings as Python str (object).
    label_dtype = np.int64 if clf.classes_.dtype.kind in "iu" else object
    assert outputs["label"].dtype == label_dtype
    assert outputs["probabilities"].shape == (X.shape[0], len(clf.classes_))
    assert_allclose(outputs["probabilities"], clf.predict_proba(X), rtol=0, atol=ATOL)
    return outputs


def _check_regressor(reg, X):
    outputs = _run(to_onnx(reg, X[:1]), X)
    expected = reg.predict(X).reshape(X.shape[0], -1)
    assert outputs["variable"].shape == expected.shape
    assert_allclose(outputs["variable"], expected, rtol=0, atol=ATOL)
    return outputs


@pytest.mark.parametrize(
    "classes",
    [[0, 1], ["no", "yes"], [3, 7, 10], ["cat", "dog", "emu", "fox"]],
    ids=["binary-int", "binary-str", "multiclass-int", "multiclass-str"],
)
def test_classifier_matches_predict_proba(classes):
    X, rng = _data()
    y = np.asarray(classes)[_class_codes(X, len(classes), rng)]
    clf = _fit(_classifier(), X, y)
    outputs = _check_classifier(clf, X)
    assert set(outputs["label"]) <= set(clf.classes_)


@pytest.mark.parametrize("n_outputs", [None, 3], ids=["1d-y", "3-outputs"])
def test_regressor_matches_predict(n_outputs):
    X, rng = _data()
    y = X @ rng.randn(X.shape[1], n_outputs or 1)
    y = y[:, 0] if n_outputs is None else y
    reg = _fit(_regressor(hidden_layer_sizes=(8, 4)), X, y)
    outputs = _check_regressor(reg, X)
    assert outputs["variable"].shape == (X.shape[0], n_outputs or 1)


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_every_activation(activation):
    X, rng = _data()
    y = _class_codes(X, 3, rng)
    _check_classifier(_fit(_classifier(activation=activation), X, y), X)
    reg = _regressor(hidden_layer_sizes=(6, 4), activation=activation)
    _check_regressor(_fit(reg, X, X[:, :2] - X[:, 2:4]), X)


def test_no_hidden_layer():
    X, rng = _data()
    clf = _fit(_classifier(hidden_layer_sizes=()), X, _class_codes(X, 2, rng))
    assert len(clf.coefs_) == 1
    _check_classifier(clf, X)
    reg = _fit(_regressor(hidden_layer_sizes=()), X, X[:, 0] - X[:, 1])
    _check_regressor(reg, X)


def test_sparse_model_sparse_and_dense_weights_agree():
    X, rng = _data()
    y = _class_codes(X, 3, rng)
    clf = _fit(_classifier(hidden_layer_sizes=(16,), target_sparsity=0.9), X, y)
    assert clf.sparsity_ > 0.85
    sparse = to_onnx(clf, X[:1], options={"zipmap": False})
    dense = to_onnx(clf, X[:1], options={"zipmap": False, "sparse_weights": False})

    # One sparse tensor per weight matrix, holding its nonzeros only (in the
    # order of the graph's nodes, not necessarily of the layers).
    stored = sorted((*t.dims, t.values.dims[0]) for t in _sparse_constants(sparse))
    expected = [(*W.shape, np.count_nonzero(W)) for W in clf.coefs_]
    assert stored == sorted(expected)
    assert not _sparse_constants(dense)
    onnx.checker.check_model(sparse, full_check=True)
    assert len(sparse.SerializeToString()) < len(dense.SerializeToString())

    outputs = _check_classifier(clf, X)
    for name, value in _run(dense, X).items():
        assert_array_equal(value, outputs[name])


def test_sparse_initializers_load_in_onnxruntime():
    X, rng = _data()
    reg = _fit(_regressor(hidden_layer_sizes=(16, 8), target_sparsity=0.9), X, X[:, 0])
    model = to_onnx(reg, X[:1])
    moved = to_sparse_initializers(model)

    assert len(moved.graph.sparse_initializer) == len(reg.coefs_)
    assert not _sparse_constants(moved)
    assert len(_sparse_constants(model)) == len(reg.coefs_)  # input unchanged
    onnx.checker.check_model(moved)
    assert_array_equal(_run(moved, X)["variable"], _run(model, X)["variable"])
    assert_allclose(_run(moved, X)["variable"][:, 0], reg.predict(X), atol=ATOL)


@pytest.mark.parametrize("classes", [[3, 7, 10], ["no", "yes"]])
def test_zipmap_by_default(classes):
    X, rng = _data()
    y = np.asarray(classes)[_class_codes(X, len(classes), rng)]
    clf = _fit(_classifier(), X, y)
    outputs = _run(to_onnx(clf, X[:1]), X)

    assert_array_equal(outputs["output_label"], clf.predict(X))
    rows = outputs["output_probability"]
    assert isinstance(rows, list) and len(rows) == X.shape[0]
    assert list(rows[0]) == list(clf.classes_)
    proba = np.array([[row[c] for c in clf.classes_] for row in rows])
    assert_allclose(proba, clf.predict_proba(X), rtol=0, atol=ATOL)


@pytest.mark.parametrize("keyed_by", ["id", "class"])
def test_zipmap_off_by_model_options(keyed_by):
    X, rng = _data()
    clf = _fit(_classifier(), X, _class_codes(X, 3, rng))
    key = id(clf) if keyed_by == "id" else SparseL1Classifier
    model = convert_sklearn(
        clf,
        initial_types=[("X", FloatTensorType([None, X.shape[1]]))],
        options={key: {"zipmap": False}},
    )
    outputs = _run(model, X)
    assert list(outputs) == ["label", "probabilities"]
    assert_allclose(outputs["probabilities"], clf.predict_proba(X), atol=ATOL)


def test_zipmap_columns():
    X, rng = _data()
    clf = _fit(_classifier(), X, _class_codes(X, 3, rng))
    outputs = _run(to_onnx(clf, X[:1], options={"zipmap": "columns"}), X)
    proba = np.column_stack([outputs[name] for name in ("i0", "i1", "i2")])
    assert_allclose(proba, clf.predict_proba(X), rtol=0, atol=ATOL)


def test_double_input_and_pipeline():
    X, rng = _data()
    y = X @ rng.randn(X.shape[1], 2)
    pipe = _fit(make_pipeline(StandardScaler(), _regressor()), X * 3 + 1, y)
    outputs = _run(to_onnx(pipe, X[:1]), X * 3 + 1)
    assert_allclose(outputs["variable"], pipe.predict(X * 3 + 1), atol=ATOL)

    # Fitted on float64, the estimator predicts in float64 as the graph does.
    X64 = X.astype(np.float64)
    clf = _fit(_classifier(), X64, _class_codes(X, 3, rng))
    outputs = _run(to_onnx(clf, X64[:1], options={"zipmap": False}), X64)
    assert outputs["probabilities"].dtype == np.float64
    assert_allclose(outputs["probabilities"], clf.predict_proba(X64), atol=1e-12)


def test_sparse_weights_need_opset_11():
    X, rng = _data()
    clf = _fit(_classifier(), X, _class_codes(X, 2, rng))
    with pytest.raises(RuntimeError, match="target_opset >= 11"):
        to_onnx(clf, X[:1], target_opset=10)
    model = to_onnx(clf, X[:1], target_opset=10, options={"sparse_weights": False})
    assert_array_equal(_run(model, X)["output_label"], clf.predict(X))


def test_output_activation():
    X, rng = _data()
    assert output_activation(_fit(_regressor(), X, X[:, 0])) == "identity"
    binary = _fit(_classifier(), X, _class_codes(X, 2, rng))
    assert output_activation(binary) == "logistic"
    assert output_activation(_fit(_classifier(), X, _class_codes(X, 3, rng))) == (
        "softmax"
    )


@pytest.mark.skipif(
    not _multilabel_supported(),
    reason="SparseL1Classifier does not fit multilabel targets yet",
)
def test_multilabel():
    X, rng = _data()
    Y = (X @ rng.randn(X.shape[1], 3) > 0).astype(int)
    clf = _fit(_classifier(), X, Y)
    model = to_onnx(clf, X[:1], options={"zipmap": False})
    outputs = _run(model, X)
    assert outputs["label"].shape == Y.shape
    assert_array_equal(outputs["label"], clf.predict(X))
    assert_allclose(outputs["probabilities"], clf.predict_proba(X), rtol=0, atol=ATOL)

    rows = _run(to_onnx(clf, X[:1]), X)["output_probability"]
    proba = np.array([[row[c] for c in clf.classes_] for row in rows])
    assert_allclose(proba, clf.predict_proba(X), rtol=0, atol=ATOL)
