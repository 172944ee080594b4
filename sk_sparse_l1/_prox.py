"""The proximal map of the ℓ1 penalty and the step sizes it is taken in.

Proximal training alternates a gradient step on the data loss with the
proximal map of ``λ‖W‖₁``. The map is soft-thresholding at ``τ = λ · d``
where ``d`` is the step size the optimizer applied to that coordinate: the
learning rate for plain SGD, ``lr / (√v̂ + ε)`` for Adam. Taking ``τ`` in the
optimizer's own metric is what keeps the fixed points of the iteration equal
to the first-order optimality conditions of the penalized objective.
"""

import torch


def soft_threshold_(w, tau):
    """Replace ``w`` by ``sign(w) · max(|w| − τ, 0)`` in place and return it.

    ``tau`` is a non-negative scalar, 0-dim tensor or tensor broadcastable to
    ``w``; entries with ``|w| ≤ τ`` become exactly zero.
    """
    shrunk = torch.abs(w).sub_(tau).clamp_(min=0)
    return w.sign_().mul_(shrunk)


def soft_threshold_all_(weights, taus):
    """:func:`soft_threshold_` of each tensor of ``weights`` at the matching
    entry of ``taus`` (all scalars, or all tensors), in place.

    One ``torch._foreach_*`` call per operation over all the tensors: the
    layers of tabular models are small, and a kernel launch per layer and
    operation was a large part of a training step.
    """
    shrunk = torch._foreach_abs(weights)
    torch._foreach_sub_(shrunk, taus)
    torch._foreach_clamp_min_(shrunk, 0.0)
    torch._foreach_sign_(weights)
    torch._foreach_mul_(weights, shrunk)


def adam_step_sizes(exp_avg_sq, step, lr, beta2, eps):
    """Per-coordinate step sizes ``lr / (√v̂ + ε)`` that Adam applies.

    ``exp_avg_sq`` is Adam's second-moment estimate ``v`` after ``step``
    updates; ``v̂ = v / (1 − β₂^step)`` is its bias-corrected value. The first
    moment's bias correction belongs to the gradient estimate, not to the
    metric, so it does not appear here.
    """
    bias_correction = 1.0 - beta2**step
    return lr / (torch.sqrt(exp_avg_sq / bias_correction) + eps)


def threshold_keeping(scores, n_keep):
    """Smallest threshold that leaves at most ``n_keep`` of ``scores`` above it.

    Returns the ``(n_keep + 1)``-th largest score (0 when ``n_keep`` is at
    least the number of scores), so that thresholding ``scores`` at the
    returned value zeroes all but the ``n_keep`` largest. Used to set λ so
    that exactly a target number of weights survive one proximal step.
    """
    flat = scores.reshape(-1)
    if n_keep >= flat.numel():
        return flat.new_zeros(())
    # kthvalue counts from the smallest: the (n - n_keep)-th smallest is the
    # (n_keep + 1)-th largest.
    return torch.kthvalue(flat, flat.numel() - n_keep).values
