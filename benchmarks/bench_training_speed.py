"""Training time per epoch: SparseL1Regressor vs scikit-learn's MLP vs skorch.

Three regression problems (float64 data from a fixed-seed generator, target
standardized), batch size 128, Adam, learning rate 1e-3:

* small  — 1,000 × 10, hidden layers (32,)
* medium — 10,000 × 20, hidden layers (64, 64)
* large  — 20,000 × 100, hidden layers (256, 256)

Contestants, each run for exactly ``epochs`` epochs (``tol=0`` and a huge
``n_iter_no_change``, so no early stop):

* ``ours-Nt``   — ``SparseL1Regressor(solver="adam", alpha=1e-4)`` with torch's
  default number of threads N, float64 (the dtype of the data);
* ``ours-1t``   — the same with one torch thread. Both go through the
  estimator's ``n_threads`` parameter when it has one, and set torch's thread
  count around ``fit`` (restored after) in any case. Ratios use whichever
  of the two is the package's default;
* ``sklearn``   — ``MLPRegressor(solver="adam", alpha=0)``, float64, numpy/BLAS
  with its default threads;
* ``skorch``    — ``NeuralNetRegressor`` on ``nn.Sequential(Linear, ReLU, …)``
  with ``torch.optim.Adam``, ``train_split=None``, float32 (skorch's usual
  dtype), torch's default threads.

Within one process the contestants run alternately (the order rotates every
repeat) after one untimed warm-up fit each; a timing is the wall-clock time of
a whole ``fit`` divided by its number of epochs, and the table reports the
median over the repeats. Other processes' load hurts multithreaded code most,
so within a time budget (``--quiet-budget``) the script waits before each
timed fit for the CPUs to be otherwise idle and repeats fits that ran under
load, keeping the least loaded attempt; it reports the load measured during
the fits (Linux ``/proc/stat``).

Usage::

    python benchmarks/bench_training_speed.py          # print the section
    python benchmarks/bench_training_speed.py --write  # and update docs/benchmarks.md
"""

import argparse
import os
import platform
import statistics
import sys
import time
import warnings
from pathlib import Path

import _report
import numpy as np
import sklearn
import torch
from sklearn.neural_network import MLPRegressor
from torch import nn

import sk_sparse_l1
from sk_sparse_l1 import SparseL1Regressor

DOC = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"
HEADING = "## Training time per epoch"
COMMAND = "python benchmarks/bench_training_speed.py --write"

BATCH_SIZE = 128
LEARNING_RATE = 1e-3
NEVER = 10**9  # n_iter_no_change: never stop early

# name, n_samples, n_features, hidden_layer_sizes, epochs per timed fit.
# Epochs are sized so that the whole default run takes about a minute on an
# idle 2-core machine (several minutes on a busy one).
PROBLEMS = [
    ("small", 1_000, 10, (32,), 50),
    ("medium", 10_000, 20, (64, 64), 5),
    ("large", 20_000, 100, (256, 256), 1),
]
DEFAULT_REPEATS = 5

# On a shared machine other processes' load distorts timings, multithreaded
# ones most. Before a timed fit the script waits (up to MAX_WAIT seconds) for
# other processes to keep fewer than QUIET_CORES cores busy, and repeats a fit
# that ran under more load (up to ATTEMPTS times, keeping the least loaded
# attempt), all within a time budget for the whole run (--quiet-budget).
QUIET_CORES = 0.3
MAX_WAIT = 10.0
ATTEMPTS = 3
DEFAULT_QUIET_BUDGET = 180.0


