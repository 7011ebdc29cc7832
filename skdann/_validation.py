"""Input validation for DANNClassifier: clear errors before any training."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.utils import check_array
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import validate_data

__all__ = ["FitInput", "is_image_input", "split_marked", "check_images"]

_SHAPES_MSG = ("tabular data of shape (n_samples, n_features), or images of shape "
               "(n_samples, height, width) or (n_samples, channels, height, width)")


def _ndim(X) -> int | None:
    if hasattr(X, "iloc") or hasattr(X, "tocsr"):  # DataFrames, sparse matrices
        return 2
    shape = getattr(X, "shape", None)
    return None if shape is None else len(shape)


def is_image_input(X) -> bool:
    """Whether ``X`` takes the image path (a 3-D or 4-D numpy array)."""
    return _ndim(X) in (3, 4) and isinstance(X, np.ndarray)


def check_images(X, name: str = "X") -> np.ndarray:
    """Validate an image array and return it as ``(n, C, H, W)`` (a view when possible).

    ``uint8`` stays ``uint8`` (scaled per batch); floats become float32.
    """
    if X.dtype == np.uint8:
        arr = check_array(X, allow_nd=True, dtype=None, ensure_all_finite=False, input_name=name)
    elif np.issubdtype(X.dtype, np.floating):
        arr = check_array(X, allow_nd=True, dtype=np.float32, ensure_all_finite=True, input_name=name)
    else:
        raise ValueError(
            f"{name}: image arrays must be uint8 (scaled by 1/255) or floating point; got dtype "
            f"{X.dtype}. Convert integer images with X.astype(np.uint8) or X.astype(np.float32)."
        )
    if arr.ndim == 3:
        arr = arr[:, None, :, :]
    elif arr.shape[-1] in (1, 3, 4) and arr.shape[1] not in (1, 3, 4):
        raise ValueError(
            f"{name}: images of shape {arr.shape} look channels-last (n, H, W, C); DANNClassifier "
            "takes channels first (n, C, H, W): use X.transpose(0, 3, 1, 2)."
        )
    if 0 in arr.shape[1:]:
        raise ValueError(f"{name}: images of shape {arr.shape[1:]} have an empty dimension.")
    return arr


def check_rank(X, name: str) -> None:
    """Raise a ValueError naming the accepted shapes when ``X`` has none of them."""
    ndim = _ndim(X)
    if ndim is None:
        X = np.asarray(X)
        ndim = X.ndim
    if ndim not in (2, 3, 4):
        shape = getattr(X, "shape", None)
        hint = (" Reshape your data either using X.reshape(-1, 1) if your data has a single "
                "feature or X.reshape(1, -1) if it contains a single sample." if ndim == 1 else "")
        raise ValueError(
            f"Expected 2D array, got {ndim}D array instead for {name} of shape {shape}: "
            f"DANNClassifier accepts {_SHAPES_MSG}.{hint}"
        )


def marker_mask(y: np.ndarray, marker) -> np.ndarray:
    """Boolean mask of the rows of ``y`` that carry the unlabelled-target marker."""
    if marker is None:
        return np.zeros(len(y), dtype=bool)
    if y.dtype.kind in "US" and not isinstance(marker, str):
        return np.zeros(len(y), dtype=bool)
    if y.dtype.kind in "iufb" and isinstance(marker, str):
        return np.zeros(len(y), dtype=bool)
    return np.asarray(y == marker, dtype=bool).reshape(len(y))


@dataclass
class FitInput:
    """Validated training data, in the shapes the net needs."""

    X_source: np.ndarray
    y_source: np.ndarray            # labels of the source rows (original values)
    X_target: np.ndarray | None
    source_rows: np.ndarray | None  # rows of X_source that are source rows (stacked form)
    target_rows: np.ndarray | None  # rows of X_target that are target rows (stacked form)


def split_marked(estimator, X, y, marker, image: bool, reset: bool = True) -> FitInput:
    """Validate the stacked ``fit(X, y)`` form and split rows by the marker."""
    if y is None:
        raise ValueError(
            f"{type(estimator).__name__} requires y to be passed, but the target y is None. "
            "Pass source labels, with unlabelled target rows marked "
            f"{marker!r}, or call fit(X_source, y_source, X_target)."
        )
    if image:
        X = check_images(X)
        y = np.asarray(y)
        if y.ndim == 2 and y.shape[1] == 1:
            y = y.ravel()
        if y.ndim != 1 or len(y) != len(X):
            raise ValueError(
                f"y must be 1-D with one label per image: X has {len(X)} images, y has shape {y.shape}."
            )
    else:
        X, y = validate_data(estimator, X, y, reset=reset, accept_sparse="csr",
                             dtype=[np.float32, np.float64], ensure_all_finite=True)
    mask = marker_mask(y, marker)
    if mask.all():
        raise ValueError(
            f"y contains only the unlabeled marker {marker!r}: there are no labelled source rows "
            "to learn classes from."
        )
    source_rows = np.flatnonzero(~mask)
    target_rows = np.flatnonzero(mask)
    y_source = y[source_rows] if mask.any() else y
    return FitInput(X, y_source, X if mask.any() else None,
                    source_rows if mask.any() else None, target_rows if mask.any() else None)


def check_separate(estimator, X_source, y_source, X_target, marker, image: bool,
                   reset: bool = True) -> FitInput:
    """Validate the ``fit(X_source, y_source, X_target)`` form."""
    if y_source is None:
        raise ValueError(
            f"{type(estimator).__name__} requires y to be passed, but the target y is None."
        )
    check_rank(X_target, "X_target")
    if is_image_input(X_target) != image:
        raise ValueError(
            "X_source and X_target must both be tabular (2-D) or both be images (3-D/4-D); got "
            f"shapes {np.shape(X_source)} and {np.shape(X_target)}."
        )
    if _num_rows(X_target) == 0:
        raise ValueError(
            "X_target is empty (0 rows): pass unlabelled target rows, or call fit(X, y) without "
            "X_target to train on the source alone."
        )
    if image:
        Xs = check_images(X_source, "X_source")
        Xt = check_images(X_target, "X_target")
        if Xs.shape[1:] != Xt.shape[1:]:
            raise ValueError(
                f"Source images have shape {Xs.shape[1:]} (C, H, W) but target images "
                f"{Xt.shape[1:]}. Give both domains the same size and channels, e.g. "
                "np.repeat(X, 3, axis=1) for grayscale to RGB."
            )
        if Xs.dtype != Xt.dtype:
            raise ValueError(
                f"Source images are {Xs.dtype} and target images {Xt.dtype}: uint8 images are "
                "scaled by 1/255 and float images are used as they are, so mixing them would put "
                "the domains on different scales. Convert both to the same dtype."
            )
        ys = np.asarray(y_source)
        if ys.ndim == 2 and ys.shape[1] == 1:
            ys = ys.ravel()
        if ys.ndim != 1 or len(ys) != len(Xs):
            raise ValueError(
                f"y_source must be 1-D with one label per image: X_source has {len(Xs)} images, "
                f"y_source has shape {ys.shape}."
            )
    else:
        Xs, ys = validate_data(estimator, X_source, y_source, reset=reset, accept_sparse="csr",
                               dtype=[np.float32, np.float64], ensure_all_finite=True)
        n_target_features = _num_features(X_target)
        if n_target_features is not None and n_target_features != Xs.shape[1]:
            raise ValueError(
                f"X_target has {n_target_features} features but X_source has {Xs.shape[1]}: "
                "both domains must share one feature space."
            )
        Xt = validate_data(estimator, X_target, reset=False, accept_sparse="csr",
                           dtype=[np.float32, np.float64], ensure_all_finite=True)
    n_marked = int(marker_mask(ys, marker).sum())
    if n_marked:
        raise ValueError(
            f"y_source contains the unlabeled marker {marker!r} in {n_marked} "
            "row(s). With fit(X_source, y_source, X_target) every source row needs a label; if "
            f"{marker!r} is a real class, set unlabeled_marker to another value (or None)."
        )
    return FitInput(Xs, ys, Xt, None, None)


def check_labels(y_source: np.ndarray) -> np.ndarray:
    """Check classification targets; return the sorted classes."""
    check_classification_targets(y_source)
    classes = np.unique(y_source)
    if len(classes) < 2:
        raise ValueError(
            f"The source labels contain only one class ({classes[0]!r}); a classifier needs "
            "at least 2 classes among the labelled source rows."
        )
    return classes


def _num_rows(X) -> int:
    shape = getattr(X, "shape", None)
    return int(shape[0]) if shape is not None else len(X)


def _num_features(X) -> int | None:
    shape = getattr(X, "shape", None)
    if shape is None or len(shape) != 2:
        return None
    return int(shape[1])
