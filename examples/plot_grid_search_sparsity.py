"""
Choosing the sparsity by cross-validation
=========================================

Because ``fit`` chooses λ itself for a given ``target_sparsity``, the
sparsity level is an ordinary hyper-parameter: ``GridSearchCV`` can search
it like any other, here in a ``Pipeline`` that standardizes the inputs
first. The score curve shows how much of the network can be zeroed before
accuracy suffers, on scikit-learn's 8×8 digits with one hidden layer of 32
units (64·32 + 32·10 = 2,368 weights). The how-to
:doc:`/howto_grid_search` has the recipe without the plot, and a rule that
picks the sparsest level whose score is close to the best.
"""

# %%
# The search
# ----------
# Six sparsity levels from dense (0) to 98% zeros, 3-fold stratified
# cross-validation: 18 fits, then one fit of the best level on the whole
# training set. Each fit has a budget of 100 epochs (``max_iter``), its
# ℓ1 phase and refit included.

import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, StratifiedKFold, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sk_sparse_l1 import SparseL1Classifier

X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.25, stratify=y, random_state=0
)

pipeline = make_pipeline(
    StandardScaler(),
    SparseL1Classifier(
        hidden_layer_sizes=(32,),
        learning_rate_init=0.01,
        max_iter=100,
        random_state=0,
    ),
)
grid = {"sparsel1classifier__target_sparsity": [0.0, 0.5, 0.8, 0.9, 0.95, 0.98]}
search = GridSearchCV(
    pipeline,
    grid,
    cv=StratifiedKFold(n_splits=3, shuffle=True, random_state=0),
    return_train_score=True,
)
with warnings.catch_warnings():
    # A fixed budget of 100 epochs per fit: the ConvergenceWarning saying that
    # the loss was still improving is silenced; one saying that a target was
    # missed would still show.
    warnings.filterwarnings(
        "ignore", "Proximal training used all max_iter", ConvergenceWarning
    )
    search.fit(X_train, y_train)

best = search.best_estimator_[-1]
print(f"best target_sparsity: {search.best_params_}")
print(
    f"refitted network: sparsity {best.sparsity_:.3f}, {best.n_nonzero_} nonzero "
    f"weights, λ = {best.alpha_:.3g}, test accuracy "
    f"{search.score(X_test, y_test):.3f}"
)

# %%
# The score curve
# ---------------
# Mean accuracy over the folds, with a band of ± one standard deviation. The
# horizontal axis is logarithmic in the fraction of weights kept, so that the
# sparse end, where accuracy changes, is not squeezed. At 98% zeros the
# network keeps about 47 weights for 64 inputs and 10 classes: compare the
# cross-validated score there with the dense end.

results = search.cv_results_
levels = np.asarray(results["param_sparsel1classifier__target_sparsity"], float)
for level, mean, std in zip(
    levels, results["mean_test_score"], results["std_test_score"]
):
    print(f"target_sparsity {level:4.2f}: accuracy {mean:.3f} ± {std:.3f}")

fig, ax = plt.subplots(figsize=(6.5, 4), layout="constrained")
kept = 1 - levels
for split, color in [("train", "tab:gray"), ("test", "tab:blue")]:
    mean = results[f"mean_{split}_score"]
    std = results[f"std_{split}_score"]
    label = "cross-validation" if split == "test" else "training folds"
    ax.plot(kept, mean, "o-", color=color, label=label)
    ax.fill_between(kept, mean - std, mean + std, color=color, alpha=0.25)
ax.axvline(
    1 - search.best_params_["sparsel1classifier__target_sparsity"],
    color="k",
    lw=0.8,
    ls="--",
    label="best level",
)
ax.set_xscale("log")
ax.invert_xaxis()
ax.set_xticks(kept, labels=[f"{level:g}" for level in levels])
ax.minorticks_off()
ax.set_xlabel("target_sparsity (log scale of the fraction of weights kept)")
ax.set_ylabel("accuracy")
ax.set_title("GridSearchCV over target_sparsity, digits")
ax.legend(loc="lower left")
plt.show()
