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
from sk_sparse_l1._schedules import L1_END, RAMP_END
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
    assert on_target(clf.n_nonzero_, target, N_WEIGHTS_CANCER)
    assert clf.target_reached_
    assert clf.score(X, y) > 0.9
    assert isinstance(clf.alpha_, float) and clf.alpha_ > 0
    path_nonzeros = np.round((1 - clf.sparsities_[:, 0]) * N_WEIGHTS_CANCER)
    if search == "online":
        # One row per ℓ1 epoch, at the λ held through the phase; the last
        # one ends on target.
        assert clf.n_search_rounds_ == 1
        assert clf.alphas_.shape == clf.sparsities_.shape
        assert clf.alphas_.shape[0] >= 1
        assert np.all(clf.alphas_ == clf.alpha_)
        assert on_target(path_nonzeros[-1], target, N_WEIGHTS_CANCER)
    else:
        # One row per round; the network kept (and refitted on its support)
        # is one of them, trained at alpha_.
        assert clf.alphas_.shape == (clf.n_search_rounds_, 1)
        assert 2 < clf.n_search_rounds_ <= rounds
        kept = np.flatnonzero(path_nonzeros == clf.n_nonzero_)
        assert kept.size and clf.alpha_ in clf.alphas_[kept, 0]


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
    """Prune for RAMP_END of max_iter, ℓ1 (to L1_END when a refit follows),
    refit: ``n_iter_`` counts them all and never exceeds ``max_iter``; the
    refit trains the ℓ1 network's support, kept in ``l1_coefs_``."""
    X, y = regression
    reg = SparseL1Regressor(target_sparsity=0.8, refit=refit, **FAST).fit(X, y)
    seen = phases["phases"]
    assert reg.n_iter_ == len(seen) == len(reg.loss_curve_) <= 60
    n_prune, n_l1 = seen.count("prune"), seen.count("l1")
    assert seen == ["prune"] * n_prune + ["l1"] * n_l1 + ["refit"] * seen.count("refit")
    assert 0 < n_prune <= round(RAMP_END * 60)
    assert reg.alphas_.shape == (n_l1, 1)
    assert on_target(reg.n_nonzero_, 0.8, 144)
    if refit == "auto":
        assert 0 < seen.count("refit")
        assert n_prune + n_l1 <= max(round(RAMP_END * 60) + 1, round(L1_END * 60))
        for W, W_l1 in zip(reg.coefs_, reg.l1_coefs_):
            np.testing.assert_array_equal(W != 0, W_l1 != 0)
            assert not np.array_equal(W, W_l1)
    else:
        assert "refit" not in seen
        for W, W_l1 in zip(reg.coefs_, reg.l1_coefs_):
            np.testing.assert_array_equal(W, W_l1)


def test_paper_search_epochs_are_counted_over_all_rounds(regression, phases):
    """Each round trains from the start for at most L1_END of max_iter
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
    round_epochs = round(L1_END * 60)
    rounds = np.array(phases["rounds"])
    assert reg.n_iter_ == len(rounds) == len(reg.loss_curve_)
    searching = np.array(phases["phases"]) != "refit"
    for r in range(1, reg.n_search_rounds_ + 1):
        assert 0 < np.sum(searching & (rounds == r)) <= round_epochs
    # The refit follows the last round, in the epochs the rounds left.
    assert np.all(rounds[~searching] == reg.n_search_rounds_)
    assert 0 < np.sum(~searching) <= 60 - round_epochs
    assert reg.n_iter_ > 60  # more than one round: the budget is per round


@pytest.mark.parametrize("max_iter", [1, 2, 3])
def test_online_tiny_budgets_still_reach_the_target(regression, max_iter):
    X, y = regression
    reg = SparseL1Regressor(target_sparsity=0.8, **{**FAST, "max_iter": max_iter}).fit(
        X, y
    )
    assert reg.n_iter_ == max_iter
    assert reg.target_reached_ and on_target(reg.n_nonzero_, 0.8, 144)
    assert reg.alphas_.shape == (1, 1) and reg.alpha_ > 0


def test_partial_fit_follows_the_schedule_over_max_iter_calls(regression):
    """Each call is one epoch of the schedule, which does not adapt to
    plateaus: the cubic ramp over 12 of 20 calls (one step per call here),
    then the target, T = round(0.2 · 144) = 29, in every later call."""
    X, y = regression
    reg = SparseL1Regressor(target_sparsity=0.8, **{**FAST, "max_iter": 20})
    counts = []
    for _ in range(25):
        reg.partial_fit(X, y)
        counts.append(reg.n_nonzero_)
        assert reg.n_iter_ == 1
    assert len(reg.loss_curve_) == 25
    ramp = [round(29 + 115 * (1 - c / 12) ** 3) for c in range(1, 13)]
    assert counts[:12] == ramp
    assert all(on_target(k, 0.8, 144) for k in counts[12:])
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
