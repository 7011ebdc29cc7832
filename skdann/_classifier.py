"""DANNClassifier: domain-adversarial training as a scikit-learn classifier."""

from __future__ import annotations

import numbers
import warnings

import numpy as np
import torch
from numpy.typing import ArrayLike
from sklearn.base import ClassifierMixin, _fit_context
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import column_or_1d
from torch import nn

from ._base import SHARED_ATTRIBUTES, SHARED_PARAMETERS, BaseDANN
from ._input import FitData, marker_mask

# IWDAN's shrinkage when label_shift_shrinkage=None (chosen on benchmarks/ablation.py).
_DEFAULT_SHRINKAGE = 0.0
_DEFAULT_VAT_RADIUS = 0.3

__all__ = ["DANNClassifier"]


class DANNClassifier(ClassifierMixin, BaseDANN):
    __doc__ = None  # set below, from the shared parameter documentation

    __metadata_request__predict = {"sample_domain": True}
    __metadata_request__predict_proba = {"sample_domain": True}
    __metadata_request__predict_log_proba = {"sample_domain": True}

    _parameter_constraints: dict = {
        **BaseDANN._parameter_constraints,
        "unlabeled_marker": [None, numbers.Integral, str],
        "label_shift": [None, StrOptions({"iwdan"})],
        "label_shift_shrinkage": [None, Interval(numbers.Real, 0, 1, closed="both")],
        "target_entropy": [Interval(numbers.Real, 0, None, closed="left")],
        "vat_weight": [Interval(numbers.Real, 0, None, closed="left")],
        "vat_radius": [None, Interval(numbers.Real, 0, None, closed="neither")],
        "vat_rows": [StrOptions({"all", "target"})],
    }

    def __init__(self, *, extractor=None, label_head=None, domain_head=None, module=None, net_class=None,
                 adversary="dann", domain_labels="pooled", lambda_max=0.3, lambda_grid=(0.0, 0.1, 0.3, 1.0),
                 lambda_scoring="aligned_reverse_validation", lambda_schedule="ganin", gamma=10.0,
                 warmup=0.0, optimizer="adam", lr=3e-3, lr_schedule="ganin", lr_alpha=10.0, lr_beta=0.75,
                 domain_lr_factor=1.0, domain_label_smoothing=0.0, domain_steps=1, averaging=None,
                 averaging_decay=0.99,
                 averaging_start=0.5, standardize=False, batch_size=128, max_epochs="auto",
                 early_stopping=False, validation_fraction=0.1, n_iter_no_change=10, criterion=None,
                 criterion_domain=None,
                 device="cpu", data_on_device="auto", distributed=False, precision=None,
                 predict_batch_size=4096, n_threads="auto", warm_start=False, random_state=None,
                 callbacks=None, verbose=0, unlabeled_marker=-1, label_shift=None, label_shift_shrinkage=None,
                 target_entropy=0.0, vat_weight=0.0, vat_radius=None, vat_rows="all", **kwargs):
        super().__init__(
            extractor=extractor, label_head=label_head, domain_head=domain_head, module=module,
            net_class=net_class, adversary=adversary, domain_labels=domain_labels, lambda_max=lambda_max,
            lambda_grid=lambda_grid, lambda_scoring=lambda_scoring, lambda_schedule=lambda_schedule,
            gamma=gamma, warmup=warmup, optimizer=optimizer, lr=lr, lr_schedule=lr_schedule,
            lr_alpha=lr_alpha, lr_beta=lr_beta, domain_lr_factor=domain_lr_factor,
            domain_label_smoothing=domain_label_smoothing, domain_steps=domain_steps,
            averaging=averaging,
            averaging_decay=averaging_decay, averaging_start=averaging_start, standardize=standardize,
            batch_size=batch_size, max_epochs=max_epochs, early_stopping=early_stopping,
            validation_fraction=validation_fraction, n_iter_no_change=n_iter_no_change, criterion=criterion,
            criterion_domain=criterion_domain,
            device=device, data_on_device=data_on_device, distributed=distributed, precision=precision,
            predict_batch_size=predict_batch_size, n_threads=n_threads, warm_start=warm_start,
            random_state=random_state, callbacks=callbacks, verbose=verbose, **kwargs)
        self.unlabeled_marker = unlabeled_marker
        self.label_shift = label_shift
        self.label_shift_shrinkage = label_shift_shrinkage
        self.target_entropy = target_entropy
        self.vat_weight = vat_weight
        self.vat_radius = vat_radius
        self.vat_rows = vat_rows

    @staticmethod
    def _is_classifier() -> bool:
        return True

    def _check_params(self) -> None:
        super()._check_params()
        if self.label_shift is None and self.label_shift_shrinkage is not None:
            warnings.warn("label_shift_shrinkage only acts with label_shift='iwdan'; it is ignored "
                          "with label_shift=None.", UserWarning, stacklevel=3)
        if self.target_entropy and self.lambda_max == 0:
            warnings.warn("target_entropy acts with the λ ramp, so it has no effect with "
                          "lambda_max=0 (source-only training); it is ignored.", UserWarning,
                          stacklevel=3)
        if self.vat_radius is not None and not self.vat_weight:
            warnings.warn("vat_radius only acts with vat_weight > 0; it is ignored with "
                          "vat_weight=0.", UserWarning, stacklevel=3)
        if self.vat_rows != "all" and not self.vat_weight:
            warnings.warn("vat_rows only acts with vat_weight > 0; it is ignored with "
                          "vat_weight=0.", UserWarning, stacklevel=3)
        if self.vat_rows == "target" and self.vat_weight and self.lambda_max == 0:
            warnings.warn("vat_rows='target' ramps VAT with λ, so it has no effect with "
                          "lambda_max=0 (source-only training); it is ignored.", UserWarning,
                          stacklevel=3)

    # ------------------------------------------------------------ labels
    def _marker_repr(self) -> str:
        return repr(self.unlabeled_marker)

    def _check_y(self, y, name: str) -> np.ndarray:
        y = column_or_1d(y, warn=True)
        marker = self.unlabeled_marker
        if (y.dtype.kind in "US" and marker is not None and not isinstance(marker, str)
                and np.any(y == str(marker))):
            raise ValueError(
                f"{name} is an array of strings that contains {str(marker)!r}, while "
                f"unlabeled_marker is the number {marker!r}: numpy turned the marker into a "
                f"string when the labels were stacked, so those rows would train as a class. "
                f"Set unlabeled_marker={str(marker)!r}, or stack the labels in an object array."
            )
        return y

    def _labelled_mask(self, y: np.ndarray) -> np.ndarray:
        return ~marker_mask(y, self.unlabeled_marker)

    def _encode_targets(self, data: FitData, warm: bool, classes) -> list:
        """Set ``classes_`` (on a first fit) and return each block's class codes."""
        y_lab = data.labelled_y()
        check_classification_targets(y_lab)
        seen = np.unique(y_lab)
        if warm:
            unknown = np.setdiff1d(seen, self.classes_)
            if len(unknown):
                raise ValueError(f"Labels {unknown!r} were not seen in the first fit; classes are "
                                 f"{self.classes_!r}.")
        elif classes is not None:
            classes = np.unique(np.asarray(classes))
            unseen = np.setdiff1d(seen, classes)
            if len(unseen):
                raise ValueError(f"y has labels {unseen!r} that are not in classes={classes!r}.")
            self.classes_ = self._check_n_classes(classes, data)
        else:
            self.classes_ = self._check_n_classes(seen, data)
        encoded = []
        for y, labelled in zip(data.y, data.labelled):
            if y is None:
                encoded.append(None)
                continue
            codes = np.zeros(len(y), dtype=np.int64)
            codes[labelled] = np.searchsorted(self.classes_, np.asarray(y)[labelled])
            encoded.append(torch.as_tensor(codes))
        return encoded

    def _check_n_classes(self, classes: np.ndarray, data: FitData) -> np.ndarray:
        if len(classes) >= 2:
            return classes
        marked = sum(int((~m).sum()) for y, m in zip(data.y, data.labelled) if y is not None)
        hint = ""
        if marked and self.unlabeled_marker is not None:
            hint = (f" {marked} row(s) labelled {self.unlabeled_marker!r} were taken as unlabelled "
                    f"target rows (unlabeled_marker={self.unlabeled_marker!r}); if "
                    f"{self.unlabeled_marker!r} is one of your classes, set unlabeled_marker=None "
                    "or another value.")
        raise ValueError(
            f"The labelled rows contain only one class ({classes[0]!r}); a classifier needs at "
            f"least 2 classes.{hint}"
        )

    def _n_outputs(self) -> int:
        return len(self.classes_)

    def _criterion(self):
        return nn.CrossEntropyLoss if self.criterion is None else self.criterion

    def _extra_net_params(self) -> dict:
        shrinkage = self.label_shift_shrinkage
        return {"label_shift": self.label_shift,
                "label_shift_shrinkage": _DEFAULT_SHRINKAGE if shrinkage is None else float(shrinkage),
                "target_entropy": float(self.target_entropy),
                "vat_weight": float(self.vat_weight),
                "vat_radius": _DEFAULT_VAT_RADIUS if self.vat_radius is None else float(self.vat_radius),
                "vat_rows": self.vat_rows}

    # -------------------------------------------------------------- fit
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X: ArrayLike, y: ArrayLike | None = None, X_target: ArrayLike | None = None,
                    classes: ArrayLike | None = None, epochs: int = 1, *,
                    sample_domain: ArrayLike | None = None,
                    sample_weight: ArrayLike | None = None) -> DANNClassifier:
        """Train for ``epochs`` more epochs (initialising the model on the first call).

        The schedules keep counting: progress ``p`` advances by one epoch's
        worth of steps towards ``max_epochs`` epochs per epoch trained, and
        stays at 1 once ``max_epochs`` epochs are done. Classes and features
        must be those of the first call.

        Parameters
        ----------
        X, y, X_target, sample_domain, sample_weight
            As in :meth:`fit`.
        classes : array-like, optional
            All classes, needed on the first call when it does not show
            every class (as in scikit-learn's ``partial_fit``).
        epochs : int, default=1
            Epochs to train in this call (0 builds the network without
            training it).

        Returns
        -------
        self : DANNClassifier
            The estimator.
        """
        epochs = self._check_epochs(epochs)
        return self._fit_with(X, y, X_target, sample_domain, sample_weight,
                              warm=hasattr(self, "net_"), epochs=epochs, classes=classes)

    # -------------------------------------------------------- inference
    def predict_proba(self, X: ArrayLike, sample_domain: ArrayLike | None = None) -> np.ndarray:
        """Class probabilities.

        Parameters
        ----------
        X : array-like
            Rows (or images) of the training shape.
        sample_domain : array-like, optional
            Accepted so that skada's scorers and pipelines can call the
            model; the prediction does not depend on the domain.

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
            Probabilities in the order of ``classes_``; rows sum to 1.
        """
        logits = self._run("predict_outputs", X)
        return torch.softmax(logits.double(), dim=1).numpy()

    def predict_log_proba(self, X: ArrayLike, sample_domain: ArrayLike | None = None) -> np.ndarray:
        """Logarithm of the class probabilities.

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
        logits = self._run("predict_outputs", X)
        return torch.log_softmax(logits.double(), dim=1).numpy()

    def predict(self, X: ArrayLike, sample_domain: ArrayLike | None = None) -> np.ndarray:
        """Predicted class labels.

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
        logits = self._run("predict_outputs", X)
        return self.classes_[logits.argmax(dim=1).numpy()]

    def score(self, X: ArrayLike, y: ArrayLike, sample_weight: ArrayLike | None = None) -> float:
        """Accuracy on labelled rows.

        Parameters
        ----------
        X : array-like
            Rows (or images) of the training shape.
        y : array-like of shape (n_samples,)
            True labels; must not contain ``unlabeled_marker``.
        sample_weight : array-like of shape (n_samples,), optional
            Sample weights.

        Returns
        -------
        float
            Mean accuracy.
        """
        y_arr = np.asarray(y)
        n_marked = int(marker_mask(y_arr.reshape(-1), self.unlabeled_marker).sum()) if y_arr.ndim else 0
        if n_marked:
            raise ValueError(
                f"score: y contains the unlabeled marker {self.unlabeled_marker!r} in {n_marked} "
                "row(s); accuracy needs labelled rows. In GridSearchCV/cross_val_score on stacked "
                "source+target rows, pass scoring= a scorer from skdann.model_selection."
            )
        return super().score(X, y, sample_weight=sample_weight)


