"""Does ``target_sparsity`` land within ``sparsity_tol`` in every setting,
within ``max_iter`` epochs, and what does the search cost relative to one
fit at the λ it found?

Setup
-----
* Data (all rows, inputs standardized, regression targets standardized):
  digits, breast_cancer, wine, diabetes, ``make_mackey_glass(1000)``,
  ``make_friedman1(1000, noise=1.0)``, ``make_classification(1000, 40,
  n_informative=10)``; hidden layers (64, 32), so three weight matrices.
* Factors: target ``t`` in 0.5, 0.8, 0.9, 0.95, 0.99; kind ``global`` (one
  fraction over all weights) or ``layer`` (``[t, t, t/2]``: ``t`` for the
  two hidden layers, half of it for the small output layer); batch 32,
  ``"auto"`` or the whole data set; ``max_iter`` 30, 200, 1000; solver
  ``adam`` or ``sgd``; ``--seeds`` seeds (2).
* Fractional design: every (data, target, kind, seed) combination is a
  cell (140 with 2 seeds); batch, ``max_iter`` and solver are assigned
  cyclically from the level indices (see ``cells``), so that each of their
  levels meets every data set and every target.
* Estimator defaults otherwise (``tol``, ``n_iter_no_change``, ``refit``,
  ``sparsity_tol``, ``search="online"``); one torch and one BLAS thread.
* Recorded per cell: ``target_reached_``, whether the not-reached warning
  was raised, the nonzero count of each group sharing a λ (all weights, or
  each layer) from ``coefs_`` against ``T = round((1 − s)·n)``, whether
  ``|NNZ − T| ≤ max(sparsity_tol·T, 1)`` holds for every group, ``n_iter_``
  against ``max_iter``, the fit time, and the time of one fit of a clone
  with ``target_sparsity=None, alpha=alpha_`` (same ``max_iter`` and
  ``random_state``, and a refit when the search fit refits, ``refit="auto"``
  resolved): cost ratio = search fit time / fixed-λ fit time.
* Consistency: the nonzero count of that fixed-λ fit in each group, against
  ``T``: the λ reported should give the count it was chosen for.
* Optimality conditions (:func:`sk_sparse_l1.diagnostics.stationarity`) of
  the ℓ1 network of both fits at ``alpha_``, gradients on the whole
  training set: the median of ``|∂L/∂w| / λ`` on nonzero weights, the
  fraction within ±30% of λ, and the fraction of zero weights with
  ``|∂L/∂w| > λ``.
* ``--search paper``: the same on every fourth cell, without the costliest
  combination (batch 32 with ``max_iter=1000``), with ``search="paper"``;
  records ``n_search_rounds_``. ``max_iter`` is then the budget of each
  round: ``n_iter_`` is checked against ``max_iter · max_search_rounds``.
* ``--search magnitude``: every cell with ``search="magnitude"`` (gradual
  magnitude pruning, then an ℓ1 phase and a refit), for comparison.
"""

import argparse
import warnings
from itertools import product

import numpy as np
from _harness import Results, Timer, threads
from sklearn import datasets as ds
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.preprocessing import scale

from sk_sparse_l1 import SparseL1Classifier, SparseL1Regressor
from sk_sparse_l1.datasets import make_mackey_glass
from sk_sparse_l1.diagnostics import stationarity

DATA = {  # name: (X, y, is_classifier), made on demand
    "digits": lambda: (*ds.load_digits(return_X_y=True), True),
    "breast_cancer": lambda: (*ds.load_breast_cancer(return_X_y=True), True),
    "wine": lambda: (*ds.load_wine(return_X_y=True), True),
    "diabetes": lambda: (*ds.load_diabetes(return_X_y=True), False),
    "mackey_glass": lambda: (*make_mackey_glass(1000), False),
    "friedman1": lambda: (*ds.make_friedman1(1000, noise=1.0, random_state=0), False),
    "classification40": lambda: (
        *ds.make_classification(1000, 40, n_informative=10, random_state=0),
        True,
    ),
}
TARGETS = (0.5, 0.8, 0.9, 0.95, 0.99)
KINDS = ("global", "layer")
BATCHES = (32, "auto", "full")
MAX_ITERS = (30, 200, 1000)
SOLVERS = ("adam", "sgd")
HIDDEN = (64, 32)


def cells(n_seeds):
    """The fractional design: (data, target, kind, seed, batch, max_iter,
    solver) for every (data, target, kind, seed), the other three factors
    set by the level indices (d, t, k, s) as in a Latin square."""
    for (d, name), (t, target), (k, kind), s in product(
        enumerate(DATA), enumerate(TARGETS), enumerate(KINDS), range(n_seeds)
    ):
        yield dict(
            data=name, target=target, kind=kind, seed=s,
            batch=BATCHES[(d + t + s) % 3], max_iter=MAX_ITERS[(d + 2 * t + k) % 3],
            solver=SOLVERS[(d + t + k + s) % 2],
        )  # fmt: skip


