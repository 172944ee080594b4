"""The ℓ1 path: a network fitted at a sequence of sparsity levels (or λ),
each point warm-started from the previous one.

Along increasing λ the zero pattern mostly grows (ALGORITHM.md §3: raising λ
above a weight's gradient magnitude removes it), so the network fitted at
one level is a good start for the next sparser one: each later point needs a
short fit only. A point is the estimator's own ``fit`` with
``warm_start=True``, which starts its λ warm-up at the previous ``alpha_``
(see ``_estimator.BaseSparseL1._new_schedule``); the λ a point reports is
its ``alpha_``, the λ its fit held at its level. A fresh fit at that λ
starts from a new network instead, so it lands near the level, not on it
(benchmarks/bench_path_cv.py measures how near).
"""

import copy
import math
import warnings
from numbers import Integral

import numpy as np
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import Bunch

from sk_sparse_l1._estimator import BaseSparseL1

# The levels of a path when none are given: from half the weights zero to
# 98%, denser where accuracy usually starts to fall.
DEFAULT_SPARSITIES = (0.5, 0.7, 0.8, 0.9, 0.95, 0.98)
# A warm-started point that misses its level is fitted again from the point
# before, with twice the budget, at most this many times.
MAX_RETRIES = 2
# Fewer epochs than this leave the warm-up and the cooling of a point too
# short to settle its zero pattern.
MIN_EPOCHS_PER_POINT = 5


