"""Device placement: data and model stay on the training device, with no
host copy per minibatch.

A copy between host and device happens in a few tensor methods (``item``,
``cpu``, ``numpy``, ``tolist``, the ``float``/``int``/``bool`` conversions,
``to``) and in ``torch.as_tensor``. Counting their calls works on any device:
on the CPU they are cheap, but a training loop that calls one per minibatch
would copy and synchronize per minibatch on a GPU. The number of calls must
therefore not grow with the number of minibatches of an epoch.
"""

import numpy as np
import pytest
import torch

from sk_sparse_l1 import SparseL1Classifier, SparseL1Regressor

COPYING_METHODS = (
    "item",
    "cpu",
    "numpy",
    "tolist",
    "to",
    "__float__",
    "__int__",
    "__bool__",
)
N_EPOCHS = 4


@pytest.fixture(scope="module")
def data():
    rng = np.random.RandomState(0)
    X = rng.randn(256, 6)
    y = X[:, 0] - 2 * X[:, 1] + 0.1 * rng.randn(256)
    return X, y / y.std(), (y > 0).astype(int)


class TransferCounter:
    """Counts calls of the tensor methods that copy between host and
    device, and of ``torch.as_tensor``, while active."""

    def __init__(self, monkeypatch):
        self.calls = 0
        for name in COPYING_METHODS:
            monkeypatch.setattr(
                torch.Tensor, name, self._counted(getattr(torch.Tensor, name))
            )
        monkeypatch.setattr(torch, "as_tensor", self._counted(torch.as_tensor))

    def _counted(self, method):
        def counted(*args, **kwargs):
            if method is not _TENSOR_TO or _names_a_device(args[1:], kwargs):
                self.calls += 1
            return method(*args, **kwargs)

        return counted


_TENSOR_TO = torch.Tensor.to


def _names_a_device(args, kwargs):
    """Whether a ``Tensor.to`` call moves data: a dtype-only cast does not."""
    values = list(args) + list(kwargs.values())
    return any(
        isinstance(v, (str, torch.device)) or (isinstance(v, torch.Tensor))
        for v in values
    )


def _estimator(kind, batch_size, **params):
    Estimator = SparseL1Regressor if kind == "regressor" else SparseL1Classifier
    return Estimator(
        hidden_layer_sizes=(16, 8),
        batch_size=batch_size,
        max_iter=N_EPOCHS,
        tol=0,
        n_iter_no_change=np.inf,
        random_state=0,
        **params,
    )


def _count(monkeypatch, call):
    with monkeypatch.context() as patch:
        counter = TransferCounter(patch)
        call()
        return counter.calls


@pytest.mark.parametrize("kind", ["regressor", "classifier"])
@pytest.mark.parametrize(
    "params",
    [
        {"alpha": 1e-3},
        {"target_sparsity": 0.8},
        {"target_sparsity": [0.8, 0.5, 0.0], "solver": "sgd"},
    ],
    ids=["alpha", "target", "layer-targets-sgd"],
)
def test_copies_do_not_grow_with_the_number_of_minibatches(
    data, monkeypatch, kind, params
):
    X, y, labels = data
    target = y if kind == "regressor" else labels
    counts = {
        batch: _count(
            monkeypatch, lambda b=batch: _estimator(kind, b, **params).fit(X, target)
        )
        for batch in (len(X), 32, 8)  # 1, 8 and 32 steps per epoch
    }
    # Fits of 4 epochs: every count is a fixed cost per fit and per epoch,
    # the same whatever the number of minibatches (a target-sparsity fit
    # looks at the network at most CHECKS_PER_EPOCH times an epoch); a full
    # batch saves the one copy per epoch of the shuffled row order, and its
    # one step an epoch is one look at most.
    if "target_sparsity" in params:
        # When the schedule looks depends on the network, which differs with
        # the batch size: the counts agree up to a few looks.
        assert abs(counts[8] - counts[32]) <= 0.05 * counts[32], counts
        assert counts[len(X)] < counts[32], counts
    else:
        assert counts[8] == counts[32], counts
        assert counts[32] - counts[len(X)] == N_EPOCHS, counts


def test_partial_fit_and_predict_copy_a_bounded_number_of_times(data, monkeypatch):
    X, y, _ = data
    counts = {}
    for batch in (32, 8):
        estimator = _estimator("regressor", batch, target_sparsity=0.8)
        estimator.partial_fit(X, y)
        counts[batch] = _count(monkeypatch, lambda e=estimator: e.partial_fit(X, y))
    assert counts[8] == counts[32], counts
    assert _count(monkeypatch, lambda: estimator.predict(X)) < 20


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("device", ["cuda", "auto"])
def test_fit_partial_fit_and_predict_on_cuda(data, device):  # pragma: no cover
    X, y, labels = data
    reg = _estimator("regressor", 32, target_sparsity=0.8, device=device).fit(X, y)
    assert reg.module_[0].weight.device.type == "cpu"  # fitted state on the host
    cpu = _estimator("regressor", 32, target_sparsity=0.8).fit(X, y)
    np.testing.assert_allclose(reg.predict(X), cpu.predict(X), rtol=1e-6, atol=1e-8)
    reg.partial_fit(X, y)
    clf = _estimator("classifier", 32, device=device).fit(X, labels)
    assert clf.score(X, labels) > 0.8
