"""Hand-written backpropagation against autograd."""

import pytest
import torch
from torch import nn

from sk_sparse_l1._network import (
    Network,
    build_mlp,
    count_nonzero,
    linear_layers,
    loss_and_gradients,
)


def autograd_loss(module, loss, X, target, sample_weight):
    Z = module(X)
    if loss == "squared_error":
        per_row = ((Z - target) ** 2).mean(dim=1)
    elif loss == "binary_log_loss":
        per_row = torch.nn.functional.binary_cross_entropy_with_logits(
            Z, target, reduction="none"
        )[:, 0]
    else:
        per_row = torch.nn.functional.cross_entropy(
            Z, target.argmax(dim=1), reduction="none"
        )
    if sample_weight is not None:
        per_row = per_row * sample_weight
    return per_row.mean()


@pytest.mark.parametrize("activation", ["relu", "tanh", "logistic", "identity"])
@pytest.mark.parametrize(
    "loss,n_out", [("squared_error", 2), ("binary_log_loss", 1), ("log_loss", 3)]
)
@pytest.mark.parametrize("weighted", [False, True])
def test_gradients_match_autograd(activation, loss, n_out, weighted):
    g = torch.Generator().manual_seed(0)
    module = build_mlp([5, 7, 6, n_out], activation, dtype=torch.float64, generator=g)
    X = torch.randn(11, 5, dtype=torch.float64, generator=g)
    if loss == "squared_error":
        target = torch.randn(11, n_out, dtype=torch.float64, generator=g)
    elif loss == "binary_log_loss":
        target = (torch.rand(11, 1, generator=g) > 0.5).double()
    else:
        target = torch.eye(n_out, dtype=torch.float64)[
            torch.randint(n_out, (11,), generator=g)
        ]
    sw = torch.rand(11, dtype=torch.float64, generator=g) * 2 if weighted else None

    expected = autograd_loss(module, loss, X, target, sw)
    expected.backward()
    linears = linear_layers(module)
    with torch.no_grad():
        value, weight_grads, bias_grads = loss_and_gradients(
            linears, activation, loss, X, target, sw
        )
    torch.testing.assert_close(value, expected.detach(), rtol=1e-12, atol=1e-12)
    for lin, gw, gb in zip(linears, weight_grads, bias_grads):
        torch.testing.assert_close(gw, lin.weight.grad, rtol=1e-10, atol=1e-12)
        torch.testing.assert_close(gb, lin.bias.grad, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("activation", ["relu", "logistic"])
def test_build_mlp_draws_in_float64_then_casts(activation):
    """The same seed gives the same network in float32 and float64 (the
    float32 weights are the float64 draws rounded), inside Glorot's bounds
    (scikit-learn's factor 2 for logistic units, 6 otherwise)."""
    widths = [5, 7, 3]
    modules = {
        dtype: build_mlp(
            widths, activation, dtype=dtype, generator=torch.Generator().manual_seed(3)
        )
        for dtype in (torch.float32, torch.float64)
    }
    for lin32, lin64 in zip(*(linear_layers(m) for m in modules.values())):
        assert lin32.weight.dtype == torch.float32
        assert lin64.weight.dtype == torch.float64
        for p32, p64 in ((lin32.weight, lin64.weight), (lin32.bias, lin64.bias)):
            assert torch.equal(p32, p64.to(torch.float32))
        factor = 2.0 if activation == "logistic" else 6.0
        bound = (factor / (lin64.in_features + lin64.out_features)) ** 0.5
        largest = float(lin64.weight.detach().abs().max())
        assert 0.5 * bound < largest <= bound  # uniform on [−bound, bound]


def test_build_mlp_uses_only_its_generator():
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    a = build_mlp(
        [4, 6, 2],
        "tanh",
        dtype=torch.float64,
        generator=torch.Generator().manual_seed(1),
    )
    torch.testing.assert_close(torch.rand(3), expected, rtol=0, atol=0)
    b = build_mlp(
        [4, 6, 2],
        "tanh",
        dtype=torch.float64,
        generator=torch.Generator().manual_seed(1),
    )
    c = build_mlp(
        [4, 6, 2],
        "tanh",
        dtype=torch.float64,
        generator=torch.Generator().manual_seed(2),
    )
    for pa, pb, pc in zip(a.parameters(), b.parameters(), c.parameters()):
        assert torch.equal(pa, pb) and not torch.equal(pa, pc)


@pytest.mark.parametrize("activation", ["relu", "tanh", "logistic", "identity"])
def test_network_forward_and_snapshot(activation):
    g = torch.Generator().manual_seed(0)
    module = build_mlp([5, 7, 6, 2], activation, dtype=torch.float64, generator=g)
    network = Network(linear_layers(module), activation, "squared_error")
    X = torch.randn(9, 5, dtype=torch.float64, generator=g)
    with torch.no_grad():
        torch.testing.assert_close(network.forward(X), module(X), rtol=0, atol=1e-15)
    # Weights are the penalized tensors, (fan_out, fan_in) as in nn.Linear.
    assert [tuple(w.shape) for w in network.weights] == [(7, 5), (6, 7), (2, 6)]
    snapshot = network.snapshot()
    before = network.forward(X).clone()
    with torch.no_grad():
        for p in network.weights + network.biases:
            p.mul_(0.5)
    assert not torch.equal(network.forward(X), before)
    network.restore(snapshot)
    assert torch.equal(network.forward(X), before)
    # The snapshot is a copy: restoring did not tie it to the parameters.
    with torch.no_grad():
        network.weights[0].zero_()
    assert not torch.equal(snapshot[0], network.weights[0])
    assert count_nonzero(network.weights) == [0, 42, 12]


def test_build_mlp_makes_plain_linear_layers():
    """The layers are ``nn.Linear`` with the attributes its ``__init__``
    gives, though built without it."""
    module = build_mlp(
        [3, 4, 2], "relu", dtype=torch.float32, generator=torch.Generator()
    )
    reference = nn.Linear(3, 4)
    for layer in (module[0], module[2]):
        assert type(layer) is nn.Linear
        assert vars(layer).keys() == vars(reference).keys()
        assert dict(layer.named_parameters()).keys() == {"weight", "bias"}
    assert (module[0].in_features, module[0].out_features) == (3, 4)
    assert module[0].weight.requires_grad and module[0].weight.dtype == torch.float32
    assert "Linear(in_features=3, out_features=4, bias=True)" in repr(module)
