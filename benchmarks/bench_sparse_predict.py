"""How much faster is ``sparse_forward`` on the CSR export of a sparse network
than the dense torch forward pass, and is ``prefer_sparse`` right about when?

Setup
-----
* Networks 100 → w → w → 1 (ReLU, float64) drawn by ``build_mlp`` (seed 0),
  each weight matrix then pruned by magnitude to exactly the given density
  (fraction of nonzero weights): a random pattern, since the initial weights
  are uniform (one global threshold would empty the w × w layer first, its
  Glorot bound being the smallest). Not trained: the cost of a prediction
  does not depend on how the zeros were found. Standard-normal inputs.
* ``dense``: the estimators' dense path (``torch.as_tensor``, ``forward``
  under ``no_grad``, ``.numpy()``); ``sparse``: ``sparse_forward`` on
  ``to_csr(coefs)``, exported once as a fitted ``sparse_coefs_`` is.
* Threads: 1, then every core (``--threads``), set by the harness for torch
  (whose pool ``sparse_forward`` also uses) and numpy alike. Both paths first
  run on 2,000 rows (a warm-up); their largest difference, over the largest
  output, is recorded.
* A measurement times ``calls`` predictions in a row, as many as make 5·10⁸
  dense multiply-adds (rows × weights; 1 to 100), the same for both paths;
  ``--repeats`` (3) per path, the order of the paths alternating.
* Main run: w = 2048 (4.4 M weights), 100,000 rows, sparsity 0.9, 0.95, 0.99,
  with the ``stored_bytes`` of each path's weight matrices (biases left out).
* ``--calibrate``: the sweep that ``prefer_sparse`` (``MAX_DENSITY``,
  ``MIN_DENSE_WORK``) is calibrated on: w in 64, 256, 1024, 2048; 100 to
  100,000 rows (× 10); densities 0.2, 0.1, 0.06, 0.03, 0.01. Each row records
  the path the rule chose.
* ``--quick``: 3,000 rows; with ``--calibrate``, w in 64, 1024, 100 and
  10,000 rows, densities 0.2 and 0.01; 2 repeats.
"""

import argparse
import functools
from itertools import product

import numpy as np
import torch
from _harness import Results, Timer, n_cores, threads

from sk_sparse_l1._network import build_mlp, forward, linear_layers
from sk_sparse_l1.sparse import prefer_sparse, sparse_forward, stored_bytes, to_csr

GRIDS = {  # (calibrate, quick): widths, rows, densities
    (False, False): ((2048,), (100_000,), (0.1, 0.05, 0.01)),
    (False, True): ((2048,), (3_000,), (0.1, 0.05, 0.01)),
    (True, False): ((64, 256, 1024, 2048), (100, 1_000, 10_000, 100_000),
                    (0.2, 0.1, 0.06, 0.03, 0.01)),
    (True, True): ((64, 1024), (100, 10_000), (0.2, 0.01)),
}  # fmt: skip
N_FEATURES, WORK, MAX_CALLS, CHECK_ROWS = 100, 5e8, 100, 2_000


def pruned_network(width, density):
    """The torch module and its ``coefs`` (fan_in, fan_out) and
    ``intercepts``, each weight matrix pruned by magnitude to ``density``."""
    generator = torch.Generator().manual_seed(0)
    sizes = [N_FEATURES, width, width, 1]
    module = build_mlp(sizes, "relu", dtype=torch.float64, generator=generator)
    linears = linear_layers(module)
    with torch.no_grad():
        for linear in linears:
            w = linear.weight.view(-1)
            w[torch.argsort(w.abs())[: round((1 - density) * w.numel())]] = 0.0
    coefs = [lin.weight.detach().numpy().T.copy() for lin in linears]
    return module, coefs, [lin.bias.detach().numpy().copy() for lin in linears]


def dense_predict(module, X):
    """The dense prediction: torch tensor in, forward pass, numpy out."""
    with torch.no_grad():
        return forward(linear_layers(module), "relu", torch.as_tensor(X)).numpy()


def measure(results, grid, thread_counts, repeats):
    """Time both paths on every cell of the grid at every thread count."""
    widths, row_counts, densities = grid
    X_all = np.random.default_rng(0).standard_normal((max(row_counts), N_FEATURES))
    for width, density in product(widths, densities):
        module, coefs, intercepts = pruned_network(width, density)
        csr = to_csr(coefs)
        paths = {
            "dense": functools.partial(dense_predict, module),
            "sparse": functools.partial(sparse_forward, csr, intercepts, "relu"),
        }
        n_weights = sum(W.size for W in coefs)
        size = {"dense": stored_bytes(coefs), "sparse": stored_bytes(csr)}
        for n_rows, n_threads in product(row_counts, thread_counts):
            X = X_all[:n_rows]
            calls = int(np.clip(WORK // (n_rows * n_weights), 1, MAX_CALLS))
            cell = dict(
                width=width, density=density, n_rows=n_rows, threads=n_threads,
                nonzero=sum(W.nnz for W in csr), weights=n_weights, calls=calls,
                rule="sparse" if prefer_sparse(csr, n_rows) else "dense",
            )  # fmt: skip
            best = {}
            with threads(n_threads):
                dense = paths["dense"](X[:CHECK_ROWS])  # warm-up and check
                error = np.abs(paths["sparse"](X[:CHECK_ROWS]) - dense).max()
                error /= np.abs(dense).max()
                for repeat in range(repeats):
                    for path in sorted(paths, reverse=bool(repeat % 2)):
                        with Timer() as timer:
                            for _ in range(calls):
                                paths[path](X)
                        results.add(
                            **cell, path=path, repeat=repeat,
                            stored_bytes=size[path], max_rel_error=error,
                            **timer.record(), seconds_per_call=timer.seconds / calls,
                        )  # fmt: skip
                        best[path] = min(best.get(path, np.inf), timer.seconds / calls)
            print(f"w {width} density {density} {n_rows} rows {n_threads} thr: dense "
                  f"{best['dense']:.4f} s, sparse {best['sparse']:.4f} s, rule: "
                  f"{cell['rule']}")  # fmt: skip


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small grid, < 1 min")
    parser.add_argument("--calibrate", action="store_true", help="the rule's sweep")
    parser.add_argument("--repeats", type=int, help="3; 2 with --quick")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, n_cores()])
    args = parser.parse_args()
    repeats = args.repeats or (2 if args.quick else 3)
    name = "sparse_predict" + "_calibrate" * args.calibrate + "_quick" * args.quick
    with Results(name) as results:
        grid = GRIDS[args.calibrate, args.quick]
        measure(results, grid, sorted(set(args.threads)), repeats)


if __name__ == "__main__":
    main()
