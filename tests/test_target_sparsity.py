"""target_sparsity: λ chosen inside fit, the phases of a fit, search
bookkeeping and edge cases. The schedules and the paper's search are unit
tested on synthetic problems in ``test_schedules.py``."""

import pickle
import warnings

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer, make_regression
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import sk_sparse_l1._trainer as trainer_module
from sk_sparse_l1 import SparseL1Classifier, SparseL1Regressor
from sk_sparse_l1._lambda_search import GroupHistory, next_lambda
from sk_sparse_l1._schedules import EXTENSION, L1_SHARE, l1_epochs
from sk_sparse_l1._targets import target_nonzeros, within_tolerance

# A few epochs: these fits stop on the budget, which is the point of some.
pytestmark = pytest.mark.filterwarnings(
    "ignore:Proximal training used all max_iter:sklearn.exceptions.ConvergenceWarning"
)

FAST = dict(
    hidden_layer_sizes=(16,), max_iter=60, learning_rate_init=0.01, random_state=0
)
N_WEIGHTS_CANCER = 30 * 16 + 16


@pytest.fixture(scope="module")
def cancer():
    X, y = load_breast_cancer(return_X_y=True)
    return StandardScaler().fit_transform(X), y


@pytest.fixture(scope="module")
def regression():
    X, y = make_regression(
        n_samples=200, n_features=8, n_informative=4, noise=2.0, random_state=0
    )
    return X, y / y.std()


@pytest.fixture
def phases(monkeypatch):
    """The phase of the schedule at every epoch ``Trainer.run`` runs, and
    the index of the paper round it belongs to."""
    record = {"phases": [], "rounds": [], "n_restarts": 0}
    run_epoch = trainer_module.run_epoch
    restart = trainer_module.Trainer.restart

    def recording_run_epoch(network, data, optimizer, schedule, **kwargs):
        record["phases"].append(schedule.phase)
        record["rounds"].append(record["n_restarts"])
        return run_epoch(network, data, optimizer, schedule, **kwargs)

    def recording_restart(self, initial, seed):
        record["n_restarts"] += 1
        return restart(self, initial, seed)

    monkeypatch.setattr(trainer_module, "run_epoch", recording_run_epoch)
    monkeypatch.setattr(trainer_module.Trainer, "restart", recording_restart)
    return record


@pytest.fixture
def steps(monkeypatch):
    """Per epoch ``Trainer.run`` runs: its phase and the λ per weight tensor
    that each of its proximal maps was given."""
    record = []
    run_epoch = trainer_module.run_epoch
    proximal_step = trainer_module.proximal_step

    def recording_run_epoch(network, data, optimizer, schedule, **kwargs):
        record.append((schedule.phase, []))
        return run_epoch(network, data, optimizer, schedule, **kwargs)

    def recording_proximal_step(optimizer, schedule, *args, **kwargs):
        step_lambdas = schedule.step_lambdas

        def recording_step_lambdas(opt):
            lambdas = step_lambdas(opt)
            record[-1][1].append([float(lam) for lam in lambdas])
            return lambdas

        schedule.step_lambdas = recording_step_lambdas
        try:
            proximal_step(optimizer, schedule, *args, **kwargs)
        finally:
            del schedule.step_lambdas

    monkeypatch.setattr(trainer_module, "run_epoch", recording_run_epoch)
    monkeypatch.setattr(trainer_module, "proximal_step", recording_proximal_step)
    return record


# ---------------------------------------------------------------- estimators


def on_target(n_nonzero, target_sparsity, n_weights, tol=0.02):
    """The documented tolerance: |NNZ − T| ≤ max(tol · T, 1)."""
    target = round((1 - target_sparsity) * n_weights)
    return abs(n_nonzero - target) <= max(tol * target, 1)


