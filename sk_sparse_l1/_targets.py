"""Sparsity targets and the paper's λ update: the parts that need no network.

Sparsity is tracked in *groups* of weight layers that share one λ: a single
group holding every layer for a global target, one group per layer for
layer-wise targets. Everything here works on plain numbers and numpy arrays,
so it can be tested against synthetic sparsity curves.
"""

import math
from dataclasses import dataclass, field
from numbers import Real

import numpy as np
from sklearn.utils._param_validation import InvalidParameterError


def check_fractions(name, value):
    """Every entry of a float or sequence must be a fraction in [0, 1)."""
    for v in np.atleast_1d(np.asarray(value, dtype=object)).ravel():
        ok = isinstance(v, Real) and not isinstance(v, bool) and np.isfinite(v)
        if not ok or not 0 <= v < 1:
            raise InvalidParameterError(
                f"The '{name}' parameter must be a float in [0, 1) or a sequence "
                f"of such floats, one per weight layer. Got {value!r} instead."
            )


def target_nonzeros(target_sparsity, weight_counts):
    """Nonzero counts ``T = round((1 − s) · n)`` and the layers of each group.

    Parameters
    ----------
    target_sparsity : float or sequence of float
        A global fraction of zero weights, or one fraction per weight layer.
    weight_counts : sequence of int
        Number of penalized weights in each layer.

    Returns
    -------
    targets : ndarray of int, shape (n_groups,)
    groups : list of list of int
        The layer indices of each group.
    """
    weight_counts = [int(n) for n in weight_counts]
    if np.ndim(target_sparsity) == 0:
        groups = [list(range(len(weight_counts)))]
        fractions = [float(target_sparsity)]
    else:
        fractions = [float(s) for s in target_sparsity]
        if len(fractions) != len(weight_counts):
            raise ValueError(
                f"target_sparsity has one entry per weight layer: expected "
                f"{len(weight_counts)} values, got {len(fractions)}."
            )
        groups = [[j] for j in range(len(weight_counts))]
    sizes = [sum(weight_counts[j] for j in group) for group in groups]
    targets = np.array(
        [round((1.0 - s) * n) for s, n in zip(fractions, sizes)], dtype=np.int64
    )
    return targets, groups


def group_counts(layer_counts, groups):
    """Sum per-layer counts into per-group counts."""
    return np.array([sum(layer_counts[j] for j in group) for group in groups])


def fitted_alpha(lambdas, layer_wise):
    """``alpha_``: the λ per layer (an array) for layer-wise settings, else
    the one λ (a float); NaN when no λ was chosen."""
    lambdas = [np.nan] if lambdas is None else lambdas
    return np.asarray(lambdas, dtype=float) if layer_wise else float(lambdas[0])


def path_arrays(path_lambdas, path_nonzeros, group_sizes):
    """``alphas_`` and ``sparsities_``: the λ and the fraction of zeros of
    each group (columns) at each point of the path (rows)."""
    n_groups = len(group_sizes)
    alphas = np.asarray(path_lambdas, dtype=float).reshape(-1, n_groups)
    nonzeros = np.asarray(path_nonzeros, dtype=float).reshape(-1, n_groups)
    return alphas, 1.0 - nonzeros / group_sizes


def within_tolerance(nonzeros, targets, tol):
    """True when every group's nonzero count is within ``tol · T`` of its
    target ``T`` (and at least within one weight).

    The tolerance is relative to the nonzero count, as in Shen et al.: at
    high sparsity an absolute tolerance on the fraction of zeros would
    accept a network with no weight left.
    """
    nonzeros = np.asarray(nonzeros, dtype=float)
    targets = np.asarray(targets, dtype=float)
    allowed = np.maximum(tol * targets, 1.0)
    return bool(np.all(np.abs(nonzeros - targets) <= allowed + 1e-9))


@dataclass
class GroupHistory:
    """The (λ, nonzeros) pairs seen for one group and the bracket they give.

    More λ means fewer nonzeros. ``upper`` is the smallest λ seen whose count
    is at or below the target (too sparse or exact), ``lower`` the largest λ
    whose count is at or above it (too dense or exact).
    """

    target: int
    lambdas: list = field(default_factory=list)
    nonzeros: list = field(default_factory=list)

    def record(self, lam, nonzeros):
        self.lambdas.append(float(lam))
        self.nonzeros.append(int(nonzeros))

    @property
    def upper(self):
        seen = [lam for lam, k in zip(self.lambdas, self.nonzeros) if k <= self.target]
        return min(seen) if seen else None

    @property
    def lower(self):
        seen = [lam for lam, k in zip(self.lambdas, self.nonzeros) if k >= self.target]
        return max(seen) if seen else None


def geometric_midpoint(low, high):
    """λ halfway between ``low`` and ``high`` on a log scale.

    λ spans orders of magnitude (the paper's bracket starts at 1e-7 and
    1e-3), so the arithmetic midpoint would bisect almost nothing but the top
    decade.
    """
    if low <= 0:
        return high / 10.0
    return math.sqrt(low * high)


def next_lambda(history, gradient_magnitudes, expansion=10.0):
    """The paper's update for one group, with an unbracketed start handled.

    If the history brackets the target, return the median of the gradient
    magnitudes ``γ_k = |∂L/∂w_k|`` that lie strictly inside the bracket, or
    the bracket's geometric midpoint when none do. If every λ tried so far
    left too many nonzeros, grow the largest by ``expansion``; if every λ
    left too few, shrink the smallest by it.
    """
    upper, lower = history.upper, history.lower
    if upper is None:
        return max(history.lambdas) * expansion
    if lower is None:
        return min(history.lambdas) / expansion
    gamma = np.asarray(gradient_magnitudes, dtype=float).ravel()
    inside = gamma[(gamma > lower) & (gamma < upper)]
    if inside.size:
        return float(np.median(inside))
    return geometric_midpoint(lower, upper)
