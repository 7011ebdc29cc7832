"""Seed ensembles: the average of several DANN models trained from different seeds.

Adversarial training is unstable: the same data and parameters with another
seed can land far apart on the target (the suite's worst seeds). Averaging the
predictions of a few models trained from different seeds damps that variance
at the price of one fit per member. :class:`DANNEnsembleClassifier` averages
class probabilities, :class:`DANNEnsembleRegressor` predictions; both take any
DANN estimator, or a ``Pipeline`` ending in one, as the member.
"""

from __future__ import annotations

import numbers
import warnings

import numpy as np
import sklearn
from numpy.typing import ArrayLike
from sklearn.base import (
    BaseEstimator,
    ClassifierMixin,
    MetaEstimatorMixin,
    RegressorMixin,
    _fit_context,
    clone,
    is_classifier,
    is_regressor,
)
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import HasMethods, Interval
from sklearn.utils.metadata_routing import MetadataRouter, MethodMapping, process_routing
from sklearn.utils.parallel import Parallel, delayed
from sklearn.utils.validation import check_is_fitted

__all__ = ["DANNEnsembleClassifier", "DANNEnsembleRegressor"]

_MAX_SEED = np.iinfo(np.int32).max


def _seed_keys(estimator) -> list[str]:
    """The ``random_state`` parameters of ``estimator`` (nested ones of a ``Pipeline`` too)."""
    keys = [key for key in estimator.get_params(deep=True)
            if key == "random_state" or key.endswith("__random_state")]
    if not keys:
        raise TypeError(
            f"{type(estimator).__name__} has no random_state parameter, so the members of the "
            "ensemble would all be the same model; pass a DANN estimator or a Pipeline with one."
        )
    return keys


def _seeded(estimator, keys: list[str], seed: int):
    """A clone of ``estimator`` with the ``random_state`` parameters ``keys`` set to ``seed``."""
    return clone(estimator).set_params(**dict.fromkeys(keys, seed))


def _fit_member(member, X, y, fit_params: dict):
    return member.fit(X, y, **fit_params)