def make_problem(n_samples, n_features, seed=0):
    """float64 features and a standardized nonlinear target, fixed seed."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_samples, n_features))
    coef = rng.standard_normal(n_features)
    y = X @ coef + np.sin(X[:, 0]) * X[:, 1 % n_features]
    y += 0.1 * rng.standard_normal(n_samples)
    y = (y - y.mean()) / y.std()
    return X, y


# ----------------------------------------------------------------- contestants


N_THREADS = torch.get_num_threads()  # torch's default, read at import
HAS_N_THREADS = "n_threads" in SparseL1Regressor().get_params()


def _fit_ours(X, y, hidden, epochs, n_threads):
    """Fit ours with ``n_threads`` torch threads, restoring torch's setting.

    Through the estimator's ``n_threads`` parameter when it has one, else
    with ``torch.set_num_threads`` around ``fit``.
    """
    params = dict(
        hidden_layer_sizes=hidden,
        solver="adam",
        alpha=1e-4,
        batch_size=BATCH_SIZE,
        learning_rate_init=LEARNING_RATE,
        max_iter=epochs,
        tol=0.0,
        n_iter_no_change=NEVER,
        random_state=0,
    )
    if HAS_N_THREADS:
        params["n_threads"] = n_threads
    previous = torch.get_num_threads()
    torch.set_num_threads(n_threads)
    try:
        SparseL1Regressor(**params).fit(X, y)
    finally:
        torch.set_num_threads(previous)


def fit_ours_one_thread(X, y, hidden, epochs):
    _fit_ours(X, y, hidden, epochs, 1)


def fit_ours_default_threads(X, y, hidden, epochs):
    _fit_ours(X, y, hidden, epochs, N_THREADS)


def ours_default():
    """Which of the two measured settings the package uses by default."""
    n_threads = SparseL1Regressor().get_params().get("n_threads")
    return "ours-1t" if n_threads == 1 else "ours-Nt"


def fit_sklearn(X, y, hidden, epochs):
    MLPRegressor(
        hidden_layer_sizes=hidden,
        activation="relu",
        solver="adam",
        alpha=0.0,
        batch_size=BATCH_SIZE,
        learning_rate_init=LEARNING_RATE,
        max_iter=epochs,
        tol=0.0,
        n_iter_no_change=NEVER,
        shuffle=True,
        random_state=0,
    ).fit(X, y)


def _sequential(n_features, hidden):
    layers, fan_in = [], n_features
    for width in hidden:
        layers += [nn.Linear(fan_in, width), nn.ReLU()]
        fan_in = width
    layers.append(nn.Linear(fan_in, 1))
    return nn.Sequential(*layers)


def fit_skorch(X, y, hidden, epochs):
    from skorch import NeuralNetRegressor

    torch.manual_seed(0)
    NeuralNetRegressor(
        _sequential(X.shape[1], hidden),
        criterion=nn.MSELoss,
        optimizer=torch.optim.Adam,
        lr=LEARNING_RATE,
        batch_size=BATCH_SIZE,
        max_epochs=epochs,
        train_split=None,
        iterator_train__shuffle=True,
        verbose=0,
    ).fit(X.astype(np.float32), y.astype(np.float32).reshape(-1, 1))


CONTESTANTS = {
    "ours-Nt": fit_ours_default_threads,
    "ours-1t": fit_ours_one_thread,
    "sklearn": fit_sklearn,
    "skorch": fit_skorch,
}


# -------------------------------------------------------------------- running


def _busy_cpu_seconds():
    """CPU seconds all processes spent busy since boot (Linux), or None."""
    try:
        with open("/proc/stat") as f:
            fields = [int(v) for v in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return (sum(fields) - idle) / os.sysconf("SC_CLK_TCK")


def wait_for_quiet(max_wait, threshold=QUIET_CORES, window=0.5):
    """Wait (at most ``max_wait`` seconds) until other processes keep fewer
    than ``threshold`` cores busy over ``window`` seconds; return the wait."""
    started = time.perf_counter()
    while time.perf_counter() - started < max_wait:
        busy, own = _busy_cpu_seconds(), time.process_time()
        if busy is None:
            break
        time.sleep(window)
        others = _busy_cpu_seconds() - busy - (time.process_time() - own)
        if others / window < threshold:
            break
    return time.perf_counter() - started


def time_per_epoch(fit, X, y, hidden, epochs):
    """Seconds per epoch of one fit, and how many cores other processes kept
    busy meanwhile (NaN where /proc/stat is not available)."""
    busy, own = _busy_cpu_seconds(), time.process_time()
    started = time.perf_counter()
    fit(X, y, hidden, epochs)
    elapsed = time.perf_counter() - started
    own = time.process_time() - own
    others = float("nan")
    if busy is not None:
        others = max(0.0, (_busy_cpu_seconds() - busy - own) / elapsed)
    return elapsed / epochs, others


class QuietBudget:
    """Seconds the run may still spend waiting for, or repeating fits until,
    other processes leave the CPUs idle."""

    def __init__(self, seconds):
        self.total = self.left = seconds

    def measure(self, fit, X, y, hidden, epochs):
        """``time_per_epoch`` of the least loaded of a few attempts."""
        best = None
        for attempt in range(ATTEMPTS):
            if attempt and self.left <= 0:
                break
            spent = wait_for_quiet(min(MAX_WAIT, self.left)) if self.left > 0 else 0
            started = time.perf_counter()
            seconds, others = time_per_epoch(fit, X, y, hidden, epochs)
            if attempt:  # a repeated fit is extra time
                spent += time.perf_counter() - started
            self.left -= spent
            if best is None or others < best[1]:
                best = (seconds, others)
            if not others >= QUIET_CORES:  # quiet, or load unknown (NaN)
                break
        return best


def run(problems, repeats, budget, log=print):
    """Median seconds per epoch: ``{problem name: {contestant: seconds}}``,
    plus the load of other processes during the timed fits."""
    names = list(CONTESTANTS)
    results = {}
    for name, n_samples, n_features, hidden, epochs in problems:
        X, y = make_problem(n_samples, n_features)
        for contestant in names:  # warm-up: imports, allocator, BLAS threads
            CONTESTANTS[contestant](X, y, hidden, 1)
        times = {contestant: [] for contestant in names}
        others = []
        for r in range(repeats):
            order = names[r % len(names) :] + names[: r % len(names)]
            for contestant in order:
                seconds, busy = budget.measure(
                    CONTESTANTS[contestant], X, y, hidden, epochs
                )
                times[contestant].append(seconds)
                others.append(busy)
        results[name] = {c: statistics.median(t) for c, t in times.items()}
        results[name]["others"] = statistics.median(others)
        results[name]["others_max"] = max(others)
        log(
            f"{name}: "
            + ", ".join(
                f"{c} {' / '.join(f'{v:.4g}' for v in t)} s" for c, t in times.items()
            ),
            file=sys.stderr,
        )
    return results


# ------------------------------------------------------------------- reporting


def _seconds(value):
    return f"{value * 1e3:.1f} ms" if value < 1 else f"{value:.2f} s"


def _label(key):
    return "1 thread" if key == "ours-1t" else f"{N_THREADS} threads"


def summary(results, key=None):
    """ours / sklearn and skorch / ours per problem, ours being ``key``
    (by default the package's default thread setting)."""
    key = key or ours_default()
    ours_vs_sklearn = {p: r[key] / r["sklearn"] for p, r in results.items()}
    skorch_vs_ours = {p: r["skorch"] / r[key] for p, r in results.items()}
    return ours_vs_sklearn, skorch_vs_ours


def _faster_threads(r):
    if r["ours-1t"] < r["ours-Nt"]:
        return f"1 thread, {r['ours-Nt'] / r['ours-1t']:.2f}× faster than {N_THREADS}"
    return f"{N_THREADS} threads, {r['ours-1t'] / r['ours-Nt']:.2f}× faster than 1"


def table(problems, results, repeats):
    ours_vs_sklearn, skorch_vs_ours = summary(results)
    default = {"ours-1t": "", "ours-Nt": ""}
    default[ours_default()] = " (default)"
    lines = [
        "| problem | n × d | hidden | epochs × repeats "
        f"| ours, 1 thread{default['ours-1t']} "
        f"| ours, {N_THREADS} threads{default['ours-Nt']} "
        "| scikit-learn MLP | skorch | ours / sklearn | skorch / ours "
        "| faster setting for ours | other load (cores) |",
        "|---|---|---|---|--:|--:|--:|--:|--:|--:|---|--:|",
    ]
    for name, n_samples, n_features, hidden, epochs in problems:
        r = results[name]
        lines.append(
            f"| {name} | {n_samples:,} × {n_features} | {hidden} "
            f"| {epochs} × {repeats} | {_seconds(r['ours-1t'])} "
            f"| {_seconds(r['ours-Nt'])} | {_seconds(r['sklearn'])} "
            f"| {_seconds(r['skorch'])} | {ours_vs_sklearn[name]:.2f} "
            f"| {skorch_vs_ours[name]:.2f} | {_faster_threads(r)} "
            f"| {r['others']:.2f} (max {r['others_max']:.2f}) |"
        )
    return "\n".join(lines)


def goals(problems, results):
    key = ours_default()
    other = "ours-Nt" if key == "ours-1t" else "ours-1t"
    met = {True: "met", False: "**not met**"}
    lines = []
    for k, prefix in ((key, ""), (other, "For comparison, ")):
        ours_vs_sklearn, skorch_vs_ours = summary(results, k)
        median_ratio = statistics.median(ours_vs_sklearn.values())
        worst_skorch = min(skorch_vs_ours.values())
        lines += [
            f"- {prefix}ours with {_label(k)} / scikit-learn, median over the "
            f"problems: **{median_ratio:.2f}** (goal ≤ 1.0: "
            f"{met[median_ratio <= 1.0]}).",
            f"- {prefix}skorch / ours with {_label(k)}, smallest over the "
            f"problems: **{worst_skorch:.2f}** (goal ≥ 2: "
            f"{met[worst_skorch >= 2.0]}).",
        ]
    for name, *_ in problems:
        r = results[name]
        lines.append(
            f"- Threads, {name}: {_seconds(r['ours-1t'])} per epoch with 1 thread, "
            f"{_seconds(r['ours-Nt'])} with {N_THREADS}: {_faster_threads(r)}."
        )
    return "\n".join(lines)


def machine():
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(
                (
                    line.split(":", 1)[1].strip()
                    for line in f
                    if line.startswith("model name")
                ),
                platform.processor(),
            )
    except (OSError, StopIteration):
        cpu = platform.processor() or platform.machine()
    return (
        f"{cpu}, {os.cpu_count()} logical CPUs, {platform.system()} "
        f"{platform.release()}; Python {platform.python_version()}, "
        f"torch {torch.__version__} ({N_THREADS} threads by "
        f"default), scikit-learn {sklearn.__version__}, numpy {np.__version__}, "
        f"skorch {_skorch_version()}, sk_sparse_l1 {sk_sparse_l1.__version__}"
    )


def _skorch_version():
    import skorch

    return skorch.__version__


def _how_threads():
    if HAS_N_THREADS:
        default = SparseL1Regressor().get_params()["n_threads"]
        return (
            f" (`n_threads=1` and `n_threads={N_THREADS}`; the package "
            f"default is `n_threads={default}`)"
        )
    return " (`torch.set_num_threads`, restored after each fit)"


def section(problems, results, repeats, command, elapsed, budget):
    busiest = max(r["others_max"] for r in results.values())
    if busiest > 0.25:
        load_note = (
            "**The machine was not idle during this run** (see the last column): "
            "that penalizes multithreaded code most, since a parallel region "
            "waits for its slowest thread and a thread that lost its core stalls "
            "it. Timings from an idle machine may differ substantially."
        )
    else:
        load_note = "The machine was otherwise idle during this run."
    return f"""{HEADING}

Wall-clock time of one training epoch: a whole `fit` divided by its number of
epochs, median over {repeats} repeats, the contestants running alternately in
one process after one untimed warm-up fit each. Batch size {BATCH_SIZE}, Adam
with learning rate {LEARNING_RATE:g}, every fit running exactly its number of
epochs (`tol=0`, no early stopping). Data: float64 from a fixed-seed
generator, target standardized.

- **ours**: `SparseL1Regressor(solver="adam", alpha=1e-4)`, computing in
  float64 (the dtype of the data), with one torch thread and with torch's
  default {N_THREADS} threads{_how_threads()}.
- **scikit-learn MLP**: `MLPRegressor(solver="adam", alpha=0)`, float64,
  numpy's BLAS with its default number of threads.
- **skorch**: `NeuralNetRegressor` on an `nn.Sequential` of `Linear` + `ReLU`
  layers with `torch.optim.Adam`, `train_split=None`, float32 (data cast by
  the benchmark), torch's default number of threads.

Ratios use ours as configured by default ({_label(ours_default())}, marked
"default"): "ours / sklearn" below 1 and "skorch / ours" above 1 mean ours is
faster. "Other load" is how many
cores other processes kept busy during the timed fits (median and maximum
over the fits, from `/proc/stat`): within a time budget, the script waits for
the CPUs to be otherwise idle before each timed fit and repeats (up to
{ATTEMPTS} attempts) a fit that ran while others used more than {QUIET_CORES:g}
core, keeping the least loaded attempt.

{table(problems, results, repeats)}

{goals(problems, results)}

{load_note}

Machine: {machine()}. The run took {elapsed / 60:.1f} minutes, of which
{(budget.total - budget.left) / 60:.1f} waiting for other processes to leave
the CPUs idle or repeating fits they disturbed (budget
{budget.total / 60:.1f} minutes).

Reproduce with:

```
{command}
```
"""


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--write",
        action="store_true",
        help=f"rewrite the '{HEADING[3:]}' section of {DOC.name}",
    )
    parser.add_argument(
        "--repeats",
        type=int,
        default=DEFAULT_REPEATS,
        help=f"timed fits per contestant and problem (default {DEFAULT_REPEATS})",
    )
    parser.add_argument(
        "--quiet-budget",
        type=float,
        default=DEFAULT_QUIET_BUDGET,
        help="seconds the run may spend waiting for other "
        "processes to leave the CPUs idle and repeating "
        "fits they disturbed "
        f"(default {DEFAULT_QUIET_BUDGET:g}; 0 disables)",
    )
    parser.add_argument(
        "--problems",
        nargs="+",
        choices=[p[0] for p in PROBLEMS],
        default=[p[0] for p in PROBLEMS],
        help="subset of problems to run (default: all)",
    )
    args = parser.parse_args(argv)

    warnings.filterwarnings("ignore")
    problems = [p for p in PROBLEMS if p[0] in args.problems]
    command = COMMAND
    if args.repeats != DEFAULT_REPEATS:
        command += f" --repeats {args.repeats}"
    if args.quiet_budget != DEFAULT_QUIET_BUDGET:
        command += f" --quiet-budget {args.quiet_budget:g}"
    if len(problems) != len(PROBLEMS):
        command += " --problems " + " ".join(args.problems)

    started = time.perf_counter()
    budget = QuietBudget(args.quiet_budget)
    results = run(problems, args.repeats, budget)
    elapsed = time.perf_counter() - started

    text = section(problems, results, args.repeats, command, elapsed, budget)
    print(text)
    if args.write:
        _report.write_section(text, HEADING, DOC)
        print(f"Wrote the '{HEADING[3:]}' section of {DOC}", file=sys.stderr)


if __name__ == "__main__":
    main()
