"""Sparsity targets: the counts wanted, the groups that share a λ, and the
tolerance on the counts.

Sparsity is tracked in *groups* of weight layers that share one λ: a single
group holding every layer for a global target, one group per layer for
layer-wise targets. Everything here works on plain numbers and numpy arrays,
so it can be tested against synthetic sparsity curves.
"""

import numpy as np


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
    """Sum per-layer counts into per-group counts.

    Parameters
    ----------
    layer_counts : sequence of int
        A count per weight layer.
    groups : list of list of int
        The layer indices of each group.

    Returns
    -------
    counts : ndarray of int, shape (n_groups,)
    """
    return np.array([sum(layer_counts[j] for j in group) for group in groups])


def within_tolerance(nonzeros, targets, tol):
    """True when every group's nonzero count is within ``tol · T`` of its
    target ``T`` (and at least within one weight).

    The tolerance is relative to the nonzero count, as in Shen et al.: at
    high sparsity an absolute tolerance on the fraction of zeros would
    accept a network with no weight left.

    Parameters
    ----------
    nonzeros : array-like of int
        Nonzero count of each group.
    targets : array-like of int
        Target count ``T`` of each group.
    tol : float
        Relative tolerance.

    Returns
    -------
    within : bool
    """
    nonzeros = np.asarray(nonzeros, dtype=float)
    targets = np.asarray(targets, dtype=float)
    allowed = np.maximum(tol * targets, 1.0)
    return bool(np.all(np.abs(nonzeros - targets) <= allowed + 1e-9))
