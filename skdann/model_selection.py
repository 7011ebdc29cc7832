"""Model selection without target labels: scorers, a domain-aware splitter, diagnostics.

Choosing λ (``lambda_max``) or any other hyper-parameter of a
:class:`~skdann.DANNClassifier` is hard: the quantity of interest, the
accuracy on the target domain, needs target labels that unsupervised domain
adaptation does not have. This module gives ``GridSearchCV`` what it needs
to choose anyway:

- :class:`DomainStratifiedKFold`, a splitter that cuts the source rows
  (stratified on their labels) and the target rows (found by the
  ``unlabeled_marker`` in ``y``) separately, so that every training and
  every test fold holds both domains;
- scorers ``scorer(estimator, X, y)`` (higher is better) that score a fitted
  model, or a ``Pipeline`` ending in one, on a fold's stacked rows: source
  rows with their labels, target rows with the marker:

  ================================  =====================================================
  :func:`reverse_validation_scorer`  reverse validation (Ganin et al. 2016, §5.1.2)
  :func:`iwcv_scorer`                importance-weighted source accuracy (Sugiyama 2007)
  :func:`dev_scorer`                 deep embedded validation (You et al. 2019)
  :func:`entropy_scorer`             minus the mean prediction entropy on target rows
  :func:`snd_scorer`                 soft neighbourhood density (Saito et al. 2021)
  :func:`source_accuracy_scorer`     accuracy on the fold's source rows
  :func:`make_target_accuracy_scorer`  accuracy on labelled target rows (studies only)
  ================================  =====================================================

  ``make_*_scorer`` factories build variants with other options;
- diagnostics: :func:`proxy_a_distance` between two samples and
  :func:`domain_accuracy` of a fitted model's domain head.

Recipe
------
>>> import numpy as np
>>> from sklearn.model_selection import GridSearchCV
>>> from sklearn.pipeline import make_pipeline
>>> from sklearn.preprocessing import StandardScaler
>>> from skdann import DANNClassifier
>>> from skdann.datasets import make_domain_moons
>>> from skdann.model_selection import DomainStratifiedKFold, reverse_validation_scorer
>>> Xs, ys, Xt, yt = make_domain_moons(n_source=60, n_target=60, random_state=0)
>>> X, y = np.vstack([Xs, Xt]), np.r_[ys, np.full(len(Xt), -1)]   # -1 marks target rows
>>> pipe = make_pipeline(StandardScaler(),
...                      DANNClassifier(max_epochs=2, n_threads=1, random_state=0))
>>> search = GridSearchCV(pipe, {"dannclassifier__lambda_max": [0.0, 1.0]},
...                       scoring=reverse_validation_scorer, cv=DomainStratifiedKFold(2),
...                       n_jobs=1).fit(X, y)
>>> sorted(search.best_params_)
['dannclassifier__lambda_max']

Parallel search: with ``GridSearchCV(..., n_jobs=k)`` give the classifier
``n_threads=1``; each of the ``k`` worker processes then trains with one
torch thread, so ``k`` workers use ``k`` cores. Small networks train faster
on one thread than on several anyway. With an int ``random_state`` the
results equal those of ``n_jobs=1``.

Which scorer? :func:`aligned_reverse_validation_scorer`, the criterion of
``lambda_max="auto"``. In ``benchmarks/auto_lambda.py`` (λ from
{0, 0.1, 0.3, 1} on the 18 tasks of the benchmark suite, 3 seeds; table in
``benchmarks/results/auto_lambda.md``) its pick was on average 1.3 points
below the best λ and within 2 points of it 78 % of the time, against 3.4
points and 63 % for plain :func:`reverse_validation_scorer`, 4.7 and 54 % for
:func:`source_accuracy_scorer`, and 2.7 and 65-69 % for
:func:`entropy_scorer` and :func:`snd_scorer`; no pick of the aligned scorer
was more than 5 points below λ=0. Plain reverse validation scores move
little across λ and pick λ=0 half of the time; subtracting the domain
head's held-out accuracy rewards the λ that actually aligns the domains.
(The rule was chosen among 12 on these same runs, so its figures are
optimistic.) An older study on skdann 0.1.0 (``benchmarks/selection.py``,
``benchmarks/results/selection.md``) found warm-starting the reverse model
(the paper's option) worse on all three of its tasks, so it is off by
default.
"""

from __future__ import annotations

import functools
import numbers

import numpy as np
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.metrics._scorer import _BaseScorer
from sklearn.model_selection import (
    BaseCrossValidator,
    KFold,
    StratifiedKFold,
    cross_val_predict,
)
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC
from sklearn.utils.metadata_routing import MetadataRequest
from sklearn.utils.multiclass import type_of_target

from ._input import marker_mask
from ._pipeline import final_step, one_network, take_rows, to_final_input

__all__ = [
    "DomainStratifiedKFold",
    "resolve_lambda_scoring",
    "reverse_validation_scorer",
    "aligned_reverse_validation_scorer",
    "make_reverse_validation_scorer",
    "iwcv_scorer",
    "make_iwcv_scorer",
    "dev_scorer",
    "make_dev_scorer",
    "entropy_scorer",
    "snd_scorer",
    "make_snd_scorer",
    "source_accuracy_scorer",
    "make_target_accuracy_scorer",
    "proxy_a_distance",
    "domain_accuracy",
]

_EPS = 1e-12


# ------------------------------------------------------------------ helpers
def _marker(estimator):
    return getattr(final_step(estimator), "unlabeled_marker", -1)


def target_mask(estimator, y, sample_domain=None) -> np.ndarray:
    """Which rows of a fold are target rows: ``sample_domain < 0`` when given, else the marker.

    Parameters
    ----------
    estimator : estimator or Pipeline, or None
        Its final step tells the marker (``unlabeled_marker``, or NaN for a
        regressor); ``None``: -1 or NaN.
    y : array-like
        The fold's labels.
    sample_domain : array-like of int, optional
        Each row's domain (negative: target).

    Returns
    -------
    ndarray of bool
        True on target rows.

    Examples
    --------
    >>> import numpy as np
    >>> target_mask(None, np.array([0, 1, -1])).tolist()
    [False, False, True]
    >>> target_mask(None, np.array([0, 1, 1]), sample_domain=[1, 2, -1]).tolist()
    [False, False, True]
    """
    if sample_domain is not None:
        sd = np.asarray(sample_domain).reshape(-1)
        if len(sd) != len(y):
            raise ValueError(f"sample_domain has {len(sd)} values but the fold {len(y)} rows.")
        return sd < 0
    y = np.asarray(y)
    final = final_step(estimator) if estimator is not None else None
    if hasattr(final, "_labelled_mask"):  # a skdann estimator knows its marker
        return ~final._labelled_mask(y)
    if y.dtype.kind == "f" and np.isnan(y).any():
        nan = np.isnan(y)
        return nan.all(axis=1) if nan.ndim == 2 else nan
    return marker_mask(y, -1 if final is None else _marker(final))


