"""Every rule that picks a value of λ.

Four ways of choosing the ℓ1 strength live here, and nothing else does:

- ``alpha="auto"`` (:func:`auto_alpha`): a fraction of the gradient
  magnitudes of the initial network;
- the warm-up that every ℓ1 fit follows on its way to its λ
  (:func:`warmup_bounds`, :func:`warmup_lambda`), and the forecast that
  tells a target-sparsity fit which λ to hold (:func:`survival_scores`,
  :func:`lambdas_keeping`, :func:`counts_surviving`): for the weights of
  the current network, how many a λ held to the end of the ℓ1 phase
  leaves nonzero;
- the *exact* λ of magnitude pruning's ℓ1 phase (:func:`step_scores`,
  :func:`exact_lambdas`, :func:`counts_kept`): the λ that leaves exactly the
  target number of weights nonzero after one proximal step, an order
  statistic of ``|w| / d``;
- the iterative search of Shen, Wang, Xu & Yan (2024), §4 of the method
  (:func:`paper_search`, with the update :func:`next_lambda`): every round
  retrains the network from the same initial weights and data order at a
  fixed λ, and the next λ comes from the bracket of the rounds so far and
  the gradient magnitudes of the network just trained.

The schedules (:mod:`sk_sparse_l1._schedules`) decide *when* a λ is chosen;
this module decides *which*.
"""

import math
from dataclasses import dataclass, field

import numpy as np
import torch

from sk_sparse_l1._prox import threshold_keeping
from sk_sparse_l1._targets import group_counts, within_tolerance

# alpha="auto": λ is this fraction of the mean gradient magnitude of the
# weights of the initial network (see the user guide for how it was chosen).
AUTO_ALPHA_FACTOR = 0.05


def auto_alpha(gradient_magnitudes):
    """The λ of ``alpha="auto"``.

    Parameters
    ----------
    gradient_magnitudes : list of ndarray
        ``|∂L/∂W_j|`` of the unpenalized mean loss at the initial network,
        one array per weight layer.

    Returns
    -------
    alpha : float
        ``AUTO_ALPHA_FACTOR`` times the mean of all these magnitudes.
    """
    gamma = np.concatenate([g.ravel() for g in gradient_magnitudes])
    return AUTO_ALPHA_FACTOR * float(gamma.mean())


# ----------------------------------------- the warm-up and the ℓ1 forecast

# The warm-up spans these multiples of the two scales of λ (the gradient
# scale and the shrinkage scale, see warmup_bounds): from well below the
# smaller, where λ prunes nothing, to well above the larger, where it
# prunes almost everything.
WARMUP_LOW, WARMUP_HIGH = 0.1, 30.0


def warmup_bounds(weights, gradients, *, lr, n_steps, per_coordinate):
    """The λ where the warm-up starts and the λ it reaches at its end.

    λ acts on two scales. At a stationary point ``|∂L/∂w| = λ`` on nonzero
    weights, so λ is on the scale of the gradients ``g``. Over a short
    budget it acts by shrinkage instead: a weight moves by ``λ · d`` a step,
    so ``|w| / (d · n_steps)`` is the λ that shrinks a weight to zero within
    the budget. The warm-up spans both, from ``WARMUP_LOW`` times the
    smaller to ``WARMUP_HIGH`` times the larger, so that any λ a fit may
    need lies on its way.

    Parameters
    ----------
    weights : list of torch.Tensor
        The penalized tensors of the initial network.
    gradients : list of torch.Tensor
        ``∂L/∂W_j`` of the mean loss over the training set at the initial
        network.
    lr : float
        The learning rate.
    n_steps : int
        Proximal steps of the ℓ1 phase.
    per_coordinate : bool
        Whether the optimizer's step is ``lr / |g|`` per coordinate (Adam,
        whose first step is ``lr · g / |g|``) or ``lr`` (plain SGD).

    Returns
    -------
    low, high : float
    """
    w = torch.cat([t.detach().abs().reshape(-1) for t in weights]).double()
    g = torch.cat([t.detach().abs().reshape(-1) for t in gradients]).double()
    gradient_scale = float(g.mean())
    size = w * g if per_coordinate else w
    # Weights with no gradient (dead units, pooled-away inputs) have no step
    # size to speak of: the scale is that of the weights that train.
    size = size[size > 0]
    shrinkage_scale = 0.0
    if size.numel():
        shrinkage_scale = float(size.median()) / (lr * max(n_steps, 1))
    return _bounds(gradient_scale, shrinkage_scale)


