"""Progress reporting for ``verbose > 0``.

``verbose=1`` shows a tqdm bar over the epochs of the fit (its total is the
most epochs the fit may run), with the objective, λ and the current
sparsity; ``verbose >= 2`` prints one line per epoch instead, in the format
of scikit-learn's MLP (``Iteration 3, loss = 0.41``).
"""

import numpy as np
from tqdm.auto import tqdm

from sk_sparse_l1._network import count_nonzero


def _sparsity(weights):
    n_weights = sum(w.numel() for w in weights)
    return (n_weights - sum(count_nonzero(weights))) / n_weights


def _shown_lambdas(lambdas):
    if lambdas is None:
        return "-"
    lambdas = np.unique(np.round(lambdas, 10))
    return f"{lambdas[0]:.3g}" if len(lambdas) == 1 else str(lambdas.tolist())


class EpochProgress:
    """``on_epoch`` callback of :class:`sk_sparse_l1._trainer.Trainer`.

    Parameters
    ----------
    verbose : int
        1 for a progress bar, 2 or more for a line per epoch.
    total : int
        Most epochs the fit may run.
    first_epoch : int, default=0
        Epochs already run before (``partial_fit`` numbers its epochs on).
    """

    def __init__(self, verbose, total, first_epoch=0):
        self.lines = verbose >= 2
        self.epoch = first_epoch
        self.bar = None if self.lines else tqdm(total=total, unit="epoch")

    def __call__(self, objective, lambdas, weights):
        self.epoch += 1
        if self.lines:
            print(f"Iteration {self.epoch}, loss = {objective:.8f}")
            return
        self.bar.set_postfix(
            objective=f"{objective:.5g}",
            **{"lambda": _shown_lambdas(lambdas)},
            sparsity=f"{_sparsity(weights):.4f}",
            refresh=False,
        )
        self.bar.update(1)

    def close(self):
        if self.bar is not None:
            self.bar.close()
