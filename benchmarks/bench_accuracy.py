"""At a prescribed sparsity and the same epochs, is sk_sparse_l1 (default
search) at least as accurate as magnitude pruning, and how far from a tuned
dense MLP?

Setup
-----
* Data (inputs standardized with the training split's statistics):
  ``digits`` and ``breast_cancer`` (stratified 75/25 split, random_state=0),
  ``friedman1`` (``make_friedman1(2000, noise=1.0, random_state=0)``, 75/25
  split, target standardized with the training split's statistics), hidden
  layers (128, 64); ``mackey_glass`` (``make_mackey_glass(1385)``, train
  rows 0–999, test rows 1001–1384, inputs already in [−1, 1]), hidden
  layers (128, 128, 64). ReLU, float64.
* Targets 0.8, 0.9, 0.95, 0.98, 0.99 (fraction of zero weights over all
  weight matrices); ``--seeds`` seeds (5): the seed sets initialization and
  data order, the split is fixed.
* Every method: Adam, learning rate 1e-3, batch 64, ``E`` epochs in total
  (``--epochs``, 200), no early stopping (``tol=0``,
  ``n_iter_no_change=E``):

  - ``ours``: ``SparseL1*(target_sparsity=s, max_iter=E)``, defaults
    otherwise (online search, refit of the support);
  - ``paper``: the same with ``search="paper"``; ``max_iter`` is then the
    budget of each round (each a full retraining), so it trains
    ``n_search_rounds_`` × more; its epochs are the sum over rounds;
  - ``gmp-60``, ``gmp-90``: gradual magnitude pruning (Zhu & Gupta, 2017):
    after each epoch ``t``, global magnitude pruning
    (``torch.nn.utils.prune.global_unstructured`` with ``L1Unstructured``
    over every weight matrix) to ``s·(1 − (1 − t/T)³)``, ``T`` = 60% or 90%
    of ``E``, then fine-tuning at ``s``; pruned weights stay zero (masks);
    Glorot-uniform initialization as in ours, the same losses;
  - ``one-shot``: dense for ``E/2`` epochs, global magnitude pruning to
    ``s`` once, fine-tuning with the mask for ``E/2`` epochs;
  - ``dense-cv``: ``MLPClassifier``/``MLPRegressor`` (ℓ2 ``alpha`` chosen by
    3-fold ``GridSearchCV`` on the training split over 1e-5 … 1e-1), once
    per data set and seed; its seconds include the search;
  - ``lassonet`` (if installed): it makes input *features* sparse, not
    weights. Its path (dense start of ``E`` epochs, then ≤ 5 epochs per λ,
    λ × 1.1 per step), checkpoint chosen by the score on 20% of the training
    split held out; digits, breast_cancer and friedman1 only.
* Recorded per fit: achieved sparsity, fraction of input features with a
  nonzero outgoing weight, epochs run, seconds (one torch and one BLAS
  thread for everyone), test accuracy / test R².
"""

import argparse
import functools
import warnings
from itertools import product

import numpy as np
import torch
from _harness import Results, Timer, threads
from sklearn.datasets import load_breast_cancer, load_digits, make_friedman1
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import accuracy_score, r2_score
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.preprocessing import StandardScaler
from torch.nn.utils import prune

from sk_sparse_l1 import SparseL1Classifier, SparseL1Regressor
from sk_sparse_l1._network import build_mlp, linear_layers
from sk_sparse_l1.datasets import make_mackey_glass

DATASETS = ("digits", "breast_cancer", "friedman1", "mackey_glass")
TARGETS = (0.8, 0.9, 0.95, 0.98, 0.99)
METHODS = ("ours", "paper", "gmp-60", "gmp-90", "one-shot", "dense-cv", "lassonet")
ALPHAS = (1e-5, 1e-4, 1e-3, 1e-2, 1e-1)
BATCH, LR = 64, 1e-3
QUICK = ("breast_cancer", "mackey_glass"), (0.9,), 1, 10  # data, targets, seeds, E


@functools.cache
def load(name):
    """(X_train, X_test, y_train, y_test, is_classifier, hidden)."""
    if name == "mackey_glass":
        X, y = make_mackey_glass(1385)
        return X[:1000], X[1001:], y[:1000], y[1001:], False, (128, 128, 64)
    if name == "friedman1":
        X, y = make_friedman1(2000, noise=1.0, random_state=0)
        X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.25, random_state=0)
        mean, std = y_tr.mean(), y_tr.std()
        y_tr, y_te, classifier = (y_tr - mean) / std, (y_te - mean) / std, False
    else:
        X, y = (load_digits if name == "digits" else load_breast_cancer)(
            return_X_y=True
        )
        X_tr, X_te, y_tr, y_te = train_test_split(
            X, y, test_size=0.25, random_state=0, stratify=y
        )
        classifier = True
    scaler = StandardScaler().fit(X_tr)
    X_tr, X_te = scaler.transform(X_tr), scaler.transform(X_te)
    return X_tr, X_te, y_tr, y_te, classifier, (128, 64)


