"""An online λ controller: λ chosen at every step so that a target number of
weights survive the proximal map.

After the gradient step, weight ``k`` of a group survives soft-thresholding
at ``λ · d_k`` iff ``|w_k| / d_k > λ``. Setting λ to the ``(T + 1)``-th
largest ``|w_k| / d_k`` therefore leaves exactly ``T`` nonzeros. If λ
settles, the iterates are proximal steps at that fixed λ, so where the
controller converges it has found a λ whose ℓ1 solution has the target
sparsity (a stationary point reached along this training path: the problem
is not convex, so a fresh fit at that λ from another start may settle at
another sparsity). Its running average is what the search strategies fix λ
to.
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
    group_sizes : sequence of int, default=None
        Number of weights in each group; needed only with ``ramp_steps``.
    ramp_steps : int, default=0
        Steps over which the number kept falls from the group size to the
        target along ``T + (n − T)(1 − t/ramp_steps)³``; 0 keeps the target
        from the first step.
    """

    def __init__(self, groups, targets, n_layers, group_sizes=None, ramp_steps=0):
        self.groups = groups
        self.targets = [int(t) for t in targets]
        self.n_layers = n_layers
        self.group_sizes = group_sizes
        self.ramp_steps = ramp_steps
        self.n_steps = 0
        self.reset_average()

    def kept(self):
        """Number of weights each group keeps at the current step."""
        if self.n_steps >= self.ramp_steps:
            return self.targets
        remaining = (1.0 - self.n_steps / self.ramp_steps) ** 3
        return [
            round(target + (size - target) * remaining)
            for target, size in zip(self.targets, self.group_sizes)
        ]

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
        for group, target in zip(self.groups, self.kept()):
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
        self.n_steps += 1
        return lambdas


class DeadbandController:
    """Per-epoch λ correction that rests once the count is close enough.

    After an epoch, each group whose nonzero count is off its target ``T``
    by more than ``deadband · T`` has its λ multiplied by
    ``nonzeros / T``, clipped to [1/2, 2] so that one noisy epoch cannot
    throw λ far: more nonzeros than wanted raise λ, fewer lower it. Inside
    the band λ is left unchanged, so a run that settles ends with epochs at
    a constant λ, whose proximal iterates satisfy that λ's optimality
    conditions.

    Parameters
    ----------
    weights : list of torch.Tensor
        The penalized weights, read (not modified) after each epoch.
    groups, targets
        As in :func:`sk_sparse_l1._lambda_search.target_nonzeros`.
    deadband : float
        Relative tolerance on the nonzero count.
    """

    def __init__(self, weights, groups, targets, deadband):
        self.weights = weights
        self.groups = groups
        self.targets = [max(int(t), 1) for t in targets]
        self.deadband = deadband

    def __call__(self, lambdas):
        counts = [int(torch.count_nonzero(w)) for w in self.weights]
        lambdas = list(lambdas)
        for group, target in zip(self.groups, self.targets):
            nonzeros = sum(counts[j] for j in group)
            if abs(nonzeros - target) <= max(self.deadband * target, 1):
                continue
            factor = min(max(nonzeros / target, 0.5), 2.0)
            for j in group:
                lambdas[j] *= factor
        return lambdas