@pytest.mark.parametrize("search,rounds", [("online", 30), ("paper", 40)])
@pytest.mark.parametrize("target", [0.5, 0.9])
def test_global_target_is_reached(cancer, search, rounds, target):
    X, y = cancer
    clf = SparseL1Classifier(
        target_sparsity=target, search=search, max_search_rounds=rounds, **FAST
    ).fit(X, y)
    n_nonzero = sum(int(np.count_nonzero(W)) for W in clf.coefs_)
    assert on_target(n_nonzero, target, N_WEIGHTS_CANCER)
    assert clf.target_reached_
    assert clf.score(X, y) > 0.9
    assert isinstance(clf.alpha_, float) and clf.alpha_ > 0
    path_nonzeros = np.round((1 - clf.sparsities_[:, 0]) * N_WEIGHTS_CANCER)
    l1_nonzero = sum(int(np.count_nonzero(W)) for W in clf.l1_coefs_)
    if search == "online":
        # One row per ℓ1 epoch; the last one is the ℓ1 network.
        assert clf.n_search_rounds_ == 1
        assert clf.alphas_.shape == clf.sparsities_.shape
        assert path_nonzeros[-1] == l1_nonzero
    else:
        # One row per round; the network kept (and refitted on its support)
        # is one of them, trained at alpha_.
        assert clf.alphas_.shape == (clf.n_search_rounds_, 1)
        assert 2 < clf.n_search_rounds_ <= rounds
        kept = np.flatnonzero(path_nonzeros == clf.n_nonzero_)
        assert kept.size and clf.alpha_ in clf.alphas_[kept, 0]


@pytest.mark.parametrize("refit", ["auto", False])
@pytest.mark.parametrize("target", [0.8, [0.75, 0.5]])
def test_online_path_is_the_lambda_actually_used(regression, steps, refit, target):
    """``alphas_`` holds the λ of the last proximal map of every ℓ1 epoch,
    and ``alpha_`` that of the last ℓ1 step; λ never falls while the
    warm-up rises."""
    X, y = regression
    reg = SparseL1Regressor(target_sparsity=target, refit=refit, **FAST).fit(X, y)
    l1_epochs_run = [lams for phase, lams in steps if phase == "l1"]
    groups = [[0, 1]] if np.ndim(target) == 0 else [[0], [1]]
    last = np.array([[lams[-1][g[0]] for g in groups] for lams in l1_epochs_run])
    np.testing.assert_array_equal(reg.alphas_, last)
    np.testing.assert_array_equal(np.atleast_1d(reg.alpha_), last[-1])
    used = np.array([lam for lams in l1_epochs_run for lam in lams])
    assert np.all(used[-1] > 0)
    refit_epochs = [lams for phase, lams in steps if phase == "refit"]
    assert all(lam == [0.0, 0.0] for lams in refit_epochs for lam in lams)


def fresh_fit_nonzeros(est, X, y):
    """Nonzero weights of ``est``'s ℓ1 network and of a fresh fit at its
    ``alpha_`` with the same seed, budget and refit."""
    params = est.get_params()
    # refit="auto" refits a target fit, not a fit at a given alpha.
    refit = True if est.refit == "auto" else est.refit
    params.update(target_sparsity=None, alpha=est.alpha_, refit=refit)
    fresh = type(est)(**params).fit(X, y)
    count = lambda coefs: sum(int(np.count_nonzero(W)) for W in coefs)  # noqa: E731
    return count(est.l1_coefs_), count(fresh.l1_coefs_), fresh


def test_fresh_fit_at_alpha_retraces_the_target_fit(regression):
    """A fit at ``alpha_`` follows the same warm-up and holds the same λ:
    when the search held λ once and kept its last network, the fresh fit is
    the same network, bit for bit."""
    X, y = regression
    exact = 0
    for seed in range(4):
        reg = SparseL1Regressor(
            target_sparsity=0.9, **{**FAST, "random_state": seed}
        ).fit(X, y)
        schedule = reg._schedule
        if schedule.resumes or schedule.extended or schedule.restored:
            continue
        exact += 1
        _, _, fresh = fresh_fit_nonzeros(reg, X, y)
        for a, b in zip(reg.coefs_ + reg.l1_coefs_, fresh.coefs_ + fresh.l1_coefs_):
            np.testing.assert_array_equal(a, b)
        assert fresh.n_iter_ == reg.n_iter_
    assert exact >= 2  # the premise: most fits hold once


