"""SparseL1RegressorCV and SparseL1ClassifierCV: the sparsity level chosen by
cross-validation along warm-started ℓ1 paths, as ``LassoCV`` chooses λ.

Each fold fits one :func:`sk_sparse_l1.l1_path` on its training part and
scores every point of it on its test part; the folds run in parallel through
joblib, so a Dask backend spreads them as it does for ``GridSearchCV``. The
level chosen is refitted on all the data by the base estimator with that
``target_sparsity`` (or ``alpha``).
"""

from numbers import Integral

import numpy as np
from joblib import Parallel, delayed
from sklearn.base import (
    BaseEstimator,
    ClassifierMixin,
    RegressorMixin,
    _fit_context,
    clone,
    is_classifier,
)
from sklearn.metrics import check_scoring
from sklearn.model_selection import check_cv
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import (
    _check_sample_weight,
    check_is_fitted,
    validate_data,
)

from sk_sparse_l1._classifier import SparseL1Classifier
from sk_sparse_l1._path import check_levels, l1_path
from sk_sparse_l1._regressor import SparseL1Regressor

# The parameters of the search; every other parameter is the base
# estimator's, passed on unchanged (but warm_start: a path starts afresh).
CV_PARAMS = (
    "sparsities", "alphas", "cv", "scoring", "n_jobs", "selection",
    "max_iter_per_point",
)  # fmt: skip
CV_CONSTRAINTS = {
    "sparsities": ["array-like", None],
    "alphas": ["array-like", None],
    "cv": ["cv_object"],
    "scoring": [str, callable, None],
    "n_jobs": [Integral, None],
    "selection": [StrOptions({"best", "1se"})],
    "max_iter_per_point": [Interval(Integral, 1, None, closed="left"), None],
}
# The fitted attributes of the refitted estimator that the CV estimator
# shows as its own (those that exist: l1_coefs_ only after a refit, …).
SHOWN = (
    "coefs_", "intercepts_", "sparse_coefs_", "l1_coefs_", "l1_intercepts_",
    "n_layers_", "n_outputs_", "out_activation_", "n_nonzero_",
    "layer_n_nonzero_", "sparsity_", "layer_sparsity_", "support_", "n_iter_",
    "loss_curve_", "target_reached_", "classes_",
)  # fmt: skip


def _fold_path(estimator, X, y, sample_weight, split, path_params, scorer):
    """One fold: the path on the ``split``'s training part, each point scored
    on its test part."""
    train, test = split
    kind, levels, max_iter_per_point = path_params
    weight = None if sample_weight is None else sample_weight[train]
    path = l1_path(
        estimator,
        X[train],
        y[train],
        sparsities=levels if kind == "sparsity" else None,
        alphas=levels if kind == "alpha" else None,
        max_iter_per_point=max_iter_per_point,
        sample_weight=weight,
        return_estimators=True,
    )
    scores = [scorer(est, X[test], y[test]) for est in path.estimators]
    return np.array(scores, dtype=float), path.sparsity, path.alphas


def select_level(mean, std, n_folds, selection):
    """Index of the level chosen from the mean and std of the fold scores,
    levels ordered dense to sparse.

    ``"best"``: the best mean score (the first, densest, of equal ones, as
    ``GridSearchCV`` picks). ``"1se"``: the sparsest level whose mean score is
    within one standard error (``std / √n_folds``) of the best, glmnet's
    ``lambda.1se`` rule.
    """
    best = int(np.argmax(mean))
    if selection == "best":
        return best
    threshold = mean[best] - std[best] / np.sqrt(n_folds)
    return int(np.flatnonzero(mean >= threshold)[-1])


