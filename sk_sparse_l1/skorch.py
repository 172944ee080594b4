"""Proximal ℓ1 training and target sparsity for skorch nets, as callbacks.

For users who bring their own ``nn.Module`` (convolutional layers, batch
normalization, …) and train it with skorch. Two callbacks:

- :class:`ProximalL1` trains at a given λ: after every optimizer step it
  soft-thresholds the penalized weights at ``λ · d``, where ``d`` is the step
  the optimizer applied to each coordinate (``lr`` for plain SGD,
  ``lr / (√v̂ + ε)`` for Adam). With the threshold in the optimizer's own
  metric the fixed points of training are the first-order optimality
  conditions of ``L(Θ) + Σ_j λ_j ‖W_j‖₁``.
- :class:`TargetSparsity` chooses λ during the same training run so that the
  net ends at a prescribed global or per-layer fraction of zero weights.

Both are plain skorch callbacks: ``__init__`` stores its arguments, state is
created in ``on_train_begin``, and they clone, ``set_params`` and pickle with
the net, so ``GridSearchCV`` can search ``callbacks__<name>__<param>``.
"""

import math
import warnings
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import BaseEstimator
from sklearn.exceptions import ConvergenceWarning

try:
    from skorch.callbacks import Callback
    from skorch.dataset import get_len, unpack_data
except ImportError as exc:
    raise ImportError(
        "sk_sparse_l1.skorch needs skorch, which is not installed: "
        "pip install sk_sparse_l1[skorch]"
    ) from exc

from sk_sparse_l1._base import _check_fractions
from sk_sparse_l1._controller import QuantileController
from sk_sparse_l1._lambda_search import (
    group_counts,
    next_lambda,
    order_statistic_lambda,
    target_nonzeros,
    within_tolerance,
)
from sk_sparse_l1._network import count_nonzero, default_penalized_parameters
from sk_sparse_l1._prox import adam_step_sizes, soft_threshold_
from sk_sparse_l1._search import _Tracker

__all__ = ["ProximalL1", "TargetSparsity"]


# --------------------------------------------------------------------------
# The optimizer's metric


def _describe_group(group, keys):
    return ", ".join(f"{key}={group[key]!r}" for key in keys if key in group)


def _check_param_group(optimizer, group, name):
    """Raise a ValueError unless ``group`` of ``optimizer`` is a configuration
    whose per-coordinate step size is known (see :class:`ProximalL1`)."""
    kind = type(optimizer).__name__
    problems = []
    if group.get("maximize", False):
        problems.append("maximize=True")
    if group.get("weight_decay", 0) != 0:
        # Decoupled decay (AdamW) shrinks weights outside the gradient step, so
        # fixed points no longer satisfy the ℓ1 optimality conditions; coupled
        # decay would also put an ℓ2 penalty on the biases of the group.
        problems.append(f"weight_decay={group['weight_decay']!r}")
    if isinstance(optimizer, torch.optim.SGD):
        if group.get("momentum", 0) != 0:
            problems.append(f"momentum={group['momentum']!r}")
        keys = ("lr", "momentum", "weight_decay")
    elif isinstance(optimizer, torch.optim.Adam):  # AdamW is a subclass
        if group.get("amsgrad", False):
            problems.append("amsgrad=True")
        keys = ("lr", "betas", "eps", "weight_decay", "amsgrad")
    else:
        raise ValueError(
            f"The proximal ℓ1 step needs the step size the optimizer applies to "
            f"each weight, known for torch.optim.SGD without momentum and "
            f"torch.optim.Adam; got {kind} for parameter {name!r}. Use "
            f"optimizer=torch.optim.SGD (optimizer__momentum=0) or "
            f"optimizer=torch.optim.Adam."
        )
    if problems:
        raise ValueError(
            f"The proximal ℓ1 step supports torch.optim.SGD with momentum=0 and "
            f"torch.optim.Adam with weight_decay=0 and amsgrad=False; parameter "
            f"{name!r} is optimized by {kind}({_describe_group(group, keys)}), "
            f"which has {', '.join(problems)}. With momentum, decoupled weight "
            f"decay or AMSGrad the fixed points of proximal training are not "
            f"the optimality conditions of the ℓ1 objective."
        )


