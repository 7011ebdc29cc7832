"""Input handling: every check on what ``fit`` and ``predict`` receive, before any training.

The three forms of ``fit`` — ``fit(X_source, y_source, X_target)``,
``fit(X, y)`` with target rows marked in ``y``, and ``fit(X, y,
sample_domain=...)`` — are validated here and brought to one
:class:`FitData`: blocks of rows, their labels, which rows are labelled,
each row's domain and weight. Whether the input is tabular, sparse or images
is decided here, once (:func:`input_kind`).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from sklearn.utils import check_array
from sklearn.utils.validation import _check_sample_weight, check_consistent_length, validate_data

from .exceptions import NoTargetDataWarning

__all__ = ["FitData", "input_kind", "check_images", "check_rank", "validate_fit", "marker_mask",
           "check_inference_input"]

_SHAPES_MSG = ("tabular data of shape (n_samples, n_features), or images of shape "
               "(n_samples, height, width) or (n_samples, channels, height, width)")
_FLOAT32_MAX = float(np.finfo(np.float32).max)


def _ndim(X) -> int | None:
    if hasattr(X, "iloc") or hasattr(X, "tocsr"):  # DataFrames, sparse matrices
        return 2
    shape = getattr(X, "shape", None)
    return None if shape is None else len(shape)


def input_kind(X) -> str:
    """``"image"`` (a 3-D or 4-D numpy array), ``"sparse"`` (a scipy matrix) or ``"tabular"``."""
    if hasattr(X, "tocsr"):
        return "sparse"
    if isinstance(X, np.ndarray) and X.ndim in (3, 4):
        return "image"
    return "tabular"


def check_rank(X, name: str) -> None:
    """Raise a ValueError naming the accepted shapes when ``X`` has none of them."""
    ndim = _ndim(X)
    if ndim is None:
        X = np.asarray(X, dtype=object) if not isinstance(X, np.ndarray) else X
        ndim = X.ndim
        if ndim in (3, 4):
            raise ValueError(
                f"{name} is a nested list with {ndim} dimensions; pass images as a numpy array "
                "of shape (n_samples, height, width) or (n_samples, channels, height, width), "
                "e.g. np.asarray(X, dtype=np.float32)."
            )
    if ndim not in (2, 3, 4):
        shape = getattr(X, "shape", None)
        hint = (" Reshape your data either using X.reshape(-1, 1) if your data has a single "
                "feature or X.reshape(1, -1) if it contains a single sample." if ndim == 1 else "")
        raise ValueError(
            f"Expected 2D array, got {ndim}D array instead for {name} of shape {shape}: "
            f"the estimator accepts {_SHAPES_MSG}.{hint}"
        )


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
            f"{name}: images of shape {arr.shape} look channels-last (n, H, W, C); the estimator "
            "takes channels first (n, C, H, W): use X.transpose(0, 3, 1, 2)."
        )
    if 0 in arr.shape[1:]:
        raise ValueError(f"{name}: images of shape {arr.shape[1:]} have an empty dimension.")
    return arr


def _check_float32_range(X, name: str) -> None:
    """Values finite in float64 but not in float32 would train and predict NaN."""
    data = X.data if hasattr(X, "tocsr") else X
    if getattr(data, "dtype", None) == np.float64 and data.size:
        big = float(np.max(np.abs(data)))
        if big > _FLOAT32_MAX:
            raise ValueError(
                f"{name} has values up to {big:.3g}, beyond float32's range ({_FLOAT32_MAX:.3g}); "
                "the network computes in float32. Rescale the features (e.g. StandardScaler, or "
                "a log transform) first."
            )


def _tabular(estimator, X, name: str, reset: bool):
    X = validate_data(estimator, X, reset=reset, accept_sparse="csr",
                      dtype=[np.float32, np.float64], ensure_all_finite=True)
    _check_float32_range(X, name)
    return X


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
class FitData:
    """Validated training data, in the blocks the network will read.

    Attributes
    ----------
    blocks : list of arrays
        ``[X]`` for the stacked forms, ``[X_source, X_target]`` for the
        separate form.
    y : list
        Per block, the validated labels (original values; anything on
        unlabelled rows), or ``None`` for a block without labels.
    labelled : list of ndarray of bool
        Per block, which rows carry a label.
    domain : list of ndarray of int64
        Per block, each row's domain: positive for a source domain,
        negative for a target domain.
    weight : list of ndarray or None
        Per block, sample weights of its rows, or ``None``.
    kind : {"tabular", "sparse", "image"}
        The input kind.
    """

    blocks: list
    y: list
    labelled: list
    domain: list
    weight: list
    kind: str

    @property
    def row_shape(self) -> tuple:
        """Shape of one row: ``(n_features,)`` or ``(C, H, W)``."""
        return tuple(int(v) for v in self.blocks[0].shape[1:])

    def labelled_y(self) -> np.ndarray:
        """Labels of every labelled row, blocks in order."""
        return np.concatenate([np.asarray(y)[mask] for y, mask in zip(self.y, self.labelled)
                               if y is not None])

    @property
    def n_target(self) -> int:
        return int(sum((d < 0).sum() for d in self.domain))


def _check_sample_domain(sample_domain, n: int) -> np.ndarray:
    sd = np.asarray(sample_domain)
    if sd.ndim == 0:
        sd = np.full(n, sd)
    if sd.ndim != 1 or len(sd) != n:
        raise ValueError(f"sample_domain must be 1-D with one value per row of X ({n}); got shape "
                         f"{sd.shape}.")
    if sd.dtype.kind == "f" and np.all(np.isfinite(sd)) and np.all(sd == np.round(sd)):
        sd = sd.astype(np.int64)
    if sd.dtype.kind not in "iu":
        raise ValueError(f"sample_domain must hold integers (positive: source domains, negative: "
                         f"target domains); got dtype {sd.dtype}.")
    sd = sd.astype(np.int64)
    if np.any(sd == 0):
        raise ValueError("sample_domain contains 0; use positive integers for source domains and "
                         "negative integers for target domains (skada's convention).")
    return sd


def _check_domains(data: FitData, stacked_domain: bool) -> None:
    """Checks on the domains; those on single rows only when ``sample_domain`` gave them."""
    domains = np.concatenate(data.domain)
    labelled = np.concatenate(data.labelled)
    unlabelled_source = (domains > 0) & ~labelled
    if unlabelled_source.any():
        raise ValueError(
            f"{int(unlabelled_source.sum())} row(s) of source domains (sample_domain > 0) have no "
            "label; every source row needs one. Give unlabelled rows a negative (target) domain."
        )
    if not (domains > 0).any():
        raise ValueError("There are no source rows (sample_domain > 0): a labelled source domain "
                         "is needed to learn from.")
    ids, counts = np.unique(domains, return_counts=True)
    small = ids[counts < 2]
    if stacked_domain and len(small):
        raise ValueError(
            f"Domain(s) {small.tolist()} have a single row; each domain needs at least 2 rows. "
            "(sample_domain gives each row its domain id, not a row number.)"
        )
    target = domains < 0
    if target.any() and labelled[target].all():
        raise ValueError(
            f"All {int(target.sum())} target rows have labels. Domain adaptation learns from "
            "unlabelled target rows: mark them with the unlabelled marker (NaN for a regressor), "
            "keeping labels only on the few target rows you want to train on; or, to train on "
            "labelled data of several domains, give them positive (source) domain ids."
        )


def validate_fit(estimator, X, y, X_target=None, sample_domain=None, sample_weight=None, *,
                 reset: bool = True) -> FitData:
    """Validate any of ``fit``'s three forms and return a :class:`FitData`.

    The estimator supplies the label logic: ``estimator._check_y(y, name)``
    returns the validated labels and ``estimator._labelled_mask(y)`` which
    rows carry a label (not the marker, not NaN).

    Parameters
    ----------
    estimator : BaseDANN
        The estimator being fitted (for feature checks and label logic).
    X, y, X_target, sample_domain, sample_weight
        As given to ``fit``.
    reset : bool, default=True
        Whether this fit may set ``n_features_in_``/``feature_names_in_``
        (False when continuing training).

    Returns
    -------
    FitData
        The validated data.
    """
    check_rank(X, "X")
    kind = input_kind(X)
    name = type(estimator).__name__
    if y is None:
        raise ValueError(
            f"{name} requires y to be passed, but the target y is None. Pass source labels, with "
            "unlabelled target rows marked as unlabelled, or call fit(X_source, y_source, X_target)."
        )
    if X_target is not None:
        if sample_domain is not None:
            raise ValueError("Pass either X_target or sample_domain, not both: sample_domain "
                             "describes the rows of a stacked X.")
        data = _separate(estimator, X, y, X_target, sample_weight, kind, reset)
    else:
        data = _stacked(estimator, X, y, sample_domain, sample_weight, kind, reset)
    _check_domains(data, sample_domain is not None)
    if data.n_target == 0:
        what = ("sample_domain has no negative (target) ids" if sample_domain is not None else
                f"y contains no unlabeled samples (no rows marked {estimator._marker_repr()})")
        warnings.warn(
            f"{what} and no X_target was given: there is nothing to adapt to, so the model is "
            "trained on the source rows alone.", NoTargetDataWarning, stacklevel=4,
        )
    return data


def _weights(sample_weight, X, n: int) -> np.ndarray | None:
    if sample_weight is None:
        return None
    try:
        w = _check_sample_weight(sample_weight, np.empty((n, 0)), dtype=np.float64,
                                 ensure_non_negative=True)
    except ValueError as exc:
        if "zero" in str(exc):
            raise ValueError("Sample weights must contain at least one non-zero weight.") from exc
        raise
    if not np.any(w > 0):
        raise ValueError("Sample weights must contain at least one non-zero weight.")
    return w


def _stacked(estimator, X, y, sample_domain, sample_weight, kind, reset) -> FitData:
    if kind == "image":
        X = check_images(X)
    else:
        X = _tabular(estimator, X, "X", reset)
    y = estimator._check_y(y, "y")
    check_consistent_length(X, y)
    labelled = estimator._labelled_mask(y)
    if not labelled.any():
        raise ValueError(
            f"y has no labelled rows (every row is marked {estimator._marker_repr()}): there are "
            "no labelled source rows to learn from."
        )
    if sample_domain is None:
        domain = np.where(labelled, 1, -1).astype(np.int64)
    else:
        domain = _check_sample_domain(sample_domain, len(y))
    weight = _weights(sample_weight, X, len(y))
    if weight is not None and np.any(weight[~labelled] != 1):
        warnings.warn("sample_weight of unlabelled rows is not used: weights apply to the label "
                      "loss, and the domain loss stays balanced between domains.", UserWarning,
                      stacklevel=4)
    return FitData([X], [y], [labelled], [domain], [weight], kind)


def _separate(estimator, Xs, ys, Xt, sample_weight, kind, reset) -> FitData:
    if np.ndim(Xt) == 1 and not hasattr(Xt, "iloc"):
        raise ValueError(
            f"X_target must hold rows of the target domain (2-D, like X); got a 1-D array of "
            f"length {len(Xt)}. fit(X_source, y_source, X_target) takes target FEATURES, never "
            "target labels."
        )
    check_rank(Xt, "X_target")
    if (input_kind(Xt) == "image") != (kind == "image"):
        raise ValueError(
            "X_source and X_target must both be tabular (2-D) or both be images (3-D/4-D); got "
            f"shapes {np.shape(Xs)} and {np.shape(Xt)}."
        )
    if _num_rows(Xt) == 0:
        raise ValueError(
            "X_target is empty (0 rows): pass unlabelled target rows, or call fit(X, y) without "
            "X_target to train on the source alone."
        )
    if kind == "image":
        Xs = check_images(Xs, "X_source")
        Xt = check_images(Xt, "X_target")
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
    else:
        Xs = _tabular(estimator, Xs, "X_source", reset)
        n_target_features = _num_features(Xt)
        if n_target_features is not None and n_target_features != Xs.shape[1]:
            raise ValueError(
                f"X_target has {n_target_features} features but X_source has {Xs.shape[1]}: "
                "both domains must share one feature space. (In a Pipeline, X_target does not "
                "go through the preceding steps: stack source and target rows in X and mark "
                "the target rows in y instead.)"
            )
        Xt = _tabular(estimator, Xt, "X_target", False)
    if kind == "tabular":
        _warn_if_only_the_source_was_scaled(Xs, Xt)
    ys = estimator._check_y(ys, "y_source")
    check_consistent_length(Xs, ys)
    labelled = estimator._labelled_mask(ys)
    if not labelled.all():
        raise ValueError(
            f"y_source contains the unlabeled marker {estimator._marker_repr()} in "
            f"{int((~labelled).sum())} row(s). With fit(X_source, y_source, X_target) every "
            "source row needs a label; if it is a real class, set unlabeled_marker to another "
            "value (or None)."
        )
    n_s, n_t = _num_rows(Xs), _num_rows(Xt)
    # int8 ids: one source and one target domain need no more (large inputs)
    return FitData([Xs, Xt], [ys, None], [labelled, np.zeros(n_t, dtype=bool)],
                   [np.ones(n_s, dtype=np.int8), -np.ones(n_t, dtype=np.int8)],
                   [_weights(sample_weight, Xs, n_s), None], kind)


def _column_moments(X, chunk: int = 65536):
    """Per-column mean, standard deviation, min and max, in float64, chunk by chunk.

    Never converts the whole array (a memory-mapped file stays on disk).
    """
    n = X.shape[0]
    total = total_sq = low = high = None
    for start in range(0, n, chunk):
        part = np.asarray(X[start:start + chunk], dtype=np.float64)
        s, sq = part.sum(axis=0), (part * part).sum(axis=0)
        lo, hi = part.min(axis=0), part.max(axis=0)
        if total is None:
            total, total_sq, low, high = s, sq, lo, hi
        else:
            total, total_sq = total + s, total_sq + sq
            low, high = np.minimum(low, lo), np.maximum(high, hi)
    mean = total / n
    return mean, np.sqrt(np.maximum(total_sq / n - mean * mean, 0.0)), low, high


def _warn_if_only_the_source_was_scaled(Xs, Xt) -> None:
    """Warn when X_source looks like a scaler's output and X_target like raw data.

    ``make_pipeline(StandardScaler(), DANNClassifier()).fit(Xs, ys,
    dannclassifier__X_target=Xt)`` hands the final step transformed source
    rows but untransformed target rows: a silent mismatch that costs
    accuracy. Exactly standardised (or min-max scaled) source columns next
    to target columns on another scale are its signature.
    """
    if len(Xs) < 10 or len(Xt) < 10:
        return
    s_mean, s_std, s_min, s_max = _column_moments(Xs)
    t_mean, t_std, t_min, t_max = _column_moments(Xt)
    varying = s_std > 0
    if not varying.any():
        return
    s_mean, s_std, s_min, s_max = (v[varying] for v in (s_mean, s_std, s_min, s_max))
    t_mean, t_std, t_min, t_max = (v[varying] for v in (t_mean, t_std, t_min, t_max))
    standardised = np.all(np.abs(s_mean) < 1e-4) and np.all(np.abs(s_std - 1.0) < 1e-3)
    min_max = np.all(s_min == 0.0) and np.all(s_max == 1.0)
    if standardised:
        raw = np.any(np.abs(t_mean) > 5.0) or np.any((t_std > 5.0) | (t_std < 0.2))
    elif min_max:
        raw = np.any(t_min < -2.0) or np.any(t_max > 3.0)
    else:
        return
    if raw:
        warnings.warn(
            "X_source looks scaled (every column standardised or min-max scaled) but X_target is "
            "on another scale. In a Pipeline, X_target (dannclassifier__X_target) skips the steps "
            "before the estimator, so the target rows would not be transformed: stack source and "
            "target rows in X and mark the target rows in y instead.", UserWarning, stacklevel=5,
        )


def check_inference_input(estimator, X):
    """Validate rows for prediction against what the model was fitted on; return an array."""
    check_rank(X, "X")
    kind = input_kind(X)
    if estimator.input_shape_ is not None:
        if kind != "image":
            raise ValueError(
                f"This model was fitted on images of shape {estimator.input_shape_} (C, H, W); "
                f"got input of shape {np.shape(X)}."
            )
        X = check_images(X)
        if tuple(X.shape[1:]) != estimator.input_shape_:
            raise ValueError(
                f"X has images of shape {tuple(X.shape[1:])} but the model was fitted on "
                f"{estimator.input_shape_} (C, H, W)."
            )
        fitted_dtype = getattr(estimator, "input_dtype_", X.dtype)
        if X.dtype != fitted_dtype:
            raise ValueError(
                f"The model was fitted on {fitted_dtype} images but X is {X.dtype}: uint8 images "
                "are scaled by 1/255 and float images used as they are, so the predictions would "
                f"be on another scale. Convert X to {fitted_dtype} as in training."
            )
        return X
    if kind == "image":
        raise ValueError(
            f"This model was fitted on tabular data with {estimator.n_features_in_} features; "
            f"got an array of shape {np.shape(X)}."
        )
    return _tabular(estimator, X, "X", False)


def _num_rows(X) -> int:
    shape = getattr(X, "shape", None)
    return int(shape[0]) if shape is not None else len(X)


def _num_features(X) -> int | None:
    shape = getattr(X, "shape", None)
    if shape is None or len(shape) != 2:
        return None
    return int(shape[1])
