"""Domain-shift datasets that need no download."""

from __future__ import annotations

import numpy as np
from sklearn.datasets import make_moons
from sklearn.utils import check_random_state

__all__ = ["make_domain_moons", "rotate"]

# Centre of sklearn's two moons ([-1, 2] x [-0.5, 1]); rotating about it keeps
# the target on top of the source instead of swinging it away.
_MOONS_CENTRE = np.array([0.5, 0.25])


def rotate(X: np.ndarray, angle: float, centre=_MOONS_CENTRE) -> np.ndarray:
    """Rotate 2-D points by ``angle`` degrees (counter-clockwise) about ``centre``.

    Parameters
    ----------
    X : ndarray of shape (n_samples, 2)
        Points.
    angle : float
        Angle in degrees.
    centre : array-like of shape (2,), default=(0.5, 0.25)
        Centre of rotation (the centre of sklearn's moons).

    Returns
    -------
    ndarray of shape (n_samples, 2)
        Rotated points.

    Examples
    --------
    >>> rotate(np.array([[1.5, 0.25]]), 90).round(6)
    array([[0.5 , 1.25]])
    """
    t = np.deg2rad(angle)
    R = np.array([[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]])
    centre = np.asarray(centre, dtype=float)
    return (np.asarray(X, dtype=float) - centre) @ R.T + centre


def make_domain_moons(n_source: int = 300, n_target: int = 300, angle: float = 35.0,
                      noise: float = 0.1, random_state=None):
    """The inter-twinning moons of Ganin et al. (2016, §5.1.1).

    Source: two moons, ``n_source // 2`` points each, labels 0/1. Target: as
    many points of the same distribution, rotated by ``angle`` degrees about
    the moons' centre; its labels are returned for evaluation only.

    Parameters
    ----------
    n_source : int, default=300
        Source points (the paper: 150 per moon).
    n_target : int, default=300
        Target points.
    angle : float, default=35.0
        Rotation of the target in degrees.
    noise : float, default=0.1
        Standard deviation of the Gaussian noise of ``make_moons``.
    random_state : int, RandomState instance or None, default=None
        Seed.

    Returns
    -------
    X_source : ndarray of shape (n_source, 2)
    y_source : ndarray of shape (n_source,)
    X_target : ndarray of shape (n_target, 2)
    y_target : ndarray of shape (n_target,)
        True target labels (not for training).

    Examples
    --------
    >>> Xs, ys, Xt, yt = make_domain_moons(random_state=0)
    >>> Xs.shape, Xt.shape, sorted(set(ys))
    ((300, 2), (300, 2), [0, 1])
    """
    rng = check_random_state(random_state)
    Xs, ys = make_moons(n_source, noise=noise, random_state=rng)
    Xt, yt = make_moons(n_target, noise=noise, random_state=rng)
    return Xs, ys, rotate(Xt, angle), yt
