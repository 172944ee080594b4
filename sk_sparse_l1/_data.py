"""Data as the network sees it: the one place where arrays become tensors.

Dense inputs are converted once to a tensor of the model's dtype, on the
model's device. Sparse inputs (scipy CSR/CSC) stay sparse on the host: each
minibatch densifies only its own rows, a chunk of rows at a time, so memory
does not grow with the number of rows or the density of the matrix.
"""

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import torch
from sklearn.model_selection import train_test_split

# A sparse batch is densified at most this many values at a time (32 MiB in
# float64); a full batch of a large sparse matrix is processed in chunks.
MAX_DENSE_VALUES = 2**22


def resolve_device(device):
    """'auto' → 'cuda' when available, else 'cpu'."""
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise ValueError("device='cuda' was requested but CUDA is not available.")
    return device


def weights_averaging_one(weight):
    """Sample weights scaled to average 1 (so that a minibatch mean estimates
    the weighted mean loss), or None for unit weights."""
    if weight is None:
        return None
    total = weight.sum()
    if total <= 0:
        raise ValueError(
            "sample_weight sums to zero: at least one sample "
            "must have a positive weight."
        )
    return weight * (weight.shape[0] / total)


def as_tensor(array, dtype, device):
    """A tensor of ``dtype`` on ``device`` holding ``array``, never sharing
    memory with it when the array is read-only or not C-contiguous.

    Training never writes to these tensors, so the caller's data is not
    modified either way; read-only arrays (memory maps) must be copied
    because torch cannot wrap them.
    """
    array = np.require(array, requirements=["C_CONTIGUOUS", "WRITEABLE"])
    return torch.as_tensor(array, dtype=dtype, device=device)


def chunk_rows(X):
    """Rows of ``X`` densified at once: all of them for a dense array."""
    if not sp.issparse(X):
        return max(X.shape[0], 1)
    return max(1, MAX_DENSE_VALUES // max(X.shape[1], 1))


def _take(tensor, rows):
    """``tensor[rows]``; by ``index_select`` for a tensor of indices, the
    same rows with less work per call (an epoch makes one call a step)."""
    if isinstance(rows, torch.Tensor):
        return tensor.index_select(0, rows)
    return tensor[rows]


def dense_chunks(X, rows, dtype, device, max_rows=None):
    """Dense tensors for ``X[rows]`` (``rows``: an index array or a slice),
    at most :func:`chunk_rows` rows each; all of a tensor's rows in slices
    of at most ``max_rows``."""
    if isinstance(X, torch.Tensor):
        if rows is not None:
            yield _take(X, rows)
            return
        step = max_rows or max(X.shape[0], 1)
        for start in range(0, X.shape[0], step):
            yield X[start : start + step]
        return
    index = None if rows is None else np.asarray(rows)
    n_rows = X.shape[0] if index is None else len(index)
    step = chunk_rows(X)
    for start in range(0, n_rows, step):
        stop = start + step
        # All rows: a slice, not a copy (as_tensor copies only what it must).
        part = X[start:stop] if index is None else X[index[start:stop]]
        part = part.toarray() if sp.issparse(part) else part
        yield as_tensor(part, dtype, device)


@dataclass
class TrainingData:
    """One training set on the model's device and dtype.

    ``X`` is a tensor, or a scipy CSR matrix kept on the host; ``target`` and
    ``sample_weight`` (scaled to average 1, or None) are tensors.
    """

    X: object
    target: torch.Tensor
    sample_weight: torch.Tensor | None = None

    @classmethod
    def from_arrays(cls, X, target, sample_weight, dtype, device):
        if sp.issparse(X):
            X = sp.csr_array(X)
        else:
            X = as_tensor(X, dtype, device)
        weight = None
        if sample_weight is not None:
            weight = as_tensor(sample_weight, dtype, device)
        return cls(X, as_tensor(target, dtype, device), weight)

    @property
    def n_samples(self):
        return self.X.shape[0]

    @property
    def dtype(self):
        return self.target.dtype

    @property
    def device(self):
        return self.target.device

    def shuffled_order(self, generator):
        """A random permutation of the rows, where the rows are indexed:
        moved to the device once per epoch for tensors, kept on the host for
        sparse matrices."""
        order = torch.randperm(self.n_samples, generator=generator)
        if isinstance(self.X, torch.Tensor):
            return order.to(self.device)
        return order.numpy()

    def batch(self, rows, max_rows=None):
        """``(chunks, target, weight)`` for the rows ``rows`` (None: all, in
        slices of at most ``max_rows``): ``chunks`` yields dense inputs
        covering those rows in order."""
        target = self.target if rows is None else _take(self.target, rows)
        weight = self.sample_weight
        if weight is not None and rows is not None:
            weight = _take(weight, rows)
        chunks = dense_chunks(self.X, rows, self.dtype, self.device, max_rows)
        return chunks, target, weight


def split_validation(X, y, target, sample_weight, *, fraction, stratify, random_state):
    """Hold out ``fraction`` of the rows for early stopping.

    Returns the training arrays ``(X, target, sample_weight)``, the sample
    weights rescaled to average 1, and the validation arrays
    ``(X, y, sample_weight)``.
    """
    arrays = [X, y, target] + ([sample_weight] if sample_weight is not None else [])
    parts = train_test_split(
        *arrays, test_size=fraction, random_state=random_state, stratify=stratify
    )
    if parts[1].shape[0] < 2:
        raise ValueError(
            "The validation set is too small. Increase 'validation_fraction' "
            "or the size of your dataset."
        )
    weight = weight_val = None
    if sample_weight is not None:
        weight, weight_val = parts[6], parts[7]
        weight = weights_averaging_one(weight)
    return (parts[0], parts[4], weight), (parts[1], parts[3], weight_val)


def predict_raw(network, X):
    """Raw outputs of ``network`` for ``X`` (dense or sparse) as numpy, a
    chunk of rows at a time for sparse ``X``."""
    weight = network.weights[0]
    with torch.no_grad():
        parts = [
            network.forward(chunk).cpu().numpy()
            for chunk in dense_chunks(X, None, weight.dtype, weight.device)
        ]
    return np.concatenate(parts) if len(parts) != 1 else parts[0]