class _BaseSparseL1CV(BaseEstimator):
    """Shared implementation; use SparseL1RegressorCV or SparseL1ClassifierCV."""

    _estimator_class = None

    def _base_params(self):
        params = self.get_params(deep=False)
        for name in CV_PARAMS:
            params.pop(name)
        return params

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Cross-validate a path of levels, then refit the chosen one.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Target values.
        sample_weight : array-like of shape (n_samples,), default=None
            Weights of the training fits (the test scores are unweighted, as
            in ``GridSearchCV``).

        Returns
        -------
        self : object
            The fitted estimator.
        """
        classifier = is_classifier(self)
        X, y = validate_data(
            self,
            X,
            y,
            accept_sparse=["csr", "csc"],
            dtype=(np.float64, np.float32),
            multi_output=True,
            y_numeric=not classifier,
        )
        if classifier:
            check_classification_targets(y)
        if sample_weight is not None:
            sample_weight = _check_sample_weight(sample_weight, X)
        kind, levels = check_levels(self.sparsities, self.alphas)
        base = self._estimator_class(**self._base_params())
        scorer = check_scoring(base, scoring=self.scoring)
        splits = list(check_cv(self.cv, y, classifier=classifier).split(X, y))

        path_params = (kind, levels, self.max_iter_per_point)
        folds = Parallel(n_jobs=self.n_jobs)(
            delayed(_fold_path)(base, X, y, sample_weight, split, path_params, scorer)
            for split in splits
        )
        scores, sparsities, alphas = (np.vstack(part) for part in zip(*folds))
        self._set_cv_results(kind, levels, scores, sparsities, alphas)

        chosen = float(levels[self.best_index_])
        if kind == "sparsity":
            refit = {"target_sparsity": chosen}
        else:
            refit = {"target_sparsity": None, "alpha": chosen}
        self.estimator_ = clone(base).set_params(**refit)
        self.estimator_.fit(X, y, sample_weight=sample_weight)
        for name in SHOWN:
            if hasattr(self.estimator_, name):
                setattr(self, name, getattr(self.estimator_, name))
        self.target_sparsity_ = chosen if kind == "sparsity" else None
        self.alpha_ = self.estimator_.alpha_
        return self

    def _set_cv_results(self, kind, levels, scores, sparsities, alphas):
        """``cv_results_`` (one entry per level, dense to sparse),
        ``best_index_`` and ``levels_``."""
        mean, std = scores.mean(axis=0), scores.std(axis=0)
        order = np.argsort(-mean, kind="stable")
        rank = np.empty(len(levels), dtype=np.int32)
        rank[order] = np.arange(1, len(levels) + 1)
        results = {
            "target_sparsity" if kind == "sparsity" else "alpha": levels,
            "mean_test_score": mean,
            "std_test_score": std,
            "rank_test_score": rank,
            **{f"split{i}_test_score": s for i, s in enumerate(scores)},
            "mean_sparsity": sparsities.mean(axis=0),
            "mean_alpha": alphas.mean(axis=0),
        }
        self.cv_results_ = results
        self.levels_ = levels
        self.best_index_ = select_level(mean, std, len(scores), self.selection)

    def _validated(self, X):
        """``X`` checked against the data of ``fit``, as the refitted
        estimator takes it."""
        check_is_fitted(self)
        return validate_data(
            self,
            X,
            accept_sparse=["csr", "csc"],
            dtype=(np.float64, np.float32),
            reset=False,
        )

    def predict(self, X):
        """Predict with the network refitted at the chosen level.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        y : ndarray of shape (n_samples,) or (n_samples, n_outputs)
        """
        X = self._validated(X)  # first: NotFittedError before fit
        return self.estimator_.predict(X)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        base = self._estimator_class().__sklearn_tags__()
        tags.input_tags.sparse = base.input_tags.sparse
        tags.target_tags.multi_output = base.target_tags.multi_output
        tags.non_deterministic = base.non_deterministic
        if tags.classifier_tags is not None:
            tags.classifier_tags.multi_label = base.classifier_tags.multi_label
        return tags


_CV_DOC = """
    Parameters
    ----------
    hidden_layer_sizes : array-like of int or int, default=(100,)
        Width of each hidden layer.
    sparsities : array-like of float, default=None
        The global fractions of zero weights to compare, each in [0, 1).
        Without ``sparsities`` and ``alphas``: (0.5, 0.7, 0.8, 0.9, 0.95,
        0.98).
    alphas : array-like of float, default=None
        ℓ1 strengths λ to compare instead of ``sparsities``.
    cv : int, cross-validation generator or iterable, default=None
        As for ``GridSearchCV``: None for 5 folds (stratified for a
        classifier).
    scoring : str or callable, default=None
        The test score of each fold and level; None for the estimator's
        ``score``.
    n_jobs : int, default=None
        Folds run in parallel through joblib (-1: all cores). Each fit also
        uses ``n_threads`` torch threads.
    selection : {'best', '1se'}, default='best'
        ``'best'``: the level of best mean score. ``'1se'``: the sparsest
        level whose mean score is within one standard error
        (``std / √n_folds``) of the best.
    max_iter_per_point : int, default=None
        Epochs of each warm-started point of a fold's path; None: about
        ``max_iter`` shared among the points after the first (see
        :func:`sk_sparse_l1.l1_path`).
    **params
        Every other parameter is that of the base estimator, with the same
        default, passed to every fit unchanged. ``refit`` among them is the
        base estimator's (retrain the kept weights without penalty at the
        end of each fit), not ``GridSearchCV``'s: the chosen level is
        always fitted again on all the data.

    Attributes
    ----------
    target_sparsity_ : float or None
        The level chosen (None when comparing ``alphas``).
    alpha_ : float
        λ of the final fit at the chosen level.
    cv_results_ : dict of ndarray
        One entry per level, levels sorted dense to sparse:
        ``target_sparsity`` (or ``alpha``), ``mean_test_score``,
        ``std_test_score``, ``rank_test_score``, ``split<k>_test_score``, and
        the ``mean_sparsity`` and ``mean_alpha`` the fold paths reached.
    best_index_ : int
        Index of the chosen level in ``cv_results_``.
    levels_ : ndarray
        The levels compared, dense to sparse.
    estimator_ : estimator
        The base estimator refitted on all the data at the chosen level;
        its fitted attributes ``coefs_``, ``intercepts_``, ``sparsity_``,
        ``layer_sparsity_``, ``n_nonzero_``, ``support_``, ``loss_curve_``, …
        are also attributes of the CV estimator.
    n_features_in_ : int
        Number of features seen during ``fit``.
