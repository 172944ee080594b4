"""Displays of how sparse a network is, drawn as scikit-learn draws them.

:class:`SparsityPathDisplay` plots the cross-validated score of each
sparsity level, with its spread, and the nonzero weights, against the
sparsity or λ, marking the level chosen. :class:`LayerSparsityDisplay` shows
which weights of each layer are nonzero, one spy image per layer, and which
inputs the network uses.

Each has ``from_estimator`` (build and draw from a fitted estimator) and
``plot(ax=...)``, and keeps ``figure_`` and ``ax_``. matplotlib is an
optional dependency (``pip install "sk_sparse_l1[plot]"``), imported when a
display draws, not when this module is imported.
"""

import numpy as np
from sklearn.utils.validation import check_is_fitted


def _pyplot(caller):
    """matplotlib.pyplot, or an ImportError that says how to install it."""
    try:
        import matplotlib.pyplot as plt
    except ImportError as error:
        raise ImportError(
            f"{caller} needs matplotlib: pip install 'sk_sparse_l1[plot]' "
            "(or pip install matplotlib)."
        ) from error
    return plt


class SparsityPathDisplay:
    """Cross-validated score and nonzero weights along the sparsity levels.

    Build it with :meth:`from_estimator` from a fitted
    :class:`~sk_sparse_l1.SparseL1RegressorCV` or
    :class:`~sk_sparse_l1.SparseL1ClassifierCV`.

    Parameters
    ----------
    x : ndarray of shape (n_levels,)
        The sparsity levels (or λ) on the horizontal axis.
    mean_test_score, std_test_score : ndarray of shape (n_levels,)
        Mean and standard deviation of the fold scores at each level.
    n_nonzero : ndarray of shape (n_levels,)
        Nonzero weights at each level (mean over the folds).
    chosen_index : int, default=None
        The level chosen, marked by a vertical line.
    xlabel : str, default="sparsity (fraction of zero weights)"
    score_name : str, default="CV score"

    Attributes
    ----------
    ax_ : matplotlib Axes
        The axes of the score.
    ax_nonzero_ : matplotlib Axes
        The twin axes of the nonzero count (right-hand scale).
    figure_ : matplotlib Figure
    line_ : matplotlib Line2D
        The mean score.
    """

    def __init__(
        self,
        *,
        x,
        mean_test_score,
        std_test_score,
        n_nonzero,
        chosen_index=None,
        xlabel="sparsity (fraction of zero weights)",
        score_name="CV score",
    ):
        self.x = np.asarray(x, dtype=float)
        self.mean_test_score = np.asarray(mean_test_score, dtype=float)
        self.std_test_score = np.asarray(std_test_score, dtype=float)
        self.n_nonzero = np.asarray(n_nonzero, dtype=float)
        self.chosen_index = chosen_index
        self.xlabel = xlabel
        self.score_name = score_name

    @classmethod
    def from_estimator(cls, estimator, *, x="sparsity", ax=None):
        """Draw the cross-validation results of a fitted CV estimator.

        Parameters
        ----------
        estimator : SparseL1RegressorCV or SparseL1ClassifierCV
            Fitted.
        x : {'sparsity', 'alpha'}, default='sparsity'
            The horizontal axis: the fraction of zero weights the folds
            reached, or their mean λ (log scale).
        ax : matplotlib Axes, default=None
            Where to draw; None for a new figure.

        Returns
        -------
        display : SparsityPathDisplay
        """
        check_is_fitted(estimator, "cv_results_")
        if x not in ("sparsity", "alpha"):
            raise ValueError(f"x must be 'sparsity' or 'alpha', got {x!r}.")
        results = estimator.cv_results_
        n_weights = sum(W.size for W in estimator.coefs_)
        sparsity = results["mean_sparsity"]
        values = sparsity if x == "sparsity" else results["mean_alpha"]
        label = "sparsity (fraction of zero weights)" if x == "sparsity" else "λ"
        display = cls(
            x=values,
            mean_test_score=results["mean_test_score"],
            std_test_score=results["std_test_score"],
            n_nonzero=(1.0 - sparsity) * n_weights,
            chosen_index=estimator.best_index_,
            xlabel=label,
        )
        return display.plot(ax=ax, log_x=x == "alpha")

    def plot(self, ax=None, *, log_x=False):
        """Draw the score with a band of ± one standard deviation, the
        nonzero count on a twin axis, and the chosen level.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Where to draw; None for a new figure.
        log_x : bool, default=False
            A logarithmic horizontal axis (for λ).

        Returns
        -------
        display : SparsityPathDisplay
            ``self``, with ``ax_``, ``ax_nonzero_``, ``figure_``, ``line_``.
        """
        plt = _pyplot("SparsityPathDisplay")
        if ax is None:
            _, ax = plt.subplots()
        mean, std = self.mean_test_score, self.std_test_score
        (self.line_,) = ax.plot(self.x, mean, marker="o", label=self.score_name)
        ax.fill_between(self.x, mean - std, mean + std, alpha=0.2)
        ax.set(xlabel=self.xlabel, ylabel=self.score_name)
        if log_x:
            ax.set_xscale("log")
        self.ax_nonzero_ = ax.twinx()
        self.ax_nonzero_.plot(
            self.x, self.n_nonzero, color="gray", linestyle="--", marker="."
        )
        self.ax_nonzero_.set_ylabel("nonzero weights", color="gray")
        if self.chosen_index is not None:
            ax.axvline(
                self.x[self.chosen_index], color="black", linestyle=":",
                label="chosen",
            )  # fmt: skip
        ax.legend(loc="lower left")
        self.ax_, self.figure_ = ax, ax.figure
        return self


