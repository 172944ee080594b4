"""Sparse storage and sparse prediction for fitted networks.

Pure functions on the fitted weights (``coefs_`` of shape (fan_in, fan_out),
``intercepts_``):

* :func:`to_csr` exports the weight matrices to scipy CSR arrays (a fitted
  estimator keeps them as ``sparse_coefs_``), and :func:`stored_bytes`
  counts the bytes either form holds;
* :func:`sparse_forward` computes the network's raw outputs from the nonzero
  weights only;
* :func:`prefer_sparse` is the rule by which ``predict``, ``predict_proba``
  and ``predict_log_proba`` choose between that pass and the dense torch
  forward: the sparse pass when at most ``MAX_DENSITY`` of the weights are
  nonzero *and* the dense pass would cost at least ``MIN_DENSE_WORK``
  multiply-adds. There is no parameter to set.

How :func:`sparse_forward` computes
-----------------------------------
Activations are kept as (units, rows) blocks and every layer is computed as
``W_jᵀ @ H`` with torch's sparse CSR product, ``W_jᵀ`` in CSR: the work of
each nonzero weight then runs over one contiguous row of the block. Blocks
hold a bounded number of rows, sized so that a block of the widest layer's
activations stays within a core's cache, which also bounds memory whatever
the number of rows. Blocks run on ``torch.get_num_threads()`` Python threads
(torch releases the GIL), so the sparse path uses the threads the dense path
would use.

The thresholds of the rule come from timings of both paths on a grid of
widths, row counts and densities: ``python benchmarks/bench_sparse_predict.py
--calibrate`` reproduces them, and the benchmarks page of the documentation
shows the latest results (section "Sparse prediction speed").
"""

import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import scipy.sparse as sp
import torch

from sk_sparse_l1._network import ACTIVATIONS, _activate

# A block of activations of the widest layer is kept near this many values
# (1 MiB in float64), inside a core's L2 cache (64 rows of 2048 units): beyond
# the cache the sparse product slows down sharply.
_BLOCK_VALUES = 2**17
_MIN_BLOCK_ROWS = 16
_MAX_BLOCK_ROWS = 4096

# The rule of ``prefer_sparse``, calibrated with
# ``benchmarks/bench_sparse_predict.py --calibrate`` (benchmarks page).
MAX_DENSITY = 0.1
MIN_DENSE_WORK = 5e8


def to_csr(coefs):
    """Export weight matrices to scipy CSR arrays, dropping exact zeros.

    Parameters
    ----------
    coefs : list of array-like of shape (fan_in, fan_out)
        Weight matrices in the layout of ``coefs_`` (rows are inputs).

    Returns
    -------
    csr_coefs : list of scipy.sparse.csr_array
        One CSR array per layer, same shape and dtype as ``coefs[j]``;
        ``csr_coefs[j].toarray()`` equals ``coefs[j]`` exactly. Sparse
        *arrays* rather than matrices, as scipy recommends for new code: they
        behave like the ndarrays of ``coefs_`` (``*`` is elementwise, ``@``
        is the matrix product).

    Examples
    --------
    >>> import numpy as np
    >>> from sk_sparse_l1.sparse import to_csr
    >>> W = np.array([[0.0, 1.5], [0.0, 0.0], [-2.0, 0.0]])
    >>> (csr,) = to_csr([W])
    >>> csr.shape, csr.nnz
    ((3, 2), 2)
    """
    return [_dense_to_csr(np.asarray(W)) for W in coefs]


def _dense_to_csr(W):
    """``sp.csr_array(W)`` of a 2-D array, built from its nonzeros directly:
    scipy's constructor goes through a COO array and costs about twice as
    much, a share of a small fit's set-up."""
    rows, cols = np.nonzero(W)
    small = max(W.shape[0] + 1, W.shape[1], cols.size) < np.iinfo(np.int32).max
    index_dtype = np.int32 if small else np.int64
    indptr = np.zeros(W.shape[0] + 1, dtype=index_dtype)
    np.cumsum(np.bincount(rows, minlength=W.shape[0]), out=indptr[1:])
    return sp.csr_array(
        (W[rows, cols], cols.astype(index_dtype), indptr), shape=W.shape
    )


