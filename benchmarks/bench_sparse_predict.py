"""Prediction time and stored size: sparse CSR path vs the dense torch forward.

Main benchmark: a wide MLP 100 → 2048 → 2048 → 1 (ReLU, float64), weights
drawn like ``build_mlp`` draws them (Glorot uniform, fixed seed), then pruned
by magnitude *within each layer* to exactly the wanted sparsity (with
uniform initial weights this is a random pattern; a global magnitude
threshold would empty the 2048 × 2048 layer first, because its Glorot bound
is the smallest). No training: prediction cost does not depend on how the
zeros were found. 100,000 rows of standard-normal inputs.

* ``dense``  — what ``BaseSparseL1._raw_predict`` does today: ``torch.as_tensor``,
  ``sk_sparse_l1._network.forward`` under ``no_grad``, ``.numpy()``;
* ``sparse`` — ``sk_sparse_l1._sparse.sparse_forward`` on ``to_csr(coefs)``
  (the CSR export is done once, as a fitted ``sparse_coefs_`` would be):
  torch sparse CSR products on blocks of rows, transposed layout;
* ``scipy``  — the same blocked, transposed, threaded pass with scipy's CSR
  product instead of torch's (the alternative kernel, for the record).

All use torch's thread count (``torch.get_num_threads()``) — the sparse
paths as that many Python threads over blocks of rows. They run in turn,
``--repeats`` times each (the order rotates), after one untimed warm-up; the
table gives the median and the best wall-clock time, since other processes'
load only ever adds time. Stored size is ``nbytes`` of the dense float64 weight
matrices against ``data + indices + indptr`` of their CSR arrays (biases are
the same in both and left out).

``--calibrate`` times both paths over a grid of widths, row counts and
densities, the measurements behind ``prefer_sparse``, and reports how often
that rule picks the faster path.

Usage::

    python benchmarks/bench_sparse_predict.py            # print the tables
    python benchmarks/bench_sparse_predict.py --write    # and update the doc
    python benchmarks/bench_sparse_predict.py --calibrate --write
    python benchmarks/bench_sparse_predict.py --quick    # 20,000 rows, 2 repeats
"""

import argparse
import functools
import os
import platform
import re
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import scipy
import scipy.sparse as sp
import torch

from sk_sparse_l1._network import build_mlp, forward, linear_layers
from sk_sparse_l1._sparse import (
    MAX_DENSITY,
    MIN_DENSE_WORK,
    prefer_sparse,
    sparse_forward,
    stored_bytes,
    to_csr,
)

DOC = Path(__file__).resolve().parent.parent / "docs" / "sparse_prediction.md"
SPARSITIES = (0.9, 0.95, 0.99)
LAYERS = (100, 2048, 2048, 1)

CALIBRATION_WIDTHS = (64, 256, 1024, 2048)
CALIBRATION_ROWS = (100, 1000, 10000, 100000)
CALIBRATION_DENSITIES = (0.2, 0.1, 0.06, 0.03, 0.01)


def pruned_network(layer_sizes, sparsity, seed=0):
    """coefs (fan_in, fan_out), intercepts and the torch module, with each
    weight matrix pruned by magnitude to ``sparsity``."""
    generator = torch.Generator().manual_seed(seed)
    module = build_mlp(
        list(layer_sizes), "relu", dtype=torch.float64, generator=generator
    )
    with torch.no_grad():
        for linear in linear_layers(module):
            w = linear.weight
            n_zero = int(round(sparsity * w.numel()))
            if n_zero:
                order = torch.argsort(w.abs().ravel())
                w.view(-1)[order[:n_zero]] = 0.0
    linears = linear_layers(module)
    coefs = [lin.weight.detach().numpy().T.copy() for lin in linears]
    intercepts = [lin.bias.detach().numpy().copy() for lin in linears]
    return coefs, intercepts, module


def dense_predict(module, X):
    """The dense branch of ``BaseSparseL1._raw_predict``."""
    with torch.no_grad():
        raw = forward(linear_layers(module), "relu", torch.as_tensor(X))
    return raw.numpy().astype(np.float64)


def scipy_forward(csr_coefs, intercepts, X, block_rows=64):
    """``sparse_forward`` with scipy's CSR × dense product (ReLU only).

    Same layout, blocks and threads; 64-row blocks (1 MiB of 2048-wide
    activations) were scipy's best in a sweep of 16-256.
    """
    operators = [sp.csr_array(W.T) for W in csr_coefs]
    biases = [np.asarray(b).reshape(-1, 1) for b in intercepts]
    out = np.empty((X.shape[0], operators[-1].shape[0]))

    def run(start):
        h = np.ascontiguousarray(X[start : start + block_rows].T)
        for j, (operator, bias) in enumerate(zip(operators, biases)):
            h = operator @ h
            h += bias
            if j < len(operators) - 1:
                np.maximum(h, 0.0, out=h)
        out[start : start + block_rows] = h.T

    with ThreadPoolExecutor(max_workers=torch.get_num_threads()) as pool:
        list(pool.map(run, range(0, X.shape[0], block_rows)))
    return out


