"""The displays: what they draw is the estimator's data, matplotlib stays
optional."""

import subprocess
import sys
import warnings

import numpy as np
import pytest
from sklearn.datasets import load_iris
from sklearn.exceptions import ConvergenceWarning

from sk_sparse_l1 import SparseL1Classifier, SparseL1ClassifierCV
from sk_sparse_l1.plotting import LayerSparsityDisplay, SparsityPathDisplay

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def iris():
    X, y = load_iris(return_X_y=True, as_frame=True)
    return (X - X.mean()) / X.std(), y


@pytest.fixture(scope="module")
def fitted_cv(iris):
    X, y = iris
    clf = SparseL1ClassifierCV(
        hidden_layer_sizes=(8,), sparsities=[0.3, 0.6, 0.85], cv=3, max_iter=30,
        learning_rate_init=0.02, random_state=0,
    )  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return clf.fit(X, y)


def test_path_display_draws_the_cv_results(fitted_cv):
    display = SparsityPathDisplay.from_estimator(fitted_cv)
    results = fitted_cv.cv_results_
    x, y = display.line_.get_data()
    np.testing.assert_allclose(x, results["mean_sparsity"])
    np.testing.assert_allclose(y, results["mean_test_score"])
    n_weights = 4 * 8 + 8 * 3
    (nonzero,) = display.ax_nonzero_.get_lines()
    np.testing.assert_allclose(
        nonzero.get_ydata(), (1 - results["mean_sparsity"]) * n_weights
    )
    chosen = [line for line in display.ax_.get_lines() if line.get_label() == "chosen"]
    assert chosen[0].get_xdata()[0] == x[fitted_cv.best_index_]
    assert display.figure_ is display.ax_.figure
    assert display.ax_.get_ylabel() == "CV score"


def test_path_display_against_alpha_on_given_axes(fitted_cv):
    _, ax = plt.subplots()
    display = SparsityPathDisplay.from_estimator(fitted_cv, x="alpha", ax=ax)
    assert display.ax_ is ax
    assert ax.get_xscale() == "log"
    np.testing.assert_allclose(
        display.line_.get_xdata(), fitted_cv.cv_results_["mean_alpha"]
    )
    with pytest.raises(ValueError, match="x must be 'sparsity' or 'alpha'"):
        SparsityPathDisplay.from_estimator(fitted_cv, x="lambda")


def test_layer_display_shows_the_zero_pattern(iris, fitted_cv):
    display = LayerSparsityDisplay.from_estimator(fitted_cv)
    assert len(display.ax_) == len(fitted_cv.coefs_) == 2
    for ax, W in zip(display.ax_, fitted_cv.coefs_):
        (image,) = ax.get_images()
        np.testing.assert_array_equal(image.get_array(), W != 0)
    np.testing.assert_array_equal(display.support, fitted_cv.support_)
    np.testing.assert_allclose(display.layer_sparsity, fitted_cv.layer_sparsity_)
    assert f"{display.layer_sparsity[0]:.0%} zeros" in display.ax_[0].get_title()
    # the inputs are named after the DataFrame's columns
    labels = [t.get_text() for t in display.ax_[0].get_yticklabels()]
    assert labels == list(iris[0].columns)


def test_layer_display_of_a_base_estimator_on_given_axes(iris):
    X, y = iris
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf = SparseL1Classifier(
            hidden_layer_sizes=(6, 5), target_sparsity=0.5, max_iter=20,
            random_state=0,
        ).fit(X.to_numpy(), y)  # fmt: skip
    _, axes = plt.subplots(1, 3)
    display = LayerSparsityDisplay.from_estimator(clf, ax=axes)
    assert list(display.ax_) == list(axes)
    with pytest.raises(ValueError, match="one Axes per weight layer: expected 3"):
        LayerSparsityDisplay.from_estimator(clf, ax=axes[:2])


def test_displays_need_a_fitted_estimator():
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        SparsityPathDisplay.from_estimator(SparseL1ClassifierCV())
    with pytest.raises(NotFittedError):
        LayerSparsityDisplay.from_estimator(SparseL1Classifier())


def test_matplotlib_is_imported_only_to_draw():
    code = (
        "import sys, sk_sparse_l1, sk_sparse_l1.plotting; "
        "assert 'matplotlib' not in sys.modules, 'imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_without_matplotlib_the_error_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    display = LayerSparsityDisplay(coefs=[np.eye(2)])
    with pytest.raises(ImportError, match=r"sk_sparse_l1\[plot\]"):
        display.plot()
