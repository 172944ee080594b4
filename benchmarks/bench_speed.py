"""How fast is training with sk_sparse_l1 against scikit-learn's MLP and
skorch, with the same network, batch size, epochs and threads, and how close
to the floor of its matrix products?

Setup
-----
* Data: ``make_regression(n, d, noise=10, random_state=0)``, target divided
  by its standard deviation, for three sizes: 1,000 × 10 with hidden layers
  (32,); 10,000 × 20 with (64, 64); 20,000 × 100 with (256, 256). ReLU.
* Every contestant: Adam, learning rate 1e-3, batch 128, shuffled, ``E``
  epochs (``--epochs``, 10) with early stopping disabled, so that all train
  the same number of epochs; the epochs each actually ran are recorded.

  - ``ours``: ``SparseL1Regressor(alpha=1e-4, tol=0, n_iter_no_change=E,
    refit=False, n_threads=None)`` (a fixed λ: no search, no refit), on
    float64 and on float32 input (it computes in the input's dtype);
  - ``sklearn``: ``MLPRegressor(alpha=1e-4, tol=0, n_iter_no_change=E)``
    (its ℓ2 penalty), float64 and float32 input (it computes in the input's
    dtype);
  - ``skorch``: ``NeuralNetRegressor`` of the network ours builds
    (``build_mlp``), ``train_split=None``, no penalty, float32 (its usual
    dtype), default callbacks;
  - ``floor``: the matrix products of the same epochs alone
    (``_harness.matrix_products``), float64 and float32;
  - ``ours-auto`` (with more than one thread): ours at ``n_threads="auto"``,
    which chooses its own count, against ours at one thread.
* The cost of a fit besides its epochs: ``ours`` and ``sklearn`` in float64,
  fitted for one epoch (``max_iter=1``) and by one ``partial_fit`` call on
  the whole data set (one epoch), wall time of the call.
* Threads: 1, then every core (``--threads``); the harness sets torch's
  intra-op pool and numpy's BLAS/OpenMP pools to the same number for every
  contestant (ours runs with ``n_threads=None`` so that it follows).
* ``--seeds`` repetitions (3); the seed sets initialization and data order.
  Every contestant runs once per repetition, in the same process, in an
  order rotated by one per repetition, after one untimed 1-epoch warm-up
  fit per contestant and size.
* Recorded per fit: wall time (validation and setup included), epochs run,
  seconds per epoch, the CPU time of other processes and the 1-minute load
  average. The report takes medians over repetitions.
"""

import argparse
import warnings

import torch
from _harness import Results, Timer, matrix_products, n_cores, threads
from sklearn.datasets import make_regression
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPRegressor

from sk_sparse_l1 import SparseL1Regressor
from sk_sparse_l1._network import build_mlp

try:
    from skorch import NeuralNetRegressor
except ImportError:  # skorch is optional: its rows are left out
    NeuralNetRegressor = None

SIZES = [(1_000, 10, (32,)), (10_000, 20, (64, 64)), (20_000, 100, (256, 256))]
BATCH, LR = 128, 1e-3


def fit(contestant, X, y, hidden, epochs, seed, mode="epochs"):
    """Fit one contestant; return the number of epochs it ran.

    ``mode``: ``"epochs"``, a fit of ``epochs`` epochs; ``"partial_fit"``,
    one ``partial_fit`` call (one epoch) of a new estimator."""
    name, dtype = contestant
    X, y = X.astype(dtype), y.astype(dtype)
    if name in ("ours", "ours-auto"):
        est = SparseL1Regressor(
            hidden, alpha=1e-4, batch_size=BATCH, learning_rate_init=LR,
            max_iter=epochs, tol=0, n_iter_no_change=epochs, refit=False,
            random_state=seed, n_threads="auto" if name == "ours-auto" else None,
        )  # fmt: skip
        if mode == "partial_fit":
            return est.partial_fit(X, y).n_iter_
        return est.fit(X, y).n_iter_
    if name == "sklearn":
        est = MLPRegressor(
            hidden_layer_sizes=hidden, alpha=1e-4, batch_size=BATCH,
            learning_rate_init=LR, max_iter=epochs, tol=0,
            n_iter_no_change=epochs, random_state=seed,
        )  # fmt: skip
        if mode == "partial_fit":
            est.partial_fit(X, y)
            return 1
        return est.fit(X, y).n_iter_
    if name == "floor":
        epoch = matrix_products(
            X, [X.shape[1], *hidden, 1], BATCH, getattr(torch, dtype)
        )
        for _ in range(epochs):
            epoch()
        return epochs
    # skorch seeds torch's global generator: acceptable in a benchmark.
    torch.manual_seed(seed)
    module = build_mlp(
        [X.shape[1], *hidden, 1], "relu", dtype=torch.float32,
        generator=torch.Generator().manual_seed(seed),
    )  # fmt: skip
    net = NeuralNetRegressor(
        module, optimizer=torch.optim.Adam, lr=LR,
        batch_size=BATCH, max_epochs=epochs, train_split=None,
        iterator_train__shuffle=True, verbose=0,
    )  # fmt: skip
    return len(net.fit(X, y.reshape(-1, 1)).history)


def runs(n_threads, epochs):
    """(contestant, mode, budget) of one repetition at ``n_threads``."""
    contestants = [("ours", "float64"), ("ours", "float32")]
    contestants += [("sklearn", "float64"), ("sklearn", "float32")]
    if NeuralNetRegressor is not None:
        contestants.append(("skorch", "float32"))
    contestants += [("floor", "float64"), ("floor", "float32")]
    if n_threads > 1:
        contestants.append(("ours-auto", "float64"))
    out = [(c, "epochs", epochs) for c in contestants]
    for c in [("ours", "float64"), ("sklearn", "float64")]:
        out += [(c, "fit", 1), (c, "partial_fit", 1)]
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="smallest size only")
    parser.add_argument("--seeds", type=int, default=3, help="repetitions")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, n_cores()])
    args = parser.parse_args()
    sizes, epochs = (SIZES[:1], 3) if args.quick else (SIZES, args.epochs)
    warnings.simplefilter("ignore", ConvergenceWarning)  # the budget is fixed

    with Results("speed" + "_quick" * args.quick) as results:
        for n_threads in sorted(set(args.threads)):
            todo = runs(n_threads, epochs)
            for n, d, hidden in sizes:
                X, y = make_regression(n, d, noise=10, random_state=0)
                y = y / y.std()
                with threads(n_threads):
                    for contestant, mode, _ in todo:
                        fit(contestant, X, y, hidden, 1, 0, mode)
                    for rep in range(args.seeds):
                        shift = rep % len(todo)
                        for contestant, mode, budget in todo[shift:] + todo[:shift]:
                            with Timer() as timer:
                                ran = fit(contestant, X, y, hidden, budget, rep, mode)
                            results.add(
                                contestant=contestant[0], dtype=contestant[1],
                                mode=mode, n_samples=n, n_features=d,
                                hidden="-".join(map(str, hidden)),
                                threads=n_threads, seed=rep, budget=budget,
                                epochs=ran, **timer.record(),
                                seconds_per_epoch=timer.seconds / ran,
                            )  # fmt: skip
                            print(n_threads, "thr", n, d, *contestant, mode, ran,
                                  f"{timer.seconds / ran:.4f} s/epoch")  # fmt: skip


if __name__ == "__main__":
    main()
