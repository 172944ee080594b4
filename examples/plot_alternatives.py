"""
ℓ1 training against magnitude pruning, at the same sparsity and budget
======================================================================

The usual way to get a sparse network is to train it dense, remove the
smallest weights and fine-tune what is left (magnitude pruning,
:mod:`torch.nn.utils.prune`). :class:`~sk_sparse_l1.SparseL1Classifier`
instead trains with an ℓ1 penalty whose strength λ it chooses so that a
given fraction of the weights is exactly zero, then (``refit=True``, the
default) retrains the surviving weights without penalty.

This example compares the two on scikit-learn's 8×8 digits with the same
network (64 → 64 → 32 → 10, ReLU), the same initial weights, the same
optimizer (Adam, learning rate 0.003, batches of 64) and the same number of
epochs in total:

- **ours**: ``target_sparsity=s``; ``max_iter=40`` epochs of search and
  ``max_iter // 2 = 20`` epochs of refit, 60 in all;
- **pruning**: 30 epochs dense, global magnitude pruning of all weight
  matrices to ``s`` (``prune.global_unstructured`` with ``L1Unstructured``),
  30 epochs of fine-tuning with the zeros held by the pruning mask.

``benchmarks/bench_alternatives.py`` runs the full comparison (four data
sets, more epochs, several seeds, dense baselines and LassoNet); its results
are in ``docs/alternatives.md``.
"""

# %%
# Data and the two methods
# ------------------------

import warnings

import matplotlib.pyplot as plt
import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler
from sklearn.utils import check_random_state
from torch.nn.utils import prune

from sk_sparse_l1 import SparseL1Classifier
from sk_sparse_l1._network import build_mlp, linear_layers

X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.25, stratify=y, random_state=0
)
scaler = StandardScaler().fit(X_train)
X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)

HIDDEN, LR, BATCH, EPOCHS, SEED = (64, 32), 0.003, 64, 60, 0
targets = [0.8, 0.9, 0.95, 0.98]


def fit_ours(target):
    with warnings.catch_warnings():
        # 40 epochs do not train to convergence; the warning says so.
        warnings.simplefilter("ignore", ConvergenceWarning)
        return SparseL1Classifier(
            HIDDEN,
            target_sparsity=target,
            learning_rate_init=LR,
            batch_size=BATCH,
            max_iter=EPOCHS * 2 // 3,
            random_state=SEED,
        ).fit(X_train, y_train)


def fit_pruned(target):
    """Dense training, global magnitude pruning, masked fine-tuning."""
    # The initial weights SparseL1Classifier(random_state=SEED) starts from.
    init_seed = int(check_random_state(SEED).randint(np.iinfo(np.int32).max))
    net = build_mlp(
        [64, *HIDDEN, 10],
        "relu",
        dtype=torch.float64,
        generator=torch.Generator().manual_seed(init_seed),
    )
    Xt, yt = torch.as_tensor(X_train), torch.as_tensor(y_train)
    optimizer = torch.optim.Adam(net.parameters(), lr=LR)
    order = torch.Generator().manual_seed(SEED)

    def train(n_epochs):
        for _ in range(n_epochs):
            permutation = torch.randperm(len(Xt), generator=order)
            for start in range(0, len(Xt), BATCH):
                batch = permutation[start : start + BATCH]
                optimizer.zero_grad()
                torch.nn.functional.cross_entropy(net(Xt[batch]), yt[batch]).backward()
                optimizer.step()

    train(EPOCHS // 2)
    linears = linear_layers(net)
    n_weights = sum(lin.weight.numel() for lin in linears)
    prune.global_unstructured(
        [(lin, "weight") for lin in linears],
        pruning_method=prune.L1Unstructured,
        amount=round(target * n_weights),
    )
    train(EPOCHS - EPOCHS // 2)
    for lin in linears:
        prune.remove(lin, "weight")
    return net


def pruned_accuracy(net, X, y):
    with torch.no_grad():
        return float((net(torch.as_tensor(X)).argmax(dim=1).numpy() == y).mean())


# %%
# Fit at each sparsity
# --------------------
# Besides the test accuracy, count the *active* hidden units (with a nonzero
# weight in and out): how the two methods spend the same number of weights.


def active_units(coefs):
    return sum(
        int(np.sum(np.any(W_in != 0, axis=0) & np.any(W_out != 0, axis=1)))
        for W_in, W_out in zip(coefs[:-1], coefs[1:])
    )


rows = []
for target in targets:
    ours = fit_ours(target)
    pruned = fit_pruned(target)
    pruned_coefs = [lin.weight.detach().numpy().T for lin in linear_layers(pruned)]
    rows.append(
        dict(
            target=target,
            ours=ours.score(X_test, y_test),
            ours_sparsity=ours.sparsity_,
            ours_units=active_units(ours.coefs_),
            pruning=pruned_accuracy(pruned, X_test, y_test),
            pruning_units=active_units(pruned_coefs),
        )
    )
    print(
        f"sparsity {target}: ours {rows[-1]['ours']:.3f} (achieved "
        f"{ours.sparsity_:.3f}, {rows[-1]['ours_units']} active units)  "
        f"pruning {rows[-1]['pruning']:.3f} ({rows[-1]['pruning_units']} "
        "active units)"
    )

# %%
# Accuracy against sparsity
# -------------------------

fig, ax = plt.subplots(figsize=(6, 4))
positions = np.arange(len(targets))
ax.plot(positions, [r["ours"] for r in rows], "o-", label="ours (ℓ1 + refit)")
ax.plot(positions, [r["pruning"] for r in rows], "s-", label="magnitude pruning")
ax.set_xticks(positions, [str(t) for t in targets])
ax.set_xlabel("fraction of zero weights")
ax.set_ylabel("test accuracy")
ax.set_title(f"digits, MLP 64-64-32-10, {EPOCHS} epochs each")
ax.grid(alpha=0.3)
ax.legend()
fig.tight_layout()
plt.show()

# %%
# With one seed and few epochs the differences at low sparsity are within
# noise; as the budget of nonzero weights shrinks, where the zeros go
# matters more. The benchmark repeats this over seeds and data sets.
