"""A network with its data and optimizer settings, trainable at any λ: the
problem the search strategies of :mod:`sk_sparse_l1._search` drive."""

import torch

from sk_sparse_l1._network import count_nonzero
from sk_sparse_l1._training import TrainingInterrupted, train


class MLPProblem:
    """A network, its data and its optimizer settings, trainable at any λ.

    Implements the problem protocol of :mod:`sk_sparse_l1._search`.
    ``restart=True`` returns to the initial weights and the initial data
    order (the paper's rounds); ``restart=False`` continues from the current
    weights and optimizer state.
    """

    def __init__(
        self,
        network,
        data,
        *,
        make_opt,
        batch_size,
        seed,
        stopping_factory,
        on_epoch=None,
        masks=None,
    ):
        self.network = network
        self.data = data
        self.make_opt = make_opt
        self.batch_size = batch_size
        self.seed = seed
        self.stopping_factory = stopping_factory
        self.on_epoch = on_epoch
        self.masks = masks
        self._initial = network.snapshot()
        self._generator = torch.Generator().manual_seed(seed)
        self._optimizer = None

    def train(
        self, lambdas, *, restart, n_epochs, controller=None, epoch_controller=None
    ):
        if restart or self._optimizer is None:
            if restart:
                self.network.restore(self._initial)
                self._generator.manual_seed(self.seed)
            self._optimizer = self.make_opt(self.network)
        # While λ is steered the objective moves with λ: no early stopping.
        stopping = None if controller is not None else self.stopping_factory()
        if self.on_epoch is not None:
            self.on_epoch.new_round()
        run = train(
            self.network,
            self.data,
            self._optimizer,
            lambdas,
            n_epochs=n_epochs,
            batch_size=self.batch_size,
            generator=self._generator,
            stopping=stopping,
            controller=controller,
            epoch_controller=epoch_controller,
            masks=self.masks,
            on_epoch=self.on_epoch,
        )
        if run.interrupted:
            raise TrainingInterrupted(run)
        return run

    @property
    def steps_per_epoch(self):
        return -(-self.data.n_samples // self.batch_size)

    def layer_nonzeros(self):
        return count_nonzero(self.network.weights)

    def network_weights(self):
        return self.network.weights

    def gradient_magnitudes(self):
        with torch.no_grad():
            _, weight_grads, _ = self.network.loss_and_gradients(
                self.data.X, self.data.target, self.data.sample_weight
            )
        return [g.abs().cpu().numpy() for g in weight_grads]

    def snapshot(self):
        return self.network.snapshot()

    def restore(self, snapshot):
        self.network.restore(snapshot)
