"""Proximal SGD and proximal Adam on lists of tensors.

Each optimizer splits an update in two so that a caller can look between
them: :meth:`step` takes the gradient step on every parameter, then
:meth:`prox_` soft-thresholds the penalized weights at ``λ_j · d``, with ``d``
the step size just applied to each coordinate (:meth:`step_sizes`). λ
controllers use that gap to choose λ from the post-step weights.
"""

import torch

from sk_sparse_l1._prox import soft_threshold_all_


class ProximalSGD:
    """Plain proximal SGD: ``w ← S_{lr·λ}(w − lr·∇L)`` (no momentum).

    Parameters
    ----------
    weights, biases : list of torch.Tensor
        The penalized and the unpenalized tensors, updated in place.
    lr : float
        Learning rate.
    """

    def __init__(self, weights, biases, *, lr):
        self.weights = list(weights)
        self.params = self.weights + list(biases)
        self.lr = lr

    def step(self, weight_grads, bias_grads):
        torch._foreach_add_(self.params, weight_grads + bias_grads, alpha=-self.lr)

    def step_sizes(self):
        return [self.lr] * len(self.weights)

    def prox_(self, lambdas):
        """Soft-threshold each weight matrix at ``λ_j · d``; ``λ_j`` is a
        float or a 0-dim tensor (left on the device: no host copy)."""
        active = [
            j
            for j, lam in enumerate(lambdas)
            if isinstance(lam, torch.Tensor) or lam > 0
        ]
        if not active:
            return
        soft_threshold_all_(
            [self.weights[j] for j in active],
            self._thresholds([lambdas[j] for j in active], active),
        )

    def _thresholds(self, lambdas, layers):
        """``λ_j · d`` for the given layers: scalars for plain SGD."""
        scaled = [lam * self.lr for lam in lambdas]
        tensors = [t for t in scaled if isinstance(t, torch.Tensor)]
        if not tensors:
            return scaled
        # One _foreach_ call takes all scalars or all tensors; a float is
        # filled into a tensor on the device (no host copy).
        return [
            t if isinstance(t, torch.Tensor) else torch.full_like(tensors[0], t)
            for t in scaled
        ]

    def state_dict(self):
        """What a later call needs to continue where this one stopped."""
        return {}

    def load_state_dict(self, state):
        pass


class ProximalAdam(ProximalSGD):
    """Adam followed by soft-thresholding in Adam's own metric.

    The threshold of coordinate ``k`` is ``λ · lr / (√v̂_k + ε)``, the step
    Adam applied to it. Fixed points then satisfy ``|m̂_k| = λ`` on nonzero
    weights and ``|m̂_k| ≤ λ`` on zeros: the optimality conditions of the
    penalized objective with Adam's averaged gradient. Thresholding at
    ``lr · λ`` instead would make λ nearly meaningless, since Adam's steps are
    normalized while its threshold would not be.
    """

    def __init__(self, weights, biases, *, lr, beta1, beta2, eps):
        super().__init__(weights, biases, lr=lr)
        self.beta1, self.beta2, self.eps = beta1, beta2, eps
        self.exp_avg = [torch.zeros_like(p) for p in self.params]
        self.exp_avg_sq = [torch.zeros_like(p) for p in self.params]
        self.n_steps = 0

    def step(self, weight_grads, bias_grads):
        grads = weight_grads + bias_grads
        self.n_steps += 1
        torch._foreach_lerp_(self.exp_avg, grads, 1.0 - self.beta1)
        torch._foreach_mul_(self.exp_avg_sq, self.beta2)
        torch._foreach_addcmul_(self.exp_avg_sq, grads, grads, value=1.0 - self.beta2)
        bias_correction1 = 1.0 - self.beta1**self.n_steps
        bias_correction2 = 1.0 - self.beta2**self.n_steps
        denom = torch._foreach_sqrt(self.exp_avg_sq)
        torch._foreach_div_(denom, bias_correction2**0.5)
        torch._foreach_add_(denom, self.eps)
        torch._foreach_addcdiv_(
            self.params, self.exp_avg, denom, value=-self.lr / bias_correction1
        )
        # denom is √v̂ + ε: keep the weights' part for the step sizes.
        self._weight_denoms = denom[: len(self.weights)]

    def step_sizes(self):
        return [self.lr / denom for denom in self._weight_denoms]

    def _thresholds(self, lambdas, layers):
        """``λ_j · d`` for the given layers, ``d = lr / (√v̂ + ε)`` per
        coordinate."""
        sizes = [self.lr / self._weight_denoms[j] for j in layers]
        if all(isinstance(lam, torch.Tensor) for lam in lambdas):
            return torch._foreach_mul(sizes, lambdas)
        return [d * lam for d, lam in zip(sizes, lambdas)]

    def state_dict(self):
        return {
            "n_steps": self.n_steps,
            "exp_avg": [m.detach().cpu().clone() for m in self.exp_avg],
            "exp_avg_sq": [v.detach().cpu().clone() for v in self.exp_avg_sq],
        }

    def load_state_dict(self, state):
        self.n_steps = state["n_steps"]
        for mine, saved in zip(self.exp_avg, state["exp_avg"]):
            mine.copy_(saved)
        for mine, saved in zip(self.exp_avg_sq, state["exp_avg_sq"]):
            mine.copy_(saved)


def make_optimizer(solver, weights, biases, *, lr, beta1=0.9, beta2=0.999, eps=1e-8):
    """The optimizer named by ``solver`` (``"sgd"`` or ``"adam"``)."""
    if solver == "sgd":
        return ProximalSGD(weights, biases, lr=lr)
    return ProximalAdam(weights, biases, lr=lr, beta1=beta1, beta2=beta2, eps=eps)
