"""Proximal training, from the inside out: one step (:func:`proximal_step`),
one epoch (:func:`run_epoch`), and the loop (:class:`Trainer`) that runs
schedules (:mod:`sk_sparse_l1._schedules`) on a network, with the stopping
rule (:class:`StoppingRule`), the early-stopping bookkeeping and the checks
that training stayed finite.

Nothing here knows about sparsity targets: after every gradient step a
*schedule* says which λ the proximal map of that step uses, and which
weights are held at zero; after every epoch it says whether to go on,
refit or stop.
"""

import math
import os
from contextlib import contextmanager

import torch

from sk_sparse_l1._network import count_nonzero

# n_threads="auto" runs more than one torch thread only from this many
# multiply-adds in the forward pass of a minibatch. Below it the products of
# a step are too small for a second thread to pay for waking it: on the
# 2-core machine of docs/benchmarks.md two threads were slower than one at
# every size of bench_speed.py, up to 1.2e7 (20,000 × 100, (256, 256),
# batch 128); the bound keeps a margin above that.
AUTO_THREADS_MIN_WORK = 6.4e7


def auto_threads(widths, batch_size):
    """The torch threads of ``n_threads="auto"`` for layers of ``widths``
    trained in minibatches of ``batch_size`` rows.

    One thread, unless a minibatch's forward pass is at least
    :data:`AUTO_THREADS_MIN_WORK` multiply-adds; then torch's current count
    (which joblib's workers already limit), at most the cores the 1-minute
    load average leaves idle (counting this process's own load): a thread
    that has to wait for a busy core makes every step wait for it.
    """
    work = batch_size * sum(a * b for a, b in zip(widths[:-1], widths[1:]))
    if work < AUTO_THREADS_MIN_WORK:
        return 1
    if hasattr(os, "sched_getaffinity"):
        cores = len(os.sched_getaffinity(0))
    else:  # macOS, Windows
        cores = os.cpu_count() or 1
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    idle = cores - max(load - 1.0, 0.0)
    return max(1, min(torch.get_num_threads(), int(idle)))


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
    """The :class:`NonFiniteLossError` that says what became non-finite
    (``what``) and what to do about it."""
    return NonFiniteLossError(
        f"{what} during proximal training: the solver produced non-finite "
        "parameter weights. The input data may contain very large values or "
        "the learning rate may be too high: scale the inputs (e.g. with "
        "StandardScaler) or lower learning_rate_init."
    )


def check_finite_loss(value):
    """Raise when the mean loss ``value`` of an epoch is NaN or infinite."""
    if not math.isfinite(value):
        raise non_finite_error(f"The training loss became {value}")


def check_finite_parameters(network):
    """Raise when a weight or bias is NaN or infinite: the last step of an
    epoch may diverge after the loss of that epoch was measured."""
    parameters = network.flat_parameters() or network.weights + network.biases
    if not all(bool(torch.isfinite(p).all()) for p in parameters):
        raise non_finite_error("The network's parameters became non-finite")


# A pass over all the rows (the gradient at the start of a fit) runs in
# slices of rows holding at most this many values in the widest layer. Fresh
# memory costs a page fault per 4 KiB at its first touch, up to ~15 µs each
# on virtual machines: an activation of 10,000 × 64 in float64 took longer
# to allocate than the arithmetic on it, whereas slices reuse the memory the
# previous slice freed.
FULL_PASS_VALUES = 2**16


