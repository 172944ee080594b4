"""The optimizers of proximal training, behind one protocol.

:class:`ProximalSGD` and :class:`ProximalAdam` train the estimators' MLP;
:class:`TorchOptimizerAdapter` stands for the ``torch.optim`` optimizer of a
skorch net, which takes the gradient step itself. All three offer what the
proximal step (:func:`sk_sparse_l1._trainer.proximal_step`) and the
schedules read (:class:`ProximalOptimizer`): the penalized ``weights``, the
``step_sizes()`` ``d`` the last gradient step applied to them, computed once
per step, and ``prox_``, the proximal map of ``λ‖W‖₁`` taken in that metric.

An update is split in two so that a schedule can look between the halves:
the gradient step on every parameter, then soft-thresholding of the weights
at ``λ_j · d``, with λ chosen from the post-step weights.
"""

from typing import Protocol

import torch

from sk_sparse_l1._network import FlatViews, flat_buffer, joint_buffer, joint_views
from sk_sparse_l1._prox import (
    adam_denominators,
    adam_step_sizes,
    soft_threshold_,
    soft_threshold_all_,
)

# The names of the `solver` parameter, each an optimizer of make_optimizer.
SOLVERS = ("sgd", "adam")


class ProximalOptimizer(Protocol):
    """What the proximal step, the schedules and the λ rules use of an
    optimizer.

    Attributes
    ----------
    weights : list of torch.Tensor
        The penalized tensors, updated in place.
    """

    weights: list
    lr_scale: float

    def step_sizes(self):
        """The step size ``d`` the last gradient step applied to each
        coordinate of each weight tensor: a float, or a tensor of the
        weight's shape. Computed once per step, whoever asks first."""

    def unit_step_sizes(self):
        """:meth:`step_sizes` at a learning-rate scale of 1: the metric of
        the step, whatever the schedule did to the learning rate."""

    def gradient_estimate(self):
        """The averaged gradient ``m̂`` of each weight tensor (Adam's first
        moment; a running average of the gradients for SGD once
        ``track_gradients`` is set)."""

    def prox_(self, lambdas):
        """Soft-threshold each weight tensor ``W_j`` at ``λ_j · d`` in place;
        ``λ_j`` is a float or a 0-dim tensor, and ``λ_j = 0`` leaves ``W_j``
        alone."""


def _buffers(tensors):
    """What an update runs over: the one flat buffer behind ``tensors``
    (:class:`sk_sparse_l1._network.FlatViews`), else the tensors themselves."""
    buffer = flat_buffer(tensors)
    return list(tensors) if buffer is None else [buffer]


def _like(tensors, values):
    """``values``, one buffer per entry of :func:`_buffers` of ``tensors``,
    seen as tensors of their shapes."""
    if flat_buffer(tensors) is None:
        return list(values)
    return FlatViews(values[0], [t.shape for t in tensors])


