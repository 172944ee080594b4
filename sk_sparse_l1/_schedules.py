"""Schedules: the λ of every proximal step, the weights held at zero, and
when each phase of a fit ends.

A schedule is driven by a training loop, the estimators' or a skorch
callback's, through these calls:

- ``start(weights)`` once, before the first step; it returns the action
  of the start, ``"refit"`` for a schedule that starts by refitting the
  support of ``weights`` (the refit after the paper's search), else
  ``"continue"`` (a schedule holds no reference to the network, so it
  pickles on its own);
- ``begin_epoch(n_steps)`` before every epoch;
- ``step_lambdas(optimizer)`` after every gradient step, returning the λ of
  each weight matrix for the proximal map that follows (a float, or a 0-dim
  tensor left on the device); ``optimizer`` offers ``weights`` and
  ``step_sizes()`` (see :mod:`sk_sparse_l1._optimizers`);
- ``end_epoch(loss, weights, score=None)`` after every epoch, with the
  epoch's mean data loss, the penalized weights and, when early stopping
  holds out data, the validation score; it returns ``"continue"``,
  ``"refit"`` (from now on the nonzero weights train without penalty, the
  zeros held by ``masks``) or ``"stop"``.

``max_epochs`` is the budget of the whole fit, every phase included. With
``adaptive=False`` (``partial_fit``, where an epoch is one call on one chunk
of data) phases end by the budget only, and after the budget the last phase
goes on.

A schedule decides *when* λ changes and when a phase ends; the λ values come
from :mod:`sk_sparse_l1._lambda_search`, and a phase ends on a plateau of
:class:`sk_sparse_l1._trainer.StoppingRule` or at its share of the budget
(``RAMP_END``, ``L1_END``).
"""

import torch

from sk_sparse_l1._lambda_search import counts_kept, exact_lambdas, step_scores
from sk_sparse_l1._network import count_nonzero
from sk_sparse_l1._prox import threshold_keeping
from sk_sparse_l1._targets import group_counts, within_tolerance
from sk_sparse_l1._trainer import StoppingRule

# Fractions of the budget. Gradual magnitude pruning with its ramp ending at
# 60% of training, then fine-tuning, is the schedule of Zhu & Gupta (2017);
# the ℓ1 phase after the ramp settles λ and, with a refit, ends at L1_END: a
# longer ℓ1 phase changed more of the support and lost accuracy after the
# refit (benchmarks/bench_accuracy.py).
RAMP_END = 0.6
L1_END = 0.62
# Magnitude pruning recomputes its masks at most this many times per epoch.
PRUNES_PER_EPOCH = 8


def _support_masks(weights):
    """1 where a weight is nonzero, 0 where it is zero: the zeros a refit
    holds."""
    return [(w != 0).to(w.dtype) for w in weights]


