"""The skorch callbacks: the proximal step, target sparsity, sklearn plumbing.

Nets are small CNNs on scikit-learn's digits (8×8 images), trained for a few
epochs on one thread; every fit is seeded inside ``torch.random.fork_rng`` so
that the global random state of the test session is left alone.
"""

import importlib
import pickle
import sys
import warnings

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV
from torch import nn
from torch.utils.data import BatchSampler, DataLoader, RandomSampler, SequentialSampler

pytest.importorskip("skorch")

from skorch import NeuralNetClassifier  # noqa: E402
from skorch.callbacks import Callback, LRScheduler  # noqa: E402

from sk_sparse_l1._prox import (  # noqa: E402
    adam_denominators,
    adam_step_sizes,
    soft_threshold_,
)
from sk_sparse_l1._schedules import l1_epochs as l1_share  # noqa: E402
from sk_sparse_l1.skorch import ProximalL1, TargetSparsity  # noqa: E402

WEIGHTS = ["conv1.weight", "conv2.weight", "fc1.weight", "fc2.weight"]


class SmallCNN(nn.Module):
    """conv → pool → conv → pool → dense → dense, ReLU; optional BatchNorm."""

    def __init__(self, batch_norm=False):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 3, padding=1)
        self.bn = nn.BatchNorm2d(6) if batch_norm else nn.Identity()
        self.conv2 = nn.Conv2d(6, 12, 3, padding=1)
        self.fc1 = nn.Linear(12 * 2 * 2, 32)
        self.fc2 = nn.Linear(32, 10)

    def forward(self, X):
        X = nn.functional.max_pool2d(torch.relu(self.bn(self.conv1(X))), 2)
        X = nn.functional.max_pool2d(torch.relu(self.conv2(X)), 2)
        return self.fc2(torch.relu(self.fc1(X.flatten(1))))


def batch_loader(dataset, batch_size, shuffle=False, **kwargs):
    """A DataLoader that indexes the dataset once per batch: the same batches
    as skorch's default, several times faster for in-memory arrays."""
    sampler = RandomSampler(dataset) if shuffle else SequentialSampler(dataset)
    batches = BatchSampler(sampler, batch_size, drop_last=False)
    return DataLoader(dataset, batch_size=None, sampler=batches)


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    # Tiny convolutions run fastest on one thread (and 2-core CI is shared).
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return (X / 16).astype(np.float32).reshape(-1, 1, 8, 8), y.astype(np.int64)


def make_net(callbacks, *, optimizer=torch.optim.Adam, lr=0.01, max_epochs=20, **kw):
    return NeuralNetClassifier(
        SmallCNN,
        criterion=nn.CrossEntropyLoss,
        optimizer=optimizer,
        lr=lr,
        max_epochs=max_epochs,
        batch_size=128,
        train_split=None,
        verbose=0,
        iterator_train=batch_loader,
        iterator_train__shuffle=True,
        iterator_valid=batch_loader,
        callbacks=callbacks,
        **kw,
    )


def fit_seeded(net, X, y, seed=0):
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        with warnings.catch_warnings():
            warnings.simplefilter("error", ConvergenceWarning)
            return net.fit(X, y)


def callback(net, name):
    return dict(net.callbacks_)[name]


def assert_counts_within_tolerance(ts, nonzeros):
    # sparsity_tol is relative to the nonzero count, at least one weight.
    allowed = np.maximum(ts.sparsity_tol * ts.target_n_nonzero_, 1)
    assert np.all(np.abs(np.asarray(nonzeros) - ts.target_n_nonzero_) <= allowed)


def l1_epochs(net):
    """Epochs (from 1) whose recorded λ is nonzero: the ℓ1 phase (λ is 0
    while pruning by magnitude and during the refit)."""
    alphas = np.asarray(net.history[:, "alpha"], dtype=float).reshape(
        len(net.history), -1
    )
    return [e + 1 for e in np.flatnonzero(np.any(alphas > 0, axis=1))]


def counted_nonzeros(net):
    params = dict(net.module_.named_parameters())
    return [int(torch.count_nonzero(params[name])) for name in WEIGHTS]


# ------------------------------------------------------------- target sparsity