def _find_param_groups(net, weights, names):
    """The optimizer and parameter group that update each tensor of
    ``weights``; raises a ValueError if one is not optimized or the
    optimizer is not supported."""
    located = {}
    for attr in getattr(net, "_optimizers", ["optimizer"]):
        optimizer = getattr(net, attr + "_", None)
        if optimizer is None:
            continue
        for group in optimizer.param_groups:
            for p in group["params"]:
                located[id(p)] = (optimizer, group)
    found = []
    for w, name in zip(weights, names):
        if id(w) not in located:
            raise ValueError(
                f"Parameter {name!r} is penalized but no optimizer of the net "
                f"updates it: include it in the optimizer or leave it out of "
                f"`params`."
            )
        optimizer, group = located[id(w)]
        _check_param_group(optimizer, group, name)
        found.append(located[id(w)])
    return found


class _OptimizerMetric:
    """The penalized tensors of a net and the step sizes its optimizer applied.

    Offers the ``weights`` / ``step_sizes()`` interface of
    :mod:`sk_sparse_l1._optim` that :class:`QuantileController` reads, and the
    proximal map taken in the same metric. Learning rates are read before the
    optimizer step (:meth:`record_learning_rates`), so that a scheduler that
    changes them after the step, in its own ``on_batch_end``, does not change
    the threshold of the step just taken.
    """

    def __init__(self, parameters, param_groups):
        self.parameters = parameters
        # Detached views share storage: in-place thresholding writes through.
        self.weights = [p.detach() for p in parameters]
        self.param_groups = param_groups
        self._lrs = None

    def record_learning_rates(self):
        self._lrs = [float(group["lr"]) for _, group in self.param_groups]

    def step_sizes(self):
        lrs = self._lrs
        if lrs is None:
            lrs = [float(group["lr"]) for _, group in self.param_groups]
        sizes = []
        for p, (optimizer, group), lr in zip(self.parameters, self.param_groups, lrs):
            if p.grad is None:
                # The optimizer skipped this tensor: no step, no shrinkage.
                sizes.append(0.0)
            elif isinstance(optimizer, torch.optim.Adam):
                state = optimizer.state[p]
                sizes.append(
                    adam_step_sizes(
                        state["exp_avg_sq"], float(state["step"]), lr,
                        group["betas"][1], group["eps"],
                    )
                )
            else:
                sizes.append(lr)
        return sizes

    def prox_(self, lambdas):
        for w, lam, d in zip(self.weights, lambdas, self.step_sizes()):
            if lam > 0:
                soft_threshold_(w, lam * d)


def _penalized_parameters(net, params):
    """Names and tensors of the penalized parameters of ``net.module_``."""
    named = dict(net.module_.named_parameters())
    if params is None:
        weights = default_penalized_parameters(net.module_)
        name_of = {id(p): name for name, p in named.items()}
        names = [name_of[id(w)] for w in weights]
    else:
        names = [params] if isinstance(params, str) else list(params)
        unknown = [name for name in names if name not in named]
        if unknown:
            raise ValueError(
                f"params names parameters of net.module_: {unknown} are not "
                f"among them; expected names from {sorted(named)}."
            )
        weights = [named[name] for name in names]
    if not weights:
        raise ValueError(
            "No parameter to penalize: net.module_ has no Linear or Conv layer; "
            "name the tensors to penalize with `params`."
        )
    return names, weights


# --------------------------------------------------------------------------
# The callbacks