class ProximalSGD:
    """Plain proximal SGD: ``w ← S_{lr·λ}(w − lr·∇L)`` (no momentum).

    When the weights and biases are the two parts of one flat buffer (a
    flattened :class:`sk_sparse_l1._network.Network`), every operation of a
    step runs once over that buffer; otherwise once per tensor.

    Parameters
    ----------
    weights : list of torch.Tensor
        The penalized tensors, updated in place.
    biases : list of torch.Tensor
        The unpenalized tensors, updated in place.
    lr : float
        Learning rate.

    Attributes
    ----------
    params : list of torch.Tensor
        ``weights`` followed by ``biases``.
    lr_scale : float
        Multiplies ``lr`` in the next steps (a schedule's cooling); 1 by
        default.
    track_gradients : bool
        Whether :meth:`step` keeps the running average of the weights'
        gradients that :meth:`gradient_estimate` returns (off by default: a
        kernel per step that only a target-sparsity fit needs).
    """

    # The running average of the gradients weighs the last ~10 steps, as
    # Adam's first moment does with its default β₁ = 0.9.
    GRADIENT_AVERAGE_RATE = 0.1

    def __init__(self, weights, biases, *, lr):
        self.weights = weights if flat_buffer(weights) is not None else list(weights)
        self.params = joint_views(weights, biases)
        self._flat = flat_buffer(self.params) is not None
        self._n_weights = sum(w.numel() for w in self.weights)
        self.lr = lr
        self.lr_scale = 1.0
        self.track_gradients = False
        self._grad_avg = None
        self._grads_seen = self._grads_buffer = None

    def _gradient_buffers(self, weight_grads, bias_grads):
        """The gradients laid out as :func:`_buffers` of ``params``."""
        if not self._flat:
            return list(weight_grads) + list(bias_grads)
        # A flattened network hands over the same gradient views every step:
        # find their buffer once.
        seen = self._grads_seen
        if seen is None or seen[0] is not weight_grads or seen[1] is not bias_grads:
            self._grads_seen = (weight_grads, bias_grads)  # held: no id reuse
            self._grads_buffer = joint_buffer(weight_grads, bias_grads)
        buffer = self._grads_buffer
        if buffer is None:  # summed over the chunks of a sparse batch
            buffer = torch.cat([g.reshape(-1) for g in [*weight_grads, *bias_grads]])
        return [buffer]

    def _weight_part(self, buffers):
        """The weights' part of buffers laid out as ``params``."""
        if self._flat:
            return [buffers[0][: self._n_weights]]
        return buffers[: len(self.weights)]

    def step(self, weight_grads, bias_grads):
        """Gradient step on every parameter.

        Parameters
        ----------
        weight_grads : list of torch.Tensor
            Gradients of the data loss, matching ``weights``.
        bias_grads : list of torch.Tensor
            Gradients of the data loss, matching ``biases``.
        """
        grads = self._gradient_buffers(weight_grads, bias_grads)
        if self.track_gradients:
            self._track(self._weight_part(grads))
        torch._foreach_add_(
            _buffers(self.params), grads, alpha=-self.lr * self.lr_scale
        )

    def _track(self, weight_grads):
        """Update the running average of the weights' gradients."""
        if self._grad_avg is None:
            self._grad_avg = _like(self.weights, [g.clone() for g in weight_grads])
        else:
            torch._foreach_lerp_(
                _buffers(self._grad_avg), weight_grads, self.GRADIENT_AVERAGE_RATE
            )

    def step_sizes(self):
        """``lr`` (times ``lr_scale``) for every weight tensor."""
        return [self.lr * self.lr_scale] * len(self.weights)

    def unit_step_sizes(self):
        """``lr`` for every weight tensor."""
        return [self.lr] * len(self.weights)

    def gradient_estimate(self):
        """The running average of the weights' gradients (zeros before the
        first tracked step)."""
        if self._grad_avg is None:
            return [torch.zeros_like(w) for w in self.weights]
        return self._grad_avg

    def prox_(self, lambdas):
        """Soft-threshold each weight matrix at ``λ_j · d``.

        Parameters
        ----------
        lambdas : list of float or torch.Tensor
            λ per weight tensor: a float, or a 0-dim tensor left on the
            device (no host copy). Tensors with ``λ_j = 0`` are left alone.
        """
        active = [
            j
            for j, lam in enumerate(lambdas)
            if isinstance(lam, torch.Tensor) or lam > 0
        ]
        if not active:
            return
        if not self._flat:
            soft_threshold_all_(
                [self.weights[j] for j in active],
                self._layer_thresholds([lambdas[j] for j in active], active),
            )
            return
        # One flat map over all layers; a layer at λ = 0 gets τ = 0, which
        # leaves it exactly as it is (w − clamp(w, 0, 0) = w).
        first = lambdas[0]
        if not isinstance(first, torch.Tensor) and all(
            lam == first and not isinstance(lam, torch.Tensor) for lam in lambdas
        ):
            tau = self._uniform_threshold(first)
        else:
            tau = self._flat_threshold(lambdas)
        soft_threshold_all_(_buffers(self.weights), [tau])

    def _uniform_threshold(self, lam):
        """``λ · d`` over the flat weights, one λ for all layers."""
        return lam * (self.lr * self.lr_scale)

    def _flat_threshold(self, lambdas):
        """``λ_j · d`` over the flat weights, a layer at a time."""
        tau = torch.empty_like(self.weights.buffer)
        step = self.lr * self.lr_scale
        for view, lam in zip(FlatViews(tau, [w.shape for w in self.weights]), lambdas):
            view.fill_(lam * step)
        return tau

    def _layer_thresholds(self, lambdas, layers):
        """``λ_j · d`` for the given layers: scalars for plain SGD."""
        scaled = [lam * (self.lr * self.lr_scale) for lam in lambdas]
        tensors = [t for t in scaled if isinstance(t, torch.Tensor)]
        if not tensors:
            return scaled
        # One _foreach_ call takes all scalars or all tensors; a float is
        # filled into a tensor on the device (no host copy).
        return [
            t if isinstance(t, torch.Tensor) else torch.full_like(tensors[0], t)
            for t in scaled
        ]

    def state_dict(self):
        """What a later call needs to continue where this one stopped."""
        if self._grad_avg is None:
            return {}
        return {"grad_avg": [g.detach().cpu().clone() for g in self._grad_avg]}

    def load_state_dict(self, state):
        """Continue from :meth:`state_dict`."""
        if "grad_avg" in state:
            device = self.weights[0].device
            saved = [g.to(device) for g in state["grad_avg"]]
            if self._flat:
                saved = [torch.cat([g.reshape(-1) for g in saved])]
            else:
                saved = [g.clone() for g in saved]
            self._grad_avg = _like(self.weights, saved)


