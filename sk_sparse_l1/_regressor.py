"""SparseL1Regressor: squared error with an ℓ1 penalty on the weights."""

import numpy as np
from sklearn.base import RegressorMixin
from sklearn.metrics import r2_score

from sk_sparse_l1._base import BaseSparseL1


class SparseL1Regressor(RegressorMixin, BaseSparseL1):
    """Multilayer perceptron regressor with ℓ1-sparse weights.

    Minimizes, over the weights ``W_j`` and biases ``b_j`` of a feed-forward
    network ``N``,

    .. math::

        \\frac{1}{n\\,k} \\sum_{i=1}^{n} s_i \\lVert N(x_i) - y_i \\rVert_2^2
        + \\sum_{j=1}^{D} \\lambda_j \\lVert W_j \\rVert_1

    (``k`` outputs, sample weights ``s_i`` averaging 1) by proximal gradient
    steps: a gradient step on the data term, then soft-thresholding of every
    weight matrix, in the optimizer's own metric. Biases are not penalized.
    ``λ`` is ``alpha`` (one value, or one per weight layer), or is chosen
    during ``fit`` so that a fraction ``target_sparsity`` of the weights is
    exactly zero.

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
        The ℓ1 strength λ: one value for the single-parameter model, or one
        per weight layer (``len(hidden_layer_sizes) + 1`` values) for the
        layer-wise model. Ignored when ``target_sparsity`` is set.
    target_sparsity : float, array-like of float or None, default=None
        Fraction of weights that should be exactly zero: over all weight
        matrices (a float in [0, 1)), or per weight layer (a sequence). When
        set, λ is chosen during ``fit`` and stored in ``alpha_``.
    sparsity_tol : float, default=0.02
        Accepted relative error of the nonzero count: a group of layers
        sharing a λ, with target count ``T = round((1 − s) · n)``, is on
        target when ``|nonzeros − T| ≤ max(sparsity_tol · T, 1)``. Relative
        to the count (as in Shen et al.), so that at 99% sparsity the
        tolerance is a few weights, not 1% of all of them.
    search : {'online', 'paper'}, default='online'
        How λ is chosen for ``target_sparsity``: ``'online'`` steers λ during
        one training run, then trains at the fixed λ found, correcting it
        with warm-started rounds if needed; ``'paper'`` is the iterative
        scheme of Shen et al. (2024), one full retraining per round.
    max_search_rounds : int, default=10
        Most training rounds at a fixed λ during the search.
    refit : bool, default=True
        After training at λ (given or chosen), retrain the nonzero weights
        without penalty for up to ``max_iter // 2`` more epochs, zeros held
        fixed: λ selects the support, the refit removes ℓ1's shrinkage of
        the weights it keeps (its effect is measured in
        ``docs/benchmarks.md``). Set ``refit=False`` for the ℓ1 solution
        itself, e.g. to check its optimality conditions.
    batch_size : int or 'auto', default='auto'
        Minibatch size; ``'auto'`` is ``min(200, n_samples)``.
    learning_rate_init : float, default=1e-3
        Learning rate.
    max_iter : int, default=200
        Number of epochs of a fit at fixed λ (and each paper search round).
    tol : float, default=1e-4
        Improvement of the objective (or validation score) below which an
        epoch counts as no improvement.
    n_iter_no_change : int, default=10
        Epochs without improvement after which training stops.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the data and stop when its R²
        stops improving; the best parameters are kept.
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
        Number of torch threads during ``fit``, restored afterwards; None
        leaves torch's setting alone. One thread is the default because the
        layers of tabular models are small: on 2 cores it trained faster
        than two except for (256, 256) layers on an idle machine, and 7–56×
        faster when another process used a core (``docs/benchmarks.md``).

    Attributes
    ----------
    coefs_ : list of ndarray
        Weight matrices, ``coefs_[j]`` of shape (fan_in, fan_out), with
        exact zeros.
    intercepts_ : list of ndarray
        Bias vectors.
    sparse_coefs_ : list of scipy.sparse.csr_array
        ``coefs_`` in CSR form. ``predict`` multiplies by these instead of
        the dense matrices when that was measured to be faster (at most 10%
        nonzero weights and a large enough batch; see
        ``docs/sparse_prediction.md``).
    module_ : torch.nn.Sequential
        The trained network (raw outputs), on the CPU.
    alpha_ : float or ndarray
        The λ the final network was trained at.
    sparsity_ : float
        Fraction of exactly zero weights over all weight matrices.
    layer_sparsity_ : ndarray
        The same per weight layer.
    n_nonzero_ : int
        Number of nonzero weights.
    layer_n_nonzero_ : ndarray
        Nonzero weights per layer.
    support_ : ndarray of bool
        Input features with at least one nonzero outgoing weight.
    alphas_, sparsities_ : ndarray
        λ and achieved sparsity of each search round (one column per group
        sharing a λ). Only with ``target_sparsity``.
    n_search_rounds_ : int
        Number of search rounds. Only with ``target_sparsity``.
    target_reached_ : bool
        Whether the final sparsity is within ``sparsity_tol``.
    n_iter_ : int
        Epochs of the final training run.
    loss_curve_ : list of float
        Penalized objective after each epoch of the final run.
    fit_time_ : float
        Seconds spent in ``fit``.
    n_features_in_ : int
    feature_names_in_ : ndarray
    n_outputs_ : int

    Examples
    --------
    >>> from sklearn.datasets import load_diabetes
    >>> from sklearn.preprocessing import StandardScaler
    >>> from sk_sparse_l1 import SparseL1Regressor
    >>> X, y = load_diabetes(return_X_y=True)
    >>> X = StandardScaler().fit_transform(X)
    >>> reg = SparseL1Regressor(hidden_layer_sizes=(16,), target_sparsity=0.8,
    ...                         learning_rate_init=0.01, max_iter=100,
    ...                         random_state=0).fit(X, y / y.std())
    >>> reg.target_reached_, bool(abs(reg.sparsity_ - 0.8) <= 0.02 * 0.2)
    (True, True)
    """

    def _is_classifier_task(self):
        return False

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    def _loss_name(self, target):
        return "squared_error"

    def _encode_target(self, y):
        target = y.reshape(-1, 1) if y.ndim == 1 else y
        return target.astype(np.float64, copy=False)

    def _score_raw(self, raw, y, sample_weight):
        return r2_score(y, raw.reshape(y.shape), sample_weight=sample_weight)

    def predict(self, X):
        """Predict with the sparse network.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        y : ndarray of shape (n_samples,) or (n_samples, n_outputs)
            Float64 predictions; 1-D when ``y`` was 1-D in ``fit``.
        """
        raw = self._raw_predict(X)
        return raw[:, 0] if self._target_is_1d else raw
