"""How well a fitted network satisfies the first-order optimality conditions
of its ℓ1 problem.

At a (local) minimizer of ``L(Θ) + Σ_j λ_j ‖W_j‖₁`` every nonzero weight has
``∂L/∂w = −λ_j · sign(w)`` and every zero weight ``|∂L/∂w| ≤ λ_j``, with
``L`` the mean data loss over the training set (§3 of the method). Proximal
training only approaches such points, and ReLU networks are only piecewise
smooth, so these conditions hold approximately; :func:`stationarity` says
how nearly, for the ℓ1 network of a fitted estimator (``l1_coefs_``) at the
λ it reports (``alpha_``).
"""

from types import SimpleNamespace

import numpy as np
import torch
from sklearn.utils import Bunch
from sklearn.utils.validation import check_is_fitted, validate_data

from sk_sparse_l1._data import TrainingData
from sk_sparse_l1._network import Network
from sk_sparse_l1._trainer import batch_loss_and_gradients

__all__ = ["stationarity"]


def stationarity(estimator, X, y, sample_weight=None, *, band=0.3):
    """The optimality conditions of the ℓ1 network of ``estimator`` at its λ.

    Parameters
    ----------
    estimator : SparseL1Regressor or SparseL1Classifier
        A fitted estimator.
    X : {array-like, sparse matrix} of shape (n_samples, n_features)
        The training data (the conditions are those of the training loss).
    y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        The training targets.
    sample_weight : array-like of shape (n_samples,), default=None
        The sample weights of the fit, if any.
    band : float, default=0.3
        Relative width of the band around λ that counts as ``|∂L/∂w| = λ``
        on nonzero weights.

    Returns
    -------
    report : Bunch
        - ``median_ratio``: median of ``|∂L/∂w| / λ`` over nonzero weights
          (1 at a stationary point);
        - ``within_band``: fraction of nonzero weights with
          ``|∂L/∂w| / λ`` within ``1 ± band``;
        - ``opposite_sign``: fraction of nonzero weights whose gradient has
          the sign opposite to the weight, as stationarity requires;
        - ``violating_zeros``: fraction of zero weights with
          ``|∂L/∂w| > λ`` (0 at a stationary point);
        - ``n_nonzero``, ``n_zero``: the counts;
        - ``alpha``: λ per layer.

    Examples
    --------
    >>> from sklearn.datasets import load_diabetes
    >>> from sklearn.preprocessing import scale
    >>> from sk_sparse_l1 import SparseL1Regressor
    >>> from sk_sparse_l1.diagnostics import stationarity
    >>> X, y = load_diabetes(return_X_y=True)
    >>> X, y = scale(X), scale(y)
    >>> reg = SparseL1Regressor((16,), alpha=0.01, max_iter=300,
    ...                         random_state=0).fit(X, y)
    >>> report = stationarity(reg, X, y)
    >>> sorted(report)  # doctest: +NORMALIZE_WHITESPACE
    ['alpha', 'median_ratio', 'n_nonzero', 'n_zero', 'opposite_sign',
     'violating_zeros', 'within_band']
    """
    check_is_fitted(estimator)
    X = validate_data(
        estimator,
        X,
        accept_sparse=["csr", "csc"],
        dtype=(np.float64, np.float32),
        reset=False,
    )
    target = estimator._encoded_target(y)
    if target.shape[0] != X.shape[0]:
        raise ValueError(
            f"X and y must have the same number of rows, got {X.shape[0]} and "
            f"{target.shape[0]}."
        )
    weight = estimator._combined_sample_weight(X, np.asarray(y), sample_weight)
    dtype = (
        torch.float64 if estimator.l1_coefs_[0].dtype == np.float64 else torch.float32
    )
    data = TrainingData.from_arrays(X, target, weight, dtype, "cpu")
    layers = [
        SimpleNamespace(
            weight=torch.as_tensor(W.T.copy(), dtype=dtype),
            bias=torch.as_tensor(b.copy(), dtype=dtype),
        )
        for W, b in zip(estimator.l1_coefs_, estimator.l1_intercepts_)
    ]
    network = Network(layers, estimator.activation, estimator._loss_name())
    with torch.no_grad():
        _, gradients, _ = batch_loss_and_gradients(network, data, None)
    alphas = np.broadcast_to(np.asarray(estimator.alpha_, dtype=float), len(layers))
    ratios, signs, violating, n_zero = [], [], 0, 0
    for layer, g, lam in zip(layers, gradients, alphas):
        w = layer.weight.numpy()
        g = g.numpy()
        nonzero = w != 0
        if lam <= 0:
            continue
        ratios.append(np.abs(g[nonzero]) / lam)
        signs.append(np.sign(g[nonzero]) == -np.sign(w[nonzero]))
        violating += int(np.count_nonzero(np.abs(g[~nonzero]) > lam))
        n_zero += int(np.count_nonzero(~nonzero))
    ratios = np.concatenate(ratios) if ratios else np.array([])
    signs = np.concatenate(signs) if signs else np.array([], dtype=bool)
    return Bunch(
        median_ratio=float(np.median(ratios)) if ratios.size else np.nan,
        within_band=float(np.mean(np.abs(ratios - 1) <= band))
        if ratios.size
        else np.nan,
        opposite_sign=float(np.mean(signs)) if signs.size else np.nan,
        violating_zeros=violating / n_zero if n_zero else 0.0,
        n_nonzero=int(ratios.size),
        n_zero=n_zero,
        alpha=alphas.copy(),
    )
