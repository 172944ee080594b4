"""
Where the zeros are: the weight matrices layer by layer
=======================================================

``target_sparsity`` fixes *how many* weights are zero; the training decides
*which*. This example fits a :class:`~sk_sparse_l1.SparseL1Classifier` with
two hidden layers (64 → 64 → 32 → 10) to scikit-learn's 8×8 digits twice:

- with one global target, 90% zeros over all 6,464 weights (one λ for the
  whole network), and
- with layer-wise targets (one λ per weight matrix): 95% zeros in the first
  layer, 85% in the second and 50% in the output layer, which leave about as
  many nonzero weights in total (672 against 646),

and draws each weight matrix ``coefs_[j]`` (rows: inputs of the layer,
columns: its units) with a dot for every nonzero weight.
"""

# %%
# Fit both networks
# -----------------

import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sk_sparse_l1 import SparseL1Classifier

X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.25, stratify=y, random_state=0
)

layer_sizes = [64, 64, 32, 10]
n_weights = np.multiply(layer_sizes[:-1], layer_sizes[1:])  # 4096, 2048, 320
targets = {"global 0.9": 0.9, "per layer [0.95, 0.85, 0.5]": [0.95, 0.85, 0.5]}
print(f"nonzero weights wanted, global:    {round(0.1 * n_weights.sum())}")
print(
    "nonzero weights wanted, per layer: "
    f"{np.round((1 - np.array(targets['per layer [0.95, 0.85, 0.5]'])) * n_weights)}"
)

# A budget of 100 epochs per fit, its phases included (ℓ1 steps with λ
# rising to the λ found, refit of the support). Where the loss is
# still improving at the end of the budget, the ConvergenceWarning that says
# so is silenced; one saying that a target was missed would still show.
nets, scores = {}, {}
with warnings.catch_warnings():
    warnings.filterwarnings(
        "ignore", "Proximal training used all max_iter", ConvergenceWarning
    )
    for name, target in targets.items():
        model = make_pipeline(
            StandardScaler(),
            SparseL1Classifier(
                hidden_layer_sizes=layer_sizes[1:-1],
                target_sparsity=target,
                learning_rate_init=0.003,
                max_iter=100,
                random_state=0,
            ),
        ).fit(X_train, y_train)
        nets[name], scores[name] = model[-1], model.score(X_test, y_test)

for name, net in nets.items():
    print(
        f"{name:28}: sparsity {net.sparsity_:.3f}, per layer "
        f"{np.round(net.layer_sparsity_, 3)}, nonzero {net.layer_n_nonzero_}, "
        f"λ {np.round(net.alpha_, 5)}, test accuracy {scores[name]:.3f}"
    )

# %%
# Spy plots
# ---------
# With a single λ the training alone decides where the zeros go: compare
# the fraction kept in each matrix (in the titles) with the global 10%; a
# small output layer, each of whose weights matters for some class, tends to
# keep more than its share. Empty columns are hidden units switched off
# entirely (the counts of active units are printed above the figure). Empty
# rows of ``W1`` are pixels the network does not read; among them are the
# pixels that never vary in the training data, which carry no signal, so
# that their weights go to zero at any λ > 0. Layer-wise targets fix the
# budget of nonzero weights of each layer instead.


def active_units(net):
    """Hidden units with a nonzero weight in and a nonzero weight out."""
    return [
        int(np.sum(np.any(w_in != 0, axis=0) & np.any(w_out != 0, axis=1)))
        for w_in, w_out in zip(net.coefs_[:-1], net.coefs_[1:])
    ]


print(f"constant pixels in the training data: {np.sum(X_train.std(axis=0) == 0)}")
for name, net in nets.items():
    print(f"{name:28}: active hidden units {active_units(net)} of {layer_sizes[1:-1]}")

fig, axes = plt.subplots(
    2, 3, figsize=(9, 6.5), layout="constrained", width_ratios=[64, 32, 14]
)
for row, (name, net) in zip(axes, nets.items()):
    for j, (ax, coef) in enumerate(zip(row, net.coefs_)):
        ax.spy(coef, markersize=1.5, aspect="auto", color="k")
        ax.set_title(
            f"W{j + 1}, {coef.shape[0]}×{coef.shape[1]}\n"
            f"{net.layer_n_nonzero_[j]} nonzero\n"
            f"({1 - net.layer_sparsity_[j]:.0%})",
            fontsize="small",
        )
        ax.tick_params(labelsize="x-small")
    row[0].set_ylabel(f"{name}\n\ninput of the layer")
fig.suptitle("Nonzero weights of SparseL1Classifier on digits (rows: inputs)")
plt.show()

# %%
# Which pixels are used
# ---------------------
# ``support_`` marks the input features with at least one nonzero outgoing
# weight. Here as 8×8 images of the number of nonzero outgoing weights per
# pixel: where each network puts its first-layer weights.

fig, axes = plt.subplots(1, 2, figsize=(7, 3.4), layout="constrained")
for ax, (name, net) in zip(axes, nets.items()):
    per_pixel = (net.coefs_[0] != 0).sum(axis=1).reshape(8, 8)
    image = ax.imshow(per_pixel, cmap="Greys")
    ax.set_title(f"{name}\n{net.support_.sum()} of 64 pixels used", fontsize="small")
    ax.set_xticks([])
    ax.set_yticks([])
    fig.colorbar(image, ax=ax, shrink=0.8, label="nonzero outgoing weights")
plt.show()
