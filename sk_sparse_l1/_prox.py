"""The proximal map of the ℓ1 penalty, its thresholds, and the step sizes
it is taken in.

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

    The proximal map of ``τ‖w‖₁``: entries with ``|w| ≤ τ`` become exactly
    zero, the others move towards zero by ``τ``. Computed as
    ``w − clamp(w, −τ, τ)``: two or three kernels instead of five, and the
    same values, since ``w ∓ τ`` rounds as ``|w| − τ`` does (a zero may come
    out as +0 where the sign form gave −0).

    Parameters
    ----------
    w : torch.Tensor
        Overwritten.
    tau : float or torch.Tensor
        Non-negative: a scalar, a 0-dim tensor or a tensor broadcastable to
        ``w`` (``λ · d`` in a per-coordinate metric).

    Returns
    -------
    w : torch.Tensor
        The same tensor.
    """
    return w.sub_(torch.clamp(w, -tau, tau))


def soft_threshold_all_(weights, taus):
    """:func:`soft_threshold_` of each tensor of ``weights`` at the matching
    entry of ``taus``, in place.

    One ``torch._foreach_*`` call per operation over all the tensors; the
    optimizers pass one flat buffer holding every layer, so that the map is
    three kernels whatever the depth.

    Parameters
    ----------
    weights : list of torch.Tensor
        Overwritten.
    taus : list of float or list of torch.Tensor
        All scalars, or all tensors (a ``_foreach_`` call takes one kind).
    """
    if len(weights) == 1:  # a flat buffer: one clamp with both bounds
        soft_threshold_(weights[0], taus[0])
        return
    if taus and isinstance(taus[0], torch.Tensor):
        lows = torch._foreach_neg(taus)
    else:
        lows = [-tau for tau in taus]
    clamped = torch._foreach_clamp_min(weights, lows)
    torch._foreach_clamp_max_(clamped, taus)
    torch._foreach_sub_(weights, clamped)


def adam_denominators(exp_avg_sq, step, *, beta2, eps):
    """``√v̂ + ε``, the denominators of Adam's step, for each tensor.

    Adam updates ``w ← w − lr · m̂ / (√v̂ + ε)``, so the step size it applies
    to a coordinate is ``d = lr / (√v̂ + ε)`` (:func:`adam_step_sizes`). The
    operations are those of ``torch.optim.Adam``, ``√v / √(1 − β₂^t) + ε``:
    the estimators' Adam steps with these denominators, and the threshold of
    a skorch net's ``torch.optim.Adam`` is taken in the same metric as its
    step. The first moment's bias correction belongs to the gradient
    estimate, not to the metric, so it does not appear here.

    Parameters
    ----------
    exp_avg_sq : list of torch.Tensor
        Adam's second-moment estimates ``v`` after ``step`` updates.
    step : int or float
        Number of updates ``t``.
    beta2 : float
        Decay rate of the second moment.
    eps : float
        Added to ``√v̂``.

    Returns
    -------
    denominators : list of torch.Tensor
        New tensors, one per tensor of ``exp_avg_sq``.
    """
    bias_correction2 = 1.0 - beta2**step
    denom = torch._foreach_sqrt(exp_avg_sq)
    torch._foreach_div_(denom, bias_correction2**0.5)
    torch._foreach_add_(denom, eps)
    return denom


def adam_step_sizes(denominators, lr):
    """Per-coordinate step sizes ``d = lr / (√v̂ + ε)`` that Adam applies.

    Parameters
    ----------
    denominators : list of torch.Tensor
        :func:`adam_denominators` of the step.
    lr : float
        Learning rate of the step.

    Returns
    -------
    step_sizes : list of torch.Tensor
    """
    # torch computes lr / d as reciprocal(d) · lr: the same, in place.
    return [torch.reciprocal(d).mul_(lr) for d in denominators]


def threshold_keeping(scores, n_keep):
    """Smallest threshold that leaves at most ``n_keep`` of ``scores`` above it.

    Thresholding ``scores`` at the returned value zeroes all but the
    ``n_keep`` largest (ties at the threshold all go). Magnitude pruning
    cuts its masks with it, and the paper's search takes its lower start λ
    from the gradient magnitudes with it.

    Parameters
    ----------
    scores : torch.Tensor
        Non-negative scores, any shape.
    n_keep : int
        Most scores to leave above the threshold.

    Returns
    -------
    threshold : torch.Tensor
        0-dim: the ``(n_keep + 1)``-th largest score, or 0 when ``n_keep``
        is at least the number of scores.
    """
    flat = scores.reshape(-1)
    if n_keep >= flat.numel():
        return flat.new_zeros(())
    # kthvalue counts from the smallest: the (n - n_keep)-th smallest is the
    # (n_keep + 1)-th largest.
    return torch.kthvalue(flat, flat.numel() - n_keep).values
