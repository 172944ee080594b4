"""The proximal map and the step sizes it is taken in."""

import numpy as np
import pytest
import torch

from sk_sparse_l1._prox import (
    adam_denominators,
    adam_step_sizes,
    soft_threshold_,
    threshold_keeping,
)


def numpy_soft_threshold(w, tau):
    return np.where(w > tau, w - tau, np.where(w < -tau, w + tau, 0.0))


@pytest.mark.parametrize(
    "tau",
    [
        0.0,
        0.3,
        np.array(0.3),  # a 0-dim tensor: λ·d left on the device
        np.array([[0.1], [0.5], [2.0]]),  # broadcast over columns
        np.random.RandomState(1).rand(3, 5),  # per coordinate: Adam's metric
    ],
    ids=["zero", "float", "0-dim", "broadcast", "per-coordinate"],
)
def test_soft_threshold_matches_numpy_reference(tau):
    w = np.random.RandomState(0).randn(3, 5)
    tau_t = torch.as_tensor(tau) if isinstance(tau, np.ndarray) else tau
    expected = numpy_soft_threshold(w, tau)
    w_t = torch.as_tensor(w.copy())
    out = soft_threshold_(w_t, tau_t)
    assert out.data_ptr() == w_t.data_ptr()
    np.testing.assert_allclose(w_t.numpy(), expected, rtol=0, atol=1e-15)


def test_soft_threshold_gives_exact_zeros():
    w = torch.tensor([-0.5, -0.1, 0.0, 0.1, 0.5])
    out = soft_threshold_(w.clone(), 0.1)
    assert torch.equal(out == 0, torch.tensor([False, True, True, True, False]))


def test_adam_step_sizes_match_torch_adam():
    """The step torch's Adam applies equals d · m̂ with our d."""
    torch.manual_seed(0)
    p = torch.nn.Parameter(torch.randn(4, 3, dtype=torch.float64))
    opt = torch.optim.Adam([p], lr=0.01, betas=(0.9, 0.999), eps=1e-8)
    for _ in range(3):
        before = p.detach().clone()
        opt.zero_grad()
        (p**3).sum().backward()
        opt.step()
        state = opt.state[p]
        step = int(state["step"])
        denom = adam_denominators([state["exp_avg_sq"]], step, beta2=0.999, eps=1e-8)
        d = adam_step_sizes(denom, 0.01)[0]
        m_hat = state["exp_avg"] / (1 - 0.9**step)
        np.testing.assert_allclose(
            (before - p.detach()).numpy(), (d * m_hat).numpy(), rtol=1e-10, atol=1e-14
        )


@pytest.mark.parametrize("n_keep", [0, 1, 5, 11, 12, 20])
def test_threshold_keeping_leaves_n_keep_above(n_keep):
    scores = torch.as_tensor(np.random.RandomState(1).rand(3, 4))
    tau = threshold_keeping(scores, n_keep)
    assert int((scores > tau).sum()) == min(n_keep, scores.numel())


def test_threshold_keeping_with_ties_keeps_at_most_n_keep():
    """Tied scores at the threshold all go: never more than ``n_keep``."""
    scores = torch.tensor([3.0, 2.0, 2.0, 2.0, 1.0, 0.0])
    # n_keep ≥ the number of scores: threshold 0, and a zero score stays out.
    for n_keep, survivors in [(1, 1), (2, 1), (3, 1), (4, 4), (5, 5), (6, 5)]:
        tau = threshold_keeping(scores, n_keep)
        assert int((scores > tau).sum()) == survivors, n_keep


