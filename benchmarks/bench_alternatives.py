"""Test score against sparsity: sk_sparse_l1 vs magnitude pruning, dense MLPs
and LassoNet, at the same architecture and the same epoch budget.

Data sets (inputs standardized with the training split's statistics, except
Mackey-Glass, whose inputs are already scaled to [−1, 1]):

* ``digits``        — 1,797 × 64, 10 classes, stratified 75/25 split;
* ``breast_cancer`` — 569 × 30, 2 classes, stratified 75/25 split;
* ``diabetes``      — 442 × 10, regression, 75/25 split, target standardized
  with the training split's mean and standard deviation;
* ``mackey_glass``  — ``make_mackey_glass(2000)``, 6 lagged inputs, first
  1,000 rows for training, the last 1,000 for testing.

Every network is an MLP with hidden layers (64, 32), ReLU, float64, trained
with Adam at the same learning rate and batch size, for a budget of ``E``
epochs in total, the whole budget (no early stopping: ``tol=0`` and
``n_iter_no_change`` larger than the budget):

* ``ours``         — ``SparseL1*(target_sparsity=s, refit=False,
  max_iter=E)``: λ steered during the first half, then fixed;
* ``ours + refit`` — ``refit=True, max_iter=round(E / 1.5)``: the search runs
  ``max_iter`` epochs and the refit of the support ``max_iter // 2``;
* ``pruning``      — the same network and initial weights, trained dense for
  ``E/2`` epochs, pruned with ``torch.nn.utils.prune.global_unstructured``
  (``L1Unstructured``, over every ``Linear`` weight, to exactly ``s``), then
  fine-tuned with the mask for ``E/2`` epochs, continuing Adam's state. When
  a fit of ours needed correction rounds beyond ``E`` (its search adds rounds
  of ``max_iter / 4`` epochs while the sparsity is off target), pruning gets
  that larger budget instead: it never trains fewer epochs than ours;
* ``dense (sklearn)`` — ``MLPClassifier``/``MLPRegressor`` with ``alpha=0``,
  ``max_iter=E``; ``dense (ours)`` — ``SparseL1*(alpha=0, max_iter=E)``;
* ``LassoNet`` (if installed) — it makes *input features* sparse (a
  hierarchical prox on a skip layer; the hidden layers stay dense), so it is
  compared at the same *number of selected input features* as
  ``ours + refit``'s ``support_`` at each target: one path per data set and
  seed (dense start ``E/2`` epochs with Adam at the same learning rate, then
  LassoNet's own path optimizer, SGD with momentum, ≤ 5 epochs per λ, λ × 1.2
  per step, stopped once fewer features are left than any target needs), and
  the checkpoint with the most selected features not above ours. Its epochs
  are the whole path's. First seed only: a path costs as much as all the
  other fits of a data set together.

The epochs a fit of ours actually trained are counted by wrapping
``sk_sparse_l1._training.train`` (correction rounds of the search, if any,
would show as more than ``E``). Scores are test accuracy (classifiers) and
test R² (regressors), averaged over ``--seeds`` seeds (split fixed, seed for
initialization and data order). torch and BLAS run on one thread each.

Usage::

    python benchmarks/bench_alternatives.py          # full grid, print tables
    python benchmarks/bench_alternatives.py --write  # and update
                                                     # docs/alternatives.md and
                                                     # docs/images/alternatives.png
    python benchmarks/bench_alternatives.py --quick  # 2 targets, 1 seed, fewer epochs
"""

import argparse
import contextlib
import functools
import importlib.metadata
import math
import re
import statistics
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import sklearn
import torch
from sklearn.datasets import load_breast_cancer, load_diabetes, load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import accuracy_score, r2_score
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.preprocessing import StandardScaler
from sklearn.utils import check_random_state
from threadpoolctl import threadpool_limits
from torch.nn.utils import prune

import sk_sparse_l1
import sk_sparse_l1._training as training
from sk_sparse_l1 import SparseL1Classifier, SparseL1Regressor
from sk_sparse_l1._network import build_mlp, linear_layers
from sk_sparse_l1.datasets import make_mackey_glass

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "alternatives.md"
FIGURE = ROOT / "docs" / "images" / "alternatives.png"

HIDDEN = (64, 32)
BATCH_SIZE = 64
LEARNING_RATE = 1e-3
EPOCHS = 150
TARGETS = (0.8, 0.9, 0.95, 0.99)
SEEDS = (0, 1, 2)
QUICK = dict(epochs=60, targets=(0.9, 0.99), seeds=(0,))