@pytest.mark.parametrize(
    "make_est",
    [
        lambda: SparseL1Regressor(target_sparsity=0.9, **FAST),
        lambda: SparseL1Regressor(
            target_sparsity=0.7,
            hidden_layer_sizes=(16, 8),
            max_iter=60,
            learning_rate_init=0.01,
            batch_size=50,
            random_state=1,
        ),
        lambda: SparseL1Regressor(
            target_sparsity=0.95,
            refit=False,
            solver="sgd",
            max_iter=60,
            hidden_layer_sizes=(16,),
            learning_rate_init=0.05,
            random_state=2,
        ),
    ],
)
def test_fresh_fit_at_alpha_lands_near_the_target(regression, make_est):
    """The meaning of ``alpha_``: trained at it from scratch, the network
    has about the target count of nonzeros."""
    X, y = regression
    est = make_est().fit(X, y)
    assert est.target_reached_
    target = round(
        (1 - est.target_sparsity) * 144
        if est.hidden_layer_sizes == (16,)
        else (1 - est.target_sparsity) * (8 * 16 + 16 * 8 + 8)
    )
    l1_count, fresh_count, _ = fresh_fit_nonzeros(est, X, y)
    assert abs(fresh_count - target) <= max(0.1 * target, 2)


@pytest.mark.parametrize("search,rounds", [("online", 30), ("paper", 40)])
def test_layerwise_target_is_reached(regression, search, rounds):
    X, y = regression
    targets = [0.75, 0.5]  # exact counts: 32 of 128 and 8 of 16 weights
    reg = SparseL1Regressor(
        target_sparsity=targets, search=search, max_search_rounds=rounds, **FAST
    ).fit(X, y)
    assert on_target(reg.layer_n_nonzero_[0], 0.75, 128)
    assert on_target(reg.layer_n_nonzero_[1], 0.5, 16)
    assert reg.target_reached_
    assert reg.alpha_.shape == (2,) and np.all(reg.alpha_ > 0)
    assert reg.alphas_.shape[1] == 2 and reg.sparsities_.shape[1] == 2
    # One λ per layer: they differ.
    assert reg.alpha_[0] != reg.alpha_[1]


@pytest.mark.parametrize("refit", ["auto", False])
def test_online_phases_share_the_max_iter_budget(regression, phases, refit):
    """ℓ1 for L1_SHARE of max_iter when a refit follows (EXTENSION more if
    its network missed the target), all of it otherwise, then the refit:
    ``n_iter_`` counts them all and never exceeds ``max_iter``; the refit
    trains the ℓ1 network's support, kept in ``l1_coefs_``."""
    X, y = regression
    reg = SparseL1Regressor(target_sparsity=0.8, refit=refit, **FAST).fit(X, y)
    seen = phases["phases"]
    assert reg.n_iter_ == len(seen) == len(reg.loss_curve_) <= 60
    n_l1 = seen.count("l1")
    assert seen == ["l1"] * n_l1 + ["refit"] * seen.count("refit")
    assert reg.alphas_.shape == (n_l1, 1)
    assert on_target(reg.n_nonzero_, 0.8, 144)
    if refit == "auto":
        assert 0 < seen.count("refit")
        extension = round(EXTENSION * 60) if reg._schedule.extended else 0
        assert n_l1 <= round(L1_SHARE * 60) + extension
        for W, W_l1 in zip(reg.coefs_, reg.l1_coefs_):
            np.testing.assert_array_equal(W != 0, W_l1 != 0)
            assert not np.array_equal(W, W_l1)
    else:
        assert "refit" not in seen
        for W, W_l1 in zip(reg.coefs_, reg.l1_coefs_):
            np.testing.assert_array_equal(W, W_l1)


def test_paper_search_epochs_are_counted_over_all_rounds(regression, phases):
    """Each round trains from the start for at most L1_SHARE of max_iter
    (a refit follows), ``max_search_rounds`` bounds the rounds (6 are too
    few here), and ``n_iter_`` is every epoch of the call, the refit
    included."""
    X, y = regression
    reg = SparseL1Regressor(
        target_sparsity=0.7, search="paper", max_search_rounds=6, **FAST
    )
    with pytest.warns(ConvergenceWarning, match="within max_search_rounds=6"):
        reg.fit(X, y)
    assert phases["n_restarts"] == reg.n_search_rounds_ == 6
    round_epochs = l1_epochs(60, refit=True)
    rounds = np.array(phases["rounds"])
    assert reg.n_iter_ == len(rounds) == len(reg.loss_curve_)
    searching = np.array(phases["phases"]) != "refit"
    for r in range(1, reg.n_search_rounds_ + 1):
        assert 0 < np.sum(searching & (rounds == r)) <= round_epochs
    # The refit follows the last round, in the epochs the rounds left.
    assert np.all(rounds[~searching] == reg.n_search_rounds_)
    assert 0 < np.sum(~searching) <= 60 - round_epochs
    assert reg.n_iter_ > 60  # more than one round: the budget is per round