class _Phases:
    """Phases within a budget, each ended by the stopping rule or the budget.

    Parameters
    ----------
    max_epochs : int
        Budget of the whole fit, every phase included.
    tol : float
        Least improvement of the monitored value that counts
        (:class:`sk_sparse_l1._trainer.StoppingRule`).
    n_iter_no_change : int or float
        Epochs without improvement that end a phase.
    refit : bool
        Whether an ℓ1 phase is followed by a refit of its support.
    adaptive : bool
        Whether plateaus end phases and the budget ends the fit; False for
        ``partial_fit``, whose phases end by the budget only and whose last
        phase goes on after it.

    Attributes
    ----------
    phase : {"prune", "l1", "refit"}
        The phase under way.
    alpha : list of float or None
        λ per layer of the ℓ1 phase (None before it is chosen).
    masks : list of torch.Tensor or None
        0/1 per weight tensor: the zeros held after every step.
    stopping : StoppingRule
        The rule ending the phase under way.
    epoch : int
        Epochs run.
    last_objective : float
        :meth:`objective` of the last epoch.
    converged : bool
        Whether the stopping rule, not the budget, ended the fit.
    """

    masks = None
    converged = False  # the stopping rule, not the budget, ended the fit
    started = False

    def __init__(self, *, max_epochs, tol, n_iter_no_change, refit, adaptive):
        self.max_epochs = max_epochs
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.refit = refit
        self.adaptive = adaptive
        self.epoch = 0
        self.stopping = StoppingRule(tol, n_iter_no_change)
        self.last_objective = None

    @property
    def final_phase(self):
        """Whether the current phase is the last one: only its networks are
        candidates when early stopping restores the best one."""
        return self.phase == "refit" or not self.refit

    def start(self, weights):
        """Plan the fit; called once, before the first step.

        Parameters
        ----------
        weights : list of torch.Tensor
            The penalized tensors (their shapes, and for a schedule that
            starts by refitting, their zeros).

        Returns
        -------
        action : {"continue", "refit"}
            ``"refit"`` when the schedule starts in its refit phase (the
            refit after the paper's search), holding the zeros of
            ``weights``.
        """
        self.started = True
        self._plan(weights)
        if self.phase == "refit":
            self.masks = _support_masks(weights)
            return "refit"
        return "continue"

    def _plan(self, weights):
        """What the schedule needs to know of the network before it starts."""

    def begin_epoch(self, n_steps):
        """Told the number of steps ``n_steps`` of the epoch about to start."""

    def end_epoch(self, loss, weights, score=None):
        """Record an epoch and say what comes next.

        Parameters
        ----------
        loss : float
            The epoch's mean data loss.
        weights : list of torch.Tensor
            The penalized tensors after the epoch.
        score : float, default=None
            The validation score, when early stopping holds out data; the
            stopping rule then monitors it instead of the loss.

        Returns
        -------
        action : {"continue", "refit", "stop"}
            ``"refit"``: from now on the nonzero weights train without
            penalty, the zeros held by ``masks``.
        """
        self.epoch += 1
        self._settle(weights)
        self.last_objective = self.objective(loss, weights)
        monitored = self.last_objective if self.monitor_objective else loss
        plateau = self.stopping.update(monitored, score)
        action = self._transition(plateau and self.adaptive, weights)
        if action == "continue" and self.adaptive and self.epoch >= self.max_epochs:
            return "stop"
        return action

    def objective(self, loss, weights):
        """The penalized objective ``loss + Σ λ_j ‖W_j‖₁`` at the λ of the
        epoch just finished: the data loss alone while no λ applies
        (pruning by magnitude, refit).

        Parameters
        ----------
        loss : float
            The epoch's mean data loss.
        weights : list of torch.Tensor
            The penalized tensors.

        Returns
        -------
        objective : float
        """
        if self.phase == "refit" or self.alpha is None:
            return loss
        return loss + sum(
            a * float(torch.sum(torch.abs(w)))
            for a, w in zip(self.alpha, weights)
            if a > 0
        )

    def _settle(self, weights):
        """Bookkeeping at the end of an epoch, before anything else."""

    def _transition(self, plateau, weights):
        """End of an ℓ1 or refit epoch: refit or stop, by rule or budget."""
        if self.phase == "l1":
            done = plateau or self.epoch >= self.l1_epochs
            if done and self.refit and self.epoch < self.max_epochs:
                self.masks = _support_masks(weights)
                self._next_phase("refit")
                return "refit"
        if plateau:
            self.converged = True
            return "stop"
        return "continue"

    def _next_phase(self, phase):
        self.phase = phase
        self.stopping.reset()

    def to(self, device):
        """Move the tensors the schedule holds (its masks) to ``device``."""
        if self.masks is not None:
            self.masks = [m.to(device) for m in self.masks]
        return self


class FixedAlpha(_Phases):
    """Proximal training at given per-layer λ, then optionally a refit.

    The ℓ1 phase ends when the penalized objective stops improving (the
    stopping rule of scikit-learn's MLP) or, with a refit, at ``L1_END`` of
    the budget; the refit ends by the same rule or at the budget.

    Parameters
    ----------
    alphas : sequence of float
        λ per weight tensor.
    **kwargs
        ``max_epochs``, ``tol``, ``n_iter_no_change``, ``refit`` and
        ``adaptive``, as for every schedule.
    """

    monitor_objective = True

    def __init__(self, alphas, **kwargs):
        super().__init__(**kwargs)
        self.alpha = [float(a) for a in alphas]
        self.phase = "l1"
        l1_share = L1_END if self.refit else 1.0
        self.l1_epochs = max(1, round(l1_share * self.max_epochs))

    def step_lambdas(self, optimizer):
        """λ per weight tensor for the proximal map of this step: ``alpha``,
        or 0 during the refit.

        Parameters
        ----------
        optimizer : ProximalOptimizer
            After its gradient step (not read: λ is fixed).

        Returns
        -------
        lambdas : list of float
        """
        if self.phase == "refit":
            return [0.0] * len(self.alpha)
        return self.alpha

    def refit_after(self, n_epochs):
        """A schedule that refits, for ``n_epochs`` epochs, the support of
        the weights it starts with, reporting this schedule's λ (the refit
        after a search): its :meth:`start` says ``"refit"``."""
        refit = FixedAlpha(
            self.alpha,
            max_epochs=n_epochs,
            tol=self.tol,
            n_iter_no_change=self.n_iter_no_change,
            refit=True,
            adaptive=self.adaptive,
        )
        refit._next_phase("refit")
        return refit