def timed(function):
    start = time.perf_counter()
    result = function()
    return time.perf_counter() - start, result


def load_average():
    try:
        return os.getloadavg()[0]
    except OSError:  # pragma: no cover - not on Linux
        return float("nan")


# ------------------------------------------------------------------ main


def run_main(n_rows, repeats):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((n_rows, LAYERS[0]))
    rows = []
    loads = [load_average()]
    for sparsity in SPARSITIES:
        coefs, intercepts, module = pruned_network(LAYERS, sparsity)
        csr = to_csr(coefs)
        paths = {
            "dense": functools.partial(dense_predict, module, X),
            "sparse": functools.partial(sparse_forward, csr, intercepts, "relu", X),
            "scipy": functools.partial(scipy_forward, csr, intercepts, X),
        }
        # Warm-up, and the check that the paths compute the same function.
        reference = dense_predict(module, X[:2000])
        scale = np.abs(reference).max()
        rel_error = float(
            np.max(
                np.abs(sparse_forward(csr, intercepts, "relu", X[:2000]) - reference)
            )
            / scale
        )
        scipy_forward(csr, intercepts, X[:2000])
        times = {name: [] for name in paths}
        names = list(paths)
        for r in range(repeats):
            for name in names[r % 3 :] + names[: r % 3]:
                seconds, _ = timed(paths[name])
                times[name].append(seconds)
            loads.append(load_average())
        dense_bytes = stored_bytes(coefs)
        sparse_bytes = stored_bytes(csr)
        row = dict(
            sparsity=sparsity,
            achieved=1.0 - sum(W.nnz for W in csr) / sum(W.size for W in coefs),
            **{f"{name}_median": statistics.median(t) for name, t in times.items()},
            **{f"{name}_best": min(t) for name, t in times.items()},
            dense_bytes=dense_bytes,
            sparse_bytes=sparse_bytes,
            rel_error=rel_error,
            chosen="sparse" if prefer_sparse(csr, n_rows) else "dense",
        )
        rows.append(row)
        print(
            f"sparsity {sparsity}: dense {row['dense_median']:.2f} s, sparse "
            f"{row['sparse_median']:.2f} s (speed-up "
            f"{row['dense_median'] / row['sparse_median']:.2f}×), memory ratio "
            f"{dense_bytes / sparse_bytes:.1f}×, max error {rel_error:.1e}",
            flush=True,
        )
    return rows, loads


def main_table(rows, loads, n_rows, repeats):
    lines = [
        f"Network {' → '.join(map(str, LAYERS))} (ReLU, float64, "
        f"{sum(a * b for a, b in zip(LAYERS[:-1], LAYERS[1:])):,} weights), "
        f"{n_rows:,} rows, {repeats} timed runs of each path (median, best in "
        f"parentheses), torch threads: {torch.get_num_threads()}, "
        f"{os.cpu_count()} CPUs, load average {min(loads):.1f}–{max(loads):.1f} "
        "during the runs (other processes shared the machine).",
        "",
        "| sparsity | dense forward (s) | `sparse_forward` (s) | speed-up | "
        "scipy CSR variant (s) | dense weights (MB) | CSR weights (MB) | "
        "memory ratio | max abs. difference / max abs. output | "
        "`prefer_sparse` |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|:---|",
    ]
    for row in rows:
        lines.append(
            f"| {row['achieved']:.4f} "
            f"| {row['dense_median']:.2f} ({row['dense_best']:.2f}) "
            f"| {row['sparse_median']:.2f} ({row['sparse_best']:.2f}) "
            f"| {row['dense_median'] / row['sparse_median']:.2f}× "
            f"| {row['scipy_median']:.2f} ({row['scipy_best']:.2f}) "
            f"| {row['dense_bytes'] / 1e6:.2f} "
            f"| {row['sparse_bytes'] / 1e6:.2f} "
            f"| {row['dense_bytes'] / row['sparse_bytes']:.1f}× "
            f"| {row['rel_error']:.1e} "
            f"| {row['chosen']} |"
        )
    lines += [
        "",
        f"Versions: Python {platform.python_version()}, torch {torch.__version__}, "
        f"numpy {np.__version__}, scipy {scipy.__version__}; "
        f"{platform.processor() or platform.machine()}.",
    ]
    return "\n".join(lines)


# ------------------------------------------------------------ calibration