@pytest.fixture(scope="module")
def global_net(digits):
    return fit_seeded(make_net([("ts", TargetSparsity(0.8))]), *digits)


def test_global_target_reached(global_net, digits):
    ts = callback(global_net, "ts")
    assert ts.penalized_params_ == WEIGHTS
    assert ts.target_reached_
    assert ts.target_n_nonzero_.tolist() == [round(0.2 * sum(ts.tensor_sizes_))]
    assert_counts_within_tolerance(ts, [sum(counted_nonzeros(global_net))])
    # The recorded counts are those of the returned module.
    assert ts.layer_n_nonzero_.tolist() == counted_nonzeros(global_net)
    assert ts.n_nonzero_ == sum(counted_nonzeros(global_net))
    # λ is a real penalty, not ~0 from units killed at initialization.
    assert ts.alpha_ > 1e-5
    # 20 epochs: the first without penalty, the ℓ1 phase over 70% of the
    # other 19 (one more for an extension), the refit.
    assert len(global_net.history) == 20
    l1 = l1_epochs(global_net)
    assert l1 == list(range(2, l1[-1] + 1))
    assert l1[-1] - 1 in (l1_share(19, refit=True), l1_share(19, refit=True) + 2)
    # alphas_ is the λ at the end of every ℓ1 epoch, alpha_ the last one.
    history_alphas = np.asarray(global_net.history[:, "alpha"], dtype=float)
    np.testing.assert_array_equal(ts.alphas_[:, 0], history_alphas[1 : l1[-1]])
    assert ts.alpha_ == history_alphas[l1[-1] - 1]
    assert ts.sparsities_.shape == ts.alphas_.shape
    # The sparse net has not collapsed: it still classifies digits (chance is
    # 0.1; the dense net fits 0.99 of them in these 20 epochs).
    assert (global_net.predict(digits[0]) == digits[1]).mean() > 0.8


