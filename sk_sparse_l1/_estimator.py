"""The estimator shared by the regressor and the classifier.

``fit`` and ``partial_fit`` validate the data, encode the target, build or
continue the network, choose a schedule (a fixed λ, or a target sparsity)
and run it, then set the fitted state. The checks of parameters that depend
on the data or on each other live here too, for the estimators and the
skorch callbacks. The task-specific parts (target encoding, loss, scoring,
prediction) live in the subclasses.
"""

import copy
import functools
import time
import warnings
from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
import torch
from sklearn.base import BaseEstimator, _fit_context
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import (
    Interval,
    InvalidParameterError,
    Options,
    StrOptions,
)
from sklearn.utils.validation import (
    _check_sample_weight,
    check_is_fitted,
    validate_data,
)

from sk_sparse_l1._data import (
    TrainingData,
    as_tensor,
    predict_raw,
    resolve_device,
    split_validation,
    weights_averaging_one,
)
from sk_sparse_l1._lambda_search import auto_alpha, paper_search, warmup_bounds
from sk_sparse_l1._network import (
    Network,
    build_mlp,
    count_nonzero,
    layer_widths,
    linear_layers,
)
from sk_sparse_l1._optimizers import SOLVERS, make_optimizer
from sk_sparse_l1._progress import EpochProgress
from sk_sparse_l1._schedules import (
    FixedAlpha,
    MagnitudeRampSchedule,
    TargetL1,
    l1_epochs,
)
from sk_sparse_l1._targets import group_counts, target_nonzeros, within_tolerance
from sk_sparse_l1._trainer import (
    Trainer,
    auto_threads,
    batch_loss_and_gradients,
    non_finite_error,
    torch_threads,
)
from sk_sparse_l1.sparse import prefer_sparse, sparse_forward, to_csr

# ------------------------------------------------------- parameter checks
# Single parameters are declared in BaseSparseL1._parameter_constraints and
# checked by scikit-learn; these check what depends on the data or on other
# parameters, with "expected …, got …" wording. The skorch callbacks use
# them too, naming what a value is given for (``per``).


def check_hidden_layer_sizes(hidden_layer_sizes):
    """The widths of the hidden layers as a list of positive ints."""
    sizes = hidden_layer_sizes
    sizes = [sizes] if isinstance(sizes, Integral) else list(sizes)
    if not all(isinstance(s, Integral) and s > 0 for s in sizes):
        raise ValueError(
            f"hidden_layer_sizes must be positive integers, got {hidden_layer_sizes!r}."
        )
    return [int(s) for s in sizes]


def check_alpha(alpha, n_layers, *, per="weight layer"):
    """One finite, non-negative λ for every layer.

    Parameters
    ----------
    alpha : float or array-like of float
        One λ for all layers, or one per layer.
    n_layers : int
        Number of penalized tensors.
    per : str, default="weight layer"
        What each value of a sequence is for, as the error message says it.

    Returns
    -------
    alphas : list of float
        ``n_layers`` values.
    """
    shape = np.shape(alpha)
    if len(shape) > 1 or (len(shape) == 1 and shape[0] != n_layers):
        raise ValueError(
            f"alpha must be a float or one value per {per}: expected "
            f"{n_layers} values, got {shape}."
        )
    try:
        alphas = np.asarray(alpha, dtype=float)
    except (TypeError, ValueError):
        alphas = np.array(np.nan)
    if not np.all(np.isfinite(alphas)) or np.any(alphas < 0):
        raise ValueError(f"alpha must be finite and non-negative, got {alpha!r}.")
    if alphas.ndim == 0:
        return [float(alphas)] * n_layers
    return alphas.tolist()


def check_fractions(name, value):
    """Every entry of a float or sequence must be a fraction in [0, 1)."""
    for v in np.atleast_1d(np.asarray(value, dtype=object)).ravel():
        ok = isinstance(v, Real) and not isinstance(v, bool) and np.isfinite(v)
        if not ok or not 0 <= v < 1:
            raise InvalidParameterError(
                f"The '{name}' parameter must be a float in [0, 1) or a sequence "
                f"of such floats, one per weight layer. Got {value!r} instead."
            )


