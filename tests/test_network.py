"""Hand-written backpropagation against autograd."""

import pytest
import torch

from sk_sparse_l1._network import build_mlp, linear_layers, loss_and_gradients


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