def _domains(estimator, X, y, name: str, sample_domain=None, need_source=True, need_target=True):
    """Split a fold's stacked rows into (source rows, source labels, target rows)."""
    y = np.asarray(y)
    target = target_mask(estimator, y, sample_domain)
    how = ("with sample_domain < 0" if sample_domain is not None else
           f"labelled {_marker(estimator)!r}")
    if need_source and not (~target).any():
        raise ValueError(f"{name}: the fold holds no labelled source rows. Split with "
                         "DomainStratifiedKFold so that every fold holds both domains.")
    if need_target and not target.any():
        raise ValueError(f"{name}: the fold holds no target rows ({how}). Split with "
                         "DomainStratifiedKFold so that every fold holds both domains.")
    return take_rows(X, ~target), y[~target], take_rows(X, target)


def _class_codes(final, y):
    """Positions of labels ``y`` in ``final.classes_`` (-1 for unknown labels)."""
    classes = np.asarray(final.classes_)
    pos = np.searchsorted(classes, y)
    pos = np.clip(pos, 0, len(classes) - 1)
    return np.where(classes[pos] == y, pos, -1)


def _per_row_loss(estimator, X, y, loss: str) -> np.ndarray:
    """Per-row zero-one loss or log loss of ``estimator`` on labelled rows."""
    if loss == "zero_one":
        return (estimator.predict(X) != y).astype(float)
    proba = estimator.predict_proba(X)
    codes = _class_codes(final_step(estimator), y)
    p = np.where(codes >= 0, proba[np.arange(len(y)), np.maximum(codes, 0)], 0.0)
    return -np.log(np.clip(p, _EPS, 1.0))


def _check_choice(name, value, choices):
    if value not in choices:
        raise ValueError(f"{name} must be one of {choices}, got {value!r}.")


def _check_number(name, value, minimum, *, integer=False, allow_none=False):
    """Raise a ValueError unless ``value`` is a number (an int) ``>= minimum`` (bools refused)."""
    if allow_none and value is None:
        return
    kind = numbers.Integral if integer else numbers.Real
    if isinstance(value, bool) or not isinstance(value, kind) or not value >= minimum:
        what = ("None or " if allow_none else "") + ("an integer" if integer else "a number")
        raise ValueError(f"{name} must be {what} >= {minimum}, got {value!r}.")


def _default_domain_classifier():
    return make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=1000))


def _importance_weights(F_source, F_target, domain_classifier, cv: int, clip: float) -> np.ndarray:
    """Density ratio p_t/p_s on the source rows, from a domain classifier.

    ``w = (n_s / n_t) · P(target | x) / P(source | x)``, with out-of-fold
    probabilities (``cross_val_predict``) clipped to ``[clip, 1 - clip]``.
    """
    F = np.vstack([np.asarray(F_source, dtype=float), np.asarray(F_target, dtype=float)])
    d = np.r_[np.zeros(len(F_source), dtype=int), np.ones(len(F_target), dtype=int)]
    n_splits = int(min(cv, len(F_source), len(F_target)))
    clf = _default_domain_classifier() if domain_classifier is None else clone(domain_classifier)
    if n_splits >= 2:
        p = cross_val_predict(clf, F, d, cv=StratifiedKFold(n_splits), method="predict_proba")[:, 1]
    else:
        p = clf.fit(F, d).predict_proba(F)[:, 1]
    p = np.clip(p[: len(F_source)], clip, 1.0 - clip)
    return (len(F_source) / len(F_target)) * p / (1.0 - p)


class _Scorer(_BaseScorer):
    """Base of the scorers: a picklable ``scorer(estimator, X, y, sample_domain=None)``.

    A scikit-learn scorer object that requests ``sample_domain``: with
    metadata routing enabled, ``GridSearchCV(...).fit(X, y,
    sample_domain=...)`` hands each fold's domains to it; without, the
    target rows are found by the marker in ``y``.
    """

    _name = "scorer"

    def __init__(self, **options):
        super().__init__(score_func=None, sign=1, kwargs={})
        self._options = options
        # Requested by default (as scikit-learn's set_score_request would,
        # which is only callable while routing is enabled).
        self._metadata_request = MetadataRequest(owner=self)
        self._metadata_request.score.add_request(param="sample_domain", alias=True)

    def __repr__(self) -> str:
        opts = ", ".join(f"{k}={v!r}" for k, v in self._options.items())
        return f"{self._name}({opts})"

    def __call__(self, estimator, X, y, sample_domain=None, **kwargs) -> float:
        return self._evaluate(estimator, X, y, sample_domain)

    def _score(self, method_caller, estimator, X, y_true, sample_domain=None, **kwargs):
        return self._evaluate(estimator, X, y_true, sample_domain)

    def _evaluate(self, estimator, X, y, sample_domain) -> float:  # pragma: no cover - abstract
        raise NotImplementedError


class _FunctionScorer(_Scorer):
    """A scorer object made from a function, carrying the function's name and documentation."""

    def __init__(self, function):
        super().__init__()
        self._function = function
        functools.update_wrapper(self, function)

    def __repr__(self) -> str:
        return self.__name__

    def _evaluate(self, estimator, X, y, sample_domain) -> float:
        return self._function(estimator, X, y, sample_domain=sample_domain)

    def __reduce__(self):
        # Pickled by name: the module attribute is this object.
        return (_named_scorer, (self.__name__,))


def _named_scorer(name):
    return globals()[name]


def _as_scorer(function):
    """Decorator: the public scorer ``function`` becomes a routing-aware scorer object."""
    return _FunctionScorer(function)


