"""Wall time of a grid search over ``target_sparsity``: n_jobs=1 vs n_jobs=2.

The estimators never change torch's thread count. In this process torch uses
its default (one thread per core); joblib's default ``loky`` backend starts
worker processes with ``OMP_NUM_THREADS`` (and the MKL/OpenBLAS equivalents)
set to ``cpu_count() // n_jobs``, which torch reads when it starts. This
script measures:

* the torch thread count here and in the workers (a tiny function run through
  ``joblib.Parallel(n_jobs=2)`` returns ``torch.get_num_threads()`` and the
  environment it saw);
* the wall time of ``GridSearchCV(SparseL1Classifier(...), {"target_sparsity":
  [...]}, cv=3)`` with ``n_jobs=1`` (torch's default threads, then 1 thread)
  and ``n_jobs=2``; the first ``n_jobs=2`` search, which starts the workers,
  is reported apart; the table gives the median of ``--repeats`` runs, in
  rotating order;
* whether the cross-validation scores of ``n_jobs=1`` and ``n_jobs=2`` are
  bit-identical (they may differ in the last bits when thread counts differ:
  a parallel sum is added in another order);
* the load average (``/proc/loadavg``), since other work may share the cores.

Usage::

    python benchmarks/bench_concurrency.py               # minutes on a loaded machine
    python benchmarks/bench_concurrency.py --repeats 5
"""

import argparse
import os
import platform
import statistics
import time
import warnings

import joblib
import numpy as np
import sklearn
import torch
from joblib import Parallel, delayed
from sklearn.datasets import make_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV
from sklearn.preprocessing import StandardScaler

from sk_sparse_l1 import SparseL1Classifier

THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


def worker_threads():
    """Run in a worker: its pid, torch's thread count and the variables."""
    return (
        os.getpid(),
        torch.get_num_threads(),
        {name: os.environ.get(name) for name in THREAD_VARIABLES},
    )


def load_average():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def make_search(n_jobs, args):
    estimator = SparseL1Classifier(
        hidden_layer_sizes=(args.hidden,),
        max_iter=args.epochs,
        learning_rate_init=0.01,
        refit=False,  # as measured in docs/reliability.md
        random_state=0,
    )
    grid = {"target_sparsity": [0.5, 0.7, 0.9, 0.95]}
    return GridSearchCV(estimator, grid, cv=3, n_jobs=n_jobs)


def timed_search(n_jobs, X, y, args, torch_threads=None):
    previous = torch.get_num_threads()
    if torch_threads is not None:
        torch.set_num_threads(torch_threads)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            started = time.perf_counter()
            search = make_search(n_jobs, args).fit(X, y)
            return time.perf_counter() - started, search
    finally:
        torch.set_num_threads(previous)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--samples", type=int, default=2000)
    parser.add_argument("--features", type=int, default=20)
    parser.add_argument("--hidden", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=30)
    args = parser.parse_args()

    X, y = make_classification(
        n_samples=args.samples,
        n_features=args.features,
        n_informative=5,
        random_state=0,
    )
    X = StandardScaler().fit_transform(X)
    load_before = load_average()

    print("## Concurrency on this machine\n")
    print(
        f"{platform.processor() or platform.machine()}, "
        f"os.cpu_count()={os.cpu_count()}, joblib.cpu_count()={joblib.cpu_count()}; "
        f"Python {platform.python_version()}, torch {torch.__version__}, "
        f"scikit-learn {sklearn.__version__}, joblib {joblib.__version__}.\n"
    )
    print(
        f"Data {args.samples} × {args.features}, hidden layer ({args.hidden},), "
        f"max_iter={args.epochs}, 4 values of target_sparsity × cv=3 = 12 fits "
        "+ 1 refit.\n"
    )
    env = {name: os.environ.get(name) for name in THREAD_VARIABLES}
    print(f"- main process: torch.get_num_threads() = {torch.get_num_threads()}, {env}")

    cold, cold_search = timed_search(2, X, y, args)
    # The workers of that search are reused here (loky's reusable executor).
    seen = Parallel(n_jobs=2)(delayed(worker_threads)() for _ in range(8))
    for pid, threads, variables in sorted(set((p, t, str(v)) for p, t, v in seen)):
        print(
            f"- loky worker pid {pid}: torch.get_num_threads() = {threads}, {variables}"
        )

    runs = {"n_jobs=1": [], "n_jobs=1, torch 1 thread": [], "n_jobs=2": []}
    searches = {}
    configs = [
        ("n_jobs=1", 1, None),
        ("n_jobs=1, torch 1 thread", 1, 1),
        ("n_jobs=2", 2, None),
    ]
    for repeat in range(args.repeats):
        shift = repeat % len(configs)
        for name, n_jobs, threads in configs[shift:] + configs[:shift]:
            seconds, searches[name] = timed_search(n_jobs, X, y, args, threads)
            runs[name].append(seconds)

    print(f"\nLoad average before: {load_before}; after: {load_average()}.\n")
    print("| search | median wall time (s) | all runs (s) |")
    print("|---|---|---|")
    print(f"| n_jobs=2, first (starts the workers) | {cold:.2f} | |")
    for name, times in runs.items():
        all_runs = ", ".join(f"{t:.2f}" for t in times)
        print(f"| {name} | {statistics.median(times):.2f} | {all_runs} |")

    serial = searches["n_jobs=1"].cv_results_
    for name in ("n_jobs=1, torch 1 thread", "n_jobs=2"):
        other = searches[name].cv_results_
        keys = [k for k in serial if k.startswith("split") and "test_score" in k]
        identical = all(np.array_equal(serial[k], other[k]) for k in keys)
        gap = max(float(np.max(np.abs(serial[k] - other[k]))) for k in keys)
        print(
            f"\nCV scores of `{name}` vs `n_jobs=1`: "
            f"{'bit-identical' if identical else f'differ, max |Δ| = {gap:.3g}'}; "
            f"best target_sparsity {searches[name].best_params_['target_sparsity']} "
            f"vs {searches['n_jobs=1'].best_params_['target_sparsity']}."
        )
    cold_same = cold_search.best_params_ == searches["n_jobs=2"].best_params_
    print(f"(first and later n_jobs=2 searches agree: {cold_same})")


if __name__ == "__main__":
    main()