def check_target_sparsity(target_sparsity, *, per="weight layer"):
    """A fraction in [0, 1), or a 1-D sequence of them; None passes.

    Whether a sequence has one entry per layer is checked where the counts
    are computed, by :func:`sk_sparse_l1._targets.target_nonzeros`.
    """
    if target_sparsity is None:
        return
    check_fractions("target_sparsity", target_sparsity)
    if np.ndim(target_sparsity) > 1:
        raise ValueError(
            "target_sparsity must be a float or a 1-D sequence with one "
            f"fraction per {per}, got shape {np.shape(target_sparsity)}."
        )


# ----------------------------------------------------------- fitted state


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


def input_reaches_output(coefs):
    """Whether some output of the network depends on some input: a chain of
    nonzero weights through every layer of ``coefs`` (each of shape
    ``(fan_in, fan_out)``)."""
    reached = np.ones(coefs[0].shape[0], dtype=bool)
    for W in coefs:
        reached = (reached.astype(np.float64) @ (W != 0)) > 0
    return bool(reached.any())


def as_arrays(tensors, transpose):
    """Numpy copies of ``tensors`` (transposed: ``nn.Linear`` stores weights
    as (fan_out, fan_in), scikit-learn's ``coefs_`` as (fan_in, fan_out))."""
    arrays = [t.detach().cpu().numpy() for t in tensors]
    return [(a.T if transpose else a).copy() for a in arrays]


def fitted_alpha(lambdas, layer_wise):
    """``alpha_``: the λ per layer (an array) for layer-wise settings, else
    the one λ (a float); NaN when no λ was chosen."""
    lambdas = [np.nan] if lambdas is None else lambdas
    return np.asarray(lambdas, dtype=float) if layer_wise else float(lambdas[0])


def path_arrays(path_lambdas, path_nonzeros, group_sizes):
    """``alphas_`` and ``sparsities_``: the λ and the fraction of zeros of
    each group (columns) at each point of the path (rows)."""
    n_groups = len(group_sizes)
    alphas = np.asarray(path_lambdas, dtype=float).reshape(-1, n_groups)
    nonzeros = np.asarray(path_nonzeros, dtype=float).reshape(-1, n_groups)
    return alphas, 1.0 - nonzeros / group_sizes


