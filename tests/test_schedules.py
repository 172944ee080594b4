"""Unit tests of the schedules (``_schedules``) and of the paper's search
(``_lambda_search.paper_search``) on synthetic problems: no network, no data.

A schedule is driven here as ``_trainer.run_epoch`` and ``Trainer.run``
drive it: ``begin_epoch`` before every epoch; after every "gradient step"
of a fake optimizer, ``step_lambdas`` gives λ, the proximal map
``w ← sign(w)·max(|w| − λ·d, 0)`` (written out here) is applied in the
optimizer's metric ``d``, then the schedule's masks; after every epoch
``end_epoch`` gets a synthetic loss. The fake optimizer's weights move at
every step, zeros included, by a drift towards a fixed point plus noise, as
minibatch steps move them, and its per-coordinate step sizes jitter and
drift, as Adam's do.
"""

import functools
import math
import pickle
from dataclasses import dataclass, field

import numpy as np
import pytest
import torch

from sk_sparse_l1._lambda_search import paper_search
from sk_sparse_l1._schedules import (
    COOL_START,
    L1_END,
    MIN_HOLD,
    PRUNES_PER_EPOCH,
    RAMP_END,
    WARMUP_END,
    FixedAlpha,
    L1Plan,
    MagnitudeRampSchedule,
    TargetL1,
    cooling_scale,
    l1_epochs,
)

SHAPES = [(12, 8), (3, 12)]  # two weight layers: 96 and 36 weights
COUNT_TOL = 0.02


class FakeOptimizer:
    """``weights`` and ``step_sizes()``, the interface schedules read.

    Step sizes are ``2**e`` with ``e`` jittered at every step around a
    drifting level. With ``exact=True`` the exponent is rounded to an
    integer, so that ``|w| / d`` and ``λ · d`` are exact in floating point
    and a weight survives the proximal map iff ``|w| / d > λ`` exactly: the
    counts below are then the schedule's, not the rounding's (see
    ``test_the_exact_lambda_keeps_exactly_the_target_with_any_step_sizes``).
    """

    def __init__(self, shapes=SHAPES, *, seed=0, exact=True):
        self.generator = torch.Generator().manual_seed(seed)
        self.weights = [self._noise(shape) for shape in shapes]
        self._fixed_point = [self._noise(shape) for shape in shapes]
        self._levels = [self._noise(shape) - 8.0 for shape in shapes]
        self.exact = exact
        self.n_steps = 0
        self._update_step_sizes()

    def _noise(self, shape):
        return torch.randn(shape, generator=self.generator, dtype=torch.float64)

    def _update_step_sizes(self):
        drift = 0.01 * self.n_steps
        exponents = [
            level + drift + 0.5 * self._noise(level.shape) for level in self._levels
        ]
        if self.exact:
            exponents = [torch.round(e) for e in exponents]
        self._step_sizes = [torch.exp2(e) for e in exponents]

    def step(self):
        """A minibatch step: every weight moves, zeros too."""
        for w, target in zip(self.weights, self._fixed_point):
            w.add_(0.2 * (target - w) + 0.05 * self._noise(w.shape))
        self.n_steps += 1
        self._update_step_sizes()

    def step_sizes(self):
        return self._step_sizes


def prox_(optimizer, lambdas):
    """``w ← sign(w) · max(|w| − λ·d, 0)`` in the optimizer's metric."""
    for w, lam, d in zip(optimizer.weights, lambdas, optimizer.step_sizes()):
        w.copy_(torch.sign(w) * torch.clamp(w.abs() - lam * d, min=0.0))


def group_counts(weights, groups):
    counts = [int(torch.count_nonzero(w)) for w in weights]
    return [sum(counts[j] for j in group) for group in groups]


@dataclass
class Run:
    """What happened at every step and epoch of a driven schedule."""

    groups: list
    start_action: str = None
    step_phases: list = field(default_factory=list)
    step_epochs: list = field(default_factory=list)
    step_counts: list = field(default_factory=list)
    step_lambdas: list = field(default_factory=list)
    supports: list = field(default_factory=list)
    epoch_phases: list = field(default_factory=list)
    epoch_counts: list = field(default_factory=list)
    actions: list = field(default_factory=list)
    objectives: list = field(default_factory=list)

    @property
    def n_epochs(self):
        return len(self.actions)

    def epochs_in(self, phase):
        return [e + 1 for e, p in enumerate(self.epoch_phases) if p == phase]

    def steps_in(self, phase):
        return [i for i, p in enumerate(self.step_phases) if p == phase]


def run_steps(schedule, optimizer, n_steps):
    """The steps of one epoch, as ``run_epoch`` takes them."""
    for _ in range(n_steps):
        optimizer.step()
        lambdas = [float(lam) for lam in schedule.step_lambdas(optimizer)]
        prox_(optimizer, lambdas)
        if schedule.masks is not None:
            for w, mask in zip(optimizer.weights, schedule.masks):
                w.mul_(mask)
        yield lambdas


def drive(schedule, optimizer, loss, *, steps_per_epoch, epochs):
    """Run ``schedule`` for at most ``epochs`` epochs, as the trainer does
    (the trainer's own limit is ``max_iter``: here it may be larger, to see
    whether the schedule stops by itself). ``loss(epoch)`` is the mean data
    loss of epoch ``epoch`` (from 0)."""
    groups = getattr(schedule, "groups", [list(range(len(optimizer.weights)))])
    run = Run(groups)
    run.start_action = schedule.start(optimizer.weights)
    for epoch in range(epochs):
        run.epoch_phases.append(schedule.phase)
        schedule.begin_epoch(steps_per_epoch)
        for lambdas in run_steps(schedule, optimizer, steps_per_epoch):
            run.step_phases.append(run.epoch_phases[-1])
            run.step_epochs.append(epoch + 1)
            run.step_counts.append(group_counts(optimizer.weights, groups))
            run.step_lambdas.append(lambdas)
            run.supports.append([(w != 0).clone() for w in optimizer.weights])
        action = schedule.end_epoch(loss(epoch), optimizer.weights)
        run.actions.append(action)
        run.objectives.append(schedule.last_objective)
        run.epoch_counts.append(group_counts(optimizer.weights, groups))
        if action == "stop":
            break
    return run