def _bounds(gradient_scale, shrinkage_scale):
    scales = [x for x in (gradient_scale, shrinkage_scale) if x > 0]
    if not scales:  # a network with no gradient and no weight: nothing to do
        return 0.0, 0.0
    return WARMUP_LOW * min(scales), WARMUP_HIGH * max(scales)


def warmup_lambda(progress, low, high, *, end):
    """λ of the warm-up at ``progress`` of the ℓ1 phase.

    ``log λ`` rises as the square of the progress, from ``low`` at 0 to
    ``high`` at ``end`` and on beyond it: slowly at first, while the
    network trains almost dense, then fast. The curve depends on the data,
    never on the λ a fit is heading for: every fit, at a given λ or at a
    target sparsity, follows the same λ until it reaches its own, so a
    fresh fit at the λ a target-sparsity fit found retraces it.

    Parameters
    ----------
    progress : float
        Fraction of the ℓ1 phase done, ≥ 0.
    low, high : float
        :func:`warmup_bounds`.
    end : float
        Progress at which λ reaches ``high``.

    Returns
    -------
    lam : float
    """
    if high <= 0:
        return 0.0
    return low * (high / low) ** ((progress / end) ** 2)


def survival_scores(weights, gradient_estimates, step_sizes, horizon):
    """For each weight, the largest λ that, held to the end of the ℓ1
    phase, leaves it nonzero, if the network stopped changing otherwise.

    A nonzero weight moves by ``−d (m̂ + λ sign w)`` a step, ``d`` its step
    size at a learning-rate scale of 1 and ``m̂`` its averaged gradient;
    over ``horizon`` such steps it survives iff
    ``λ < |w| / (d · horizon) − m̂ · sign(w)``. A zero weight enters iff
    ``|m̂| > λ`` (the fixed-point condition of §3 of the method).

    Parameters
    ----------
    weights : list of torch.Tensor
        The penalized tensors.
    gradient_estimates : list of torch.Tensor
        ``m̂`` per tensor (:meth:`ProximalOptimizer.gradient_estimate`).
    step_sizes : list of float or torch.Tensor
        ``d`` per tensor, at a learning-rate scale of 1.
    horizon : float
        Steps left in the ℓ1 phase, each weighted by its learning-rate
        scale.

    Returns
    -------
    scores : list of torch.Tensor
        One per tensor, of its shape.
    """
    horizon = max(float(horizon), 1e-12)
    scores = []
    for w, m, d in zip(weights, gradient_estimates, step_sizes):
        alive = w.abs() / (d * horizon) - m * torch.sign(w)
        scores.append(torch.where(w != 0, alive, m.abs()))
    return scores


def lambdas_keeping(scores, groups, counts):
    """Per group, the λ whose forecast leaves ``counts`` weights nonzero.

    Parameters
    ----------
    scores : list of torch.Tensor
        :func:`survival_scores`, one tensor per layer.
    groups : list of list of int
        The layer indices sharing each λ.
    counts : sequence of int
        The count wanted in each group.

    Returns
    -------
    lambdas : list of float
        One per group.
    """
    lambdas = []
    for group, count in zip(groups, counts):
        flat = torch.cat([scores[j].reshape(-1) for j in group])
        lambdas.append(float(threshold_keeping(flat, int(count))))
    return lambdas