class _BaseDANNEnsemble(MetaEstimatorMixin, BaseEstimator):
    """Shared fitting of the seed ensembles (the subclasses add how predictions are averaged)."""

    _parameter_constraints: dict = {
        "estimator": [None, HasMethods(["fit", "predict", "get_params", "set_params"])],
        "n_estimators": [Interval(numbers.Integral, 1, None, closed="left")],
        "n_jobs": [None, numbers.Integral],
        "random_state": ["random_state"],
    }

    def __init__(self, estimator=None, n_estimators: int = 5, *, n_jobs: int | None = None,
                 random_state=None) -> None:
        self.estimator = estimator
        self.n_estimators = n_estimators
        self.n_jobs = n_jobs
        self.random_state = random_state

    def _default_estimator(self):
        raise NotImplementedError

    def _member(self):
        return self._default_estimator() if self.estimator is None else self.estimator

    def get_metadata_routing(self) -> MetadataRouter:
        """How metadata reach the members, with scikit-learn's metadata routing on.

        ``fit``'s keyword arguments (``sample_domain``, ``sample_weight``, ...)
        go to each member's ``fit`` as the member requests them (a DANN
        estimator requests ``sample_domain`` by default).

        Returns
        -------
        MetadataRouter
            The routing to the member.
        """
        return MetadataRouter(owner=type(self).__name__).add(
            estimator=self._member(), method_mapping=MethodMapping().add(caller="fit", callee="fit"))

    def _check_member_type(self, estimator) -> None:
        kind = "classifier" if is_classifier(self) else "regressor"
        if (is_classifier if kind == "classifier" else is_regressor)(estimator):
            return
        other = "Regressor" if kind == "classifier" else "Classifier"
        raise TypeError(
            f"{type(self).__name__} needs a {kind} as its estimator, got "
            f"{type(estimator).__name__}; use DANNEnsemble{other} for a {other.lower()}."
        )

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X: ArrayLike, y: ArrayLike | None = None, **fit_params):
        """Fit ``n_estimators`` clones of ``estimator``, each from its own seed.

        Parameters
        ----------
        X : array-like
            As for the member's ``fit``: source rows, or all domains' rows
            stacked (target rows carrying the unlabelled marker).
        y : array-like, optional
            Labels, as for the member's ``fit``.
        **fit_params
            Passed to every member's ``fit`` (``X_target``,
            ``sample_domain``, ``sample_weight``; for a ``Pipeline``, its
            ``step__param`` keys). With scikit-learn's metadata routing on,
            routed as the member requests them (see
            :meth:`get_metadata_routing`).

        Returns
        -------
        self
            The fitted ensemble. A fit that raises leaves the previous
            members in place.
        """
        estimator = self._member()
        self._check_member_type(estimator)
        if sklearn.get_config()["enable_metadata_routing"]:
            fit_params = process_routing(self, "fit", **fit_params).estimator.fit
        keys = _seed_keys(estimator)
        params = estimator.get_params(deep=True)
        fixed = {key: params[key] for key in keys if params[key] is not None}
        if fixed:
            warnings.warn(
                f"The member's {fixed} is replaced by one seed per member, drawn from the "
                f"ensemble's random_state ({self.random_state!r}); set random_state on the "
                "ensemble and leave the member's None.", UserWarning, stacklevel=2)
        rng = check_random_state(self.random_state)
        seeds = rng.randint(_MAX_SEED, size=self.n_estimators)
        members = [_seeded(estimator, keys, int(seed)) for seed in seeds]
        members = Parallel(n_jobs=self.n_jobs)(
            delayed(_fit_member)(member, X, y, fit_params) for member in members)
        self._set_fitted(members)
        return self

    def _set_fitted(self, members: list) -> None:
        first = members[0]
        for name in ("n_features_in_", "feature_names_in_"):
            if hasattr(first, name):
                setattr(self, name, getattr(first, name))
            else:
                self.__dict__.pop(name, None)
        self.estimators_ = members

    def _predict_kwargs(self, sample_domain) -> dict:
        return {} if sample_domain is None else {"sample_domain": sample_domain}

    def predict_domain_proba(self, X: ArrayLike) -> np.ndarray:
        """The members' mean probability that each row comes from a target domain.

        Parameters
        ----------
        X : array-like
            Rows (or images) of the training shape.

        Returns
        -------
        ndarray of shape (n_samples,), or (n_samples, n_domains)
            As the members' ``predict_domain_proba`` (values near 0.5 on both
            domains: aligned features).
        """
        check_is_fitted(self)
        return np.mean([self._domain_proba(m, X) for m in self.estimators_], axis=0)

    @staticmethod
    def _domain_proba(member, X) -> np.ndarray:
        if hasattr(member, "steps"):  # a Pipeline: its first steps transform, its last answers
            return member[-1].predict_domain_proba(member[:-1].transform(X))
        return member.predict_domain_proba(X)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        member = self._member().__sklearn_tags__()
        tags.input_tags = member.input_tags  # what the members accept, the ensemble accepts
        tags.target_tags.multi_output = member.target_tags.multi_output
        return tags


class DANNEnsembleClassifier(ClassifierMixin, _BaseDANNEnsemble):
    __doc__ = None  # set below, from the shared template

    def _default_estimator(self):
        from ._classifier import DANNClassifier

        return DANNClassifier()

    def _set_fitted(self, members: list) -> None:
        super()._set_fitted(members)
        self.classes_ = members[0].classes_  # the same y for every member: the same classes

    def predict_proba(self, X: ArrayLike, sample_domain: ArrayLike | None = None) -> np.ndarray:
        """Mean class probabilities of the members.

        Parameters
        ----------
        X : array-like
            Rows (or images) of the training shape.
        sample_domain : array-like, optional
            Passed to the members when given (skada's scorers pass it).

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
            Probabilities in the order of ``classes_``; rows sum to 1.
        """
        check_is_fitted(self)
        kwargs = self._predict_kwargs(sample_domain)
        return np.mean([m.predict_proba(X, **kwargs) for m in self.estimators_], axis=0)

    def predict_log_proba(self, X: ArrayLike, sample_domain: ArrayLike | None = None) -> np.ndarray:
        """Logarithm of :meth:`predict_proba`.

        Parameters
        ----------
        X : array-like
            Rows (or images) of the training shape.
        sample_domain : array-like, optional
            As in :meth:`predict_proba`.

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
            Log-probabilities in the order of ``classes_``.
        """
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X, sample_domain))

    def predict(self, X: ArrayLike, sample_domain: ArrayLike | None = None) -> np.ndarray:
        """The class of largest mean probability.

        Parameters
        ----------
        X : array-like
            Rows (or images) of the training shape.
        sample_domain : array-like, optional
            As in :meth:`predict_proba`.

        Returns
        -------
        ndarray of shape (n_samples,)
            Labels from ``classes_``.
        """
        proba = self.predict_proba(X, sample_domain)
        return self.classes_[proba.argmax(axis=1)]