def run_calibration(repeats):
    rng = np.random.default_rng(1)
    results = []
    for width in CALIBRATION_WIDTHS:
        layers = (100, width, width, 1)
        n_weights = sum(a * b for a, b in zip(layers[:-1], layers[1:]))
        for density in CALIBRATION_DENSITIES:
            coefs, intercepts, module = pruned_network(layers, 1.0 - density)
            csr = to_csr(coefs)
            for n_rows in CALIBRATION_ROWS:
                X = rng.standard_normal((n_rows, layers[0]))
                dense_predict(module, X)
                sparse_forward(csr, intercepts, "relu", X)
                # Small cases are fast: repeat them until each path has run
                # for about 0.2 s, and keep the best of the repeats.
                dense_times, sparse_times = [], []
                spent = 0.0
                count = 0
                dense = functools.partial(dense_predict, module, X)
                sparse = functools.partial(sparse_forward, csr, intercepts, "relu", X)
                while count < repeats or (spent < 0.4 and count < 200):
                    d, _ = timed(dense)
                    s, _ = timed(sparse)
                    dense_times.append(d)
                    sparse_times.append(s)
                    spent += d + s
                    count += 1
                result = dict(
                    width=width,
                    density=density,
                    n_rows=n_rows,
                    work=n_rows * n_weights,
                    dense=min(dense_times),
                    sparse=min(sparse_times),
                    rule=prefer_sparse(csr, n_rows),
                )
                results.append(result)
                print(
                    f"width {width:5d} density {density:.2f} rows {n_rows:6d}: "
                    f"dense {result['dense'] * 1e3:8.2f} ms sparse "
                    f"{result['sparse'] * 1e3:8.2f} ms "
                    f"speed-up {result['dense'] / result['sparse']:.2f}",
                    flush=True,
                )
    return results


def calibration_table(results):
    lines = [
        "Speed-up of `sparse_forward` over the dense forward (best of repeated "
        "runs), networks 100 → w → w → 1 (ReLU, float64), every layer at the "
        "given density (fraction of nonzero weights). **Bold**: the cases "
        f"`prefer_sparse` sends to the sparse path (density ≤ {MAX_DENSITY}, "
        f"dense multiply-adds rows × weights ≥ {MIN_DENSE_WORK:.0e}).",
        "",
        "| width w | rows | dense ms | "
        + " | ".join(f"density {d}" for d in CALIBRATION_DENSITIES)
        + " |",
        "|---:|---:|---:|" + "---:|" * len(CALIBRATION_DENSITIES),
    ]
    by_key = {(r["width"], r["n_rows"], r["density"]): r for r in results}
    for width in CALIBRATION_WIDTHS:
        for n_rows in CALIBRATION_ROWS:
            dense_ms = statistics.median(
                by_key[(width, n_rows, d)]["dense"] * 1e3 for d in CALIBRATION_DENSITIES
            )
            cells = []
            for density in CALIBRATION_DENSITIES:
                r = by_key[(width, n_rows, density)]
                text = f"{r['dense'] / r['sparse']:.2f}×"
                cells.append(f"**{text}**" if r["rule"] else text)
            lines.append(
                f"| {width} | {n_rows} | {dense_ms:.2f} | " + " | ".join(cells) + " |"
            )
    right = sum((r["sparse"] < r["dense"]) == r["rule"] for r in results)
    chosen = [r for r in results if r["rule"]]
    lost = sum(r["sparse"] >= r["dense"] for r in chosen)
    missed = [r for r in results if not r["rule"] and r["sparse"] < r["dense"]]
    missed_gain = max((r["dense"] / r["sparse"] for r in missed), default=1.0)
    lines += [
        "",
        f"The rule picks the faster path in {right} of {len(results)} cases; "
        f"of the {len(chosen)} cases it sends to the sparse path, {lost} "
        f"ran slower than dense. Of the cases it leaves on the dense path, "
        f"{len(missed)} would have been faster sparse, by at most "
        f"{missed_gain:.2f}×.",
    ]
    return "\n".join(lines)


# ------------------------------------------------------------------ docs


def replace_section(text, name, body):
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    pattern = re.compile(re.escape(start) + ".*?" + re.escape(end), re.S)
    if not pattern.search(text):
        raise SystemExit(f"{DOC} has no {start} … {end} markers.")
    return pattern.sub(lambda _: f"{start}\n{body}\n{end}", text)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="20,000 rows, 2 runs")
    parser.add_argument("--calibrate", action="store_true")
    parser.add_argument("--write", action="store_true", help=f"update {DOC.name}")
    args = parser.parse_args()
    if args.quick:
        args.rows, args.repeats = 20_000, 2

    sections = {}
    if args.calibrate:
        sections["calibration"] = calibration_table(run_calibration(args.repeats))
    else:
        rows, loads = run_main(args.rows, args.repeats)
        sections["main"] = main_table(rows, loads, args.rows, args.repeats)
    for body in sections.values():
        print()
        print(body)
    if args.write:
        text = DOC.read_text()
        for name, body in sections.items():
            text = replace_section(text, f"bench_sparse_predict:{name}", body)
        DOC.write_text(text)
        print(f"\nwrote {DOC}")


if __name__ == "__main__":
    main()
