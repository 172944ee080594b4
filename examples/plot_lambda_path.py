"""
Sparsity along the λ path, and where ``target_sparsity`` lands
==============================================================

A :class:`~sk_sparse_l1.SparseL1Regressor` minimizes the mean squared error
plus ``λ · Σ_j ‖W_j‖₁``. Training at a fixed λ (``alpha``) for each value of
a grid traces the network's *λ path*, as ``LassoCV`` traces a linear
model's: the larger λ, the more weights are exactly zero. This example fits
a network with one hidden layer of 32 units to scikit-learn's diabetes data
along such a grid, all fits from the same initialization and data order
(``random_state=0``), and then asks for 90% zeros with ``target_sparsity``
instead, with each of the two searches, to see where they land on the path.
"""

# %%
# Data
# ----
# Standardize the inputs *and* the target, with statistics of the training
# part only: λ multiplies a penalty that is added to the mean squared error,
# so the same λ means the same thing whatever the target's units.

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
# One fit per λ, at most 200 epochs of proximal Adam each. At a fixed λ the
# default ``refit="auto"`` does not refit, so every fit returns the ℓ1
# network itself, as a λ path should. λ = 0 is the dense network, the
# reference. A fit that uses its whole budget while the objective still
# improves says so with a ``ConvergenceWarning``, silenced for the sweep.

common = dict(
    hidden_layer_sizes=(32,),
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
                "train": reg.score(X_train, y_train),
                "test": reg.score(X_test, y_test),
            }
        )
    # The default alpha="auto" scales λ to the data (a fraction of the mean
    # gradient magnitude of the weights of the initial network).
    auto = SparseL1Regressor(**common).fit(X_train, y_train)
dense, path = fits[0], fits[1:]

print(f"{'lambda':>9} {'sparsity':>9} {'train R2':>9} {'test R2':>8}")
for alpha, fit in zip([0.0, *alphas], fits):
    print(f"{alpha:9.2e} {fit['sparsity']:9.3f} {fit['train']:9.3f} {fit['test']:8.3f}")
print(f"alpha='auto': λ = {auto.alpha_:.3g}, sparsity {auto.sparsity_:.3f}")

# %%
# Asking for a sparsity instead
# -----------------------------
# With ``target_sparsity``, ``fit`` chooses λ itself (``alpha_``).
# ``search="paper"`` retrains from the same initialization at each trial λ,
# exactly as the fits of the path do, so its rounds (``alphas_``,
# ``sparsities_``, one row per round) are points of the path, and the λ it
# keeps is where the path crosses the target. ``search="online"`` (the
# default) raises λ along the warm-up that every fit follows and holds it
# where its forecast count is the target, in a single run: the same
# training path as a fixed-λ fit up to the hold, so its λ lies near where
# the fixed-λ path crosses the target, on it only when λ held once;
# ``alphas_`` and ``sparsities_`` record its ℓ1 epochs. Here both fits keep
# the ℓ1 network (``refit=False``) so that what is plotted is the network
# trained at ``alpha_``.

targeted = {}
with warnings.catch_warnings():
    # The same budget as the path; whether the target was met is printed.
    warnings.simplefilter("ignore", ConvergenceWarning)
    for search in ["online", "paper"]:
        targeted[search] = SparseL1Regressor(
            target_sparsity=0.9, search=search, refit=False, **common
        ).fit(X_train, y_train)
for search, reg in targeted.items():
    print(
        f"search={search!r:9}: sparsity {reg.sparsity_:.3f} "
        f"(target reached: {reg.target_reached_}) at λ = {reg.alpha_:.3g}, "
        f"{reg.n_search_rounds_} training run(s), {len(reg.loss_curve_)} epochs "
        f"in all, test R² {reg.score(X_test, y_test):.3f}"
    )

# %%
# The path
# --------
# Top: the fraction of zero weights, over the whole network and per weight
# matrix, with the rounds of the paper's search, where the two searches
# ended, and the λ of ``alpha="auto"``. Bottom: R² on the training and the
# test part; dotted lines are the dense network.

sparsity = np.array([fit["sparsity"] for fit in path])
layer_sparsity = np.array([fit["layer_sparsity"] for fit in path])
train_r2 = np.array([fit["train"] for fit in path])
test_r2 = np.array([fit["test"] for fit in path])

fig, (ax_sparsity, ax_score) = plt.subplots(
    2, 1, figsize=(7, 7), sharex=True, layout="constrained"
)
ax_sparsity.semilogx(alphas, sparsity, "o-", color="k", label="all weights")
for j, label in enumerate(["input → hidden", "hidden → output"]):
    ax_sparsity.semilogx(alphas, layer_sparsity[:, j], ".--", label=label)
paper = targeted["paper"]
ax_sparsity.plot(
    paper.alphas_[:, 0],
    paper.sparsities_[:, 0],
    "x",
    color="tab:purple",
    label="rounds of search='paper'",
)
for (search, reg), marker in zip(targeted.items(), ["*", "P"]):
    ax_sparsity.plot(
        reg.alpha_,
        reg.sparsity_,
        marker,
        ms=13,
        color="tab:red" if search == "online" else "tab:purple",
        label=f"target 0.9, search={search!r}",
    )
ax_sparsity.axhline(0.9, color="tab:red", lw=0.6, ls=":")
for ax in (ax_sparsity, ax_score):
    ax.axvline(auto.alpha_, color="tab:green", lw=1, ls="--")
ax_sparsity.plot([], [], color="tab:green", ls="--", label="alpha='auto'")
ax_sparsity.set_ylabel("fraction of zero weights")
ax_sparsity.legend(loc="upper left", fontsize="small")

ax_score.semilogx(alphas, train_r2, "o-", color="tab:gray", label="train")
ax_score.semilogx(alphas, test_r2, "o-", color="tab:red", label="test")
ax_score.axhline(dense["train"], ls=":", color="tab:gray")
ax_score.axhline(dense["test"], ls=":", color="tab:red", label="dense (λ = 0)")
ax_score.set_xlabel("λ (alpha)")
ax_score.set_ylabel("R²")
ax_score.set_ylim(-0.1, 1.0)
ax_score.legend(loc="lower left")
fig.suptitle("SparseL1Regressor on diabetes: the λ path")
plt.show()

# %%
# Reading the figure: the problem is not convex, and a λ belongs to the
# training path that reached it. The paper's search walks along the
# fixed-λ path by retraining, one full training per round; the online
# search trains once and reports the λ of the network it returns. Refitting
# from scratch at the online ``alpha_`` lands wherever the fixed-λ path is
# at that λ.
