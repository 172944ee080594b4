"""Progress reporting for ``verbose > 0``: a tqdm bar over epochs showing the
search round, the objective, λ and the current sparsity."""

import numpy as np
import torch
from tqdm.auto import tqdm


class EpochProgress:
    """``on_epoch`` callback for :func:`sk_sparse_l1._training.train`.

    Parameters
    ----------
    weights : list of torch.Tensor
        The penalized weights, read after each epoch for the sparsity shown.
    total : int or None
        Expected number of epochs (None when a search makes it unknown).
    """

    def __init__(self, weights, total):
        self.weights = weights
        self.bar = tqdm(total=total, unit="epoch", leave=True)
        self.round = 0

    def new_round(self):
        self.round += 1

    def __call__(self, epoch, objective, lambdas):
        n_weights = sum(w.numel() for w in self.weights)
        n_zero = sum(int(w.numel() - torch.count_nonzero(w)) for w in self.weights)
        lambdas = np.unique(np.round(lambdas, 10))
        shown = f"{lambdas[0]:.3g}" if len(lambdas) == 1 else str(lambdas.tolist())
        self.bar.set_postfix(
            round=self.round,
            objective=f"{objective:.5g}",
            **{"lambda": shown},
            sparsity=f"{n_zero / n_weights:.4f}",
            refresh=False,
        )
        self.bar.update(1)

    def close(self):
        self.bar.close()
