"""Export fitted estimators to ONNX with skl2onnx, weights stored sparse.

Importing this module registers converters for :class:`SparseL1Regressor` and
:class:`SparseL1Classifier` with skl2onnx, so that ``skl2onnx.to_onnx`` and
``skl2onnx.convert_sklearn`` convert them, alone or inside a pipeline. The
graphs and their outputs are those of skl2onnx's converters for
``MLPRegressor`` and ``MLPClassifier``:

* the regressor has one output, ``variable``, of shape (N, n_outputs);
* the classifier has a ``label`` output (labels from ``classes_``; for a
  multilabel classifier the indicator matrix, as ``predict``) and a
  ``probabilities`` output, of shape (N, n_classes) as ``predict_proba``,
  which skl2onnx turns into a list of dictionaries (ZipMap; the outputs are
  then named ``output_label`` and ``output_probability``) unless the
  converter option ``zipmap`` is False. The options ``zipmap``,
  ``output_class_labels`` and ``nocl`` behave as for ``MLPClassifier``.

The weight matrices, exactly sparse after ℓ1 training, are stored as sparse
tensors (nonzero values and their flat indices) by default. skl2onnx builds
its graph from dense initializers only, so a converter stores a sparse
tensor as a ``Constant`` node with a ``sparse_value``, which is what
skl2onnx does for scipy sparse matrices; onnxruntime turns those nodes into
initializers and densifies them when it loads the model, so inference runs
the same dense products. :func:`to_sparse_initializers` moves them to
``GraphProto.sparse_initializer`` for tools that expect sparse weights there.
The converter option ``sparse_weights=False`` stores dense initializers: a
sparse tensor takes 4 or 8 bytes per value and a varint index per nonzero
weight, so it is the smaller one only when most weights are zero.

Inputs of type ``FloatTensorType`` compute in float32, ``DoubleTensorType``
in float64; the weights are cast to that type.

Examples
--------
>>> import numpy as np
>>> import onnxruntime as ort
>>> from skl2onnx import to_onnx
>>> from sklearn.datasets import load_iris
>>> import sk_sparse_l1.onnx  # registers the converters
>>> from sk_sparse_l1 import SparseL1Classifier
>>> X, y = load_iris(return_X_y=True)
>>> X = ((X - X.mean(axis=0)) / X.std(axis=0)).astype(np.float32)
>>> clf = SparseL1Classifier(hidden_layer_sizes=(8,), target_sparsity=0.5,
...                          learning_rate_init=0.03, max_iter=200,
...                          random_state=0).fit(X, y)
>>> onx = to_onnx(clf, X[:1], options={"zipmap": False})
>>> session = ort.InferenceSession(
...     onx.SerializeToString(), providers=["CPUExecutionProvider"])
>>> label, proba = session.run(None, {"X": X})
>>> bool(np.all(label == clf.predict(X)))
True
>>> bool(np.abs(proba - clf.predict_proba(X)).max() < 1e-5)
True

Dense initializers instead:

>>> onx = to_onnx(clf, X[:1], options={"zipmap": False, "sparse_weights": False})
"""

import numpy as np
from scipy.sparse import coo_matrix

try:
    import onnx
    from skl2onnx import update_registered_converter
    from skl2onnx.common._apply_operation import (
        apply_add,
        apply_cast,
        apply_concat,
        apply_identity,
        apply_reshape,
        apply_sub,
    )
    from skl2onnx.common.data_types import (
        BooleanTensorType,
        DoubleTensorType,
        FloatTensorType,
        Int64TensorType,
        guess_proto_type,
    )
    from skl2onnx.common.shape_calculator import (
        calculate_linear_classifier_output_shapes,
    )
    from skl2onnx.common.utils import (
        check_input_and_output_numbers,
        check_input_and_output_types,
    )
    from skl2onnx.common.utils_classifier import get_label_classes
except ImportError as exc:
    raise ImportError(
        "sk_sparse_l1.onnx needs skl2onnx and onnx, which are not installed: "
        "pip install sk_sparse_l1[onnx]"
    ) from exc

