"""Data generated locally: the Mackey-Glass series of the paper's regression
experiment."""

import numpy as np


def mackey_glass_series(
    n_points, *, tau=17, beta=0.2, gamma=0.1, power=10, x0=1.2, dt=0.1, discard=1000
):
    """Sample the Mackey-Glass delay-differential equation at unit times.

    ``dx/dt = β x(t − τ) / (1 + x(t − τ)^power) − γ x(t)``, integrated with
    the fourth-order Runge-Kutta method at step ``dt`` (the delayed value is
    held constant over a step), with ``x = x0`` for ``t ≤ 0``. The first
    ``discard`` time units are dropped so that the series is on its
    attractor (chaotic for ``τ = 17``).

    Returns
    -------
    x : ndarray of shape (n_points,)
    """
    steps_per_unit = round(1.0 / dt)
    delay = round(tau / dt)
    n_steps = (n_points + discard) * steps_per_unit
    x = np.empty(n_steps + delay + 1)
    x[: delay + 1] = x0

    def rate(value, delayed):
        return beta * delayed / (1.0 + delayed**power) - gamma * value

    for i in range(delay, n_steps + delay):
        delayed = x[i - delay]
        k1 = rate(x[i], delayed)
        k2 = rate(x[i] + 0.5 * dt * k1, delayed)
        k3 = rate(x[i] + 0.5 * dt * k2, delayed)
        k4 = rate(x[i] + dt * k3, delayed)
        x[i + 1] = x[i] + dt / 6.0 * (k1 + 2 * k2 + 2 * k3 + k4)
    return x[delay + discard * steps_per_unit :: steps_per_unit][:n_points]


def make_mackey_glass(n_samples=2000, *, n_lags=6, lag_step=6, horizon=6, tau=17):
    """Lagged Mackey-Glass regression data, inputs scaled to [−1, 1].

    Each row holds ``x(t), x(t − lag_step), …, x(t − (n_lags − 1)·lag_step)``
    and the target is ``x(t + horizon)``: the classic chaotic time-series
    benchmark, with the six lagged inputs of Shen et al. (2024). Inputs and
    target are scaled to [−1, 1] with the series' own minimum and maximum.
    Rows are in time order: use the first rows for training and the rest for
    testing.

    Returns
    -------
    X : ndarray of shape (n_samples, n_lags)
    y : ndarray of shape (n_samples,)
    """
    span = (n_lags - 1) * lag_step
    series = mackey_glass_series(n_samples + span + horizon, tau=tau)
    low, high = series.min(), series.max()
    scaled = 2.0 * (series - low) / (high - low) - 1.0
    times = np.arange(span, span + n_samples)
    X = np.column_stack([scaled[times - k * lag_step] for k in range(n_lags)])
    y = scaled[times + horizon]
    return X, y