def score(classifier, y_true, y_pred):
    """Accuracy or R² (LassoNet predicts (n, 1) for regression: raveled)."""
    return float((accuracy_score if classifier else r2_score)(y_true, np.ravel(y_pred)))


def facts(coefs):
    """Fraction of zero weights and of input features still used."""
    n_zero = sum(int(np.sum(W == 0)) for W in coefs)
    return dict(
        sparsity=n_zero / sum(W.size for W in coefs),
        features_kept=float(np.mean(np.any(coefs[0] != 0, axis=1))),
    )


def run_ours(data, target, seed, epochs, search):
    X_tr, X_te, y_tr, y_te, classifier, hidden = data
    Estimator = SparseL1Classifier if classifier else SparseL1Regressor
    est = Estimator(
        hidden, target_sparsity=target, search=search, max_iter=epochs,
        batch_size=BATCH, tol=0, n_iter_no_change=epochs, random_state=seed,
    ).fit(X_tr, y_tr)  # fmt: skip
    return dict(
        **facts(est.coefs_), epochs=est.n_iter_, alpha=np.ravel(est.alpha_)[0],
        n_search_rounds=est.n_search_rounds_, target_reached=est.target_reached_,
        score=score(classifier, y_te, est.predict(X_te)),
    )  # fmt: skip


def run_pruning(data, target, seed, epochs, schedule):
    """Adam on the same architecture; after epoch ``t`` (1-based), global
    magnitude pruning up to a fraction ``schedule(t)`` of zero weights."""
    X_tr, X_te, y_tr, y_te, classifier, hidden = data
    X = torch.as_tensor(X_tr)
    if classifier:
        classes, codes = np.unique(y_tr, return_inverse=True)
        binary = len(classes) == 2
        Y = torch.as_tensor(codes.reshape(-1, 1) * 1.0 if binary else codes)
        loss_fn = (
            torch.nn.BCEWithLogitsLoss() if binary else torch.nn.CrossEntropyLoss()
        )
        n_out = 1 if binary else len(classes)
    else:
        Y, loss_fn, n_out = torch.as_tensor(y_tr.reshape(-1, 1)), torch.nn.MSELoss(), 1
    sizes = [X.shape[1], *hidden, n_out]
    # The network ours trains: Glorot-uniform, as scikit-learn's MLP.
    init = torch.Generator().manual_seed(seed)
    net = build_mlp(sizes, "relu", dtype=torch.float64, generator=init)
    linears = linear_layers(net)
    optimizer = torch.optim.Adam(net.parameters(), lr=LR)
    generator = torch.Generator().manual_seed(seed)
    n_weights = sum(lin.weight.numel() for lin in linears)
    for epoch in range(1, epochs + 1):
        for rows in torch.randperm(len(X), generator=generator).split(BATCH):
            optimizer.zero_grad()
            loss_fn(net(X[rows]), Y[rows]).backward()
            optimizer.step()
        masks = [getattr(lin, "weight_mask", None) for lin in linears]
        n_zero = sum(int((m == 0).sum()) for m in masks if m is not None)
        more = round(schedule(epoch) * n_weights) - n_zero
        if more > 0:  # prunes among the weights still unmasked
            prune.global_unstructured(
                [(lin, "weight") for lin in linears],
                pruning_method=prune.L1Unstructured,
                importance_scores={
                    (lin, "weight"): getattr(lin, "weight_orig", lin.weight).detach()
                    for lin in linears
                },
                amount=more,
            )
    with torch.no_grad():
        raw = net(torch.as_tensor(X_te)).numpy()
    if classifier:
        pred = classes[(raw[:, 0] > 0).astype(int) if binary else raw.argmax(1)]
    else:
        pred = raw[:, 0]
    coefs = [lin.weight.detach().numpy().T for lin in linears]
    return dict(**facts(coefs), epochs=epochs, score=score(classifier, y_te, pred))


def gmp(target, ramp):
    return lambda t: target * (1.0 - (1.0 - min(t / ramp, 1.0)) ** 3)