"""


class SparseL1RegressorCV(RegressorMixin, _BaseSparseL1CV):
    __doc__ = (
        """Sparse ℓ1 regressor with the sparsity level chosen by
    cross-validation.

    Every fold fits a warm-started path of levels
    (:func:`sk_sparse_l1.l1_path`) and scores each point; the chosen level
    (``selection``) is refitted on all the data by
    :class:`~sk_sparse_l1.SparseL1Regressor` with that ``target_sparsity``
    (or ``alpha``), which minimizes the mean squared error plus
    ``λ Σ_j ‖W_j‖₁``.
"""
        + _CV_DOC
        + """
    Examples
    --------
    >>> from sklearn.datasets import make_regression
    >>> from sk_sparse_l1 import SparseL1RegressorCV
    >>> X, y = make_regression(n_samples=120, n_features=5, random_state=0)
    >>> reg = SparseL1RegressorCV(hidden_layer_sizes=(8,), sparsities=[0.3, 0.6],
    ...                           cv=3, max_iter=30, learning_rate_init=0.01,
    ...                           random_state=0).fit(X, y)
    >>> reg.target_sparsity_ in (0.3, 0.6), len(reg.cv_results_["mean_test_score"])
    (True, 2)
    """
    )

    _estimator_class = SparseL1Regressor
    _parameter_constraints: dict = {
        **{
            k: v
            for k, v in SparseL1Regressor._parameter_constraints.items()
            if k not in ("alpha", "target_sparsity", "warm_start")
        },
        **CV_CONSTRAINTS,
    }

    def __init__(
        self,
        hidden_layer_sizes=(100,),
        *,
        sparsities=None,
        alphas=None,
        cv=None,
        scoring=None,
        n_jobs=None,
        selection="best",
        max_iter_per_point=None,
        activation="relu",
        solver="adam",
        sparsity_tol=0.02,
        search="online",
        max_search_rounds=30,
        refit="auto",
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
        random_state=None,
        verbose=0,
        device="cpu",
        n_threads="auto",
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.sparsities = sparsities
        self.alphas = alphas
        self.cv = cv
        self.scoring = scoring
        self.n_jobs = n_jobs
        self.selection = selection
        self.max_iter_per_point = max_iter_per_point
        self.activation = activation
        self.solver = solver
        self.sparsity_tol = sparsity_tol
        self.search = search
        self.max_search_rounds = max_search_rounds
        self.refit = refit
        self.batch_size = batch_size
        self.learning_rate_init = learning_rate_init
        self.max_iter = max_iter
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.random_state = random_state
        self.verbose = verbose
        self.device = device
        self.n_threads = n_threads


class SparseL1ClassifierCV(ClassifierMixin, _BaseSparseL1CV):
    __doc__ = (
        """Sparse ℓ1 classifier with the sparsity level chosen by
    cross-validation.

    Every fold fits a warm-started path of levels
    (:func:`sk_sparse_l1.l1_path`) and scores each point; the chosen level
    (``selection``) is refitted on all the data by
    :class:`~sk_sparse_l1.SparseL1Classifier` with that ``target_sparsity``
    (or ``alpha``), which minimizes the mean cross-entropy plus
    ``λ Σ_j ‖W_j‖₁``.
