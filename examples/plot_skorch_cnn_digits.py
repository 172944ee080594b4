"""
A sparse CNN with skorch: global and per-layer target sparsity
==============================================================

The classification experiment of Shen, Wang, Xu & Yan (2024) trains a CNN on
MNIST with an ℓ1 penalty on every weight tensor, at a single λ or one λ per
layer, chosen so that the network ends at a prescribed sparsity. This example
scales it to data that ships with scikit-learn (the 8×8 digits) and trains the
CNN with skorch, the ℓ1 part coming from two callbacks of
:mod:`sk_sparse_l1.skorch`:

- :class:`~sk_sparse_l1.skorch.TargetSparsity` chooses λ during training so
  that 90% of the conv and dense weights end at exactly zero (one λ), or so
  that each layer ends at its own sparsity (one λ per layer);
- :class:`~sk_sparse_l1.skorch.ProximalL1` (not used here) trains at a λ you
  give.

Both soft-threshold the conv and dense weights after every Adam step, with
the threshold taken in Adam's own metric so that λ keeps its meaning; biases
are never touched. We compare the dense CNN with the globally and the
layer-wise sparse ones: nonzero weights per layer, test accuracy and
training time. The how-to :doc:`/howto_skorch` explains the callbacks.
"""

# %%
# Data and network
# ----------------
# Digits as 1×8×8 images scaled to [0, 1]; a quarter held out for testing.
# The CNN is conv → pool → conv → pool → dense → dense with ReLU, 22,416
# weights in four tensors.

import time

import matplotlib.pyplot as plt
import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from skorch import NeuralNetClassifier
from torch import nn

from sk_sparse_l1.skorch import TargetSparsity

X, y = load_digits(return_X_y=True)
X = (X / 16).astype(np.float32).reshape(-1, 1, 8, 8)
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.25, stratify=y, random_state=0
)


class CNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, kernel_size=3, padding=1)  # 8×8 → 8×8
        self.conv2 = nn.Conv2d(16, 32, kernel_size=3, padding=1)  # 4×4 → 4×4
        self.fc1 = nn.Linear(32 * 2 * 2, 128)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, X):
        X = nn.functional.max_pool2d(torch.relu(self.conv1(X)), 2)
        X = nn.functional.max_pool2d(torch.relu(self.conv2(X)), 2)
        return self.fc2(torch.relu(self.fc1(X.flatten(1))))


LAYERS = ["conv1", "conv2", "fc1", "fc2"]
# Tiny convolutions run fastest on a single thread.
torch.set_num_threads(1)


def make_net(callbacks=()):
    return NeuralNetClassifier(
        CNN,
        criterion=nn.CrossEntropyLoss,
        optimizer=torch.optim.Adam,
        lr=0.01,
        max_epochs=30,
        batch_size=64,
        iterator_train__shuffle=True,
        train_split=None,
        callbacks=list(callbacks),
        verbose=0,
    )


# %%
# Three trainings
# ---------------
# Each starts from the same initialization (``torch.manual_seed``: skorch
# draws the initial weights from torch's global generator) and 30 epochs.
# The per-layer targets keep about as many weights in total as the global
# 90% target, but decide where: the small first convolution stays half
# dense, the large first dense layer is pruned hardest.

TARGETS = {
    "dense": None,
    "global 90%": 0.9,
    "per layer": [0.5, 0.85, 0.95, 0.7],
}

results = {}
for name, target in TARGETS.items():
    callbacks = [] if target is None else [("ts", TargetSparsity(target))]
    net = make_net(callbacks)
    torch.manual_seed(0)
    start = time.perf_counter()
    net.fit(X_train, y_train)
    elapsed = time.perf_counter() - start
    weights = [getattr(net.module_, layer).weight for layer in LAYERS]
    results[name] = {
        "net": net,
        "nonzeros": np.array([int(torch.count_nonzero(w)) for w in weights]),
        "sizes": np.array([w.numel() for w in weights]),
        "accuracy": float(np.mean(net.predict(X_test) == y_test)),
        "time": elapsed,
        "alpha": None if target is None else dict(net.callbacks_)["ts"].alpha_,
    }

# %%
# Nonzero weights, accuracy and time
# ----------------------------------

print(f"{'':12s}" + "".join(f"{layer:>8s}" for layer in LAYERS), end="")
print(f"{'total':>8s}{'sparsity':>10s}{'test acc':>10s}{'time':>8s}")
for name, r in results.items():
    sparsity = 1 - r["nonzeros"].sum() / r["sizes"].sum()
    print(f"{name:12s}" + "".join(f"{k:8d}" for k in r["nonzeros"]), end="")
    print(
        f"{r['nonzeros'].sum():8d}{sparsity:10.3f}{r['accuracy']:10.3f}"
        f"{r['time']:7.1f}s"
    )
for name, r in results.items():
    if r["alpha"] is not None:
        print(f"λ ({name}): {np.round(r['alpha'], 6)}")

# %%
# Per-layer sparsity, and how λ was found
# ---------------------------------------
# Left: the fraction of zero weights in each layer; dashes mark the per-layer
# targets. With one global λ, the ℓ1 penalty itself decides how the 90% is
# shared between the layers. Right: the global run's sparsity and λ per
# epoch, as recorded in ``net.history``. The callback runs the estimators'
# search over ``max_epochs``: a first epoch without penalty (λ recorded as
# 0), then proximal steps with λ rising along its warm-up until it holds
# where the forecast count is the target (``alpha_``), then a refit of the
# kept weights without penalty (λ recorded as 0 again), zeros held fixed.

fig, (ax_bars, ax_path) = plt.subplots(1, 2, figsize=(11, 4))
width = 0.38
positions = np.arange(len(LAYERS))
for offset, name in [(-0.5, "global 90%"), (0.5, "per layer")]:
    r = results[name]
    ax_bars.bar(
        positions + offset * width,
        1 - r["nonzeros"] / r["sizes"],
        width,
        label=f"{name} (test accuracy {r['accuracy']:.3f})",
    )
ax_bars.hlines(
    TARGETS["per layer"], positions, positions + width, colors="k", linestyles="--"
)
ax_bars.set_xticks(positions, LAYERS)
ax_bars.set_ylabel("fraction of zero weights")
ax_bars.set_ylim(0, 1.05)
ax_bars.legend(loc="lower right", fontsize=8)
ax_bars.set_title(
    f"Sparsity per layer (dense CNN: test accuracy {results['dense']['accuracy']:.3f})"
)

history = results["global 90%"]["net"].history
epochs = np.asarray(history[:, "epoch"])
lambdas = np.asarray(history[:, "alpha"], dtype=float)
ax_path.plot(epochs, history[:, "sparsity"], "o-", ms=3, label="sparsity")
ax_path.axhline(0.9, color="k", ls="--", lw=1, label="target")
ax_path.set_xlabel("epoch")
ax_path.set_ylabel("fraction of zero weights")
ax_path.set_ylim(0, 1.05)
ax_lambda = ax_path.twinx()
l1_epochs = lambdas > 0
ax_lambda.plot(
    epochs[l1_epochs], lambdas[l1_epochs], "s", ms=4, color="C3", label="λ (ℓ1 phase)"
)
ax_lambda.set_ylabel("λ")
ax_lambda.set_ylim(0, 1.2 * max(lambdas.max(), 1e-12))
ax_path.set_title("Global target: sparsity and λ during training")
ax_path.legend(handles=ax_path.get_lines() + ax_lambda.get_lines(), loc="center right")
fig.tight_layout()
plt.show()