def stored_bytes(coefs):
    """Bytes held by the weight matrices, dense or CSR.

    Parameters
    ----------
    coefs : list of ndarray or scipy sparse arrays
        Weight matrices.

    Returns
    -------
    n_bytes : int
        ``nbytes`` of dense arrays; ``data``, ``indices`` and ``indptr`` of
        CSR/CSC ones.
    """
    total = 0
    for W in coefs:
        if sp.issparse(W):
            W = W.tocsr()
            total += W.data.nbytes + W.indices.nbytes + W.indptr.nbytes
        else:
            total += np.asarray(W).nbytes
    return int(total)


def _nonzeros_and_sizes(coefs):
    nonzeros = sum(
        int(W.nnz) if sp.issparse(W) else int(np.count_nonzero(W)) for W in coefs
    )
    sizes = sum(int(W.shape[0]) * int(W.shape[1]) for W in coefs)
    return nonzeros, sizes


def prefer_sparse(coefs, n_rows):
    """Whether ``sparse_forward`` is expected to beat the dense forward pass.

    True when both hold:

    * at most ``MAX_DENSITY`` (0.1) of the weights, over all layers, are
      nonzero;
    * the dense pass would cost at least ``MIN_DENSE_WORK`` (5·10⁸)
      multiply-adds, ``n_rows × Σ fan_in·fan_out``.

    Below that work the fixed costs of the sparse pass (a CSR transpose per
    layer, Python work per block of rows and layer, thread hand-offs)
    outweigh what it saves, and both paths take milliseconds. The thresholds
    were set from ``benchmarks/bench_sparse_predict.py --calibrate``; the
    benchmarks page of the documentation shows how often the rule picks the
    faster path.

    Parameters
    ----------
    coefs : list of ndarray or scipy sparse arrays
        Weight matrices, shape (fan_in, fan_out); sparse arrays are counted
        from their ``nnz`` without a scan.
    n_rows : int
        Number of rows to predict.

    Returns
    -------
    use_sparse : bool
    """
    nonzeros, sizes = _nonzeros_and_sizes(coefs)
    if sizes == 0:
        return False
    return nonzeros <= MAX_DENSITY * sizes and n_rows * sizes >= MIN_DENSE_WORK


def _torch_csr(matrix, dtype):
    """A torch sparse CSR tensor on the index arrays of a scipy CSR array."""
    with warnings.catch_warnings():
        # "Sparse CSR tensor support is in beta state": the operations used
        # here (construction, addmm with a dense matrix) are covered by the
        # tests of this module.
        warnings.filterwarnings("ignore", message="Sparse CSR", category=UserWarning)
        return torch.sparse_csr_tensor(
            # scipy's index dtype (int32 unless the matrix needs int64): with
            # int32 indices torch's product was up to 1.3× faster.
            torch.from_numpy(matrix.indptr),
            torch.from_numpy(matrix.indices),
            torch.from_numpy(np.array(matrix.data, dtype=dtype)),
            size=matrix.shape,
            # scipy's CSR is canonical: skip torch's O(nnz) validation.
            check_invariants=False,
        )


def _block_rows(csr_coefs):
    widest = max(max(W.shape) for W in csr_coefs)
    rows = _BLOCK_VALUES // max(widest, 1)
    return int(min(max(rows, _MIN_BLOCK_ROWS), _MAX_BLOCK_ROWS))