from sk_sparse_l1._classifier import SparseL1Classifier
from sk_sparse_l1._regressor import SparseL1Regressor

__all__ = ["output_activation", "to_sparse_initializers"]

_ONNX_ACTIVATIONS = {
    "identity": None,
    "logistic": "Sigmoid",
    "tanh": "Tanh",
    "relu": "Relu",
    "softmax": "Softmax",
}

# Constant's ``sparse_value`` attribute appeared in opset 11.
_MIN_SPARSE_OPSET = 11

_CLASSIFIER_OPTIONS = {
    "zipmap": [True, False, "columns"],
    "output_class_labels": [False, True],
    "nocl": [True, False],
    "sparse_weights": [True, False],
}
_REGRESSOR_OPTIONS = {"sparse_weights": [True, False]}


def output_activation(estimator):
    """Activation applied to the raw outputs of a fitted estimator's network.

    Parameters
    ----------
    estimator : SparseL1Regressor or SparseL1Classifier
        A fitted estimator.

    Returns
    -------
    activation : {'identity', 'logistic', 'softmax'}
        The estimator's ``out_activation_``: identity for a regressor, the
        logistic function for a binary or multilabel classifier, softmax for
        a multiclass one.
    """
    return estimator.out_activation_


def _is_multilabel(estimator):
    return isinstance(estimator, SparseL1Classifier) and estimator._multilabel()


def _compute_dtype(operator):
    """ONNX and numpy dtypes the graph computes in: double for double input,
    float otherwise (as skl2onnx's MLP converters)."""
    if guess_proto_type(operator.inputs[0].type) == onnx.TensorProto.DOUBLE:
        return onnx.TensorProto.DOUBLE, np.float64
    return onnx.TensorProto.FLOAT, np.float32


def _add_weights(scope, container, W, proto_dtype, sparse):
    """Add a weight matrix to the graph, sparse or dense; return its name."""
    name = scope.get_unique_variable_name("coefficient")
    if sparse:
        # skl2onnx stores a COO matrix as a Constant node holding a sparse
        # tensor: values and row-major flat indices of the nonzeros.
        container.add_initializer(name, proto_dtype, W.shape, coo_matrix(W))
    else:
        container.add_initializer(name, proto_dtype, W.shape, W.ravel())
    return name


def _activate(scope, container, input_name, activation):
    """Apply ``activation`` to ``input_name``; return the output name."""
    op_type = _ONNX_ACTIVATIONS[activation]
    if op_type is None:
        return input_name
    output_name = scope.get_unique_variable_name(f"{activation}_result")
    attributes = {"axis": 1} if op_type == "Softmax" else {}
    container.add_node(
        op_type,
        input_name,
        output_name,
        name=scope.get_unique_operator_name(op_type),
        **attributes,
    )
    return output_name


def _forward(scope, container, operator):
    """Add the network to the graph; return the name of its activated output.

    ``act(h @ W_j + b_j)`` with the hidden activation for the hidden layers,
    the output activation after the last layer: the predictions of a
    regressor, the class (or label) probabilities of a classifier.
    """
    estimator = operator.raw_operator
    proto_dtype, dtype = _compute_dtype(operator)
    options = container.get_options(estimator, dict(sparse_weights=True))
    sparse = options["sparse_weights"]
    if sparse and container.target_opset < _MIN_SPARSE_OPSET:
        raise RuntimeError(
            f"sparse_weights=True needs target_opset >= {_MIN_SPARSE_OPSET}, "
            f"got {container.target_opset}: convert with a higher opset or "
            "with the option sparse_weights=False."
        )
    hidden, final = estimator.activation, output_activation(estimator)
    for name in (hidden, final):
        if name not in _ONNX_ACTIVATIONS:
            raise ValueError(f"Unsupported activation {name!r} for ONNX export.")

    h = scope.get_unique_variable_name("cast_input")
    apply_cast(scope, operator.inputs[0].full_name, h, container, to=proto_dtype)
    n_layers = len(estimator.coefs_)
    for j, (W, b) in enumerate(zip(estimator.coefs_, estimator.intercepts_)):
        coefficient = _add_weights(
            scope, container, np.asarray(W, dtype=dtype), proto_dtype, sparse
        )
        intercept = scope.get_unique_variable_name("intercepts")
        b = np.asarray(b, dtype=dtype)
        container.add_initializer(intercept, proto_dtype, [1, b.shape[0]], b)
        product = scope.get_unique_variable_name("mul_result")
        container.add_node(
            "MatMul",
            [h, coefficient],
            product,
            name=scope.get_unique_operator_name("MatMul"),
        )
        h = scope.get_unique_variable_name("add_result")
        apply_add(scope, [product, intercept], h, container, broadcast=1)
        activation = hidden if j < n_layers - 1 else final
        h = _activate(scope, container, h, activation)
    return h