def decreasing(epoch):
    """Improves by more than tol=1e-4 at every epoch of these tests."""
    return 1.0 / (epoch + 1)


def constant(epoch):
    return 1.0


def target_schedule(
    targets=(30,),
    groups=((0, 1),),
    *,
    max_epochs=20,
    refit=True,
    adaptive=True,
    n_iter_no_change=2,
    tol=1e-4,
):
    return MagnitudeRampSchedule(
        [list(g) for g in groups],
        list(targets),
        count_tol=COUNT_TOL,
        max_epochs=max_epochs,
        tol=tol,
        n_iter_no_change=n_iter_no_change,
        refit=refit,
        adaptive=adaptive,
    )


GLOBAL = dict(targets=(30,), groups=((0, 1),))  # 30 of 132 weights
PER_LAYER = dict(targets=(20, 9), groups=((0,), (1,)))  # 20 of 96, 9 of 36
SIZES = {(0, 1): 132, (0,): 96, (1,): 36}
SETUPS = pytest.mark.parametrize(
    "setup", [GLOBAL, PER_LAYER], ids=["global", "per-layer"]
)


def cubic_kept(target, size, progress):
    """The ramp of gradual magnitude pruning, written out."""
    return round(target + (size - target) * (1.0 - min(progress, 1.0)) ** 3)


def on_target(counts, targets, tol=COUNT_TOL):
    """The documented tolerance: |NNZ − T| ≤ max(tol · T, 1)."""
    return all(abs(k - t) <= max(tol * t, 1) for k, t in zip(counts, targets))


# ----------------------------------------- MagnitudeRampSchedule: the ramp


@SETUPS
@pytest.mark.parametrize("steps", [5, 20])
def test_prune_phase_follows_the_cubic_ramp(setup, steps):
    """The count after a pruning step is the ramp's ``k_t``; masks are
    recomputed at most PRUNES_PER_EPOCH times an epoch, always at its last
    step, and hold the zeros in between (every step with 5 steps an epoch,
    every 3rd and the last with 20)."""
    max_epochs = 20
    schedule = target_schedule(**setup, max_epochs=max_epochs, n_iter_no_change=100)
    run = drive(schedule, FakeOptimizer(), decreasing, steps_per_epoch=steps, epochs=50)
    ramp_epochs = round(RAMP_END * max_epochs)  # 12
    ramp_steps = ramp_epochs * steps
    assert run.steps_in("prune") == list(range(ramp_steps))
    every = math.ceil(steps / PRUNES_PER_EPOCH)
    sizes = [SIZES[g] for g in setup["groups"]]
    expected = sizes  # before the first cut, nothing is pruned
    for s, counts in enumerate(run.step_counts[:ramp_steps], start=1):
        in_epoch = (s - 1) % steps + 1
        if in_epoch % every == 0 or in_epoch == steps:
            progress = s / ramp_steps
            expected = [
                cubic_kept(t, n, progress) for t, n in zip(setup["targets"], sizes)
            ]
        assert counts == expected, f"step {s}"
    # Pruning by magnitude: λ is 0 while the ramp runs.
    assert all(lam == 0.0 for row in run.step_lambdas[:ramp_steps] for lam in row)
    assert run.epoch_counts[ramp_epochs - 1] == list(setup["targets"])


def test_ramp_halves_on_a_plateau():
    """The loss stops improving for 3 epochs (> n_iter_no_change=2) at
    epoch 9: from then on the ramp runs at twice its rate, and a second
    halving needs a plateau of its own."""
    max_epochs, steps = 40, 5
    ramp_steps = round(RAMP_END * max_epochs) * steps  # 24 epochs

    def loss(epoch):  # decreasing, flat over epochs 7-9, decreasing again
        e = epoch + 1
        return 1.0 / min(e, 6) if e <= 9 else 1.0 / (e - 3)

    schedule = target_schedule(**GLOBAL, max_epochs=max_epochs, n_iter_no_change=2)
    run = drive(schedule, FakeOptimizer(), loss, steps_per_epoch=steps, epochs=60)
    # Progress 9/24 after epoch 9, then 2/24 per epoch: complete during
    # epoch 17 (instead of 24), so the ℓ1 phase starts at epoch 18.
    assert run.epochs_in("prune") == list(range(1, 18))
    assert run.epoch_phases[17] == "l1"
    plateau_step = 9 * steps
    for s in run.steps_in("prune"):
        s += 1
        progress = s if s <= plateau_step else plateau_step + 2 * (s - plateau_step)
        expected = cubic_kept(30, 132, progress / ramp_steps)
        assert run.step_counts[s - 1] == [expected], f"step {s}"