def check_levels(sparsities, alphas):
    """The path's levels, sorted dense to sparse, and their kind:
    ``("sparsity", levels)`` or ``("alpha", levels)``."""
    if sparsities is not None and alphas is not None:
        raise ValueError(
            "Give sparsities or alphas, not both: expected one of them to be None."
        )
    kind, levels = "sparsity", sparsities
    if alphas is not None:
        kind, levels = "alpha", alphas
    elif sparsities is None:
        levels = DEFAULT_SPARSITIES
    try:
        levels = np.asarray(levels, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{kind} levels must be numbers, got {levels!r}.") from None
    if levels.ndim != 1 or levels.size == 0:
        raise ValueError(
            f"{kind} levels must be a non-empty 1-D sequence of floats (one "
            f"global level per point), got shape {levels.shape}."
        )
    low, high = (0.0, 1.0) if kind == "sparsity" else (0.0, np.inf)
    if not np.all(np.isfinite(levels) & (levels >= low) & (levels < high)):
        bounds = "[0, 1)" if kind == "sparsity" else "[0, inf)"
        raise ValueError(f"{kind} levels must lie in {bounds}, got {levels.tolist()}.")
    if np.unique(levels).size != levels.size:
        raise ValueError(f"{kind} levels must be distinct, got {levels.tolist()}.")
    # Dense to sparse: increasing sparsity, increasing λ.
    return kind, np.sort(levels)


def point_budget(max_iter, n_points):
    """Epochs of each warm-started point: the first point is a whole fit
    (``max_iter`` epochs) and the others share about as many again, so that
    a path costs about two fits."""
    if n_points == 1:
        return max_iter
    return max(math.ceil(max_iter / (n_points - 1)), MIN_EPOCHS_PER_POINT)


def _fit_point(previous, X, y, sample_weight, *, retries):
    """Fit a copy of ``previous`` (its parameters set for the point) and
    return it with the epochs run.

    With a target sparsity, a warm-started point that misses starts again
    from the network of ``previous``, with twice the budget and its λ
    warm-up from the bottom of its range, at most ``retries`` times. A warm
    start begins the warm-up at the previous ``alpha_``; when that λ was
    already too large for the new level (the point overshot), continuing
    could not come back. The warnings of each fit are dropped: a short
    point ends before its loss settles by design, and a missed target is
    reported once for the path.
    """
    n_iter, budget = 0, previous.max_iter
    for attempt in range(retries + 1):
        estimator = copy.deepcopy(previous).set_params(max_iter=budget)
        if attempt:
            # What the warm start reads to start its warm-up
            # (BaseSparseL1._new_schedule); NaN: the data-scaled start.
            estimator.alpha_ = np.nan
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            estimator.fit(X, y, sample_weight=sample_weight)
        n_iter += estimator.n_iter_
        if estimator.target_sparsity is None or estimator.target_reached_:
            break
        budget *= 2
    return estimator, n_iter


def l1_path(
    estimator,
    X,
    y,
    *,
    sparsities=None,
    alphas=None,
    max_iter_per_point=None,
    sample_weight=None,
    return_estimators=False,
):
    """Fit a network along a warm-started path of sparsity levels or of λ.

    The points are computed dense to sparse: the first is a whole fit of
    ``estimator`` (its ``max_iter`` epochs); each later one is a fit of
    ``max_iter_per_point`` epochs warm-started from the network of the
    point before (``warm_start=True``), whose λ warm-up starts at the λ the
    point before reached. With ``sparsities``, each point is a fit with that
    ``target_sparsity`` and lands within ``sparsity_tol`` of it as such a fit
    does; a warm-started point that misses is fitted again from the point
    before with twice the budget and λ rising from the bottom of its
    warm-up (at most twice), and a
    ``ConvergenceWarning`` names the levels still missed. With ``alphas``,
    each point is a fit at that fixed λ.

    Parameters
    ----------
    estimator : SparseL1Regressor or SparseL1Classifier
        The estimator to fit at each point, unfitted or fitted (it is
        cloned, not changed). Its ``target_sparsity`` and ``alpha`` are
        replaced by the levels of the path; every other parameter holds.
    X : {array-like, sparse matrix} of shape (n_samples, n_features)
        Training data.
    y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        Target values.
    sparsities : array-like of float, default=None
        Global fractions of zero weights, each in [0, 1). Without
        ``sparsities`` and ``alphas``: (0.5, 0.7, 0.8, 0.9, 0.95, 0.98).
    alphas : array-like of float, default=None
        ℓ1 strengths λ ≥ 0, instead of ``sparsities``.
    max_iter_per_point : int, default=None
        Epochs of each warm-started point. None: ``max_iter`` shared among
        the points after the first, at least 5 each, so that the path costs
        about two fits of ``estimator``.
    sample_weight : array-like of shape (n_samples,), default=None
        Passed to every fit.
    return_estimators : bool, default=False
        Also return a copy of the fitted estimator at each point.

    Returns
    -------
    path : :class:`~sklearn.utils.Bunch`
        With, one entry (or row) per point, dense to sparse:

        - ``levels`` : the sparsities or λ asked for, sorted;
        - ``kind`` : ``"sparsity"`` or ``"alpha"``;
        - ``alphas`` : λ of each point (``alpha_``; with ``sparsities``, the
          λ the target search chose);
        - ``sparsity`` : fraction of zero weights, all layers together;
        - ``layer_sparsity`` : array of shape (n_points, n_weight_layers);
        - ``n_nonzero`` : nonzero weights;
        - ``loss`` : mean training loss of the last epoch of the point;
        - ``target_reached`` : whether the point is within ``sparsity_tol``
          of its level (all True with ``alphas``);
        - ``n_iter`` : epochs run for the point;
        - ``estimators`` : the fitted copies, with ``return_estimators``.

    Examples
    --------
    >>> from sklearn.datasets import make_regression
    >>> from sk_sparse_l1 import SparseL1Regressor, l1_path
    >>> X, y = make_regression(n_samples=100, n_features=5, random_state=0)
    >>> net = SparseL1Regressor(hidden_layer_sizes=(8,), max_iter=30,
    ...                         learning_rate_init=0.01, random_state=0)
    >>> path = l1_path(net, X, y, sparsities=[0.5, 0.8])
    >>> path.sparsity.round(1)
    array([0.5, 0.8])
    """
    if not isinstance(estimator, BaseSparseL1):
        raise TypeError(
            "l1_path fits a SparseL1Regressor or SparseL1Classifier, got "
            f"{type(estimator).__name__}."
        )
    kind, levels = check_levels(sparsities, alphas)
    if max_iter_per_point is None:
        max_iter_per_point = point_budget(estimator.max_iter, len(levels))
    elif not (
        isinstance(max_iter_per_point, Integral)
        and not isinstance(max_iter_per_point, bool)
        and max_iter_per_point >= 1
    ):
        raise ValueError(
            "max_iter_per_point must be a positive int or None, got "
            f"{max_iter_per_point!r}."
        )

    current = clone(estimator).set_params(warm_start=False)
    records, estimators = [], []
    for i, level in enumerate(levels):
        if kind == "sparsity":
            current.set_params(target_sparsity=float(level))
        else:
            current.set_params(target_sparsity=None, alpha=float(level))
        if i > 0:
            current.set_params(warm_start=True, max_iter=max_iter_per_point)
        # The first point is a whole fit; its retries would cost whole fits.
        current, n_iter = _fit_point(
            current, X, y, sample_weight, retries=MAX_RETRIES if i else 0
        )
        records.append(
            dict(
                alpha=current.alpha_,
                sparsity=current.sparsity_,
                layer_sparsity=current.layer_sparsity_,
                n_nonzero=current.n_nonzero_,
                loss=current.loss_curve_[-1],
                reached=getattr(current, "target_reached_", True),
                n_iter=n_iter,
            )
        )
        if return_estimators:
            estimators.append(copy.deepcopy(current))

    def column(name):
        return np.array([r[name] for r in records])

    path = Bunch(
        levels=levels,
        kind=kind,
        alphas=column("alpha"),
        sparsity=column("sparsity"),
        layer_sparsity=np.vstack(column("layer_sparsity")),
        n_nonzero=column("n_nonzero"),
        loss=column("loss"),
        target_reached=column("reached").astype(bool),
        n_iter=column("n_iter"),
    )
    if return_estimators:
        path.estimators = estimators
    missed = levels[~path.target_reached]
    if missed.size:
        warnings.warn(
            f"The path missed the sparsity levels {missed.tolist()} "
            f"(sparsity_tol={estimator.sparsity_tol}); it reached "
            f"{path.sparsity[~path.target_reached].round(4).tolist()}. "
            "Increase max_iter_per_point or widen sparsity_tol.",
            ConvergenceWarning,
            stacklevel=2,
        )
    return path
