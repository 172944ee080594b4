"""ℓ1-regularized sparse neural networks for scikit-learn.

Estimators whose weights are exactly sparse, at a given ℓ1 strength or at a
prescribed fraction of zero weights (Shen, Wang, Xu & Yan, 2024), the path
of networks over sparsity levels, and the level chosen by cross-validation.
"""

from sk_sparse_l1._classifier import SparseL1Classifier
from sk_sparse_l1._cv import SparseL1ClassifierCV, SparseL1RegressorCV
from sk_sparse_l1._path import l1_path
from sk_sparse_l1._regressor import SparseL1Regressor

__version__ = "0.1.0"

__all__ = [
    "SparseL1Classifier",
    "SparseL1ClassifierCV",
    "SparseL1Regressor",
    "SparseL1RegressorCV",
    "__version__",
    "l1_path",
]
