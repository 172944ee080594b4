"""How much smaller is the ONNX file of an ℓ1-sparse network with its weight
matrices stored as sparse tensors, and does onnxruntime still reproduce
``predict_proba``?

Setup: digits (1,797 × 64, 10 classes), ``StandardScaler`` fitted on a 75%
training split (seed 0). ``SparseL1Classifier((256, 128), max_iter=60,
random_state=0)``, ReLU, 50,688 weights, at ``target_sparsity`` 0.9, 0.95,
0.99 and dense (``alpha=0``); ``--quick``: dense and 0.9, 10 epochs. Each is
converted with ``skl2onnx.to_onnx`` (float32 input, ``zipmap=False``) with
dense initializers (``sparse_weights=False``), with sparse ``Constant`` nodes
(the default) and with those moved to ``GraphProto.sparse_initializer``;
sizes are those of the serialized models; ``size_ratio`` is
sparse-initializer over dense. ``max_dp``: largest |difference| between
onnxruntime's probabilities on the test set and ``predict_proba``.
"""

import argparse
import warnings

import numpy as np
import onnxruntime as ort
from _harness import Results
from skl2onnx import to_onnx
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from sk_sparse_l1 import SparseL1Classifier
from sk_sparse_l1.onnx import to_sparse_initializers

HIDDEN, DENSE_WEIGHTS = (256, 128), {"zipmap": False, "sparse_weights": False}


def max_proba_error(model, clf, X):
    session = ort.InferenceSession(
        model.SerializeToString(), providers=["CPUExecutionProvider"]
    )
    proba = session.run(["probabilities"], {"X": X})[0]
    return float(np.abs(proba - clf.predict_proba(X)).max())


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="2 models, 10 epochs")
    args = parser.parse_args()
    targets, epochs = ([None, 0.9], 10) if args.quick else ([None, 0.9, 0.95, 0.99], 60)
    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, _ = train_test_split(X, y, random_state=0)
    scale = StandardScaler().fit(X_train).transform
    X_train, X_test = (
        scale(X_train).astype(np.float32),
        scale(X_test).astype(np.float32),
    )
    with Results("onnx_size" + "_quick" * args.quick) as results:
        for target in targets:
            params = {"alpha": 0.0} if target is None else {"target_sparsity": target}
            clf = SparseL1Classifier(HIDDEN, max_iter=epochs, random_state=0, **params)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # convergence: the export is measured
                clf.fit(X_train, y_train)
            dense = to_onnx(clf, X_test[:1], options=DENSE_WEIGHTS)
            constants = to_onnx(clf, X_test[:1], options={"zipmap": False})
            sparse = to_sparse_initializers(constants)
            sizes = [len(m.SerializeToString()) for m in (dense, constants, sparse)]
            results.add(
                target_sparsity="dense" if target is None else target,
                sparsity=round(clf.sparsity_, 4), n_nonzero=clf.n_nonzero_,
                dense_bytes=sizes[0], sparse_constant_bytes=sizes[1],
                sparse_initializer_bytes=sizes[2],
                size_ratio=round(sizes[2] / sizes[0], 3),
                max_dp_dense=f"{max_proba_error(dense, clf, X_test):.1e}",
                max_dp_sparse=f"{max_proba_error(sparse, clf, X_test):.1e}",
            )  # fmt: skip
            print(f"{target}: {sizes} bytes (dense, Constant, initializer)")


if __name__ == "__main__":
    main()