class BaseSparseL1(BaseEstimator):
    """Shared implementation; use SparseL1Regressor or SparseL1Classifier."""

    _parameter_constraints: dict = {
        "hidden_layer_sizes": [
            "array-like",
            Interval(Integral, 1, None, closed="left"),
        ],
        "activation": [StrOptions({"identity", "logistic", "tanh", "relu"})],
        "solver": [StrOptions(set(SOLVERS))],
        "alpha": [
            StrOptions({"auto"}),
            Interval(Real, 0, None, closed="left"),
            "array-like",
        ],
        "target_sparsity": [None, Interval(Real, 0, 1, closed="left"), "array-like"],
        "sparsity_tol": [Interval(Real, 0, 1, closed="neither")],
        "search": [StrOptions({"online", "magnitude", "paper"})],
        "max_search_rounds": [Interval(Integral, 1, None, closed="left")],
        "refit": ["boolean", StrOptions({"auto"})],
        "batch_size": [
            StrOptions({"auto"}),
            Interval(Integral, 1, None, closed="left"),
        ],
        "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "n_iter_no_change": [
            Interval(Integral, 1, None, closed="left"),
            Options(Real, {np.inf}),
        ],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "beta_1": [Interval(Real, 0, 1, closed="left")],
        "beta_2": [Interval(Real, 0, 1, closed="left")],
        "epsilon": [Interval(Real, 0, None, closed="neither")],
        "warm_start": ["boolean"],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
        "device": [StrOptions({"cpu", "cuda", "auto"})],
        "n_threads": [
            Interval(Integral, 1, None, closed="left"),
            StrOptions({"auto"}),
            None,
        ],
    }

    def __init__(
        self,
        hidden_layer_sizes=(100,),
        *,
        activation="relu",
        solver="adam",
        alpha="auto",
        target_sparsity=None,
        sparsity_tol=0.02,
        search="online",
        max_search_rounds=30,
        refit="auto",
        batch_size="auto",
        learning_rate_init=1e-3,
        max_iter=200,
        tol=1e-4,
        n_iter_no_change=10,
        early_stopping=False,
        validation_fraction=0.1,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        warm_start=False,
        random_state=None,
        verbose=0,
        device="cpu",
        n_threads="auto",
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.target_sparsity = target_sparsity
        self.sparsity_tol = sparsity_tol
        self.search = search
        self.max_search_rounds = max_search_rounds
        self.refit = refit
        self.batch_size = batch_size
        self.learning_rate_init = learning_rate_init
        self.max_iter = max_iter
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.warm_start = warm_start
        self.random_state = random_state
        self.verbose = verbose
        self.device = device
        self.n_threads = n_threads

    # ------------------------------------------------------------------ fit

    def fit(self, X, y, sample_weight=None):
        """Fit the network to ``X`` and ``y`` with proximal ℓ1 training.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data; sparse matrices are densified a minibatch at a
            time.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Target values (class labels, or a label indicator matrix, for
            the classifier).
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights; the loss is their weighted mean.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        # Raised here, outside the decorators of _checked_fit: stacklevel=2
        # is the caller's line.
        for message, category in self._checked_fit(X, y, sample_weight):
            warnings.warn(message, category, stacklevel=2)
        return self

    @_fit_context(prefer_skip_nested_validation=True)
    @unchanged_on_failure
    def _checked_fit(self, X, y, sample_weight):
        """``fit`` with its parameters validated and a failure undone;
        returns the warnings that judge the fit, as (message, category)."""
        return self._fit(X, y, sample_weight, incremental=False)

    def _fit(self, X, y, sample_weight, incremental, classes=None):
        """Fit (``incremental=False``) or train one more epoch of the fit
        under way; returns the warnings that judge a whole fit."""
        started = time.perf_counter()
        if incremental and self.early_stopping:
            raise ValueError("partial_fit does not support early_stopping=True")
        if incremental and self.target_sparsity is not None and self.search == "paper":
            raise ValueError(
                "partial_fit steers λ during training (search='online' or "
                "'magnitude'); search='paper' retrains from scratch in every "
                "round and needs fit."
            )
        first_pass = not hasattr(self, "module_") or not (
            self.warm_start or incremental
        )
        X, y = validate_data(
            self,
            X,
            y,
            accept_sparse=["csr", "csc"],
            dtype=(np.float64, np.float32),
            multi_output=True,
            y_numeric=not self._is_classifier_task(),
            reset=first_pass,
        )
        target = self._encode_target(y, first_pass, incremental, classes)
        sample_weight = self._combined_sample_weight(X, y, sample_weight)
        widths = [X.shape[1], *check_hidden_layer_sizes(self.hidden_layer_sizes)]
        widths.append(target.shape[1])
        weight_counts = [a * b for a, b in zip(widths[:-1], widths[1:])]
        targets, groups, alphas = self._check_params(weight_counts)

        device = resolve_device(self.device)
        dtype = torch.float64 if X.dtype == np.float64 else torch.float32
        random_state = check_random_state(self.random_state)
        seed = int(random_state.randint(np.iinfo(np.int32).max))
        module = self._initial_module(widths, first_pass, seed, dtype, device)
        network = Network(linear_layers(module), self.activation, self._loss_name())
        network.flatten_()  # for the training steps; undone in _set_fitted_state
        data, validation = self._split(X, y, target, sample_weight, random_state)
        data = TrainingData.from_arrays(*data, dtype, device)
        trainer = Trainer(
            network,
            data,
            make_optimizer=self._make_optimizer,
            batch_size=self._batch_size(),
            generator=torch.Generator().manual_seed(seed),
            validation_score=self._validation_scorer(network, validation),
        )
        if incremental and not first_pass:
            trainer.optimizer.load_state_dict(self._optimizer_state)
            trainer.generator.set_state(self._shuffle_state)
        if first_pass:
            self.loss_curve_, self.validation_scores_ = [], None
            self.t_ = 0
        n_threads = self.n_threads
        if n_threads == "auto":
            n_threads = auto_threads(widths, min(self._batch_size(), data.n_samples))
        with torch_threads(n_threads):
            if not (incremental and not first_pass):  # a new schedule
                # ∂L/∂W over the whole training set at the starting network:
                # alpha="auto" and the warm-up of λ are scaled by it.
                with torch.no_grad():
                    _, gradients, _ = batch_loss_and_gradients(network, data, None)
                trainer.initial_gradients = gradients
            if alphas == "auto" and self.target_sparsity is None:
                alphas = self._auto_alpha(trainer, first_pass, len(widths) - 1)
            schedule, search = self._run(
                trainer, alphas, weight_counts, targets, groups, first_pass, incremental
            )
        self._set_fitted_state(module, trainer, schedule, weight_counts, incremental)
        self._set_lambda_record(schedule, search, weight_counts, targets, groups)
        self._set_training_record(trainer, schedule)
        self._optimizer_state = trainer.optimizer.state_dict()
        self._shuffle_state = trainer.generator.get_state()
        self._target_ndim = y.ndim
        self.t_ += data.n_samples * trainer.n_epochs
        self.fit_time_ = time.perf_counter() - started
        dead = self._dead_network_warnings()
        if incremental:
            return dead
        return dead + self._fit_warnings(trainer, schedule, search)

    def _dead_network_warnings(self):
        """A warning when no output depends on the inputs: every weight
        matrix along every path has a zero, so every prediction is the
        same. Never a result to return quietly."""
        if input_reaches_output(self.coefs_):
            return []
        empty = [j for j, W in enumerate(self.coefs_) if not np.any(W)]
        where = (
            f"layer(s) {empty} (coefs_[j]) have no nonzero weight"
            if empty
            else "no chain of nonzero weights links an input to an output"
        )
        message = (
            f"The fitted network ignores its input: {where}, so every "
            f"prediction is the same constant. The penalty is too strong for "
            f"this network (sparsity {self.sparsity_:.4f}, alpha_="
            f"{np.round(self.alpha_, 6).tolist()}): lower alpha or "
            "target_sparsity, or give each layer its own target."
        )
        return [(message, UserWarning)]

    # -------------------------------------------------------- fitted state

    def _set_fitted_state(self, module, trainer, schedule, weight_counts, incremental):
        """The network, its weights as arrays, and their sparsity."""
        network = trainer.network.unflatten_()
        self.module_ = module.cpu().requires_grad_(False)
        self.coefs_ = as_arrays(network.weights, transpose=True)
        self.intercepts_ = as_arrays(network.biases, transpose=False)
        self.sparse_coefs_ = to_csr(self.coefs_)
        if trainer.l1_snapshot is not None:
            n_layers = len(self.coefs_)
            self.l1_coefs_ = as_arrays(trainer.l1_snapshot[:n_layers], transpose=True)
            self.l1_intercepts_ = as_arrays(
                trainer.l1_snapshot[n_layers:], transpose=False
            )
        elif not (
            incremental and schedule.phase == "refit" and hasattr(self, "l1_coefs_")
        ):
            self.l1_coefs_ = [W.copy() for W in self.coefs_]
            self.l1_intercepts_ = [b.copy() for b in self.intercepts_]
        self.n_layers_ = len(self.coefs_) + 1
        self.n_outputs_ = self.coefs_[-1].shape[1]
        self.out_activation_ = self._out_activation()
        layer_nonzeros = np.array(count_nonzero(network.weights))
        counts = np.asarray(weight_counts)
        self.n_nonzero_ = int(layer_nonzeros.sum())
        self.layer_n_nonzero_ = layer_nonzeros
        self.sparsity_ = 1.0 - self.n_nonzero_ / counts.sum()
        self.layer_sparsity_ = 1.0 - layer_nonzeros / counts
        self.support_ = np.any(self.coefs_[0] != 0, axis=1)

    def _set_lambda_record(self, schedule, search, weight_counts, targets, groups):
        """``alpha_`` and, for a target sparsity, the path of λ and the
        sparsity it gave, and whether the target was reached."""
        layer_wise = (
            np.ndim(
                self.alpha if self.target_sparsity is None else self.target_sparsity
            )
            == 1
        )
        self.alpha_ = fitted_alpha(schedule.alpha, layer_wise)
        for name in ("alphas_", "sparsities_", "n_search_rounds_", "target_reached_"):
            vars(self).pop(name, None)
        if targets is None:
            return
        sizes = group_counts(weight_counts, groups)
        if search is not None:
            path_lambdas, path_nonzeros = search.lambdas, search.nonzeros
            self.n_search_rounds_ = search.n_rounds
        else:
            path = getattr(schedule, "path", [])
            path_lambdas = [lam for lam, _ in path]
            path_nonzeros = [k for _, k in path]
            self.n_search_rounds_ = 1
        self.alphas_, self.sparsities_ = path_arrays(path_lambdas, path_nonzeros, sizes)
        final = group_counts(self.layer_n_nonzero_, groups)
        self.target_reached_ = within_tolerance(final, targets, self.sparsity_tol)

    def _set_training_record(self, trainer, schedule):
        """scikit-learn's MLP attributes: ``loss_curve_`` and
        ``validation_scores_`` grow over ``warm_start`` fits and
        ``partial_fit`` calls; ``n_iter_`` counts the epochs of this call."""
        self.n_iter_ = trainer.n_epochs
        self.loss_curve_ = list(self.loss_curve_) + [
            float(v) for v in trainer.loss_curve
        ]
        stopping = schedule.stopping
        self._no_improvement_count = stopping.no_improvement_count
        if self.early_stopping:
            previous = self.validation_scores_ or []
            self.validation_scores_ = previous + [
                float(s) for s in trainer.validation_scores
            ]
            self.best_validation_score_ = trainer.best_score
            self.best_loss_ = None
        else:
            self.validation_scores_ = None
            self.best_validation_score_ = None
            self.best_loss_ = float(stopping.best_loss)

    def _fit_warnings(self, trainer, schedule, search):
        """The warnings that judge a whole fit, as (message, category)."""
        if trainer.interrupted:
            message = (
                "Training interrupted by the user: the estimator keeps the "
                "network as it was when interrupted."
            )
            return [(message, UserWarning)]
        if self.target_sparsity is not None and not self.target_reached_:
            where = (
                f"within max_search_rounds={self.max_search_rounds} rounds"
                if search is not None
                else f"within max_iter={self.max_iter} epochs"
            )
            message = (
                f"target_sparsity={self.target_sparsity} was not reached {where} "
                f"(sparsity_tol={self.sparsity_tol}): the network kept has "
                f"sparsity {np.round(self.layer_sparsity_, 4).tolist()} per "
                f"layer, {self.sparsity_:.4f} overall. Increase max_iter or "
                "max_search_rounds, or widen sparsity_tol."
            )
            return [(message, ConvergenceWarning)]
        if not schedule.converged:
            monitored = "validation score" if self.early_stopping else "loss"
            message = (
                f"Proximal training used all max_iter={self.max_iter} epochs and "
                f"its {schedule.phase} phase had not converged: the {monitored} "
                f"still improved by more than tol={self.tol} within "
                f"n_iter_no_change={self.n_iter_no_change} epochs (last "
                f"objective {self.loss_curve_[-1]:.6g}). Increase max_iter to "
                "train longer."
            )
            return [(message, ConvergenceWarning)]
        return []

    def _check_params(self, weight_counts):
        """The checks that need the layer sizes. Returns the nonzero count
        wanted in each group and the layers of each group (None without a
        target sparsity), and λ per layer (``"auto"`` is resolved once the
        network exists)."""
        check_target_sparsity(self.target_sparsity)
        targets, groups = None, None
        if self.target_sparsity is not None:
            targets, groups = target_nonzeros(self.target_sparsity, weight_counts)
        alphas = self.alpha
        if not isinstance(alphas, str):
            alphas = check_alpha(alphas, len(weight_counts))
        return targets, groups, alphas

    def _run(
        self, trainer, alphas, weight_counts, targets, groups, first_pass, incremental
    ):
        """Train: one schedule, or the paper's rounds then a refit schedule
        (which starts by asking the trainer to refit). Returns the schedule
        last run and the paper search (or None)."""
        n_epochs = 1 if incremental else self.max_iter
        progress = self._progress(incremental)
        trainer.on_epoch = progress
        search = None
        try:
            if incremental and not first_pass:
                # A copy: a failed call must leave the schedule as it was.
                schedule = copy.deepcopy(self._schedule).to(trainer.data.device)
            elif self.target_sparsity is not None and self.search == "paper":
                search, schedule = self._paper_search(trainer, targets, groups)
                n_epochs = self.max_iter - schedule.max_epochs
                if n_epochs > 0:
                    schedule = schedule.refit_after(n_epochs)
            else:
                schedule = self._new_schedule(
                    trainer,
                    alphas,
                    weight_counts,
                    targets,
                    groups,
                    incremental,
                    first_pass,
                )
            if n_epochs > 0:
                trainer.run(schedule, n_epochs)
        finally:
            if progress is not None:
                progress.close()
        schedule.adaptive = False  # a later partial_fit continues it
        self._schedule = schedule.to("cpu")
        return schedule, search

    def _new_schedule(
        self, trainer, alphas, weight_counts, targets, groups, incremental, first_pass
    ):
        """The schedule of a fit at ``alphas``, or at the target counts."""
        common = dict(
            max_epochs=self.max_iter,
            tol=self.tol,
            n_iter_no_change=self.n_iter_no_change,
            adaptive=not incremental,
        )
        if targets is None:
            refit = self._refits(alphas)
            warmup = self._warmup(trainer, refit) if first_pass else None
            return FixedAlpha(alphas, warmup=warmup, refit=refit, **common)
        sizes = group_counts(weight_counts, groups)
        if all(t >= n for t, n in zip(targets, sizes)):  # nothing to prune
            return FixedAlpha([0.0] * len(weight_counts), refit=False, **common)
        refit = self._refits(None)
        if self.search == "magnitude":
            return MagnitudeRampSchedule(
                groups, targets, count_tol=self.sparsity_tol, refit=refit, **common
            )
        warmup = self._warmup(trainer, refit)
        min_lambda = 0.0
        if not first_pass and np.all(np.isfinite(getattr(self, "alpha_", np.nan))):
            # A warm start continues from the λ it reached: the warm-up
            # starts there, so that the weights it zeroed stay zero.
            min_lambda = float(np.min(self.alpha_))
            low = max(min_lambda, warmup[0])
            warmup = (low, max(warmup[1], low * 10.0))
        return TargetL1(
            groups,
            targets,
            count_tol=self.sparsity_tol,
            warmup=warmup,
            min_lambda=min_lambda,
            refit=refit,
            **common,
        )

    def _warmup(self, trainer, refit, max_epochs=None):
        """``(low, high)`` of the λ warm-up of an ℓ1 phase
        (:func:`sk_sparse_l1._lambda_search.warmup_bounds`), from the
        network and gradients at the start of the fit."""
        epochs = l1_epochs(self.max_iter if max_epochs is None else max_epochs, refit)
        steps_per_epoch = -(-trainer.data.n_samples // trainer.batch_size)
        return warmup_bounds(
            trainer.network.weights,
            trainer.initial_gradients,
            lr=self.learning_rate_init,
            n_steps=epochs * steps_per_epoch,
            per_coordinate=self.solver == "adam",
        )

    def _paper_search(self, trainer, targets, groups):
        """The paper's rounds, each a fixed-λ schedule over the budget left
        before the refit (all of it without one)."""
        round_epochs = l1_epochs(self.max_iter, self._refits(None))
        round_schedule = functools.partial(
            FixedAlpha,
            warmup=self._warmup(trainer, False, max_epochs=round_epochs),
            max_epochs=round_epochs,
            tol=self.tol,
            n_iter_no_change=self.n_iter_no_change,
            refit=False,
            adaptive=True,
        )
        return paper_search(
            trainer,
            targets,
            groups,
            sparsity_tol=self.sparsity_tol,
            max_rounds=self.max_search_rounds,
            round_schedule=round_schedule,
            seed=int(trainer.generator.initial_seed()),
        )

    def _refits(self, alphas):
        """Whether the fit ends with a refit: ``refit="auto"`` refits a
        target-sparsity fit only."""
        if self.refit == "auto":
            return alphas is None
        return bool(self.refit) and (alphas is None or any(a > 0 for a in alphas))

    def _combined_sample_weight(self, X, y, sample_weight):
        """Sample weights (× class weights) scaled to mean 1, or None."""
        weight = None
        if sample_weight is not None:
            weight = _check_sample_weight(
                sample_weight, X, dtype=np.float64, ensure_non_negative=True
            )
        return weights_averaging_one(self._apply_class_weight(y, weight))

    def _apply_class_weight(self, y, weight):
        return weight

    # ---------------------------------------------------------- components

    def _initial_module(self, widths, first_pass, seed, dtype, device):
        if first_pass:
            generator = torch.Generator().manual_seed(seed)
            module = build_mlp(
                widths, self.activation, dtype=dtype, generator=generator
            )
            return module.to(device)
        previous = layer_widths(self.module_)
        if previous != list(widths):
            raise ValueError(
                f"Continuing a fit (warm_start=True or partial_fit) needs the same "
                f"layer sizes as before: expected {previous}, got {list(widths)}."
            )
        # A copy: a failed fit must leave the fitted network as it was.
        return copy.deepcopy(self.module_).to(device=device, dtype=dtype)

    def _make_optimizer(self, network):
        return make_optimizer(
            self.solver,
            network.weights,
            network.biases,
            lr=self.learning_rate_init,
            beta1=self.beta_1,
            beta2=self.beta_2,
            eps=self.epsilon,
        )

    def _batch_size(self):
        """The requested batch size; the trainer caps it at the number of
        samples."""
        return 200 if self.batch_size == "auto" else self.batch_size

    def _auto_alpha(self, trainer, first_pass, n_layers):
        """``alpha="auto"``: a fraction of the mean gradient magnitude of the
        weights at the initial network (kept from the first fit when a fit
        continues)."""
        if first_pass or not hasattr(self, "_auto_lambda"):
            magnitudes = [g.abs().cpu().numpy() for g in trainer.initial_gradients]
            self._auto_lambda = auto_alpha(magnitudes)
        return [self._auto_lambda] * n_layers

    def _split(self, X, y, target, sample_weight, random_state):
        """Training arrays ``(X, target, sample_weight)`` and, when early
        stopping, validation arrays ``(X, y, sample_weight)``."""
        if not self.early_stopping:
            return (X, target, sample_weight), None
        stratify = y if self._is_classifier_task() and y.ndim == 1 else None
        return split_validation(
            X,
            y,
            target,
            sample_weight,
            fraction=self.validation_fraction,
            stratify=stratify,
            random_state=random_state,
        )

    def _validation_scorer(self, network, validation):
        if validation is None:
            return None
        X_val, y_val, weight_val = validation
        if not sp.issparse(X_val):  # on the device once, not every epoch
            weight = network.weights[0]
            X_val = as_tensor(X_val, weight.dtype, weight.device)

        def score():
            raw = predict_raw(network, X_val)
            if not np.isfinite(raw).all():
                # The metric would fail first on the outputs of a network that
                # diverged in the last step of the epoch.
                raise non_finite_error("The network's outputs became non-finite")
            return float(self._score_raw(raw, y_val, weight_val))

        return score

    def _raw_predict(self, X):
        """Raw network outputs for ``X``, in the dtype the network trained in.

        Products of the nonzero weights only where that is measured to be
        faster (very sparse, wide networks, many rows: see
        :func:`sk_sparse_l1.sparse.prefer_sparse`), dense ones otherwise.
        """
        check_is_fitted(self)
        X = validate_data(
            self,
            X,
            accept_sparse=["csr", "csc"],
            dtype=(np.float64, np.float32),
            reset=False,
        )
        if not sp.issparse(X) and prefer_sparse(self.sparse_coefs_, X.shape[0]):
            return sparse_forward(
                self.sparse_coefs_, self.intercepts_, self.activation, X
            )
        network = Network(linear_layers(self.module_), self.activation, None)
        return predict_raw(network, X)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.non_deterministic = False
        return tags

    def _progress(self, incremental):
        if not self.verbose:
            return None
        if incremental:
            return EpochProgress(max(self.verbose, 2), 1, len(self.loss_curve_))
        rounds = self.max_search_rounds if self.search == "paper" else 1
        return EpochProgress(self.verbose, self.max_iter * rounds)