class ProximalAdam(ProximalSGD):
    """Adam followed by soft-thresholding in Adam's own metric.

    The threshold of coordinate ``k`` is ``λ · lr / (√v̂_k + ε)``, the step
    Adam applied to it. Fixed points then satisfy ``|m̂_k| = λ`` on nonzero
    weights and ``|m̂_k| ≤ λ`` on zeros: the optimality conditions of the
    penalized objective with Adam's averaged gradient. Thresholding at
    ``lr · λ`` instead would make λ nearly meaningless, since Adam's steps are
    normalized while its threshold would not be.

    Parameters
    ----------
    weights : list of torch.Tensor
        The penalized tensors, updated in place.
    biases : list of torch.Tensor
        The unpenalized tensors, updated in place.
    lr : float
        Learning rate.
    beta1 : float
        Decay rate of the first moment.
    beta2 : float
        Decay rate of the second moment.
    eps : float
        Added to ``√v̂`` for numerical stability.
    """

    def __init__(self, weights, biases, *, lr, beta1, beta2, eps):
        super().__init__(weights, biases, lr=lr)
        self.beta1, self.beta2, self.eps = beta1, beta2, eps
        zeros = [torch.zeros_like(p) for p in _buffers(self.params)]
        self.exp_avg = _like(self.params, zeros)
        zeros = [torch.zeros_like(p) for p in _buffers(self.params)]
        self.exp_avg_sq = _like(self.params, zeros)
        self.n_steps = 0
        self._weight_denoms = None
        self._step_lr = lr
        self._step_sizes = None

    def step(self, weight_grads, bias_grads):
        grads = self._gradient_buffers(weight_grads, bias_grads)
        exp_avg, exp_avg_sq = _buffers(self.exp_avg), _buffers(self.exp_avg_sq)
        self.n_steps += 1
        torch._foreach_lerp_(exp_avg, grads, 1.0 - self.beta1)
        torch._foreach_mul_(exp_avg_sq, self.beta2)
        torch._foreach_addcmul_(exp_avg_sq, grads, grads, value=1.0 - self.beta2)
        bias_correction1 = 1.0 - self.beta1**self.n_steps
        denom = adam_denominators(
            exp_avg_sq, self.n_steps, beta2=self.beta2, eps=self.eps
        )
        lr = self.lr * self.lr_scale
        torch._foreach_addcdiv_(
            _buffers(self.params), exp_avg, denom, value=-lr / bias_correction1
        )
        # The weights' √v̂ + ε, for the step sizes and the prox.
        self._weight_denoms = self._weight_part(denom)
        self._step_lr = lr
        self._step_sizes = None

    def _step_size_buffers(self):
        """``lr / (√v̂ + ε)`` laid out as :func:`_buffers` of ``weights``,
        computed once per step."""
        if self._step_sizes is None:
            self._step_sizes = adam_step_sizes(self._weight_denoms, self._step_lr)
        return self._step_sizes

    def step_sizes(self):
        """``lr / (√v̂ + ε)`` per coordinate (``lr`` times ``lr_scale``),
        computed once per step."""
        return _like(self.weights, self._step_size_buffers())

    def unit_step_sizes(self):
        """``lr / (√v̂ + ε)`` per coordinate at a learning-rate scale of 1."""
        return _like(self.weights, adam_step_sizes(self._weight_denoms, self.lr))

    def gradient_estimate(self):
        """Adam's bias-corrected first moment ``m̂`` of each weight tensor."""
        if self.n_steps == 0:
            return [torch.zeros_like(w) for w in self.weights]
        bias_correction1 = 1.0 - self.beta1**self.n_steps
        weight_moments = self._weight_part(_buffers(self.exp_avg))
        return _like(self.weights, torch._foreach_div(weight_moments, bias_correction1))

    def _uniform_threshold(self, lam):
        return self._step_size_buffers()[0] * lam

    def _flat_threshold(self, lambdas):
        tau = torch.empty_like(self.weights.buffer)
        shapes = [w.shape for w in self.weights]
        sizes = FlatViews(self._step_size_buffers()[0], shapes)
        for view, d, lam in zip(FlatViews(tau, shapes), sizes, lambdas):
            torch.mul(d, lam, out=view)
        return tau

    def _layer_thresholds(self, lambdas, layers):
        """``λ_j · d`` for the given layers, ``d = lr / (√v̂ + ε)`` per
        coordinate."""
        sizes = self._step_size_buffers()
        sizes = [sizes[j] for j in layers]
        if all(isinstance(lam, torch.Tensor) for lam in lambdas):
            return torch._foreach_mul(sizes, lambdas)
        return [d * lam for d, lam in zip(sizes, lambdas)]

    def state_dict(self):
        return {
            "n_steps": self.n_steps,
            "exp_avg": [m.detach().cpu().clone() for m in self.exp_avg],
            "exp_avg_sq": [v.detach().cpu().clone() for v in self.exp_avg_sq],
        }

    def load_state_dict(self, state):
        self.n_steps = state["n_steps"]
        for mine, saved in zip(self.exp_avg, state["exp_avg"]):
            mine.copy_(saved)
        for mine, saved in zip(self.exp_avg_sq, state["exp_avg_sq"]):
            mine.copy_(saved)


