"""The iterative λ search of Shen, Wang, Xu & Yan (2024), §4 of the method.

Every round retrains the network from the same initial weights and data
order at a fixed λ, to convergence or to the end of its budget, and the next
λ comes from the bracket of the rounds so far and the gradient magnitudes of
the network just trained.
"""

from dataclasses import dataclass, field

import numpy as np
import torch

from sk_sparse_l1._prox import threshold_keeping
from sk_sparse_l1._schedules import FixedAlpha
from sk_sparse_l1._targets import (
    GroupHistory,
    group_counts,
    next_lambda,
    within_tolerance,
)


@dataclass
class PaperSearch:
    """The rounds of a search: λ and nonzero counts per group, one row per
    round, and the round whose network was kept."""

    lambdas: list = field(default_factory=list)
    nonzeros: list = field(default_factory=list)
    kept: int = None
    reached: bool = False

    @property
    def n_rounds(self):
        return len(self.lambdas)


def _layer_lambdas(groups, group_lambdas):
    lambdas = [0.0] * sum(len(g) for g in groups)
    for group, lam in zip(groups, group_lambdas):
        for j in group:
            lambdas[j] = float(lam)
    return lambdas


def _log_distance(nonzeros, targets):
    """Worst distance to the targets on a log scale of the count: an empty
    network is far from 20 weights, farther than 46 are, although its
    relative error is smaller."""
    ratios = np.log((np.asarray(nonzeros) + 1.0) / (np.asarray(targets) + 1.0))
    return float(np.max(np.abs(ratios)))


def paper_search(
    trainer,
    targets,
    groups,
    *,
    sparsity_tol,
    max_rounds,
    round_epochs,
    seed,
    tol,
    n_iter_no_change,
):
    """Search λ with the paper's scheme; leaves the kept network in ``trainer``.

    The first round trains at ``λ_max``, the largest gradient magnitude of
    the initial network (an empty network), and the second at the
    ``(T + 1)``-th largest of these magnitudes. These need not bracket the
    target: the bracket is expanded geometrically until it does (the paper
    assumes its starting values bracket it). The search stops at
    the first round within ``tol``; otherwise the network closest to the
    target on a log scale of the count is kept.

    ``tol`` and ``n_iter_no_change`` are the stopping rule that ends each
    round; ``sparsity_tol`` is the relative tolerance on the counts.
    """
    initial = trainer.network.snapshot()
    gamma = trainer.gradient_magnitudes()
    upper = float(max(g.max() for g in gamma))
    # The lower start: for each group, the gradient magnitude at the initial
    # network that leaves exactly T entries above it (the order-statistic
    # rule of the authors' predecessor paper, arXiv:2205.07170).
    lower = [
        float(threshold_keeping(torch.as_tensor(_group_values(gamma, g)), t))
        for g, t in zip(groups, targets)
    ]
    histories = [GroupHistory(int(t)) for t in targets]
    search = PaperSearch()
    group_lambdas = [upper] * len(groups)
    best = None  # ((missed, log distance), round, snapshot, schedule)
    for round_index in range(max_rounds):
        trainer.restart(initial, seed)
        schedule = FixedAlpha(
            _layer_lambdas(groups, group_lambdas),
            max_epochs=round_epochs,
            tol=tol,
            n_iter_no_change=n_iter_no_change,
            refit=False,
            adaptive=True,
        )
        trainer.run(schedule, round_epochs)
        nonzeros = group_counts(trainer.layer_nonzeros(), groups)
        search.lambdas.append([float(lam) for lam in group_lambdas])
        search.nonzeros.append([int(k) for k in nonzeros])
        reached = within_tolerance(nonzeros, targets, sparsity_tol)
        key = (not reached, _log_distance(nonzeros, targets))
        if best is None or key <= best[0]:
            best = (key, round_index, trainer.network.snapshot(), schedule)
        if reached or trainer.interrupted:
            break
        for history, lam, k in zip(histories, group_lambdas, nonzeros):
            history.record(lam, k)
        if round_index == 0:
            group_lambdas = lower
            continue
        gamma = trainer.gradient_magnitudes()
        group_lambdas = [
            lam
            if within_tolerance([k], [t], sparsity_tol)
            else next_lambda(history, _group_values(gamma, g))
            for g, history, lam, k, t in zip(
                groups, histories, group_lambdas, nonzeros, targets
            )
        ]
    (missed, _), search.kept, snapshot, schedule = best
    trainer.network.restore(snapshot)
    search.reached = not missed
    return search, schedule


def _group_values(per_layer, group):
    """The values of the layers of ``group``, flattened into one array."""
    return np.concatenate([per_layer[j].ravel() for j in group])