class DANNEnsembleRegressor(RegressorMixin, _BaseDANNEnsemble):
    __doc__ = None  # set below, from the shared template

    def _default_estimator(self):
        from ._regressor import DANNRegressor

        return DANNRegressor()

    def predict(self, X: ArrayLike, sample_domain: ArrayLike | None = None) -> np.ndarray:
        """Mean prediction of the members.

        Parameters
        ----------
        X : array-like
            Rows (or images) of the training shape.
        sample_domain : array-like, optional
            Passed to the members when given.

        Returns
        -------
        ndarray of shape (n_samples,) or (n_samples, n_targets)
            Predictions.
        """
        check_is_fitted(self)
        kwargs = self._predict_kwargs(sample_domain)
        return np.mean([m.predict(X, **kwargs) for m in self.estimators_], axis=0)


_DOC = """Average of the {averaged} of DANN {kind}s trained from different seeds.

    Each member is a clone of ``estimator`` whose ``random_state`` (every
    ``random_state`` of a ``Pipeline``) is drawn from the ensemble's
    ``random_state``; all members see the same rows. Prediction averages the
    members' ``{method}``. It damps the seed-to-seed variance of
    adversarial training and costs ``n_estimators`` fits (in parallel with
    ``n_jobs``; give each member ``n_threads=1`` then).

    Parameters
    ----------
    estimator : estimator, default=None
        The member: a :class:`~skdann.{member}` or a ``Pipeline``
        ending in one. None means ``{member}()``.
    n_estimators : int, default=5
        Number of members.
    n_jobs : int, default=None
        Members fitted in parallel (joblib; None means 1).
    random_state : int, RandomState instance or None, default=None
        Draws the members' seeds: an int gives the same ensemble every time.

    Attributes
    ----------
    estimators_ : list of estimators
        The fitted members.{classes}
    n_features_in_ : int
        Number of input features.
    feature_names_in_ : ndarray of str
        Input column names, when fitted on a DataFrame with string names.

    See Also
    --------
    {member} : one member.

    Examples
    --------
{examples}"""

DANNEnsembleClassifier.__doc__ = _DOC.format(
    averaged="class probabilities", kind="classifier", method="predict_proba",
    member="DANNClassifier", classes="""
    classes_ : ndarray of shape (n_classes,)
        Class labels (the members').""", examples="""\
    >>> from skdann import DANNClassifier, DANNEnsembleClassifier
    >>> from skdann.datasets import make_domain_moons
    >>> Xs, ys, Xt, yt = make_domain_moons(random_state=0)
    >>> member = DANNClassifier(max_epochs=5, n_threads=1)
    >>> model = DANNEnsembleClassifier(member, n_estimators=2, random_state=0)
    >>> model.fit(Xs, ys, X_target=Xt).predict_proba(Xt).shape
    (300, 2)
    """)

DANNEnsembleRegressor.__doc__ = _DOC.format(
    averaged="predictions", kind="regressor", method="predict", member="DANNRegressor",
    classes="", examples="""\
    >>> import numpy as np
    >>> from skdann import DANNRegressor, DANNEnsembleRegressor
    >>> rng = np.random.default_rng(0)
    >>> Xs, Xt = rng.normal(size=(64, 3)), rng.normal(0.5, 1, size=(64, 3))
    >>> member = DANNRegressor(max_epochs=5, n_threads=1)
    >>> model = DANNEnsembleRegressor(member, n_estimators=2, random_state=0)
    >>> model.fit(Xs, Xs.sum(axis=1), X_target=Xt).predict(Xt).shape
    (64,)
    """)
