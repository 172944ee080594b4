"""The training loop of the estimators: a network, its data and optimizer,
run epoch by epoch under a schedule (:mod:`sk_sparse_l1._schedule`)."""

import torch

from sk_sparse_l1._network import count_nonzero
from sk_sparse_l1._training import (
    batch_loss_and_gradients,
    check_finite_parameters,
    run_epoch,
)


class Trainer:
    """Runs schedules on one network and one training set.

    Parameters
    ----------
    network : Network
    data : TrainingData
    make_optimizer : callable
        ``make_optimizer(network)`` returns a fresh optimizer.
    batch_size : int
    generator : torch.Generator
        Shuffles the minibatches; restarts rewind it to ``seed``.
    validation_score : callable or None
        Returns the score of the current network on held-out data; when
        given, the stopping rule monitors it and the best network of the
        final phase is kept.
    """

    def __init__(
        self,
        network,
        data,
        *,
        make_optimizer,
        batch_size,
        generator,
        validation_score=None,
    ):
        self.network = network
        self.data = data
        self.make_optimizer = make_optimizer
        self.batch_size = min(batch_size, data.n_samples)
        self.generator = generator
        self.validation_score = validation_score
        # on_epoch(objective, lambdas_shown, weights) after every epoch, set
        # by the caller for progress reporting.
        self.on_epoch = None
        self.optimizer = make_optimizer(network)
        self.loss_curve = []
        self.validation_scores = []
        self.n_epochs = 0
        self.l1_snapshot = None
        self.best_score = None
        self.interrupted = False

    def run(self, schedule, max_epochs):
        """Train under ``schedule`` for at most ``max_epochs`` epochs.

        ``KeyboardInterrupt`` ends the run early, keeping the weights of the
        last completed step, and sets ``interrupted``.
        """
        best = None  # (score, snapshot) of the final phase
        try:
            for _ in range(max_epochs):
                loss = run_epoch(
                    self.network,
                    self.data,
                    self.optimizer,
                    schedule,
                    batch_size=self.batch_size,
                    generator=self.generator,
                )
                score = None
                if self.validation_score is not None:
                    score = self.validation_score()
                    self.validation_scores.append(score)
                    if schedule.final_phase and (best is None or score > best[0]):
                        best = (score, self.network.snapshot())
                action = schedule.end_epoch(loss, self.network.weights, score)
                self.n_epochs += 1
                self.loss_curve.append(schedule.last_objective)
                if self.on_epoch is not None:
                    self.on_epoch(
                        schedule.last_objective, schedule.alpha, self.network.weights
                    )
                if action == "refit":
                    self.start_refit()
                elif action == "stop":
                    break
        except KeyboardInterrupt:
            self.interrupted = True
        check_finite_parameters(self.network)
        if best is not None:
            self.network.restore(best[1])
            self.best_score = best[0]

    def start_refit(self):
        """Keep the ℓ1 network, then retrain its support with a fresh
        optimizer: restarting Adam's moments gives the refit a fresh
        learning-rate schedule (learning-rate rewinding, Renda et al. 2020)."""
        self.l1_snapshot = self.network.snapshot()
        self.optimizer = self.make_optimizer(self.network)

    def restart(self, initial, seed):
        """Back to the weights ``initial`` and the data order of ``seed``,
        with a fresh optimizer: the start of a round of the paper's search."""
        self.network.restore(initial)
        self.generator.manual_seed(seed)
        self.optimizer = self.make_optimizer(self.network)

    def layer_nonzeros(self):
        return count_nonzero(self.network.weights)

    def gradient_magnitudes(self):
        """``|∂L/∂W_j|`` of the unpenalized mean loss over the whole training
        set, per layer, as numpy arrays."""
        with torch.no_grad():
            _, weight_grads, _ = batch_loss_and_gradients(self.network, self.data, None)
        return [g.abs().cpu().numpy() for g in weight_grads]