SPARSE_METHODS = ("ours", "ours + refit", "pruning")
DENSE_METHODS = ("dense (sklearn)", "dense (ours)")


# ------------------------------------------------------------------- data


@functools.cache
def load(name):
    """(X_train, X_test, y_train, y_test, is_classifier) for a data set."""
    if name == "mackey_glass":
        X, y = make_mackey_glass(2000)
        return X[:1000], X[1000:], y[:1000], y[1000:], False
    if name == "diabetes":
        X, y = load_diabetes(return_X_y=True)
        X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.25, random_state=0)
        mean, std = y_tr.mean(), y_tr.std()
        y_tr, y_te = (y_tr - mean) / std, (y_te - mean) / std
        classifier = False
    else:
        loader = load_digits if name == "digits" else load_breast_cancer
        X, y = loader(return_X_y=True)
        X_tr, X_te, y_tr, y_te = train_test_split(
            X, y, test_size=0.25, random_state=0, stratify=y
        )
        classifier = True
    scaler = StandardScaler().fit(X_tr)
    return scaler.transform(X_tr), scaler.transform(X_te), y_tr, y_te, classifier


DATASETS = ("digits", "breast_cancer", "diabetes", "mackey_glass")


def score(classifier, y_true, y_pred):
    if classifier:
        return accuracy_score(y_true, y_pred)
    return r2_score(y_true, np.ravel(y_pred))


# ------------------------------------------------------------- diagnostics


def network_facts(coefs):
    """Weight sparsity, input features used and hidden units still active
    (a nonzero weight in and out) of weight matrices (fan_in, fan_out)."""
    n_weights = sum(W.size for W in coefs)
    n_zero = sum(int(np.sum(W == 0)) for W in coefs)
    active_units = 0
    for W_in, W_out in zip(coefs[:-1], coefs[1:]):
        active_units += int(
            np.sum(np.any(W_in != 0, axis=0) & np.any(W_out != 0, axis=1))
        )
    return dict(
        sparsity=n_zero / n_weights,
        layer_sparsity=[float(np.mean(W == 0)) for W in coefs],
        n_features=int(np.any(coefs[0] != 0, axis=1).sum()),
        active_units=active_units,
    )


@contextlib.contextmanager
def counting_epochs():
    """Count the epochs every ``train`` call of sk_sparse_l1 runs."""
    original = training.train
    counter = [0]

    @functools.wraps(original)
    def counted(*args, **kwargs):
        run = original(*args, **kwargs)
        counter[0] += run.n_epochs
        return run

    patched = [
        module
        for name, module in list(sys.modules.items())
        if name.startswith("sk_sparse_l1")
        and getattr(module, "train", None) is original
    ]
    for module in patched:
        module.train = counted
    try:
        yield counter
    finally:
        for module in patched:
            module.train = original


# ---------------------------------------------------------------- methods


def no_early_stop(epochs):
    return dict(tol=0.0, n_iter_no_change=epochs + 1)


def run_ours(data, target, seed, epochs, refit):
    X_tr, X_te, y_tr, y_te, classifier = data
    Estimator = SparseL1Classifier if classifier else SparseL1Regressor
    max_iter = round(epochs / 1.5) if refit else epochs
    est = Estimator(
        HIDDEN,
        target_sparsity=target,
        refit=refit,
        learning_rate_init=LEARNING_RATE,
        batch_size=BATCH_SIZE,
        max_iter=max_iter,
        random_state=seed,
        **no_early_stop(max_iter),
    )
    with counting_epochs() as counter:
        start = time.perf_counter()
        est.fit(X_tr, y_tr)
        seconds = time.perf_counter() - start
    return dict(
        score=score(classifier, y_te, est.predict(X_te)),
        train_score=score(classifier, y_tr, est.predict(X_tr)),
        epochs=counter[0],
        seconds=seconds,
        reached=float(est.target_reached_),
        **network_facts(est.coefs_),
    ), est


def _loss(classifier, n_outputs):
    if not classifier:
        return torch.nn.functional.mse_loss
    if n_outputs == 1:
        return lambda z, t: torch.nn.functional.binary_cross_entropy_with_logits(
            z[:, 0], t.to(z.dtype)
        )
    return torch.nn.functional.cross_entropy