class _ProximalCallback(Callback):
    """Shared machinery: which tensors are penalized, the proximal step after
    every optimizer step, sparsity bookkeeping. Subclasses say which λ each
    step uses (:meth:`_step_lambdas`)."""

    # skorch's Callback takes every attribute not ending in "_" for a
    # parameter; take them from the signature of __init__ instead, as
    # scikit-learn does, so working state can be private.
    @classmethod
    def _get_param_names(cls):
        return BaseEstimator._get_param_names.__func__(cls)

    def on_train_begin(self, net, X=None, y=None, **kwargs):
        names, parameters = _penalized_parameters(net, self.params)
        groups = _find_param_groups(net, parameters, names)
        self._metric = _OptimizerMetric(parameters, groups)
        self.penalized_params_ = names
        self.layer_sizes_ = np.array([p.numel() for p in parameters])

    def on_grad_computed(
        self, net, named_parameters, X=None, y=None, training=None, **kwargs
    ):
        self._metric.record_learning_rates()

    def on_batch_end(self, net, batch=None, training=None, **kwargs):
        if not training:
            return
        with torch.no_grad():
            self._metric.prox_(self._step_lambdas())

    def on_epoch_end(self, net, dataset_train=None, dataset_valid=None, **kwargs):
        self._record_sparsity()
        net.history.record("sparsity", float(self.sparsity_))

    def on_train_end(self, net, X=None, y=None, **kwargs):
        self._record_sparsity()

    def _record_sparsity(self):
        counts = np.array(count_nonzero(self._metric.weights))
        self.layer_n_nonzero_ = counts
        self.n_nonzero_ = int(counts.sum())
        self.layer_sparsity_ = 1.0 - counts / self.layer_sizes_
        self.sparsity_ = 1.0 - self.n_nonzero_ / int(self.layer_sizes_.sum())

    def _step_lambdas(self):
        raise NotImplementedError

    def __getstate__(self):
        # The working state holds the net's tensors and optimizer; skorch
        # pickles those itself, and on_train_begin rebuilds the state.
        state = self.__dict__.copy()
        state.pop("_metric", None)
        return state


def _check_alpha(alpha, n_tensors):
    if np.ndim(alpha) == 0:
        alphas = [alpha]
    else:
        alphas = list(np.asarray(alpha, dtype=object).ravel())
        if np.ndim(alpha) != 1 or len(alphas) != n_tensors:
            raise ValueError(
                f"alpha must be a float or one value per penalized tensor: "
                f"expected {n_tensors} values, got {np.shape(alpha)}."
            )
    for a in alphas:
        ok = isinstance(a, Real) and not isinstance(a, bool)
        if not ok or not math.isfinite(a) or a < 0:
            raise ValueError(f"alpha must be finite and non-negative, got {alpha!r}.")
    return [float(a) for a in alphas] * (n_tensors if len(alphas) == 1 else 1)