def counts_surviving(scores, groups, lambdas):
    """Per group, the weights the forecast leaves nonzero at ``lambdas``.

    Parameters
    ----------
    scores : list of torch.Tensor
        :func:`survival_scores`, one tensor per layer.
    groups : list of list of int
        The layer indices of each group.
    lambdas : sequence of float
        λ per group.

    Returns
    -------
    counts : list of int
    """
    return [
        int(sum(int(torch.count_nonzero(scores[j] > lam)) for j in group))
        for group, lam in zip(groups, lambdas)
    ]


# ------------------------------------------- the exact λ (magnitude pruning)


def threshold_between(scores, n_keep):
    """The smallest threshold that leaves exactly ``n_keep`` of ``scores``
    above it, robust to rounding in the proximal map.

    Soft-thresholding at ``λ · d`` keeps weight ``k`` iff ``|w_k| − λ d_k``
    is positive; with λ equal to the score ``|w_k| / d_k`` of the
    ``(n_keep + 1)``-th weight, rounding can leave that weight at about
    1e-18 instead of zero. So λ is that score raised by a few units in the
    last place, but never beyond halfway to the ``n_keep``-th score.

    Parameters
    ----------
    scores : torch.Tensor
        Non-negative scores, any shape.
    n_keep : int
        Number of scores to leave above the threshold.

    Returns
    -------
    threshold : torch.Tensor
        A 0-dim tensor on the device of ``scores`` (0 when ``n_keep`` is at
        least the number of scores).
    """
    flat = scores.reshape(-1)
    if n_keep >= flat.numel():
        return flat.new_zeros(())
    cut = flat.numel() - n_keep
    low = torch.kthvalue(flat, cut).values
    raised = low * (1.0 + 8.0 * torch.finfo(flat.dtype).eps)
    if n_keep == 0:
        return raised
    high = torch.kthvalue(flat, cut + 1).values
    return torch.minimum(raised, (low + high) / 2.0)


def step_scores(optimizer):
    """``|w| / d`` for every weight: a weight survives this step's proximal
    map at λ iff its score exceeds λ.

    Parameters
    ----------
    optimizer : object
        A proximal optimizer (:mod:`sk_sparse_l1._optimizers`) after its
        gradient step: its ``weights`` and the ``step_sizes()`` ``d`` it
        applied to them.

    Returns
    -------
    scores : list of torch.Tensor
        One tensor per weight layer, of the layer's shape.
    """
    return [w.abs() / d for w, d in zip(optimizer.weights, optimizer.step_sizes())]


def exact_lambdas(scores, groups, targets):
    """Per layer, the λ that leaves exactly ``T`` nonzeros in each group
    after this step's proximal map.

    Parameters
    ----------
    scores : list of torch.Tensor
        :func:`step_scores` of this step, one tensor per weight layer.
    groups : list of list of int
        The layer indices sharing each λ.
    targets : sequence of int
        The nonzero count ``T`` wanted in each group.

    Returns
    -------
    lambdas : list of torch.Tensor
        One 0-dim tensor per layer, left on the device (no host copy); the
        layers of a group share one.
    """
    lambdas = [0.0] * len(scores)
    for group, target in zip(groups, targets):
        group_scores = torch.cat([scores[j].reshape(-1) for j in group])
        lam = threshold_between(group_scores, target)
        for j in group:
            lambdas[j] = lam
    return lambdas


def counts_kept(scores, lambdas, groups):
    """Per group, the weights that this step's proximal map at ``lambdas``
    leaves nonzero.

    Parameters
    ----------
    scores : list of torch.Tensor
        :func:`step_scores` of this step.
    lambdas : list of float or torch.Tensor
        λ per layer.
    groups : list of list of int
        The layer indices of each group.

    Returns
    -------
    counts : list of int
        A copy to the host: call it once an epoch, not every step.
    """
    return [
        int(sum(torch.count_nonzero(scores[j] > lambdas[j]) for j in group))
        for group in groups
    ]


