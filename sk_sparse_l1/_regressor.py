"""SparseL1Regressor: squared error with an ℓ1 penalty on the weights."""

import warnings

import numpy as np
from sklearn.base import RegressorMixin, _fit_context
from sklearn.metrics import r2_score

from sk_sparse_l1._estimator import BaseSparseL1, unchanged_on_failure


class SparseL1Regressor(RegressorMixin, BaseSparseL1):
    """Multilayer perceptron regressor with ℓ1-sparse weights.

    Minimizes, over the weights ``W_j`` and biases ``b_j`` of a feed-forward
    network ``N``,

    .. math::

        \\frac{1}{n\\,k} \\sum_{i=1}^{n} s_i \\lVert N(x_i) - y_i \\rVert_2^2
        + \\sum_{j=1}^{D} \\lambda_j \\lVert W_j \\rVert_1

    (``k`` outputs, sample weights ``s_i`` averaging 1) by proximal gradient
    steps: a gradient step on the data term, then soft-thresholding of every
    weight matrix in the optimizer's own metric. Biases are not penalized.
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
    alpha : 'auto', float or array-like of float, default='auto'
        The ℓ1 strength λ: one value for the single-parameter model, or one
        per weight layer (``len(hidden_layer_sizes) + 1`` values) for the
        layer-wise model. ``'auto'`` scales λ to the data: 0.05 times the
        mean gradient magnitude of the weights of the initial network, which
        gives a sparse network on standardized data. Ignored when
        ``target_sparsity`` is set.
    target_sparsity : float, array-like of float or None, default=None
        Fraction of weights that should be exactly zero: over all weight
        matrices (a float in [0, 1)), or per weight layer (a sequence). When
        set, λ is chosen during ``fit`` and stored in ``alpha_``.
    sparsity_tol : float, default=0.02
        Accepted relative error of the nonzero count: a group of layers
        sharing a λ, with target count ``T = round((1 − s) · n)``, is on
        target when ``|nonzeros − T| ≤ max(sparsity_tol · T, 1)``.
    search : {'online', 'magnitude', 'paper'}, default='online'
        How λ is chosen for ``target_sparsity``. ``'online'``: one ℓ1
        training run within ``max_iter`` epochs; λ rises along its warm-up
        and holds where the forecast count is the target (see the user
        guide). ``'magnitude'``: gradual magnitude pruning to the target,
        then proximal ℓ1 steps at the λ that keeps exactly the target count.
        ``'paper'``: the iterative scheme of Shen et al. (2024), one full
        retraining of up to ``max_iter`` epochs per round.
    max_search_rounds : int, default=30
        Most rounds of ``search='paper'``.
    refit : 'auto' or bool, default='auto'
        Whether the last 30% of the budget retrains the nonzero weights
        without penalty, zeros held fixed, removing ℓ1's shrinkage of the
        weights it keeps. ``'auto'`` refits ``target_sparsity`` fits only; the
        ℓ1 network is kept in ``l1_coefs_``.
    batch_size : int or 'auto', default='auto'
        Minibatch size; ``'auto'`` is ``min(200, n_samples)``.
    learning_rate_init : float, default=1e-3
        Learning rate.
    max_iter : int, default=200
        Most epochs of a fit, every phase included (for ``search='paper'``:
        of each round, and ``max_search_rounds`` bounds the rounds). For
        ``partial_fit``, each call is one epoch of a schedule planned over
        ``max_iter`` calls.
    tol : float, default=1e-4
        Improvement of the monitored loss (or validation score) below which
        an epoch counts as no improvement.
    n_iter_no_change : int or np.inf, default=10
        Epochs without improvement that end a phase of the fit.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the data, monitor its R², and
        keep the best network of the last phase.
    validation_fraction : float, default=0.1
        Held-out fraction for early stopping.
    beta_1, beta_2, epsilon : float, default=0.9, 0.999, 1e-8
        Adam's parameters.
    warm_start : bool, default=False
        Start ``fit`` from the previous fit's weights.
    random_state : int, RandomState instance or None, default=None
        Seeds weight initialization, shuffling and the validation split.
    verbose : int, default=0
        1 shows a progress bar, 2 or more prints a line per epoch.
    device : {'cpu', 'cuda', 'auto'}, default='cpu'
        Where training runs. The fitted network is kept on the CPU.
    n_threads : int, 'auto' or None, default='auto'
        Number of torch threads during ``fit``, restored afterwards; None
        leaves torch's setting alone. 'auto' runs one thread unless a
        minibatch's forward pass is at least 6.4e7 multiply-adds (e.g. batch
        256 through layers of 512 × 512), and then torch's current count, at
        most the cores the 1-minute load average leaves idle: the layers of
        tabular models are small, and a second thread, or one waiting for a
        busy core, makes a step slower, not faster (measured in the speed
        section of the benchmarks page).
        With torch's OpenMP parallel backend (that of its Linux wheels;
        ``torch.__config__.parallel_info()`` names it) the count belongs to
        the thread calling ``fit``: fits run in threads, e.g. under joblib's
        ``"threading"`` backend, each train at their own ``n_threads`` and
        leave the caller's count alone. A thread that has set no count yet
        starts from the one last set anywhere in the process, possibly
        another fit's. See the user guide.

    Attributes
    ----------
    coefs_ : list of ndarray
        Weight matrices, ``coefs_[j]`` of shape (fan_in, fan_out), with exact
        zeros; in the dtype of the training data (float32 or float64).
    intercepts_ : list of ndarray
        Bias vectors.
    l1_coefs_, l1_intercepts_ : list of ndarray
        The network at the end of the ℓ1 phase, before any refit (the same
        as ``coefs_`` and ``intercepts_`` without a refit): the last
        proximal iterate at ``alpha_``. How nearly it satisfies the
        optimality conditions at ``alpha_`` is measured by
        :func:`sk_sparse_l1.diagnostics.stationarity`.
    sparse_coefs_ : list of scipy.sparse.csr_array
        ``coefs_`` in CSR form, used by ``predict`` when multiplying by the
        nonzero weights only is faster (see :mod:`sk_sparse_l1.sparse`).
    module_ : torch.nn.Sequential
        The trained network (raw outputs), on the CPU.
    alpha_ : float or ndarray
        The λ of the ℓ1 network: ``alpha``, its ``'auto'`` value, or the λ
        found for ``target_sparsity``.
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
        The λ of the last proximal step of each epoch of the ℓ1 phase and
        the sparsity after it (``'online'``, ``'magnitude'``), or of each
        round (``'paper'``), one column per group sharing a λ. Only with
        ``target_sparsity``.
    n_search_rounds_ : int
        Training runs of the search (1 for ``'online'``). Only with
        ``target_sparsity``.
    target_reached_ : bool
        Whether the final sparsity is within ``sparsity_tol``. Only with
        ``target_sparsity``.
    n_iter_ : int
        Epochs run by the last call of ``fit`` or ``partial_fit``, every
        phase included.
    loss_curve_ : list of float
        Objective after each epoch: data loss plus ``Σ λ_j ‖W_j‖₁`` at the
        λ of the epoch's last step (0 during the refit, and while
        ``search='magnitude'`` prunes).
        Grows over ``warm_start`` fits and ``partial_fit`` calls.
    best_loss_ : float or None
        Lowest monitored loss of the last phase; None with early stopping.
    validation_scores_ : list of float or None
        R² on the held-out data after each epoch, with early stopping.
    best_validation_score_ : float or None
        R² of the network kept, with early stopping.
    t_ : int
        Training samples seen, over all calls.
    out_activation_ : str
        'identity'.
    fit_time_ : float
        Seconds spent in the last call of ``fit`` or ``partial_fit``.
    n_features_in_ : int
    feature_names_in_ : ndarray
    n_layers_ : int
    n_outputs_ : int

    See Also
    --------
    SparseL1Classifier : The same model for classification.
    sklearn.neural_network.MLPRegressor : The dense network with an ℓ2
        penalty.

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
    >>> target = round(0.2 * (reg.coefs_[0].size + reg.coefs_[1].size))
    >>> reg.target_reached_, abs(reg.n_nonzero_ - target) <= max(0.02 * target, 1)
    (True, True)
    """

    def _is_classifier_task(self):
        return False

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    def _loss_name(self):
        return "squared_error"

    def _out_activation(self):
        return "identity"

    def _encode_target(self, y, first_pass, incremental, classes):
        target = y.reshape(-1, 1) if y.ndim == 1 else y
        return target.astype(np.float64, copy=False)

    def _encoded_target(self, y):
        """``y`` as the network's loss sees it, for a fitted estimator."""
        return self._encode_target(np.asarray(y, dtype=np.float64), False, False, None)

    def _score_raw(self, raw, y, sample_weight):
        return r2_score(y, raw.reshape(y.shape), sample_weight=sample_weight)

    @_fit_context(prefer_skip_nested_validation=True)
    @unchanged_on_failure
    def partial_fit(self, X, y, sample_weight=None):
        """Train for one epoch on ``X`` and ``y``, continuing the last fit.

        The first call starts a fit; each call is one epoch of its schedule,
        so λ's warm-up, the ℓ1 phase and the refit follow ``max_iter`` calls
        (see the user guide).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        self : object
        """
        for message, category in self._fit(X, y, sample_weight, incremental=True):
            # The caller's line: past this method and its two decorators.
            warnings.warn(message, category, stacklevel=4)
        return self

    def predict(self, X):
        """Predict with the sparse network.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        y : ndarray of shape (n_samples,) or (n_samples, n_outputs)
            Predictions in the dtype the network trained in (float32 for
            float32 training data); 1-D when ``y`` was 1-D in ``fit``.
        """
        raw = self._raw_predict(X)
        return raw[:, 0] if self._target_ndim == 1 else raw
