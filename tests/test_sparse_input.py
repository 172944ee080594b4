"""Sparse input too large to densify: fit, partial_fit and predict on a CSR
matrix whose dense form (2.4 GB) cannot exist in a process whose data
segment is capped at 1.5 GB."""

import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="RLIMIT_DATA is a Linux limit"
)

SCRIPT = textwrap.dedent(
    """
    import resource
    import numpy as np
    import scipy.sparse as sp

    cap = int(1.5 * 2**30)
    resource.setrlimit(resource.RLIMIT_DATA, (cap, cap))

    from sk_sparse_l1 import SparseL1Classifier

    n_rows, n_features = 150_000, 2_000  # 2.4 GB as a dense float64 array
    rng = np.random.default_rng(0)
    nnz = 2 * n_rows  # two nonzeros per row on average
    X = sp.csr_array(
        (rng.standard_normal(nnz), (rng.integers(0, n_rows, nnz),
                                    rng.integers(0, n_features, nnz))),
        shape=(n_rows, n_features),
    )
    y = np.asarray(X[:, :100].sum(axis=1)).ravel() > 0
    try:  # the cap holds: a dense copy cannot be made
        X.toarray()
        raise SystemExit("the dense matrix fitted under the cap")
    except MemoryError:
        pass
    clf = SparseL1Classifier(hidden_layer_sizes=(8,), batch_size={batch},
                             max_iter=1, target_sparsity=0.5, random_state=0)
    clf.fit(X, y)
    clf.partial_fit(X[:20_000], y[:20_000])
    proba = clf.predict_proba(X)
    assert proba.shape == (n_rows, 2) and np.isfinite(proba).all()
    print("ok", clf.n_nonzero_, round(float(clf.score(X, y)), 3))
    """
)


@pytest.mark.parametrize("batch", ["'auto'", "150_000"], ids=["minibatch", "full"])
def test_sparse_matrix_larger_than_memory_is_never_densified(batch):
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT.format(batch=batch)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.startswith("ok")
