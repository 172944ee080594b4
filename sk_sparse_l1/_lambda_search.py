"""Choosing λ for a prescribed sparsity: the parts that need no network.

Sparsity is tracked in *groups* of weight layers that share one λ: a single
group holding every layer for a global target, one group per layer for
layer-wise targets. Everything here works on plain numbers and numpy arrays,
so it can be tested against synthetic sparsity curves.
"""

import math
from dataclasses import dataclass, field

import numpy as np


def target_nonzeros(target_sparsity, layer_sizes):
    """Nonzero counts ``T = round((1 − s) · n)`` and the layers of each group.

    Parameters
    ----------
    target_sparsity : float or sequence of float
        A global fraction of zero weights, or one fraction per weight layer.
    layer_sizes : sequence of int
        Number of penalized weights in each layer.

    Returns
    -------
    targets : ndarray of int, shape (n_groups,)
    groups : list of list of int
        The layer indices of each group.
    """
    layer_sizes = [int(n) for n in layer_sizes]
    if np.ndim(target_sparsity) == 0:
        groups = [list(range(len(layer_sizes)))]
        fractions = [float(target_sparsity)]
    else:
        fractions = [float(s) for s in target_sparsity]
        if len(fractions) != len(layer_sizes):
            raise ValueError(
                f"target_sparsity has one entry per weight layer: expected "
                f"{len(layer_sizes)} values, got {len(fractions)}."
            )
        groups = [[j] for j in range(len(layer_sizes))]
    sizes = [sum(layer_sizes[j] for j in group) for group in groups]
    targets = np.array(
        [round((1.0 - s) * n) for s, n in zip(fractions, sizes)], dtype=np.int64
    )
    return targets, groups


def group_counts(layer_counts, groups):
    """Sum per-layer counts into per-group counts."""
    return np.array([sum(layer_counts[j] for j in group) for group in groups])


def sparsity_errors(nonzeros, targets, group_sizes):
    """``achieved − target`` sparsity of each group, as fractions of zeros."""
    nonzeros = np.asarray(nonzeros, dtype=float)
    targets = np.asarray(targets, dtype=float)
    return (targets - nonzeros) / np.asarray(group_sizes, dtype=float)


def within_tolerance(nonzeros, targets, group_sizes, tol):
    """True when every group's sparsity is within ``tol`` (absolute) of its
    target."""
    errors = sparsity_errors(nonzeros, targets, group_sizes)
    return bool(np.all(np.abs(errors) <= tol + 1e-12))


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


def order_statistic_lambda(gradient_magnitudes, target):
    """λ that leaves ``target`` gradient magnitudes strictly above it.

    The predecessor papers' rule for the convex case: at a minimizer, the
    weights whose ``γ_k`` exceed λ are the nonzero ones, so the
    ``(target + 1)``-th largest γ is the λ that keeps ``target`` of them.
    """
    gamma = np.sort(np.asarray(gradient_magnitudes, dtype=float).ravel())[::-1]
    if target >= gamma.size:
        return 0.0
    return float(gamma[target])
