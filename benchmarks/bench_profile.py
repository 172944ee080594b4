"""Where does the time of one training step go, at the three sizes of
``bench_speed.py``?

Setup
-----
* Data, network, optimizer and batch as in ``bench_speed.py``:
  ``make_regression``, hidden layers (32,), (64, 64), (256, 256), ReLU, Adam
  at 1e-3, batch 128, ``SparseL1Regressor(alpha=1e-4, refit=False)`` (a
  fixed λ), float64 and float32, one torch and one BLAS thread
  (``--threads``).
* Each part of a step is timed inside real fits by wrapping, for the fit's
  duration, the method that does it: ``Network.loss_and_gradients`` (forward
  and backward), ``batch_loss_and_gradients`` less that (gathering the
  minibatch's rows), the optimizer's ``step`` (Adam's update) and ``prox_``
  (the proximal map), and the schedule's ``step_lr_scale``,
  ``step_lambdas`` and ``after_step`` (λ and learning rate of the step);
  ``run_epoch`` less all of these is the rest of the loop. Each wrapper
  adds a timer call (well under a microsecond) to its part.
* The floor: the matrix products of the same steps alone (``addmm`` per
  layer forward, ``mm`` for each weight gradient and each back-propagated
  error; ``_harness.matrix_products``), the fastest of 3 epochs of them
  after each fit, in the same process.
* ``--repeats`` fits (5) of ``--epochs`` epochs (20, 3 and 1 by size) after
  one untimed fit; the median over fits of the microseconds per step.
"""

import argparse
import contextlib
import time
import warnings
from contextlib import contextmanager

import torch
from _harness import Results, Timer, matrix_products, threads
from sklearn.datasets import make_regression
from sklearn.exceptions import ConvergenceWarning

import sk_sparse_l1._trainer as trainer_module
from sk_sparse_l1 import SparseL1Regressor
from sk_sparse_l1._network import Network
from sk_sparse_l1._optimizers import ProximalAdam
from sk_sparse_l1._schedules import FixedAlpha

SIZES = [(1_000, 10, (32,), 20), (10_000, 20, (64, 64), 3)]
SIZES += [(20_000, 100, (256, 256), 1)]
BATCH, LR = 128, 1e-3
PARTS = {  # part: (owner, method names)
    "forward and backward": (Network, ["loss_and_gradients"]),
    "Adam's update": (ProximalAdam, ["step"]),
    "proximal map": (ProximalAdam, ["prox_"]),
    "λ and learning rate": (FixedAlpha, ["step_lr_scale", "step_lambdas"]),
}
PARTS["λ and learning rate"][1].append("after_step")


@contextmanager
def timed(owner, name, totals, key):
    """Add the time of every call of ``owner.name`` made during an epoch
    (while ``totals["epoch"]`` runs: not the full-batch gradient a fit takes
    before it starts) to ``totals[key]``."""
    original = getattr(owner, name)

    def wrapper(*args, **kwargs):
        if not totals["in epoch"] and key != "epoch":
            return original(*args, **kwargs)
        totals["in epoch"] = True
        start = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            totals[key] += time.perf_counter() - start
            if key == "epoch":
                totals["in epoch"] = False

    setattr(owner, name, wrapper)
    try:
        yield
    finally:
        setattr(owner, name, original)


def profiled_fit(X, y, hidden, epochs, seed):
    """Seconds spent in each part over one fit, and the number of steps."""
    totals = dict.fromkeys([*PARTS, "minibatch", "epoch"], 0.0)
    totals["in epoch"] = False
    patches = [(o, n, part) for part, (o, names) in PARTS.items() for n in names]
    patches += [(trainer_module, "batch_loss_and_gradients", "minibatch")]
    patches += [(trainer_module, "run_epoch", "epoch")]
    est = SparseL1Regressor(
        hidden, alpha=1e-4, batch_size=BATCH, learning_rate_init=LR,
        max_iter=epochs, tol=0, n_iter_no_change=epochs, refit=False,
        random_state=seed, n_threads=None,
    )  # fmt: skip
    with contextlib.ExitStack() as stack:
        for owner, name, part in patches:
            stack.enter_context(timed(owner, name, totals, part))
        est.fit(X, y)
    # The gathering of rows is what the minibatch call spends outside the
    # forward and backward pass, the rest of the loop what an epoch spends
    # outside every part.
    del totals["in epoch"]
    totals["minibatch"] -= totals["forward and backward"]
    totals["rest of the loop"] = totals.pop("epoch") - sum(totals.values())
    return totals, est.n_iter_ * -(-X.shape[0] // BATCH)


def floor_seconds(X, hidden, dtype, repeats=3):
    """Seconds per step of the step's matrix products alone: the fastest of
    ``repeats`` epochs of them."""
    epoch = matrix_products(X, [X.shape[1], *hidden, 1], BATCH, getattr(torch, dtype))
    epoch()
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        epoch()
        seconds.append(time.perf_counter() - start)
    return min(seconds) / -(-X.shape[0] // BATCH)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="smallest size only")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, nargs="+", default=[1])
    args = parser.parse_args()
    sizes = SIZES[:1] if args.quick else SIZES
    warnings.simplefilter("ignore", ConvergenceWarning)  # the budget is fixed

    with Results("profile" + "_quick" * args.quick) as results:
        for n_threads in args.threads:
            for n, d, hidden, epochs in sizes:
                X, y = make_regression(n, d, noise=10, random_state=0)
                y = y / y.std()
                for dtype in ("float64", "float32"):
                    Xd, yd = X.astype(dtype), y.astype(dtype)
                    with threads(n_threads):
                        profiled_fit(Xd, yd, hidden, 1, 0)  # warm-up
                        for rep in range(args.repeats):
                            with Timer() as timer:
                                totals, n_steps = profiled_fit(
                                    Xd, yd, hidden, epochs, rep
                                )
                                floor = floor_seconds(Xd, hidden, dtype)
                            totals["floor: the matrix products alone"] = floor * n_steps
                            for part, seconds in totals.items():
                                results.add(
                                    n_samples=n, n_features=d,
                                    hidden="-".join(map(str, hidden)),
                                    dtype=dtype, threads=n_threads, seed=rep,
                                    part=part, steps=n_steps,
                                    us_per_step=round(1e6 * seconds / n_steps, 2),
                                    **timer.record(),
                                )  # fmt: skip
                    print(n_threads, "thr", n, d, hidden, dtype, "done")


if __name__ == "__main__":
    main()