class MagnitudeRampSchedule(_Phases):
    """Reach a prescribed number of nonzero weights through ℓ1 proximal steps.

    Three phases, within a budget of ``max_epochs`` epochs:

    1. *prune*: the weights of each group are cut to the ``k_t`` largest in
       magnitude (masks recomputed a few times per epoch), ``k_t`` falling
       from all of them to the target ``T`` along the cubic ramp
       ``T + (n − T)(1 − t/R)³`` of gradual magnitude pruning (Zhu & Gupta,
       2017), over ``RAMP_END`` of the budget. When the data loss stops
       improving (the stopping rule), the network has absorbed the pruning
       so far, and the rest of the ramp is halved.
    2. *ℓ1*: proximal steps in the optimizer's metric at a fixed λ, the
       ``alpha`` of the network. Weight ``k`` survives a step at λ iff
       ``|w_k| / d_k > λ``, so the *exact* λ, which leaves exactly ``T``
       weights of a group nonzero, is an order statistic of these scores;
       λ is the exact λ of the first step of the phase, held to the end:
       the count follows λ with a long lag and weights of dead units cannot
       come back, so correcting λ while the network trains overshoots. The
       iterates are proximal steps at λ, whose fixed points satisfy the
       first-order optimality conditions of the ℓ1 problem at λ: the
       network moves towards an ℓ1 stationary point near the pruned one. At
       the last step of the phase (of the fit, without a refit), a count off
       the target by more than ``count_tol`` makes that one step be taken at
       the exact λ, so that the phase ends on target; the network is then
       stationary at λ only up to the weights that step added or removed.
       The phase ends when the data loss stops improving (after one more
       epoch, the one whose last step lands on target), or at ``L1_END`` of
       the budget when a refit follows.
    3. *refit* (optional): the nonzero weights are trained without penalty,
       zeros held fixed, until the loss stops improving or the budget ends.

    Parameters
    ----------
    groups : list of list of int
        Weight-layer indices sharing one target (all layers for a global
        target, one per layer for layer-wise targets).
    targets : sequence of int
        Nonzero count wanted in each group.
    count_tol : float
        Relative tolerance on the counts: a group is on target when
        ``|nonzeros − T| ≤ max(count_tol · T, 1)``.
    **kwargs
        ``max_epochs``, ``tol``, ``n_iter_no_change``, ``refit`` and
        ``adaptive``, as for every schedule.

    Attributes
    ----------
    path : list of tuple
        ``(λ per group, nonzeros per group)`` after each ℓ1 epoch.
    progress : float
        How far the ramp has gone, from 0 to 1.
    """

    monitor_objective = False

    def __init__(self, groups, targets, count_tol, **kwargs):
        super().__init__(**kwargs)
        self.groups = groups
        self.targets = [int(t) for t in targets]
        self.count_tol = count_tol
        self.phase = "prune"
        self.progress = 0.0  # of the ramp, from 0 to 1
        self.alpha = None  # λ per layer of the ℓ1 phase
        self.path = []  # (λ per group, nonzeros per group) after each ℓ1 epoch
        self._closing = False  # a plateau asked the ℓ1 phase to end
        self._step_in_epoch, self._steps_this_epoch = 0, 1

    def _plan(self, weights):
        self.n_layers = len(weights)
        self.group_sizes = [sum(weights[j].numel() for j in g) for g in self.groups]
        # The ℓ1 phase gets at least one epoch: a budget too short for a ramp
        # starts there, at the target.
        ramp_epochs = min(round(RAMP_END * self.max_epochs), self.max_epochs - 1)
        if ramp_epochs > 0:
            self.progress_per_epoch = 1.0 / ramp_epochs
        else:
            self.progress, self.phase = 1.0, "l1"
        l1_share = L1_END if self.refit else 1.0
        self.l1_epochs = max(ramp_epochs + 1, round(l1_share * self.max_epochs))

    def begin_epoch(self, n_steps):
        # partial_fit's chunks, and so its epochs, may differ in size.
        self._step_in_epoch = 0
        self._steps_this_epoch = max(int(n_steps), 1)

    def _closing_epoch(self):
        """Whether the ℓ1 epoch under way ends the phase (or, the phase being
        the last and the budget spent, may end the fit): its last step lands
        on target. Other epochs leave the count to the held λ."""
        return self._closing or self.epoch + 1 >= self.l1_epochs

    # ------------------------------------------------------------- steps

    def kept(self):
        """Number of weights each group keeps at the current ramp step.

        Returns
        -------
        kept : list of int
            ``T + (n − T)(1 − t)³`` per group, ``t`` the ramp's progress.
        """
        remaining = (1.0 - min(self.progress, 1.0)) ** 3
        return [
            round(target + (size - target) * remaining)
            for target, size in zip(self.targets, self.group_sizes)
        ]

    def step_lambdas(self, optimizer):
        """λ per weight tensor for the proximal map of this step.

        0 while pruning by magnitude (the step cuts the masks instead) and
        during the refit; in the ℓ1 phase, the held λ, or the exact λ
        (:func:`sk_sparse_l1._lambda_search.exact_lambdas`) at the phase's
        first step and at a last step whose count would be off target.

        Parameters
        ----------
        optimizer : ProximalOptimizer
            After its gradient step: its ``weights`` and ``step_sizes()``.

        Returns
        -------
        lambdas : list of float or torch.Tensor
            0-dim tensors are left on the device (no host copy).
        """
        self._step_in_epoch += 1
        if self.phase == "refit":
            return [0.0] * self.n_layers
        if self.phase == "prune":
            self._prune_by_magnitude(optimizer.weights)
            return [0.0] * self.n_layers
        scores = None
        if self.alpha is None:
            scores = step_scores(optimizer)
            self.alpha = exact_lambdas(scores, self.groups, self.targets)
        last_step = self._step_in_epoch >= self._steps_this_epoch
        if last_step and self._closing_epoch():
            scores = step_scores(optimizer) if scores is None else scores
            kept = counts_kept(scores, self.alpha, self.groups)
            if not within_tolerance(kept, self.targets, self.count_tol):
                return exact_lambdas(scores, self.groups, self.targets)
        return self.alpha

    def _prune_by_magnitude(self, weights):
        """Advance the ramp by a step; a few times per epoch, cut the masks to
        the ``k_t`` largest weights (masked weights stay zero in between, as
        in gradual magnitude pruning, and an order statistic per step would
        cost more than the step)."""
        self.progress += self.progress_per_epoch / self._steps_this_epoch
        every = -(-self._steps_this_epoch // PRUNES_PER_EPOCH)
        last_step = self._step_in_epoch >= self._steps_this_epoch
        if self._step_in_epoch % every and not last_step:
            return
        if self.masks is None:
            self.masks = [torch.ones_like(w) for w in weights]
        for group, k in zip(self.groups, self.kept()):
            magnitudes = [weights[j].abs() for j in group]
            cut = threshold_keeping(torch.cat([m.reshape(-1) for m in magnitudes]), k)
            for j, magnitude in zip(group, magnitudes):
                self.masks[j] = (magnitude > cut).to(weights[j].dtype)

    # ------------------------------------------------------------ epochs

    def _settle(self, weights):
        """After an ℓ1 epoch: record its λ and its counts."""
        if self.phase != "l1" or self.alpha is None:
            return
        self.alpha = [float(lam) for lam in self.alpha]
        nonzeros = group_counts(count_nonzero(weights), self.groups).tolist()
        self.path.append(([self.alpha[g[0]] for g in self.groups], nonzeros))

    def _transition(self, plateau, weights):
        if self.phase == "l1" and plateau and not self._closing:
            # One more epoch, whose last step lands on target, then the end.
            self._closing = True
            self.stopping.reset()
            return "continue"
        if self.phase == "l1" and self._closing:
            plateau = True
        if self.phase != "prune":
            return super()._transition(plateau, weights)
        if plateau and self.progress < 1.0:
            # Halve the rest of the ramp; the next halving needs a plateau of
            # its own.
            self.progress_per_epoch *= 2.0
            self.stopping.reset()
        if self.progress >= 1.0 - 1e-9:
            self.masks = None  # the ℓ1 phase lets weights enter again
            self._next_phase("l1")
        return "continue"

    def to(self, device):
        if self.alpha is not None:
            self.alpha = [float(a) for a in self.alpha]
        return super().to(device)