# ------------------------------------------------------------------ splitter
class DomainStratifiedKFold(BaseCrossValidator):
    """K-fold that splits every domain separately.

    Each domain's rows are split on their own: the labelled rows of a
    source domain with :class:`~sklearn.model_selection.StratifiedKFold` on
    their labels (plain ``KFold`` for regression targets), the rows of a
    target domain with :class:`~sklearn.model_selection.KFold`; fold ``k``
    is the union of the domains' ``k``-th folds. Every training and every
    test fold therefore holds rows of every domain, in the proportions of
    the whole data, and the source classes in their proportions. Use it as
    ``cv=`` of ``GridSearchCV``, ``cross_val_score`` or ``cross_validate``.

    The domains come from ``sample_domain`` when it is passed to ``split``
    (positive: source domains, negative: target domains; with scikit-learn's
    metadata routing, ``GridSearchCV(...).fit(X, y, sample_domain=...)``
    passes it on, since this splitter requests it), else from ``y``: rows
    labelled ``unlabeled_marker`` (or NaN) are the target rows.

    Parameters
    ----------
    n_splits : int, default=5
        Number of folds, at least 2.
    shuffle : bool, default=False
        Shuffle each domain's rows (within classes for the source) before
        splitting.
    random_state : int, RandomState instance or None, default=None
        Seed of the shuffling; only used when ``shuffle=True``.
    unlabeled_marker : int, str or None, default=-1
        Label of the target rows in ``y`` when no ``sample_domain`` is given
        (as in :class:`~skdann.DANNClassifier`); NaN marks target rows too
        (as in :class:`~skdann.DANNRegressor`).

    See Also
    --------
    sklearn.model_selection.StratifiedKFold : What the source rows get.

    Examples
    --------
    >>> import numpy as np
    >>> y = np.array([0, 0, 1, 1, 0, 1, -1, -1, -1, -1])
    >>> cv = DomainStratifiedKFold(n_splits=2)
    >>> for train, test in cv.split(np.zeros((10, 1)), y):
    ...     print(test, y[test])
    [0 1 2 6 7] [ 0  0  1 -1 -1]
    [3 4 5 8 9] [ 1  0  1 -1 -1]
    """

    __metadata_request__split = {"sample_domain": True}

    def __init__(self, n_splits=5, *, shuffle=False, random_state=None, unlabeled_marker=-1):
        _check_number("n_splits", n_splits, 2, integer=True)
        self.n_splits = int(n_splits)
        self.shuffle = shuffle
        self.random_state = random_state
        self.unlabeled_marker = unlabeled_marker

    def get_n_splits(self, X=None, y=None, groups=None, sample_domain=None) -> int:
        """Number of folds.

        Parameters
        ----------
        X, y, groups, sample_domain : object
            Ignored.

        Returns
        -------
        int
            ``n_splits``.
        """
        return self.n_splits

    def _domain_ids(self, y, sample_domain) -> np.ndarray:
        if sample_domain is not None:
            sd = np.asarray(sample_domain).reshape(-1)
            if len(sd) != len(y):
                raise ValueError(f"sample_domain has {len(sd)} values but y {len(y)}.")
            return sd
        y = np.asarray(y)
        if y.dtype.kind == "f" and np.isnan(y).any():
            nan = np.isnan(y)
            target = nan.all(axis=1) if nan.ndim == 2 else nan
        else:
            target = marker_mask(y.reshape(len(y), -1)[:, 0], self.unlabeled_marker)
        return np.where(target, -1, 1)

    def split(self, X, y=None, groups=None, sample_domain=None):
        """Generate indices to split data into training and test sets.

        Parameters
        ----------
        X : array-like of shape (n_samples, ...)
            Rows (only their number is used).
        y : array-like of shape (n_samples,)
            Labels, with the marker (or NaN) on unlabelled target rows.
        groups : object
            Ignored.
        sample_domain : array-like of int, optional
            Each row's domain; when given, the marker is not needed.

        Yields
        ------
        train, test : ndarray
            Row indices of the fold.
        """
        if y is None:
            raise ValueError("DomainStratifiedKFold needs y (with target rows labelled "
                             f"{self.unlabeled_marker!r}), or sample_domain, to tell the domains "
                             "apart.")
        y = np.asarray(y)
        domains = self._domain_ids(y, sample_domain)
        rs = self.random_state if self.shuffle else None
        per_domain = []
        for d in np.unique(domains):
            rows = np.flatnonzero(domains == d)
            kind = "source" if d > 0 else "target"
            if len(rows) < self.n_splits:
                raise ValueError(
                    f"DomainStratifiedKFold(n_splits={self.n_splits}) needs at least "
                    f"{self.n_splits} rows of every domain; {kind} domain {d} has {len(rows)}."
                )
            labels = y[rows]
            stratify = d > 0 and type_of_target(labels) in ("binary", "multiclass")
            cv = (StratifiedKFold if stratify else KFold)(self.n_splits, shuffle=self.shuffle,
                                                         random_state=rs)
            per_domain.append([rows[test] for _, test in
                               cv.split(np.zeros((len(rows), 1)), labels if stratify else None)])
        n = len(y)
        for k in range(self.n_splits):
            test = np.sort(np.concatenate([folds[k] for folds in per_domain]))
            train = np.setdiff1d(np.arange(n), test)
            yield train, test


# ------------------------------------------------------------------ reverse validation
class _ReverseValidation(_Scorer):
    _name = "make_reverse_validation_scorer"

    def _evaluate(self, estimator, X, y, sample_domain) -> float:
        X_s, y_s, X_t = _domains(estimator, X, y, "reverse_validation_scorer", sample_domain)
        score = self._reverse_score(estimator, X_s, y_s, X_t)
        if self._options["domain_penalty"]:
            score -= self._options["domain_penalty"] * domain_accuracy(estimator, X_s, X_t)
        return score

    def _reverse_score(self, estimator, X_s, y_s, X_t) -> float:
        opts = self._options
        one_network(estimator, "Reverse validation")
        final, Z_s = to_final_input(estimator, X_s)
        _, Z_t = to_final_input(estimator, X_t)
        pseudo = final.predict(Z_t)
        if len(np.unique(pseudo)) < 2:
            # A model that calls every target row one class teaches the
            # reverse model nothing else: it predicts that class everywhere.
            # (DANNClassifier cannot be trained on a single class.)
            wrong = (y_s != pseudo[0]).astype(float)
            if opts["metric"] == "accuracy":
                return float(1.0 - np.mean(wrong))
            return float(np.mean(wrong) * np.log(_EPS))
        reverse = clone(final).set_params(warm_start=False, verbose=0)
        if opts["max_epochs"] is not None:
            reverse.set_params(max_epochs=opts["max_epochs"])
        if opts["params"]:
            reverse.set_params(**opts["params"])
        # Pseudo-labelled target rows are the reverse model's source, the
        # source rows its unlabelled target. A first call with 0 epochs
        # builds the network, with the forward model's classes even when the
        # pseudo-labels miss some; the second trains it.
        reverse.partial_fit(Z_t, pseudo, X_target=Z_s, classes=final.classes_, epochs=0)
        if opts["warm_start"]:
            reverse.net_.module_.load_state_dict(final.net_.module_.state_dict())
        # max_epochs_ is max_epochs resolved (e.g. from "auto") by the first call.
        epochs = getattr(reverse, "max_epochs_", reverse.max_epochs)
        reverse.partial_fit(Z_t, pseudo, X_target=Z_s, epochs=int(epochs))
        if opts["metric"] == "accuracy":
            return float(np.mean(reverse.predict(Z_s) == y_s))
        return -float(np.mean(_per_row_loss(reverse, Z_s, y_s, "log_loss")))