def test_constant_loss_halves_the_ramp_at_every_plateau():
    """With a flat loss every n_iter_no_change + 2 epochs is a plateau (the
    rule restarts after a halving, and its first epoch sets the best loss),
    each doubling the rate again: 4 epochs at 1/24 of the ramp, 4 at 2/24,
    and the last 12/24 in 3 epochs at 4/24, instead of 24 epochs."""
    schedule = target_schedule(**GLOBAL, max_epochs=40, n_iter_no_change=2)
    run = drive(schedule, FakeOptimizer(), constant, steps_per_epoch=4, epochs=60)
    assert run.epochs_in("prune") == list(range(1, 12))
    assert run.epoch_counts[9] == [cubic_kept(30, 132, 20 / 24)]
    assert run.epoch_counts[10] == [30]


# ------------------------------------ MagnitudeRampSchedule: ℓ1 and refit


@pytest.mark.parametrize("refit", [True, False])
@SETUPS
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_l1_phase_holds_lambda_and_ends_on_target(setup, refit, seed):
    """The ℓ1 phase starts at the exact λ (the count is T after its first
    step), holds it (``alpha``) at every step but possibly the last one of
    the phase, which takes the exact λ again if the count is off, so that
    the phase ends on target; the refit then holds that support."""
    schedule = target_schedule(**setup, max_epochs=20, refit=refit)
    noisy = np.random.RandomState(seed).rand(50)

    def loss(epoch):  # decreasing with noise: plateaus come and go
        return 1.0 / (epoch + 1) + 0.05 * noisy[epoch]

    run = drive(schedule, FakeOptimizer(seed=seed), loss, steps_per_epoch=4, epochs=50)
    targets = list(setup["targets"])
    l1_steps = run.steps_in("l1")
    assert len(l1_steps) >= (4 if refit else 8)  # 1 epoch (refit) or more
    assert run.step_counts[l1_steps[0]] == targets  # exact λ: exactly T
    alpha = schedule.alpha
    assert all(lam > 0 for lam in alpha)
    for group in schedule.groups:  # the layers of a group share its λ
        assert len({alpha[j] for j in group}) == 1
    assert all(run.step_lambdas[i] == alpha for i in l1_steps[:-1])
    last = l1_steps[-1]
    assert on_target(run.step_counts[last], targets)
    if run.step_lambdas[last] != alpha:  # the exact λ was needed
        assert run.step_counts[last] == targets
    # One path row per ℓ1 epoch: λ per group and the count it ended with.
    l1_epochs = run.epochs_in("l1")
    assert len(schedule.path) == len(l1_epochs)
    for (lambdas, counts), epoch in zip(schedule.path, l1_epochs):
        assert lambdas == [alpha[g[0]] for g in schedule.groups]
        assert counts == run.epoch_counts[epoch - 1]
    if refit:
        refit_steps = run.steps_in("refit")
        assert refit_steps and refit_steps[0] == last + 1
        for i in refit_steps:
            assert run.step_lambdas[i] == [0.0, 0.0]
            for support, held in zip(run.supports[i], run.supports[last]):
                assert torch.equal(support, held)
    else:
        assert not run.steps_in("refit") and schedule.masks is None


def test_l1_phase_lets_weights_enter_again():
    """Pruning's masks are dropped with the ramp: during the ℓ1 phase a
    weight pruned by magnitude can become nonzero again."""
    schedule = target_schedule(**GLOBAL, max_epochs=20, refit=False)
    run = drive(schedule, FakeOptimizer(), decreasing, steps_per_epoch=4, epochs=20)
    end_of_ramp = run.steps_in("l1")[0] - 1
    pruned = [~s for s in run.supports[end_of_ramp]]
    entered = sum(
        int((pruned_j & support_j).sum())
        for i in run.steps_in("l1")
        for pruned_j, support_j in zip(pruned, run.supports[i])
    )
    assert schedule.masks is None and entered > 0


def test_the_exact_lambda_keeps_exactly_the_target_with_any_step_sizes():
    """The first ℓ1 step takes the exact λ, documented to leave exactly T
    weights nonzero, whatever the step sizes (here not powers of two)."""
    counts = []
    for seed in range(100):
        schedule = target_schedule(**GLOBAL, max_epochs=1, refit=False)
        optimizer = FakeOptimizer(seed=seed, exact=False)
        schedule.start(optimizer.weights)
        schedule.begin_epoch(1)
        assert schedule.phase == "l1"
        list(run_steps(schedule, optimizer, 1))
        counts.append(group_counts(optimizer.weights, [[0, 1]])[0])
    assert counts == [30] * 100


# ---------------------------------- MagnitudeRampSchedule: phases, budget


@pytest.mark.parametrize("refit", [True, False])
@pytest.mark.parametrize("max_epochs", [10, 20, 37])
def test_phase_budgets_without_plateaus(max_epochs, refit):
    """Prune for RAMP_END of the budget; then ℓ1, until L1_END of the
    budget when a refit follows, else to the end; the fit stops at
    ``max_epochs`` by itself (``converged`` stays False)."""
    schedule = target_schedule(**GLOBAL, max_epochs=max_epochs, refit=refit)
    run = drive(
        schedule, FakeOptimizer(), decreasing, steps_per_epoch=2, epochs=3 * max_epochs
    )
    ramp = round(RAMP_END * max_epochs)
    l1_end = max(ramp + 1, round(L1_END * max_epochs)) if refit else max_epochs
    assert run.n_epochs == max_epochs and run.actions[-1] == "stop"
    assert run.epochs_in("prune") == list(range(1, ramp + 1))
    assert run.epochs_in("l1") == list(range(ramp + 1, l1_end + 1))
    assert run.epochs_in("refit") == list(range(l1_end + 1, max_epochs + 1))
    assert run.actions.count("refit") == int(l1_end < max_epochs)
    assert not schedule.converged
    assert on_target(run.epoch_counts[-1], [30])


