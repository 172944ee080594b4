"""SparseL1Classifier: cross-entropy with an ℓ1 penalty on the weights."""

import numpy as np
from scipy.special import expit, log_expit, log_softmax
from sklearn.base import ClassifierMixin
from sklearn.metrics import accuracy_score
from sklearn.preprocessing import LabelEncoder
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.class_weight import compute_sample_weight
from sklearn.utils.multiclass import check_classification_targets, type_of_target

from sk_sparse_l1._base import BaseSparseL1


class SparseL1Classifier(ClassifierMixin, BaseSparseL1):
    """Multilayer perceptron classifier with ℓ1-sparse weights.

    Minimizes, over the weights ``W_j`` and biases ``b_j`` of a feed-forward
    network ``N``,

    .. math::

        \\frac{1}{n} \\sum_{i=1}^{n} s_i \\, \\ell\\big(N(x_i), y_i\\big)
        + \\sum_{j=1}^{D} \\lambda_j \\lVert W_j \\rVert_1

    where ``ℓ`` is the cross-entropy of the softmax of the outputs (of a
    single sigmoid output for two classes) and ``s_i`` are sample weights
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
    alpha : float or array-like of float, default=1e-4
        The ℓ1 strength λ, one value or one per weight layer. Ignored when
        ``target_sparsity`` is set.
    target_sparsity : float, array-like of float or None, default=None
        Fraction of weights that should be exactly zero, globally (a float in
        [0, 1)) or per weight layer (a sequence); λ is then chosen in ``fit``.
    sparsity_tol : float, default=0.02
        Accepted relative error of the nonzero count (see
        :class:`SparseL1Regressor`).
    search : {'online', 'paper'}, default='online'
        Strategy choosing λ for ``target_sparsity`` (see
        :class:`SparseL1Regressor`).
    max_search_rounds : int, default=10
        Most training rounds at a fixed λ during the search.
    refit : bool, default=True
        After training at λ, retrain the nonzero weights without penalty
        for up to ``max_iter // 2`` epochs, zeros held fixed (see
        :class:`SparseL1Regressor`).
    class_weight : dict, 'balanced' or None, default=None
        Weights of the classes in the loss, multiplied into ``sample_weight``.
    batch_size : int or 'auto', default='auto'
        Minibatch size; ``'auto'`` is ``min(200, n_samples)``.
    learning_rate_init : float, default=1e-3
        Learning rate.
    max_iter : int, default=200
        Number of epochs of a fit at fixed λ.
    tol : float, default=1e-4
        Improvement below which an epoch counts as no improvement.
    n_iter_no_change : int, default=10
        Epochs without improvement after which training stops.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` (stratified) and stop when its
        accuracy stops improving; the best parameters are kept.
    validation_fraction : float, default=0.1
        Held-out fraction for early stopping.
    beta_1, beta_2, epsilon : float, default=0.9, 0.999, 1e-8
        Adam's parameters.
    warm_start : bool, default=False
        Start from the previous fit's weights.
    random_state : int, RandomState instance or None, default=None
        Seeds weight initialization, shuffling and the validation split.
    verbose : int, default=0
        Print progress when positive.
    device : {'cpu', 'cuda', 'auto'}, default='cpu'
        Where training runs. The fitted network is kept on the CPU.
    n_threads : int or None, default=1
        torch threads during ``fit`` (restored afterwards); None leaves
        torch's setting alone. See :class:`SparseL1Regressor`.

    Attributes
    ----------
    classes_ : ndarray
        The class labels.
    coefs_, intercepts_, sparse_coefs_, module_, alpha_, sparsity_, layer_sparsity_, \
n_nonzero_, layer_n_nonzero_, support_, alphas_, sparsities_, \
n_search_rounds_, target_reached_, n_iter_, loss_curve_, fit_time_, \
n_features_in_, feature_names_in_, n_outputs_
        As in :class:`SparseL1Regressor`; ``module_`` outputs logits.

    Examples
    --------
    >>> from sklearn.datasets import load_breast_cancer
    >>> from sklearn.preprocessing import StandardScaler
    >>> from sk_sparse_l1 import SparseL1Classifier
    >>> X, y = load_breast_cancer(return_X_y=True)
    >>> X = StandardScaler().fit_transform(X)
    >>> clf = SparseL1Classifier(hidden_layer_sizes=(16,), target_sparsity=0.9,
    ...                          max_iter=50, random_state=0).fit(X, y)
    >>> clf.target_reached_, bool(abs(clf.sparsity_ - 0.9) <= 0.02 * 0.1)
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
        alpha=1e-4,
        target_sparsity=None,
        sparsity_tol=0.02,
        search="online",
        max_search_rounds=10,
        refit=True,
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
        n_threads=1,
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

    def _loss_name(self, target):
        return "binary_log_loss" if len(self.classes_) == 2 else "log_loss"

    def _encode_target(self, y):
        if y.ndim == 2 and y.shape[1] == 1:
            y = y[:, 0]
        if y.ndim != 1 or type_of_target(y) == "multilabel-indicator":
            raise ValueError(
                "SparseL1Classifier expects a 1-D array of class labels, got y "
                f"of shape {y.shape}."
            )
        check_classification_targets(y)
        encoder = LabelEncoder().fit(y)
        classes = encoder.classes_
        if len(classes) < 2:
            raise ValueError(
                "SparseL1Classifier needs samples of at least 2 classes in the "
                f"data, but the data contains only one class: {classes[0]!r}."
            )
        self.classes_ = classes
        codes = encoder.transform(y)
        if len(classes) == 2:
            return codes.astype(np.float64).reshape(-1, 1)
        return np.eye(len(classes))[codes]

    def _apply_class_weight(self, y, weight):
        if self.class_weight is None:
            return weight
        class_weights = compute_sample_weight(self.class_weight, y)
        return class_weights if weight is None else weight * class_weights

    def _score_raw(self, raw, y, sample_weight):
        return accuracy_score(
            y, self._labels_from_raw(raw), sample_weight=sample_weight
        )

    def _labels_from_raw(self, raw):
        if raw.shape[1] == 1:
            codes = (raw[:, 0] > 0).astype(int)
        else:
            codes = raw.argmax(axis=1)
        return self.classes_[codes]

    def predict(self, X):
        """Predict class labels.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        y : ndarray of shape (n_samples,)
            Labels from ``classes_``.
        """
        return self._labels_from_raw(self._raw_predict(X))

    def predict_log_proba(self, X):
        """Log of the class probabilities, columns in the order of ``classes_``."""
        raw = self._raw_predict(X)
        if raw.shape[1] == 1:
            return np.column_stack([log_expit(-raw[:, 0]), log_expit(raw[:, 0])])
        return log_softmax(raw, axis=1)

    def predict_proba(self, X):
        """Class probabilities, columns in the order of ``classes_``."""
        raw = self._raw_predict(X)
        if raw.shape[1] == 1:
            p = expit(raw[:, 0])
            return np.column_stack([1.0 - p, p])
        return np.exp(log_softmax(raw, axis=1))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = False
        return tags