def make_reverse_validation_scorer(*, warm_start=False, max_epochs=None, metric="accuracy",
                                   params=None, domain_penalty=0.0):
    """Build a reverse-validation scorer (Ganin et al. 2016, §5.1.2).

    The scorer pseudo-labels the fold's target rows with the fitted model
    ``η``, trains a reverse model ``η_r`` (a clone of ``η``'s final
    estimator, same parameters) on those pseudo-labelled target rows with
    the fold's source rows as its unlabelled target domain, and returns
    ``η_r``'s accuracy (or minus its log loss) on the source rows' true
    labels. If ``η`` transfers well, its pseudo-labels are right and
    ``η_r`` can carry them back to the source domain.

    For a ``Pipeline`` the rows are first transformed by the pipeline's
    preceding steps (``estimator[:-1]``, as fitted) and ``η_r`` is trained
    on the transformed rows.

    Departures from the paper: the paper trains ``η_r`` on the target rows
    ``η`` was trained on and scores it on held-out source rows ``S_V``;
    a scorer only sees the test fold, so ``η_r`` learns from the test
    fold's target rows and is scored on the test fold's source rows, which
    it sees unlabelled (transductively, as ``η`` sees its target rows).
    Neither model ever sees a label of the rows it is scored on.

    Parameters
    ----------
    warm_start : bool, default=False
        Start ``η_r`` from ``η``'s weights, as the paper does, instead of a
        fresh initialisation. In ``benchmarks/selection.py`` (skdann 0.1.0)
        the warm start picked λ 1.6 (moons), 2.8 (MNIST→digits) and 0.1
        (digits→MNIST) points worse than the cold start, hence the default.
    max_epochs : int or None, default=None
        Epochs of ``η_r``; ``None`` keeps ``η``'s ``max_epochs``.
    metric : {"accuracy", "neg_log_loss"}, default="accuracy"
        What is measured on the source rows.
    params : dict or None, default=None
        Other parameters of ``η_r`` (``set_params`` names), e.g. ``{"lr": 1e-3}``.
    domain_penalty : float, default=0.0
        Subtract this times the balanced accuracy of ``η``'s domain head on
        the fold (:func:`domain_accuracy`): the score then also rewards
        features the domain head cannot tell apart, the second term of the
        bound DANN minimises (target error ≤ source error + divergence).
        :func:`aligned_reverse_validation_scorer` uses 1.

    Returns
    -------
    callable
        ``scorer(estimator, X, y) -> float``, higher is better.

    References
    ----------
    Y. Ganin et al. Domain-Adversarial Training of Neural Networks. JMLR
    17(59), 2016, §5.1.2. E. Zhong et al. Cross validation framework to
    choose amongst models and datasets for transfer learning. ECML PKDD 2010.

    Examples
    --------
    >>> import numpy as np
    >>> from skdann import DANNClassifier
    >>> from skdann.datasets import make_domain_moons
    >>> Xs, ys, Xt, _ = make_domain_moons(n_source=60, n_target=60, random_state=0)
    >>> X, y = np.vstack([Xs, Xt]), np.r_[ys, np.full(60, -1)]
    >>> clf = DANNClassifier(max_epochs=3, random_state=0).fit(X, y)
    >>> scorer = make_reverse_validation_scorer(warm_start=True, max_epochs=2)
    >>> 0 <= scorer(clf, X, y) <= 1
    True
    """
    _check_choice("metric", metric, ("accuracy", "neg_log_loss"))
    _check_number("max_epochs", max_epochs, 1, integer=True, allow_none=True)
    _check_number("domain_penalty", domain_penalty, 0)
    return _ReverseValidation(warm_start=bool(warm_start), max_epochs=max_epochs, metric=metric,
                              params=dict(params or {}), domain_penalty=float(domain_penalty))


_DEFAULT_REVERSE_VALIDATION = make_reverse_validation_scorer()


@_as_scorer
def reverse_validation_scorer(estimator, X, y, sample_domain=None) -> float:
    """Reverse validation with the defaults of :func:`make_reverse_validation_scorer`.

    Ganin et al. (2016), §5.1.2: accuracy, on the fold's source rows, of a
    model trained on the fold's target rows pseudo-labelled by the estimator.

    Parameters
    ----------
    estimator : fitted DANNClassifier or Pipeline ending in one
        The model to score.
    X : array-like
        A fold's stacked source and target rows.
    y : array-like
        Source labels, ``unlabeled_marker`` on target rows.
    sample_domain : array-like of int, optional
        Each row's domain (negative: target); without it, target rows are
        those carrying the marker.

    Returns
    -------
    float
        The score, higher is better.

    References
    ----------
    Y. Ganin et al. Domain-Adversarial Training of Neural Networks. JMLR
    17(59), 2016, §5.1.2.

    Examples
    --------
    >>> import numpy as np
    >>> from skdann import DANNClassifier
    >>> from skdann.datasets import make_domain_moons
    >>> Xs, ys, Xt, _ = make_domain_moons(n_source=60, n_target=60, random_state=0)
    >>> X, y = np.vstack([Xs, Xt]), np.r_[ys, np.full(60, -1)]
    >>> clf = DANNClassifier(max_epochs=2, random_state=0).fit(X, y)
    >>> 0 <= reverse_validation_scorer(clf, X, y) <= 1
    True
    """
    return _DEFAULT_REVERSE_VALIDATION(estimator, X, y, sample_domain)


_DEFAULT_ALIGNED_REVERSE_VALIDATION = make_reverse_validation_scorer(domain_penalty=1.0)


@_as_scorer
def aligned_reverse_validation_scorer(estimator, X, y, sample_domain=None) -> float:
    """Reverse validation minus the domain head's balanced accuracy (``lambda_max="auto"``'s default).

    The two terms of the bound DANN minimises, estimated without target
    labels on a fold: how well the model's target predictions transfer
    back to the source (reverse validation, Ganin et al. 2016, §5.1.2), and
    how well its own domain head still tells the fold's source rows from
    its target rows (:func:`domain_accuracy`; 0.5 for aligned features).
    In ``benchmarks/auto_lambda.py`` it was the best of the rules tried for
    choosing λ (table in the README).

    Parameters
    ----------
    estimator : fitted DANNClassifier or Pipeline ending in one
        The model to score.
    X : array-like
        A fold's stacked source and target rows.
    y : array-like
        Source labels, ``unlabeled_marker`` on target rows.
    sample_domain : array-like of int, optional
        Each row's domain (negative: target); without it, target rows are
        those carrying the marker.

    Returns
    -------
    float
        The score, higher is better (in [-1, 0.5]).

    Examples
    --------
    >>> import numpy as np
    >>> from skdann import DANNClassifier
    >>> from skdann.datasets import make_domain_moons
    >>> Xs, ys, Xt, _ = make_domain_moons(n_source=60, n_target=60, random_state=0)
    >>> X, y = np.vstack([Xs, Xt]), np.r_[ys, np.full(60, -1)]
    >>> clf = DANNClassifier(max_epochs=2, random_state=0).fit(X, y)
    >>> -1 <= aligned_reverse_validation_scorer(clf, X, y) <= 0.5
    True
    """
    return _DEFAULT_ALIGNED_REVERSE_VALIDATION(estimator, X, y, sample_domain)


