"""Proximal training of an MLP: one step, one epoch, the loop.

Nothing here knows about sparsity targets: λ is given per weight layer, or
chosen at every step by a controller the caller passes in.
"""

import math
from contextlib import contextmanager
from dataclasses import dataclass

import torch

from sk_sparse_l1._network import loss_and_gradients


@contextmanager
def torch_threads(n_threads):
    """Run the block with ``n_threads`` torch threads, then restore the
    previous count; ``None`` leaves torch's setting alone.

    The layers of tabular models are small. Measured on 2 cores
    (``docs/benchmarks.md``): on an idle machine one thread was 1.13–1.15×
    faster than two for (32,) and (64, 64) networks and 1.17× slower for
    (256, 256); while other processes used a core, one thread was 7–56×
    faster at every size, because a parallel region waits for its slowest
    thread.
    """
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


class TrainingInterrupted(Exception):
    """Training was stopped by ``KeyboardInterrupt``; ``run`` holds what was
    done until then. ``lambdas`` and ``search`` are what the estimator
    reports: the interrupted run's λ and no search, unless the caller knows
    better (an interrupted refit after a completed search)."""

    def __init__(self, run):
        super().__init__("training interrupted")
        self.run = run
        self.lambdas = run.lambdas
        self.search = None


@dataclass
class TrainingData:
    """Tensors of one training set, already on the device and dtype.

    ``sample_weight`` is scaled to average 1 (or is None for unit weights).
    """

    X: torch.Tensor
    target: torch.Tensor
    sample_weight: torch.Tensor | None = None

    @property
    def n_samples(self):
        return self.X.shape[0]

    def rows(self, index):
        weight = None if self.sample_weight is None else self.sample_weight[index]
        return self.X[index], self.target[index], weight


@dataclass
class Network:
    """The layers being trained and how to evaluate them."""

    linears: list
    activation: str
    loss: str

    @property
    def weights(self):
        return [linear.weight.data for linear in self.linears]

    @property
    def biases(self):
        return [linear.bias.data for linear in self.linears]

    def loss_and_gradients(self, X, target, sample_weight=None):
        return loss_and_gradients(
            self.linears, self.activation, self.loss, X, target, sample_weight
        )

    def penalty(self, lambdas):
        return sum(
            lam * float(torch.sum(torch.abs(w)))
            for lam, w in zip(lambdas, self.weights)
            if lam > 0
        )

    def snapshot(self):
        return [p.detach().clone() for p in self.weights + self.biases]

    def restore(self, snapshot):
        for p, saved in zip(self.weights + self.biases, snapshot):
            p.copy_(saved)


def _check_finite(value):
    if not math.isfinite(value):
        raise NonFiniteLossError(
            f"The training loss became {value} during proximal training. The "
            "input data may contain very large values or the learning rate may "
            "be too high: scale the inputs (e.g. with StandardScaler) or lower "
            "learning_rate_init."
        )


def run_epoch(
    network,
    data,
    optimizer,
    lambdas,
    *,
    batch_size,
    generator,
    controller=None,
    masks=None,
):
    """One pass over ``data`` in shuffled minibatches.

    Each step: gradient step, then (if given) ``controller(optimizer)`` picks
    the λ of this step, then the proximal map, then (if given) the fixed zero
    pattern ``masks`` is re-applied. The loss is checked before the step, so
    the weights are never updated from a non-finite gradient.

    Returns the mean minibatch loss and the λ of the last step.
    """
    n_samples = data.n_samples
    full_batch = batch_size >= n_samples
    order = None if full_batch else torch.randperm(n_samples, generator=generator)
    total = 0.0
    with torch.no_grad():
        for start in range(0, n_samples, batch_size):
            if full_batch:
                X, target, weight = data.X, data.target, data.sample_weight
            else:
                X, target, weight = data.rows(order[start : start + batch_size])
            value, weight_grads, bias_grads = network.loss_and_gradients(
                X, target, weight
            )
            value = value.item()
            _check_finite(value)
            total += value * X.shape[0]
            optimizer.step(weight_grads, bias_grads)
            if controller is not None:
                lambdas = controller(optimizer)
            optimizer.prox_(lambdas)
            if masks is not None:
                torch._foreach_mul_(optimizer.weights, masks)
    return total / n_samples, lambdas


class NoImprovementStopping:
    """scikit-learn's MLP rule: stop after ``n_iter_no_change`` epochs without
    an improvement of at least ``tol``.

    The monitored quantity is the training objective, or, when
    ``validation_score`` (a callable returning a score, higher is better) is
    given, the validation score; then the best parameters are kept so they
    can be restored.
    """

    def __init__(self, tol, n_iter_no_change, validation_score=None):
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.validation_score = validation_score
        self.best_loss = math.inf
        self.best_score = -math.inf
        self.best_snapshot = None
        self.validation_scores = []
        self._count = 0

    def should_stop(self, objective, network):
        if self.validation_score is not None:
            score = self.validation_score()
            self.validation_scores.append(score)
            self._count = self._count + 1 if score < self.best_score + self.tol else 0
            if score > self.best_score:
                self.best_score = score
                self.best_snapshot = network.snapshot()
        else:
            self._count = (
                self._count + 1 if objective > self.best_loss - self.tol else 0
            )
            self.best_loss = min(self.best_loss, objective)
        return self._count > self.n_iter_no_change

    def restore_best(self, network):
        if self.best_snapshot is not None:
            network.restore(self.best_snapshot)


@dataclass
class TrainingRun:
    """What one call of :func:`train` did."""

    loss_curve: list
    n_epochs: int
    converged: bool
    lambdas: list
    interrupted: bool = False


def train(
    network,
    data,
    optimizer,
    lambdas,
    *,
    n_epochs,
    batch_size,
    generator,
    stopping=None,
    controller=None,
    epoch_controller=None,
    masks=None,
    on_epoch=None,
):
    """Train for up to ``n_epochs`` epochs.

    ``loss_curve`` records the penalized objective (mean data loss plus
    ``Σ λ_j ‖W_j‖₁``) after each epoch, as floats. ``stopping`` (a
    :class:`NoImprovementStopping`) may end the run early; then
    ``converged`` is True. ``on_epoch(epoch, objective, lambdas)`` is called
    after every epoch (progress reporting). ``epoch_controller(lambdas)``,
    if given, returns the λ for each epoch after the first, so the returned
    ``lambdas`` are those the last epoch was trained at.

    ``KeyboardInterrupt`` ends the run early with ``interrupted=True``; the
    network keeps the weights of the last completed step (or the best ones
    when ``stopping`` monitors a validation score).
    """
    loss_curve = []
    converged = interrupted = False
    try:
        for epoch in range(n_epochs):
            if epoch_controller is not None and epoch > 0:
                lambdas = epoch_controller(lambdas)
            data_loss, lambdas = run_epoch(
                network,
                data,
                optimizer,
                lambdas,
                batch_size=batch_size,
                generator=generator,
                controller=controller,
                masks=masks,
            )
            objective = data_loss + network.penalty(lambdas)
            loss_curve.append(objective)
            if on_epoch is not None:
                on_epoch(epoch, objective, lambdas)
            if stopping is not None and stopping.should_stop(objective, network):
                converged = True
                break
    except KeyboardInterrupt:
        interrupted = True
    if stopping is not None:
        stopping.restore_best(network)
    return TrainingRun(
        loss_curve, len(loss_curve), converged, list(lambdas), interrupted
    )