def run_dense_cv(data, seed, epochs):
    X_tr, X_te, y_tr, y_te, classifier, hidden = data
    Estimator = MLPClassifier if classifier else MLPRegressor
    est = Estimator(
        hidden_layer_sizes=hidden, batch_size=BATCH, learning_rate_init=LR,
        max_iter=epochs, tol=0, n_iter_no_change=epochs, random_state=seed,
    )  # fmt: skip
    grid = GridSearchCV(est, {"alpha": ALPHAS}, cv=3).fit(X_tr, y_tr)
    best = grid.best_estimator_
    return dict(
        **facts(best.coefs_), epochs=best.n_iter_, alpha=grid.best_params_["alpha"],
        score=score(classifier, y_te, best.predict(X_te)),
    )  # fmt: skip


def run_lassonet(data, seed, epochs):
    from lassonet import LassoNetClassifier, LassoNetRegressor

    X_tr, X_te, y_tr, y_te, classifier, hidden = data
    X_fit, X_val, y_fit, y_val = train_test_split(
        X_tr, y_tr, test_size=0.2, random_state=seed,
        stratify=y_tr if classifier else None,
    )  # fmt: skip
    model = (LassoNetClassifier if classifier else LassoNetRegressor)(
        hidden_dims=hidden, batch_size=BATCH, n_iters=(epochs, 5),
        path_multiplier=1.1, random_state=seed, torch_seed=seed, verbose=0,
    )  # fmt: skip
    path = model.path(X_fit, y_fit, X_val=X_val, y_val=y_val, return_state_dicts=True)
    val_scores = [
        score(classifier, y_val, model.load(item).predict(X_val)) for item in path
    ]
    best = path[max(range(len(path)), key=lambda i: (val_scores[i], i))]
    model.load(best)
    return dict(
        features_kept=float(best.selected.float().mean()),
        epochs=sum(item.n_iters for item in path), alpha=best.lambda_,
        score=score(classifier, y_te, model.predict(X_te)),
    )  # fmt: skip


PER_DATASET = ("dense-cv", "lassonet")  # one fit per data set and seed
SKIP = {("mackey_glass", "lassonet")}  # 6 lagged inputs: nothing to select


def run(method, data, target, seed, epochs):
    if method in ("ours", "paper"):
        search = "online" if method == "ours" else "paper"
        return run_ours(data, target, seed, epochs, search)
    if method == "dense-cv":
        return run_dense_cv(data, seed, epochs)
    if method == "lassonet":
        return run_lassonet(data, seed, epochs)
    schedule = {
        "gmp-60": gmp(target, 0.6 * epochs),
        "gmp-90": gmp(target, 0.9 * epochs),
        "one-shot": lambda t: target * (t >= epochs // 2),
    }[method]
    return run_pruning(data, target, seed, epochs, schedule)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny subset")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=200)
    parser.add_argument("--data", nargs="+", choices=DATASETS, default=DATASETS)
    parser.add_argument("--methods", nargs="+", choices=METHODS, default=METHODS)
    parser.add_argument("--out", default="accuracy", help="results/<OUT>.csv")
    args = parser.parse_args()
    datasets, targets, seeds, epochs = args.data, TARGETS, args.seeds, args.epochs
    if args.quick:
        datasets, targets, seeds, epochs = QUICK
    try:
        import lassonet  # noqa: F401
    except ImportError:
        print("lassonet is not installed: its rows are left out.")
        args.methods = [m for m in args.methods if m != "lassonet"]
    warnings.simplefilter("ignore", ConvergenceWarning)  # the budget is fixed

    with Results(args.out + "_quick" * args.quick) as results, threads(1):
        for name in datasets:
            data = load(name)
            for seed in range(seeds):
                for method, target in product(args.methods, targets):
                    if method in PER_DATASET:
                        if target != targets[0] or (name, method) in SKIP:
                            continue
                        target = None
                    with Timer() as timer:
                        row = run(method, data, target, seed, epochs)
                    results.add(**{
                        "method": method, "data": name, "target": target,
                        "seed": seed, "budget": epochs, "sparsity": None,
                        "features_kept": None, "epochs": None, "alpha": None,
                        "n_search_rounds": None, "target_reached": None,
                        "score": None, **row, **timer.record(),
                    })  # fmt: skip
                    print(f"{name} {method} {target} seed {seed}: score "
                          f"{row['score']:.4f}, {row['epochs']} epochs, "
                          f"{timer.seconds:.1f} s")  # fmt: skip


if __name__ == "__main__":
    main()
