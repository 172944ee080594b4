"""Search strategies that choose λ for a target sparsity.

A strategy drives a *problem*: an object that can train the network at given
per-layer λ (from the initial state or warm, optionally with a λ controller)
and report per-layer nonzero counts and gradient magnitudes. The estimators
and the skorch callbacks each provide one, so both share these strategies.

Problem protocol
----------------
``train(lambdas, *, restart, n_epochs, controller=None,
epoch_controller=None)`` → object with
``loss_curve``, ``n_epochs``, ``converged``, ``lambdas``;
``layer_nonzeros()`` → list of int; ``network_weights()`` → the penalized
tensors; ``gradient_magnitudes()`` → list of
ndarray (``|∂L/∂W_j|`` of the unpenalized full-data loss, per layer);
``snapshot()`` / ``restore(snapshot)``.
"""

from dataclasses import dataclass, field

import numpy as np

from sk_sparse_l1._controller import DeadbandController, QuantileController
from sk_sparse_l1._lambda_search import (
    GroupHistory,
    count_errors,
    group_counts,
    next_lambda,
    within_tolerance,
)


@dataclass
class SearchResult:
    """What a search found and how.

    ``alphas`` and ``nonzeros`` have one row per evaluated round and one
    column per group; ``errors`` are the relative count errors
    ``(nonzeros − T) / T`` per round.
    """

    lambdas: list
    reached: bool
    alphas: list = field(default_factory=list)
    nonzeros: list = field(default_factory=list)
    errors: list = field(default_factory=list)
    runs: list = field(default_factory=list)

    @property
    def n_rounds(self):
        return len(self.alphas)


class _Tracker:
    """Records every round and keeps the network closest to the target."""

    def __init__(self, problem, targets, groups, tol):
        self.problem = problem
        self.targets = targets
        self.groups = groups
        self.tol = tol
        self.histories = [GroupHistory(int(t)) for t in targets]
        self.result = SearchResult(lambdas=None, reached=False)
        self._best = None

    def layer_lambdas(self, group_lambdas):
        lambdas = [0.0] * sum(len(g) for g in self.groups)
        for group, lam in zip(self.groups, group_lambdas):
            for j in group:
                lambdas[j] = float(lam)
        return lambdas

    def evaluate(self, group_lambdas, run):
        """Record the network just trained at ``group_lambdas``; True when
        every group is within tolerance."""
        nonzeros = group_counts(self.problem.layer_nonzeros(), self.groups)
        errors = count_errors(nonzeros, self.targets)
        result = self.result
        result.alphas.append([float(lam) for lam in group_lambdas])
        result.nonzeros.append([int(k) for k in nonzeros])
        result.errors.append([float(e) for e in errors])
        result.runs.append(run)
        for history, lam, k in zip(self.histories, group_lambdas, nonzeros):
            history.record(lam, k)
        reached = within_tolerance(nonzeros, self.targets, self.tol)
        # Closeness on a log scale: an empty network is far from 20 weights,
        # farther than 46 are, although its relative error is smaller.
        ratios = np.log((nonzeros + 1.0) / (np.asarray(self.targets) + 1.0))
        worst = float(np.max(np.abs(ratios)))
        if self._replaces_best(reached, worst):
            snapshot = self.problem.snapshot()
            self._best = ((reached, worst), list(group_lambdas), snapshot, run)
        return reached

    def _replaces_best(self, reached, worst):
        """Keep the latest network within tolerance (the most trained one),
        else the closest to the target."""
        if self._best is None or reached:
            return True
        best_reached, best_worst = self._best[0]
        return not best_reached and worst < best_worst

    def group_within_tolerance(self):
        """Per group: is the last round's count within tolerance?"""
        nonzeros = self.result.nonzeros[-1]
        return [
            within_tolerance([k], [t], self.tol) for k, t in zip(nonzeros, self.targets)
        ]

    def finish(self):
        """Restore the closest network and fill in the result."""
        (reached, _), group_lambdas, snapshot, run = self._best
        self.problem.restore(snapshot)
        self.result.lambdas = self.layer_lambdas(group_lambdas)
        self.result.reached = reached
        self.result.final_run = run
        return self.result

    def next_group_lambdas(self, current):
        """The paper's bracket/median update for every group not yet within
        tolerance, from the gradient magnitudes of the current network."""
        gamma = self.problem.gradient_magnitudes()
        done = self.group_within_tolerance()
        updated = []
        for g, (group, history) in enumerate(zip(self.groups, self.histories)):
            if done[g]:
                updated.append(current[g])
                continue
            group_gamma = np.concatenate([gamma[j].ravel() for j in group])
            updated.append(next_lambda(history, group_gamma))
        return updated


