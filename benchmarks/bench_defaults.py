"""With no arguments, are the estimators sparse, and as accurate as
scikit-learn's MLP with its own defaults?

Setup
-----
* Data: scikit-learn's digits, breast_cancer, wine and iris (classifiers)
  and diabetes (regressor, target standardized); ``--seeds`` random 75/25
  splits (stratified for the classifiers), the seed also seeding both
  models.
* ``make_pipeline(StandardScaler(), Estimator(random_state=seed))`` for
  ``SparseL1Classifier`` / ``SparseL1Regressor`` and ``MLPClassifier`` /
  ``MLPRegressor``: every other parameter at its default (ours:
  ``alpha="auto"``, hidden layers (100,), Adam, 200 epochs at most).
* Recorded per fit: test accuracy / R², the fraction of zero weights, the
  epochs run and the seconds (one torch and one BLAS thread).
"""

import argparse
import warnings

from _harness import Results, Timer, threads
from sklearn import datasets
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sk_sparse_l1 import SparseL1Classifier, SparseL1Regressor

DATA = ("digits", "breast_cancer", "wine", "iris", "diabetes")  # load_<name>
CONTESTANTS = {
    "ours": (SparseL1Classifier, SparseL1Regressor),
    "sklearn": (MLPClassifier, MLPRegressor),
}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="one seed, 2 sets")
    parser.add_argument("--seeds", type=int, default=10)
    args = parser.parse_args()
    names = ["iris", "diabetes"] if args.quick else DATA
    seeds = 1 if args.quick else args.seeds
    warnings.simplefilter("ignore", ConvergenceWarning)  # both, at max_iter
    name = "defaults" + "_quick" * args.quick
    with Results(name) as results, threads(1):
        for data in names:
            X, y = getattr(datasets, f"load_{data}")(return_X_y=True)
            classifier = data != "diabetes"
            if not classifier:
                y = (y - y.mean()) / y.std()
            for seed in range(seeds):
                X_tr, X_te, y_tr, y_te = train_test_split(
                    X, y, test_size=0.25, random_state=seed,
                    stratify=y if classifier else None,
                )  # fmt: skip
                for who, (Classifier, Regressor) in CONTESTANTS.items():
                    Estimator = Classifier if classifier else Regressor
                    model = make_pipeline(
                        StandardScaler(), Estimator(random_state=seed)
                    )
                    with Timer() as timer:
                        model.fit(X_tr, y_tr)
                    net = model[-1]
                    n_zero = sum(int((W == 0).sum()) for W in net.coefs_)
                    results.add(
                        data=data, seed=seed, contestant=who,
                        score=model.score(X_te, y_te), epochs=net.n_iter_,
                        sparsity=n_zero / sum(W.size for W in net.coefs_),
                        **timer.record(),
                    )  # fmt: skip
                print(f"{data} seed {seed} done")


if __name__ == "__main__":
    main()
