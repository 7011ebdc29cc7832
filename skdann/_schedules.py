"""Schedules of the adversarial weight and learning rate (Ganin et al., 2016, §5.2.2)."""

from __future__ import annotations

import math
from collections.abc import Callable

__all__ = ["ganin_lambda", "ganin_lr_factor", "resolve_lambda_schedule", "resolve_lr_schedule",
           "Progress", "checked_factor"]


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


def checked_factor(name: str, value) -> float:
    """Return a schedule's factor as a float, or raise if it is negative or not finite.

    A user's schedule callable is called every step; a factor of -1 would
    silently turn gradient reversal into plain gradient descent on the
    domain loss (λ) or reverse the optimisation (lr).

    Examples
    --------
    >>> checked_factor("lr_schedule", 0.5)
    0.5
    """
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must return a number, got {value!r}.") from None
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} must return a finite factor >= 0, got {value!r}.")
    return value


class Progress:
    """The training progress ``p`` in ``[0, 1]``: the one owner of the schedules' position.

    ``p`` advances by ``1 / total_steps`` per optimisation step. The horizon
    (``max_epochs`` times the steps per epoch) may change between calls of
    ``fit`` with ``warm_start=True`` or ``partial_fit`` (another
    ``max_epochs``, another ``batch_size``, more rows): :meth:`set_horizon`
    then continues from the progress reached instead of jumping.

    Examples
    --------
    >>> progress = Progress()
    >>> progress.set_horizon(4)
    >>> for _ in range(2):
    ...     progress.advance()
    >>> progress.value, progress.steps
    (0.5, 2)
    >>> progress.set_horizon(10)  # e.g. a smaller batch: more steps per epoch
    >>> progress.advance()
    >>> progress.value
    0.6
    """

    def __init__(self) -> None:
        self.steps = 0        # optimisation steps taken, over all calls
        self._base = 0.0      # progress when the horizon was last set
        self._since = 0       # steps since then
        self._total = 0       # steps of the whole horizon (0: not set)

    def set_horizon(self, total_steps: int) -> None:
        """Count the following steps against a horizon of ``total_steps`` steps."""
        total_steps = max(int(total_steps), 1)
        if total_steps == self._total:
            return  # unchanged: p stays exactly steps / total
        if self._total:
            self._base = self._raw()
        self._since, self._total = 0, total_steps

    def _raw(self) -> float:
        return self._base + (self._since / self._total if self._total else 0.0)

    @property
    def value(self) -> float:
        """``p``, clipped to 1 once the horizon is reached."""
        return min(self._raw(), 1.0)

    def advance(self) -> None:
        """Record one optimisation step."""
        self.steps += 1
        self._since += 1

    def state_dict(self) -> dict:
        """The position, for checkpoints."""
        return {"steps": self.steps, "base": self._base, "since": self._since, "total": self._total}

    def load_state_dict(self, state: dict) -> None:
        """Restore a position saved by :meth:`state_dict`."""
        self.steps, self._base = int(state["steps"]), float(state["base"])
        self._since, self._total = int(state["since"]), int(state["total"])