# ------------------------------------------------------------------ IWCV and DEV
class _Weighted(_Scorer):
    def _weights(self, estimator, X_s, X_t):
        if self._options["space"] == "features":
            one_network(estimator, f"{self._name} with space='features'")
        final, Z_s = to_final_input(estimator, X_s)
        _, Z_t = to_final_input(estimator, X_t)
        if self._options["space"] == "features":
            F_s, F_t = final.transform(Z_s), final.transform(Z_t)
        else:
            F_s, F_t = np.asarray(Z_s, dtype=float), np.asarray(Z_t, dtype=float)
        return _importance_weights(F_s, F_t, self._options["domain_classifier"],
                                   self._options["cv"], self._options["clip"])


class _IWCV(_Weighted):
    _name = "make_iwcv_scorer"

    def _evaluate(self, estimator, X, y, sample_domain) -> float:
        X_s, y_s, X_t = _domains(estimator, X, y, "iwcv_scorer", sample_domain)
        w = self._weights(estimator, X_s, X_t)
        if self._options["metric"] == "accuracy":
            loss = _per_row_loss(estimator, X_s, y_s, "zero_one")
            return float(1.0 - np.sum(w * loss) / np.sum(w))
        loss = _per_row_loss(estimator, X_s, y_s, "log_loss")
        return -float(np.sum(w * loss) / np.sum(w))


def _check_weight_options(space, cv, clip):
    _check_choice("space", space, ("features", "input"))
    _check_number("cv", cv, 1, integer=True)
    if not 0 < clip < 0.5:
        raise ValueError(f"clip must be in (0, 0.5), got {clip!r}.")


def make_iwcv_scorer(*, space="features", metric="accuracy", domain_classifier=None, cv=3,
                     clip=0.01):
    """Build an importance-weighted validation scorer (IWCV, Sugiyama et al. 2007).

    Source rows are weighted by the density ratio ``w(x) = p_t(x) / p_s(x)``
    estimated with a probabilistic domain classifier (default: standardised
    logistic regression) trained to tell the fold's target rows from its
    source rows: ``w = (n_s / n_t) · P(t | x) / P(s | x)``, with
    out-of-fold probabilities. The score is the weighted source accuracy
    ``Σ w·[ŷ = y] / Σ w`` (self-normalised), an estimate of the target
    accuracy under covariate shift.

    Parameters
    ----------
    space : {"features", "input"}, default="features"
        Where the domain classifier works: on the extractor's features
        (``transform``), or on the rows the final estimator receives.
    metric : {"accuracy", "neg_log_loss"}, default="accuracy"
        Weighted accuracy, or minus the weighted log loss.
    domain_classifier : classifier with ``predict_proba`` or None, default=None
        Cloned for each call. ``None``: ``StandardScaler`` + ``LogisticRegression(C=0.1)``.
    cv : int, default=3
        Folds for the out-of-fold domain probabilities (1: in-sample).
    clip : float, default=0.01
        Domain probabilities are clipped to ``[clip, 1 - clip]``, which
        bounds the weights.

    Returns
    -------
    callable
        ``scorer(estimator, X, y) -> float``, higher is better.

    References
    ----------
    M. Sugiyama, M. Krauledat, K.-R. Müller. Covariate shift adaptation by
    importance weighted cross validation. JMLR 8:985-1005, 2007.

    Examples
    --------
    >>> import numpy as np
    >>> from skdann import DANNClassifier
    >>> from skdann.datasets import make_domain_moons
    >>> Xs, ys, Xt, _ = make_domain_moons(n_source=60, n_target=60, random_state=0)
    >>> X, y = np.vstack([Xs, Xt]), np.r_[ys, np.full(60, -1)]
    >>> clf = DANNClassifier(max_epochs=2, random_state=0).fit(X, y)
    >>> 0 <= make_iwcv_scorer(space="input")(clf, X, y) <= 1
    True
    """
    _check_weight_options(space, cv, clip)
    _check_choice("metric", metric, ("accuracy", "neg_log_loss"))
    return _IWCV(space=space, metric=metric, domain_classifier=domain_classifier, cv=int(cv),
                 clip=float(clip))


_DEFAULT_IWCV = make_iwcv_scorer()


@_as_scorer
def iwcv_scorer(estimator, X, y, sample_domain=None) -> float:
    """Importance-weighted source accuracy, defaults of :func:`make_iwcv_scorer`.

    Sugiyama et al. (2007): source accuracy weighted by p_t/p_s, estimated by
    a logistic domain classifier on the extractor's features.

    Parameters
    ----------
    estimator : fitted DANNClassifier or Pipeline ending in one
        The model to score.
    X : array-like
        A fold's stacked source and target rows.
    y : array-like
        Source labels, ``unlabeled_marker`` on target rows.
    sample_domain : array-like of int, optional
        Each row's domain (negative: target); without it, target rows are
        those carrying the marker.

    Returns
    -------
    float
        The score, higher is better.

    References
    ----------
    M. Sugiyama, M. Krauledat, K.-R. Müller. Covariate shift adaptation by
    importance weighted cross validation. JMLR 8:985-1005, 2007.

    Examples
    --------
    >>> import numpy as np
    >>> from skdann import DANNClassifier
    >>> from skdann.datasets import make_domain_moons
    >>> Xs, ys, Xt, _ = make_domain_moons(n_source=60, n_target=60, random_state=0)
    >>> X, y = np.vstack([Xs, Xt]), np.r_[ys, np.full(60, -1)]
    >>> clf = DANNClassifier(max_epochs=2, random_state=0).fit(X, y)
    >>> 0 <= iwcv_scorer(clf, X, y) <= 1
    True
    """
    return _DEFAULT_IWCV(estimator, X, y, sample_domain)


class _DEV(_Weighted):
    _name = "make_dev_scorer"

    def _evaluate(self, estimator, X, y, sample_domain) -> float:
        X_s, y_s, X_t = _domains(estimator, X, y, "dev_scorer", sample_domain)
        w = self._weights(estimator, X_s, X_t)
        loss = _per_row_loss(estimator, X_s, y_s, self._options["loss"])
        weighted = w * loss
        var_w = np.var(w, ddof=1) if len(w) > 1 else 0.0
        if var_w > _EPS:
            eta = -np.cov(weighted, w, ddof=1)[0, 1] / var_w
        else:
            eta = 0.0
        risk = np.mean(weighted) + eta * np.mean(w) - eta
        return -float(risk)