def test_refit_trains_the_support_of_the_l1_net(global_net, digits):
    """``l1_state_dict_`` is the net at the end of the ℓ1 phase; the refit
    kept its zeros and changed its nonzero weights, with a fresh optimizer
    state (Adam's step count restarted with the refit)."""
    ts = callback(global_net, "ts")
    refit_epochs = 20 - l1_epochs(global_net)[-1]
    batches = -(-len(digits[0]) // 128)
    steps = {int(state["step"]) for state in global_net.optimizer_.state.values()}
    assert steps == {refit_epochs * batches}
    l1_state = ts.l1_state_dict_
    final = dict(global_net.module_.named_parameters())
    for name in WEIGHTS:
        l1_weight, weight = l1_state[name], final[name].detach()
        assert torch.equal(l1_weight != 0, weight != 0), name
        assert not torch.equal(l1_weight, weight), name
    l1_count = sum(int(torch.count_nonzero(l1_state[name])) for name in WEIGHTS)
    assert_counts_within_tolerance(ts, [l1_count])


def test_without_refit_the_l1_phase_runs_to_the_end(digits):
    """After the first epoch, the ℓ1 phase runs to the end; its network is
    the result, near the target (measured: 525 nonzero weights for 512,
    2.5% off, outside the 2% tolerance: the callback warns)."""
    net = make_net([("ts", TargetSparsity(0.8, refit=False))])
    with torch.random.fork_rng(), warnings.catch_warnings(record=True) as caught:
        torch.manual_seed(0)
        warnings.simplefilter("always")
        net.fit(*digits)
    ts = callback(net, "ts")
    assert ts.l1_state_dict_ is None
    count = sum(counted_nonzeros(net))
    target = ts.target_n_nonzero_[0]
    assert abs(count - target) <= 0.05 * target
    assert ts.target_reached_ == (abs(count - target) <= 0.02 * target)
    missed = [w for w in caught if "was missed" in str(w.message)]
    assert bool(missed) == (not ts.target_reached_)
    assert l1_epochs(net) == list(range(2, 21))
    assert ts.alphas_.shape == (19, 1)
    assert net.history[-1, "alpha"] == ts.alpha_
    last_count = (1 - ts.sparsities_[-1, 0]) * sum(ts.tensor_sizes_)
    assert round(last_count) == ts.n_nonzero_ == count


def test_training_stops_when_the_last_phase_converges(digits):
    """An improvement no epoch reaches (tol=10): every phase ends on the
    stopping rule, and at the end of the last one the callback stops
    skorch's loop, as EarlyStopping does."""
    ts = TargetSparsity(0.8, tol=10.0, n_iter_no_change=1)
    net = fit_seeded(make_net([("ts", ts)], max_epochs=20), *digits)
    ts = callback(net, "ts")
    assert len(net.history) < 20
    assert ts._schedule.phase == "refit" and ts._schedule.converged
    assert ts.target_reached_
    assert_counts_within_tolerance(ts, [sum(counted_nonzeros(net))])


def test_per_layer_targets_one_lambda_each(digits):
    """One λ per tensor, each chosen for its own count. Four counts must
    land at once here, in 19 epochs of a small CNN: each lands within 10%
    (measured: 2-14% off over seeds 0-2 at 20 epochs, 1-14% at 30), and
    the callback says whether all four are within sparsity_tol."""
    targets = [0.5, 0.7, 0.9, 0.6]
    net = make_net([("ts", TargetSparsity(targets))], max_epochs=20)
    with torch.random.fork_rng():
        torch.manual_seed(0)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            net.fit(*digits)
    ts = callback(net, "ts")
    sizes = ts.tensor_sizes_
    np.testing.assert_array_equal(
        ts.target_n_nonzero_, np.round((1 - np.array(targets)) * sizes)
    )
    counts = np.array(counted_nonzeros(net))
    assert ts.layer_n_nonzero_.tolist() == counts.tolist()
    assert np.all(np.abs(counts - ts.target_n_nonzero_) <= 0.1 * ts.target_n_nonzero_)
    allowed = np.maximum(ts.sparsity_tol * ts.target_n_nonzero_, 1)
    on_target = bool(np.all(np.abs(counts - ts.target_n_nonzero_) <= allowed))
    assert ts.target_reached_ == on_target
    missed = [w for w in caught if "was missed" in str(w.message)]
    assert bool(missed) == (not on_target)
    assert ts.alpha_.shape == (4,) and ts.alphas_.shape[1] == 4
    assert np.all(ts.alpha_ > 0) and len(set(ts.alpha_)) == 4  # one λ each


def test_missed_target_warns(digits):
    # fit(..., epochs=3) stops the 20-epoch schedule early in its warm-up:
    # the target is missed and a ConvergenceWarning says so.
    net = make_net([("ts", TargetSparsity(0.8))], max_epochs=20)
    with torch.random.fork_rng():
        torch.manual_seed(0)
        with pytest.warns(ConvergenceWarning, match="after 3 epochs, in its l1"):
            net.fit(*digits, epochs=3)
    ts = callback(net, "ts")
    assert not ts.target_reached_ and len(net.history) == 3
    assert ts.n_nonzero_ > 2 * ts.target_n_nonzero_[0]
    assert ts.alphas_.shape == (2, 1) and 0 < ts.alphas_[0, 0] <= ts.alpha_


# ------------------------------------------------------------ the proximal step


class _AfterStep(Callback):
    """Copies every parameter after the optimizer step, before the prox, and
    the learning rate the step used."""

    def on_grad_computed(self, net, named_parameters, **kwargs):
        self.lr = net.optimizer_.param_groups[0]["lr"]

    def on_batch_end(self, net, training=None, **kwargs):
        if training:
            self.params = {
                name: p.detach().clone() for name, p in net.module_.named_parameters()
            }


class _CheckProx(Callback):
    """After the prox: penalized weights are S_{α·d}(optimizer's output),
    every other parameter is bit-identical to the optimizer's output."""

    def __init__(self, before, alpha):
        self.before = before
        self.alpha = alpha
        self.n_checked = 0

    def on_batch_end(self, net, training=None, **kwargs):
        if not training:
            return
        optimizer = net.optimizer_
        group = optimizer.param_groups[0]
        for name, p in net.module_.named_parameters():
            stepped = self.before.params[name]
            if name not in WEIGHTS:
                assert torch.equal(p, stepped), name
                continue
            if isinstance(optimizer, torch.optim.Adam):
                state = optimizer.state[p]
                denom = adam_denominators(
                    [state["exp_avg_sq"]],
                    float(state["step"]),
                    beta2=group["betas"][1],
                    eps=group["eps"],
                )
                d = adam_step_sizes(denom, self.before.lr)[0]
            else:
                d = self.before.lr
            expected = soft_threshold_(stepped.clone(), self.alpha * d)
            torch.testing.assert_close(p.detach(), expected, rtol=0, atol=1e-7)
        self.n_checked += 1


@pytest.mark.parametrize(
    "optimizer, lr, scheduler",
    [
        (torch.optim.Adam, 0.01, False),
        (torch.optim.SGD, 0.1, False),
        # A batch-level scheduler that changes lr in its on_batch_end, before
        # the prox runs: the threshold must use the lr of the step taken.
        (torch.optim.SGD, 0.1, True),
    ],
)
def test_prox_is_exact_and_leaves_other_parameters_alone(
    digits, optimizer, lr, scheduler
):
    alpha = 0.05
    before = _AfterStep()
    check = _CheckProx(before, alpha)
    callbacks = [
        ("before", before),
        ("l1", ProximalL1(alpha)),
        ("check", check),
    ]
    if scheduler:
        step_lr = LRScheduler(
            torch.optim.lr_scheduler.StepLR, step_size=1, gamma=0.9, step_every="batch"
        )
        callbacks.insert(0, ("sched", step_lr))
    net = make_net(
        callbacks, optimizer=optimizer, lr=lr, max_epochs=2, module__batch_norm=True
    )
    X, y = digits
    fit_seeded(net, X[:512], y[:512])
    assert check.n_checked == 8
    l1 = callback(net, "l1")
    # Only conv and linear weights are penalized: not biases, not BatchNorm.
    assert l1.penalized_params_ == WEIGHTS
    module = net.module_
    assert l1.sparsity_ > 0.1  # the prox acted
    for p in [module.bn.weight, module.bn.bias, module.conv1.bias, module.fc1.bias]:
        assert torch.count_nonzero(p) == p.numel()


def test_params_selects_the_penalized_tensors(digits):
    X, y = digits
    net = make_net([("l1", ProximalL1([0.5], params=["fc1.weight"]))], max_epochs=2)
    fit_seeded(net, X[:512], y[:512])
    l1 = callback(net, "l1")
    assert l1.penalized_params_ == ["fc1.weight"]
    assert l1.sparsity_ > 0.5
    for name in ["conv1.weight", "conv2.weight", "fc2.weight"]:
        p = dict(net.module_.named_parameters())[name]
        assert torch.count_nonzero(p) == p.numel(), name


def test_adam_fixed_point_is_l1_optimality(digits):
    # Multinomial logistic regression (convex), full batch: at the fixed point
    # of Adam + prox in Adam's metric, the gradient of the data loss is
    # −α·sign(w) on nonzero weights and at most α in magnitude on zeros
    # (ALGORITHM.md §3), and the unpenalized bias has zero gradient.
    alpha = 0.01
    X, y = digits
    X, y = X[:500].reshape(500, -1), y[:500]
    net = NeuralNetClassifier(
        nn.Linear,
        module__in_features=64,
        module__out_features=10,
        criterion=nn.CrossEntropyLoss,
        optimizer=torch.optim.Adam,
        lr=0.02,
        max_epochs=300,
        batch_size=-1,
        train_split=None,
        verbose=0,
        iterator_train=batch_loader,
        callbacks=[("l1", ProximalL1(alpha))],
    )
    fit_seeded(net, X, y)
    module = net.module_
    module.zero_grad()
    loss = nn.functional.cross_entropy(module(torch.as_tensor(X)), torch.as_tensor(y))
    loss.backward()
    w, g = module.weight.detach(), module.weight.grad
    nonzero = w != 0
    assert 0 < int(nonzero.sum()) < 0.3 * w.numel()
    assert float(g[~nonzero].abs().max()) <= 1.05 * alpha
    residual = (g[nonzero] + alpha * torch.sign(w[nonzero])).abs()
    assert float(torch.quantile(residual, 0.9)) <= 0.3 * alpha
    assert float(module.bias.grad.abs().max()) <= 0.2 * alpha


# ---------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    "optimizer, kwargs, message",
    [
        (torch.optim.SGD, {"optimizer__momentum": 0.9}, "momentum=0.9"),
        (torch.optim.AdamW, {}, "weight_decay=0.01"),
        (torch.optim.Adam, {"optimizer__amsgrad": True}, "amsgrad=True"),
        (torch.optim.RMSprop, {}, "got RMSprop"),
    ],
)
def test_unsupported_optimizer_is_refused_before_training(
    digits, optimizer, kwargs, message
):
    for cb in [ProximalL1(0.01), TargetSparsity(0.5)]:
        net = make_net([("l1", cb)], optimizer=optimizer, max_epochs=1, **kwargs)
        with pytest.raises(ValueError, match=message):
            net.fit(*digits)
        assert len(net.history) == 0  # raised at on_train_begin