@pytest.mark.parametrize("solver", ["sgd", "adam"])
@pytest.mark.parametrize("tensor_layers", [(), (0, 1, 2), (0,)])
def test_optimizer_prox_equals_soft_threshold_per_layer(solver, tensor_layers):
    """The proximal map of the optimizers, taken over all layers at once, is
    bitwise the soft-thresholding of each layer at ``λ_j · d``; a layer with
    λ = 0 is left alone."""
    from sk_sparse_l1._optimizers import make_optimizer

    g = torch.Generator().manual_seed(0)
    shapes = [(4, 3), (5, 4), (1, 5)]
    weights = [torch.randn(s, dtype=torch.float64, generator=g) for s in shapes]
    biases = [torch.randn(s[0], dtype=torch.float64, generator=g) for s in shapes]
    opt = make_optimizer(solver, weights, biases, lr=0.05)
    opt.step(
        [torch.randn(s, dtype=torch.float64, generator=g) for s in shapes],
        [torch.randn(s[0], dtype=torch.float64, generator=g) for s in shapes],
    )
    lambdas = [12.0, 0.0, 30.0]
    lambdas = [  # floats, 0-dim tensors, or a mix of both
        torch.tensor(lam, dtype=torch.float64) if j in tensor_layers else lam
        for j, lam in enumerate(lambdas)
    ]
    expected = [w.clone() for w in weights]
    for w, lam, d in zip(expected, lambdas, opt.step_sizes()):
        if float(lam) > 0:
            soft_threshold_(w, lam * d)
    opt.prox_(lambdas)
    for w, e in zip(weights, expected):
        assert torch.equal(w, e)
    assert int((weights[0] == 0).sum()) > 0  # the test thresholds something


@pytest.mark.parametrize("solver", ["sgd", "adam"])
@pytest.mark.parametrize(
    "lambdas",
    [
        [0.5, 0.5, 0.5],
        [0.5, 0.0, 1.0],
        [torch.tensor(0.5, dtype=torch.float64), 0.0, 1.0],  # 0-dim tensor λ
    ],
)
def test_flat_buffer_step_equals_step_per_tensor(solver, lambdas):
    """The optimizers run over one flat buffer when the network is flattened;
    the steps, gradient tracking included, are bitwise those taken tensor by
    tensor, and the layers' parameters stay views of the buffer."""
    from sk_sparse_l1._network import Network, build_mlp, linear_layers
    from sk_sparse_l1._optimizers import make_optimizer

    def network(flat):
        g = torch.Generator().manual_seed(0)
        module = build_mlp([4, 6, 5, 2], "relu", dtype=torch.float64, generator=g)
        net = Network(linear_layers(module), "relu", "squared_error")
        return net.flatten_() if flat else net

    g = torch.Generator().manual_seed(1)
    X = torch.randn(16, 4, dtype=torch.float64, generator=g)
    y = torch.randn(16, 2, dtype=torch.float64, generator=g)
    nets = [network(flat) for flat in (False, True)]
    opts = [make_optimizer(solver, n.weights, n.biases, lr=0.05) for n in nets]
    assert [opt._flat for opt in opts] == [False, True]
    for opt in opts:
        opt.track_gradients = True
    for _ in range(10):
        for net, opt in zip(nets, opts):
            _, weight_grads, bias_grads = net.loss_and_gradients(X, y, in_place=True)
            opt.step(weight_grads, bias_grads)
            opt.prox_(lambdas)
    for a, b in zip(nets[0].weights + nets[0].biases, nets[1].weights + nets[1].biases):
        assert torch.equal(a, b)
    for read in ("step_sizes", "unit_step_sizes", "gradient_estimate"):
        for a, b in zip(getattr(opts[0], read)(), getattr(opts[1], read)()):
            assert torch.equal(torch.as_tensor(a), torch.as_tensor(b)), read
    assert int((nets[1].weights[0] == 0).sum()) > 0  # the test thresholds something
    buffer = opts[1].params.buffer
    assert all(
        p.weight.data_ptr() == v.data_ptr()
        for p, v in zip(nets[1].linears, nets[1].weights)
    )
    assert buffer.numel() == sum(p.numel() for p in nets[1].weights + nets[1].biases)
