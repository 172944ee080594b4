"""The optimizers of proximal training, behind one interface.

:class:`ProximalSGD` and :class:`ProximalAdam` train the estimators' MLP;
:class:`OptimizerMetric` adapts a ``torch.optim`` optimizer of a skorch net.
Each offers the penalized ``weights``, the ``step_sizes()`` just applied to
them, and ``prox_``, the proximal map taken in that metric. The estimators'
optimizers split an update in two so that a caller can look between them:
:meth:`ProximalSGD.step` takes the gradient step on every parameter, then
:meth:`ProximalSGD.prox_` soft-thresholds the penalized weights at
``λ_j · d``, with ``d`` the step size just applied to each coordinate. λ
controllers use that gap to choose λ from the post-step weights.
"""

import torch

from sk_sparse_l1._network import default_penalized_parameters
from sk_sparse_l1._prox import adam_step_sizes, soft_threshold_, soft_threshold_all_


class ProximalSGD:
    """Plain proximal SGD: ``w ← S_{lr·λ}(w − lr·∇L)`` (no momentum).

    Parameters
    ----------
    weights, biases : list of torch.Tensor
        The penalized and the unpenalized tensors, updated in place.
    lr : float
        Learning rate.
    """

    def __init__(self, weights, biases, *, lr):
        self.weights = list(weights)
        self.params = self.weights + list(biases)
        self.lr = lr

    def step(self, weight_grads, bias_grads):
        torch._foreach_add_(self.params, weight_grads + bias_grads, alpha=-self.lr)

    def step_sizes(self):
        return [self.lr] * len(self.weights)

    def prox_(self, lambdas):
        """Soft-threshold each weight matrix at ``λ_j · d``; ``λ_j`` is a
        float or a 0-dim tensor (left on the device: no host copy)."""
        active = [
            j
            for j, lam in enumerate(lambdas)
            if isinstance(lam, torch.Tensor) or lam > 0
        ]
        if not active:
            return
        soft_threshold_all_(
            [self.weights[j] for j in active],
            self._thresholds([lambdas[j] for j in active], active),
        )

    def _thresholds(self, lambdas, layers):
        """``λ_j · d`` for the given layers: scalars for plain SGD."""
        scaled = [lam * self.lr for lam in lambdas]
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
        return {}

    def load_state_dict(self, state):
        pass


class ProximalAdam(ProximalSGD):
    """Adam followed by soft-thresholding in Adam's own metric.

    The threshold of coordinate ``k`` is ``λ · lr / (√v̂_k + ε)``, the step
    Adam applied to it. Fixed points then satisfy ``|m̂_k| = λ`` on nonzero
    weights and ``|m̂_k| ≤ λ`` on zeros: the optimality conditions of the
    penalized objective with Adam's averaged gradient. Thresholding at
    ``lr · λ`` instead would make λ nearly meaningless, since Adam's steps are
    normalized while its threshold would not be.
    """

    def __init__(self, weights, biases, *, lr, beta1, beta2, eps):
        super().__init__(weights, biases, lr=lr)
        self.beta1, self.beta2, self.eps = beta1, beta2, eps
        self.exp_avg = [torch.zeros_like(p) for p in self.params]
        self.exp_avg_sq = [torch.zeros_like(p) for p in self.params]
        self.n_steps = 0

    def step(self, weight_grads, bias_grads):
        grads = weight_grads + bias_grads
        self.n_steps += 1
        torch._foreach_lerp_(self.exp_avg, grads, 1.0 - self.beta1)
        torch._foreach_mul_(self.exp_avg_sq, self.beta2)
        torch._foreach_addcmul_(self.exp_avg_sq, grads, grads, value=1.0 - self.beta2)
        bias_correction1 = 1.0 - self.beta1**self.n_steps
        bias_correction2 = 1.0 - self.beta2**self.n_steps
        denom = torch._foreach_sqrt(self.exp_avg_sq)
        torch._foreach_div_(denom, bias_correction2**0.5)
        torch._foreach_add_(denom, self.eps)
        torch._foreach_addcdiv_(
            self.params, self.exp_avg, denom, value=-self.lr / bias_correction1
        )
        # denom is √v̂ + ε: keep the weights' part for the step sizes.
        self._weight_denoms = denom[: len(self.weights)]

    def step_sizes(self):
        return [self.lr / denom for denom in self._weight_denoms]

    def _thresholds(self, lambdas, layers):
        """``λ_j · d`` for the given layers, ``d = lr / (√v̂ + ε)`` per
        coordinate."""
        sizes = [self.lr / self._weight_denoms[j] for j in layers]
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
    """The optimizer named by ``solver`` (``"sgd"`` or ``"adam"``)."""
    if solver == "sgd":
        return ProximalSGD(weights, biases, lr=lr)
    return ProximalAdam(weights, biases, lr=lr, beta1=beta1, beta2=beta2, eps=eps)


def _describe_group(group, keys):
    return ", ".join(f"{key}={group[key]!r}" for key in keys if key in group)


def _check_param_group(optimizer, group, name):
    """Raise a ValueError unless ``group`` of ``optimizer`` is a configuration
    whose per-coordinate step size is known (see
    :class:`sk_sparse_l1.skorch.ProximalL1`)."""
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


def find_param_groups(net, weights, names):
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
    for w, name in zip(weights, names, strict=True):
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


class OptimizerMetric:
    """The penalized tensors of a net and the step sizes its optimizer applied.

    Offers the ``weights`` / ``step_sizes()`` interface of
    :mod:`sk_sparse_l1._optimizers` that :class:`QuantileController` reads, and the
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
                sizes.append(
                    adam_step_sizes(
                        state["exp_avg_sq"],
                        float(state["step"]),
                        lr,
                        group["betas"][1],
                        group["eps"],
                    )
                )
            else:
                sizes.append(lr)
        return sizes

    def prox_(self, lambdas):
        for w, lam, d in zip(self.weights, lambdas, self.step_sizes(), strict=True):
            if isinstance(lam, torch.Tensor) or lam > 0:
                soft_threshold_(w, lam * d)
        self._lrs = None  # used once: the next step records its own


def penalized_parameters(net, params):
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