@pytest.mark.parametrize("max_iter", [1, 2, 3, 10])
def test_online_tiny_budgets_land_or_say_so(regression, max_iter):
    """A budget of a few epochs may be too short to train a network down to
    the target: the fit says so, and what it says is the count of
    ``coefs_``."""
    X, y = regression
    reg = SparseL1Regressor(target_sparsity=0.8, **{**FAST, "max_iter": max_iter})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        reg.fit(X, y)
    assert reg.n_iter_ <= max_iter
    n_nonzero = sum(int(np.count_nonzero(W)) for W in reg.coefs_)
    assert reg.target_reached_ == on_target(n_nonzero, 0.8, 144)
    missed = [w for w in caught if "was not reached" in str(w.message)]
    assert bool(missed) == (not reg.target_reached_)
    assert reg.alpha_ > 0


@pytest.mark.parametrize("batch_size", [20, 50])
def test_partial_fit_follows_the_schedule_over_max_iter_calls(regression, batch_size):
    """Each call is one epoch of the schedule, which does not adapt to
    plateaus: the count falls over the ℓ1 share of max_iter calls and ends
    on the target, T = round(0.2 · 144) = 29; the refit holds it in every
    later call."""
    X, y = regression
    reg = SparseL1Regressor(
        target_sparsity=0.8, batch_size=batch_size, **{**FAST, "max_iter": 20}
    )
    counts = []
    for _ in range(25):
        reg.partial_fit(X, y)
        counts.append(reg.n_nonzero_)
        assert reg.n_iter_ == 1
    assert len(reg.loss_curve_) == 25
    n_l1 = l1_epochs(20, refit=True)
    assert counts[0] > 100
    assert all(on_target(k, 0.8, 144) for k in counts[n_l1 - 1 :])
    assert reg.target_reached_
    with pytest.raises(ValueError, match="search='paper'.*needs fit"):
        SparseL1Regressor(target_sparsity=0.8, search="paper").partial_fit(X, y)


@pytest.mark.parametrize(
    "params,refits",
    [
        ({"target_sparsity": 0.8}, True),
        ({"target_sparsity": 0.8, "refit": False}, False),
        ({"alpha": 0.01}, False),
        ({"alpha": 0.01, "refit": True}, True),
        ({"alpha": 0.0, "refit": True}, False),  # nothing to refit
    ],
)
def test_refit_auto_refits_target_fits_only(regression, phases, params, refits):
    X, y = regression
    reg = SparseL1Regressor(**{**FAST, "max_iter": 20}, **params).fit(X, y)
    assert ("refit" in phases["phases"]) == refits
    same = [np.array_equal(a, b) for a, b in zip(reg.coefs_, reg.l1_coefs_)]
    assert same == [not refits] * 2


def test_target_zero_means_no_penalty(regression):
    X, y = regression
    reg = SparseL1Regressor(target_sparsity=0.0, **FAST).fit(X, y)
    assert reg.sparsity_ == 0.0
    assert reg.alpha_ == 0.0
    assert reg.target_reached_


def test_unreachable_target_warns_and_keeps_closest(cancer):
    X, y = cancer
    clf = SparseL1Classifier(
        target_sparsity=0.9,
        search="paper",
        sparsity_tol=1e-4,
        max_search_rounds=3,
        **{**FAST, "max_iter": 4},
    )
    with pytest.warns(
        ConvergenceWarning,
        match="target_sparsity=0.9 was not reached within max_search_rounds=3",
    ):
        clf.fit(X, y)
    assert not clf.target_reached_ and clf.n_search_rounds_ == 3
    # Closest on a log scale of the nonzero count (an empty network is not
    # "close" to a small target); the refit keeps its support.
    target = round(0.1 * N_WEIGHTS_CANCER)
    nonzeros = np.round((1 - clf.sparsities_[:, 0]) * N_WEIGHTS_CANCER)
    distances = np.abs(np.log((nonzeros + 1) / (target + 1)))
    kept = np.abs(np.log((clf.n_nonzero_ + 1) / (target + 1)))
    assert kept == pytest.approx(distances.min(), rel=1e-12)
    assert len(set(nonzeros)) == 3  # the premise: three different counts