"""
        + _CV_DOC
        + """    classes_ : ndarray
        The class labels.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sk_sparse_l1 import SparseL1ClassifierCV
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = SparseL1ClassifierCV(hidden_layer_sizes=(8,), sparsities=[0.3, 0.6],
    ...                            cv=3, max_iter=30, learning_rate_init=0.01,
    ...                            random_state=0).fit(X, y)
    >>> clf.target_sparsity_ in (0.3, 0.6), clf.predict(X[:2]).shape
    (True, (2,))
    """
    )

    _estimator_class = SparseL1Classifier
    _parameter_constraints: dict = {
        **{
            k: v
            for k, v in SparseL1Classifier._parameter_constraints.items()
            if k not in ("alpha", "target_sparsity", "warm_start")
        },
        **CV_CONSTRAINTS,
    }

    def __init__(
        self,
        hidden_layer_sizes=(100,),
        *,
        sparsities=None,
        alphas=None,
        cv=None,
        scoring=None,
        n_jobs=None,
        selection="best",
        max_iter_per_point=None,
        activation="relu",
        solver="adam",
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
        random_state=None,
        verbose=0,
        device="cpu",
        n_threads="auto",
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.sparsities = sparsities
        self.alphas = alphas
        self.cv = cv
        self.scoring = scoring
        self.n_jobs = n_jobs
        self.selection = selection
        self.max_iter_per_point = max_iter_per_point
        self.activation = activation
        self.solver = solver
        self.sparsity_tol = sparsity_tol
        self.search = search
        self.max_search_rounds = max_search_rounds
        self.refit = refit
        self.class_weight = class_weight
        self.batch_size = batch_size
        self.learning_rate_init = learning_rate_init
        self.max_iter = max_iter
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.random_state = random_state
        self.verbose = verbose
        self.device = device
        self.n_threads = n_threads

    def predict_proba(self, X):
        """Class probabilities of the network refitted at the chosen level,
        columns in the order of ``classes_``."""
        X = self._validated(X)
        return self.estimator_.predict_proba(X)

    def predict_log_proba(self, X):
        """Log of :meth:`predict_proba`."""
        X = self._validated(X)
        return self.estimator_.predict_log_proba(X)