def test_l1_phase_ends_on_a_plateau_of_the_data_loss():
    """The ℓ1 phase watches the data loss: flat from its first epoch, the
    rule sees a plateau at its 4th epoch (n_iter_no_change=2), then one
    more epoch lands on target and the fit ends, converged, well within
    the budget, although the penalized objective kept moving."""
    ramp = round(RAMP_END * 30)

    def loss(epoch):
        return decreasing(epoch) if epoch < ramp else 0.01

    schedule = target_schedule(**GLOBAL, max_epochs=30, refit=False)
    run = drive(schedule, FakeOptimizer(), loss, steps_per_epoch=2, epochs=30)
    assert run.epochs_in("l1") == list(range(ramp + 1, ramp + 6))
    assert run.actions[-1] == "stop" and schedule.converged
    assert on_target(run.epoch_counts[-1], [30])
    l1_objectives = run.objectives[ramp:]
    assert max(l1_objectives) - min(l1_objectives) > 1e-3


def test_adaptive_false_ignores_plateaus_and_goes_on_after_the_budget():
    """``partial_fit``'s schedule: a flat loss neither halves the ramp nor
    ends a phase; after ``max_epochs`` the last phase continues."""
    max_epochs = 20
    schedule = target_schedule(**GLOBAL, max_epochs=max_epochs, adaptive=False)
    run = drive(schedule, FakeOptimizer(), constant, steps_per_epoch=2, epochs=45)
    ramp = round(RAMP_END * max_epochs)
    l1_end = max(ramp + 1, round(L1_END * max_epochs))
    assert run.n_epochs == 45 and "stop" not in run.actions
    assert run.epochs_in("prune") == list(range(1, ramp + 1))
    assert run.epochs_in("l1") == list(range(ramp + 1, l1_end + 1))
    assert run.epochs_in("refit") == list(range(l1_end + 1, 46))
    assert not schedule.converged
    assert on_target(run.epoch_counts[-1], [30])


@pytest.mark.parametrize("kind", ["target", "fixed"])
@pytest.mark.parametrize("refit", [True, False])
@pytest.mark.parametrize("max_epochs", [1, 2, 3, 5, 8, 13, 30])
def test_never_runs_past_max_epochs(kind, refit, max_epochs):
    """Noisy loss curves of every shape: the schedule says "stop" at
    ``max_epochs`` at the latest, phases come in order within their budgets,
    ``converged`` is set when a plateau, not the budget, ended the fit, and
    a target fit ends on target."""
    for seed in range(6):
        rng = np.random.RandomState(seed)
        noise = rng.rand(3 * max_epochs)
        power, scale = rng.choice([0, 1]), rng.choice([0.0, 1e-3, 0.1])

        def loss(epoch, noise=noise, power=power, scale=scale):
            return 1.0 / (epoch + 1) ** power + scale * noise[epoch]

        if kind == "target":
            schedule = target_schedule(**GLOBAL, max_epochs=max_epochs, refit=refit)
        else:
            schedule = FixedAlpha(
                [0.1, 0.1],
                max_epochs=max_epochs,
                tol=1e-4,
                n_iter_no_change=2,
                refit=refit,
                adaptive=True,
            )
        run = drive(
            schedule,
            FakeOptimizer(seed=seed),
            loss,
            steps_per_epoch=2,
            epochs=3 * max_epochs,
        )
        assert run.start_action == "continue"
        assert run.n_epochs <= max_epochs and run.actions[-1] == "stop"
        order = {"prune": 0, "l1": 1, "refit": 2}
        ranks = [order[p] for p in run.epoch_phases]
        assert ranks == sorted(ranks)
        ramp = min(round(RAMP_END * max_epochs), max_epochs - 1)
        assert len(run.epochs_in("prune")) <= ramp
        if refit and run.epochs_in("refit"):
            l1_end = l1_epochs(max_epochs, refit=True)
            if kind == "target":
                l1_end = max(ramp + 1, round(L1_END * max_epochs))
            assert max(run.epochs_in("l1")) <= l1_end
        if kind == "target":
            assert run.epochs_in("l1"), "the ℓ1 phase always runs"
            assert on_target(run.epoch_counts[-1], [30])
        if run.n_epochs < max_epochs:
            assert schedule.converged


@pytest.mark.parametrize("refit", [True, False])
@SETUPS
@pytest.mark.parametrize("max_epochs", [1, 2, 3])
def test_tiny_budgets_end_on_target(max_epochs, setup, refit):
    """A budget too short for a ramp starts the ℓ1 phase at once: the ℓ1
    phase always runs, and its last step lands on target."""
    schedule = target_schedule(**setup, max_epochs=max_epochs, refit=refit)
    run = drive(schedule, FakeOptimizer(), decreasing, steps_per_epoch=3, epochs=10)
    assert run.n_epochs == max_epochs and run.actions[-1] == "stop"
    assert run.epoch_phases[-1] == "l1"  # no room for a refit
    assert run.epochs_in("prune") == list(range(1, max_epochs))
    assert on_target(run.epoch_counts[-1], setup["targets"])
    assert schedule.alpha is not None and len(schedule.path) == 1