@pytest.mark.parametrize(
    "cb, message",
    [
        (ProximalL1([0.1, 0.2]), "expected 4 values"),
        (ProximalL1(-1.0), "non-negative"),
        (TargetSparsity([0.5, 0.5]), "expected 4 values"),
        (TargetSparsity(1.5), "target_sparsity"),
        (TargetSparsity(0.5, sparsity_tol=0), r"sparsity_tol must be in \(0, 1\)"),
        (ProximalL1(0.1, params=["fc3.weight"]), "fc3.weight"),
    ],
)
def test_invalid_parameters_name_the_problem(digits, cb, message):
    net = make_net([("cb", cb)], max_epochs=1)
    with pytest.raises(ValueError, match=message):
        net.fit(*digits)


def test_import_without_skorch_names_the_extra(monkeypatch):
    for name in ["skorch", "skorch.callbacks", "skorch.dataset"]:
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.delitem(sys.modules, "sk_sparse_l1.skorch")
    with pytest.raises(ImportError, match=r"pip install sk_sparse_l1\[skorch\]"):
        importlib.import_module("sk_sparse_l1.skorch")


# ------------------------------------------------- pickling, cloning, searching


def test_pickled_net_predicts_the_same(global_net, digits):
    X = digits[0]
    loaded = pickle.loads(pickle.dumps(global_net))
    np.testing.assert_array_equal(loaded.predict_proba(X), global_net.predict_proba(X))
    ts, loaded_ts = callback(global_net, "ts"), callback(loaded, "ts")
    assert loaded_ts.get_params() == ts.get_params()
    assert loaded_ts.sparsity_ == ts.sparsity_
    assert loaded_ts.alpha_ == ts.alpha_