def _onnx_classes(classes):
    """Class labels as an array ONNX can hold (int64 or UTF-8 bytes) and its
    ONNX type, as the label output of skl2onnx's classifiers has them."""
    classes = np.asarray(classes)
    if classes.dtype.kind in "biuf":
        as_int = classes.astype(np.int64)
        if not np.array_equal(as_int, classes):
            raise ValueError(
                "Class labels must be integers or strings for ONNX export, got "
                f"{classes!r}."
            )
        return as_int, onnx.TensorProto.INT64
    encoded = np.array([str(c).encode("utf-8") for c in classes])
    return encoded, onnx.TensorProto.STRING


def convert_sparse_l1_regressor(scope, operator, container):
    """skl2onnx converter of :class:`SparseL1Regressor`.

    Writes the predictions, shape (N, n_outputs), to the ``variable`` output.
    """
    y_pred = _forward(scope, container, operator)
    apply_identity(scope, y_pred, operator.outputs[0].full_name, container)


def convert_sparse_l1_classifier(scope, operator, container):
    """skl2onnx converter of :class:`SparseL1Classifier`.

    Writes the class probabilities (columns in the order of ``classes_``) to
    the second output and the labels to the first: the class of largest
    probability, or for a multilabel classifier the labels of probability
    above 0.5 as an int64 indicator matrix.
    """
    estimator = operator.raw_operator
    proto_dtype, _ = _compute_dtype(operator)
    label_name = operator.outputs[0].full_name
    proba_name = operator.outputs[1].full_name
    y_pred = _forward(scope, container, operator)

    if estimator.n_outputs_ == 1:
        # Binary: the network gives P(classes_[1]); prepend 1 − p.
        unity = scope.get_unique_variable_name("unity")
        negative = scope.get_unique_variable_name("negative_class_proba")
        container.add_initializer(unity, proto_dtype, [], [1])
        apply_sub(scope, [unity, y_pred], negative, container, broadcast=1)
        apply_concat(scope, [negative, y_pred], proba_name, container, axis=1)
    else:
        apply_identity(scope, y_pred, proba_name, container)

    if _is_multilabel(estimator):
        # Strictly above 0.5, i.e. a positive logit, as predict thresholds.
        binarized = scope.get_unique_variable_name("binariser_output")
        container.add_node(
            "Binarizer",
            y_pred,
            binarized,
            threshold=0.5,
            op_domain="ai.onnx.ml",
            name=scope.get_unique_operator_name("Binarizer"),
        )
        apply_cast(scope, binarized, label_name, container, to=onnx.TensorProto.INT64)
        return

    # get_label_classes honours the option nocl (labels 0..n_classes-1), as
    # the shape calculator does.
    classes, class_type = _onnx_classes(get_label_classes(scope, estimator))
    classes_name = scope.get_unique_variable_name("classes")
    container.add_initializer(classes_name, class_type, classes.shape, classes)
    argmax = scope.get_unique_variable_name("argmax_output")
    container.add_node(
        "ArgMax",
        proba_name,
        argmax,
        axis=1,
        name=scope.get_unique_operator_name("ArgMax"),
    )
    labels = scope.get_unique_variable_name("array_feature_extractor_result")
    container.add_node(
        "ArrayFeatureExtractor",
        [classes_name, argmax],
        labels,
        op_domain="ai.onnx.ml",
        name=scope.get_unique_operator_name("ArrayFeatureExtractor"),
    )
    apply_reshape(scope, labels, label_name, container, desired_shape=(-1,))


