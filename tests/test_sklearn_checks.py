"""scikit-learn's own estimator checks, with no expected failures."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from sk_sparse_l1 import SparseL1Classifier, SparseL1Regressor

# Small networks and few epochs keep the ~50 checks per estimator fast; every
# check runs, none is marked as an expected failure.
SMALL = dict(hidden_layer_sizes=(8,), max_iter=50, learning_rate_init=0.01)


@parametrize_with_checks(
    [
        SparseL1Regressor(**SMALL),
        SparseL1Classifier(**SMALL),
        SparseL1Regressor(**SMALL, target_sparsity=0.5),
        SparseL1Classifier(**SMALL, target_sparsity=[0.5, 0.0]),
    ]
)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
