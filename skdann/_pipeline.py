"""Helpers shared by the scorers and the plots for a model that may be a Pipeline."""

from __future__ import annotations

import numpy as np

from ._ensemble import _BaseDANNEnsemble

__all__ = ["final_step", "one_network", "take_rows", "to_final_input"]


def final_step(model):
    """The last step of a Pipeline, or the model itself."""
    return model[-1] if hasattr(model, "steps") else model


def take_rows(X, rows):
    """Rows of an array or DataFrame, by boolean mask or indices."""
    if hasattr(X, "iloc"):
        rows = np.asarray(rows)
        return X.iloc[np.flatnonzero(rows) if rows.dtype == bool else rows]
    return np.asarray(X)[rows]


def to_final_input(model, X):
    """Run ``X`` through a Pipeline's preceding steps; return ``(final step, X)``."""
    if hasattr(model, "steps"):
        if len(model.steps) > 1:
            X = model[:-1].transform(X)
        return model[-1], X
    return model, X


def one_network(model, what: str) -> None:
    """Raise a clear TypeError when ``what`` needs one network and ``model`` is a seed ensemble."""
    final = final_step(model)
    if isinstance(final, _BaseDANNEnsemble):
        raise TypeError(
            f"{what} reads one network (its features, or a refit of it), and "
            f"{type(final).__name__} averages {final.n_estimators} of them. Apply it to the "
            "members (model.estimators_), or use a scorer that reads only the predictions: "
            "entropy_scorer, source_accuracy_scorer or make_snd_scorer(space='proba')."
        )
