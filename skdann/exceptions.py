"""Warnings and errors raised by skdann."""

from __future__ import annotations

__all__ = ["NoTargetDataWarning", "TrainingDivergedError"]


class NoTargetDataWarning(UserWarning):
    """Warned when ``fit`` receives no unlabelled target rows.

    Follows scikit-learn's ``SelfTrainingClassifier``, which warns "y contains
    no unlabeled samples" and fits anyway: the model is then trained on the
    source rows alone, with nothing to adapt to.

    Examples
    --------
    >>> import warnings
    >>> with warnings.catch_warnings():  # the process's filters are restored afterwards
    ...     warnings.simplefilter("error", NoTargetDataWarning)  # make it fatal
    """


class TrainingDivergedError(FloatingPointError):
    """Raised when the training loss becomes NaN or infinite.

    Examples
    --------
    >>> issubclass(TrainingDivergedError, ArithmeticError)
    True
    """