def make_dev_scorer(*, space="features", loss="zero_one", domain_classifier=None, cv=3,
                    clip=0.01):
    """Build a deep-embedded-validation scorer (DEV, You et al. 2019).

    Like importance-weighted validation, with density ratios ``w`` from a
    domain classifier on the extractor's features, but the weighted risk
    ``mean(w·ℓ)`` gets the control variate ``w`` (whose mean is 1 in
    expectation) to reduce its variance:
    ``risk = mean(w·ℓ) + η·(mean(w) - 1)`` with ``η = -Cov(w·ℓ, w) / Var(w)``.
    Returns ``-risk``.

    Parameters
    ----------
    space : {"features", "input"}, default="features"
        Where the domain classifier works (see :func:`make_iwcv_scorer`).
    loss : {"zero_one", "log_loss"}, default="zero_one"
        Per-row loss ``ℓ`` on the source rows (the reference implementation
        uses the 0/1 error).
    domain_classifier : classifier with ``predict_proba`` or None, default=None
        ``None``: ``StandardScaler`` + ``LogisticRegression(C=0.1)``.
    cv : int, default=3
        Folds for the out-of-fold domain probabilities (1: in-sample).
    clip : float, default=0.01
        Domain probabilities are clipped to ``[clip, 1 - clip]``.

    Returns
    -------
    callable
        ``scorer(estimator, X, y) -> float``, higher is better (at most 0
        for a loss ≥ 0, up to the control variate's correction).

    References
    ----------
    K. You, X. Wang, M. Long, M. I. Jordan. Towards accurate model selection
    in deep unsupervised domain adaptation. ICML 2019.

    Examples
    --------
    >>> import numpy as np
    >>> from skdann import DANNClassifier
    >>> from skdann.datasets import make_domain_moons
    >>> Xs, ys, Xt, _ = make_domain_moons(n_source=60, n_target=60, random_state=0)
    >>> X, y = np.vstack([Xs, Xt]), np.r_[ys, np.full(60, -1)]
    >>> clf = DANNClassifier(max_epochs=2, random_state=0).fit(X, y)
    >>> make_dev_scorer(loss="log_loss")(clf, X, y) < 0
    True
    """
    _check_weight_options(space, cv, clip)
    _check_choice("loss", loss, ("zero_one", "log_loss"))
    return _DEV(space=space, loss=loss, domain_classifier=domain_classifier, cv=int(cv),
                clip=float(clip))


_DEFAULT_DEV = make_dev_scorer()


@_as_scorer
def dev_scorer(estimator, X, y, sample_domain=None) -> float:
    """Deep embedded validation with the defaults of :func:`make_dev_scorer`.

    You et al. (2019): minus the importance-weighted source error with a
    control variate; weights from a logistic domain classifier on features.

    Parameters
    ----------
    estimator : fitted DANNClassifier or Pipeline ending in one
        The model to score.
    X : array-like
        A fold's stacked source and target rows.
    y : array-like
        Source labels, ``unlabeled_marker`` on target rows.
    sample_domain : array-like of int, optional
        Each row's domain (negative: target); without it, target rows are
        those carrying the marker.

    Returns
    -------
    float
        The score, higher is better.

    References
    ----------
    K. You, X. Wang, M. Long, M. I. Jordan. Towards accurate model selection
    in deep unsupervised domain adaptation. ICML 2019.

    Examples
    --------
    >>> import numpy as np
    >>> from skdann import DANNClassifier
    >>> from skdann.datasets import make_domain_moons
    >>> Xs, ys, Xt, _ = make_domain_moons(n_source=60, n_target=60, random_state=0)
    >>> X, y = np.vstack([Xs, Xt]), np.r_[ys, np.full(60, -1)]
    >>> clf = DANNClassifier(max_epochs=2, random_state=0).fit(X, y)
    >>> -1.5 <= dev_scorer(clf, X, y) <= 0.5
    True
    """
    return _DEFAULT_DEV(estimator, X, y, sample_domain)


# ------------------------------------------------------------------ entropy and SND
@_as_scorer
def entropy_scorer(estimator, X, y, sample_domain=None) -> float:
    """Minus the mean entropy of the predicted class probabilities on the target rows.

    Confident predictions on the target domain score high (0 at most); a
    model that predicts the uniform distribution over ``K`` classes scores
    ``-log K``. Cheap, but it rewards over-confident (even collapsed)
    models: use it alongside a scorer that sees source labels.

    Parameters
    ----------
    estimator : fitted DANNClassifier or Pipeline ending in one
        Needs ``predict_proba``.
    X : array-like
        A fold's stacked rows.
    y : array-like
        Labels, the marker on target rows (only those rows are used).
    sample_domain : array-like of int, optional
        Each row's domain (negative: target); without it, target rows are
        those carrying the marker.

    Returns
    -------
    float
        ``-mean(-Σ_k p_k log p_k)`` over the target rows, in nats.

    References
    ----------
    J. Morerio, J. Cavazza, V. Murino. Minimal-entropy correlation alignment
    for unsupervised deep domain adaptation. ICLR 2018 (entropy as a
    validation criterion); Y. Grandvalet, Y. Bengio. Semi-supervised
    learning by entropy minimization. NIPS 2004.

    Examples
    --------
    >>> import numpy as np
    >>> from skdann import DANNClassifier
    >>> from skdann.datasets import make_domain_moons
    >>> Xs, ys, Xt, _ = make_domain_moons(n_source=60, n_target=60, random_state=0)
    >>> X, y = np.vstack([Xs, Xt]), np.r_[ys, np.full(60, -1)]
    >>> clf = DANNClassifier(max_epochs=2, random_state=0).fit(X, y)
    >>> -np.log(2) <= entropy_scorer(clf, X, y) <= 0
    True
    """
    _, _, X_t = _domains(estimator, X, y, "entropy_scorer", sample_domain, need_source=False)
    p = np.clip(estimator.predict_proba(X_t), _EPS, 1.0)
    return float(np.mean(np.sum(p * np.log(p), axis=1)))


