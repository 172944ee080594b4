"""
Input-feature selection through a sparse first layer
====================================================

An input feature whose outgoing weights are all zero is not used by the
network at all. ``support_`` marks the features that keep at least one
nonzero weight in the first layer, so a sparse first layer selects features.

The ℓ1 penalty acts on single weights, not on whole features: a feature is
dropped only when *every* one of its weights is zero, which takes a first
layer much sparser than the rest of the network. Layer-wise targets
(one λ per weight matrix) give exactly that.

The data are Friedman's regression problem #1
(:func:`~sklearn.datasets.make_friedman1`): the target depends, nonlinearly,
on the first 5 of 20 uniformly distributed inputs; the other 15 are noise.
"""

# %%
# Data
# ----

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import make_friedman1
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from sk_sparse_l1 import SparseL1Regressor

X, y = make_friedman1(n_samples=2000, n_features=20, noise=0.5, random_state=0)
informative = np.arange(20) < 5
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.25, random_state=0
)
x_scaler = StandardScaler().fit(X_train)
X_train, X_test = x_scaler.transform(X_train), x_scaler.transform(X_test)
y_mean, y_std = y_train.mean(), y_train.std()
y_train, y_test = (y_train - y_mean) / y_std, (y_test - y_mean) / y_std

# %%
# Three first-layer sparsities
# ----------------------------
# A network 20 → 32 → 32 → 1 with per-layer targets: 90%, 97% or 98% zeros
# in the first layer (640 weights), 50% in the second, none imposed on the
# output layer. As in the paper's experiments, training is full-batch
# proximal SGD (learning rate 0.1). With a target, the default
# ``refit="auto"`` ends the fit by retraining the kept weights without
# penalty, zeros held fixed, to undo ℓ1's shrinkage. A dense network (λ = 0)
# is the reference.

common = dict(
    hidden_layer_sizes=(32, 32),
    solver="sgd",
    learning_rate_init=0.1,
    batch_size=len(X_train),
    max_iter=1000,
    tol=1e-6,
    random_state=0,
)
dense = SparseL1Regressor(alpha=0.0, **common).fit(X_train, y_train)
print(f"dense: test R² {dense.score(X_test, y_test):.3f}")

nets = {}
for first in [0.9, 0.97, 0.98]:
    net = SparseL1Regressor(target_sparsity=[first, 0.5, 0.0], **common).fit(
        X_train, y_train
    )
    nets[first] = net
    selected = np.flatnonzero(net.support_)
    print(
        f"first layer {first:.0%} zeros ({net.layer_n_nonzero_[0]} weights): "
        f"features used {selected.tolist()} (exactly the informative ones: "
        f"{np.array_equal(net.support_, informative)}), test R² "
        f"{net.score(X_test, y_test):.3f}"
    )

# %%
# Which inputs keep nonzero weights
# ---------------------------------
# For each input, the number of its nonzero outgoing weights (bars; the true
# informative features in orange). The first layer keeps 64, 19 or 13
# weights at the three targets: the sparser it is, the fewer inputs can keep
# a weight at all. Whether ``support_`` is exactly the five informative
# inputs is printed above.

fig, axes = plt.subplots(3, 1, figsize=(7, 6.5), sharex=True, layout="constrained")
colors = np.where(informative, "tab:orange", "tab:gray")
for ax, (first, net) in zip(axes, nets.items()):
    counts = (net.coefs_[0] != 0).sum(axis=1)
    ax.bar(np.arange(20), counts, color=colors)
    ax.set_title(
        f"first layer {first:.0%} zeros: {net.support_.sum()} inputs used, "
        f"test R² {net.score(X_test, y_test):.2f}",
        fontsize="medium",
    )
    ax.set_ylabel("nonzero weights")
axes[-1].set_xticks(np.arange(20))
axes[-1].set_xlabel("input feature (orange: informative)")
fig.suptitle(
    f"Friedman #1, 5 informative of 20 inputs (dense net: test R² "
    f"{dense.score(X_test, y_test):.2f})"
)
plt.show()

# %%
# Select, then fit
# ----------------
# A first layer sparse enough to select features may keep too few weights to
# fit the target well. The selection can then serve as a first step: train
# a network on the selected inputs alone, at a moderate sparsity, and
# compare its test R² with the ones above.

selected = nets[0.98].support_
net = SparseL1Regressor(target_sparsity=0.5, **common)
net.fit(X_train[:, selected], y_train)
print(
    f"inputs {np.flatnonzero(selected).tolist()} only, 50% zeros: test R² "
    f"{net.score(X_test[:, selected], y_test):.3f}"
)

# %%
# A fixed λ per layer does the same job without a target, e.g.
# ``alpha=[0.05, 1e-3, 1e-3]``: a large λ on the first layer, small ones
# elsewhere.