def make_optimizer(solver, weights, biases, *, lr, beta1=0.9, beta2=0.999, eps=1e-8):
    """The optimizer named by ``solver``, one of :data:`SOLVERS`.

    Parameters
    ----------
    solver : {"sgd", "adam"}
        :class:`ProximalSGD` or :class:`ProximalAdam`.
    weights : list of torch.Tensor
        The penalized tensors.
    biases : list of torch.Tensor
        The unpenalized tensors.
    lr : float
        Learning rate.
    beta1, beta2, eps : float, default=0.9, 0.999, 1e-8
        Adam's parameters (ignored by SGD).

    Returns
    -------
    optimizer : ProximalSGD or ProximalAdam
    """
    if solver == "sgd":
        return ProximalSGD(weights, biases, lr=lr)
    return ProximalAdam(weights, biases, lr=lr, beta1=beta1, beta2=beta2, eps=eps)


# ------------------------------------------------------ torch.optim adapter


def _describe_group(group, keys):
    return ", ".join(f"{key}={group[key]!r}" for key in keys if key in group)


def check_torch_optimizer(optimizer, group, name):
    """Raise a ValueError unless ``group`` of ``optimizer`` is a configuration
    whose per-coordinate step size is known.

    Parameters
    ----------
    optimizer : torch.optim.Optimizer
        The optimizer of the tensor ``name``.
    group : dict
        The parameter group of the tensor in ``optimizer``.
    name : str
        The tensor's name, for the error message.
    """
    kind = type(optimizer).__name__
    problems = []
    if group.get("maximize", False):
        problems.append("maximize=True")
    if group.get("weight_decay", 0) != 0:
        # Coupled or decoupled (AdamW), weight decay adds an ℓ2 shrinkage the
        # objective does not have, to the biases of the group too.
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
            f"which has {', '.join(problems)}. Momentum and AMSGrad change the "
            f"step a coordinate takes, so thresholding at λ times the step size "
            f"no longer has the ℓ1 optimality conditions as fixed points; "
            f"weight decay adds an ℓ2 penalty, biases included. Set these to "
            f"their defaults (e.g. optimizer__momentum=0, "
            f"optimizer__weight_decay=0)."
        )