class LayerSparsityDisplay:
    """Which weights of each layer are nonzero, and the inputs used.

    One spy image per weight matrix, rows its inputs and columns its units
    (``coefs_[j]``, of shape (fan_in, fan_out)), black where a weight is
    nonzero, titled with the layer's fraction of zeros. The first image's
    rows are the features: an all-white row is an input the network ignores.

    Parameters
    ----------
    coefs : list of ndarray
        The weight matrices, as ``coefs_``.
    feature_names : array-like of str, default=None
        Names of the input rows of the first layer.

    Attributes
    ----------
    ax_ : ndarray of matplotlib Axes
        One per layer.
    figure_ : matplotlib Figure
    layer_sparsity : ndarray of shape (n_layers,)
        Fraction of zeros of each layer.
    support : ndarray of bool, shape (n_features,)
        The inputs with a nonzero weight (an estimator's ``support_``).
    """

    def __init__(self, *, coefs, feature_names=None):
        self.coefs = [np.asarray(W) for W in coefs]
        self.feature_names = feature_names
        self.layer_sparsity = np.array([np.mean(W == 0) for W in self.coefs])
        self.support = np.any(self.coefs[0] != 0, axis=1)

    @classmethod
    def from_estimator(cls, estimator, *, feature_names=None, ax=None):
        """Draw the zero pattern of a fitted estimator's network.

        Parameters
        ----------
        estimator : fitted estimator with ``coefs_``
            A :class:`~sk_sparse_l1.SparseL1Regressor`,
            :class:`~sk_sparse_l1.SparseL1Classifier` or one of their CV
            versions.
        feature_names : array-like of str, default=None
            Names of the inputs; None for the estimator's
            ``feature_names_in_``, if any.
        ax : array-like of matplotlib Axes, default=None
            One per weight layer; None for a new figure.

        Returns
        -------
        display : LayerSparsityDisplay
        """
        check_is_fitted(estimator, "coefs_")
        if feature_names is None:
            feature_names = getattr(estimator, "feature_names_in_", None)
        return cls(coefs=estimator.coefs_, feature_names=feature_names).plot(ax=ax)

    def plot(self, ax=None):
        """Draw one spy image per layer.

        Parameters
        ----------
        ax : array-like of matplotlib Axes, default=None
            One per weight layer; None for a new figure.

        Returns
        -------
        display : LayerSparsityDisplay
            ``self``, with ``ax_`` and ``figure_``.
        """
        plt = _pyplot("LayerSparsityDisplay")
        n_layers = len(self.coefs)
        if ax is None:
            _, ax = plt.subplots(1, n_layers, figsize=(3 * n_layers, 3.5))
        axes = np.atleast_1d(np.asarray(ax, dtype=object)).ravel()
        if axes.size != n_layers:
            raise ValueError(
                f"ax must hold one Axes per weight layer: expected {n_layers}, "
                f"got {axes.size}."
            )
        for j, (axis, W) in enumerate(zip(axes, self.coefs)):
            axis.spy(W != 0, aspect="auto", markersize=None)
            axis.set_title(
                f"layer {j + 1}: {self.layer_sparsity[j]:.0%} zeros", fontsize=10
            )
            axis.set_xlabel("unit")
        first = axes[0]
        used = int(self.support.sum())
        first.set_ylabel(f"input ({used} of {self.support.size} used)")
        if self.feature_names is not None and len(self.feature_names) <= 30:
            first.set_yticks(range(len(self.feature_names)))
            first.set_yticklabels(self.feature_names, fontsize=7)
        self.ax_, self.figure_ = axes, first.figure
        return self