def test_objective_is_penalized_at_alpha_in_the_l1_phase_only():
    """``loss_curve_`` records ``last_objective``: the data loss while
    pruning by magnitude and during the refit, the loss plus Σ λ_j‖W_j‖₁ at
    ``alpha`` during the ℓ1 phase."""
    schedule = target_schedule(**GLOBAL, max_epochs=10, refit=True)
    optimizer = FakeOptimizer()
    schedule.start(optimizer.weights)
    objectives, expected = [], []
    for epoch in range(10):
        phase = schedule.phase
        schedule.begin_epoch(2)
        list(run_steps(schedule, optimizer, 2))
        loss = decreasing(epoch)
        action = schedule.end_epoch(loss, optimizer.weights)
        objectives.append(schedule.last_objective)
        if phase == "l1":
            l1_norm = sum(float(w.abs().sum()) for w in optimizer.weights)
            expected.append(loss + schedule.alpha[0] * l1_norm)
        else:
            expected.append(loss)
        if action == "stop":
            break
    assert schedule.alpha[0] > 0
    np.testing.assert_allclose(objectives, expected, rtol=1e-12)
    assert objectives[6] > decreasing(6)  # the ℓ1 epoch (7 of 10)


def test_schedule_pickled_mid_epoch_continues_identically():
    """A schedule holds no reference to the network (``partial_fit`` keeps
    it between calls): a copy taken in the middle of an ℓ1 epoch continues
    exactly like the original."""
    steps = 4
    schedule = target_schedule(**PER_LAYER, max_epochs=8, refit=True)
    optimizer = FakeOptimizer()
    schedule.start(optimizer.weights)
    while schedule.phase == "prune":
        schedule.begin_epoch(steps)
        list(run_steps(schedule, optimizer, steps))
        schedule.end_epoch(1.0, optimizer.weights)
    schedule.begin_epoch(steps)
    list(run_steps(schedule, optimizer, 1))
    copy = pickle.loads(pickle.dumps(schedule))
    optimizer_copy = pickle.loads(pickle.dumps(optimizer))
    actions, lambdas = [], []
    for s, opt in ((schedule, optimizer), (copy, optimizer_copy)):
        lambdas.append(list(run_steps(s, opt, steps - 1)))
        actions.append(s.end_epoch(0.5, opt.weights))
    assert actions[0] == actions[1] and lambdas[0] == lambdas[1]
    assert copy.alpha == schedule.alpha and copy.path == schedule.path
    for a, b in zip(optimizer.weights, optimizer_copy.weights):
        assert torch.equal(a, b)


# ---------------------------------------------------------------- FixedAlpha


def test_fixed_alpha_monitors_the_objective():
    """A flat data loss while ‖W‖₁ keeps falling is progress for FixedAlpha,
    which watches the penalized objective; without the penalty it is a
    plateau after n_iter_no_change + 1 epochs."""
    shrinking = [
        [torch.full((4, 4), 1.0 / (e + 1), dtype=torch.float64)] for e in range(8)
    ]
    common = dict(max_epochs=100, tol=1e-4, n_iter_no_change=2, refit=False)
    penalized = FixedAlpha([0.5], adaptive=True, **common)
    actions = [penalized.end_epoch(1.0, weights) for weights in shrinking]
    assert actions == ["continue"] * 8 and not penalized.converged
    unpenalized = FixedAlpha([0.0], adaptive=True, **common)
    actions = [unpenalized.end_epoch(1.0, weights) for weights in shrinking[:4]]
    assert actions == ["continue"] * 3 + ["stop"] and unpenalized.converged


@pytest.mark.parametrize("max_epochs", [4, 10, 20])
def test_fixed_alpha_then_refit_within_the_budget(max_epochs):
    """λ as given (no warm-up) for the ℓ1 share of the budget, then 0 with
    the zeros of the last ℓ1 step held; ``alpha`` stays the λ the support
    was chosen at."""
    schedule = FixedAlpha(
        [40.0, 10.0],
        max_epochs=max_epochs,
        tol=1e-4,
        n_iter_no_change=100,
        refit=True,
        adaptive=True,
    )
    run = drive(schedule, FakeOptimizer(), decreasing, steps_per_epoch=3, epochs=50)
    l1_end = l1_epochs(max_epochs, refit=True)
    assert run.n_epochs == max_epochs and run.actions[-1] == "stop"
    assert run.epochs_in("l1") == list(range(1, l1_end + 1))
    assert run.actions[l1_end - 1] == "refit"
    for phase, lambdas in zip(run.step_phases, run.step_lambdas):
        assert lambdas == ([40.0, 10.0] if phase == "l1" else [0.0, 0.0])
    refit_steps = run.steps_in("refit")
    held = run.supports[refit_steps[0] - 1]
    assert 0 < sum(int(s.sum()) for s in held) < 132  # the prox made zeros
    for i in refit_steps:
        assert all(torch.equal(a, b) for a, b in zip(run.supports[i], held))
    assert schedule.alpha == [40.0, 10.0]


def test_refit_after_holds_the_support_it_is_given():
    """The refit that follows the paper's search: a new schedule already in
    its refit phase, over the remaining epochs, reporting the search's λ;
    the support held is that of the weights it starts with."""
    optimizer = FakeOptimizer()
    optimizer.weights[0][:, :5] = 0.0
    support = [(w != 0).clone() for w in optimizer.weights]
    searched = FixedAlpha(
        [0.2, 0.2],
        max_epochs=6,
        tol=1e-4,
        n_iter_no_change=2,
        refit=False,
        adaptive=True,
    )
    schedule = searched.refit_after(4)
    assert schedule.phase == "refit" and schedule.final_phase
    assert schedule.max_epochs == 4 and schedule.alpha == [0.2, 0.2]
    run = drive(schedule, optimizer, decreasing, steps_per_epoch=2, epochs=10)
    # Its start asks the trainer to refit: keep the network, fresh optimizer.
    assert run.start_action == "refit"
    assert run.n_epochs == 4 and run.epoch_phases == ["refit"] * 4
    assert all(lam == 0.0 for row in run.step_lambdas for lam in row)
    for step_support in run.supports:
        assert all(torch.equal(a, b) for a, b in zip(step_support, support))


