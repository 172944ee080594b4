"""The multilayer perceptron: construction, hand-written backpropagation and
which of its tensors the ℓ1 penalty applies to.

Gradients are written out by hand (as scikit-learn's MLP does) rather than
taken with autograd: for the small dense layers of tabular models the autograd
graph costs more than the arithmetic. ``tests/test_network.py`` checks these
gradients against autograd.
"""

import math
from dataclasses import dataclass

import torch
from torch import nn

ACTIVATIONS = {
    "identity": nn.Identity,
    "logistic": nn.Sigmoid,
    "tanh": nn.Tanh,
    "relu": nn.ReLU,
}


def build_mlp(layer_sizes, activation, *, dtype, generator):
    """Build ``Linear → activation → … → Linear`` with Glorot-uniform weights.

    ``layer_sizes`` lists the widths from input to output. Initial values are
    drawn in float64 from ``generator`` only, then cast to ``dtype``: a seed
    fixes them without touching torch's global random state, and gives the
    same network (up to rounding) in float32 and float64.
    """
    layers = []
    for j, (fan_in, fan_out) in enumerate(zip(layer_sizes[:-1], layer_sizes[1:])):
        if j > 0:
            layers.append(ACTIVATIONS[activation]())
        # Glorot & Bengio (2010), with scikit-learn's factor for logistic units.
        factor = 2.0 if activation == "logistic" else 6.0
        bound = math.sqrt(factor / (fan_in + fan_out))
        weight, bias = (
            torch.empty(shape, dtype=torch.float64)
            .uniform_(-bound, bound, generator=generator)
            .to(dtype)
            for shape in ((fan_out, fan_in), (fan_out,))
        )
        layers.append(_linear(weight, bias))
    return nn.Sequential(*layers)


def _linear(weight, bias):
    """The ``nn.Linear`` holding ``weight`` and ``bias``, built without
    ``nn.Linear.__init__``: its own initialization would draw from torch's
    global generator, and skipping it (``nn.utils.skip_init``, through the
    meta device) cost more than the rest of a small fit's set-up. The module
    has the attributes ``__init__`` gives it (``tests/test_network.py``)."""
    linear = nn.Linear.__new__(nn.Linear)
    nn.Module.__init__(linear)
    linear.in_features, linear.out_features = weight.shape[1], weight.shape[0]
    linear.weight = nn.Parameter(weight)
    linear.bias = nn.Parameter(bias)
    return linear


def linear_layers(module):
    """The ``nn.Linear`` layers of ``module`` in forward order."""
    return [m for m in module.modules() if isinstance(m, nn.Linear)]


def layer_widths(module):
    """Input width followed by the output width of every ``Linear`` layer."""
    linears = linear_layers(module)
    return [linears[0].in_features, *(lin.out_features for lin in linears)]


def default_penalized_parameters(module):
    """Weights of every ``Linear`` and ``Conv*`` layer of ``module``.

    These are the tensors the ℓ1 penalty applies to by default: biases and
    normalization parameters are never penalized, so they are never counted.
    """
    return [
        m.weight
        for m in module.modules()
        if isinstance(m, (nn.Linear, nn.modules.conv._ConvNd))
    ]


def count_nonzero(weights):
    """Number of nonzero entries in each tensor of ``weights``, as ints."""
    return [int(torch.count_nonzero(w)) for w in weights]


def _activate(z, activation):
    if activation == "relu":
        return z.clamp_(min=0)
    if activation == "tanh":
        return z.tanh_()
    if activation == "logistic":
        return z.sigmoid_()
    return z


def _backprop_activation(delta, a, activation):
    """Multiply ``delta`` by the activation's derivative, written in terms of
    its output ``a``; ``delta`` is a fresh tensor and may be overwritten."""
    if activation == "relu":
        # One fused kernel instead of a boolean mask, its cast and a product.
        return torch.ops.aten.threshold_backward(delta, a, 0)
    if activation == "tanh":
        return delta.mul_(1.0 - a * a)
    if activation == "logistic":
        return delta.mul_(a * (1.0 - a))
    return delta


def forward(linears, activation, X):
    """Raw network output (logits for a classifier) for the rows of ``X``."""
    h = X
    for j, linear in enumerate(linears):
        h = torch.addmm(linear.bias, h, linear.weight.T)
        if j < len(linears) - 1:
            h = _activate(h, activation)
    return h


