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

import functools
import math
import warnings
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import BaseEstimator
from sklearn.exceptions import ConvergenceWarning

try:
    from skorch.callbacks import Callback
    from skorch.dataset import get_len
except ImportError as exc:
    raise ImportError(
        "sk_sparse_l1.skorch needs skorch, which is not installed: "
        "pip install sk_sparse_l1[skorch]"
    ) from exc

from sk_sparse_l1._estimator import (
    check_alpha,
    check_target_sparsity,
    fitted_alpha,
    path_arrays,
)
from sk_sparse_l1._lambda_search import warmup_bounds
from sk_sparse_l1._network import count_nonzero, default_penalized_parameters
from sk_sparse_l1._optimizers import TorchOptimizerAdapter, check_torch_optimizer
from sk_sparse_l1._schedules import (
    FixedAlpha,
    MagnitudeRampSchedule,
    TargetL1,
    l1_epochs,
)
from sk_sparse_l1._targets import (
    group_counts,
    target_nonzeros,
    within_tolerance,
)
from sk_sparse_l1._trainer import proximal_step

__all__ = ["ProximalL1", "TargetSparsity"]


# --------------------------------------------------------------------------
# The callbacks


class _ProximalCallback(Callback):
    """Shared machinery: which tensors are penalized, the proximal step after
    every optimizer step, sparsity bookkeeping. Subclasses set the schedule
    that says which λ each step uses and which weights stay zero
    (``_schedule``, see :mod:`sk_sparse_l1._schedules`)."""

    # skorch's Callback takes every attribute not ending in "_" for a
    # parameter; take them from the signature of __init__ instead, as
    # scikit-learn does, so working state can be private.
    @classmethod
    def _get_param_names(cls):
        return BaseEstimator._get_param_names.__func__(cls)

    def on_train_begin(self, net, X=None, y=None, **kwargs):
        names, parameters = _penalized_parameters(net, self.params)
        groups = _find_param_groups(net, parameters, names)
        self._optimizer = TorchOptimizerAdapter(
            parameters, groups, all_parameters=list(net.module_.parameters())
        )
        self.penalized_params_ = names
        self.tensor_sizes_ = np.array([p.numel() for p in parameters])

    def on_grad_computed(
        self, net, named_parameters, X=None, y=None, training=None, **kwargs
    ):
        self._optimizer.record_learning_rates()

    def on_batch_end(self, net, batch=None, training=None, **kwargs):
        if not training:
            return
        with torch.no_grad():
            # The net's torch.optim optimizer has taken the gradient step.
            proximal_step(self._optimizer, self._schedule)
        self._optimizer.restore_learning_rates()

    def on_epoch_end(self, net, dataset_train=None, dataset_valid=None, **kwargs):
        self._record_sparsity()
        net.history.record("sparsity", float(self.sparsity_))

    def on_train_end(self, net, X=None, y=None, **kwargs):
        self._record_sparsity()

    def _record_sparsity(self):
        counts = np.array(count_nonzero(self._optimizer.weights))
        self.layer_n_nonzero_ = counts
        self.n_nonzero_ = int(counts.sum())
        self.layer_sparsity_ = 1.0 - counts / self.tensor_sizes_
        self.sparsity_ = 1.0 - self.n_nonzero_ / int(self.tensor_sizes_.sum())

    # Working state that holds the net's tensors, optimizer or a copy of the
    # module: skorch pickles those itself, and on_train_begin rebuilds it.
    _transient = ("_optimizer", "_schedule")

    def __getstate__(self):
        state = self.__dict__.copy()
        for name in self._transient:
            state.pop(name, None)
        return state


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
    tensor_sizes_ : ndarray of int
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
    >>> net = NeuralNetRegressor(
    ...     torch.nn.Linear(10, 1), optimizer=torch.optim.SGD, lr=0.3,
    ...     max_epochs=30, batch_size=200, train_split=None, verbose=0,
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
        alphas = check_alpha(
            self.alpha, len(self.penalized_params_), per="penalized tensor"
        )
        # λ at every step and no masks: a fixed-λ schedule whose phase never
        # ends (no refit, adaptive=False); the net's max_epochs ends training.
        self._schedule = FixedAlpha(
            alphas,
            max_epochs=1,
            tol=0.0,
            n_iter_no_change=1,
            refit=False,
            adaptive=False,
        )


class TargetSparsity(_ProximalCallback):
    """Proximal ℓ1 training with λ chosen for a prescribed sparsity.

    Runs the estimators' default search (``search="online"``) over
    ``net.max_epochs`` epochs, with the same optimizers and threshold in the
    optimizer's metric as :class:`ProximalL1`:

    1. *ℓ1* (the first 70% of the epochs with a refit, all of them
       without): λ rises along a warm-up curve scaled by the gradients and
       weights at the first step, and holds where the forecast of the final
       nonzero count is the target; the learning rate of every parameter
       group cools down (cosine, to zero) over the last 40% of the phase, so
       that the zero pattern settles. The network kept is the one closest to
       the target that the phase saw, at the λ held;
    2. *refit* (``refit=True``): the nonzero weights train without penalty,
       zeros held fixed, after the optimizer's state is reset.

    See :class:`sk_sparse_l1._schedules.TargetL1` for the details, and the
    user guide for what the search guarantees. ``search="magnitude"`` runs
    gradual magnitude pruning (Zhu & Gupta, 2017) over the first 60% of the
    epochs instead, then a short ℓ1 phase and the refit
    (:class:`sk_sparse_l1._schedules.MagnitudeRampSchedule`).

    The ℓ1 phase ends early when the monitored loss (``valid_loss`` when the
    net holds out data, else ``train_loss``) plus the penalty stops
    improving by ``tol`` for ``n_iter_no_change`` epochs once λ holds; at
    the end of the last phase training stops. Sparsity is the fraction of
    exactly-zero entries of the penalized tensors (global), or of each
    tensor (per layer).

    Parameters
    ----------
    target_sparsity : float or sequence of float, default=0.9
        Fraction of zeros wanted over all penalized tensors (one λ shared by
        all), or one fraction per penalized tensor (one λ each), in [0, 1).
    params : list of str, default=None
        Names of the parameters of ``net.module_`` to penalize; by default the
        weights of every ``Linear`` and ``Conv*`` layer.
    refit : bool, default=True
        Whether the last 30% of the epochs retrain the support without
        penalty.
    search : {"online", "magnitude"}, default="online"
        ``"online"``: λ chosen during ℓ1 training; ``"magnitude"``: gradual
        magnitude pruning, then ℓ1 at the λ of the pruned network.
    sparsity_tol : float, default=0.02
        Largest acceptable relative error of each group's nonzero count,
        ``|NNZ − T| ≤ max(sparsity_tol · T, 1)``, as for the estimators.
    tol : float, default=1e-4
        Improvement of the monitored loss below which an epoch counts as no
        improvement.
    n_iter_no_change : int, default=10
        Epochs without improvement that end a phase.

    Attributes
    ----------
    alpha_ : float or ndarray of shape (n_tensors,)
        The λ of the ℓ1 network (per tensor for per-layer targets).
    alphas_, sparsities_ : ndarray of shape (n_l1_epochs, n_groups)
        λ of the last step of each epoch of the ℓ1 phase, and the sparsity
        after it.
    target_n_nonzero_ : ndarray of int
        Nonzero count wanted in each group (one group for a global target).
    target_reached_ : bool
        Whether every group of the returned net is within ``sparsity_tol``.
    l1_state_dict_ : dict or None
        ``net.module_``'s state at the end of the ℓ1 phase, before the refit
        (None without a refit).
    penalized_params_, tensor_sizes_, layer_n_nonzero_, n_nonzero_, \
layer_sparsity_, sparsity_
        As in :class:`ProximalL1`, for the returned net. ``net.history``
        also records ``"alpha"`` (λ at the end of the epoch, a list for
        per-layer targets; 0 during the refit).

    Notes
    -----
    The schedule follows ``net.max_epochs``; training for another number of
    epochs (``fit(..., epochs=n)``) shortens or stretches it. Every fit or
    ``partial_fit`` call starts the schedule again from the current weights.
    The warm-up is scaled by the gradient of the first minibatch (the
    estimators use the whole training set).

    Examples
    --------
    >>> import numpy as np, torch
    >>> from skorch import NeuralNetClassifier
    >>> from sk_sparse_l1.skorch import TargetSparsity
    >>> rng = np.random.RandomState(0)
    >>> X = rng.randn(300, 20).astype(np.float32)
    >>> y = (X[:, 0] + X[:, 1] > 0).astype(np.int64)
    >>> module = torch.nn.Sequential(
    ...     torch.nn.Linear(20, 16), torch.nn.ReLU(), torch.nn.Linear(16, 2))
    >>> net = NeuralNetClassifier(
    ...     module, criterion=torch.nn.CrossEntropyLoss, optimizer=torch.optim.Adam,
    ...     lr=0.01, max_epochs=30, train_split=None, verbose=0,
    ...     callbacks=[("ts", TargetSparsity(0.9))],
    ... ).fit(X, y)
    >>> ts = dict(net.callbacks_)["ts"]
    >>> target = int(ts.target_n_nonzero_[0])
    >>> ts.target_reached_, abs(int(ts.n_nonzero_) - target) <= 1
    (True, True)
    """

    def __init__(
        self,
        target_sparsity=0.9,
        *,
        params=None,
        refit=True,
        search="online",
        sparsity_tol=0.02,
        tol=1e-4,
        n_iter_no_change=10,
    ):
        self.target_sparsity = target_sparsity
        self.params = params
        self.refit = refit
        self.search = search
        self.sparsity_tol = sparsity_tol
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change

    def _check_params(self, net):
        check_target_sparsity(self.target_sparsity, per="penalized tensor")
        tol_ok = isinstance(self.sparsity_tol, Real) and 0 < self.sparsity_tol < 1
        if not tol_ok:
            raise ValueError(
                f"sparsity_tol must be in (0, 1), got {self.sparsity_tol!r}."
            )
        if self.search not in ("online", "magnitude"):
            raise ValueError(
                f"search must be 'online' or 'magnitude', got {self.search!r}."
            )
        n_epochs = net.max_epochs
        if not isinstance(n_epochs, Integral) or n_epochs < 1:
            raise ValueError(
                f"net.max_epochs must be a positive int, got {n_epochs!r}."
            )

    def on_train_begin(self, net, X=None, y=None, **kwargs):
        self._check_params(net)
        super().on_train_begin(net, X=X, y=y, **kwargs)
        # Raises a ValueError naming the expected length for a wrong sequence.
        targets, groups = target_nonzeros(self.target_sparsity, self.tensor_sizes_)
        self.target_n_nonzero_ = targets
        self._groups = groups
        self._max_epochs = net.max_epochs
        common = dict(
            count_tol=self.sparsity_tol,
            tol=self.tol,
            n_iter_no_change=self.n_iter_no_change,
            refit=bool(self.refit),
            adaptive=True,
        )
        if self.search == "magnitude":
            self._schedule = MagnitudeRampSchedule(
                groups, targets, max_epochs=net.max_epochs, **common
            )
            self._schedule.start(self._optimizer.weights)
        else:
            # The warm-up needs the optimizer's step sizes: made after the
            # first epoch.
            self._schedule = None
            self._new_schedule = functools.partial(TargetL1, groups, targets, **common)
        self._steps_per_epoch = None
        self._gradient_sums, self._n_batches = None, 0
        self.l1_state_dict_ = None

    def on_epoch_begin(self, net, dataset_train=None, dataset_valid=None, **kwargs):
        self._steps_per_epoch = _steps_per_epoch(net, dataset_train)
        if self._schedule is not None:
            self._schedule.begin_epoch(self._steps_per_epoch)

    def on_grad_computed(
        self, net, named_parameters, X=None, y=None, training=None, **kwargs
    ):
        optimizer = self._optimizer
        if self._schedule is not None:
            # The cooling of the step about to be taken, on every group.
            optimizer.scale_learning_rates(self._schedule.step_lr_scale())
            optimizer.track_gradients = self._schedule.needs_gradient_estimate
        else:  # the first epoch: the gradients' magnitude, for the warm-up
            magnitudes = [
                torch.zeros_like(w) if p.grad is None else p.grad.detach().abs()
                for p, w in zip(optimizer.parameters, optimizer.weights)
            ]
            if self._gradient_sums is None:
                self._gradient_sums, self._n_batches = magnitudes, 0
            else:
                torch._foreach_add_(self._gradient_sums, magnitudes)
            self._n_batches += 1
        optimizer.record_gradients()
        super().on_grad_computed(net, named_parameters, X=X, y=y, **kwargs)

    def on_batch_end(self, net, batch=None, training=None, **kwargs):
        if self._schedule is None:  # the first epoch trains without penalty
            return
        super().on_batch_end(net, batch=batch, training=training, **kwargs)

    def _start_online(self):
        """The online schedule, after a first epoch without penalty: its
        warm-up is scaled as the estimators' is, by the weights and the mean
        magnitude of the minibatch gradients of that epoch (the estimators
        take the gradient over the training set at the start, which a
        callback does not see)."""
        optimizer = self._optimizer
        n_epochs = self._max_epochs - 1
        steps = self._steps_per_epoch or 1
        first_optimizer, group = optimizer.param_groups[0]
        warmup = warmup_bounds(
            optimizer.weights,
            [g / max(self._n_batches, 1) for g in self._gradient_sums],
            lr=float(group["lr"]),
            n_steps=l1_epochs(n_epochs, bool(self.refit)) * steps,
            per_coordinate=isinstance(first_optimizer, torch.optim.Adam),
        )
        self._gradient_sums = None
        self._schedule = self._new_schedule(warmup=warmup, max_epochs=n_epochs)
        self._schedule.start(optimizer.weights)

    def on_epoch_end(self, net, dataset_train=None, dataset_valid=None, **kwargs):
        if self._schedule is None:
            _ProximalCallback.on_epoch_end(self, net, dataset_train, dataset_valid)
            net.history.record(
                "alpha", 0.0 if len(self._groups) == 1 else [0.0] * len(self._groups)
            )
            if self._max_epochs > 1:
                self._start_online()
            return
        schedule = self._schedule
        in_l1 = schedule.phase == "l1"
        last = net.history[-1]
        loss = last.get("valid_loss", last.get("train_loss", np.nan))
        with torch.no_grad():  # a schedule may restore a network it kept
            action = schedule.end_epoch(float(loss), self._optimizer.weights)
        super().on_epoch_end(net, dataset_train, dataset_valid, **kwargs)
        lambdas = schedule.alpha if in_l1 and schedule.alpha is not None else None
        shown = (
            [0.0] * len(schedule.groups)
            if lambdas is None
            else [float(lambdas[g[0]]) for g in schedule.groups]
        )
        net.history.record("alpha", shown if len(shown) > 1 else shown[0])
        if action == "refit":
            state = net.module_.state_dict()
            self.l1_state_dict_ = {k: v.detach().clone() for k, v in state.items()}
            self._optimizer.reset()  # a fresh learning-rate schedule
        elif action == "stop":
            raise KeyboardInterrupt  # skorch ends training, as EarlyStopping does

    def on_train_end(self, net, X=None, y=None, **kwargs):
        super().on_train_end(net, X=X, y=y, **kwargs)
        schedule = self._schedule
        layer_wise = np.ndim(self.target_sparsity) == 1
        if schedule is None:  # no training step was taken
            self.alpha_ = fitted_alpha([np.nan] * len(self.tensor_sizes_), layer_wise)
            path = []
        else:
            self.alpha_ = fitted_alpha(schedule.alpha, layer_wise)
            path = schedule.path
        self.alphas_, self.sparsities_ = path_arrays(
            [lam for lam, _ in path],
            [k for _, k in path],
            group_counts(self.tensor_sizes_, self._groups),
        )
        final = group_counts(self.layer_n_nonzero_, self._groups)
        self.target_reached_ = within_tolerance(
            final, self.target_n_nonzero_, self.sparsity_tol
        )
        if not self.target_reached_:
            phase = "its first" if schedule is None else f"its {schedule.phase}"
            epochs = len(net.history)
            warnings.warn(
                f"TargetSparsity: target_sparsity={self.target_sparsity} was "
                f"missed by more than sparsity_tol={self.sparsity_tol}: the net "
                f"has {final.tolist()} nonzero weights for targets "
                f"{self.target_n_nonzero_.tolist()} after {epochs} "
                f"epochs, in {phase} phase. Train for more epochs "
                "(net.max_epochs), or widen sparsity_tol.",
                ConvergenceWarning,
                stacklevel=2,
            )

    _transient = ("_optimizer", "_schedule", "_new_schedule", "_gradient_sums")


def _steps_per_epoch(net, dataset):
    """Training batches per epoch: the iterator's length when it has one."""
    try:
        return max(1, len(net.get_iterator(dataset, training=True)))
    except TypeError:  # an iterable dataset: estimate from the batch size
        n_samples = get_len(dataset)
        batch_size = net.get_params_for("iterator_train").get(
            "batch_size", net.batch_size
        )
        if batch_size in (None, -1):
            return 1
        return max(1, math.ceil(n_samples / batch_size))


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
                f"params must name parameters of net.module_: {unknown} are "
                f"not among its parameters {sorted(named)}."
            )
        weights = [named[name] for name in names]
    if not weights:
        raise ValueError(
            "No parameter to penalize: net.module_ has no Linear or Conv layer; "
            "name the tensors to penalize with `params`."
        )
    return names, weights


def _find_param_groups(net, weights, names):
    """The optimizer and parameter group of ``net`` that update each tensor
    of ``weights``; raises a ValueError if one is not optimized or the
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
    for w, name in zip(weights, names, strict=True):
        if id(w) not in located:
            raise ValueError(
                f"Parameter {name!r} is penalized but no optimizer of the net "
                f"updates it: include it in the optimizer or leave it out of "
                f"`params`."
            )
        optimizer, group = located[id(w)]
        check_torch_optimizer(optimizer, group, name)
        found.append(located[id(w)])
    return found
