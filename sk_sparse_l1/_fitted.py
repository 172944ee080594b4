"""Writing the fitted state of an estimator after ``fit`` or ``partial_fit``:
weights, sparsity, the λ found, scikit-learn's training attributes and the
warnings that judge the whole fit."""

import functools
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning

from sk_sparse_l1._network import count_nonzero
from sk_sparse_l1._targets import (
    fitted_alpha,
    group_counts,
    path_arrays,
    within_tolerance,
)
from sk_sparse_l1.sparse import to_csr

# _warn, set_fitted_state, _fit, fit, then the wrappers of unchanged_on_failure
# and _fit_context: the warning points at the caller of fit.
_STACKLEVEL = 7


def unchanged_on_failure(fit):
    """Make a failed ``fit`` leave the estimator as it was before the call.

    ``validate_data`` sets ``n_features_in_`` before anything can fail;
    without this, a failed first fit looks fitted to ``check_is_fitted``,
    and a failed refit mixes the new ``n_features_in_`` with the previous
    network.
    """

    @functools.wraps(fit)
    def wrapper(self, *args, **kwargs):
        state = dict(self.__dict__)
        try:
            return fit(self, *args, **kwargs)
        except BaseException:
            self.__dict__.clear()
            self.__dict__.update(state)
            raise

    return wrapper


def _arrays(tensors, transpose):
    """Numpy copies of ``tensors`` (transposed: ``nn.Linear`` stores weights
    as (fan_out, fan_in), scikit-learn's ``coefs_`` as (fan_in, fan_out))."""
    arrays = [t.detach().cpu().numpy() for t in tensors]
    return [(a.T if transpose else a).copy() for a in arrays]


def set_fitted_state(
    est, module, trainer, schedule, search, weight_counts, targets, groups, incremental
):
    """Set every fitted attribute of ``est`` from what the training left."""
    module = module.cpu().requires_grad_(False)
    network = trainer.network
    est.module_ = module
    est.coefs_ = _arrays(network.weights, transpose=True)
    est.intercepts_ = _arrays(network.biases, transpose=False)
    est.sparse_coefs_ = to_csr(est.coefs_)
    if trainer.l1_snapshot is not None:
        n_layers = len(est.coefs_)
        est.l1_coefs_ = _arrays(trainer.l1_snapshot[:n_layers], transpose=True)
        est.l1_intercepts_ = _arrays(trainer.l1_snapshot[n_layers:], transpose=False)
    elif not (incremental and schedule.phase == "refit" and hasattr(est, "l1_coefs_")):
        est.l1_coefs_ = [W.copy() for W in est.coefs_]
        est.l1_intercepts_ = [b.copy() for b in est.intercepts_]
    est.n_layers_ = len(est.coefs_) + 1
    est.n_outputs_ = est.coefs_[-1].shape[1]
    est.out_activation_ = est._out_activation()

    layer_nonzeros = np.array(count_nonzero(network.weights))
    counts = np.asarray(weight_counts)
    est.n_nonzero_ = int(layer_nonzeros.sum())
    est.layer_n_nonzero_ = layer_nonzeros
    est.sparsity_ = 1.0 - est.n_nonzero_ / counts.sum()
    est.layer_sparsity_ = 1.0 - layer_nonzeros / counts
    est.support_ = np.any(est.coefs_[0] != 0, axis=1)
    _set_lambda(est, schedule, search, weight_counts, targets, groups, layer_nonzeros)
    _set_training_record(est, trainer, schedule)
    if not incremental:
        _warn(est, trainer, schedule, search)


def _set_lambda(est, schedule, search, weight_counts, targets, groups, layer_nonzeros):
    layer_wise = (
        np.ndim(est.alpha if est.target_sparsity is None else est.target_sparsity) == 1
    )
    est.alpha_ = fitted_alpha(schedule.alpha, layer_wise)
    for name in ("alphas_", "sparsities_", "n_search_rounds_", "target_reached_"):
        vars(est).pop(name, None)
    if est.target_sparsity is None:
        return
    sizes = group_counts(weight_counts, groups)
    if search is not None:
        path_lambdas, path_nonzeros = search.lambdas, search.nonzeros
        est.n_search_rounds_ = search.n_rounds
    else:
        path = getattr(schedule, "path", [])
        path_lambdas = [lam for lam, _ in path]
        path_nonzeros = [k for _, k in path]
        est.n_search_rounds_ = 1
    est.alphas_, est.sparsities_ = path_arrays(path_lambdas, path_nonzeros, sizes)
    final = group_counts(layer_nonzeros, groups)
    est.target_reached_ = within_tolerance(final, targets, est.sparsity_tol)


def _set_training_record(est, trainer, schedule):
    """scikit-learn's MLP attributes: ``loss_curve_`` and
    ``validation_scores_`` grow over ``warm_start`` fits and ``partial_fit``
    calls; ``n_iter_`` counts the epochs of this call."""
    est.n_iter_ = trainer.n_epochs
    est.loss_curve_ = list(est.loss_curve_) + [float(v) for v in trainer.loss_curve]
    stopping = schedule.stopping
    est._no_improvement_count = stopping.no_improvement_count
    if est.early_stopping:
        previous = est.validation_scores_ or []
        est.validation_scores_ = previous + [
            float(s) for s in trainer.validation_scores
        ]
        est.best_validation_score_ = trainer.best_score
        est.best_loss_ = None
    else:
        est.validation_scores_ = None
        est.best_validation_score_ = None
        est.best_loss_ = float(stopping.best_loss)


def _warn(est, trainer, schedule, search):
    if trainer.interrupted:
        warnings.warn(
            "Training interrupted by the user: the estimator keeps the network "
            "as it was when interrupted.",
            UserWarning,
            stacklevel=_STACKLEVEL,
        )
        return
    if est.target_sparsity is not None and not est.target_reached_:
        where = (
            f"within max_search_rounds={est.max_search_rounds} rounds"
            if search is not None
            else f"within max_iter={est.max_iter} epochs"
        )
        warnings.warn(
            f"target_sparsity={est.target_sparsity} was not reached {where} "
            f"(sparsity_tol={est.sparsity_tol}): the network kept has sparsity "
            f"{np.round(est.layer_sparsity_, 4).tolist()} per layer, "
            f"{est.sparsity_:.4f} overall. Increase max_iter or "
            "max_search_rounds, or widen sparsity_tol.",
            ConvergenceWarning,
            stacklevel=_STACKLEVEL,
        )
    elif not schedule.converged:
        warnings.warn(
            f"Proximal training used all max_iter={est.max_iter} epochs and its "
            f"{schedule.phase} phase had not converged: the "
            f"{'validation score' if est.early_stopping else 'loss'} still "
            f"improved by more than tol={est.tol} within n_iter_no_change="
            f"{est.n_iter_no_change} epochs (last objective "
            f"{est.loss_curve_[-1]:.6g}). Increase max_iter to train longer.",
            ConvergenceWarning,
            stacklevel=_STACKLEVEL,
        )
