"""DANNRegressor: domain-adversarial training as a scikit-learn regressor."""

from __future__ import annotations

import numpy as np
import torch
from numpy.typing import ArrayLike
from sklearn.base import RegressorMixin, _fit_context
from sklearn.utils import check_array
from torch import nn

from ._base import SHARED_ATTRIBUTES, SHARED_PARAMETERS, BaseDANN
from ._input import FitData

__all__ = ["DANNRegressor"]


class DANNRegressor(RegressorMixin, BaseDANN):
    __doc__ = None  # set below, from the shared parameter documentation

    __metadata_request__predict = {"sample_domain": True}

    _parameter_constraints: dict = {**BaseDANN._parameter_constraints, "scale_y": ["boolean"]}

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
                 callbacks=None, verbose=0, scale_y=True, **kwargs):
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
        self.scale_y = scale_y

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    # ------------------------------------------------------------ labels
    def _marker_repr(self) -> str:
        return "NaN"

    def _check_y(self, y, name: str) -> np.ndarray:
        y = check_array(y, ensure_2d=False, dtype=np.float64, ensure_all_finite="allow-nan",
                        input_name=name)
        if y.ndim not in (1, 2):
            raise ValueError(f"{name} must be 1-D (one target) or 2-D (several targets); got shape "
                             f"{y.shape}.")
        if y.ndim == 2:
            rows = np.isnan(y)
            partial = rows.any(axis=1) & ~rows.all(axis=1)
            if partial.any():
                raise ValueError(
                    f"{name} has {int(partial.sum())} row(s) where only some targets are NaN; a "
                    "row is either labelled (every target given) or unlabelled (every target NaN)."
                )
        return y

    def _labelled_mask(self, y: np.ndarray) -> np.ndarray:
        nan = np.isnan(y)
        return ~(nan.all(axis=1) if y.ndim == 2 else nan)

    def _encode_targets(self, data: FitData, warm: bool, classes) -> list:
        """Set the target scaling (on a first fit) and return each block's scaled targets."""
        y_lab = data.labelled_y()
        n_targets = 1 if y_lab.ndim == 1 else y_lab.shape[1]
        if warm:
            if n_targets != self.n_targets_:
                raise ValueError(f"Continuing training needs {self.n_targets_} target(s), got "
                                 f"{n_targets}.")
        else:
            self.n_targets_ = n_targets
            self._y_ndim_ = y_lab.ndim
            y2 = y_lab.reshape(len(y_lab), -1)
            if self.scale_y:
                self.y_mean_, self.y_scale_ = y2.mean(axis=0), y2.std(axis=0)
                self.y_scale_ = np.where(self.y_scale_ > 0, self.y_scale_, 1.0)
            else:
                self.y_mean_, self.y_scale_ = np.zeros(n_targets), np.ones(n_targets)
        encoded = []
        for y, labelled in zip(data.y, data.labelled):
            if y is None:
                encoded.append(None)
                continue
            y2 = np.asarray(y, dtype=np.float64).reshape(len(y), -1)
            scaled = np.where(labelled[:, None], (y2 - self.y_mean_) / self.y_scale_, 0.0)
            encoded.append(torch.as_tensor(scaled, dtype=torch.float32))
        return encoded

    def _n_outputs(self) -> int:
        return self.n_targets_

    def _criterion(self):
        return nn.MSELoss if self.criterion is None else self.criterion

    # -------------------------------------------------------------- fit
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X: ArrayLike, y: ArrayLike | None = None, X_target: ArrayLike | None = None,
                    epochs: int = 1, *, sample_domain: ArrayLike | None = None,
                    sample_weight: ArrayLike | None = None) -> DANNRegressor:
        """Train for ``epochs`` more epochs (initialising the model on the first call).

        Parameters
        ----------
        X, y, X_target, sample_domain, sample_weight
            As in :meth:`fit`.
        epochs : int, default=1
            Epochs to train in this call (0 builds the network without
            training it).

        Returns
        -------
        self : DANNRegressor
            The estimator.
        """
        epochs = self._check_epochs(epochs)
        return self._fit_with(X, y, X_target, sample_domain, sample_weight,
                              warm=hasattr(self, "net_"), epochs=epochs)

    # -------------------------------------------------------- inference
    def predict(self, X: ArrayLike, sample_domain: ArrayLike | None = None) -> np.ndarray:
        """Predicted targets.

        Parameters
        ----------
        X : array-like
            Rows (or images) of the training shape.
        sample_domain : array-like, optional
            Accepted so that skada's scorers and pipelines can call the
            model; the prediction does not depend on the domain.

        Returns
        -------
        ndarray of shape (n_samples,) or (n_samples, n_targets)
            Predictions, shaped like the ``y`` of ``fit``.
        """
        out = self._run("predict_outputs", X).double().numpy()
        out = out * self.y_scale_ + self.y_mean_
        return out.ravel() if self._y_ndim_ == 1 else out

    def score(self, X: ArrayLike, y: ArrayLike, sample_weight: ArrayLike | None = None) -> float:
        """Coefficient of determination R² on labelled rows.

        Parameters
        ----------
        X : array-like
            Rows (or images) of the training shape.
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
            True targets; must not contain NaN (the unlabelled marker).
        sample_weight : array-like of shape (n_samples,), optional
            Sample weights.

        Returns
        -------
        float
            R².
        """
        if np.isnan(np.asarray(y, dtype=np.float64)).any():
            raise ValueError(
                "score: y contains NaN, the marker of unlabelled rows; R² needs labelled rows. "
                "In GridSearchCV/cross_val_score on stacked source+target rows, pass scoring= a "
                "scorer from skdann.model_selection."
            )
        return super().score(X, y, sample_weight=sample_weight)


DANNRegressor.__doc__ = f"""Domain-adversarial neural network regressor (Ganin et al., JMLR 2016).

    DANN for a continuous target: the label head predicts one value per
    target, trained with the mean squared error (or any per-row torch loss
    given as ``criterion``) on the labelled rows, while the domain head and
    the gradient reversal layer align the features of the domains. In the
    stacked form ``fit(X, y)``, unlabelled target rows carry ``NaN`` in ``y``.

    Parameters
    ----------
{SHARED_PARAMETERS}
    scale_y : bool, default=True
        Standardise the targets (mean and scale of the labelled rows) for
        training, and map predictions back; the loss is then on a scale
        the learning rate suits, whatever the units of ``y``.

    Attributes
    ----------
    n_targets_ : int
        Number of regression targets.
    y_mean_, y_scale_ : ndarray of shape (n_targets,)
        The target scaling (zeros and ones without ``scale_y``).
{SHARED_ATTRIBUTES}

    See Also
    --------
    skdann.DANNClassifier : The same for classification.

    Examples
    --------
    >>> import numpy as np
    >>> from skdann import DANNRegressor
    >>> rng = np.random.RandomState(0)
    >>> Xs, Xt = rng.normal(size=(100, 3)), rng.normal(1.0, size=(80, 3))
    >>> ys = Xs @ [1.0, -2.0, 0.5]
    >>> reg = DANNRegressor(max_epochs=5, random_state=0).fit(Xs, ys, Xt)
    >>> reg.predict(Xt[:2]).shape
    (2,)
    """