class TorchOptimizerAdapter:
    """The :class:`ProximalOptimizer` of tensors that a ``torch.optim``
    optimizer updates (a skorch net's).

    The torch optimizer takes the gradient step; this adapter reads the step
    sizes it applied (``lr`` for ``torch.optim.SGD`` without momentum,
    ``lr / (√v̂ + ε)`` from the state of ``torch.optim.Adam``) and takes the
    proximal map in that metric. Learning rates are read before the step
    (:meth:`record_learning_rates`), so that a scheduler that changes them
    after the step, in its own ``on_batch_end``, does not change the
    threshold of the step just taken.

    Parameters
    ----------
    parameters : list of torch.nn.Parameter
        The penalized tensors.
    param_groups : list of tuple
        ``(optimizer, group)`` updating each tensor, each checked by
        :func:`check_torch_optimizer`.
    """

    GRADIENT_AVERAGE_RATE = ProximalSGD.GRADIENT_AVERAGE_RATE

    def __init__(self, parameters, param_groups, all_parameters=None):
        self.parameters = parameters
        # Detached views share storage: in-place thresholding writes through.
        self.weights = [p.detach() for p in parameters]
        self.param_groups = param_groups
        # Every parameter of the module: a schedule that keeps a copy of the
        # network restores them all.
        self.params = None
        if all_parameters is not None:
            self.params = [p.detach() for p in all_parameters]
        self.lr_scale = 1.0
        self.track_gradients = False
        self._grad_avg = None
        self._base_lrs = None
        self._lrs = None
        self._step_sizes = None

    def scale_learning_rates(self, scale):
        """Multiply the learning rate of every parameter group of the
        optimizers by ``scale`` for the step about to be taken (a schedule's
        cooling); :meth:`restore_learning_rates` undoes it after the step."""
        self.lr_scale = scale
        groups = self._all_groups()
        self._base_lrs = [group["lr"] for group in groups]
        for group, lr in zip(groups, self._base_lrs):
            group["lr"] = lr * scale

    def restore_learning_rates(self):
        """The learning rates as they were before :meth:`scale_learning_rates`."""
        if self._base_lrs is not None:
            for group, lr in zip(self._all_groups(), self._base_lrs):
                group["lr"] = lr
            self._base_lrs = None

    def _all_groups(self):
        optimizers = {id(o): o for o, _ in self.param_groups}.values()
        return [group for o in optimizers for group in o.param_groups]

    def record_gradients(self):
        """Update the running average of the weights' gradients (SGD's
        :meth:`gradient_estimate`), when ``track_gradients`` is set."""
        if not self.track_gradients:
            return
        grads = [
            torch.zeros_like(w) if p.grad is None else p.grad.detach()
            for p, w in zip(self.parameters, self.weights)
        ]
        if self._grad_avg is None:
            self._grad_avg = [g.clone() for g in grads]
        else:
            torch._foreach_lerp_(self._grad_avg, grads, self.GRADIENT_AVERAGE_RATE)

    def gradient_estimate(self):
        """The averaged gradient ``m̂`` of each weight tensor: Adam's
        bias-corrected first moment, or the running average of the
        gradients (:meth:`record_gradients`)."""
        estimates = []
        for j, (p, (optimizer, group)) in enumerate(
            zip(self.parameters, self.param_groups)
        ):
            state = optimizer.state.get(p, {})
            if isinstance(optimizer, torch.optim.Adam) and "exp_avg" in state:
                correction = 1.0 - group["betas"][0] ** float(state["step"])
                estimates.append(state["exp_avg"] / correction)
            elif self._grad_avg is not None:
                estimates.append(self._grad_avg[j])
            else:
                estimates.append(torch.zeros_like(self.weights[j]))
        return estimates

    def record_learning_rates(self):
        """Read the learning rates of the step about to be taken."""
        self._lrs = [float(group["lr"]) for _, group in self.param_groups]

    def step_sizes(self):
        """The step sizes of the step the torch optimizer just took,
        computed once per step."""
        if self._step_sizes is None:
            self._step_sizes = self._applied_step_sizes()
        return self._step_sizes

    def unit_step_sizes(self):
        """:meth:`step_sizes` at a learning-rate scale of 1."""
        lrs = self._lrs
        if lrs is None:
            lrs = [float(group["lr"]) for _, group in self.param_groups]
        scale = max(self.lr_scale, 1e-12)
        return self._applied_step_sizes([lr / scale for lr in lrs])

    def _applied_step_sizes(self, lrs=None):
        if lrs is None:
            lrs = self._lrs
        if lrs is None:  # a train_step that does not notify on_grad_computed
            lrs = [float(group["lr"]) for _, group in self.param_groups]
        sizes = []
        for p, (optimizer, group), lr in zip(
            self.parameters, self.param_groups, lrs, strict=True
        ):
            if p.grad is None:
                # The optimizer skipped this tensor: no step, no shrinkage.
                sizes.append(0.0)
            elif isinstance(optimizer, torch.optim.Adam):
                state = optimizer.state[p]
                denom = adam_denominators(
                    [state["exp_avg_sq"]],
                    float(state["step"]),
                    beta2=group["betas"][1],
                    eps=group["eps"],
                )
                sizes.append(adam_step_sizes(denom, lr)[0])
            else:
                sizes.append(lr)
        return sizes

    def prox_(self, lambdas):
        active = [
            (w, lam * d)
            for w, lam, d in zip(self.weights, lambdas, self.step_sizes(), strict=True)
            if isinstance(lam, torch.Tensor) or lam > 0
        ]
        # The map of the estimators' optimizers, over the net's tensors: one
        # _foreach_ call per operation when the thresholds are of one kind.
        if active and len({isinstance(tau, torch.Tensor) for _, tau in active}) == 1:
            soft_threshold_all_(*map(list, zip(*active)))
        else:
            for w, tau in active:
                soft_threshold_(w, tau)
        # Used once: the next step records its own.
        self._lrs = self._step_sizes = None

    def reset(self):
        """Clear the state of the torch optimizers (Adam's moments): a fresh
        learning-rate schedule for a refit."""
        for optimizer in {id(o): o for o, _ in self.param_groups}.values():
            optimizer.state.clear()
        self._grad_avg = None
