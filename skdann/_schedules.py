"""Schedules of the adversarial weight and learning rate (Ganin et al., 2016, §5.2.2)."""

from __future__ import annotations

import math
from collections.abc import Callable

__all__ = ["ganin_lambda", "ganin_lr_factor", "resolve_lambda_schedule", "resolve_lr_schedule"]


def ganin_lambda(progress: float, gamma: float = 10.0) -> float:
    """Return the paper's adversarial weight factor ``2 / (1 + exp(-gamma p)) - 1``.

    Rises from 0 at the start of training to almost 1 at the end, so the
    noisy domain signal of an untrained network does not disturb early
    learning.

    Parameters
    ----------
    progress : float
        Training progress ``p`` in ``[0, 1]``.
    gamma : float, default=10.0
        Steepness of the ramp.

    Returns
    -------
    float
        The factor in ``[0, 1)``; multiply by ``lambda_max``.

    Examples
    --------
    >>> ganin_lambda(0.0)
    0.0
    >>> round(ganin_lambda(1.0), 5)
    0.99991
    """
    return 2.0 / (1.0 + math.exp(-gamma * progress)) - 1.0


def ganin_lr_factor(progress: float, alpha: float = 10.0, beta: float = 0.75) -> float:
    """Return the paper's learning-rate factor ``1 / (1 + alpha p) ** beta``.

    Parameters
    ----------
    progress : float
        Training progress ``p`` in ``[0, 1]``.
    alpha, beta : float, default=10.0, 0.75
        Annealing constants of the paper.

    Returns
    -------
    float
        The factor in ``(0, 1]``; multiply by the initial learning rate.

    Examples
    --------
    >>> ganin_lr_factor(0.0)
    1.0
    >>> round(ganin_lr_factor(1.0), 4)
    0.1656
    """
    return 1.0 / (1.0 + alpha * progress) ** beta


def _constant(progress: float) -> float:
    return 1.0


def resolve_lambda_schedule(schedule, gamma: float) -> Callable[[float], float]:
    """Turn the ``lambda_schedule`` parameter into a function ``p -> factor``.

    Parameters
    ----------
    schedule : {"ganin", "constant"} or callable
        Name of a built-in schedule, or a callable mapping progress in
        ``[0, 1]`` to a factor of ``lambda_max``.
    gamma : float
        Steepness of the ``"ganin"`` schedule.

    Returns
    -------
    callable
        The schedule.

    Examples
    --------
    >>> resolve_lambda_schedule("constant", gamma=10.0)(0.3)
    1.0
    """
    if callable(schedule):
        return schedule
    if schedule == "ganin":
        return lambda p: ganin_lambda(p, gamma)
    if schedule == "constant":
        return _constant
    raise ValueError(
        f"lambda_schedule must be 'ganin', 'constant' or a callable p -> factor, got {schedule!r}."
    )


def resolve_lr_schedule(schedule, alpha: float, beta: float) -> Callable[[float], float]:
    """Turn the ``lr_schedule`` parameter into a function ``p -> factor``.

    Parameters
    ----------
    schedule : {"ganin"}, None or callable
        ``"ganin"`` for the paper's annealing, ``None`` for a constant
        learning rate, or a callable mapping progress to a factor of ``lr``.
    alpha, beta : float
        Constants of the ``"ganin"`` schedule.

    Returns
    -------
    callable
        The schedule.

    Examples
    --------
    >>> resolve_lr_schedule(None, 10.0, 0.75)(0.5)
    1.0
    """
    if schedule is None or schedule == "constant":
        return _constant
    if callable(schedule):
        return schedule
    if schedule == "ganin":
        return lambda p: ganin_lr_factor(p, alpha, beta)
    raise ValueError(
        f"lr_schedule must be 'ganin', None or a callable p -> factor, got {schedule!r}."
    )
