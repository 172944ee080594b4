"""The penalized tensors of a skorch net and the step sizes its optimizer
applies to them: the ``weights`` / ``step_sizes()`` / ``prox_`` interface of
:mod:`sk_sparse_l1._optim`, for any ``nn.Module`` trained by
``torch.optim.SGD`` (no momentum) or ``torch.optim.Adam``, so that the
callbacks of :mod:`sk_sparse_l1.skorch` drive the same schedules as the
estimators."""

import torch

from sk_sparse_l1._network import default_penalized_parameters
from sk_sparse_l1._prox import adam_step_sizes, soft_threshold_


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