def test_wrong_number_of_layer_targets(regression):
    X, y = regression
    with pytest.raises(ValueError, match="expected 2 values, got 3"):
        SparseL1Regressor(target_sparsity=[0.5, 0.5, 0.5], **FAST).fit(X, y)


def test_grid_search_over_target_sparsity_in_pipeline(cancer):
    X, y = cancer
    pipe = make_pipeline(
        StandardScaler(), SparseL1Classifier(**{**FAST, "max_iter": 30})
    )
    grid = {"sparsel1classifier__target_sparsity": [0.5, 0.95]}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        search = GridSearchCV(pipe, grid, cv=3).fit(X, y)
    fitted = search.best_estimator_[-1]
    target = search.best_params_["sparsel1classifier__target_sparsity"]
    assert fitted.target_sparsity == target
    assert on_target(fitted.n_nonzero_, target, N_WEIGHTS_CANCER)


def test_pickles_with_search_trace(regression):
    X, y = regression
    reg = SparseL1Regressor(target_sparsity=0.7, **FAST).fit(X, y)
    restored = pickle.loads(pickle.dumps(reg))
    np.testing.assert_array_equal(restored.alphas_, reg.alphas_)
    np.testing.assert_array_equal(restored.sparsities_, reg.sparsities_)
    np.testing.assert_array_equal(restored.predict(X), reg.predict(X))
    for W, W_l1 in zip(restored.l1_coefs_, reg.l1_coefs_):
        np.testing.assert_array_equal(W, W_l1)


# ------------------------------------------------------------- search logic


def test_target_nonzeros_global_and_layerwise():
    targets, groups = target_nonzeros(0.9, [100, 50])
    assert targets.tolist() == [15] and groups == [[0, 1]]
    targets, groups = target_nonzeros([0.5, 0.2], [100, 50])
    assert targets.tolist() == [50, 40] and groups == [[0], [1]]
    # Relative to the count, with one weight of slack: 15 ± max(0.1·15, 1).
    assert within_tolerance([16], [15], tol=0.1)
    assert not within_tolerance([17], [15], tol=0.1)
    assert within_tolerance([101, 50], [100, 49], tol=0.01)
    assert not within_tolerance([0], [3], tol=0.5)  # empty is not "close"


def test_next_lambda_rules():
    history = GroupHistory(target=10)
    history.record(0.1, 50)  # too dense
    assert next_lambda(history, [0.5]) == pytest.approx(1.0)  # expand upwards
    history = GroupHistory(target=10)
    history.record(0.1, 2)  # too sparse
    assert next_lambda(history, [0.5]) == pytest.approx(0.01)
    history.record(0.001, 40)  # now bracketed: (0.001, 0.1)
    assert next_lambda(history, [0.0005, 0.002, 0.004, 0.2]) == pytest.approx(0.003)
    assert next_lambda(history, [0.5]) == pytest.approx(0.01)  # geometric midpoint


def test_early_stopping_keeps_only_networks_on_target(cancer):
    """Without a refit, every epoch is an ℓ1 epoch; the network early
    stopping restores is the best-scoring one among those on target, never
    a denser one from the warm-up."""
    X, y = cancer
    clf = SparseL1Classifier(
        target_sparsity=0.9, refit=False, early_stopping=True, **FAST
    ).fit(X, y)
    n_nonzero = sum(int(np.count_nonzero(W)) for W in clf.coefs_)
    assert clf.target_reached_ and on_target(n_nonzero, 0.9, N_WEIGHTS_CANCER)
    scores = np.array(clf.validation_scores_)
    path_nonzeros = np.round((1 - clf.sparsities_[:, 0]) * N_WEIGHTS_CANCER)
    assert len(scores) == len(path_nonzeros)
    candidates = [on_target(k, 0.9, N_WEIGHTS_CANCER) for k in path_nonzeros]
    assert clf.best_validation_score_ == scores[candidates].max()
    # The premise: the first network to score best was a denser one of the
    # warm-up, which a rule keeping the first best score would restore.
    assert not candidates[int(np.argmax(scores))]
