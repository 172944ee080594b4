"""
How sparse can my network be?
=============================

The sparsest network that predicts almost as well as the best one is often
what a user wants, and the sparsity level it needs is rarely known in
advance. :class:`~sk_sparse_l1.SparseL1ClassifierCV` and
:class:`~sk_sparse_l1.SparseL1RegressorCV` answer by cross-validation, as
``LassoCV`` does for λ: each fold fits a warm-started path of sparsity
levels (:func:`~sk_sparse_l1.l1_path`), every level is scored on the
held-out part, and the chosen level is refitted on all the data. Here on
scikit-learn's 8×8 digits and on the Mackey-Glass series of the paper, with
the ``"1se"`` rule (the sparsest level within one standard error of the
best) against the best score, the time against ``GridSearchCV``, and where
the network keeps its weights.
"""

# %%
# Digits: the cross-validated path
# --------------------------------
# One hidden layer of 32 units (64·32 + 32·10 = 2,368 weights), six levels
# from half the weights zero to 98%, 3-fold cross-validation, 40 epochs per
# fit. ``selection="1se"`` picks the sparsest level whose mean score is
# within one standard error of the best.

import time
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, StratifiedKFold, train_test_split
from sklearn.preprocessing import StandardScaler

from sk_sparse_l1 import SparseL1Classifier, SparseL1ClassifierCV, SparseL1RegressorCV
from sk_sparse_l1.datasets import make_mackey_glass
from sk_sparse_l1.plotting import LayerSparsityDisplay, SparsityPathDisplay

# Each fit has a small, fixed budget: the warning that its loss was still
# improving at max_iter is expected here; one saying that a level was missed
# would still show.
warnings.filterwarnings("ignore", "Proximal training used all", ConvergenceWarning)

X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.25, stratify=y, random_state=0
)
scaler = StandardScaler().fit(X_train)
X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)

levels = [0.5, 0.7, 0.8, 0.9, 0.95, 0.98]
folds = StratifiedKFold(n_splits=3, shuffle=True, random_state=0)
network = dict(hidden_layer_sizes=(32,), learning_rate_init=0.01, max_iter=40)

# The first fit in a process pays torch's one-time start-up: a tiny fit
# first keeps it out of both timings below, which count CPU seconds (one
# thread) so that other work on the machine does not enter them.
SparseL1Classifier(hidden_layer_sizes=(2,), max_iter=1).fit(X_train, y_train)

started = time.process_time()
clf = SparseL1ClassifierCV(
    sparsities=levels, cv=folds, selection="1se", random_state=0, **network
).fit(X_train, y_train)
cv_seconds = time.process_time() - started

results = clf.cv_results_
best = int(np.argmax(results["mean_test_score"]))
print(f"best mean CV accuracy at sparsity {levels[best]}")
print(f"1se choice: sparsity {clf.target_sparsity_} (λ = {clf.alpha_:.3g})")
print(f"refitted network: {clf.n_nonzero_} nonzero weights, test accuracy "
      f"{clf.score(X_test, y_test):.3f}")  # fmt: skip

# %%
# The same levels and folds with ``GridSearchCV`` over ``target_sparsity``
# fit every level of every fold from scratch.

started = time.process_time()
grid = GridSearchCV(
    SparseL1Classifier(random_state=0, **network),
    {"target_sparsity": levels},
    cv=folds,
).fit(X_train, y_train)
grid_seconds = time.process_time() - started
print(f"CPU seconds: SparseL1ClassifierCV {cv_seconds:.1f}, GridSearchCV "
      f"{grid_seconds:.1f}")  # fmt: skip
print(f"GridSearchCV's best level: {grid.best_params_['target_sparsity']}, "
      f"test accuracy {grid.score(X_test, y_test):.3f}")  # fmt: skip

# %%
# The score against the sparsity, with ± one standard deviation over the
# folds, and the nonzero weights (right-hand scale). The dotted line marks
# the 1se choice.

display = SparsityPathDisplay.from_estimator(clf)
display.ax_.set_title("Digits: CV accuracy along the path")
plt.show()

# %%
# Where the network keeps its weights
# -----------------------------------
# One spy image per weight matrix (black: nonzero). The first layer's rows
# are the 64 pixels: an empty row is a pixel the network ignores. Seen as
# an 8×8 image, the pixels used (``support_``) are the centre of the digit.

layers = LayerSparsityDisplay.from_estimator(clf)
fig, ax = plt.subplots(figsize=(3, 3))
ax.imshow(clf.support_.reshape(8, 8), cmap="gray_r")
ax.set_title(f"pixels used: {clf.support_.sum()} of 64")
ax.set_axis_off()
plt.show()

# %%
# A regression: the Mackey-Glass series
# -------------------------------------
# The paper's chaotic time series: predict the value 6 steps ahead from 6
# lagged values. Two hidden layers of 32 units; the score is R².

X, y = make_mackey_glass(1000)
X = StandardScaler().fit_transform(X)
reg = SparseL1RegressorCV(
    hidden_layer_sizes=(32, 32),
    sparsities=[0.5, 0.7, 0.8, 0.9, 0.95],
    cv=3,
    selection="1se",
    learning_rate_init=0.01,
    max_iter=40,
    random_state=0,
).fit(X, y)
print(f"Mackey-Glass: 1se choice {reg.target_sparsity_}, "
      f"per layer {np.round(reg.layer_sparsity_, 2)}")  # fmt: skip

fig, ax = plt.subplots()
SparsityPathDisplay.from_estimator(reg, x="alpha", ax=ax)
ax.set_title("Mackey-Glass: CV R² against λ")
plt.show()

# %%
# The path's λ are those each fold's fits chose; the docs page
# :doc:`/howto_choose_sparsity` says how to read them, and the benchmarks
# page measures the cost of the path and of the CV estimators against one
# fit and against ``GridSearchCV``.