class ProximalL1(_ProximalCallback):
    """Proximal ℓ1 training at a fixed λ, as a skorch callback.

    Minimizes ``L(Θ) + Σ_j α_j ‖W_j‖₁``: after every optimizer step, each
    penalized tensor ``W_j`` is soft-thresholded,
    ``w ← sign(w) · max(|w| − α_j · d, 0)``, where ``d`` is the step size the
    optimizer applied to that coordinate:

    - ``torch.optim.SGD`` with ``momentum=0``: ``d = lr`` (proximal SGD);
    - ``torch.optim.Adam`` (or ``AdamW`` with ``weight_decay=0``),
      ``amsgrad=False``: ``d = lr / (√v̂ + ε)``, read from the optimizer's
      state. Fixed points then satisfy ``|m̂_k| = α_j`` on nonzero weights and
      ``|m̂_k| ≤ α_j`` on zeros, the optimality conditions of the objective
      with Adam's averaged gradient ``m̂``.

    Any other optimizer or configuration (momentum, weight decay, AMSGrad,
    ``maximize``) raises a ValueError at the start of training: its step
    size per coordinate is unknown or its fixed points are not those of the
    ℓ1 objective. The learning rate is read before each step, so batch-level
    learning-rate schedulers are allowed.

    Parameters
    ----------
    alpha : float or sequence of float, default=1e-4
        Strength λ of the ℓ1 penalty, one value for every penalized tensor or
        one per tensor (in the order of ``params``).
    params : list of str, default=None
        Names of the parameters of ``net.module_`` to penalize (as in
        ``named_parameters()``). By default the weights of every ``Linear``
        and ``Conv*`` layer; biases and normalization layers are never
        penalized by default.

    Attributes
    ----------
    penalized_params_ : list of str
        Names of the penalized tensors.
    layer_sizes_ : ndarray of int
        Number of entries of each penalized tensor.
    layer_n_nonzero_ : ndarray of int
        Nonzero entries of each penalized tensor at the last epoch's end.
    n_nonzero_ : int
        Their sum.
    layer_sparsity_ : ndarray of float
        Fraction of zeros in each penalized tensor.
    sparsity_ : float
        Fraction of zeros over all penalized tensors; also recorded in
        ``net.history`` as ``"sparsity"`` after every epoch.

    Examples
    --------
    >>> import numpy as np, torch
    >>> from skorch import NeuralNetRegressor
    >>> from sk_sparse_l1.skorch import ProximalL1
    >>> X = np.random.RandomState(0).randn(200, 10).astype(np.float32)
    >>> y = (X[:, :1] - 2 * X[:, 1:2]).astype(np.float32)
    >>> _ = torch.manual_seed(0)
    >>> net = NeuralNetRegressor(
    ...     torch.nn.Linear(10, 1), optimizer=torch.optim.SGD, lr=0.1,
    ...     max_epochs=50, batch_size=200, train_split=None, verbose=0,
    ...     callbacks=[("l1", ProximalL1(alpha=0.05))],
    ... ).fit(X, y)
    >>> np.flatnonzero(net.module_.weight.detach().numpy())
    array([0, 1])
    """

    def __init__(self, alpha=1e-4, *, params=None):
        self.alpha = alpha
        self.params = params

    def on_train_begin(self, net, X=None, y=None, **kwargs):
        super().on_train_begin(net, X=X, y=y, **kwargs)
        self._alphas = _check_alpha(self.alpha, len(self.penalized_params_))

    def _step_lambdas(self):
        return self._alphas



class _SkorchProblem:
    """The parts of the search problem protocol of :mod:`sk_sparse_l1._search`
    that a callback can offer: it cannot train (skorch owns the loop), but it
    can count, take clean gradients, and save and restore the module."""

    def __init__(self, net, metric, dataset):
        self.net = net
        self.metric = metric
        self.dataset = dataset

    def layer_nonzeros(self):
        return count_nonzero(self.metric.weights)

    def gradient_magnitudes(self):
        """``|∂L/∂W_j|`` of the unpenalized mean training loss, over the whole
        training set, with the module in eval mode (no dropout, running
        normalization statistics, which forward passes then leave alone)."""
        net, parameters = self.net, self.metric.parameters
        module = net.module_
        was_training = module.training
        module.eval()
        totals = [torch.zeros_like(p) for p in parameters]
        n_seen = 0
        try:
            for batch in net.get_iterator(self.dataset, training=False):
                Xi, yi = unpack_data(batch)
                with torch.enable_grad():
                    loss = net.get_loss(net.infer(Xi), yi, X=Xi, training=False)
                    grads = torch.autograd.grad(loss, parameters, allow_unused=True)
                n_batch = get_len(Xi)
                for total, g in zip(totals, grads):
                    if g is not None:
                        total.add_(g, alpha=n_batch)
                n_seen += n_batch
        finally:
            module.train(was_training)
        return [(total / max(n_seen, 1)).abs().cpu().numpy() for total in totals]

    def snapshot(self):
        return {k: v.detach().clone() for k, v in self.net.module_.state_dict().items()}

    def restore(self, snapshot):
        self.net.module_.load_state_dict(snapshot)