def check(coefs, target, tol):
    """Nonzeros and target count of each group sharing a λ, whether every
    group is within ``max(tol·T, 1)`` of its target count, and the largest
    relative error."""
    per_layer = np.array([np.count_nonzero(W) for W in coefs])
    sizes = np.array([W.size for W in coefs])
    if np.ndim(target) == 0:
        per_layer, sizes, target = per_layer.sum(keepdims=True), sizes.sum(), [target]
    counts = np.round((1 - np.asarray(target)) * sizes).astype(int)
    errors = np.abs(per_layer - counts)
    within = bool(np.all(errors <= np.maximum(tol * counts, 1)))
    return per_layer, counts, within, float(np.max(errors / np.maximum(counts, 1)))


def run_cell(cell, search):
    X, y, classifier = DATA[cell["data"]]()
    X, y = scale(X), y if classifier else scale(y)
    t = cell["target"]
    target = t if cell["kind"] == "global" else [t, t, t / 2]
    est = (SparseL1Classifier if classifier else SparseL1Regressor)(
        HIDDEN, target_sparsity=target, search=search, solver=cell["solver"],
        batch_size=len(X) if cell["batch"] == "full" else cell["batch"],
        max_iter=cell["max_iter"], random_state=cell["seed"],
    )  # fmt: skip
    with warnings.catch_warnings(record=True) as caught, Timer() as timer:
        warnings.simplefilter("always", ConvergenceWarning)
        est.fit(X, y)
    # refit="auto" refits target-sparsity fits only: the fixed-λ fit is told
    # to refit when the search fit did, so that both do the same work.
    refit = True if est.refit == "auto" else est.refit
    fixed = clone(est).set_params(target_sparsity=None, alpha=est.alpha_, refit=refit)
    with warnings.catch_warnings(), Timer() as fixed_timer:
        warnings.simplefilter("ignore", ConvergenceWarning)
        fixed.fit(X, y)
    # max_iter is the whole fit's budget; the paper search's budget per round
    budget = cell["max_iter"] * (est.max_search_rounds if search == "paper" else 1)
    nnz, counts, within, error = check(est.coefs_, target, est.sparsity_tol)
    fixed_nnz, _, _, fixed_error = check(fixed.coefs_, target, est.sparsity_tol)
    kkt = stationarity(est, X, y)
    fixed_kkt = stationarity(fixed, X, y)
    return dict(
        **cell, search=search, refit=refit, target_reached=est.target_reached_,
        warned=any("target_sparsity" in str(w.message) for w in caught),
        within_tol=within, max_rel_error=round(error, 5),
        nnz=";".join(map(str, nnz)), target_nnz=";".join(map(str, counts)),
        n_iter=est.n_iter_, budget=budget, within_budget=est.n_iter_ <= budget,
        n_search_rounds=est.n_search_rounds_,
        alpha=";".join(f"{a:.4g}" for a in np.ravel(est.alpha_)),
        **timer.record(), fixed_seconds=round(fixed_timer.seconds, 6),
        cost_ratio=timer.seconds / fixed_timer.seconds, fixed_n_iter=fixed.n_iter_,
        fixed_sparsity=fixed.sparsity_,
        fixed_nnz=";".join(map(str, fixed_nnz)),
        fixed_max_rel_error=round(fixed_error, 5),
        kkt_median_ratio=round(kkt.median_ratio, 4),
        kkt_within_band=round(kkt.within_band, 4),
        kkt_violating_zeros=round(kkt.violating_zeros, 5),
        fixed_kkt_median_ratio=round(fixed_kkt.median_ratio, 4),
        fixed_kkt_within_band=round(fixed_kkt.within_band, 4),
        fixed_kkt_violating_zeros=round(fixed_kkt.violating_zeros, 5),
    )  # fmt: skip


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a few cheap cells")
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument(
        "--search", choices=("online", "magnitude", "paper"), default="online"
    )
    parser.add_argument(
        "--only", default=None, help="run only the cells whose data set is this"
    )
    args = parser.parse_args()
    design = list(cells(args.seeds))
    if args.search == "paper":
        design = [
            c for c in design[::4] if not (c["batch"] == 32 and c["max_iter"] == 1000)
        ]
    if args.quick:
        cheap = [c for c in design if c["max_iter"] == 30]
        design = [c for c in cheap if c["data"] == "wine"][:3] + [
            c for c in cheap if c["data"] == "diabetes"
        ][:3]
    if args.only:
        design = [c for c in design if c["data"] == args.only]
    suffix = "" if args.search == "online" else f"_{args.search}"
    name = (
        "robustness"
        + suffix
        + "_quick" * args.quick
        + f"_{args.only}" * bool(args.only)
    )
    warnings.simplefilter("ignore", ConvergenceWarning)  # run_cell records its own
    with Results(name) as results, threads(1):
        SparseL1Regressor(max_iter=2).fit(*ds.make_friedman1(50))  # warm-up, untimed
        for i, cell in enumerate(design):
            row = run_cell(cell, args.search)
            results.add(**row)
            print(
                f"{i + 1}/{len(design)} {cell}: within tol {row['within_tol']}, "
                f"reached {row['target_reached']}, {row['n_iter']} epochs, "
                f"cost ratio {row['cost_ratio']:.2f}, fresh error "
                f"{row['fixed_max_rel_error']:.3f}, kkt "
                f"{row['kkt_median_ratio']}/{row['fixed_kkt_median_ratio']}"
            )


if __name__ == "__main__":
    main()