def _predict_torch(module, X, classifier):
    with torch.no_grad():
        z = module(torch.as_tensor(X))
    if not classifier:
        return z.numpy()[:, 0]
    if z.shape[1] == 1:
        return (z[:, 0] > 0).numpy().astype(int)
    return z.argmax(dim=1).numpy()


def run_pruning(data, target, seed, epochs):
    """Dense training, global magnitude pruning, masked fine-tuning."""
    X_tr, X_te, y_tr, y_te, classifier = data
    n_classes = len(np.unique(y_tr)) if classifier else 0
    n_outputs = 1 if not classifier or n_classes == 2 else n_classes
    # The initial weights ours starts from for this seed (same derivation of
    # the torch seed, same Glorot draw): only the training differs.
    init_seed = int(check_random_state(seed).randint(np.iinfo(np.int32).max))
    generator = torch.Generator().manual_seed(init_seed)
    module = build_mlp(
        [X_tr.shape[1], *HIDDEN, n_outputs],
        "relu",
        dtype=torch.float64,
        generator=generator,
    )
    X = torch.as_tensor(X_tr)
    t = torch.as_tensor(y_tr, dtype=torch.long if classifier else torch.float64)
    if not classifier:
        t = t.reshape(-1, 1)
    loss_fn = _loss(classifier, n_outputs)
    optimizer = torch.optim.Adam(module.parameters(), lr=LEARNING_RATE)
    order = torch.Generator().manual_seed(seed)

    def train(n_epochs):
        for _ in range(n_epochs):
            permutation = torch.randperm(X.shape[0], generator=order)
            for start in range(0, X.shape[0], BATCH_SIZE):
                batch = permutation[start : start + BATCH_SIZE]
                optimizer.zero_grad()
                loss_fn(module(X[batch]), t[batch]).backward()
                optimizer.step()

    start = time.perf_counter()
    dense_epochs = epochs // 2
    train(dense_epochs)
    linears = linear_layers(module)
    n_weights = sum(lin.weight.numel() for lin in linears)
    prune.global_unstructured(
        [(lin, "weight") for lin in linears],
        pruning_method=prune.L1Unstructured,
        amount=int(round(target * n_weights)),
    )
    # weight = weight_orig · weight_mask: the pruned weights get no gradient,
    # and stay exactly zero in the forward pass whatever Adam's momentum does
    # to weight_orig.
    train(epochs - dense_epochs)
    for lin in linears:
        prune.remove(lin, "weight")
    seconds = time.perf_counter() - start
    coefs = [lin.weight.detach().numpy().T.copy() for lin in linears]
    return dict(
        score=score(classifier, y_te, _predict_torch(module, X_te, classifier)),
        train_score=score(classifier, y_tr, _predict_torch(module, X_tr, classifier)),
        epochs=epochs,
        seconds=seconds,
        **network_facts(coefs),
    )


def run_dense_sklearn(data, seed, epochs):
    X_tr, X_te, y_tr, y_te, classifier = data
    Estimator = MLPClassifier if classifier else MLPRegressor
    est = Estimator(
        hidden_layer_sizes=HIDDEN,
        alpha=0.0,
        learning_rate_init=LEARNING_RATE,
        batch_size=BATCH_SIZE,
        max_iter=epochs,
        random_state=seed,
        **no_early_stop(epochs),
    )
    start = time.perf_counter()
    est.fit(X_tr, y_tr)
    seconds = time.perf_counter() - start
    return dict(
        score=score(classifier, y_te, est.predict(X_te)),
        train_score=score(classifier, y_tr, est.predict(X_tr)),
        epochs=est.n_iter_,
        seconds=seconds,
        **network_facts(est.coefs_),
    )


def run_dense_ours(data, seed, epochs):
    X_tr, X_te, y_tr, y_te, classifier = data
    Estimator = SparseL1Classifier if classifier else SparseL1Regressor
    est = Estimator(
        HIDDEN,
        alpha=0.0,
        learning_rate_init=LEARNING_RATE,
        batch_size=BATCH_SIZE,
        max_iter=epochs,
        random_state=seed,
        **no_early_stop(epochs),
    )
    with counting_epochs() as counter:
        start = time.perf_counter()
        est.fit(X_tr, y_tr)
        seconds = time.perf_counter() - start
    return dict(
        score=score(classifier, y_te, est.predict(X_te)),
        train_score=score(classifier, y_tr, est.predict(X_tr)),
        epochs=counter[0],
        seconds=seconds,
        **network_facts(est.coefs_),
    )