def calculate_sparse_l1_regressor_output_shapes(operator):
    """Shape calculator of :class:`SparseL1Regressor`: [N, C] → [N, n_outputs].

    skl2onnx's calculator for linear regressors reads the number of outputs
    from ``coef_``, which these estimators do not have.
    """
    check_input_and_output_numbers(operator, input_count_range=1, output_count_range=1)
    check_input_and_output_types(
        operator,
        good_input_types=[
            BooleanTensorType,
            DoubleTensorType,
            FloatTensorType,
            Int64TensorType,
        ],
    )
    if isinstance(operator.inputs[0].type, DoubleTensorType):
        tensor_type = DoubleTensorType
    else:
        tensor_type = FloatTensorType
    n_rows = operator.inputs[0].get_first_dimension()
    operator.outputs[0].type = tensor_type([n_rows, operator.raw_operator.n_outputs_])


def calculate_sparse_l1_classifier_output_shapes(operator):
    """Shape calculator of :class:`SparseL1Classifier`.

    skl2onnx's calculator for classifiers (labels [N], probabilities
    [N, n_classes]), with labels [N, n_labels] for a multilabel classifier.
    """
    calculate_linear_classifier_output_shapes(operator)
    estimator = operator.raw_operator
    if _is_multilabel(estimator):
        n_rows = operator.inputs[0].get_first_dimension()
        shape = [n_rows, estimator.n_outputs_]
        operator.outputs[0].type = Int64TensorType(shape)
        operator.outputs[1].type.shape = shape


def to_sparse_initializers(model):
    """Move the graph's sparse constants to ``GraphProto.sparse_initializer``.

    Every ``Constant`` node of the main graph that holds a ``sparse_value``
    (the weight matrices converted with ``sparse_weights=True``) becomes a
    sparse initializer of the same name. onnxruntime loads either form to
    the same dense initializer. onnx's shape inference types sparse
    initializers as sparse tensors, which ``MatMul`` does not accept, so
    ``onnx.checker.check_model(model, full_check=True)`` rejects the result
    (the default check passes); keep the ``Constant`` form for tools that
    run it.

    Parameters
    ----------
    model : onnx.ModelProto
        A converted model, e.g. from ``skl2onnx.to_onnx``.

    Returns
    -------
    sparse_model : onnx.ModelProto
        A copy of ``model`` with the sparse constants as sparse
        initializers; ``model`` is left unchanged.
    """
    sparse_model = onnx.ModelProto()
    sparse_model.CopyFrom(model)
    graph = sparse_model.graph
    kept = []
    for node in graph.node:
        if node.op_type != "Constant" or node.domain not in ("", "ai.onnx"):
            kept.append(node)
            continue
        values = [a.sparse_tensor for a in node.attribute if a.name == "sparse_value"]
        if not values:
            kept.append(node)
            continue
        tensor = graph.sparse_initializer.add()
        tensor.CopyFrom(values[0])
        # A sparse initializer is named by its values tensor.
        tensor.values.name = node.output[0]
        tensor.indices.name = f"{node.output[0]}_indices"
    del graph.node[:]
    graph.node.extend(kept)
    return sparse_model


update_registered_converter(
    SparseL1Regressor,
    "SkSparseL1Regressor",
    calculate_sparse_l1_regressor_output_shapes,
    convert_sparse_l1_regressor,
    options=_REGRESSOR_OPTIONS,
)
# With a "zipmap" option, skl2onnx parses the classifier with its standard
# classifier parser, which adds the ZipMap (or not) as for MLPClassifier.
update_registered_converter(
    SparseL1Classifier,
    "SkSparseL1Classifier",
    calculate_sparse_l1_classifier_output_shapes,
    convert_sparse_l1_classifier,
    options=_CLASSIFIER_OPTIONS,
)
