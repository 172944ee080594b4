"""How fast is one training epoch of sk_sparse_l1 against scikit-learn's MLP
and skorch, with the same network, batch size, epochs and threads?

Setup
-----
* Data: ``make_regression(n, d, noise=10, random_state=0)``, target divided
  by its standard deviation, for three sizes: 1,000 × 10 with hidden layers
  (32,); 10,000 × 20 with (64, 64); 20,000 × 100 with (256, 256). ReLU.
* Every contestant: Adam, learning rate 1e-3, batch 128, shuffled, ``E``
  epochs (``--epochs``, 20) with early stopping disabled, so that all train
  the same number of epochs; the epochs each actually ran are recorded.

  - ``ours``: ``SparseL1Regressor(alpha=1e-4, tol=0, n_iter_no_change=E,
    refit=False, n_threads=None)`` (a fixed λ: no search, no refit), on
    float64 and on float32 input (it computes in the input's dtype);
  - ``sklearn``: ``MLPRegressor(alpha=1e-4, tol=0, n_iter_no_change=E)``
    (its ℓ2 penalty), float64 and float32 input (it computes in the input's
    dtype); ``n_iter_`` must equal ``E``;
  - ``skorch``: ``NeuralNetRegressor`` of the network ours builds
    (``build_mlp``), ``train_split=None``, no penalty, float32 (its usual
    dtype), default callbacks.
* Threads: 1, then every core (``--threads``); the harness sets torch's
  intra-op pool and numpy's BLAS/OpenMP pools to the same number for every
  contestant (ours runs with ``n_threads=None`` so that it follows).
* ``--seeds`` repetitions (5); the seed sets initialization and data order.
  Every contestant runs once per repetition, in the same process, in an
  order rotated by one per repetition, after one untimed 1-epoch warm-up
  fit per contestant and size.
* Recorded per fit: wall time of ``fit`` (validation and setup included),
  epochs run, seconds per epoch, and the CPU time of other processes.
"""

import argparse
import warnings

import torch
from _harness import Results, Timer, n_cores, threads
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


def fit(contestant, X, y, hidden, epochs, seed):
    """Fit one contestant; return the number of epochs it ran."""
    name, dtype = contestant
    X, y = X.astype(dtype), y.astype(dtype)
    if name == "ours":
        est = SparseL1Regressor(
            hidden, alpha=1e-4, batch_size=BATCH, learning_rate_init=LR,
            max_iter=epochs, tol=0, n_iter_no_change=epochs, refit=False,
            random_state=seed, n_threads=None,
        )  # fmt: skip
        return est.fit(X, y).n_iter_
    if name == "sklearn":
        est = MLPRegressor(
            hidden_layer_sizes=hidden, alpha=1e-4, batch_size=BATCH,
            learning_rate_init=LR, max_iter=epochs, tol=0,
            n_iter_no_change=epochs, random_state=seed,
        )  # fmt: skip
        return est.fit(X, y).n_iter_
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


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="smallest size only")
    parser.add_argument("--seeds", type=int, default=5, help="repetitions")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, n_cores()])
    args = parser.parse_args()
    sizes, epochs = (SIZES[:1], 3) if args.quick else (SIZES, args.epochs)
    contestants = [("ours", "float64"), ("ours", "float32")]
    contestants += [("sklearn", "float64"), ("sklearn", "float32")]
    if NeuralNetRegressor is not None:
        contestants.append(("skorch", "float32"))
    warnings.simplefilter("ignore", ConvergenceWarning)  # the budget is fixed

    with Results("speed" + "_quick" * args.quick) as results:
        for n_threads in sorted(set(args.threads)):
            for n, d, hidden in sizes:
                X, y = make_regression(n, d, noise=10, random_state=0)
                y = y / y.std()
                with threads(n_threads):
                    for contestant in contestants:
                        fit(contestant, X, y, hidden, 1, 0)
                    for rep in range(args.seeds):
                        shift = rep % len(contestants)
                        for contestant in contestants[shift:] + contestants[:shift]:
                            with Timer() as timer:
                                ran = fit(contestant, X, y, hidden, epochs, rep)
                            results.add(
                                contestant=contestant[0], dtype=contestant[1],
                                n_samples=n, n_features=d,
                                hidden="-".join(map(str, hidden)),
                                threads=n_threads, seed=rep, budget=epochs,
                                epochs=ran, **timer.record(),
                                seconds_per_epoch=timer.seconds / ran,
                            )  # fmt: skip
                            print(n_threads, "thr", n, d, *contestant, ran, "epochs",
                                  f"{timer.seconds / ran:.4f} s/epoch")  # fmt: skip


if __name__ == "__main__":
    main()