# --------------------------------------------------------- the paper's search


@dataclass
class GroupHistory:
    """The (λ, nonzeros) pairs seen for one group and the bracket they give.

    More λ means fewer nonzeros. ``upper`` is the smallest λ seen whose count
    is at or below the target (too sparse or exact), ``lower`` the largest λ
    whose count is at or above it (too dense or exact).

    Parameters
    ----------
    target : int
        The nonzero count wanted in the group.
    lambdas, nonzeros : list, default=[]
        The λ of each round and the count it gave.
    """

    target: int
    lambdas: list = field(default_factory=list)
    nonzeros: list = field(default_factory=list)

    def record(self, lam, nonzeros):
        """Add the count ``nonzeros`` that training at ``lam`` gave."""
        self.lambdas.append(float(lam))
        self.nonzeros.append(int(nonzeros))

    @property
    def upper(self):
        seen = [lam for lam, k in zip(self.lambdas, self.nonzeros) if k <= self.target]
        return min(seen) if seen else None

    @property
    def lower(self):
        seen = [lam for lam, k in zip(self.lambdas, self.nonzeros) if k >= self.target]
        return max(seen) if seen else None


def geometric_midpoint(low, high):
    """λ halfway between ``low`` and ``high`` on a log scale.

    λ spans orders of magnitude (the paper's bracket starts at 1e-7 and
    1e-3), so the arithmetic midpoint would bisect almost nothing but the top
    decade.

    Parameters
    ----------
    low, high : float
        The bracket, ``0 ≤ low < high``.

    Returns
    -------
    lam : float
        ``√(low · high)``, or ``high / 10`` when ``low`` is 0.
    """
    if low <= 0:
        return high / 10.0
    return math.sqrt(low * high)


def next_lambda(history, gradient_magnitudes, expansion=10.0):
    """The paper's update for one group, with an unbracketed start handled.

    If the history brackets the target, return the median of the gradient
    magnitudes ``γ_k = |∂L/∂w_k|`` that lie strictly inside the bracket, or
    the bracket's geometric midpoint when none do. If every λ tried so far
    left too many nonzeros, grow the largest by ``expansion``; if every λ
    left too few, shrink the smallest by it.

    Parameters
    ----------
    history : GroupHistory
        The rounds so far of this group.
    gradient_magnitudes : array-like of float
        ``γ`` of the group's weights at the network just trained.
    expansion : float, default=10.0
        Factor by which an unbracketed λ moves.

    Returns
    -------
    lam : float
        The λ of the group's next round.
    """
    upper, lower = history.upper, history.lower
    if upper is None:
        return max(history.lambdas) * expansion
    if lower is None:
        return min(history.lambdas) / expansion
    gamma = np.asarray(gradient_magnitudes, dtype=float).ravel()
    inside = gamma[(gamma > lower) & (gamma < upper)]
    if inside.size:
        return float(np.median(inside))
    return geometric_midpoint(lower, upper)


@dataclass
class PaperSearch:
    """The rounds of a search: λ and nonzero counts per group, one row per
    round, and the round whose network was kept."""

    lambdas: list = field(default_factory=list)
    nonzeros: list = field(default_factory=list)
    kept: int = None
    reached: bool = False

    @property
    def n_rounds(self):
        return len(self.lambdas)


def _layer_lambdas(groups, group_lambdas):
    lambdas = [0.0] * sum(len(g) for g in groups)
    for group, lam in zip(groups, group_lambdas):
        for j in group:
            lambdas[j] = float(lam)
    return lambdas


def _log_distance(nonzeros, targets):
    """Worst distance to the targets on a log scale of the count: an empty
    network is far from 20 weights, farther than 46 are, although its
    relative error is smaller."""
    ratios = np.log((np.asarray(nonzeros) + 1.0) / (np.asarray(targets) + 1.0))
    return float(np.max(np.abs(ratios)))