def sparse_forward(
    csr_coefs, intercepts, activation, X, *, block_rows=None, n_threads=None
):
    """Raw network outputs computed from the nonzero weights only.

    Computes the same function as the dense forward pass,
    ``h_0 = X``, ``h_j = act(h_{j−1} W_j + b_j)`` for the hidden layers and
    ``h_D = h_{D−1} W_D + b_D`` (no activation) for the output layer, with
    torch's sparse CSR product in a transposed layout (see the module
    docstring for why this kernel), block by block of rows, so that memory
    also stays bounded whatever the number of rows.

    Parameters
    ----------
    csr_coefs : list of scipy sparse arrays or ndarray
        Weight matrices of shape (fan_in, fan_out), as from :func:`to_csr`.
    intercepts : list of ndarray of shape (fan_out,)
        Bias vectors.
    activation : {'relu', 'tanh', 'logistic', 'identity'}
        Activation of the hidden layers.
    X : array-like of shape (n_rows, n_features)
        Input rows.
    block_rows : int, default=None
        Rows per block; by default as many as keep one block of the widest
        layer's activations near 2¹⁷ values (16 to 4096 rows).
    n_threads : int, default=None
        Threads over blocks; by default ``torch.get_num_threads()``.

    Returns
    -------
    raw : ndarray of shape (n_rows, n_outputs)
        Raw outputs (logits for a classifier), in the floating dtype of the
        weights (float64 for ``to_csr(coefs_)``).

    Examples
    --------
    >>> import numpy as np
    >>> from sk_sparse_l1.sparse import sparse_forward, to_csr
    >>> coefs = [np.array([[1.0, 0.0], [0.0, -1.0]]), np.array([[2.0], [0.0]])]
    >>> intercepts = [np.zeros(2), np.array([0.5])]
    >>> sparse_forward(to_csr(coefs), intercepts, "relu", [[1.0, 3.0], [-1.0, 0.0]])
    array([[2.5],
           [0.5]])
    """
    if activation not in ACTIVATIONS:
        raise ValueError(
            f"activation must be one of {sorted(ACTIVATIONS)}, got {activation!r}."
        )
    if len(csr_coefs) != len(intercepts) or not csr_coefs:
        raise ValueError(
            f"expected one intercept per weight matrix, got {len(csr_coefs)} "
            f"matrices and {len(intercepts)} intercepts."
        )
    dtype = np.result_type(*[W.dtype for W in csr_coefs], np.float32)
    X = np.asarray(X)
    if X.ndim != 2 or X.shape[1] != csr_coefs[0].shape[0]:
        raise ValueError(
            f"X must have shape (n_rows, {csr_coefs[0].shape[0]}), got {X.shape}."
        )
    # Wᵀ in CSR: row i lists the inputs of unit i, so each nonzero weight
    # scales one contiguous row of the (units, rows) block. O(nnz).
    operators = [_torch_csr(sp.csr_array(sp.csr_array(W).T), dtype) for W in csr_coefs]
    biases = [
        torch.from_numpy(np.array(b, dtype=dtype).reshape(-1, 1)) for b in intercepts
    ]
    n_rows = X.shape[0]
    out = np.empty((n_rows, operators[-1].shape[0]), dtype=dtype)
    if n_rows == 0:
        return out
    block_rows = _block_rows(csr_coefs) if block_rows is None else int(block_rows)
    starts = range(0, n_rows, block_rows)
    last = len(operators) - 1

    def run(start):
        stop = min(start + block_rows, n_rows)
        h = torch.from_numpy(np.ascontiguousarray(X[start:stop].T, dtype=dtype))
        with torch.no_grad():
            for j, (operator, bias) in enumerate(zip(operators, biases)):
                h = torch.addmm(bias, operator, h)
                if j < last:
                    _activate(h, activation)
        out[start:stop] = h.numpy().T

    n_threads = torch.get_num_threads() if n_threads is None else int(n_threads)
    n_threads = max(1, min(n_threads, len(starts)))
    if n_threads == 1:
        for start in starts:
            run(start)
    else:
        with ThreadPoolExecutor(max_workers=n_threads) as pool:
            # list() re-raises here any exception raised in a worker.
            list(pool.map(run, starts))
    return out