def batch_loss_and_gradients(network, data, rows, in_place=False):
    """Mean loss of the rows ``rows`` of ``data`` and its gradients.

    Sparse inputs arrive in dense chunks of rows, and all rows
    (``rows=None``) in slices (:data:`FULL_PASS_VALUES`); the mean over the
    batch is the row-weighted sum of the chunks' means.

    Parameters
    ----------
    network : Network
        The network (:class:`sk_sparse_l1._network.Network`).
    data : TrainingData
        The training set (:class:`sk_sparse_l1._data.TrainingData`).
    rows : torch.Tensor, ndarray or None
        Indices of the batch's rows; None for all of them.
    in_place : bool, default=False
        Write the gradients of a batch of one chunk into the network's flat
        gradient buffer (see :meth:`Network.loss_and_gradients`): valid until
        the next step, which is all a training step needs.

    Returns
    -------
    loss : torch.Tensor
        0-dim, on the device.
    weight_grads, bias_grads : list of torch.Tensor
        Gradients of ``loss``, one per layer.
    """
    max_rows = None
    if rows is None:
        widest = max(w.shape[0] for w in network.weights)
        max_rows = max(FULL_PASS_VALUES // widest, 1)
    chunks, target, weight = data.batch(rows, max_rows)
    n_rows = target.shape[0]
    start = 0
    total = None
    for X in chunks:
        stop = start + X.shape[0]
        whole = start == 0 and stop == n_rows
        part = network.loss_and_gradients(
            X,
            target if whole else target[start:stop],
            weight if whole or weight is None else weight[start:stop],
            in_place=in_place and whole,
        )
        if whole:
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


def proximal_step(optimizer, schedule, weight_grads=None, bias_grads=None):
    """One proximal step: gradient step, λ of the step, prox, masks.

    The one place where a step is assembled, for the estimators' epochs
    (:func:`run_epoch`) and for the skorch callbacks. It lives with the
    loop, whose innermost part it is: optimizers know nothing of schedules,
    and schedules do not apply their λ themselves. The step sizes the
    schedule reads and those of the prox are the same, computed once by the
    optimizer.

    Parameters
    ----------
    optimizer : ProximalOptimizer
        See :mod:`sk_sparse_l1._optimizers`.
    schedule : object
        Offers ``step_lr_scale()``, the factor of the learning rate of this
        step, ``step_lambdas(optimizer)``, the λ of each weight tensor for
        this step (a float, or a 0-dim tensor left on the device), and
        ``masks``, None or a 0/1 tensor per weight tensor holding zeros (see
        :mod:`sk_sparse_l1._schedules`).
    weight_grads, bias_grads : list of torch.Tensor, default=None
        Gradients of the data loss for the optimizer's gradient step. None
        when the gradient step was already taken (by the ``torch.optim``
        optimizer of a skorch net, whose callback applied
        ``step_lr_scale()`` before the step).
    """
    if weight_grads is not None:
        optimizer.lr_scale = schedule.step_lr_scale()
        optimizer.step(weight_grads, bias_grads)
    optimizer.prox_(schedule.step_lambdas(optimizer))
    if schedule.masks is not None:
        torch._foreach_mul_(optimizer.weights, schedule.masks)
    schedule.after_step(optimizer)


def run_epoch(network, data, optimizer, schedule, *, batch_size, generator):
    """One pass over ``data`` in shuffled minibatches, a
    :func:`proximal_step` per minibatch.

    The loss stays on the device until the end of the epoch, and λ may be a
    0-dim tensor, so a step never waits for a copy to the host.

    Parameters
    ----------
    network : Network
        The network trained.
    data : TrainingData
        The training set.
    optimizer : ProximalOptimizer
        Takes the gradient steps and the proximal maps.
    schedule : object
        Says the λ and the masks of each step (see :func:`proximal_step`),
        told the number of steps first (``begin_epoch``).
    batch_size : int
        Rows per minibatch; one full batch, unshuffled, when at least the
        number of rows.
    generator : torch.Generator
        Shuffles the rows.

    Returns
    -------
    mean_loss : float
        The mean data loss of the epoch's minibatches, weighted by their
        rows.
    """
    n_samples = data.n_samples
    full_batch = batch_size >= n_samples
    schedule.begin_epoch(-(-n_samples // batch_size))
    order = None if full_batch else data.shuffled_order(generator)
    total = 0.0
    # inference_mode, not no_grad: no autograd bookkeeping at all, a fifth
    # of a small step. Tensors made here may not be changed in place
    # outside it; those kept across epochs (the network, the optimizer's
    # state, masks) are made outside or only read there.
    with torch.inference_mode():
        for start in range(0, n_samples, batch_size):
            rows = None if full_batch else order[start : start + batch_size]
            value, weight_grads, bias_grads = batch_loss_and_gradients(
                network, data, rows, in_place=True
            )
            n_rows = n_samples if full_batch else len(rows)
            total = value * n_rows if start == 0 else total.add_(value * n_rows)
            proximal_step(optimizer, schedule, weight_grads, bias_grads)
    mean_loss = float(total) / n_samples
    check_finite_loss(mean_loss)
    return mean_loss


class StoppingRule:
    """scikit-learn's MLP rule: stop after more than ``n_iter_no_change``
    epochs without an improvement of at least ``tol``.

    The one stopping rule of the package: the schedules
    (:mod:`sk_sparse_l1._schedules`) end every phase of a fit by it, or by
    their budget. The count and the best values keep scikit-learn's names
    and meaning (``_no_improvement_count``, ``best_loss_``).

    Parameters
    ----------
    tol : float
        Least improvement that counts.
    n_iter_no_change : int or float
        Epochs without improvement tolerated (``np.inf``: never stop).

    Attributes
    ----------
    best_loss : float
        Lowest loss seen since the last :meth:`reset`.
    best_score : float
        Highest validation score seen since the last :meth:`reset`.
    no_improvement_count : int
        Epochs since the last improvement.
    """

    def __init__(self, tol, n_iter_no_change):
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.reset()

    def reset(self):
        """Start counting afresh (a new phase, or a new rate of the ramp)."""
        self.best_loss = math.inf
        self.best_score = -math.inf
        self.no_improvement_count = 0

    def update(self, loss, score=None):
        """Record an epoch; returns whether the monitored value has stopped
        improving.

        Parameters
        ----------
        loss : float
            The epoch's loss (lower is better), monitored without ``score``.
        score : float, default=None
            The epoch's validation score (higher is better), monitored when
            early stopping holds out data.

        Returns
        -------
        plateau : bool
        """
        if score is not None:
            return self.update_score(score)
        return self.update_loss(loss)

    def update_loss(self, loss):
        """Record a loss (lower is better); returns whether it plateaued."""
        worse = loss > self.best_loss - self.tol
        self.no_improvement_count = self.no_improvement_count + 1 if worse else 0
        self.best_loss = min(self.best_loss, loss)
        return self.no_improvement_count > self.n_iter_no_change

    def update_score(self, score):
        """Record a validation score (higher is better); returns whether it
        plateaued."""
        worse = not score >= self.best_score + self.tol  # NaN counts as worse
        self.no_improvement_count = self.no_improvement_count + 1 if worse else 0
        self.best_score = max(self.best_score, score)
        return self.no_improvement_count > self.n_iter_no_change


class Trainer:
    """Runs schedules on one network and one training set.

    Parameters
    ----------
    network : Network
        The network trained, in place.
    data : TrainingData
        The training set.
    make_optimizer : callable
        ``make_optimizer(network)`` returns a fresh optimizer.
    batch_size : int
        Rows per minibatch, capped at the number of rows.
    generator : torch.Generator
        Shuffles the minibatches; restarts rewind it to ``seed``.
    validation_score : callable, default=None
        Returns the score of the current network on held-out data; when
        given, the stopping rule monitors it and the best network of the
        final phase is kept.

    Attributes
    ----------
    optimizer : ProximalOptimizer
        The optimizer of the phase under way.
    loss_curve : list of float
        The objective after each epoch.
    validation_scores : list of float
        The validation score after each epoch, with ``validation_score``.
    best_score : float or None
        The score of the network kept, with ``validation_score``.
    n_epochs : int
        Epochs run.
    l1_snapshot : list of torch.Tensor or None
        The network when the refit started.

    interrupted : bool
        Whether a ``KeyboardInterrupt`` ended a run.
    on_epoch : callable or None
        ``on_epoch(objective, lambdas, weights)`` after every epoch, set by
        the caller for progress reporting.
    """

    def __init__(
        self,
        network,
        data,
        *,
        make_optimizer,
        batch_size,
        generator,
        validation_score=None,
    ):
        self.network = network
        self.data = data
        self.make_optimizer = make_optimizer
        self.batch_size = min(batch_size, data.n_samples)
        self.generator = generator
        self.validation_score = validation_score
        self.on_epoch = None
        self.optimizer = make_optimizer(network)
        self.loss_curve = []
        self.validation_scores = []
        self.n_epochs = 0
        self.l1_snapshot = None
        self.best_score = None
        self.interrupted = False

    def run(self, schedule, max_epochs):
        """Train under ``schedule`` for at most ``max_epochs`` epochs.

        Starts the schedule if it has not started (a ``partial_fit`` call
        continues one), and follows its actions: ``"refit"``, at its start or
        after an epoch, and ``"stop"``. ``KeyboardInterrupt`` ends the run
        early, keeping the weights of the last completed step, and sets
        ``interrupted``; a trainer interrupted before runs no more epochs.
        """
        best = None  # (score, snapshot) of the candidates of the final phase
        self.optimizer.track_gradients = schedule.needs_gradient_estimate
        try:
            if not schedule.started:
                self._follow(schedule.start(self.network.weights), schedule)
            for _ in range(0 if self.interrupted else max_epochs):
                loss = run_epoch(
                    self.network,
                    self.data,
                    self.optimizer,
                    schedule,
                    batch_size=self.batch_size,
                    generator=self.generator,
                )
                score = None
                if self.validation_score is not None:
                    score = self.validation_score()
                    self.validation_scores.append(score)
                action = schedule.end_epoch(loss, self.network.weights, score)
                if score is not None and schedule.is_candidate():
                    if best is None or score > best[0]:
                        best = (score, self.network.snapshot())
                self.n_epochs += 1
                self.loss_curve.append(schedule.last_objective)
                if self.on_epoch is not None:
                    self.on_epoch(
                        schedule.last_objective, schedule.alpha, self.network.weights
                    )
                if self._follow(action, schedule):
                    break
        except KeyboardInterrupt:
            self.interrupted = True
        check_finite_parameters(self.network)
        if best is not None:
            self.network.restore(best[1])
            self.best_score = best[0]

    def _follow(self, action, schedule):
        """Act on a schedule's action; returns whether training stops.

        The one place where a refit starts: the ℓ1 network is kept, its
        zeros become the schedule's masks, and its support is retrained with
        a fresh optimizer. Restarting Adam's moments gives the refit a fresh
        learning-rate schedule (learning-rate rewinding, Renda et al. 2020).
        """
        if action == "refit":
            self.l1_snapshot = self.network.snapshot()
            schedule.masks = [(w != 0).to(w.dtype) for w in self.network.weights]
            self.optimizer = self.make_optimizer(self.network)
        return action == "stop"

    def restart(self, initial, seed):
        """Back to the weights ``initial`` (a :meth:`Network.snapshot`) and
        the data order of ``seed``, with a fresh optimizer: the start of a
        round of the paper's search."""
        self.network.restore(initial)
        self.generator.manual_seed(seed)
        self.optimizer = self.make_optimizer(self.network)

    def layer_nonzeros(self):
        """Nonzero weights per layer, as ints."""
        return count_nonzero(self.network.weights)

    def gradient_magnitudes(self):
        """``|∂L/∂W_j|`` of the unpenalized mean loss over the whole training
        set, per layer, as numpy arrays."""
        with torch.no_grad():
            _, weight_grads, _ = batch_loss_and_gradients(self.network, self.data, None)
        return [g.abs().cpu().numpy() for g in weight_grads]
