"""Checks of parameters that depend on the data or on each other: explicit
ValueErrors in ``fit``, with "expected …, got …" wording. Single parameters
are checked by scikit-learn's ``_parameter_constraints``."""

from numbers import Integral

import numpy as np

from sk_sparse_l1._targets import check_fractions, target_nonzeros


def check_hidden_layer_sizes(hidden_layer_sizes):
    """The widths of the hidden layers as a list of positive ints."""
    sizes = hidden_layer_sizes
    sizes = [sizes] if isinstance(sizes, Integral) else list(sizes)
    if not all(isinstance(s, Integral) and s > 0 for s in sizes):
        raise ValueError(
            f"hidden_layer_sizes must be positive integers, got {hidden_layer_sizes!r}."
        )
    return [int(s) for s in sizes]


def check_alpha(alpha, n_layers):
    """``"auto"``, or one finite non-negative λ per weight layer."""
    if isinstance(alpha, str):
        return "auto"
    if np.ndim(alpha) == 0:
        return [float(alpha)] * n_layers
    alphas = np.asarray(alpha, dtype=float)
    if alphas.ndim != 1 or alphas.shape[0] != n_layers:
        raise ValueError(
            f"alpha must be a float or one value per weight layer: expected "
            f"{n_layers} values, got {np.shape(alpha)}."
        )
    if not np.all(np.isfinite(alphas)) or np.any(alphas < 0):
        raise ValueError(f"alpha must be finite and non-negative, got {alpha!r}.")
    return alphas.tolist()


def check_target_sparsity(target_sparsity, weight_counts):
    """A fraction in [0, 1), or one per weight layer; None passes."""
    if target_sparsity is None:
        return
    check_fractions("target_sparsity", target_sparsity)
    if np.ndim(target_sparsity) > 1:
        raise ValueError(
            "target_sparsity must be a float or a 1-D sequence with one "
            f"fraction per weight layer, got shape {np.shape(target_sparsity)}."
        )
    # Raises a ValueError naming the expected length for a wrong sequence.
    target_nonzeros(target_sparsity, weight_counts)