def _group_values(per_layer, group):
    """The values of the layers of ``group``, flattened into one array."""
    return np.concatenate([per_layer[j].ravel() for j in group])


def paper_search(
    trainer, targets, groups, *, sparsity_tol, max_rounds, round_schedule, seed
):
    """Search λ with the paper's scheme; leaves the kept network in ``trainer``.

    The first round trains at ``λ_max``, the largest gradient magnitude of
    the initial network (an empty network), and the second at the
    ``(T + 1)``-th largest of these magnitudes. These need not bracket the
    target: the bracket is expanded geometrically until it does (the paper
    assumes its starting values bracket it). The search stops at the first
    round within ``sparsity_tol``; otherwise the network closest to the
    target on a log scale of the count is kept.

    Parameters
    ----------
    trainer : Trainer
        Runs the rounds (:class:`sk_sparse_l1._trainer.Trainer`, or any
        object with its ``network``, ``restart``, ``run``,
        ``layer_nonzeros``, ``gradient_magnitudes`` and ``interrupted``).
    targets : sequence of int
        The nonzero count wanted in each group.
    groups : list of list of int
        The layer indices sharing each λ.
    sparsity_tol : float
        Relative tolerance on the counts (see
        :func:`sk_sparse_l1._targets.within_tolerance`).
    max_rounds : int
        Most rounds.
    round_schedule : callable
        ``round_schedule(lambdas)`` returns the schedule of one round, at
        the per-layer λ ``lambdas``, for ``max_epochs`` epochs (the caller
        chooses its budget and stopping rule, and the refit that follows).
    seed : int
        Every round restarts the data order from this seed.

    Returns
    -------
    search : PaperSearch
        The rounds, and the one kept.
    schedule : object
        The schedule of the kept round, reporting its λ.
    """
    initial = trainer.network.snapshot()
    gamma = trainer.gradient_magnitudes()
    upper = float(max(g.max() for g in gamma))
    # The lower start: for each group, the gradient magnitude at the initial
    # network that leaves exactly T entries above it (the order-statistic
    # rule of the authors' predecessor paper, arXiv:2205.07170).
    lower = [
        float(threshold_keeping(torch.as_tensor(_group_values(gamma, g)), t))
        for g, t in zip(groups, targets)
    ]
    histories = [GroupHistory(int(t)) for t in targets]
    search = PaperSearch()
    group_lambdas = [upper] * len(groups)
    best = None  # ((missed, log distance), round, snapshot, schedule)
    for round_index in range(max_rounds):
        trainer.restart(initial, seed)
        schedule = round_schedule(_layer_lambdas(groups, group_lambdas))
        trainer.run(schedule, schedule.max_epochs)
        nonzeros = group_counts(trainer.layer_nonzeros(), groups)
        search.lambdas.append([float(lam) for lam in group_lambdas])
        search.nonzeros.append([int(k) for k in nonzeros])
        reached = within_tolerance(nonzeros, targets, sparsity_tol)
        key = (not reached, _log_distance(nonzeros, targets))
        if best is None or key <= best[0]:
            best = (key, round_index, trainer.network.snapshot(), schedule)
        if reached or trainer.interrupted:
            break
        for history, lam, k in zip(histories, group_lambdas, nonzeros):
            history.record(lam, k)
        if round_index == 0:
            group_lambdas = lower
            continue
        gamma = trainer.gradient_magnitudes()
        group_lambdas = [
            lam
            if within_tolerance([k], [t], sparsity_tol)
            else next_lambda(history, _group_values(gamma, g))
            for g, history, lam, k, t in zip(
                groups, histories, group_lambdas, nonzeros, targets
            )
        ]
    (missed, _), search.kept, snapshot, schedule = best
    trainer.network.restore(snapshot)
    search.reached = not missed
    return search, schedule