# -------------------------------------------------------------- paper_search


class SyntheticTrainer:
    """The trainer protocol of ``paper_search`` on a problem solved in
    closed form: ``½‖w − a‖² + λ‖w‖₁`` per layer (the Lasso with an
    orthogonal design), scores ``a_k > 0``.

    Trained at λ_j, weight k of layer j is ``a_k − λ_j`` if ``a_k > λ_j``,
    else 0, and the gradient magnitude of the unpenalized loss is λ_j on
    nonzero weights and ``a_k`` on zeros: the count is monotone in λ. The
    initial network ``w0`` is random, so that its gradient magnitudes
    ``|w0 − a|`` only roughly predict the scores, as a network's do.
    """

    def __init__(self, scores, *, init_scale=1.0, interrupt_in_round=None, seed=0):
        rng = np.random.RandomState(seed)
        self.scores = [np.asarray(a, dtype=float) for a in scores]
        self.initial = [a * (1 + init_scale * rng.randn(a.size)) for a in self.scores]
        self.network = self  # snapshot() and restore() live here
        self.state = ("initial", None)
        self.interrupt_in_round = interrupt_in_round
        self.interrupted = False
        self.rounds = []  # (seed, λ per layer, epochs, started from initial)
        self._seed = None

    def snapshot(self):
        return self.state

    def restore(self, snapshot):
        self.state = snapshot

    def restart(self, initial, seed):
        self.restore(initial)
        self._seed = seed

    def run(self, schedule, max_epochs):
        from_initial = self.state == ("initial", None)
        lambdas = [float(lam) for lam in schedule.step_lambdas(self)]
        self.state = ("trained", tuple(lambdas))
        self.rounds.append((self._seed, lambdas, max_epochs, from_initial))
        if len(self.rounds) == self.interrupt_in_round:
            self.interrupted = True

    def weights(self):
        if self.state[0] == "initial":
            return self.initial
        return [
            np.where(a > lam, a - lam, 0.0)
            for a, lam in zip(self.scores, self.state[1])
        ]

    def layer_nonzeros(self):
        return [int(np.count_nonzero(w)) for w in self.weights()]

    def gradient_magnitudes(self):
        if self.state[0] == "initial":
            return [np.abs(w - a) for w, a in zip(self.initial, self.scores)]
        # Written out rather than |w − a|, whose rounding would put λ(1 ± ε)
        # on the nonzero weights.
        return [np.where(a > lam, lam, a) for a, lam in zip(self.scores, self.state[1])]


def _search(trainer, targets, groups, *, sparsity_tol=0.02, max_rounds=60):
    return paper_search(
        trainer,
        np.asarray(targets),
        groups,
        sparsity_tol=sparsity_tol,
        max_rounds=max_rounds,
        round_schedule=functools.partial(
            FixedAlpha,
            max_epochs=7,
            tol=1e-4,
            n_iter_no_change=10,
            refit=False,
            adaptive=True,
        ),
        seed=123,
    )


def _lognormal(n, sigma, seed):
    return np.random.RandomState(seed).lognormal(mean=-3, sigma=sigma, size=n)


def _assert_bracketing(trainer, search, targets, sparsity_tol):
    """From the third round on, each group's λ is the one before if that
    was within tolerance; else, when the rounds so far bracket the target,
    the median of the gradient magnitudes of the network just trained that
    lie strictly inside the bracket (the geometric midpoint if none do);
    else ten times beyond the λ tried (the bracket expanded)."""
    lambdas, nonzeros = np.array(search.lambdas), np.array(search.nonzeros)
    groups = [[g] for g in range(len(targets))]
    if len(targets) == 1 and len(trainer.scores) > 1:
        groups = [list(range(len(trainer.scores)))]
    for r in range(2, search.n_rounds):
        for g, (group, target) in enumerate(zip(groups, targets)):
            lam, seen, counts = lambdas[r, g], lambdas[:r, g], nonzeros[:r, g]
            if abs(counts[-1] - target) <= max(sparsity_tol * target, 1):
                assert lam == seen[-1]
                continue
            too_sparse, too_dense = seen[counts <= target], seen[counts >= target]
            if too_sparse.size and too_dense.size:
                low, high = too_dense.max(), too_sparse.min()
                gamma = np.concatenate(
                    [
                        np.where(a > lambdas[r - 1, g], lambdas[r - 1, g], a)
                        for a in (trainer.scores[j] for j in group)
                    ]
                )
                inside = gamma[(gamma > low) & (gamma < high)]
                expected = np.median(inside) if inside.size else np.sqrt(low * high)
                assert lam == pytest.approx(expected, rel=1e-12)
            elif too_sparse.size:
                assert lam == pytest.approx(seen.min() / 10, rel=1e-12)
            else:
                assert lam == pytest.approx(seen.max() * 10, rel=1e-12)