def test_clone_keeps_only_parameters(global_net):
    ts = callback(global_net, "ts")
    cloned = clone(ts)
    assert (
        cloned.get_params()
        == ts.get_params()
        == {
            "target_sparsity": 0.8,
            "params": None,
            "refit": True,
            "search": "online",
            "sparsity_tol": 0.02,
            "tol": 1e-4,
            "n_iter_no_change": 10,
        }
    )
    assert not hasattr(cloned, "sparsity_")
    net = clone(global_net)
    assert not hasattr(net, "callbacks_")
    net.set_params(callbacks__ts__target_sparsity=0.6).initialize()
    assert callback(net, "ts").target_sparsity == 0.6
    assert ts.target_sparsity == 0.8  # the clone shares no callback


def test_grid_search_over_target_sparsity(digits):
    """Each candidate's fits end on their own target count: the score is
    the number of nonzero weights, checked against each target."""

    def nonzeros(net, X, y):
        return callback(net, "ts").n_nonzero_

    search = GridSearchCV(
        make_net([("ts", TargetSparsity(0.5))], max_epochs=12),
        {"callbacks__ts__target_sparsity": [0.5, 0.8]},
        scoring=nonzeros,
        cv=2,
        refit=False,
    )
    X, y = digits
    with torch.random.fork_rng():
        torch.manual_seed(0)
        search.fit(X[:800], y[:800])
    n_weights = 54 + 648 + 1536 + 320  # conv1, conv2, fc1, fc2
    for split in ("split0_test_score", "split1_test_score"):
        for target, count in zip([0.5, 0.8], search.cv_results_[split]):
            expected = round((1 - target) * n_weights)
            assert abs(count - expected) <= max(0.02 * expected, 1), (split, target)
