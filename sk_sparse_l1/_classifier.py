"""SparseL1Classifier: cross-entropy with an ℓ1 penalty on the weights."""

import warnings

import numpy as np
from scipy.special import log_expit, log_softmax
from sklearn.base import ClassifierMixin, _fit_context
from sklearn.metrics import accuracy_score
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.class_weight import compute_sample_weight
from sklearn.utils.multiclass import (
    _check_partial_fit_first_call,
    check_classification_targets,
    type_of_target,
    unique_labels,
)
from sklearn.utils.validation import column_or_1d

from sk_sparse_l1._estimator import BaseSparseL1, unchanged_on_failure


class SparseL1Classifier(ClassifierMixin, BaseSparseL1):
    """Multilayer perceptron classifier with ℓ1-sparse weights.

    Minimizes, over the weights ``W_j`` and biases ``b_j`` of a feed-forward
    network ``N``,

    .. math::

        \\frac{1}{n} \\sum_{i=1}^{n} s_i \\, \\ell\\big(N(x_i), y_i\\big)
        + \\sum_{j=1}^{D} \\lambda_j \\lVert W_j \\rVert_1

    where ``ℓ`` is the cross-entropy of the softmax of the outputs (of a
    single sigmoid output for two classes, of one sigmoid per label, summed,
    for a multilabel target) and ``s_i`` are sample weights
    times class weights, scaled to average 1. Training alternates a gradient
    step with soft-thresholding of the weight matrices in the optimizer's own
    metric; biases are not penalized. ``λ`` is ``alpha``, or is chosen during
    ``fit`` so that a fraction ``target_sparsity`` of the weights is zero.

    Parameters
    ----------
    hidden_layer_sizes : array-like of int or int, default=(100,)
        Width of each hidden layer.
    activation : {'relu', 'tanh', 'logistic', 'identity'}, default='relu'
        Activation of the hidden layers.
    solver : {'adam', 'sgd'}, default='adam'
        Proximal Adam (threshold ``λ · lr / (√v̂ + ε)`` per weight) or plain
        proximal SGD (threshold ``λ · lr``, no momentum).
    alpha : 'auto', float or array-like of float, default='auto'
        The ℓ1 strength λ, one value or one per weight layer; ``'auto'``
        scales it to the data (see :class:`SparseL1Regressor`). Ignored when
        ``target_sparsity`` is set.
    target_sparsity : float, array-like of float or None, default=None
        Fraction of weights that should be exactly zero, globally (a float in
        [0, 1)) or per weight layer (a sequence); λ is then chosen in ``fit``.
    sparsity_tol : float, default=0.02
        Accepted relative error of the nonzero count (see
        :class:`SparseL1Regressor`).
    search : {'online', 'magnitude', 'paper'}, default='online'
        Strategy choosing λ for ``target_sparsity`` (see
        :class:`SparseL1Regressor`).
    max_search_rounds : int, default=30
        Most rounds of ``search='paper'``.
    refit : 'auto' or bool, default='auto'
        Whether the last 30% of the budget retrains the nonzero weights
        without penalty, zeros held fixed; ``'auto'`` refits
        ``target_sparsity`` fits only (see :class:`SparseL1Regressor`).
    class_weight : dict, 'balanced' or None, default=None
        Weights of the classes in the loss, multiplied into ``sample_weight``.
    batch_size : int or 'auto', default='auto'
        Minibatch size; ``'auto'`` is ``min(200, n_samples)``.
    learning_rate_init : float, default=1e-3
        Learning rate.
    max_iter : int, default=200
        Most epochs of a fit, every phase included (of each round for
        ``search='paper'``; see :class:`SparseL1Regressor`).
    tol : float, default=1e-4
        Improvement below which an epoch counts as no improvement.
    n_iter_no_change : int or np.inf, default=10
        Epochs without improvement that end a phase of the fit.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` (stratified, except for multilabel
        targets), monitor its accuracy, and keep the best network of the
        last phase.
    validation_fraction : float, default=0.1
        Held-out fraction for early stopping.
    beta_1, beta_2, epsilon : float, default=0.9, 0.999, 1e-8
        Adam's parameters.
    warm_start : bool, default=False
        Start from the previous fit's weights.
    random_state : int, RandomState instance or None, default=None
        Seeds weight initialization, shuffling and the validation split.
    verbose : int, default=0
        1 shows a progress bar, 2 or more prints a line per epoch.
    device : {'cpu', 'cuda', 'auto'}, default='cpu'
        Where training runs. The fitted network is kept on the CPU.
    n_threads : int, 'auto' or None, default='auto'
        torch threads during ``fit`` (restored afterwards); 'auto' chooses
        by the size of a step, None leaves torch's setting alone. See
        :class:`SparseL1Regressor`.

    Attributes
    ----------
    classes_ : ndarray
        The class labels (the label indices for a multilabel target).
    out_activation_ : str
        'logistic' for two classes and multilabel targets, 'softmax'
        otherwise.
    coefs_, intercepts_, l1_coefs_, l1_intercepts_, sparse_coefs_, module_, \
alpha_, sparsity_, layer_sparsity_, n_nonzero_, layer_n_nonzero_, support_, \
alphas_, sparsities_, n_search_rounds_, target_reached_, n_iter_, loss_curve_, \
best_loss_, validation_scores_, best_validation_score_, t_, fit_time_, \
n_features_in_, feature_names_in_, n_layers_, n_outputs_
        As in :class:`SparseL1Regressor`; ``module_`` outputs logits, and the
        validation score is the accuracy.

    See Also
    --------
    SparseL1Regressor : The same model for regression.
    sklearn.neural_network.MLPClassifier : The dense network with an ℓ2
        penalty.

    Examples
    --------
    >>> from sklearn.datasets import load_breast_cancer
    >>> from sklearn.preprocessing import StandardScaler
    >>> from sk_sparse_l1 import SparseL1Classifier
    >>> X, y = load_breast_cancer(return_X_y=True)
    >>> X = StandardScaler().fit_transform(X)
    >>> clf = SparseL1Classifier(hidden_layer_sizes=(16,), target_sparsity=0.9,
    ...                          max_iter=50, random_state=0).fit(X, y)
    >>> target = round(0.1 * (30 * 16 + 16))  # nonzero weights wanted
    >>> clf.target_reached_, abs(clf.n_nonzero_ - target) <= max(0.02 * target, 1)
    (True, True)
    """

    _parameter_constraints: dict = {
        **BaseSparseL1._parameter_constraints,
        "class_weight": [dict, StrOptions({"balanced"}), None],
    }

    def __init__(
        self,
        hidden_layer_sizes=(100,),
        *,
        activation="relu",
        solver="adam",
        alpha="auto",
        target_sparsity=None,
        sparsity_tol=0.02,
        search="online",
        max_search_rounds=30,
        refit="auto",
        class_weight=None,
        batch_size="auto",
        learning_rate_init=1e-3,
        max_iter=200,
        tol=1e-4,
        n_iter_no_change=10,
        early_stopping=False,
        validation_fraction=0.1,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        warm_start=False,
        random_state=None,
        verbose=0,
        device="cpu",
        n_threads="auto",
    ):
        super().__init__(
            hidden_layer_sizes,
            activation=activation,
            solver=solver,
            alpha=alpha,
            target_sparsity=target_sparsity,
            sparsity_tol=sparsity_tol,
            search=search,
            max_search_rounds=max_search_rounds,
            refit=refit,
            batch_size=batch_size,
            learning_rate_init=learning_rate_init,
            max_iter=max_iter,
            tol=tol,
            n_iter_no_change=n_iter_no_change,
            early_stopping=early_stopping,
            validation_fraction=validation_fraction,
            beta_1=beta_1,
            beta_2=beta_2,
            epsilon=epsilon,
            warm_start=warm_start,
            random_state=random_state,
            verbose=verbose,
            device=device,
            n_threads=n_threads,
        )
        self.class_weight = class_weight

    def _is_classifier_task(self):
        return True

    def _multilabel(self):
        return self._label_binarizer.y_type_.startswith("multilabel")

    def _loss_name(self):
        if self._multilabel() or len(self.classes_) <= 2:
            return "binary_log_loss"
        return "log_loss"

    def _out_activation(self):
        return "logistic" if self._loss_name() == "binary_log_loss" else "softmax"

    def _encode_target(self, y, first_pass, incremental, classes):
        """Label-binarize ``y`` as scikit-learn's MLP does: one logit column
        for two classes (or one), one per class, or one per label for a
        multilabel indicator matrix; check the classes of a continued fit."""
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        if y.ndim == 2 and type_of_target(y) != "multilabel-indicator":
            raise ValueError(
                "SparseL1Classifier expects a 1-D array of class labels or a "
                f"multilabel indicator matrix, got y of shape {y.shape} with "
                f"target type {type_of_target(y)!r}."
            )
        check_classification_targets(y)
        if incremental and _check_partial_fit_first_call(self, classes):
            self._label_binarizer = LabelBinarizer()
            self._label_binarizer.fit(y if y.ndim == 2 else classes)
            self.classes_ = self._label_binarizer.classes_
            self._check_continued_classes(y, incremental)
        elif first_pass:
            self._label_binarizer = LabelBinarizer().fit(y)
            self.classes_ = self._label_binarizer.classes_
        else:
            self._check_continued_classes(y, incremental)
        return self._binarize(y)

    def _encoded_target(self, y):
        """``y`` as the network's loss sees it, for a fitted estimator."""
        y = np.asarray(y)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        check_classification_targets(y)
        labels = unique_labels(y) if y.ndim == 2 else np.unique(y)
        unknown = np.setdiff1d(labels, self.classes_)
        if unknown.size:
            raise ValueError(
                f"y has labels {unknown.tolist()} that the estimator was not "
                f"fitted on (classes_ = {self.classes_.tolist()})."
            )
        return self._binarize(y)

    def _binarize(self, y):
        """``LabelBinarizer.transform``, for labels already checked to be in
        ``classes_`` (it would check the target type again, a cost that
        partial_fit pays on every chunk)."""
        if y.ndim == 2:
            return y.astype(np.float64)
        codes = np.searchsorted(self.classes_, y)
        if len(self.classes_) <= 2:
            return (codes == 1).astype(np.float64).reshape(-1, 1)
        return np.eye(len(self.classes_))[codes]

    def _check_continued_classes(self, y, incremental):
        classes = unique_labels(y) if y.ndim == 2 else np.unique(y)
        if not incremental:  # warm_start
            if set(classes) != set(self.classes_):
                raise ValueError(
                    "warm_start can only be used where `y` has the same classes "
                    f"as in the previous call to fit. Previously got "
                    f"{self.classes_}, `y` has {classes}"
                )
        elif len(np.setdiff1d(classes, self.classes_, assume_unique=True)):
            raise ValueError(
                f"`y` has classes not in `self.classes_`. `self.classes_` has "
                f"{self.classes_}. 'y' has {classes}."
            )

    def _apply_class_weight(self, y, weight):
        if self.class_weight is None:
            return weight
        if y.ndim == 2:
            raise ValueError(
                "class_weight is not supported for multilabel targets: weigh "
                "samples with sample_weight instead."
            )
        class_weights = compute_sample_weight(self.class_weight, y)
        return class_weights if weight is None else weight * class_weights

    def _score_raw(self, raw, y, sample_weight):
        return accuracy_score(
            y, self._labels_from_raw(raw), sample_weight=sample_weight
        )

    def _labels_from_raw(self, raw):
        if self._multilabel():
            return (raw > 0).astype(int)
        if raw.shape[1] > 1:
            return self.classes_[raw.argmax(axis=1)]
        if len(self.classes_) == 1:
            return np.repeat(self.classes_, raw.shape[0])
        return self.classes_[(raw[:, 0] > 0).astype(int)]

    @_fit_context(prefer_skip_nested_validation=True)
    @unchanged_on_failure
    def partial_fit(self, X, y, sample_weight=None, classes=None):
        """Train for one epoch on ``X`` and ``y``, continuing the last fit.

        The first call starts a fit and needs ``classes``; each call is one
        epoch of its schedule, so λ's warm-up, the ℓ1 phase and the refit
        follow ``max_iter`` calls (see the user guide).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_labels)
            Class labels, or a multilabel indicator matrix.
        sample_weight : array-like of shape (n_samples,), default=None
        classes : array-like of shape (n_classes,), default=None
            Every class that may appear over all calls; required on the first
            call, ignored after (as in scikit-learn). ``y`` need not contain
            all of them.

        Returns
        -------
        self : object
        """
        warned = self._fit(X, y, sample_weight, incremental=True, classes=classes)
        for message, category in warned:
            # The caller's line: past this method and its two decorators.
            warnings.warn(message, category, stacklevel=4)
        return self

    def predict(self, X):
        """Predict class labels.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        y : ndarray of shape (n_samples,) or (n_samples, n_labels)
            Labels from ``classes_``, or a label indicator matrix.
        """
        return self._labels_from_raw(self._raw_predict(X))

    def predict_log_proba(self, X):
        """Log of the class probabilities, columns in the order of ``classes_``
        (per label, for a multilabel target)."""
        raw = self._raw_predict(X)
        if self._multilabel():
            return log_expit(raw)
        if raw.shape[1] > 1:
            return log_softmax(raw, axis=1)
        if len(self.classes_) == 1:
            return np.zeros_like(raw)
        return np.column_stack([log_expit(-raw[:, 0]), log_expit(raw[:, 0])])

    def predict_proba(self, X):
        """Class probabilities, columns in the order of ``classes_`` (one
        independent probability per label for a multilabel target)."""
        return np.exp(self.predict_log_proba(X))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags
