"""What does the warm-started path cost against one fit, and the CV
estimators against GridSearchCV over target_sparsity; do they choose the
same level; and does a fresh fit at a λ the path reports land at the
path's sparsity?

Setup
-----
* Data: scikit-learn's digits (``SparseL1Classifier``, one hidden layer of
  64 units) and the paper's Mackey-Glass series, 2,000 samples
  (``SparseL1Regressor``, hidden layers (64, 64)); inputs standardized.
  Both: Adam, ``learning_rate_init=0.003``, ``max_iter=80`` epochs per fit,
  the other parameters at their defaults (``sparsity_tol=0.02``, refit).
  ``--seeds`` seeds, each seeding the estimators and the folds.
* Path: ``l1_path`` over 10 levels (0.5 … 0.98), its default per-point
  budget; against it, a fresh fit with ``target_sparsity`` at each of the
  10 levels ("one fit": their median time). Then, for each point, a fresh
  fit at the λ the point reports (``alpha=path.alphas[k]``, no target):
  the sparsity it reaches against the point's; and, as the reference, a
  fresh fit at the ``alpha_`` of the fresh target fit at that level. These
  fresh fits have no refit (a fixed λ's default): their ℓ1 phase is the
  whole budget, where a target fit's is 70% of it. ``--same-phases`` then
  repeats only these fresh fits, at the λ recorded, with ``refit=True``: the
  phases of a target fit.
* CV: ``SparseL1ClassifierCV`` / ``SparseL1RegressorCV`` against
  ``GridSearchCV(estimator, {"target_sparsity": levels})``, the same 8
  levels (0.5 … 0.97), the same 5 shuffled folds, the estimator's default
  score, both with ``n_jobs=1`` and a final refit of the chosen level; the
  order of the two alternates from seed to seed. Recorded: the seconds, the
  level each chooses, and whether ours is within one standard error
  (``std / √5``, from GridSearchCV's own fold scores) of GridSearchCV's
  best.
* One torch and one BLAS thread for everything.
"""

import argparse
import warnings

import numpy as np
from _harness import Results, Timer, threads
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, KFold, StratifiedKFold
from sklearn.preprocessing import StandardScaler

from sk_sparse_l1 import (
    SparseL1Classifier,
    SparseL1ClassifierCV,
    SparseL1Regressor,
    SparseL1RegressorCV,
    l1_path,
)
from sk_sparse_l1._cv import select_level
from sk_sparse_l1.datasets import make_mackey_glass

PATH_LEVELS = [0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.93, 0.95, 0.97, 0.98]
CV_LEVELS = [0.5, 0.7, 0.8, 0.85, 0.9, 0.93, 0.95, 0.97]
N_FOLDS = 5
COMMON = dict(learning_rate_init=0.003, max_iter=80)


def problems(quick):
    X, y = load_digits(return_X_y=True)
    yield (
        "digits",
        StandardScaler().fit_transform(X),
        y,
        dict(base=SparseL1Classifier, cv=SparseL1ClassifierCV, hidden=(64,)),
    )
    if quick:
        return
    X, y = make_mackey_glass(2000)
    yield (
        "mackey_glass",
        StandardScaler().fit_transform(X),
        y,
        dict(base=SparseL1Regressor, cv=SparseL1RegressorCV, hidden=(64, 64)),
    )


def timed(function):
    with Timer() as timer:
        result = function()
    return result, timer


def fresh_sparsity(model, alpha, X, y, refit="auto"):
    """The sparsity of a fresh fit at the fixed λ ``alpha``: with
    ``refit="auto"`` (no refit at a fixed λ) its ℓ1 phase is the whole
    budget; with ``refit=True`` it has the phases of a target fit (an ℓ1
    phase of 70% of the budget, then the refit)."""
    params = dict(alpha=float(alpha), refit=refit)
    return clone(model).set_params(**params).fit(X, y).sparsity_


def path_part(results, data, X, y, model, seed):
    """Fresh fits at each level, the path, and fresh fits at the λ of each."""
    fits = []
    for level in PATH_LEVELS:
        est = clone(model).set_params(target_sparsity=level)
        _, timer = timed(lambda est=est: est.fit(X, y))
        fits.append(est)
        results.add(
            data=data, seed=seed, kind="fit", contestant="one fit", level=level,
            epochs=est.n_iter_, sparsity=est.sparsity_, chosen=None,
            chosen_1se=None, within_1se_of_grid=None, **timer.record(),
        )  # fmt: skip
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        path, timer = timed(lambda: l1_path(model, X, y, sparsities=PATH_LEVELS))
    results.add(
        data=data, seed=seed, kind="path", contestant="l1_path", level=None,
        epochs=int(path.n_iter.sum()), sparsity=None, chosen=None,
        chosen_1se=None, within_1se_of_grid=None, **timer.record(),
    )  # fmt: skip
    missed = sum("missed" in str(w.message) for w in caught)
    # A fresh fit at the λ of each path point, and, as the reference, at the
    # alpha_ of the fresh target fit at the same level.
    return [
        dict(
            data=data, seed=seed, level=level, path_alpha=path.alphas[k],
            path_sparsity=path.sparsity[k],
            path_reached=bool(path.target_reached[k]), missed_warnings=missed,
            fresh_at_path_alpha=fresh_sparsity(model, path.alphas[k], X, y),
            fit_alpha=fits[k].alpha_, fit_sparsity=fits[k].sparsity_,
            fresh_at_fit_alpha=fresh_sparsity(model, fits[k].alpha_, X, y),
        )
        for k, level in enumerate(PATH_LEVELS)
    ]  # fmt: skip