def paper_search(
    problem,
    targets,
    groups,
    *,
    tol,
    max_rounds,
    lambda_upper,
    lambda_lower,
    n_epochs,
):
    """The iterative scheme of Shen, Wang, Xu & Yan (2024), §4 of the method.

    Every round retrains from the same initial state and data order, to the
    end of ``n_epochs`` (or convergence), at the λ chosen from the bracket
    and the gradient magnitudes of the previous round's network. The
    starting values need not bracket the target: the bracket is expanded
    geometrically until they do.
    """
    tracker = _Tracker(problem, targets, groups, tol)
    n_groups = len(groups)
    schedule = [[lambda_upper] * n_groups, [lambda_lower] * n_groups]
    lambdas = schedule[0]
    for round_index in range(max_rounds):
        run = problem.train(
            tracker.layer_lambdas(lambdas), restart=True, n_epochs=n_epochs
        )
        if tracker.evaluate(lambdas, run):
            break
        if round_index == 0:
            lambdas = schedule[1]
        else:
            lambdas = tracker.next_group_lambdas(lambdas)
    return tracker.finish()


def online_search(
    problem,
    targets,
    groups,
    group_sizes,
    *,
    tol,
    max_rounds,
    n_epochs,
    controller_fraction=0.5,
    ramp_fraction=0.6,
    correction_fraction=0.25,
):
    """One training run with λ steered online, then polish at a fixed λ.

    1. From the initial state, train ``controller_fraction · n_epochs``
       epochs with λ set at every step so that a prescribed number of
       weights survive each proximal step (:class:`QuantileController`).
       That number falls from all weights to the target along a cubic ramp
       over the first ``ramp_fraction`` of these epochs, then stays at the
       target: pruning gradually lets the network learn before it is
       sparse (the schedule of Zhu & Gupta, 2017).
    2. Start from the controller's average λ over its last epoch and
       continue, warm, for the rest of ``n_epochs`` (stopping early on
       convergence). After each epoch a group whose count is off by more
       than half the tolerance has its λ rescaled
       (:class:`DeadbandController`); inside that band λ stays fixed, so
       the network ends trained at a constant λ and satisfies that λ's
       optimality conditions, not merely the sparsity.
    3. While a group is outside the tolerance, continue warm for rounds of
       ``correction_fraction · n_epochs`` epochs with the same per-epoch
       correction (the polish of step 2 counts as the first round).
       Sparsity at a fixed λ still drifts while the network trains, so
       corrections track the current network instead of interpolating
       between rounds measured at earlier stages of training.
    """
    tracker = _Tracker(problem, targets, groups, tol)
    n_layers = sum(len(g) for g in groups)
    steer_epochs = max(1, round(controller_fraction * n_epochs))
    ramp_steps = round(ramp_fraction * steer_epochs) * problem.steps_per_epoch
    controller = QuantileController(
        groups, targets, n_layers, group_sizes=group_sizes, ramp_steps=ramp_steps
    )
    # λ is averaged over the last steering epoch only, once it has settled.
    if steer_epochs > 1:
        problem.train(
            [0.0] * n_layers,
            restart=True,
            n_epochs=steer_epochs - 1,
            controller=controller,
        )
    controller.reset_average()
    problem.train(
        [0.0] * n_layers,
        restart=steer_epochs == 1,
        n_epochs=1,
        controller=controller,
    )
    deadband = DeadbandController(problem.network_weights(), groups, targets, tol / 2)
    lambdas = controller.average_lambdas
    epochs = max(1, n_epochs - steer_epochs)
    for _ in range(max_rounds):
        run = problem.train(
            lambdas, restart=False, n_epochs=epochs, epoch_controller=deadband
        )
        if tracker.evaluate([run.lambdas[g[0]] for g in groups], run):
            break
        lambdas = deadband(run.lambdas)
        epochs = max(1, round(correction_fraction * n_epochs))
    return tracker.finish()
