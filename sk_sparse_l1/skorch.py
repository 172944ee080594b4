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
except ImportError as exc:
    raise ImportError(
        "sk_sparse_l1.skorch needs skorch, which is not installed: "
        "pip install sk_sparse_l1[skorch]"
    ) from exc

from sk_sparse_l1._base import _check_fractions
from sk_sparse_l1._controller import QuantileController
from sk_sparse_l1._lambda_search import (
    group_counts,
    sparsity_errors,
    target_nonzeros,
    within_tolerance,
)
from sk_sparse_l1._network import count_nonzero, default_penalized_parameters
from sk_sparse_l1._prox import adam_step_sizes, soft_threshold_

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


class TargetSparsity(_ProximalCallback):
    """Proximal ℓ1 training with λ chosen for a prescribed sparsity.

    Trains like :class:`ProximalL1` (same optimizers, same threshold in the
    optimizer's metric) and chooses λ during the run, as the estimators'
    ``search="online"`` does, in two phases over ``net.max_epochs`` epochs:

    1. For the first ``controller_fraction · max_epochs`` epochs λ is set at
       every step so that exactly the target number of weights survive the
       proximal map (:class:`~sk_sparse_l1._controller.QuantileController`).
    2. λ is then fixed to the controller's average over its last epoch for
       the remaining epochs: the final net is trained at a constant λ, so it
       satisfies the optimality conditions for that λ, not merely the
       sparsity. Its sparsity may drift from the target while it converges;
       ``sparsity_tol`` bounds how far before a ``ConvergenceWarning``.

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
    sparsity_tol : float, default=0.01
        Largest acceptable absolute difference between achieved and target
        sparsity (a fraction of the group's weights) at the end of training.

    Attributes
    ----------
    alpha_ : float or ndarray of shape (n_tensors,)
        The λ of the fixed-λ phase (per tensor for per-layer targets).
    target_n_nonzero_ : ndarray of int
        Nonzero count wanted in each group (one group for a global target).
    target_reached_ : bool
        Whether every group ended within ``sparsity_tol`` of its target.
    penalized_params_, layer_sizes_, layer_n_nonzero_, n_nonzero_, \
layer_sparsity_, sparsity_
        As in :class:`ProximalL1`.

    Notes
    -----
    The schedule follows ``net.max_epochs``; training for another number of
    epochs (``fit(..., epochs=n)``) or stopping early (``EarlyStopping``)
    shortens or skips the fixed-λ phase. Every ``partial_fit`` call starts the
    schedule again from the current weights.
    """

    def __init__(
        self, target_sparsity=0.9, *, params=None, controller_fraction=0.5,
        sparsity_tol=0.01,
    ):
        self.target_sparsity = target_sparsity
        self.params = params
        self.controller_fraction = controller_fraction
        self.sparsity_tol = sparsity_tol

    def _check_params(self):
        _check_fractions("target_sparsity", self.target_sparsity)
        if np.ndim(self.target_sparsity) > 1:
            raise ValueError(
                "target_sparsity must be a float or a 1-D sequence with one "
                f"fraction per penalized tensor, got shape "
                f"{np.shape(self.target_sparsity)}."
            )
        cf = self.controller_fraction
        if not isinstance(cf, Real) or isinstance(cf, bool) or not 0 < cf <= 1:
            raise ValueError(f"controller_fraction must be in (0, 1], got {cf!r}.")
        tol = self.sparsity_tol
        if not isinstance(tol, Real) or isinstance(tol, bool) or not 0 < tol < 1:
            raise ValueError(f"sparsity_tol must be in (0, 1), got {tol!r}.")

    def on_train_begin(self, net, X=None, y=None, **kwargs):
        self._check_params()
        super().on_train_begin(net, X=X, y=y, **kwargs)
        # Raises a ValueError naming the expected length for a wrong sequence.
        targets, groups = target_nonzeros(self.target_sparsity, self.layer_sizes_)
        self.target_n_nonzero_ = targets
        self._groups = groups
        self._group_sizes = group_counts(self.layer_sizes_, groups)
        n_tensors = len(self.layer_sizes_)
        self._controller = QuantileController(groups, targets, n_tensors)
        n_epochs = net.max_epochs
        if not isinstance(n_epochs, Integral) or n_epochs < 1:
            raise ValueError(f"net.max_epochs must be a positive int, got {n_epochs!r}.")
        self._steer_epochs = max(1, round(self.controller_fraction * n_epochs))
        self._epoch = 0
        self._lambdas = None

    def on_epoch_begin(self, net, dataset_train=None, dataset_valid=None, **kwargs):
        # λ is averaged over the last steered epoch only, when it has settled.
        if self._epoch == self._steer_epochs - 1:
            self._controller.reset_average()

    def _step_lambdas(self):
        if self._epoch < self._steer_epochs:
            return self._controller(self._metric)
        return self._lambdas

    def on_epoch_end(self, net, dataset_train=None, dataset_valid=None, **kwargs):
        if self._epoch == self._steer_epochs - 1:
            self._lambdas = self._controller.average_lambdas
            self._set_alpha(self._lambdas)
        self._epoch += 1
        super().on_epoch_end(net, dataset_train, dataset_valid, **kwargs)

    def _set_alpha(self, lambdas):
        per_layer = np.ndim(self.target_sparsity) == 1
        self.alpha_ = np.asarray(lambdas, dtype=float) if per_layer else float(lambdas[0])

    def on_train_end(self, net, X=None, y=None, **kwargs):
        super().on_train_end(net, X=X, y=y, **kwargs)
        if self._lambdas is None:
            # Stopped while steering: λ is the controller's running average.
            self._set_alpha(self._controller.average_lambdas)
        nonzeros = group_counts(self.layer_n_nonzero_, self._groups)
        self.target_reached_ = within_tolerance(
            nonzeros, self.target_n_nonzero_, self._group_sizes, self.sparsity_tol
        )
        if not self.target_reached_:
            errors = sparsity_errors(nonzeros, self.target_n_nonzero_, self._group_sizes)
            achieved = 1.0 - nonzeros / self._group_sizes
            warnings.warn(
                f"TargetSparsity: target_sparsity={self.target_sparsity} was "
                f"missed by more than sparsity_tol={self.sparsity_tol}: achieved "
                f"{np.round(achieved, 4).tolist()} (error "
                f"{np.round(errors, 4).tolist()}) after {self._epoch} epochs, "
                f"{self._steer_epochs} of them steering λ. Train for more "
                "epochs or raise controller_fraction.",
                ConvergenceWarning,
                stacklevel=2,
            )