@pytest.mark.parametrize(
    "target,init_scale,expansion",
    [(200, 0.3, None), (20, 0.3, None), (200, 30.0, "down"), (200, 0.01, "up")],
    ids=["bracketed", "sparse", "expanded-down", "expanded-up"],
)
def test_paper_search_on_a_monotone_problem(target, init_scale, expansion):
    """The first two rounds bracket the target, or not: an initial network
    far from the solution (large ``w0``) has large gradients and both start
    too sparse; one very close to it has tiny gradients and both start too
    dense. The bracket is then expanded ×10 at a time."""
    scores = _lognormal(2000, 1.5, seed=0)
    trainer = SyntheticTrainer([scores], init_scale=init_scale)
    initial_gradients = trainer.gradient_magnitudes()[0]
    search, schedule = _search(trainer, [target], [[0]])
    starts = [k[0] for k in search.nonzeros[:2]]
    if expansion == "down":
        assert max(starts) < target
    elif expansion == "up":
        assert min(starts) > target
    else:
        assert min(starts) < target < max(starts)
    assert search.reached
    count = trainer.layer_nonzeros()[0]
    assert abs(count - target) <= max(0.02 * target, 1)
    assert search.n_rounds > 2  # the start did not give it away
    # Every round restarts from the initial network and data order, for
    # round_epochs epochs, at the λ it records.
    assert all(seed == 123 and fresh for seed, _, _, fresh in trainer.rounds)
    assert all(epochs == 7 for _, _, epochs, _ in trainer.rounds)
    assert [r[1] for r in trainer.rounds] == search.lambdas
    # λ_max first, the largest gradient magnitude of the initial network,
    # then the (T + 1)-th largest.
    assert search.lambdas[0] == [initial_gradients.max()]
    assert search.lambdas[1] == [np.sort(initial_gradients)[-(target + 1)]]
    _assert_bracketing(trainer, search, [target], 0.02)
    # The kept round is the last (the first within tolerance), and the
    # trainer holds its network; the returned schedule reports its λ.
    assert search.kept == search.n_rounds - 1
    assert [count] == search.nonzeros[search.kept]
    assert schedule.alpha == search.lambdas[search.kept]
    assert schedule.max_epochs == 7 and not schedule.refit
    assert np.sum(scores > search.lambdas[search.kept][0]) == count


def test_paper_search_layerwise_groups_settle_separately():
    """One λ per layer; a group within tolerance keeps its λ while the
    other is still searched (here the second settles 3 rounds earlier)."""
    trainer = SyntheticTrainer([_lognormal(500, 1.5, 1), _lognormal(300, 1.0, 2)])
    search, _ = _search(trainer, [50, 200], [[0], [1]])
    assert search.reached
    counts = trainer.layer_nonzeros()
    assert abs(counts[0] - 50) <= 1 and abs(counts[1] - 200) <= 4
    within = np.abs(np.array(search.nonzeros) - [50, 200]) <= [1, 4]
    assert np.any(within[:-1, 1] & ~within[:-1, 0])  # the premise
    _assert_bracketing(trainer, search, [50, 200], 0.02)


def test_paper_search_global_group_over_two_layers():
    scores = [_lognormal(400, 1.5, 3), _lognormal(100, 1.5, 4)]
    trainer = SyntheticTrainer(scores)
    search, _ = _search(trainer, [100], [[0, 1]])
    assert search.reached and abs(sum(trainer.layer_nonzeros()) - 100) <= 2
    # One λ shared by the group's layers in every round.
    assert all(lambdas[0] == lambdas[1] for _, lambdas, _, _ in trainer.rounds)
    _assert_bracketing(trainer, search, [100], 0.02)


def test_paper_search_out_of_rounds_keeps_the_closest_on_a_log_scale():
    """An unreachable tolerance: every round is kept or not by its distance
    to the target on a log scale of the count (an empty network is far from
    a small target)."""
    trainer = SyntheticTrainer([_lognormal(2000, 1.0, 5)])
    search, schedule = _search(trainer, [600], [[0]], sparsity_tol=1e-6, max_rounds=4)
    assert not search.reached and search.n_rounds == 4
    distances = [abs(np.log((k[0] + 1) / 601)) for k in search.nonzeros]
    assert search.kept == int(np.argmin(distances))
    assert trainer.layer_nonzeros() == search.nonzeros[search.kept]
    assert schedule.alpha == search.lambdas[search.kept]


def test_paper_search_stops_after_an_interrupted_round():
    trainer = SyntheticTrainer([_lognormal(2000, 1.5, 0)], interrupt_in_round=3)
    search, schedule = _search(trainer, [200], [[0]])
    assert search.n_rounds == 3 and len(trainer.rounds) == 3
    distances = [abs(np.log((k[0] + 1) / 201)) for k in search.nonzeros]
    assert search.kept == int(np.argmin(distances))
    assert trainer.layer_nonzeros() == search.nonzeros[search.kept]
    assert schedule.alpha == search.lambdas[search.kept]


# ------------------------------------------- the ℓ1 protocol: L1Plan, TargetL1


def test_plan_cools_the_learning_rate_and_counts_the_cooled_steps_left():
    """The learning-rate factor is 1 until COOL_START of the phase, then a
    cosine to 0; ``steps_left`` is the sum of the factors of the steps to
    come, exactly as they will be taken."""
    plan = L1Plan(10, (1e-3, 1.0))
    factors = []
    for _ in range(10):
        plan.begin_epoch(7)
        for _ in range(7):
            if len(factors) == 20:
                left = plan.steps_left(include_current=False)
            factors.append(plan.next_step())
        plan.end_epoch()
    starts = np.arange(70) / 70
    np.testing.assert_allclose(factors, [cooling_scale(u) for u in starts])
    assert factors[: int(COOL_START * 70)] == [1.0] * int(COOL_START * 70)
    assert np.all(np.diff(factors[int(COOL_START * 70) :]) < 0)
    assert 0 < factors[-1] < 0.01
    assert left == pytest.approx(sum(factors[20:]), rel=1e-12)