class _SND(_Scorer):
    _name = "make_snd_scorer"

    def _evaluate(self, estimator, X, y, sample_domain) -> float:
        _, _, X_t = _domains(estimator, X, y, "snd_scorer", sample_domain, need_source=False)
        if self._options["space"] == "proba":
            F = estimator.predict_proba(X_t)
        else:
            one_network(estimator, "make_snd_scorer(space='features')")
            final, Z_t = to_final_input(estimator, X_t)
            F = final.transform(Z_t)
        F = np.asarray(F, dtype=float)
        max_samples = self._options["max_samples"]
        if len(F) > max_samples:
            rows = np.random.RandomState(0).choice(len(F), max_samples, replace=False)
            F = F[rows]
        if len(F) < 2:
            raise ValueError("snd_scorer needs at least 2 target rows in the fold.")
        F = F / np.maximum(np.linalg.norm(F, axis=1, keepdims=True), _EPS)
        logits = (F @ F.T) / self._options["temperature"]
        np.fill_diagonal(logits, -np.inf)
        logits -= logits.max(axis=1, keepdims=True)
        P = np.exp(logits)
        P /= P.sum(axis=1, keepdims=True)
        with np.errstate(divide="ignore", invalid="ignore"):
            ent = -np.sum(np.where(P > 0, P * np.log(P), 0.0), axis=1)
        return float(np.mean(ent))


def make_snd_scorer(*, temperature=0.05, space="proba", max_samples=2000):
    """Build a soft-neighbourhood-density scorer (SND, Saito et al. 2021).

    Target rows are embedded (class probabilities by default) and
    L2-normalised; each row's similarities to the other target rows, divided
    by ``temperature``, go through a softmax; SND is the mean entropy of
    these neighbour distributions. It is high when target rows sit in dense
    neighbourhoods, as with well-clustered predictions. A model that puts
    every target row in one point gets the largest value, ``log(n_t - 1)``.

    Parameters
    ----------
    temperature : float, default=0.05
        Softmax temperature (the paper's value).
    space : {"proba", "features"}, default="proba"
        Embedding: ``predict_proba`` (as the paper recommends) or the
        extractor's features.
    max_samples : int, default=2000
        At most this many target rows are used (a fixed random subset); the
        cost is quadratic in their number.

    Returns
    -------
    callable
        ``scorer(estimator, X, y) -> float``, higher is better.

    References
    ----------
    K. Saito, D. Kim, P. Teterwak, S. Sclaroff, T. Darrell, K. Saenko. Tune it
    the right way: unsupervised validation of domain adaptation via soft
    neighborhood density. ICCV 2021.

    Examples
    --------
    >>> import numpy as np
    >>> from skdann import DANNClassifier
    >>> from skdann.datasets import make_domain_moons
    >>> Xs, ys, Xt, _ = make_domain_moons(n_source=60, n_target=60, random_state=0)
    >>> X, y = np.vstack([Xs, Xt]), np.r_[ys, np.full(60, -1)]
    >>> clf = DANNClassifier(max_epochs=2, random_state=0).fit(X, y)
    >>> bool(0 <= make_snd_scorer(space="features")(clf, X, y) <= np.log(59) + 1e-9)
    True
    """
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature!r}.")
    _check_choice("space", space, ("proba", "features"))
    _check_number("max_samples", max_samples, 2, integer=True)
    return _SND(temperature=float(temperature), space=space, max_samples=int(max_samples))


_DEFAULT_SND = make_snd_scorer()


@_as_scorer
def snd_scorer(estimator, X, y, sample_domain=None) -> float:
    """Soft neighbourhood density with the defaults of :func:`make_snd_scorer`.

    Saito et al. (2021): mean entropy of the softmax (temperature 0.05) over
    cosine similarities of the target rows' class probabilities.

    Parameters
    ----------
    estimator : fitted DANNClassifier or Pipeline ending in one
        The model to score.
    X : array-like
        A fold's stacked source and target rows.
    y : array-like
        Source labels, ``unlabeled_marker`` on target rows.
    sample_domain : array-like of int, optional
        Each row's domain (negative: target); without it, target rows are
        those carrying the marker.

    Returns
    -------
    float
        The score, higher is better.

    References
    ----------
    K. Saito et al. Tune it the right way: unsupervised validation of domain
    adaptation via soft neighborhood density. ICCV 2021.

    Examples
    --------
    >>> import numpy as np
    >>> from skdann import DANNClassifier
    >>> from skdann.datasets import make_domain_moons
    >>> Xs, ys, Xt, _ = make_domain_moons(n_source=60, n_target=60, random_state=0)
    >>> X, y = np.vstack([Xs, Xt]), np.r_[ys, np.full(60, -1)]
    >>> clf = DANNClassifier(max_epochs=2, random_state=0).fit(X, y)
    >>> snd_scorer(clf, X, y) >= 0
    True
    """
    return _DEFAULT_SND(estimator, X, y, sample_domain)


