"""The estimator shared by the regressor and the classifier.

``fit`` validates, encodes the target, builds the network and hands it to a
fixed-λ training run or to a λ search; the task-specific parts (target
encoding, loss, scoring, prediction) live in the subclasses.
"""

import copy
import functools
import time
import warnings
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import BaseEstimator, _fit_context
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import (
    _check_sample_weight,
    check_is_fitted,
    validate_data,
)

from sk_sparse_l1._lambda_search import check_fractions, group_counts, target_nonzeros
from sk_sparse_l1._network import build_mlp, count_nonzero, forward, linear_layers
from sk_sparse_l1._optim import make_optimizer
from sk_sparse_l1._problem import MLPProblem
from sk_sparse_l1._progress import EpochProgress
from sk_sparse_l1._search import online_search, paper_search
from sk_sparse_l1._sparse import prefer_sparse, sparse_forward, to_csr
from sk_sparse_l1._training import (
    Network,
    NoImprovementStopping,
    TrainingData,
    TrainingInterrupted,
    torch_threads,
)


def _unchanged_on_failure(fit):
    """Make a failed ``fit`` leave the estimator as it was before the call.

    ``validate_data`` sets ``n_features_in_`` before anything can fail; without
    this, a failed first fit looks fitted to ``check_is_fitted`` (and
    ``predict`` fails with an ``AttributeError``), and a failed refit mixes the
    new ``n_features_in_`` with the previous network.
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


def resolve_device(device):
    """'auto' → 'cuda' when available, else 'cpu'."""
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise ValueError("device='cuda' was requested but CUDA is not available.")
    return device


class BaseSparseL1(BaseEstimator):
    """Shared implementation; use SparseL1Regressor or SparseL1Classifier."""

    _parameter_constraints: dict = {
        "hidden_layer_sizes": [
            "array-like",
            Interval(Integral, 1, None, closed="left"),
        ],
        "activation": [StrOptions({"identity", "logistic", "tanh", "relu"})],
        "solver": [StrOptions({"sgd", "adam"})],
        "alpha": [Interval(Real, 0, None, closed="left"), "array-like"],
        "target_sparsity": [None, Interval(Real, 0, 1, closed="left"), "array-like"],
        "sparsity_tol": [Interval(Real, 0, 1, closed="neither")],
        "search": [StrOptions({"online", "paper"})],
        "max_search_rounds": [Interval(Integral, 1, None, closed="left")],
        "refit": ["boolean"],
        "batch_size": [
            StrOptions({"auto"}),
            Interval(Integral, 1, None, closed="left"),
        ],
        "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "beta_1": [Interval(Real, 0, 1, closed="left")],
        "beta_2": [Interval(Real, 0, 1, closed="left")],
        "epsilon": [Interval(Real, 0, None, closed="neither")],
        "warm_start": ["boolean"],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
        "device": [StrOptions({"cpu", "cuda", "auto"})],
        "n_threads": [Interval(Integral, 1, None, closed="left"), None],
    }

    def __init__(
        self,
        hidden_layer_sizes=(100,),
        *,
        activation="relu",
        solver="adam",
        alpha=1e-4,
        target_sparsity=None,
        sparsity_tol=0.02,
        search="online",
        max_search_rounds=10,
        refit=True,
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
        n_threads=1,
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

    @_fit_context(prefer_skip_nested_validation=True)
    @_unchanged_on_failure
    def fit(self, X, y, sample_weight=None):
        """Fit the network to ``X`` and ``y`` with proximal ℓ1 training.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Target values (class labels for the classifier).
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights; the loss is their weighted mean.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        started = time.perf_counter()
        X, y = validate_data(
            self,
            X,
            y,
            dtype=(np.float64, np.float32),
            multi_output=not self._is_classifier_task(),
            y_numeric=not self._is_classifier_task(),
        )
        sample_weight = self._combined_sample_weight(X, y, sample_weight)
        target = self._encode_target(y)
        layer_sizes = [X.shape[1], *self._check_hidden_layer_sizes(), target.shape[1]]
        alphas = self._check_alpha(len(layer_sizes) - 1)
        weight_counts = [a * b for a, b in zip(layer_sizes[:-1], layer_sizes[1:])]
        self._check_target_sparsity(weight_counts)

        device = resolve_device(self.device)
        dtype = torch.float64 if X.dtype == np.float64 else torch.float32
        random_state = check_random_state(self.random_state)
        seed = int(random_state.randint(np.iinfo(np.int32).max))
        module = self._initial_module(layer_sizes, dtype, seed, device)
        network = Network(
            linear_layers(module), self.activation, self._loss_name(target)
        )
        data, validation = self._split(
            X, y, target, sample_weight, dtype, device, random_state
        )
        progress = self._progress(network)
        problem = MLPProblem(
            network,
            data,
            make_opt=self._optimizer_factory(),
            batch_size=self._batch_size(data.n_samples),
            seed=seed,
            stopping_factory=self._stopping_factory(network, validation),
            on_epoch=progress,
        )
        try:
            with torch_threads(self.n_threads):
                lambdas, run, search = self._train(problem, alphas, weight_counts)
        except TrainingInterrupted as interruption:
            warnings.warn(
                "Training interrupted by the user: the estimator keeps the network "
                "as it was when interrupted.",
                UserWarning,
                # fit, _unchanged_on_failure's and _fit_context's wrappers
                stacklevel=4,
            )
            run, search = interruption.run, interruption.search
            lambdas = interruption.lambdas
        finally:
            if progress is not None:
                progress.close()

        self._set_fitted_state(module, lambdas, run, search, weight_counts)
        self._target_is_1d = y.ndim == 1
        self.fit_time_ = time.perf_counter() - started
        return self

    def _train(self, problem, alphas, weight_counts):
        """Train at ``alphas`` or search λ for the target, then refit if
        asked; returns the final λ, the last training run and the search."""
        if self.target_sparsity is None:
            lambdas, search = alphas, None
            run = problem.train(alphas, restart=False, n_epochs=self.max_iter)
        else:
            search, run = self._search_lambda(problem, weight_counts)
            lambdas = search.lambdas
        if self.refit and np.any(np.asarray(lambdas) > 0):
            try:
                run = self._refit_support(problem)
            except TrainingInterrupted as interruption:
                # λ and the search were complete: keep them.
                interruption.lambdas, interruption.search = lambdas, search
                raise
        self._check_convergence(run)
        return lambdas, run, search

    def _search_lambda(self, problem, weight_counts):
        targets, groups = target_nonzeros(self.target_sparsity, weight_counts)
        group_sizes = [sum(weight_counts[j] for j in g) for g in groups]
        common = dict(
            tol=self.sparsity_tol,
            max_rounds=self.max_search_rounds,
            n_epochs=self.max_iter,
        )
        if self.search == "paper":
            gamma = problem.gradient_magnitudes()
            upper = float(max(g.max() for g in gamma))
            search = paper_search(
                problem,
                targets,
                groups,
                lambda_upper=upper,
                lambda_lower=upper * 1e-3,
                **common,
            )
        else:
            search = online_search(problem, targets, groups, group_sizes, **common)
        if not search.reached:
            kept = group_counts(problem.layer_nonzeros(), groups)
            kept_sparsity = np.round(1.0 - kept / np.asarray(group_sizes), 4).tolist()
            warnings.warn(
                f"target_sparsity={self.target_sparsity} was not reached within "
                f"{self.max_search_rounds} search rounds (sparsity_tol="
                f"{self.sparsity_tol}): the closest network, kept, has sparsity "
                f"{kept_sparsity}. Increase max_iter or max_search_rounds, or "
                "widen sparsity_tol.",
                ConvergenceWarning,
                stacklevel=6,  # via _train, fit and the two wrappers of fit
            )
        return search, search.final_run

    def _refit_support(self, problem):
        """Retrain the nonzero weights without penalty, zeros held fixed.

        ℓ1 shrinks every weight it keeps; refitting removes that bias while
        keeping the sparsity pattern λ selected. Training continues with the
        optimizer's state: a fresh Adam would start with steps of the full
        learning rate on every weight and undo much of the trained network.
        """
        problem.masks = [(w != 0).to(w.dtype) for w in problem.network.weights]
        return problem.train(
            [0.0] * len(problem.masks),
            restart=False,
            n_epochs=max(1, self.max_iter // 2),
        )

    # ----------------------------------------------------------- validation

    def _check_hidden_layer_sizes(self):
        sizes = self.hidden_layer_sizes
        sizes = [sizes] if isinstance(sizes, Integral) else list(sizes)
        if not all(isinstance(s, Integral) and s > 0 for s in sizes):
            raise ValueError(
                "hidden_layer_sizes must be positive integers, got "
                f"{self.hidden_layer_sizes!r}."
            )
        return [int(s) for s in sizes]

    def _check_alpha(self, n_layers):
        if np.ndim(self.alpha) == 0:
            return [float(self.alpha)] * n_layers
        alphas = np.asarray(self.alpha, dtype=float)
        if alphas.ndim != 1 or alphas.shape[0] != n_layers:
            raise ValueError(
                f"alpha must be a float or one value per weight layer: expected "
                f"{n_layers} values, got {np.shape(self.alpha)}."
            )
        if not np.all(np.isfinite(alphas)) or np.any(alphas < 0):
            raise ValueError(
                f"alpha must be finite and non-negative, got {self.alpha!r}."
            )
        return alphas.tolist()

    def _check_target_sparsity(self, weight_counts):
        if self.target_sparsity is None:
            return
        check_fractions("target_sparsity", self.target_sparsity)
        if np.ndim(self.target_sparsity) > 1:
            raise ValueError(
                "target_sparsity must be a float or a 1-D sequence with one "
                "fraction per weight layer, got shape "
                f"{np.shape(self.target_sparsity)}."
            )
        # Raises a ValueError naming the expected length for a wrong sequence.
        target_nonzeros(self.target_sparsity, weight_counts)

    def _combined_sample_weight(self, X, y, sample_weight):
        """Sample weights (× class weights) scaled to mean 1, or None."""
        weight = None
        if sample_weight is not None:
            weight = _check_sample_weight(
                sample_weight, X, dtype=np.float64, ensure_non_negative=True
            )
        weight = self._apply_class_weight(y, weight)
        if weight is None:
            return None
        total = weight.sum()
        if total <= 0:
            raise ValueError(
                "sample_weight sums to zero: at least one sample "
                "must have a positive weight."
            )
        return weight * (weight.shape[0] / total)

    def _apply_class_weight(self, y, weight):
        return weight

    # ---------------------------------------------------------- components

    def _initial_module(self, layer_sizes, dtype, seed, device):
        if self.warm_start and hasattr(self, "module_"):
            previous = [lin.weight.shape[1] for lin in linear_layers(self.module_)]
            previous.append(linear_layers(self.module_)[-1].weight.shape[0])
            if previous != list(layer_sizes):
                raise ValueError(
                    f"warm_start=True needs the same layer sizes as the previous "
                    f"fit: expected {previous}, got {list(layer_sizes)}."
                )
            return copy.deepcopy(self.module_).to(device=device, dtype=dtype)
        generator = torch.Generator().manual_seed(seed)
        return build_mlp(
            layer_sizes, self.activation, dtype=dtype, generator=generator
        ).to(device)

    def _optimizer_factory(self):
        def make(network):
            return make_optimizer(
                self.solver,
                network.weights,
                network.biases,
                lr=self.learning_rate_init,
                beta1=self.beta_1,
                beta2=self.beta_2,
                eps=self.epsilon,
            )

        return make

    def _batch_size(self, n_samples):
        if self.batch_size == "auto":
            return min(200, n_samples)
        return min(self.batch_size, n_samples)

    def _split(self, X, y, target, sample_weight, dtype, device, random_state):
        """Training tensors, and validation data when early stopping."""
        validation = None
        if self.early_stopping:
            stratify = y if self._is_classifier_task() and y.ndim == 1 else None
            arrays = [X, y, target] + (
                [sample_weight] if sample_weight is not None else []
            )
            parts = train_test_split(
                *arrays,
                test_size=self.validation_fraction,
                random_state=random_state,
                stratify=stratify,
            )
            X, X_val = parts[0], parts[1]
            y, y_val = parts[2], parts[3]
            target = parts[4]
            if sample_weight is not None:
                sample_weight, sw_val = parts[6], parts[7]
                sample_weight = sample_weight * (
                    len(sample_weight) / sample_weight.sum()
                )
            else:
                sw_val = None
            validation = (self._as_tensor(X_val, dtype, device), y_val, sw_val)
        data = TrainingData(
            self._as_tensor(X, dtype, device),
            self._as_tensor(target, dtype, device),
            None
            if sample_weight is None
            else self._as_tensor(sample_weight, dtype, device),
        )
        return data, validation

    @staticmethod
    def _as_tensor(array, dtype, device):
        """The one place where numpy data becomes a tensor of the model's dtype.

        Read-only arrays (memory maps) are copied: torch cannot wrap them.
        Training never writes to these tensors, so the caller's data is not
        modified either way.
        """
        array = np.require(array, requirements=["C_CONTIGUOUS", "WRITEABLE"])
        return torch.as_tensor(array, dtype=dtype, device=device)

    def _stopping_factory(self, network, validation):
        def factory():
            score = None
            if validation is not None:
                X_val, y_val, sw_val = validation

                def score():
                    with torch.no_grad():
                        raw = forward(network.linears, network.activation, X_val)
                    return self._score_raw(
                        raw.cpu().numpy().astype(np.float64), y_val, sw_val
                    )

            return NoImprovementStopping(self.tol, self.n_iter_no_change, score)

        return factory

    def _progress(self, network):
        if not self.verbose:
            return None
        total = self.max_iter if self.target_sparsity is None else None
        return EpochProgress(network.weights, total)

    def _check_convergence(self, run):
        if not run.converged:
            warnings.warn(
                f"Proximal training reached max_iter={self.max_iter} epochs before "
                f"converging: the objective still improved by more than tol="
                f"{self.tol} within the last n_iter_no_change="
                f"{self.n_iter_no_change} epochs (last objective "
                f"{run.loss_curve[-1]:.6g}). Increase max_iter to train longer.",
                ConvergenceWarning,
                stacklevel=6,  # via _train, fit and the two wrappers of fit
            )

    # --------------------------------------------------------- fitted state

    def _set_fitted_state(self, module, lambdas, run, search, weight_counts):
        module = module.cpu()
        module.requires_grad_(False)
        self.module_ = module
        linears = linear_layers(module)
        self.coefs_ = [
            lin.weight.detach().numpy().T.astype(np.float64) for lin in linears
        ]
        self.intercepts_ = [
            lin.bias.detach().numpy().astype(np.float64) for lin in linears
        ]
        self.sparse_coefs_ = to_csr(self.coefs_)
        self.n_layers_ = len(linears) + 1
        self.n_outputs_ = linears[-1].weight.shape[0]
        layer_nonzeros = np.array(count_nonzero([lin.weight for lin in linears]))
        counts = np.asarray(weight_counts)
        self.n_nonzero_ = int(layer_nonzeros.sum())
        self.layer_n_nonzero_ = layer_nonzeros
        self.sparsity_ = 1.0 - self.n_nonzero_ / counts.sum()
        self.layer_sparsity_ = 1.0 - layer_nonzeros / counts
        self.support_ = np.any(self.coefs_[0] != 0, axis=1)
        layer_wise = (
            np.ndim(
                self.alpha if self.target_sparsity is None else self.target_sparsity
            )
            == 1
        )
        self.alpha_ = (
            np.asarray(lambdas, dtype=float) if layer_wise else float(lambdas[0])
        )
        self.loss_curve_ = list(run.loss_curve)
        self.n_iter_ = run.n_epochs
        # A fit without a completed search must not keep an earlier one's.
        for name in ("alphas_", "sparsities_", "n_search_rounds_", "target_reached_"):
            vars(self).pop(name, None)
        if search is not None:
            self.alphas_ = np.asarray(search.alphas)
            self.sparsities_ = 1.0 - np.asarray(search.nonzeros) / np.asarray(
                [
                    sum(weight_counts[j] for j in g)
                    for g in target_nonzeros(self.target_sparsity, weight_counts)[1]
                ]
            )
            self.n_search_rounds_ = search.n_rounds
            self.target_reached_ = search.reached

    # ----------------------------------------------------------- prediction

    def _raw_predict(self, X):
        check_is_fitted(self)
        X = validate_data(self, X, dtype=(np.float64, np.float32), reset=False)
        dtype = linear_layers(self.module_)[0].weight.dtype
        # Products of the nonzero weights only, where that is measured to be
        # faster (very sparse, wide networks, many rows); float64 networks
        # only, since the sparse path computes in float64.
        if dtype == torch.float64 and prefer_sparse(self.sparse_coefs_, X.shape[0]):
            return sparse_forward(
                self.sparse_coefs_, self.intercepts_, self.activation, X
            )
        with torch.no_grad():
            raw = forward(
                linear_layers(self.module_),
                self.activation,
                self._as_tensor(X, dtype, "cpu"),
            )
        return raw.numpy().astype(np.float64)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = False
        return tags
