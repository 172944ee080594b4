"""An online λ controller: λ chosen at every step so that a target number of
weights survive the proximal map.

After the gradient step, weight ``k`` of a group survives soft-thresholding
at ``λ · d_k`` iff ``|w_k| / d_k > λ``. Setting λ to the ``(T + 1)``-th
largest ``|w_k| / d_k`` therefore leaves exactly ``T`` nonzeros. If λ
settles, the iterates are proximal steps at that fixed λ, so where the
controller converges it has found a λ whose ℓ1 solution has the target
sparsity. Its running average is what the search strategies fix λ to.
"""

import torch

from sk_sparse_l1._prox import threshold_keeping


class QuantileController:
    """Callable for :func:`sk_sparse_l1._training.run_epoch`.

    Parameters
    ----------
    groups : list of list of int
        Weight-layer indices sharing one λ.
    targets : sequence of int
        Nonzero count wanted in each group.
    n_layers : int
        Number of weight layers (length of the returned λ list).
    """

    def __init__(self, groups, targets, n_layers):
        self.groups = groups
        self.targets = [int(t) for t in targets]
        self.n_layers = n_layers
        self.reset_average()

    def reset_average(self):
        self._sum = [0.0] * self.n_layers
        self._count = 0

    @property
    def average_lambdas(self):
        """Mean λ of each layer since the last :meth:`reset_average`."""
        return [total / max(self._count, 1) for total in self._sum]

    def __call__(self, optimizer):
        step_sizes = optimizer.step_sizes()
        lambdas = [0.0] * self.n_layers
        for group, target in zip(self.groups, self.targets):
            scores = torch.cat(
                [
                    (optimizer.weights[j].abs() / step_sizes[j]).reshape(-1)
                    for j in group
                ]
            )
            lam = float(threshold_keeping(scores, target))
            for j in group:
                lambdas[j] = lam
        self._sum = [total + lam for total, lam in zip(self._sum, lambdas)]
        self._count += 1
        return lambdas


class DeadbandController:
    """Per-epoch λ correction that rests once the sparsity is close enough.

    After an epoch, each group whose sparsity is off its target by more than
    ``deadband`` (a fraction of the group's weights) has its λ multiplied by
    ``(nonzeros / target) ** rate``: more nonzeros than wanted raise λ, fewer
    lower it. Inside the deadband λ is left unchanged, so a run that settles
    ends with epochs at a constant λ, whose proximal iterates satisfy that
    λ's optimality conditions.

    Parameters
    ----------
    weights : list of torch.Tensor
        The penalized weights, read (not modified) after each epoch.
    groups, targets, group_sizes
        As in :func:`sk_sparse_l1._lambda_search.target_nonzeros`.
    deadband : float
        Tolerance on the sparsity fraction.
    rate : float, default=1.0
        Exponent of the multiplicative correction.
    """

    def __init__(self, weights, groups, targets, group_sizes, deadband, rate=1.0):
        self.weights = weights
        self.groups = groups
        self.targets = [max(int(t), 1) for t in targets]
        self.group_sizes = group_sizes
        self.deadband = deadband
        self.rate = rate

    def __call__(self, lambdas):
        counts = [int(torch.count_nonzero(w)) for w in self.weights]
        lambdas = list(lambdas)
        for group, target, size in zip(self.groups, self.targets, self.group_sizes):
            nonzeros = sum(counts[j] for j in group)
            if abs(nonzeros - target) <= self.deadband * size:
                continue
            factor = (max(nonzeros, 1) / target) ** self.rate
            for j in group:
                lambdas[j] *= factor
        return lambdas