DANNClassifier.__doc__ = f"""Domain-adversarial neural network classifier (Ganin et al., JMLR 2016).

    Learns from labelled source rows and unlabelled target rows a classifier
    whose features a domain classifier cannot tell apart, so that it also
    works on the target domain. A feature extractor ``G_f`` feeds a label
    head ``G_y`` and, through a :class:`~skdann.GradientReversal` layer, a
    domain head ``G_d``; one optimizer minimises the label loss plus the
    domain loss while the reversed gradient makes the features
    domain-invariant. Trained through skorch (:class:`skdann.DANNNet`).

    Parameters
    ----------
{SHARED_PARAMETERS}
    unlabeled_marker : int, str or None, default=-1
        Label marking unlabelled target rows in ``fit(X, y)`` (the
        scikit-learn semi-supervised convention). ``None``: no marker.
    label_shift : {{None, "iwdan"}}, default=None
        ``"iwdan"``: class-importance-weighted alignment (Tachet des Combes
        et al., 2020) for targets whose class proportions differ from the
        source's: the source rows of each class weigh ``p_t(y) / p_s(y)`` in
        both losses, with the target proportions estimated from the
        predictions once per epoch (black-box shift estimation). When some
        target rows are labelled, their class frequencies join the estimate
        and take over where they contradict the predictions by more than
        their own sampling noise: predictions misjudge the proportions when
        the classes' features also shift, labels do not (table (d) of
        ``benchmarks/domains.py``).
    label_shift_shrinkage : float in [0, 1] or None, default=None
        With ``label_shift="iwdan"``: shrinks the estimated weights towards 1,
        ``w = 1 + (1 - shrinkage) (w_hat - 1)``, so that a wrong estimate (when
        the classes themselves look different in the target, not only their
        proportions) cannot drop a class from training. ``None``: {_DEFAULT_SHRINKAGE}.
        Set without ``label_shift`` it has no effect and warns.
    target_entropy : float >= 0, default=0.0
        Weight of entropy minimisation on the unlabelled target rows: the mean
        entropy of their predicted class distribution joins the loss, ramped
        with λ (``weight × λ_p / lambda_max``), so the network commits to its
        target predictions (Grandvalet & Bengio 2005; VADA, Shu et al. 2018).
        Off by default: it helps where those predictions are mostly right and
        hardens them where they are not (round 8 of ``benchmarks/ablation.py``).
        With ``lambda_max=0`` it has no effect and warns.
    vat_weight : float >= 0, default=0.0
        Weight of virtual adversarial training (VAT, Miyato et al. 2018; with
        ``target_entropy``, the cluster-assumption terms of VADA, Shu et al.
        2018): each row is moved by ``vat_radius`` times its norm in the
        direction that changes its predicted class distribution most, and the
        divergence between the two predictions joins the loss, so that the
        decision boundary keeps away from dense regions of the data. Labelled
        rows always (so it also changes a ``lambda_max=0`` run); unlabelled
        target rows ramped with λ (``weight × λ_p / lambda_max``). Off by
        default: it solves the rotated moons and lifts the short image
        schedule, and costs the tasks whose classes are not separated by
        low-density gaps at that radius (round 14 of
        ``benchmarks/ablation.py``); two extra forward passes per step.
    vat_radius : float > 0 or None, default=None
        VAT's perturbation radius, relative to each row's norm (after
        ``standardize``; scale tabular features first). ``None``:
        {_DEFAULT_VAT_RADIUS}. Set without ``vat_weight`` it has no effect and warns.
    vat_rows : {{"all", "target"}}, default="all"
        The rows VAT regularises. ``"all"``: the labelled rows always and the
        unlabelled target rows ramped with λ. ``"target"``: the unlabelled
        target rows alone, ramped with λ — the adaptation part of VAT (VADA's
        target term), which leaves a ``lambda_max=0`` run as it is, so the
        gain over source-only is the adaptation's; it solves the moons at 35°
        and loses half the accuracy of sklearn digits → MNIST (round 15 of
        ``benchmarks/ablation.py``). Set without
        ``vat_weight`` it has no effect and warns.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels, sorted.
{SHARED_ATTRIBUTES}

    See Also
    --------
    skdann.DANNRegressor : The same for regression.
    skdann.GradientReversal : The gradient reversal layer.
    skdann.DANNNet : The skorch net with the training steps.

    Notes
    -----
    ``score`` refuses rows carrying the marker; in ``GridSearchCV`` on
    stacked source+target rows pass ``scoring=`` one of the scorers of
    :mod:`skdann.model_selection`.

    References
    ----------
    Y. Ganin, E. Ustinova, H. Ajakan, P. Germain, H. Larochelle, F. Laviolette,
    M. Marchand, V. Lempitsky. Domain-Adversarial Training of Neural Networks.
    JMLR 17(59):1-35, 2016.

    Examples
    --------
    >>> from skdann import DANNClassifier
    >>> from skdann.datasets import make_domain_moons
    >>> Xs, ys, Xt, yt = make_domain_moons(angle=35, random_state=0)
    >>> clf = DANNClassifier(max_epochs=5, random_state=0).fit(Xs, ys, Xt)
    >>> clf.predict(Xt[:3]).shape
    (3,)
    """