def lassonet_available():
    try:
        import lassonet  # noqa: F401
    except ImportError:
        return False
    return True


def run_lassonet(data, seed, epochs, wanted_features):
    """One LassoNet path; for each target, the checkpoint with the closest
    number of selected features not above ``wanted_features[target]``."""
    from lassonet import LassoNetClassifier, LassoNetRegressor

    X_tr, X_te, y_tr, y_te, classifier = data
    Estimator = LassoNetClassifier if classifier else LassoNetRegressor
    model = Estimator(
        hidden_dims=HIDDEN,
        batch_size=BATCH_SIZE,
        n_iters=(epochs // 2, 5),
        patience=(None, 2),
        path_multiplier=1.2,
        optim=(
            functools.partial(torch.optim.Adam, lr=LEARNING_RATE),
            functools.partial(torch.optim.SGD, lr=1e-3, momentum=0.9),
        ),
        verbose=0,
        random_state=seed,
        torch_seed=seed,
        device="cpu",
    )
    fewest = min(wanted_features.values())
    kept = {}

    class _Enough(Exception):
        pass

    def stop_below_fewest(_, history):
        # The path runs until no feature is left; stop once it is below
        # the smallest number of features compared.
        kept["path"] = history
        if history and int(history[-1].selected.sum()) < fewest:
            raise _Enough

    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            path = model.path(
                X_tr, y_tr, return_state_dicts=True, callback=stop_below_fewest
            )
        except _Enough:
            path = kept["path"]
    seconds = time.perf_counter() - start
    total_epochs = sum(item.n_iters for item in path)
    counts = np.array([int(item.selected.sum()) for item in path])
    results = {}
    for target, wanted in wanted_features.items():
        eligible = np.flatnonzero(counts <= wanted)
        if eligible.size == 0:
            continue
        best = eligible[np.argmax(counts[eligible])]
        model.load(path[best].state_dict)
        mlp_weights = [
            layer.weight.detach().numpy().T.astype(np.float64)
            for layer in model.model.layers
        ]
        results[target] = dict(
            score=score(classifier, y_te, model.predict(X_te.astype(np.float32))),
            train_score=score(classifier, y_tr, model.predict(X_tr.astype(np.float32))),
            epochs=total_epochs,
            seconds=seconds,
            wanted_features=wanted,
            **network_facts(mlp_weights),
        )
    return results


# ------------------------------------------------------------------ runs


def run_all(epochs, targets, seeds, with_lassonet):
    records = []

    def add(dataset, method, target, seed, result):
        records.append(dict(dataset=dataset, method=method, target=target, seed=seed))
        records[-1].update(result)

    for dataset in DATASETS:
        data = load(dataset)
        for seed in seeds:
            add(
                dataset,
                "dense (sklearn)",
                None,
                seed,
                run_dense_sklearn(data, seed, epochs),
            )
            add(dataset, "dense (ours)", None, seed, run_dense_ours(data, seed, epochs))
            wanted = {}
            for target in targets:
                result, _ = run_ours(data, target, seed, epochs, refit=False)
                add(dataset, "ours", target, seed, result)
                result_refit, est = run_ours(data, target, seed, epochs, refit=True)
                add(dataset, "ours + refit", target, seed, result_refit)
                wanted[target] = int(est.support_.sum())
                # Never fewer epochs for pruning than either fit of ours used
                # (the search adds correction rounds while off target).
                budget = max(epochs, result["epochs"], result_refit["epochs"])
                result = run_pruning(data, target, seed, budget)
                add(dataset, "pruning", target, seed, result)
            if with_lassonet and seed == seeds[0]:
                for target, result in run_lassonet(data, seed, epochs, wanted).items():
                    add(dataset, "LassoNet", target, seed, result)
            done = [r for r in records if r["dataset"] == dataset and r["seed"] == seed]
            print(
                f"{dataset} seed {seed}: {len(done)} fits, "
                f"{sum(r['seconds'] for r in done if r['method'] != 'LassoNet'):.1f} s "
                "(LassoNet path excluded)",
                flush=True,
            )
    return records


def mean_of(records, dataset, method, target, key):
    values = [
        r[key]
        for r in records
        if r["dataset"] == dataset and r["method"] == method and r["target"] == target
    ]
    return statistics.fmean(values) if values else math.nan


# ---------------------------------------------------------------- reports


def fmt(value, digits=3):
    return "–" if value is None or math.isnan(value) else f"{value:.{digits}f}"


def results_tables(records, targets, seeds):
    lines = []
    for dataset in DATASETS:
        classifier = load(dataset)[4]
        metric = "accuracy" if classifier else "R²"
        lines += [
            f"#### {dataset} (test {metric}, mean of {len(seeds)} seed(s))",
            "",
            "| method | target | test score | train score | achieved sparsity | "
            "per layer | input features used | active hidden units | "
            "within tol | epochs | fit time (s) |",
            "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
        ]
        for method in DENSE_METHODS:
            lines.append(_row(records, dataset, method, None))
        for target in targets:
            for method in (*SPARSE_METHODS, "LassoNet"):
                if _values(records, dataset, method, target, "score"):
                    lines.append(_row(records, dataset, method, target))
        lines.append("")
    return "\n".join(lines)


def _values(records, dataset, method, target, key):
    return [
        r[key]
        for r in records
        if r["dataset"] == dataset
        and r["method"] == method
        and r["target"] == target
        and key in r
    ]


def _row(records, dataset, method, target):
    def m(key):
        return mean_of(records, dataset, method, target, key)

    label = method
    if method == "LassoNet":
        label = f"LassoNet (≤ {fmt(m('wanted_features'), 1)} features, as ours + refit)"
    layers = np.mean(
        _values(records, dataset, method, target, "layer_sparsity"), axis=0
    )
    reached = _values(records, dataset, method, target, "reached")
    return (
        f"| {label} | {'–' if target is None else target} | {fmt(m('score'))} "
        f"| {fmt(m('train_score'))} | {fmt(m('sparsity'), 4)} "
        f"| {' / '.join(f'{v:.2f}' for v in layers)} "
        f"| {fmt(m('n_features'), 1)} | {fmt(m('active_units'), 1)} "
        f"| {f'{int(sum(reached))}/{len(reached)}' if reached else '–'} "
        f"| {fmt(m('epochs'), 0)} | {fmt(m('seconds'), 2)} |"
    )


def _paired_differences(records, dataset, method, target):
    """Per seed: score of ``method`` minus pruning's."""
    by_seed = {
        r["seed"]: r["score"]
        for r in records
        if r["dataset"] == dataset
        and r["method"] == "pruning"
        and r["target"] == target
    }
    return [
        r["score"] - by_seed[r["seed"]]
        for r in records
        if r["dataset"] == dataset
        and r["method"] == method
        and r["target"] == target
        and r["seed"] in by_seed
    ]


def comparison(records, targets):
    """Ours (each variant) against pruning, cell by cell (mean over seeds)."""
    lines = [
        "| data set | target | ours − pruning | ours + refit − pruning "
        "[per-seed min, max] | best of ours − pruning |",
        "|---|--:|--:|--:|--:|",
    ]
    tally = {"ours": [0, 0], "ours + refit": [0, 0], "best": [0, 0]}
    losses = []
    for dataset in DATASETS:
        for target in targets:
            prune_score = mean_of(records, dataset, "pruning", target, "score")
            diffs = {
                method: mean_of(records, dataset, method, target, "score") - prune_score
                for method in ("ours", "ours + refit")
            }
            diffs["best"] = max(diffs.values())
            for key, diff in diffs.items():
                tally[key][0 if diff >= 0 else 1] += 1
            paired = _paired_differences(records, dataset, "ours + refit", target)
            if diffs["ours + refit"] < 0:
                losses.append((dataset, target, diffs["ours + refit"], paired))
            lines.append(
                f"| {dataset} | {target} | {diffs['ours']:+.3f} "
                f"| {diffs['ours + refit']:+.3f} "
                f"[{min(paired):+.3f}, {max(paired):+.3f}] | {diffs['best']:+.3f} |"
            )
    n = len(DATASETS) * len(targets)
    lines += [
        "",
        f"- ours + refit ≥ pruning in **{tally['ours + refit'][0]} of {n}** cells "
        f"(loses in {tally['ours + refit'][1]}).",
        f"- ours (no refit) ≥ pruning in **{tally['ours'][0]} of {n}** cells.",
        f"- the better of the two variants ≥ pruning in {tally['best'][0]} of {n} "
        "cells.",
    ]
    for dataset, target, diff, paired in losses:
        lines.append(
            f"- ours + refit loses on {dataset} at {target}: {diff:+.3f} on average, "
            f"per seed {', '.join(f'{d:+.3f}' for d in paired)}."
        )
    return "\n".join(lines)


def plot(records, targets, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    styles = {
        "ours": dict(color="tab:blue", marker="o", linestyle="--"),
        "ours + refit": dict(color="tab:blue", marker="o"),
        "pruning": dict(color="tab:orange", marker="s"),
        "LassoNet": dict(color="tab:green", marker="^", linestyle=":"),
    }
    fig, axes = plt.subplots(2, 2, figsize=(10, 7.5), constrained_layout=True)
    positions = np.arange(len(targets))
    for ax, dataset in zip(axes.ravel(), DATASETS):
        classifier = load(dataset)[4]
        for method, style in styles.items():
            means, lows, highs, xs = [], [], [], []
            for x, target in zip(positions, targets):
                values = [
                    r["score"]
                    for r in records
                    if r["dataset"] == dataset
                    and r["method"] == method
                    and r["target"] == target
                ]
                if values:
                    xs.append(x)
                    means.append(np.mean(values))
                    lows.append(np.mean(values) - min(values))
                    highs.append(max(values) - np.mean(values))
            if xs:
                ax.errorbar(
                    xs, means, yerr=[lows, highs], label=method, capsize=3, **style
                )
        for method, color in zip(DENSE_METHODS, ("0.3", "0.6")):
            value = mean_of(records, dataset, method, None, "score")
            ax.axhline(value, color=color, linestyle="-.", linewidth=1, label=method)
        ax.set_xticks(positions, [str(t) for t in targets])
        ax.set_xlabel("fraction of zero weights (target)")
        ax.set_ylabel("test accuracy" if classifier else "test R²")
        ax.set_title(dataset)
        ax.grid(alpha=0.3)
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=3, fontsize=9)
    fig.suptitle(
        f"MLP {HIDDEN}, {EPOCHS_USED[0]} epochs each; LassoNet at ours' number of "
        "input features (its hidden layers stay dense)",
        fontsize=10,
    )
    fig.savefig(path, dpi=110)
    plt.close(fig)


EPOCHS_USED = [EPOCHS]


def replace_section(text, name, body):
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    pattern = re.compile(re.escape(start) + ".*?" + re.escape(end), re.S)
    if not pattern.search(text):
        raise SystemExit(f"{DOC} has no {start} … {end} markers.")
    return pattern.sub(lambda _: f"{start}\n{body}\n{end}", text)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--write", action="store_true")
    parser.add_argument("--no-lassonet", action="store_true")
    args = parser.parse_args()
    epochs, targets, seeds = EPOCHS, TARGETS, SEEDS
    if args.quick:
        epochs, targets, seeds = QUICK["epochs"], QUICK["targets"], QUICK["seeds"]
    EPOCHS_USED[0] = epochs
    with_lassonet = lassonet_available() and not args.no_lassonet

    torch.set_num_threads(1)
    started = time.perf_counter()
    with threadpool_limits(1), warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        records = run_all(epochs, targets, seeds, with_lassonet)
    total = time.perf_counter() - started

    lassonet_note = (
        f"LassoNet {importlib.metadata.version('lassonet')}"
        if with_lassonet
        else "LassoNet not run (not installed, or --no-lassonet)"
    )
    quick = " --quick" if args.quick else ""
    header = (
        f"Command: `python benchmarks/bench_alternatives.py{quick} --write`; "
        f"{epochs} epochs per fit, targets {list(targets)}, seeds "
        f"{list(seeds)}, hidden layers {HIDDEN}, Adam lr {LEARNING_RATE}, batch "
        f"{BATCH_SIZE}; whole run {total / 60:.1f} min on {torch.get_num_threads()} "
        f"torch thread(s). sk_sparse_l1 {sk_sparse_l1.__version__}, scikit-learn "
        f"{sklearn.__version__}, torch {torch.__version__}; {lassonet_note}."
    )
    body = "\n".join(
        [
            header,
            "",
            "![accuracy vs sparsity](images/alternatives.png)",
            "",
            "### Ours against magnitude pruning (test score difference)",
            "",
            comparison(records, targets),
            "",
            "### Every method",
            "",
            results_tables(records, targets, seeds),
        ]
    )
    print(body)
    if args.write:
        plot(records, targets, FIGURE)
        DOC.write_text(replace_section(DOC.read_text(), "bench_alternatives", body))
        print(f"\nwrote {DOC} and {FIGURE}")


if __name__ == "__main__":
    main()