def test_warmup_rises_from_low_to_high_whatever_the_target():
    """The warm-up is a curve of the progress only: ``low`` at the start,
    ``high`` at WARMUP_END, increasing; ``progress_at`` inverts it."""
    plan = L1Plan(4, (1e-3, 10.0))
    grid = np.linspace(0, WARMUP_END, 50)
    lams = [plan.warmup_lambda(at=u) for u in grid]
    assert lams[0] == pytest.approx(1e-3) and lams[-1] == pytest.approx(10.0)
    assert np.all(np.diff(lams) > 0)
    for u, lam in zip(grid[1:], lams[1:]):
        assert plan.progress_at(lam) == pytest.approx(u, rel=1e-9)
    assert L1Plan(4, None).warmup_lambda() == math.inf


def test_fixed_alpha_follows_the_warmup_then_holds_alpha():
    """λ = min(alpha, warm-up λ) at every step; the plateau rule applies
    only once λ holds (a constant loss would otherwise end the phase in the
    warm-up)."""
    warmup = (1e-3, 1.0)
    schedule = FixedAlpha(
        [0.05, 0.2],
        warmup=warmup,
        max_epochs=10,
        tol=1e-4,
        n_iter_no_change=1,
        refit=False,
        adaptive=True,
    )
    optimizer = FakeOptimizer()
    schedule.start(optimizer.weights)
    plan = L1Plan(10, warmup)
    used, expected, actions = [], [], []
    for _ in range(10):
        schedule.begin_epoch(5)
        plan.begin_epoch(5)
        for _ in range(5):
            schedule.step_lr_scale()
            plan.next_step()
            used.append(list(schedule.step_lambdas(optimizer)))
            warm = plan.warmup_lambda()
            expected.append([min(0.05, warm), min(0.2, warm)])
        plan.end_epoch()
        actions.append(schedule.end_epoch(1.0, optimizer.weights))
        if actions[-1] == "stop":
            break
    np.testing.assert_array_equal(used, expected[: len(used)])
    assert used[-1] == [0.05, 0.2]
    held_from = plan.progress_at(0.2) * 10  # epochs
    assert len(actions) > held_from  # no stop before λ holds
    assert actions[-1] == "stop" and schedule.converged


class StillOptimizer:
    """Weights that only the proximal map moves (zero gradients): the
    forecast of the target schedule is then exact. Unit step size
    ``d = 1e-3`` per weight, times the schedule's learning-rate factor."""

    def __init__(self, seed=0):
        generator = torch.Generator().manual_seed(seed)
        self.weights = [
            torch.randn(shape, generator=generator, dtype=torch.float64)
            for shape in SHAPES
        ]
        self.params = self.weights
        self.lr_scale = 1.0

    def unit_step_sizes(self):
        return [1e-3] * len(self.weights)

    def step_sizes(self):
        return [1e-3 * self.lr_scale] * len(self.weights)

    def gradient_estimate(self):
        return [torch.zeros_like(w) for w in self.weights]


def drive_protocol(schedule, optimizer, *, epochs, steps_per_epoch):
    """Steps as ``proximal_step`` takes them: learning-rate factor, λ, prox,
    masks, ``after_step``. Returns the λ of every step and the actions."""
    schedule.start(optimizer.weights)
    lambdas, actions = [], []
    for epoch in range(epochs):
        schedule.begin_epoch(steps_per_epoch)
        for _ in range(steps_per_epoch):
            optimizer.lr_scale = schedule.step_lr_scale()
            step = [float(lam) for lam in schedule.step_lambdas(optimizer)]
            prox_(optimizer, step)
            if schedule.masks is not None:
                for w, mask in zip(optimizer.weights, schedule.masks):
                    w.mul_(mask)
            schedule.after_step(optimizer)
            lambdas.append(step)
        actions.append(schedule.end_epoch(1.0 / (epoch + 1), optimizer.weights))
        if actions[-1] == "stop":
            break
    return np.array(lambdas), actions


@SETUPS
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_target_l1_holds_the_lambda_whose_forecast_is_the_target(setup, seed):
    """With weights only the prox moves, the forecast is exact: each group
    follows the warm-up, holds once the λ keeping T is reached, never moves
    again, and ends with T nonzeros (±1 for rounding of the shrinkage)."""
    warmup = (1e-2, 1e3)
    schedule = TargetL1(
        [list(g) for g in setup["groups"]],
        list(setup["targets"]),
        count_tol=COUNT_TOL,
        warmup=warmup,
        max_epochs=20,
        tol=1e-4,
        n_iter_no_change=100,
        refit=False,
        adaptive=True,
    )
    optimizer = StillOptimizer(seed)
    lambdas, actions = drive_protocol(schedule, optimizer, epochs=30, steps_per_epoch=5)
    assert len(actions) == 20 and actions[-1] == "stop"
    assert schedule.resumes == 0 and not schedule.extended
    plan = L1Plan(20, warmup)
    progress = [(e + (k + 1) / 5) / 20 for e in range(20) for k in range(5)]
    warm = np.array([plan.warmup_lambda(at=u) for u in progress])
    for g, group in enumerate(setup["groups"]):
        group_lams = lambdas[:, group[0]]
        hold = int(np.argmax(group_lams < warm))  # the first step below the curve
        assert hold >= MIN_HOLD * 100 - 1
        np.testing.assert_array_equal(group_lams[:hold], warm[:hold])
        assert warm[hold - 1] < group_lams[hold] <= warm[hold]
        assert np.all(group_lams[hold:] == group_lams[hold])
        assert schedule.alpha[group[0]] == group_lams[-1]
        count = sum(int(torch.count_nonzero(optimizer.weights[j])) for j in group)
        assert abs(count - setup["targets"][g]) <= 1
    # The path: one row per epoch, λ of the epoch's last step.
    assert len(schedule.path) == 20
    assert [row[0] for row in schedule.path] == [
        [lambdas[5 * e + 4, g[0]] for g in setup["groups"]] for e in range(20)
    ]