def output_loss(loss, Z, target, sample_weight):
    """Mean loss of raw outputs ``Z`` and its gradient with respect to ``Z``.

    ``loss`` is

    - ``"squared_error"``: mean over all entries, no factor ½;
    - ``"binary_log_loss"``: the cross-entropy of a sigmoid per column, summed
      over the columns (one logit column for two classes, one column per
      label for multilabel targets, as scikit-learn's MLP);
    - ``"log_loss"``: softmax over the columns, ``target`` one-hot.

    ``sample_weight`` holds one weight per row, scaled by the caller to
    average 1 over the training set, so that a minibatch mean is an unbiased
    estimate of the weighted training loss.
    """
    n_rows = Z.shape[0]
    if loss == "squared_error":
        residual = Z - target
        per_entry = residual * residual
        grad = residual * (2.0 / (n_rows * Z.shape[1]))
    elif loss == "binary_log_loss":
        # softplus(z) − y·z is the cross-entropy of sigmoid(z), computed stably.
        per_entry = nn.functional.softplus(Z) - target * Z
        grad = (torch.sigmoid(Z) - target) / n_rows
    else:
        log_proba = torch.log_softmax(Z, dim=1)
        per_entry = -(target * log_proba)
        grad = (torch.exp(log_proba) - target) / n_rows
    # A row's loss is the mean (squared error) or the sum (log losses) of its
    # entries; without weights, the mean over rows is one reduction over all
    # entries (a reduction along a dimension costs twice one over a tensor).
    if sample_weight is None:
        if loss == "squared_error":
            return per_entry.mean(), grad
        return per_entry.sum() / n_rows, grad
    per_row = per_entry.mean(dim=1) if loss == "squared_error" else per_entry.sum(1)
    return (per_row * sample_weight).mean(), grad * sample_weight[:, None]


def loss_and_gradients(linears, activation, loss, X, target, sample_weight=None):
    """Data loss and its gradients by backpropagation.

    Returns ``(loss_value, weight_grads, bias_grads)`` where the loss is a
    0-dim tensor and the gradient lists follow ``linears`` with the shapes of
    their parameters.
    """
    weights = [linear.weight for linear in linears]
    biases = [linear.bias for linear in linears]
    return backprop(weights, biases, activation, loss, X, target, sample_weight)


def backprop(weights, biases, activation, loss, X, target, sample_weight, out=None):
    """:func:`loss_and_gradients` of the layers ``weights`` and ``biases``.

    With ``out``, a pair ``(weight_grads, bias_grads)`` of tensors of the
    parameters' shapes, the gradients are written there (``out=`` of the
    matrix product and the sum, no copy) and ``out`` is returned: the
    optimizer then finds them in the flat buffer it updates from.
    """
    activations = [X]
    h = X
    n_layers = len(weights)
    for j in range(n_layers):
        h = torch.addmm(biases[j], h, weights[j].T)
        if j < n_layers - 1:
            h = _activate(h, activation)
        activations.append(h)
    value, delta = output_loss(loss, h, target, sample_weight)

    if out is None:
        weight_grads, bias_grads = [None] * n_layers, [None] * n_layers
    else:
        weight_grads, bias_grads = out
    for j in range(n_layers - 1, -1, -1):
        if out is None:
            weight_grads[j] = delta.T @ activations[j]
            bias_grads[j] = delta.sum(dim=0)
        else:
            torch.mm(delta.T, activations[j], out=weight_grads[j])
            torch.sum(delta, dim=0, out=bias_grads[j])
        if j > 0:
            delta = _backprop_activation(delta @ weights[j], activations[j], activation)
    return value, weight_grads, bias_grads


class FlatViews(list):
    """Tensors that are consecutive views of one 1-D ``buffer``, in order.

    An operation on ``buffer`` is one kernel for all the tensors, whatever
    their number; the views are what layers, schedules and users see.

    Parameters
    ----------
    buffer : torch.Tensor
        1-D, holding exactly the tensors.
    shapes : list of tuple
        The shape of each view.
    """

    def __init__(self, buffer, shapes):
        views, offset = [], 0
        for shape in shapes:
            size = math.prod(shape)
            views.append(buffer[offset : offset + size].view(shape))
            offset += size
        if offset != buffer.numel():
            raise ValueError(f"expected {buffer.numel()} values, got {offset}")
        super().__init__(views)
        self.buffer = buffer