def cv_part(results, data, X, y, spec, model, seed):
    """Ours against GridSearchCV, in alternating order."""
    splitter = StratifiedKFold if spec["base"] is SparseL1Classifier else KFold
    folds = splitter(N_FOLDS, shuffle=True, random_state=seed)
    ours = spec["cv"](
        hidden_layer_sizes=spec["hidden"], sparsities=CV_LEVELS, cv=folds,
        random_state=seed, **COMMON,
    )  # fmt: skip
    grid = GridSearchCV(model, {"target_sparsity": CV_LEVELS}, cv=folds)
    order = [("ours", ours), ("GridSearchCV", grid)]
    timers = {}
    for who, search in order if seed % 2 == 0 else order[::-1]:
        _, timers[who] = timed(lambda search=search: search.fit(X, y))
    mean = grid.cv_results_["mean_test_score"]
    std = grid.cv_results_["std_test_score"]
    best = int(np.argmax(mean))
    ours_at = CV_LEVELS.index(ours.target_sparsity_)
    within = bool(mean[ours_at] >= mean[best] - std[best] / np.sqrt(N_FOLDS))
    # The 1se level of each, from its own fold scores.
    ours_1se = CV_LEVELS[
        select_level(
            ours.cv_results_["mean_test_score"],
            ours.cv_results_["std_test_score"], N_FOLDS, "1se",
        )
    ]  # fmt: skip
    grid_1se = CV_LEVELS[select_level(mean, std, N_FOLDS, "1se")]
    for who, chosen, chosen_1se in (
        ("ours", ours.target_sparsity_, ours_1se),
        ("GridSearchCV", grid.best_params_["target_sparsity"], grid_1se),
    ):
        results.add(
            data=data, seed=seed, kind="cv", contestant=who, level=None,
            epochs=None, sparsity=None, chosen=chosen, chosen_1se=chosen_1se,
            within_1se_of_grid=within if who == "ours" else True,
            **timers[who].record(),
        )  # fmt: skip


def same_phases(quick):
    """Fresh fits at the λ of ``results/path_cv_points.csv`` with the phases
    of a target fit (``refit=True``), into ``results/path_cv_phases.csv``."""
    import pandas as pd
    from _harness import RESULTS

    stem = "path_cv_points" + "_quick" * quick
    points = pd.read_csv(RESULTS / f"{stem}.csv")
    data_sets = {data: (X, y, spec) for data, X, y, spec in problems(quick)}
    name = stem.replace("points", "phases")
    with Results(name) as results, threads(1):
        for row in points.itertuples():
            X, y, spec = data_sets[row.data]
            model = spec["base"](
                hidden_layer_sizes=spec["hidden"], random_state=row.seed, **COMMON
            )
            results.add(
                data=row.data, seed=row.seed, level=row.level,
                fresh_at_path_alpha=fresh_sparsity(
                    model, row.path_alpha, X, y, refit=True
                ),
                fresh_at_fit_alpha=fresh_sparsity(
                    model, row.fit_alpha, X, y, refit=True
                ),
            )  # fmt: skip


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="digits, one seed")
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument(
        "--same-phases", action="store_true",
        help="only the fresh fits at the λ of the last run, with refit=True",
    )  # fmt: skip
    args = parser.parse_args()
    if args.same_phases:
        warnings.filterwarnings(
            "ignore", "Proximal training used all", ConvergenceWarning
        )
        return same_phases(args.quick)
    seeds = 1 if args.quick else args.seeds
    name = "path_cv" + "_quick" * args.quick
    # Every fit runs its fixed budget: the warning that the loss still
    # improved at max_iter is expected and silenced; missed levels of a path
    # are counted in the results.
    warnings.filterwarnings("ignore", "Proximal training used all", ConvergenceWarning)
    points = []
    with Results(name) as results, threads(1):
        for data, X, y, spec in problems(args.quick):
            for seed in range(seeds):
                model = spec["base"](
                    hidden_layer_sizes=spec["hidden"], random_state=seed, **COMMON
                )
                points += path_part(results, data, X, y, model, seed)
                cv_part(results, data, X, y, spec, model, seed)
    with Results(name.replace("path_cv", "path_cv_points")) as detail:
        for row in points:
            detail.add(**row)


if __name__ == "__main__":
    main()
