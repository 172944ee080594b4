"""Proximal training of an MLP: one step, one epoch, the stopping rule.

Nothing here knows about sparsity targets: after every gradient step a
*schedule* (:mod:`sk_sparse_l1._schedule`) says which λ the proximal map of
that step uses, and which weights are held at zero.
"""

import math
from contextlib import contextmanager

import torch


@contextmanager
def torch_threads(n_threads):
    """Run the block with ``n_threads`` torch threads, then restore the
    previous count; ``None`` leaves torch's setting alone."""
    if n_threads is None:
        yield
        return
    previous = torch.get_num_threads()
    torch.set_num_threads(n_threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


class NonFiniteLossError(ValueError):
    """The training loss became NaN or infinite."""


def non_finite_error(what):
    return NonFiniteLossError(
        f"{what} during proximal training: the solver produced non-finite "
        "parameter weights. The input data may contain very large values or "
        "the learning rate may be too high: scale the inputs (e.g. with "
        "StandardScaler) or lower learning_rate_init."
    )


def check_finite_loss(value):
    if not math.isfinite(value):
        raise non_finite_error(f"The training loss became {value}")


def check_finite_parameters(network):
    """Raise when a weight or bias is NaN or infinite: the last step of an
    epoch may diverge after the loss of that epoch was measured."""
    parameters = network.weights + network.biases
    if not all(bool(torch.isfinite(p).all()) for p in parameters):
        raise non_finite_error("The network's parameters became non-finite")


def batch_loss_and_gradients(network, data, rows):
    """Mean loss of the rows ``rows`` of ``data`` and its gradients.

    Sparse inputs arrive in dense chunks of rows; the mean over the batch is
    the row-weighted sum of the chunks' means.
    """
    chunks, target, weight = data.batch(rows)
    n_rows = target.shape[0]
    start = 0
    total = None
    for X in chunks:
        stop = start + X.shape[0]
        part = network.loss_and_gradients(
            X,
            target[start:stop],
            None if weight is None else weight[start:stop],
        )
        if start == 0 and stop == n_rows:
            return part
        share = (stop - start) / n_rows
        value, weight_grads, bias_grads = part
        scaled = [value * share, [g * share for g in weight_grads]]
        scaled.append([g * share for g in bias_grads])
        if total is None:
            total = scaled
        else:
            total[0] = total[0] + scaled[0]
            for mine, theirs in zip(total[1] + total[2], scaled[1] + scaled[2]):
                mine.add_(theirs)
        start = stop
    return tuple(total)


def run_epoch(network, data, optimizer, schedule, *, batch_size, generator):
    """One pass over ``data`` in shuffled minibatches; returns the mean loss.

    Each step: gradient step on every parameter, then the λ of this step
    from ``schedule.step_lambdas(optimizer)``, then the proximal map, then
    the zero pattern ``schedule.masks`` (if any) is re-applied. The loss
    stays on the device until the end of the epoch, and λ may be a 0-dim
    tensor, so a step never waits for a copy to the host.
    """
    n_samples = data.n_samples
    full_batch = batch_size >= n_samples
    schedule.begin_epoch(-(-n_samples // batch_size))
    order = None if full_batch else data.shuffled_order(generator)
    total = 0.0
    with torch.no_grad():
        for start in range(0, n_samples, batch_size):
            rows = None if full_batch else order[start : start + batch_size]
            value, weight_grads, bias_grads = batch_loss_and_gradients(
                network, data, rows
            )
            n_rows = n_samples if full_batch else len(rows)
            total = total + value * n_rows
            optimizer.step(weight_grads, bias_grads)
            optimizer.prox_(schedule.step_lambdas(optimizer))
            if schedule.masks is not None:
                torch._foreach_mul_(optimizer.weights, schedule.masks)
    mean_loss = float(total) / n_samples
    check_finite_loss(mean_loss)
    return mean_loss


class StoppingRule:
    """scikit-learn's MLP rule: stop after more than ``n_iter_no_change``
    epochs without an improvement of at least ``tol``.

    :meth:`update_loss` monitors a loss (lower is better), and
    :meth:`update_score` a validation score (higher is better). The count and
    the best values keep scikit-learn's names and meaning.
    """

    def __init__(self, tol, n_iter_no_change):
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.best_loss = math.inf
        self.best_score = -math.inf
        self.no_improvement_count = 0

    def update_loss(self, loss):
        worse = loss > self.best_loss - self.tol
        self.no_improvement_count = self.no_improvement_count + 1 if worse else 0
        self.best_loss = min(self.best_loss, loss)
        return self.no_improvement_count > self.n_iter_no_change

    def update_score(self, score):
        worse = not score >= self.best_score + self.tol  # NaN counts as worse
        self.no_improvement_count = self.no_improvement_count + 1 if worse else 0
        self.best_score = max(self.best_score, score)
        return self.no_improvement_count > self.n_iter_no_change