def flat_buffer(tensors):
    """The 1-D buffer behind ``tensors`` when they are :class:`FlatViews`,
    else None."""
    return getattr(tensors, "buffer", None)


def joint_buffer(first, second):
    """The 1-D buffer holding ``first`` then ``second`` when both are
    :class:`FlatViews` of consecutive parts of one buffer (the weights and
    the biases of a flattened :class:`Network`), else None."""
    a, b = flat_buffer(first), flat_buffer(second)
    if a is None or b is None or a._base is None or a._base is not b._base:
        return None
    if a.storage_offset() + a.numel() != b.storage_offset():
        return None
    start = a.storage_offset() - a._base.storage_offset()
    return a._base[start : start + a.numel() + b.numel()]


def joint_views(first, second):
    """``first + second``, as :class:`FlatViews` when :func:`joint_buffer`
    finds the buffer holding both."""
    buffer = joint_buffer(first, second)
    tensors = list(first) + list(second)
    if buffer is None:
        return tensors
    return FlatViews(buffer, [t.shape for t in tensors])


@dataclass
class Network:
    """The layers being trained and how to evaluate them.

    ``weights`` are the penalized tensors (one weight matrix per layer, of
    shape (fan_out, fan_in) as in ``nn.Linear``); biases are never penalized.
    After :meth:`flatten_`, the parameters of all layers are views of one
    buffer, weights first, then biases.
    """

    linears: list
    activation: str
    loss: str

    def __post_init__(self):
        self._flat = None

    @property
    def weights(self):
        if self._flat is not None:
            return self._flat[0]
        return [linear.weight.data for linear in self.linears]

    @property
    def biases(self):
        if self._flat is not None:
            return self._flat[1]
        return [linear.bias.data for linear in self.linears]

    def flatten_(self):
        """Move every weight into one flat buffer and every bias into the
        next part of it, the layers' parameters becoming views of it (and
        likewise for the gradients that :meth:`loss_and_gradients` writes
        with ``in_place=True``): the optimizer's update and the proximal map
        are then a handful of kernels whatever the depth. Values unchanged.
        """
        weights, biases = self.weights, self.biases
        params = torch.cat([p.reshape(-1) for p in weights + biases])
        grads = torch.zeros_like(params)
        n_weights = sum(w.numel() for w in weights)
        w_shapes, b_shapes = [w.shape for w in weights], [b.shape for b in biases]
        self._flat = (
            FlatViews(params[:n_weights], w_shapes),
            FlatViews(params[n_weights:], b_shapes),
        )
        self._grads = (
            FlatViews(grads[:n_weights], w_shapes),
            FlatViews(grads[n_weights:], b_shapes),
        )
        for linear, w, b in zip(self.linears, *self._flat):
            linear.weight.data, linear.bias.data = w, b
        return self

    def flat_parameters(self):
        """``[buffer]`` holding every parameter after :meth:`flatten_`, else
        an empty list."""
        if self._flat is None:
            return []
        return [joint_buffer(*self._flat)]

    def unflatten_(self):
        """Give every parameter its own memory again (a fitted module then
        pickles and copies layer by layer, as users expect)."""
        for linear in self.linears:
            linear.weight.data = linear.weight.data.clone()
            linear.bias.data = linear.bias.data.clone()
        self._flat = None
        return self

    def loss_and_gradients(self, X, target, sample_weight=None, in_place=False):
        """Loss and gradients (:func:`loss_and_gradients`); ``in_place``
        writes the gradients into the network's flat gradient buffer (valid
        until the next such call) instead of new tensors."""
        out = self._grads if in_place and self._flat is not None else None
        return backprop(
            self.weights,
            self.biases,
            self.activation,
            self.loss,
            X,
            target,
            sample_weight,
            out,
        )

    def forward(self, X):
        return forward(self.linears, self.activation, X)

    def snapshot(self):
        return [p.detach().clone() for p in self.weights + self.biases]

    def restore(self, snapshot):
        for p, saved in zip(self.weights + self.biases, snapshot):
            p.copy_(saved)
