"""Fit both estimators at a target sparsity and print what they achieved.

Run with ``python -m sk_sparse_l1.demo``. Uses scikit-learn's bundled digits
data and the locally generated Mackey-Glass series; nothing is downloaded.
"""

import argparse
import time

from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sk_sparse_l1 import SparseL1Classifier, SparseL1Regressor
from sk_sparse_l1.datasets import make_mackey_glass


def _report(name, estimator, target, score_name, score, seconds):
    return (
        f"{name:<22} target {target:.4f}  achieved {estimator.sparsity_:.4f}  "
        f"nonzero {estimator.n_nonzero_:>6}  lambda {estimator.alpha_:.3e}  "
        f"{score_name} {score:.4f}  time {seconds:.1f} s"
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--target",
        type=float,
        default=0.9,
        help="fraction of zero weights (default 0.9)",
    )
    args = parser.parse_args(argv)
    target = args.target

    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, random_state=0, stratify=y
    )
    classifier = make_pipeline(
        StandardScaler(),
        SparseL1Classifier(
            hidden_layer_sizes=(128, 64),
            target_sparsity=target,
            max_iter=100,
            random_state=0,
        ),
    )
    started = time.perf_counter()
    classifier.fit(X_train, y_train)
    seconds = time.perf_counter() - started
    print(
        _report(
            "digits classifier",
            classifier[-1],
            target,
            "test accuracy",
            classifier.score(X_test, y_test),
            seconds,
        )
    )

    # The paper's regression task: 6 lagged values of the Mackey-Glass series,
    # MLP 6-128-128-64-1, first 1000 samples for training.
    X, y = make_mackey_glass(2000)
    regressor = SparseL1Regressor(
        hidden_layer_sizes=(128, 128, 64),
        target_sparsity=target,
        batch_size=1000,
        max_iter=1000,
        random_state=0,
    )
    started = time.perf_counter()
    regressor.fit(X[:1000], y[:1000])
    seconds = time.perf_counter() - started
    print(
        _report(
            "Mackey-Glass regressor",
            regressor,
            target,
            "test R2",
            regressor.score(X[1000:], y[1000:]),
            seconds,
        )
    )


if __name__ == "__main__":
    main()
