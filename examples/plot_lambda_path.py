"""
Sparsity and test score along the λ path
========================================

A :class:`~sk_sparse_l1.SparseL1Regressor` minimizes the mean squared error
plus ``λ · Σ_j ‖W_j‖₁``. Training at a fixed λ (``alpha``) and sweeping λ
over a grid traces the network's *λ path*, as ``LassoCV`` traces a linear
model's: the larger λ, the more weights are exactly zero. Here a network with
one hidden layer of 32 units is fitted to scikit-learn's diabetes data
(10 features, 442 patients) at 17 values of λ, all from the same
initialization and data order (``random_state=0``).

On these few samples an unpenalized network overfits badly; the ℓ1 penalty
is also a regularizer, and the test score peaks with most weights at zero.
"""

# %%
# Data
# ----
# Standardize the inputs *and* the target, with statistics of the training
# part only: λ multiplies a penalty that is compared with the mean squared
# error, so the same λ means the same thing whatever the target's units.

import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_diabetes
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from sk_sparse_l1 import SparseL1Regressor

X, y = load_diabetes(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, random_state=0)
x_scaler = StandardScaler().fit(X_train)
X_train, X_test = x_scaler.transform(X_train), x_scaler.transform(X_test)
y_mean, y_std = y_train.mean(), y_train.std()
y_train, y_test = (y_train - y_mean) / y_std, (y_test - y_mean) / y_std

# %%
# Fit at each λ
# -------------
# One fit per λ, 200 epochs of proximal Adam each (about a third of a second
# per fit on a laptop CPU). λ = 0 is the dense network, shown as a reference.
# ``refit=False`` keeps the ℓ1 solution itself, as a λ path should; with
# ``refit=True`` the kept weights would be retrained without penalty after
# the ℓ1 fit. 200 epochs is a fixed budget: for the smaller λ the objective
# is still improving slowly when it ends, and ``fit`` says so with a
# ``ConvergenceWarning``, silenced here for the sweep.

common = dict(
    hidden_layer_sizes=(32,),
    refit=False,
    learning_rate_init=0.01,
    max_iter=200,
    random_state=0,
)
alphas = np.logspace(-4, 0, 17)
fits = []
with warnings.catch_warnings():
    warnings.simplefilter("ignore", ConvergenceWarning)
    for alpha in np.r_[0.0, alphas]:
        reg = SparseL1Regressor(alpha=alpha, **common).fit(X_train, y_train)
        fits.append(
            {
                "sparsity": reg.sparsity_,
                "layer_sparsity": reg.layer_sparsity_,
                "n_inputs": int(reg.support_.sum()),
                "train": reg.score(X_train, y_train),
                "test": reg.score(X_test, y_test),
            }
        )
dense, path = fits[0], fits[1:]

print(f"{'lambda':>9} {'sparsity':>9} {'inputs':>7} {'train R2':>9} {'test R2':>8}")
for alpha, fit in zip([0.0, *alphas], fits):
    print(
        f"{alpha:9.2e} {fit['sparsity']:9.3f} {fit['n_inputs']:7d} "
        f"{fit['train']:9.3f} {fit['test']:8.3f}"
    )

# %%
# Asking for a sparsity instead
# -----------------------------
# With ``target_sparsity`` instead of ``alpha``, ``fit`` chooses λ itself and
# records the search in ``alphas_`` and ``sparsities_``. ``search="paper"``
# retrains from the same initialization at each trial λ, as the path above
# does, so it lands on the path. ``search="online"`` (the default) steers λ
# during a single run: it reaches the same sparsity at a smaller λ, because
# the objective is not convex and the network it ends at is a different
# stationary point, one that stays this sparse at that λ. Either way λ
# belongs to the trained network; the sparsity is what was asked for.

targeted = {}
with warnings.catch_warnings():
    # Same 200-epoch budget; whether the target was met is printed instead.
    warnings.simplefilter("ignore", ConvergenceWarning)
    for search in ["online", "paper"]:
        targeted[search] = SparseL1Regressor(
            target_sparsity=0.9, search=search, **common
        ).fit(X_train, y_train)
for search, reg in targeted.items():
    print(
        f"search={search!r:9}: sparsity {reg.sparsity_:.3f} "
        f"(target reached: {reg.target_reached_}) at λ = {reg.alpha_:.3g} after "
        f"{reg.n_search_rounds_} round(s), test R² {reg.score(X_test, y_test):.3f}"
    )

# %%
# The path
# --------
# Top: the fraction of zero weights, over the whole network and per weight
# matrix (input → hidden, hidden → output), and where the two searches for
# 90% zeros ended. Bottom: R² on the training and the test part; dotted lines
# are the dense network. Past λ ≈ 0.3 every weight is zero and the network
# predicts the mean (R² = 0).

sparsity = np.array([fit["sparsity"] for fit in path])
layer_sparsity = np.array([fit["layer_sparsity"] for fit in path])
train_r2 = np.array([fit["train"] for fit in path])
test_r2 = np.array([fit["test"] for fit in path])
best = int(np.argmax(test_r2))

fig, (ax_sparsity, ax_score) = plt.subplots(
    2, 1, figsize=(7, 6.5), sharex=True, layout="constrained"
)
ax_sparsity.semilogx(alphas, sparsity, "o-", color="k", label="all weights")
for j, label in enumerate(["input → hidden", "hidden → output"]):
    ax_sparsity.semilogx(alphas, layer_sparsity[:, j], ".--", label=label)
for (search, reg), marker in zip(targeted.items(), ["*", "P"]):
    ax_sparsity.plot(
        reg.alpha_,
        reg.sparsity_,
        marker,
        ms=12,
        color="tab:red",
        label=f"target 0.9, search={search!r}",
    )
ax_sparsity.set_ylabel("fraction of zero weights")
ax_sparsity.legend(loc="upper left", fontsize="small")

ax_score.semilogx(alphas, train_r2, "o-", color="tab:gray", label="train")
ax_score.semilogx(alphas, test_r2, "o-", color="tab:red", label="test")
ax_score.axhline(dense["train"], ls=":", color="tab:gray")
ax_score.axhline(dense["test"], ls=":", color="tab:red", label="dense (λ = 0)")
ax_score.axvline(alphas[best], color="k", lw=0.8)
ax_score.annotate(
    f"best test R² {test_r2[best]:.2f}\nat sparsity {sparsity[best]:.2f}",
    (alphas[best], test_r2[best]),
    xytext=(8, -40),
    textcoords="offset points",
)
ax_score.set_xlabel("λ (alpha)")
ax_score.set_ylabel("R²")
ax_score.set_ylim(-0.1, 1.0)
ax_score.legend(loc="lower left")
fig.suptitle("SparseL1Regressor on diabetes: the λ path")
plt.show()
