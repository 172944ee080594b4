"""Does ``partial_fit`` train on a stream larger than memory with flat memory,
and at least as fast as scikit-learn's ``MLPClassifier.partial_fit``?

Setup
-----
* Data: chunks of 10,000 rows × 100 float32 features from N(0, I), seeded
  per chunk, labelled 0-4 by the argmax of a fixed random teacher network
  100 → 32 (tanh) → 5; each generated, trained on once and discarded, so the
  2 M rows (0.8 GB) of the full run never exist at once. The held-out chunk
  has a seed of its own.
* Memory cap: each run is a fresh process whose private writable memory
  (heap and anonymous mappings: numpy's and torch's arrays) is capped at the
  size of the full data set by ``setrlimit(RLIMIT_DATA)``; a run first checks
  that a dense array of the full data set raises ``MemoryError`` under the
  cap. ``RLIMIT_AS`` would not do: it counts every mapping, shared libraries
  included, and under that cap scikit-learn fails to import.
* Contestants: hidden layer (64,), ReLU, Adam at 1e-3, batch 200, one thread
  for torch and the BLAS/OpenMP pools, one ``partial_fit`` call per chunk,
  one pass. ``ours-target``: ``SparseL1Classifier(target_sparsity=0.9,
  max_iter=<number of chunks>)``, its schedule spanning the stream;
  ``ours-alpha``: ``alpha=3e-3, max_iter=<number of chunks>``;
  ``sklearn``: ``MLPClassifier`` (its default
  ℓ2 ``alpha=1e-4``).
* 0.5 M, 1 M, 2 M rows (``--quick``: 50k, 100k, 200k); ``--repeats`` (3; 1
  with ``--quick``), the order of contestants rotated per repetition; each
  run in its own process, so that its peak RSS (``ru_maxrss``) is its own.
* Recorded: rows per second of the ``partial_fit`` calls after the first (an
  untimed warm-up: it imports and initializes); wall, CPU and other load
  over the stream (generation included); RSS after the warm-up and at peak;
  held-out accuracy; fraction of zero weights. Goals: peak RSS within 10%
  from 0.5 M to 2 M rows; throughput at least that of ``MLPClassifier``.
"""

import argparse
import contextlib
import json
import resource
import subprocess
import sys
import time

import numpy as np
from _harness import Results, Timer, threads
from sklearn.neural_network import MLPClassifier

from sk_sparse_l1 import SparseL1Classifier

N_FEATURES, N_CLASSES, CHUNK_ROWS, FULL_ROWS = 100, 5, 10_000, 2_000_000
CAP_BYTES = FULL_ROWS * N_FEATURES * 4
CONTESTANTS = ("ours-target", "ours-alpha", "sklearn")


def teacher():
    rng = np.random.default_rng(0)
    W1 = rng.standard_normal((N_FEATURES, 32), dtype=np.float32) / N_FEATURES**0.5
    W2 = rng.standard_normal((32, N_CLASSES), dtype=np.float32) / 32**0.5
    return lambda X: np.argmax(np.tanh(X @ W1) @ W2, axis=1)


def chunk(label, i, stream=1):
    """Chunk ``i`` of the training stream (1) or of the held-out one (2)."""
    rng = np.random.default_rng((stream, i))
    X = rng.standard_normal((CHUNK_ROWS, N_FEATURES), dtype=np.float32)
    return X, label(X)


def make(name, n_chunks):
    common = dict(hidden_layer_sizes=(64,), batch_size=200, random_state=0)
    if name == "sklearn":
        return MLPClassifier(**common)
    if name == "ours-alpha":
        # λ's warm-up spans max_iter calls, as at a target.
        return SparseL1Classifier(alpha=3e-3, max_iter=n_chunks, **common)
    return SparseL1Classifier(target_sparsity=0.9, max_iter=n_chunks, **common)


def child(name, rows):
    """One run under the cap; prints its measurements as JSON."""
    resource.setrlimit(resource.RLIMIT_DATA, (CAP_BYTES, CAP_BYTES))
    with contextlib.suppress(MemoryError):
        np.empty((FULL_ROWS, N_FEATURES), dtype=np.float32)
        sys.exit("a dense copy of the data set fits under the cap")
    label, n_chunks = teacher(), rows // CHUNK_ROWS
    estimator, fit_seconds = make(name, n_chunks), 0.0
    with threads(1):
        estimator.partial_fit(*chunk(label, 0), classes=np.arange(N_CLASSES))
        status = open("/proc/self/status").read()
        rss_after_warmup = int(status.split("VmRSS:")[1].split()[0]) / 1024
        with Timer() as timer:
            for i in range(1, n_chunks):
                X, y = chunk(label, i)
                started = time.perf_counter()
                estimator.partial_fit(X, y)
                fit_seconds += time.perf_counter() - started
        accuracy = estimator.score(*chunk(label, 0, stream=2))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    nonzero = sum(np.count_nonzero(W) for W in estimator.coefs_)
    row = dict(
        rows_per_s=round((n_chunks - 1) * CHUNK_ROWS / fit_seconds),
        fit_seconds=round(fit_seconds, 3),
        rss_after_warmup_mb=round(rss_after_warmup, 1),
        peak_rss_mb=round(peak, 1),
        accuracy=round(accuracy, 4),
        sparsity=round(1 - nonzero / sum(W.size for W in estimator.coefs_), 4),
        dense_copy_fails=True,
    )
    print(json.dumps({**row, **timer.record()}))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, < 1 min")
    parser.add_argument("--repeats", type=int)
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args.child[0], int(args.child[1]))
    sizes = [50_000, 100_000, 200_000] if args.quick else [500_000, 10**6, 2 * 10**6]
    repeats = args.repeats or (1 if args.quick else 3)
    with Results("streaming_quick" if args.quick else "streaming") as results:
        for repeat in range(repeats):
            shift = repeat % len(CONTESTANTS)
            for name in CONTESTANTS[shift:] + CONTESTANTS[:shift]:
                for n in sizes:
                    command = [sys.executable, __file__, "--child", name, str(n)]
                    run = subprocess.run(command, capture_output=True, text=True)
                    if run.returncode:
                        sys.exit(f"{name} at {n} rows failed:\n{run.stderr}")
                    row = json.loads(run.stdout.splitlines()[-1])
                    results.add(contestant=name, rows=n, repeat=repeat, **row)
                    print(f"{name} {n} rows: {row['rows_per_s']} rows/s, peak RSS "
                          f"{row['peak_rss_mb']} MB")  # fmt: skip


if __name__ == "__main__":
    main()
