"""Model selection without target labels (placeholder filled by the selection work)."""

from __future__ import annotations

import numpy as np

from ._validation import marker_mask

__all__ = ["source_accuracy_scorer"]


def source_accuracy_scorer(estimator, X, y) -> float:
    """Accuracy on the labelled (source) rows of a stacked fold.

    Rows whose label is the estimator's ``unlabeled_marker`` are left out,
    so it works on folds of stacked source+target rows in ``GridSearchCV``.

    Parameters
    ----------
    estimator : fitted estimator or Pipeline ending in a DANNClassifier
        The model to score.
    X : array-like
        Stacked rows.
    y : array-like
        Labels, with the marker on target rows.

    Returns
    -------
    float
        Accuracy on the labelled rows.

    Examples
    --------
    >>> from skdann import DANNClassifier
    >>> from skdann.datasets import make_domain_moons
    >>> import numpy as np
    >>> Xs, ys, Xt, _ = make_domain_moons(random_state=0)
    >>> X, y = np.vstack([Xs, Xt]), np.r_[ys, -np.ones(300, int)]
    >>> clf = DANNClassifier(max_epochs=2, random_state=0).fit(X, y)
    >>> 0 <= source_accuracy_scorer(clf, X, y) <= 1
    True
    """
    final = estimator[-1] if hasattr(estimator, "steps") else estimator
    y = np.asarray(y)
    labelled = ~marker_mask(y, getattr(final, "unlabeled_marker", -1))
    if not labelled.any():
        raise ValueError("source_accuracy_scorer: the fold holds no labelled rows.")
    X_l = X.iloc[labelled] if hasattr(X, "iloc") else np.asarray(X)[labelled]
    return float(np.mean(estimator.predict(X_l) == y[labelled]))