# ------------------------------------------------------------------ accuracies
@_as_scorer
def source_accuracy_scorer(estimator, X, y, sample_domain=None) -> float:
    """Accuracy on the labelled (source) rows of a stacked fold.

    Rows whose label is the estimator's ``unlabeled_marker`` are left out,
    so it works on folds of stacked source+target rows in ``GridSearchCV``.
    It ignores the domain shift: the classic baseline that the other
    scorers try to beat.

    Parameters
    ----------
    estimator : fitted estimator or Pipeline ending in a DANNClassifier
        The model to score.
    X : array-like
        Stacked rows.
    y : array-like
        Labels, with the marker on target rows.
    sample_domain : array-like of int, optional
        Each row's domain (negative: target); without it, target rows are
        those carrying the marker.

    Returns
    -------
    float
        Accuracy on the labelled rows.

    References
    ----------
    K. You et al. Towards accurate model selection in deep unsupervised
    domain adaptation. ICML 2019 (source risk as a baseline).

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
    X_s, y_s, _ = _domains(estimator, X, y, "source_accuracy_scorer", sample_domain,
                           need_target=False)
    return float(np.mean(estimator.predict(X_s) == y_s))


class _TargetAccuracy(_Scorer):
    _name = "make_target_accuracy_scorer"

    def __init__(self, X_target, y_target):
        super().__init__(n_target=len(y_target))
        self.X_target = X_target
        self.y_target = y_target

    def _evaluate(self, estimator, X, y, sample_domain) -> float:
        return float(np.mean(estimator.predict(self.X_target) == self.y_target))


def make_target_accuracy_scorer(X_target, y_target):
    """Build a scorer of the accuracy on fixed, labelled target rows (for studies).

    For experiments where target labels exist: the scorer ignores the fold
    it is given and returns the model's accuracy on ``(X_target,
    y_target)``. Keep these rows out of the data the search is fitted on
    to get an honest estimate. Combine it with label-free scorers in a dict
    (``scoring={"rv": reverse_validation_scorer, "target":
    make_target_accuracy_scorer(Xt_test, yt_test)}, refit="rv"``) to see how
    well each one tracks the target accuracy.

    Parameters
    ----------
    X_target : array-like
        Labelled target rows, in the input space of the estimator (raw rows
        for a Pipeline).
    y_target : array-like of shape (n_samples,)
        Their true labels.

    Returns
    -------
    callable
        ``scorer(estimator, X, y) -> float`` (``X`` and ``y`` are ignored).

    Examples
    --------
    >>> import numpy as np
    >>> from skdann import DANNClassifier
    >>> from skdann.datasets import make_domain_moons
    >>> Xs, ys, Xt, yt = make_domain_moons(n_source=60, n_target=60, random_state=0)
    >>> clf = DANNClassifier(max_epochs=2, random_state=0).fit(Xs, ys, Xt)
    >>> scorer = make_target_accuracy_scorer(Xt, yt)
    >>> bool(scorer(clf, None, None) == np.mean(clf.predict(Xt) == yt))
    True
    """
    y_target = np.asarray(y_target).reshape(-1)
    n = X_target.shape[0] if hasattr(X_target, "shape") else len(X_target)
    if n != len(y_target):
        raise ValueError(f"X_target has {n} rows but y_target {len(y_target)} labels.")
    return _TargetAccuracy(X_target, y_target)


# ------------------------------------------------------------------ diagnostics
def proxy_a_distance(X_source, X_target, *, classifier=None, n_splits=2, random_state=0) -> float:
    """Proxy A-distance between two samples (Ben-David et al. 2007; Ganin et al. 2016, §3.2).

    ``d_A = 2 (1 - 2 ε)``, where ``ε`` is the held-out error of a linear
    classifier trained to tell the source rows from the target rows: 0 for
    indistinguishable samples, 2 for perfectly separable ones. ``ε`` is the
    balanced error (mean of the two domains' error rates) of out-of-fold
    predictions, so unequal sample sizes do not bias it, and is taken as
    ``min(ε, 1 - ε)`` so that ``d_A`` lies in ``[0, 2]``.

    Parameters
    ----------
    X_source, X_target : array-like of shape (n_samples, n_features)
        The two samples (e.g. inputs, or features from a model's ``transform``).
    classifier : classifier or None, default=None
        Domain classifier, cloned. ``None``: ``StandardScaler`` + ``LinearSVC``
        (a linear SVM, as in the paper).
    n_splits : int, default=2
        Stratified folds giving the out-of-fold predictions.
    random_state : int or None, default=0
        Seed of the fold shuffling.

    Returns
    -------
    float
        The proxy A-distance, in ``[0, 2]``.

    References
    ----------
    S. Ben-David, J. Blitzer, K. Crammer, F. Pereira. Analysis of
    representations for domain adaptation. NIPS 2007. Y. Ganin et al.
    Domain-Adversarial Training of Neural Networks. JMLR 17(59), 2016.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.RandomState(0)
    >>> A = rng.normal(size=(200, 2))
    >>> round(proxy_a_distance(A, A + 10), 2)
    2.0
    >>> proxy_a_distance(A, rng.normal(size=(200, 2))) < 0.4
    True
    """
    Xs = np.asarray(X_source, dtype=float).reshape(len(X_source), -1)
    Xt = np.asarray(X_target, dtype=float).reshape(len(X_target), -1)
    if Xs.shape[1] != Xt.shape[1]:
        raise ValueError(f"X_source has {Xs.shape[1]} features but X_target {Xt.shape[1]}.")
    if min(len(Xs), len(Xt)) < n_splits:
        raise ValueError(f"proxy_a_distance needs at least n_splits={n_splits} rows per domain.")
    clf = make_pipeline(StandardScaler(), LinearSVC()) if classifier is None else clone(classifier)
    X = np.vstack([Xs, Xt])
    d = np.r_[np.zeros(len(Xs), dtype=int), np.ones(len(Xt), dtype=int)]
    cv = StratifiedKFold(n_splits, shuffle=True, random_state=random_state)
    pred = cross_val_predict(clf, X, d, cv=cv)
    err = 0.5 * (np.mean(pred[d == 0] != 0) + np.mean(pred[d == 1] != 1))
    err = min(err, 1.0 - err)
    return float(2.0 * (1.0 - 2.0 * err))


def domain_accuracy(estimator, X_source, X_target) -> float:
    """Balanced accuracy of a fitted model's domain head on two samples.

    A row counts as classified right when ``predict_domain_proba`` is above
    0.5 for a target row, or at most 0.5 for a source row; the result is
    the mean of the two domains' accuracies. Near 0.5 the domain head
    cannot tell the domains apart (aligned features); near 1 it can.

    Parameters
    ----------
    estimator : fitted DANNClassifier or Pipeline ending in one
        The model; a Pipeline's preceding steps transform the rows first.
    X_source, X_target : array-like
        Rows of each domain (e.g. held-out rows).

    Returns
    -------
    float
        Balanced domain accuracy in ``[0, 1]``.

    Examples
    --------
    >>> from skdann import DANNClassifier
    >>> from skdann.datasets import make_domain_moons
    >>> Xs, ys, Xt, _ = make_domain_moons(n_source=60, n_target=60, random_state=0)
    >>> clf = DANNClassifier(max_epochs=2, random_state=0).fit(Xs, ys, Xt)
    >>> 0 <= domain_accuracy(clf, Xs, Xt) <= 1
    True
    """
    final, Z_s = to_final_input(estimator, X_source)
    _, Z_t = to_final_input(estimator, X_target)

    def target_probability(Z):
        p = final.predict_domain_proba(Z)
        if p.ndim == 2:  # one probability per domain: add up the target domains'
            p = p[:, np.asarray(final.domains_) < 0].sum(axis=1)
        return p
    acc_s = np.mean(target_probability(Z_s) <= 0.5)
    acc_t = np.mean(target_probability(Z_t) > 0.5)
    return float(0.5 * (acc_s + acc_t))


_LAMBDA_SCORERS = {"aligned_reverse_validation": "aligned_reverse_validation_scorer",
                   "reverse_validation": "reverse_validation_scorer",
                   "source_accuracy": "source_accuracy_scorer", "iwcv": "iwcv_scorer",
                   "dev": "dev_scorer", "entropy": "entropy_scorer", "snd": "snd_scorer"}


def resolve_lambda_scoring(scoring):
    """The scorer that ``lambda_scoring`` names (for ``lambda_max="auto"``).

    Parameters
    ----------
    scoring : str or callable
        ``"aligned_reverse_validation"``, ``"reverse_validation"``, ``"source_accuracy"``, ``"iwcv"``,
        ``"dev"``, ``"entropy"`` or ``"snd"``, or a callable
        ``scorer(estimator, X, y, sample_domain=None)``.

    Returns
    -------
    callable
        The scorer.

    Examples
    --------
    >>> resolve_lambda_scoring("source_accuracy") is source_accuracy_scorer
    True
    """
    if callable(scoring):
        return scoring
    try:
        return globals()[_LAMBDA_SCORERS[scoring]]
    except (KeyError, TypeError):
        raise ValueError(f"lambda_scoring must be one of {sorted(_LAMBDA_SCORERS)} or a callable, "
                         f"got {scoring!r}.") from None