class TargetSparsity(_ProximalCallback):
    """Proximal ℓ1 training with λ chosen for a prescribed sparsity.

    Trains like :class:`ProximalL1` (same optimizers, same threshold in the
    optimizer's metric) and chooses λ during the same run, as the
    estimators' ``search="online"`` does, over ``net.max_epochs`` epochs:

    1. *Steer*, for the first ``controller_fraction · max_epochs`` epochs: λ
       is set at every step so that exactly the target number of weights
       survive the proximal map (``QuantileController``). The target is
       lowered from dense to its final value over the first
       ``ramp_fraction`` of these epochs, so that the net is not pruned to
       the target at its random initialization.
    2. *Polish*: λ is fixed to the controller's average over its last epoch,
       so the net is trained at a constant λ and satisfies the optimality
       conditions for that λ, not merely the sparsity.
    3. *Correct*: the sparsity reached at a fixed λ drifts from the target
       while the net converges. Every ``correction_fraction · max_epochs``
       epochs a group outside ``sparsity_tol`` gets a new λ by the paper's
       bracket/median rule (gradient magnitudes of the unpenalized training
       loss at the current net), training continuing warm.

    At the end the final net is kept if every group is within
    ``sparsity_tol``; otherwise the net closest to the target among those
    seen at the end of a polish or correction round is restored, and a
    ``ConvergenceWarning`` is raised if even that one misses.

    Sparsity is the fraction of exactly-zero entries of the penalized tensors
    (global), or of each tensor (per layer).

    Parameters
    ----------
    target_sparsity : float or sequence of float, default=0.9
        Fraction of zeros wanted over all penalized tensors (one λ shared by
        all), or one fraction per penalized tensor (one λ each), in [0, 1).
    params : list of str, default=None
        Names of the parameters of ``net.module_`` to penalize; by default the
        weights of every ``Linear`` and ``Conv*`` layer.
    controller_fraction : float, default=0.5
        Fraction of ``net.max_epochs`` during which λ is steered, in (0, 1].
    ramp_fraction : float, default=0.5
        Fraction of the steering epochs over which the target is lowered
        from dense (cubically, as in gradual magnitude pruning), in [0, 1].
    correction_fraction : float, default=0.1
        Length of a correction round as a fraction of ``net.max_epochs``, in
        (0, 1].
    sparsity_tol : float, default=0.01
        Largest acceptable absolute difference between achieved and target
        sparsity (a fraction of the group's weights).

    Attributes
    ----------
    alpha_ : float or ndarray of shape (n_tensors,)
        The λ the returned net was trained at (per tensor for per-layer
        targets).
    alphas_ : ndarray of shape (n_rounds, n_groups)
        λ of each polish and correction round.
    sparsities_ : ndarray of shape (n_rounds, n_groups)
        Sparsity reached at the end of each round.
    target_n_nonzero_ : ndarray of int
        Nonzero count wanted in each group (one group for a global target).
    target_reached_ : bool
        Whether every group of the returned net is within ``sparsity_tol``.
    penalized_params_, layer_sizes_, layer_n_nonzero_, n_nonzero_, \
layer_sparsity_, sparsity_
        As in :class:`ProximalL1`, for the returned net.

    Notes
    -----
    The schedule follows ``net.max_epochs``: training for another number of
    epochs (``fit(..., epochs=n)``) or stopping early (``EarlyStopping``)
    shortens or skips the later phases. Every ``partial_fit`` call starts the
    schedule again from the current weights.
    """

    def __init__(
        self, target_sparsity=0.9, *, params=None, controller_fraction=0.5,
        ramp_fraction=0.5, correction_fraction=0.1, sparsity_tol=0.01,
    ):
        self.target_sparsity = target_sparsity
        self.params = params
        self.controller_fraction = controller_fraction
        self.ramp_fraction = ramp_fraction
        self.correction_fraction = correction_fraction
        self.sparsity_tol = sparsity_tol

    # ------------------------------------------------------------ schedule

    def _check_params(self):
        _check_fractions("target_sparsity", self.target_sparsity)
        if np.ndim(self.target_sparsity) > 1:
            raise ValueError(
                "target_sparsity must be a float or a 1-D sequence with one "
                f"fraction per penalized tensor, got shape "
                f"{np.shape(self.target_sparsity)}."
            )
        for name, low, high, closed_low in [
            ("controller_fraction", 0, 1, False),
            ("ramp_fraction", 0, 1, True),
            ("correction_fraction", 0, 1, False),
            ("sparsity_tol", 0, 1, False),
        ]:
            value = getattr(self, name)
            ok = isinstance(value, Real) and not isinstance(value, bool)
            ok = ok and (low <= value if closed_low else low < value) and value <= high
            if not ok:
                interval = f"{'[' if closed_low else '('}{low}, {high}]"
                raise ValueError(f"{name} must be in {interval}, got {value!r}.")

    def _plan(self, n_epochs):
        """Epoch counts of the phases for a run of ``n_epochs``."""
        self._steer_epochs = max(1, round(self.controller_fraction * n_epochs))
        # The ramp ends before the last steered epoch, the one averaged.
        self._ramp_epochs = min(
            self.ramp_fraction * self._steer_epochs, self._steer_epochs - 1
        )
        fixed = n_epochs - self._steer_epochs
        round_epochs = max(1, round(self.correction_fraction * n_epochs))
        # Rounds end at the last epoch; the polish round takes the remainder.
        self._round_ends = set(
            range(n_epochs - 1, self._steer_epochs + round_epochs - 2, -round_epochs)
        ) if fixed > 0 else set()

    def on_train_begin(self, net, X=None, y=None, **kwargs):
        self._check_params()
        super().on_train_begin(net, X=X, y=y, **kwargs)
        # Raises a ValueError naming the expected length for a wrong sequence.
        targets, groups = target_nonzeros(self.target_sparsity, self.layer_sizes_)
        self.target_n_nonzero_ = targets
        self._groups = groups
        self._group_sizes = group_counts(self.layer_sizes_, groups)
        self._controller = QuantileController(groups, targets, len(self.layer_sizes_))
        n_epochs = net.max_epochs
        if not isinstance(n_epochs, Integral) or n_epochs < 1:
            raise ValueError(f"net.max_epochs must be a positive int, got {n_epochs!r}.")
        self._plan(n_epochs)
        self._epoch = 0
        self._progress = 0.0
        self._group_lambdas = None  # λ of the fixed phases, one per group
        self._tracker = None
        self._last_lambdas = [0.0] * len(self.layer_sizes_)

    def on_epoch_begin(self, net, dataset_train=None, dataset_valid=None, **kwargs):
        self._n_train = max(get_len(dataset_train), 1) if dataset_train else None
        self._seen = 0
        if self._epoch == self._steer_epochs - 1:
            # λ is averaged over the last steered epoch only, once settled.
            self._controller.reset_average()

    def on_batch_end(self, net, batch=None, training=None, **kwargs):
        if training and self._epoch < self._steer_epochs:
            self._seen += _batch_len(batch)
            self._controller.targets = self._ramped_targets()
        super().on_batch_end(net, batch=batch, training=training, **kwargs)

    def _ramped_targets(self):
        final = self.target_n_nonzero_
        if self._ramp_epochs <= 0 or self._n_train is None:
            return [int(t) for t in final]
        progress = (self._epoch + self._seen / self._n_train) / self._ramp_epochs
        keep = (1.0 - min(progress, 1.0)) ** 3
        return [
            int(round(t + (n - t) * keep)) for t, n in zip(final, self._group_sizes)
        ]

    def _step_lambdas(self):
        if self._group_lambdas is None:
            self._last_lambdas = self._controller(self._metric)
        else:
            self._last_lambdas = self._tracker.layer_lambdas(self._group_lambdas)
        return self._last_lambdas

    def on_epoch_end(self, net, dataset_train=None, dataset_valid=None, **kwargs):
        epoch = self._epoch
        self._epoch += 1
        if epoch == self._steer_epochs - 1:
            self._start_fixed_phase(net, dataset_train)
        elif epoch in self._round_ends and self._tracker is not None:
            self._end_round()
        super().on_epoch_end(net, dataset_train, dataset_valid, **kwargs)
        lambdas = [self._last_lambdas[g[0]] for g in self._groups]
        net.history.record("alpha", lambdas if len(lambdas) > 1 else lambdas[0])

    def _start_fixed_phase(self, net, dataset_train):
        problem = _SkorchProblem(net, self._metric, dataset_train)
        self._tracker = _Tracker(
            problem, self.target_n_nonzero_, self._groups, self._group_sizes,
            self.sparsity_tol,
        )
        layer_lambdas = self._controller.average_lambdas
        self._group_lambdas = [layer_lambdas[g[0]] for g in self._groups]

    def _end_round(self):
        """Record the round just finished; give a new λ to each group
        outside the tolerance."""
        ok = self._tracker.evaluate(self._group_lambdas, run=self._epoch)
        import os
        if os.environ.get("DBG"): print("round end", self._epoch, ok, self._tracker.result.errors[-1], self._group_lambdas)
        if not ok:
            tracker = self._tracker
            gamma = tracker.problem.gradient_magnitudes()
            errors = tracker.group_errors()
            updated = []
            for g, (group, history) in enumerate(zip(tracker.groups, tracker.histories)):
                if errors[g] <= tracker.tol:
                    updated.append(self._group_lambdas[g])
                    continue
                group_gamma = np.concatenate([gamma[j].ravel() for j in group])
                if os.environ.get("RULE") == "os":
                    updated.append(order_statistic_lambda(group_gamma, int(tracker.targets[g])))
                else:
                    updated.append(next_lambda(history, group_gamma, expansion=float(os.environ.get("EXP", "10"))))
            self._group_lambdas = updated

    # ----------------------------------------------------------------- end

    def on_train_end(self, net, X=None, y=None, **kwargs):
        tracker = self._tracker
        if tracker is None:
            # Stopped while steering: λ is the controller's running average.
            layer_lambdas = self._controller.average_lambdas
        elif self._final_within_tolerance():
            layer_lambdas = tracker.layer_lambdas(self._group_lambdas)
        else:
            if self._epoch - 1 not in self._round_ends:
                tracker.evaluate(self._group_lambdas, run=self._epoch)
            layer_lambdas = tracker.finish().lambdas
        super().on_train_end(net, X=X, y=y, **kwargs)
        self._set_results(layer_lambdas)
        if not self.target_reached_:
            achieved = 1.0 - group_counts(self.layer_n_nonzero_, self._groups) / (
                self._group_sizes
            )
            warnings.warn(
                f"TargetSparsity: target_sparsity={self.target_sparsity} was "
                f"missed by more than sparsity_tol={self.sparsity_tol}: the net "
                f"kept has sparsity {np.round(achieved, 4).tolist()} after "
                f"{self._epoch} epochs ({self._steer_epochs} steering λ). Train "
                "for more epochs, or widen sparsity_tol.",
                ConvergenceWarning,
                stacklevel=2,
            )

    def _final_within_tolerance(self):
        nonzeros = group_counts(count_nonzero(self._metric.weights), self._groups)
        return within_tolerance(
            nonzeros, self.target_n_nonzero_, self._group_sizes, self.sparsity_tol
        )

    def _set_results(self, layer_lambdas):
        per_layer = np.ndim(self.target_sparsity) == 1
        self.alpha_ = (
            np.asarray(layer_lambdas, dtype=float) if per_layer
            else float(layer_lambdas[0])
        )
        result = None if self._tracker is None else self._tracker.result
        n_groups = len(self._groups)
        self.alphas_ = np.asarray(
            result.alphas if result else [], dtype=float
        ).reshape(-1, n_groups)
        nonzeros = np.asarray(result.nonzeros if result else [], dtype=float)
        self.sparsities_ = 1.0 - nonzeros.reshape(-1, n_groups) / self._group_sizes
        self.target_reached_ = within_tolerance(
            group_counts(self.layer_n_nonzero_, self._groups),
            self.target_n_nonzero_, self._group_sizes, self.sparsity_tol,
        )

    def __getstate__(self):
        state = super().__getstate__()
        state.pop("_tracker", None)
        return state


def _batch_len(batch):
    return get_len(batch[0]) if isinstance(batch, (tuple, list)) else get_len(batch)
