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

Before each gradient step, ``step_lr_scale()`` says the factor applied to
the learning rate of that step.

Every ℓ1 fit, at a given λ or at a target sparsity, follows one protocol
over its ℓ1 phase (:class:`L1Plan`): λ rises along a warm-up curve that
depends on the data only, until it reaches the fit's own λ, then holds; the
learning rate cools down over the last ``1 − COOL_START`` of the phase. A
target-sparsity fit (:class:`TargetL1`) follows the same curve and stops
rising at the λ whose forecast count is the target, so that a fresh fit at
the λ it reports retraces it.

A schedule decides *when* λ changes and when a phase ends; the λ values come
from :mod:`sk_sparse_l1._lambda_search`, and a phase ends on a plateau of
:class:`sk_sparse_l1._trainer.StoppingRule` or at its share of the budget.
"""

import math

import numpy as np
import torch

from sk_sparse_l1._lambda_search import (
    counts_kept,
    counts_surviving,
    exact_lambdas,
    lambdas_keeping,
    step_scores,
    survival_scores,
    warmup_lambda,
)
from sk_sparse_l1._network import count_nonzero
from sk_sparse_l1._prox import threshold_keeping
from sk_sparse_l1._targets import group_counts, within_tolerance
from sk_sparse_l1._trainer import StoppingRule

# The ℓ1 protocol, as fractions of the ℓ1 phase: the warm-up reaches the top
# of its range at WARMUP_END, and the learning rate cools down (cosine, to
# zero) from COOL_START to the end of the phase. With a refit, the ℓ1 phase
# is the first L1_SHARE of the budget.
WARMUP_END = 0.85
COOL_START = 0.6
L1_SHARE = 0.7
# A target-sparsity fit forecasts its final count this many times over its
# ℓ1 phase; it holds λ once the forecast reaches the target, and resumes
# raising λ when the forecast exceeds the target by more than
# RESUME_TOL of it, and by more than one weight.
N_FORECASTS = 200
RESUME_TOL = 0.02
# ... in this many forecasts in a row: one forecast over the target may be
# the noise of the minibatch gradients.
RESUME_AFTER = 4
# A group resumes only before RESUME_UNTIL of the phase; after it, λ is
# fixed to the end.
RESUME_UNTIL = 0.9
# A fit with a refit whose ℓ1 network is still denser than the target
# extends its ℓ1 phase by EXTENSION of the budget (taken from the refit), at
# the λ whose forecast over the extension is the target, the learning rate
# falling from EXTENSION_HEAT to 0.
EXTENSION = 0.1
EXTENSION_HEAT = 0.3
# A target-sparsity fit looks at the network (counts, forecasts) at most
# this many times per epoch.
CHECKS_PER_EPOCH = 8
# Forecasts come at every check while a group's λ of the forecast is within
# this factor of its warm-up λ.
NEAR_HOLD = 2.0
# Once holding, the count is looked at after every step while it is within
# NEAR_BAND tolerances of the target (else at the checks).
NEAR_BAND = 5.0

# Forecasts made before this progress do not hold λ: the network has barely
# trained, and its gradients say little about the ones it will have.
MIN_HOLD = 0.2
# Magnitude pruning (search="magnitude"): gradual pruning with its ramp
# ending at RAMP_END of the budget, then fine-tuning, is the schedule of Zhu
# & Gupta (2017); its ℓ1 phase ends at L1_END with a refit.
RAMP_END = 0.6
L1_END = 0.62
# Magnitude pruning recomputes its masks at most this many times per epoch.
PRUNES_PER_EPOCH = 8


def cooling_scale(progress):
    """The learning-rate factor at ``progress`` of the ℓ1 phase: 1, then a
    cosine from 1 to 0 over the last ``1 − COOL_START`` of the phase, and 1
    again after the phase (a ``partial_fit`` that goes on past its budget
    trains at the full rate).

    The cooling lets the zero pattern settle by the end of the phase, where
    it is read: the count a λ gives no longer drifts as the phase ends.
    """
    if progress <= COOL_START or progress > 1.0:
        return 1.0
    return 0.5 * (
        1.0 + math.cos(math.pi * (progress - COOL_START) / (1.0 - COOL_START))
    )


def l1_epochs(max_epochs, refit):
    """Epochs of the ℓ1 phase of a fit of ``max_epochs`` epochs: a share
    ``L1_SHARE`` of them when a refit follows, all of them otherwise."""
    return max(1, round((L1_SHARE if refit else 1.0) * max_epochs))


class L1Plan:
    """The clock of an ℓ1 phase, its warm-up of λ and its cooling.

    Parameters
    ----------
    n_epochs : int
        Epochs of the ℓ1 phase.
    warmup : tuple of float or None
        ``(low, high)`` of the warm-up
        (:func:`sk_sparse_l1._lambda_search.warmup_bounds`); None for no
        warm-up (a fit that continues a fitted network).

    Attributes
    ----------
    progress : float
        Fraction of the phase done after the step under way.
    """

    def __init__(self, n_epochs, warmup, *, heat=None):
        self.n_epochs = n_epochs
        self.warmup = None if warmup is None else tuple(float(b) for b in warmup)
        # An extension's learning-rate factor falls from ``heat`` to 0
        # (cosine) over its length, instead of the phase's cooling.
        self.heat = heat
        self.epoch = 0
        self.step_in_epoch = 0
        self.steps_per_epoch = 1
        self.progress = 0.0

    def begin_epoch(self, n_steps):
        """Told the number of steps ``n_steps`` of the epoch about to start."""
        self.step_in_epoch = 0
        self.steps_per_epoch = max(int(n_steps), 1)

    def next_step(self):
        """Count a step; returns the learning-rate factor of that step, the
        cooling at the progress where the step starts."""
        start = self.epoch + min(self.step_in_epoch / self.steps_per_epoch, 1.0)
        self.step_in_epoch += 1
        fraction = min(self.step_in_epoch / self.steps_per_epoch, 1.0)
        self.progress = (self.epoch + fraction) / self.n_epochs
        if self.heat is not None:
            return self.heat * 0.5 * (1.0 + math.cos(math.pi * start / self.n_epochs))
        return cooling_scale(start / self.n_epochs)

    def end_epoch(self):
        """Count an epoch."""
        self.epoch += 1

    def checkpoint(self):
        """Whether the step under way is one of the at most
        ``CHECKS_PER_EPOCH`` of its epoch at which a schedule may look at
        the network (the last step among them): a look copies to the host,
        and their number must not grow with the minibatches."""
        every = -(-self.steps_per_epoch // CHECKS_PER_EPOCH)
        last = self.step_in_epoch >= self.steps_per_epoch
        return last or self.step_in_epoch % every == 0

    def warmup_lambda(self, shift=0.0, at=None):
        """λ of the warm-up at the current step, or at progress ``at``
        (``inf`` without a warm-up); ``shift`` delays the curve by that much
        progress."""
        if self.warmup is None:
            return math.inf
        low, high = self.warmup
        progress = self.progress if at is None else at
        return warmup_lambda(progress - shift, low, high, end=WARMUP_END)

    def progress_at(self, lam):
        """The progress at which the warm-up reaches ``lam``."""
        low, high = self.warmup
        if lam <= low or high <= low:
            return 0.0
        return WARMUP_END * math.sqrt(math.log(lam / low) / math.log(high / low))

    def n_steps(self):
        """Steps in the whole phase, at the current epoch size."""
        return self.n_epochs * self.steps_per_epoch

    def steps_left(self, include_current=False, at=None):
        """The steps left in the phase after the current step, or from its
        start (``include_current``: its proximal map is yet to come), each
        weighted by its learning-rate factor: the sum of
        :func:`cooling_scale` over those steps, exactly as the steps will
        take them (over a few steps an integral would be off by a step's
        worth of shrinkage)."""
        n_steps = self.n_steps()
        progress = self.progress if at is None else at
        done = round(progress * n_steps) - (1 if include_current else 0)
        starts = np.arange(max(done, 0), n_steps) / n_steps
        if self.heat is not None:
            return float(np.sum(self.heat * 0.5 * (1.0 + np.cos(np.pi * starts))))
        return (
            float(sum(cooling_scale(x) for x in starts))
            if starts.size < 64
            else (float(np.sum(_cooling_scales(starts))))
        )


def _cooling_scales(progress):
    """:func:`cooling_scale` of an array of progress values in [0, 1]."""
    x = np.clip((progress - COOL_START) / (1.0 - COOL_START), 0.0, 1.0)
    return np.where(progress <= COOL_START, 1.0, 0.5 * (1.0 + np.cos(np.pi * x)))


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
    # Whether the optimizer must keep an averaged gradient for the schedule.
    needs_gradient_estimate = False

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
        """Whether the current phase is the last one."""
        return self.phase == "refit" or not self.refit

    def is_candidate(self):
        """Whether the network after the epoch just ended may be the one
        early stopping keeps: a network of the last phase (and, for a target
        sparsity, on target)."""
        return self._candidate

    def _epoch_is_candidate(self):
        """:meth:`is_candidate` of the epoch ending, before any change of
        phase."""
        return self.final_phase

    def step_lr_scale(self):
        """The factor applied to the learning rate of the step about to be
        taken (called before its gradient step)."""
        return 1.0

    def after_step(self, optimizer):
        """Told that the step's proximal map and masks were applied."""

    def lambdas_in_force(self):
        """λ per weight tensor at the last step (for the objective)."""
        return self.alpha

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
        self._candidate = self._epoch_is_candidate()
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
        lambdas = self.lambdas_in_force()
        if self.phase == "refit" or lambdas is None:
            return loss
        return loss + sum(
            a * float(torch.sum(torch.abs(w)))
            for a, w in zip(lambdas, weights)
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

    The ℓ1 phase follows the protocol of every ℓ1 fit (:class:`L1Plan`):
    with a warm-up, λ_j is ``min(alpha_j, warm-up λ)`` at each step, so that
    it rises along the warm-up curve until it reaches ``alpha_j``, then
    holds; the learning rate cools down at the end of the phase. Once every
    λ_j holds, the phase ends when the penalized objective stops improving
    (the stopping rule of scikit-learn's MLP); it ends at the latest after
    its share of the budget (``L1_SHARE`` with a refit, all of it without).
    The refit ends by the same rule or at the budget.

    Parameters
    ----------
    alphas : sequence of float
        λ per weight tensor.
    warmup : tuple of float, default=None
        ``(low, high)`` of the warm-up; None for λ at ``alphas`` from the
        first step (a fit that continues a fitted network, a skorch
        callback at a fixed λ).
    **kwargs
        ``max_epochs``, ``tol``, ``n_iter_no_change``, ``refit`` and
        ``adaptive``, as for every schedule.
    """

    monitor_objective = True

    def __init__(self, alphas, *, warmup=None, **kwargs):
        super().__init__(**kwargs)
        self.alpha = [float(a) for a in alphas]
        self.phase = "l1"
        self.l1_epochs = l1_epochs(self.max_epochs, self.refit)
        self.plan = L1Plan(self.l1_epochs, warmup)
        self.current = list(self.alpha) if warmup is None else [0.0] * len(alphas)
        self.holding = warmup is None
        self._held_at_epoch_end = self.holding

    def begin_epoch(self, n_steps):
        self.plan.begin_epoch(n_steps)

    def step_lr_scale(self):
        """The cooling of the ℓ1 phase (:func:`cooling_scale`); 1 in the
        refit, and without a penalty (no zero pattern to settle: a fit at
        ``alpha=0`` trains as scikit-learn's MLP does)."""
        if self.phase == "refit":
            return 1.0
        scale = self.plan.next_step()
        return scale if any(a > 0 for a in self.alpha) else 1.0

    def step_lambdas(self, optimizer):
        """λ per weight tensor for the proximal map of this step:
        ``min(alpha, warm-up λ)``, or 0 during the refit.

        Parameters
        ----------
        optimizer : ProximalOptimizer
            After its gradient step (not read: λ depends on the step's
            place in the phase only).

        Returns
        -------
        lambdas : list of float
        """
        if self.phase == "refit":
            return [0.0] * len(self.alpha)
        if not self.holding:
            warm = self.plan.warmup_lambda()
            self.current = [min(a, warm) for a in self.alpha]
            self.holding = all(a <= warm for a in self.alpha)
        return self.current

    def lambdas_in_force(self):
        return self.current

    def _settle(self, weights):
        self.plan.end_epoch()
        if self.holding and not self._held_at_epoch_end:
            # λ holds from now on: the stopping rule watches the objective
            # at this λ only.
            self.stopping.reset()
            self._held_at_epoch_end = True

    def _transition(self, plateau, weights):
        return super()._transition(plateau and self.holding, weights)

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


class TargetL1(_Phases):
    """Reach a prescribed number of nonzero weights by ℓ1 training: λ rises
    along the warm-up of every ℓ1 fit and holds at the λ whose forecast
    count is the target.

    The ℓ1 phase runs the protocol of :class:`FixedAlpha` (:class:`L1Plan`),
    with λ chosen on the way. Until it holds, each group's λ is the warm-up
    λ, the same curve a fixed-λ fit follows, so the network is, step for
    step, the one a fit at any larger λ would have. :data:`N_FORECASTS`
    times over the phase, the schedule forecasts how many weights of each
    group a λ held to the end of the phase would leave nonzero
    (:func:`sk_sparse_l1._lambda_search.survival_scores`). Once the λ whose
    forecast is ``T`` is at most the warm-up λ, the group
    holds that λ: a fresh fit at that λ follows the same steps. When a later
    forecast at the held λ exceeds the target by more than
    :data:`RESUME_TOL`, λ rises again along the warm-up curve from where it
    held (the forecast had missed weights that survive).

    The phase ends at its share of the budget, or when the penalized
    objective stops improving once every group holds, or when the count
    falls below the tolerance band after having been in it: the network
    kept is then the last one on target, at the same held λ. Without a
    refit that network is the result; with one, its support is refitted.

    Parameters
    ----------
    groups : list of list of int
        Weight-layer indices sharing one λ (all layers for a global target,
        one per layer for layer-wise targets).
    targets : sequence of int
        Nonzero count wanted in each group.
    count_tol : float
        Relative tolerance on the counts: a group is on target when
        ``|nonzeros − T| ≤ max(count_tol · T, 1)``.
    warmup : tuple of float
        ``(low, high)`` of the warm-up.
    min_lambda : float, default=0.0
        λ never goes below it (a fit that continues a fitted network starts
        its warm-up at the λ it had, and keeps the zeros that λ made).
    **kwargs
        ``max_epochs``, ``tol``, ``n_iter_no_change``, ``refit`` and
        ``adaptive``, as for every schedule.

    Attributes
    ----------
    alpha : list of float
        λ per layer at the last step: the held λ once every group holds.
    path : list of tuple
        ``(λ per group, nonzeros per group)`` after each ℓ1 epoch, λ that of
        the epoch's last step.
    held : list of bool
        Whether each group holds its λ.
    resumes : int
        How many times a group resumed raising λ after holding it.
    restored : bool
        Whether the phase ended on a network kept earlier in it, at the same
        λ (the count had left the tolerance band since).
    extended : bool
        Whether the phase was extended (:data:`EXTENSION`).
    """

    monitor_objective = True
    needs_gradient_estimate = True

    def __init__(self, groups, targets, count_tol, *, warmup, min_lambda=0.0, **kwargs):
        super().__init__(**kwargs)
        self.min_lambda = float(min_lambda)
        self.groups = groups
        self.targets = [int(t) for t in targets]
        self.count_tol = count_tol
        self.phase = "l1"
        self.l1_epochs = l1_epochs(self.max_epochs, self.refit)
        self.plan = L1Plan(self.l1_epochs, warmup)
        self.held = [False] * len(groups)
        self.group_lambdas = [0.0] * len(groups)
        self.shifts = [0.0] * len(groups)  # progress lost while holding
        # Consecutive forecasts over the target since the group held.
        self._over = [0] * len(groups)
        self.alpha = None
        self.path = []
        self.resumes = 0
        self.restored = False
        self._next_forecast = 0.0
        # Close to holding, a forecast every step: holding a step late
        # would hold a λ the warm-up has already passed.
        self._near_hold = False
        self.extended = False
        self._extension_pending = False
        self._kept = None  # a copy of the network closest to the target
        self._kept_error = math.inf
        self._last_error = math.inf  # of the last count after_step looked at
        self._params = None
        self._on_target_now = False
        self._counts = None
        self._held_at_epoch_end = False

    def _plan(self, weights):
        self.n_layers = len(weights)
        self.alpha = [0.0] * self.n_layers

    @property
    def holding(self):
        return all(self.held)

    def begin_epoch(self, n_steps):
        self.plan.begin_epoch(n_steps)

    def step_lr_scale(self):
        if self.phase == "refit":
            return 1.0
        return self.plan.next_step()

    def step_lambdas(self, optimizer):
        """λ per weight tensor for the proximal map of this step: each
        group's warm-up λ until it holds, then its held λ; 0 in the refit.

        Parameters
        ----------
        optimizer : ProximalOptimizer
            After its gradient step: its ``weights``, ``unit_step_sizes()``
            and ``gradient_estimate()`` feed the forecast.

        Returns
        -------
        lambdas : list of float
        """
        if self.phase == "refit":
            return [0.0] * self.n_layers
        previous = list(self.group_lambdas)
        if self._extension_pending:
            self._extension_pending = False
            scores = survival_scores(
                optimizer.weights,
                optimizer.gradient_estimate(),
                optimizer.unit_step_sizes(),
                self.plan.steps_left(include_current=True),
            )
            wanted = lambdas_keeping(scores, self.groups, self.targets)
            self.group_lambdas = [max(lam, self.min_lambda) for lam in wanted]
            self.held = [True] * len(self.groups)
        for g, held in enumerate(self.held):
            if not held:
                self.group_lambdas[g] = self.plan.warmup_lambda(self.shifts[g])
        forecast_due = self.plan.progress >= self._next_forecast or self._near_hold
        if forecast_due and not self.extended and self.plan.checkpoint():
            self._next_forecast = self.plan.progress + 1.0 / N_FORECASTS
            self._forecast(optimizer, previous)
        for group, lam in zip(self.groups, self.group_lambdas):
            for j in group:
                self.alpha[j] = lam
        return self.alpha

    def _forecast(self, optimizer, previous):
        """Hold or release each group's λ from the forecast of its count."""
        if self.plan.progress < MIN_HOLD:
            return
        scores = survival_scores(
            optimizer.weights,
            optimizer.gradient_estimate(),
            optimizer.unit_step_sizes(),
            self.plan.steps_left(include_current=True),
        )
        wanted = lambdas_keeping(scores, self.groups, self.targets)
        counts = counts_surviving(scores, self.groups, self.group_lambdas)
        self._near_hold = any(
            not held and lam <= NEAR_HOLD * current
            for held, lam, current in zip(self.held, wanted, self.group_lambdas)
        )
        for g, (lam, target) in enumerate(zip(wanted, self.targets)):
            if not self.held[g]:
                if lam <= self.group_lambdas[g]:
                    # Hold at the λ of the forecast, between the λ of the
                    # last step and this step's: a fit at that λ would have
                    # followed the warm-up up to here, and holds it from this
                    # step on.
                    low = math.nextafter(previous[g], math.inf)
                    self.group_lambdas[g] = min(max(lam, low), self.group_lambdas[g])
                    self.held[g] = True
                    self._over[g] = 0
                continue
            over = counts[g] > target + max(RESUME_TOL * target, 1.0)
            self._over[g] = self._over[g] + 1 if over else 0
            if self._over[g] >= RESUME_AFTER and self.plan.progress < RESUME_UNTIL:
                # More weights survive than the forecast at the hold said:
                # λ rises again along the warm-up curve, from where it held.
                self.held[g] = False
                self.resumes += 1
                # A network kept so far trained at a λ no longer in force.
                self._kept, self._kept_error = None, math.inf
                reached = self.plan.progress_at(self.group_lambdas[g])
                self.shifts[g] = self.plan.progress - reached

    def lambdas_in_force(self):
        return self.alpha

    def _epoch_is_candidate(self):
        return self.final_phase and (self.phase == "refit" or self._on_target_now)

    def after_step(self, optimizer):
        """While every group holds, keep a copy of the network after each
        step that leaves it on target, or closer to it than the copy kept:
        the count moves within an epoch, and through the tolerance band in a
        few steps at a high sparsity."""
        params = getattr(optimizer, "params", None)
        if self.phase != "l1" or not self.holding or params is None:
            return
        # Near the band, every step: the count can cross it between checks.
        near = self._last_error <= NEAR_BAND * max(self.count_tol, 1e-3)
        if not (near or self.plan.checkpoint()):
            return
        counts = [
            int(sum(int(torch.count_nonzero(optimizer.weights[j])) for j in group))
            for group in self.groups
        ]
        self._params = params
        on_target = within_tolerance(counts, self.targets, self.count_tol)
        error = 0.0 if on_target else self._error_of(counts)
        self._last_error = error
        # Ties go to the later network: it trained longer at the same λ.
        if error <= self._kept_error:
            self._kept = [p.detach().clone() for p in params]
            self._kept_error = error

    def _error_of(self, counts):
        """The largest relative distance of a group's count to its target."""
        return max(abs(k - t) / max(t, 1) for k, t in zip(counts, self.targets))

    def _settle(self, weights):
        """After an ℓ1 epoch: record λ and the counts."""
        self.plan.end_epoch()
        if self.phase != "l1":
            return
        counts = group_counts(count_nonzero(weights), self.groups).tolist()
        self.path.append((list(self.group_lambdas), counts))
        self._counts = counts
        self._on_target_now = self.holding and within_tolerance(
            counts, self.targets, self.count_tol
        )
        if self.holding and not self._held_at_epoch_end:
            self.stopping.reset()
        self._held_at_epoch_end = self.holding

    def _above_band(self):
        return any(
            k > t + max(self.count_tol * t, 1.0)
            for k, t in zip(self._counts, self.targets)
        )

    def _below_band(self):
        return any(
            k < t - max(self.count_tol * t, 1.0)
            for k, t in zip(self._counts, self.targets)
        )

    def _restore_kept(self, weights):
        """Back to the network kept, when the one at hand is farther from the
        target: the count has left the band since, or never reached it. The
        path's last point then describes the network restored."""
        if self._kept is None or self._on_target_now:
            return
        if self._kept_error < self._error_of(self._counts):
            for p, saved in zip(self._params, self._kept):
                p.copy_(saved)
            counts = group_counts(count_nonzero(weights), self.groups).tolist()
            self.path[-1] = (self.path[-1][0], counts)
            self._counts = counts
            self.restored = True
        self._kept = None

    def _extend(self):
        """Extend the ℓ1 phase once, from the budget of the refit, when its
        network missed the target; returns whether it did. The λ of the
        extension is chosen at its first step, by the forecast over it."""
        epochs = round(EXTENSION * self.max_epochs)
        if self.extended or not self.refit or epochs < 1 or not self._above_band():
            # Below the target, a lower λ would let weights back in, and a
            # fresh fit at that λ would be far denser: alpha_ would lose its
            # meaning. The network closest to the target stands.
            return False
        if self.max_epochs - self.epoch - epochs < 1:
            return False
        self.extended = True
        self.l1_epochs = self.epoch + epochs
        self.plan = L1Plan(epochs, None, heat=EXTENSION_HEAT)
        self.held = [False] * len(self.groups)
        self._extension_pending = True
        self._kept_error = math.inf
        self.stopping.reset()
        return True

    def _transition(self, plateau, weights):
        if self.phase != "l1":
            return super()._transition(plateau, weights)
        at_end = self.epoch >= self.l1_epochs
        if self.adaptive:
            fell = self._kept_error == 0.0 and self._below_band()
            if not (fell or (plateau and self.holding) or at_end):
                return "continue"
            self._restore_kept(weights)
            if self._kept_error > 0.0 and self._extend():
                return "continue"
        elif not (self._on_target_now or at_end):
            # partial_fit cannot go back: its ℓ1 phase ends on target.
            return "continue"
        else:
            self._restore_kept(weights)
            if not self._on_target_now and self._counts is not None and self._extend():
                return "continue"
        self._kept = None
        if self.refit and (self.epoch < self.max_epochs or not self.adaptive):
            self.masks = _support_masks(weights)
            self._next_phase("refit")
            return "refit"
        if not self.adaptive:
            return "continue"  # at fixed λ from now on
        self.converged = bool(plateau and self.holding)
        return "stop"

    def to(self, device):
        if self.alpha is not None:
            self.alpha = [float(a) for a in self.alpha]
        self._params = None  # the network's tensors: not the schedule's to keep
        return super().to(device)


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
        self._on_target_now = False
        if self.phase != "l1" or self.alpha is None:
            return
        self.alpha = [float(lam) for lam in self.alpha]
        nonzeros = group_counts(count_nonzero(weights), self.groups).tolist()
        self.path.append(([self.alpha[g[0]] for g in self.groups], nonzeros))
        self._on_target_now = within_tolerance(nonzeros, self.targets, self.count_tol)

    def _epoch_is_candidate(self):
        # Without a refit, only ℓ1 networks on target: a pruning-phase network
        # is not a result.
        return self.phase == "refit" or (not self.refit and self._on_target_now)

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
