"""DANNClassifier: domain-adversarial training as a scikit-learn classifier."""

from __future__ import annotations

import contextlib
import copy
import inspect
import math
import numbers
import warnings

import numpy as np
import torch
from numpy.typing import ArrayLike
from sklearn.base import (
    BaseEstimator,
    ClassifierMixin,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
)
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data
from torch import nn

from ._data import DomainData, SparseRows, as_tensor
from ._device import resolve_device
from ._net import DANNNet
from ._network import CNNExtractor, DANNModule, DomainHead, LabelHead, MLPExtractor
from ._schedules import resolve_lambda_schedule, resolve_lr_schedule
from ._validation import (
    check_images,
    check_labels,
    check_rank,
    check_separate,
    is_image_input,
    marker_mask,
    split_marked,
)
from .exceptions import NoTargetDataWarning

__all__ = ["DANNClassifier"]

_ROUTED_PREFIXES = ("extractor__", "label_head__", "domain_head__", "optimizer__",
                    "callbacks__", "criterion__")
_OPTIMIZERS = {
    "adam": (torch.optim.Adam, {}),
    "adamw": (torch.optim.AdamW, {}),
    "sgd": (torch.optim.SGD, {"momentum": 0.9}),  # the paper's momentum
    "rmsprop": (torch.optim.RMSprop, {}),
}


@contextlib.contextmanager
def _torch_threads(n_threads):
    if n_threads is None:
        yield
        return
    previous = torch.get_num_threads()
    torch.set_num_threads(int(n_threads))
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def _build_part(spec, user_kwargs: dict, auto_kwargs: dict, name: str) -> nn.Module:
    """Instantiate a network part from an instance, a class or a factory."""
    if isinstance(spec, nn.Module):
        if user_kwargs:
            raise ValueError(
                f"{name}__* parameters ({sorted(user_kwargs)}) were given but {name} is a module "
                f"instance; pass its class instead so the parameters can be applied."
            )
        # A copy, so that fitting never mutates the parameter (sklearn contract)
        # and every fit starts from the instance's initial weights.
        return copy.deepcopy(spec)
    if not callable(spec):
        raise TypeError(f"{name} must be None, an nn.Module instance or class, got {spec!r}.")
    try:
        params = inspect.signature(spec).parameters
    except (TypeError, ValueError):
        params = {}
    kwargs = {k: v for k, v in auto_kwargs.items() if k in params}
    kwargs.update(user_kwargs)
    part = spec(**kwargs)
    if not isinstance(part, nn.Module):
        raise TypeError(f"{name} must build a torch.nn.Module, got {type(part).__name__}.")
    return part


class DANNClassifier(ClassNamePrefixFeaturesOutMixin, ClassifierMixin, TransformerMixin,
                     BaseEstimator):
    """Domain-adversarial neural network classifier (Ganin et al., JMLR 2016).

    Learns from labelled source rows and unlabelled target rows a classifier
    whose features a domain classifier cannot tell apart, so that it also
    works on the target domain. A feature extractor ``G_f`` feeds a label
    head ``G_y`` and, through a :class:`~skdann.GradientReversal` layer, a
    domain head ``G_d``; one optimizer minimises the label loss plus the
    domain loss while the reversed gradient makes the features
    domain-invariant. Trained through skorch (:class:`skdann.DANNNet`).

    Parameters
    ----------
    extractor : nn.Module instance or class, default=None
        Feature extractor. ``None``: :class:`~skdann.MLPExtractor` for 2-D
        input, :class:`~skdann.CNNExtractor` for images. A class is built with
        the ``extractor__*`` parameters, plus ``n_features``/``in_features``
        (tabular) or ``input_shape``/``in_channels`` (images) when its
        signature has them. An instance is copied, never modified.
    label_head : nn.Module instance or class, default=None
        Label predictor, one logit per class. ``None``:
        :class:`~skdann.LabelHead` (``hidden_sizes=(100, 100)`` for images, as
        in the paper). Classes receive ``in_features`` and ``n_classes``.
    domain_head : nn.Module instance or class, default=None
        Domain classifier ending in ONE logit. ``None``:
        :class:`~skdann.DomainHead`. Classes receive ``in_features``.
    lambda_max : float, default=1.0
        Adversarial weight λ reached at the end of training. ``0`` is exactly
        source-only training of the same network (the domain head still
        trains, as a diagnostic).
    lambda_schedule : {"ganin", "constant"} or callable, default="ganin"
        ``"ganin"``: λ_p = lambda_max · (2 / (1 + exp(-gamma·p)) - 1), p the
        training progress in [0, 1], advanced every step. A callable maps p
        to a factor of ``lambda_max``.
    gamma : float, default=10.0
        Steepness of the ``"ganin"`` λ schedule.
    optimizer : {"adam", "adamw", "sgd", "rmsprop"} or torch optimizer class, default="adam"
        ``"sgd"`` means SGD with the paper's momentum 0.9. Options go in
        ``optimizer__*`` (e.g. ``optimizer__weight_decay=1e-4``).
    lr : float, default=3e-3
        Initial learning rate μ0 (annealed by ``lr_schedule``).
    lr_schedule : {"ganin"}, None or callable, default="ganin"
        ``"ganin"``: lr_p = lr / (1 + lr_alpha·p) ** lr_beta; ``None``:
        constant; a callable maps p to a factor of ``lr``.
    lr_alpha, lr_beta : float, default=10.0, 0.75
        Constants of the ``"ganin"`` learning-rate schedule.
    batch_size : int, default=128
        Rows per domain per step: each step sees ``batch_size`` source and
        ``batch_size`` target rows (fewer if the source is smaller).
    max_epochs : int or "auto", default="auto"
        Epochs; an epoch is one pass over the source rows (target rows are
        cycled and reshuffled). ``"auto"``: enough epochs for about
        ``AUTO_STEPS`` (2,000) optimisation steps, at least 10 and at most
        500, since the schedules (and DANN's adversarial game) need steps
        rather than passes: 500 epochs for 300 rows, 16 for 16,000 rows at
        ``batch_size=128``. The value used is ``max_epochs_``.
    unlabeled_marker : int, str or None, default=-1
        Label marking unlabelled target rows in ``fit(X, y)`` (the
        scikit-learn semi-supervised convention). ``None``: no marker.
    device : str, default="cpu"
        ``"cpu"``, ``"cuda"``, ``"cuda:N"``, ``"mps"`` or ``"auto"`` (CUDA,
        then MPS, then CPU). An unavailable device is an error before training.
    data_on_device : {"auto", True, False}, default="auto"
        Move the training data to the device once (``"auto"``: when it takes
        under half of the free device memory); otherwise batches are streamed
        from pinned host memory.
    precision : {None, "bf16", "fp16"}, default=None
        Mixed-precision autocast for forward passes ("fp16" adds a gradient
        scaler on CUDA).
    predict_batch_size : int, default=4096
        Rows per batch in ``predict``, ``predict_proba``, ``transform`` and
        ``predict_domain_proba``; bounds their memory.
    n_threads : int or None, default=None
        Torch CPU threads during ``fit`` and prediction (restored afterwards);
        ``None`` leaves torch's setting. Small networks often train faster
        with 1 thread.
    warm_start : bool, default=False
        If True, ``fit`` continues training the fitted network for
        ``max_epochs`` more epochs; the schedules continue from where they
        were (progress keeps counting towards ``max_epochs`` epochs and stays
        at its end value afterwards). See also :meth:`partial_fit`.
    random_state : int, RandomState instance or None, default=None
        Seeds weight initialisation, batch order and dropout. An int gives
        bit-identical models on the CPU.
    callbacks : list of skorch callbacks or (name, callback) tuples, default=None
        Added to the net's callbacks; ``callbacks__*`` parameters route to them.
    verbose : int, default=0
        ``0`` prints nothing; ``1`` prints a table row per epoch (label loss,
        domain loss, domain accuracy, λ, lr); ``2`` also shows a progress bar.
    **kwargs
        Prefixed parameters routed like skorch's: ``extractor__*``,
        ``label_head__*``, ``domain_head__*``, ``optimizer__*``,
        ``callbacks__*``, ``criterion__*``.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels, sorted.
    n_features_in_ : int
        Number of features (for images: C·H·W values per image).
    feature_names_in_ : ndarray of str
        Column names, when ``X`` was a DataFrame with string column names.
    input_shape_ : tuple of int or None
        ``(C, H, W)`` for image input, ``None`` for tabular input.
    net_ : DANNNet
        The fitted skorch net (``net_.module_`` is the :class:`DANNModule`).
    history_ : skorch.History
        Per-epoch ``train_loss``, ``label_loss``, ``domain_loss``,
        ``domain_acc``, ``lambda``, ``lr``, ``dur``.
    device_ : torch.device
        Device the model lives on.
    n_source_, n_target_ : int
        Number of source and target rows seen by the last fit.
    max_epochs_ : int
        Epochs of the schedules' horizon (``max_epochs`` resolved).

    See Also
    --------
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

    #: Optimisation steps that ``max_epochs="auto"`` aims for.
    AUTO_STEPS = 2000

    def __init__(self, *, extractor=None, label_head=None, domain_head=None,
                 lambda_max=1.0, lambda_schedule="ganin", gamma=10.0,
                 optimizer="adam", lr=3e-3, lr_schedule="ganin", lr_alpha=10.0, lr_beta=0.75,
                 batch_size=128, max_epochs="auto", unlabeled_marker=-1, device="cpu",
                 data_on_device="auto", precision=None, predict_batch_size=4096,
                 n_threads=None, warm_start=False, random_state=None, callbacks=None,
                 verbose=0, **kwargs):
        self.extractor = extractor
        self.label_head = label_head
        self.domain_head = domain_head
        self.lambda_max = lambda_max
        self.lambda_schedule = lambda_schedule
        self.gamma = gamma
        self.optimizer = optimizer
        self.lr = lr
        self.lr_schedule = lr_schedule
        self.lr_alpha = lr_alpha
        self.lr_beta = lr_beta
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.unlabeled_marker = unlabeled_marker
        self.device = device
        self.data_on_device = data_on_device
        self.precision = precision
        self.predict_batch_size = predict_batch_size
        self.n_threads = n_threads
        self.warm_start = warm_start
        self.random_state = random_state
        self.callbacks = callbacks
        self.verbose = verbose
        # Stored verbatim; unknown names are reported by fit (sklearn contract).
        vars(self).update(kwargs)

    # ------------------------------------------------------------- parameters
    def _routed(self) -> dict:
        return {k: v for k, v in vars(self).items() if k.startswith(_ROUTED_PREFIXES)}

    def _routed_for(self, prefix: str) -> dict:
        start = prefix + "__"
        return {k[len(start):]: v for k, v in self._routed().items() if k.startswith(start)}

    def get_params(self, deep: bool = True) -> dict:
        """Get parameters, including routed ``prefix__name`` parameters.

        Parameters
        ----------
        deep : bool, default=True
            Also return parameters of nested estimators.

        Returns
        -------
        dict
            Parameter names mapped to their values.
        """
        params = super().get_params(deep=deep)
        params.update(self._routed())
        return params

    def set_params(self, **params) -> DANNClassifier:
        """Set parameters, including routed ``prefix__name`` parameters.

        Parameters
        ----------
        **params : dict
            Parameter names mapped to new values.

        Returns
        -------
        self : DANNClassifier
            This estimator.
        """
        names = set(self._get_param_names())
        # Routed names are stored like in __init__; so are plain unknown
        # names, which fit() then reports (as it does for __init__).
        routed = {k: v for k, v in params.items()
                  if k.startswith(_ROUTED_PREFIXES) or ("__" not in k and k not in names)}
        for key, value in routed.items():
            setattr(self, key, value)
        rest = {k: v for k, v in params.items() if k not in routed}
        if rest:
            super().set_params(**rest)
        return self

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.input_tags.allow_nan = False
        # Features come out as float32, whatever the input dtype.
        tags.transformer_tags.preserves_dtype = ["float32"]
        return tags

    def _check_params(self) -> None:
        def real(name, low, strict=False):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, numbers.Real) or not np.isfinite(v) \
                    or (v <= low if strict else v < low):
                op = ">" if strict else ">="
                raise ValueError(f"{name} must be a finite number {op} {low}, got {v!r}.")

        def integer(name, low, allow_none=False):
            v = getattr(self, name)
            if allow_none and v is None:
                return
            if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < low:
                raise ValueError(f"{name} must be an integer >= {low}, got {v!r}.")

        names = set(self._get_param_names())
        unknown = [k for k in vars(self) if not k.endswith("_") and not k.startswith("_")
                   and k not in names and not k.startswith(_ROUTED_PREFIXES)]
        if unknown:
            raise TypeError(
                f"DANNClassifier got unexpected parameter(s) {unknown}; routed parameters start "
                f"with one of {', '.join(_ROUTED_PREFIXES)}."
            )
        real("lambda_max", 0)
        real("gamma", 0)
        real("lr", 0, strict=True)
        real("lr_alpha", 0)
        real("lr_beta", 0)
        integer("batch_size", 1)
        if self.max_epochs != "auto":
            integer("max_epochs", 1)
        integer("predict_batch_size", 1)
        integer("n_threads", 1, allow_none=True)
        integer("verbose", 0)
        resolve_lambda_schedule(self.lambda_schedule, 1.0)
        resolve_lr_schedule(self.lr_schedule, 1.0, 1.0)
        if self.precision not in (None, "bf16", "fp16"):
            raise ValueError(f"precision must be None, 'bf16' or 'fp16', got {self.precision!r}.")
        if self.data_on_device not in ("auto", True, False):
            raise ValueError(f"data_on_device must be 'auto', True or False, got {self.data_on_device!r}.")
        if self.callbacks is not None and not isinstance(self.callbacks, (list, tuple)):
            raise TypeError(f"callbacks must be None or a list of skorch callbacks, got {self.callbacks!r}.")
        self._optimizer_spec()

    def _optimizer_spec(self):
        opt = self.optimizer
        if isinstance(opt, str):
            try:
                cls, defaults = _OPTIMIZERS[opt.lower()]
            except KeyError:
                raise ValueError(
                    f"optimizer must be one of {sorted(_OPTIMIZERS)} or a torch optimizer class, "
                    f"got {opt!r}."
                ) from None
            return cls, dict(defaults)
        if isinstance(opt, type) and issubclass(opt, torch.optim.Optimizer):
            return opt, {}
        if callable(opt):
            return opt, {}
        raise TypeError(f"optimizer must be a string or a torch optimizer class, got {opt!r}.")

    # -------------------------------------------------------------------- fit
    def fit(self, X: ArrayLike, y: ArrayLike | None = None,
            X_target: ArrayLike | None = None) -> DANNClassifier:
        """Fit on labelled source rows and unlabelled target rows.

        Two equivalent forms:

        - ``fit(X_source, y_source, X_target)``;
        - ``fit(X, y)``, where rows whose label equals ``unlabeled_marker``
          are unlabelled target rows (works through a ``Pipeline``).

        Without target rows, a :class:`~skdann.exceptions.NoTargetDataWarning`
        is issued and the model is trained on the source alone.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or image array
            Source rows (with ``X_target``), or source and target rows
            stacked. Images: ``(n, H, W)`` or ``(n, C, H, W)``, uint8 or float.
        y : array-like of shape (n_samples,)
            Class labels; in the stacked form, target rows carry
            ``unlabeled_marker``.
        X_target : array-like, optional
            Unlabelled target rows, same features as ``X``.

        Returns
        -------
        self : DANNClassifier
            The fitted estimator.
        """
        self._check_params()
        device = resolve_device(self.device)
        warm = bool(self.warm_start) and hasattr(self, "net_")
        with self._restored_on_error():
            fit_input = self._validate_fit_input(X, y, X_target, warm)
            return self._fit(fit_input, device, warm, epochs=None)

    def partial_fit(self, X: ArrayLike, y: ArrayLike | None = None,
                    X_target: ArrayLike | None = None, classes: ArrayLike | None = None,
                    epochs: int = 1) -> DANNClassifier:
        """Train for ``epochs`` more epochs (initialising the model on the first call).

        The schedules keep counting: progress ``p`` advances by one epoch's
        worth of steps towards ``max_epochs`` epochs per epoch trained, and
        stays at 1 once ``max_epochs`` epochs are done. Classes and features
        must be those of the first call.

        Parameters
        ----------
        X, y, X_target
            As in :meth:`fit`.
        classes : array-like, optional
            All classes, needed on the first call when it does not show
            every class (as in scikit-learn's ``partial_fit``).
        epochs : int, default=1
            Epochs to train in this call.

        Returns
        -------
        self : DANNClassifier
            The estimator.
        """
        self._check_params()
        device = resolve_device(self.device)
        warm = hasattr(self, "net_")
        with self._restored_on_error():
            fit_input = self._validate_fit_input(X, y, X_target, warm, classes=classes)
            return self._fit(fit_input, device, warm, epochs=int(epochs))

    @contextlib.contextmanager
    def _restored_on_error(self):
        """Leave the fitted attributes as they were if fitting raises.

        A failed fit (bad input, a raising callback, divergence) must not
        leave new ``classes_`` next to an old network. A warm-started network
        keeps the steps it took before the error, as after an interrupt.
        """
        def fitted(key):
            return (key.endswith("_") and not key.startswith("__")) or key == "_n_features_out"

        saved = {k: v for k, v in vars(self).items() if fitted(k)}
        try:
            yield
        except BaseException:
            for key in [k for k in vars(self) if fitted(k) and k not in saved]:
                delattr(self, key)
            vars(self).update(saved)
            raise

    def _validate_fit_input(self, X, y, X_target, warm, classes=None):
        check_rank(X, "X")
        image = is_image_input(X)
        if warm and (self.input_shape_ is not None) != image:
            raise ValueError("Continuing training needs inputs of the kind (tabular or images) "
                             "seen before.")
        if X_target is None:
            fit_input = split_marked(self, X, y, self.unlabeled_marker, image, reset=not warm)
        else:
            fit_input = check_separate(self, X, y, X_target, self.unlabeled_marker, image,
                                       reset=not warm)
        if classes is not None and not warm:
            classes = check_labels(np.asarray(classes))
            unseen = np.setdiff1d(np.unique(fit_input.y_source), classes)
            if len(unseen):
                raise ValueError(f"y has labels {unseen!r} that are not in classes={classes!r}.")
        elif warm:
            # Continuing: a batch may hold a single class (sklearn's partial_fit).
            check_classification_targets(fit_input.y_source)
            classes = np.unique(fit_input.y_source)
        else:
            classes = check_labels(fit_input.y_source)
        shape = tuple(fit_input.X_source.shape[1:]) if image else None
        if warm:
            if shape != self.input_shape_:
                raise ValueError(
                    f"Continuing training needs images of shape {self.input_shape_}, got {shape}."
                )
            unknown = np.setdiff1d(classes, self.classes_)
            if len(unknown):
                raise ValueError(f"Labels {unknown!r} were not seen in the first fit; classes are "
                                 f"{self.classes_!r}.")
        else:
            self.classes_ = classes
            self.input_shape_ = shape
            if image:
                self.n_features_in_ = int(np.prod(shape))
        if fit_input.X_target is None:
            warnings.warn(
                "y contains no unlabeled samples (no rows marked "
                f"{self.unlabeled_marker!r}) and no X_target was given: there is nothing to "
                "adapt to, so the model is trained on the source rows alone.",
                NoTargetDataWarning, stacklevel=3,
            )
        return fit_input

    def _make_data(self, fit_input) -> DomainData:
        codes = np.searchsorted(self.classes_, fit_input.y_source)
        y = torch.as_tensor(codes, dtype=torch.int64)
        src = as_tensor(fit_input.X_source)
        if fit_input.X_target is None:
            return DomainData(src, y, None, _rows(fit_input.source_rows), None)
        tgt = src if fit_input.X_target is fit_input.X_source else as_tensor(fit_input.X_target)
        return DomainData(src, y, tgt, _rows(fit_input.source_rows), _rows(fit_input.target_rows))

    def _build_module(self, data: DomainData) -> DANNModule:
        image = self.input_shape_ is not None
        if image:
            auto = {"input_shape": self.input_shape_, "in_channels": self.input_shape_[0]}
            default_extractor, label_defaults = CNNExtractor, {"hidden_sizes": (100, 100)}
            domain_defaults = {"hidden_sizes": (100,)}
        else:
            n = self.n_features_in_
            auto = {"n_features": n, "in_features": n}
            default_extractor, label_defaults, domain_defaults = MLPExtractor, {}, {}
        extractor = _build_part(default_extractor if self.extractor is None else self.extractor,
                                self._routed_for("extractor"), auto, "extractor")
        n_out = getattr(extractor, "out_features", None)
        if not isinstance(n_out, numbers.Integral):
            n_out = self._probe_features(extractor, data)
        self._n_features_out = int(n_out)
        head_auto = {"in_features": int(n_out), "n_classes": len(self.classes_)}
        # Image defaults apply to the default heads only; routed values win.
        label_kwargs = {**(label_defaults if self.label_head is None else {}),
                        **self._routed_for("label_head")}
        domain_kwargs = {**(domain_defaults if self.domain_head is None else {}),
                         **self._routed_for("domain_head")}
        label_head = _build_part(LabelHead if self.label_head is None else self.label_head,
                                 label_kwargs, head_auto, "label_head")
        domain_head = _build_part(DomainHead if self.domain_head is None else self.domain_head,
                                  domain_kwargs, head_auto, "domain_head")
        return DANNModule(extractor, label_head, domain_head)

    @staticmethod
    def _probe_features(extractor: nn.Module, data: DomainData) -> int:
        index = torch.arange(2) if data.source_rows is None else data.source_rows[:2]
        x = data.source.index_select(0, index[: data.n_source]).to(torch.float32)
        if data.source.dtype == torch.uint8:
            x = x / 255.0
        was_training = extractor.training
        extractor.eval()
        with torch.no_grad():
            z = extractor(x)
        extractor.train(was_training)
        return int(np.prod(z.shape[1:]))

    def _net_kwargs(self, device: torch.device, seed: int) -> dict:
        opt_cls, opt_defaults = self._optimizer_spec()
        kwargs = {f"optimizer__{k}": v for k, v in opt_defaults.items()}
        for prefix in ("optimizer", "callbacks", "criterion"):
            kwargs.update({f"{prefix}__{k}": v for k, v in self._routed_for(prefix).items()})
        callbacks = list(self.callbacks or [])
        return dict(
            optimizer=opt_cls, lr=self.lr, max_epochs=self.max_epochs_, device=str(device),
            callbacks=callbacks, verbose=int(self.verbose), seed=seed, **self._schedule_params(),
            **kwargs,
        )

    def _schedule_params(self) -> dict:
        """The net's parameters that a warm-started fit may change."""
        return dict(
            batch_size=self.batch_size, lambda_max=float(self.lambda_max),
            lambda_schedule=self.lambda_schedule, gamma=float(self.gamma),
            lr_schedule=self.lr_schedule, lr_alpha=float(self.lr_alpha),
            lr_beta=float(self.lr_beta), precision=self.precision,
        )

    def _data_on_device(self, data: DomainData, device: torch.device) -> bool:
        if isinstance(data.source, SparseRows):
            return device.type == "cpu"  # sparse rows are densified per batch on the host
        if self.data_on_device != "auto":
            return bool(self.data_on_device)
        if device.type != "cuda":
            return True
        free, _ = torch.cuda.mem_get_info(device)
        # float64 inputs are stored as float32 on the device.
        return data.nbytes() < 0.5 * free

    def _resolve_max_epochs(self, n_source: int) -> int:
        if self.max_epochs != "auto":
            return int(self.max_epochs)
        steps_per_epoch = math.ceil(n_source / min(self.batch_size, n_source))
        return int(min(max(math.ceil(self.AUTO_STEPS / steps_per_epoch), 10), 500))

    def _fit(self, fit_input, device: torch.device, warm: bool, epochs):
        data = self._make_data(fit_input)
        if not warm:
            self.max_epochs_ = self._resolve_max_epochs(data.n_source)
        rng = check_random_state(self.random_state)
        seed = int(rng.randint(np.iinfo(np.int32).max - 1))
        fork = [device.index] if device.type == "cuda" else []
        with _torch_threads(self.n_threads), torch.random.fork_rng(devices=fork):
            torch.manual_seed(seed)
            if warm:
                net = self.net_
                # Schedule and batching parameters may change between calls; the
                # optimizer (and its state, e.g. Adam's moments) carries on.
                for key, value in self._schedule_params().items():
                    setattr(net, key, value)
                verbose_changed = net.verbose != int(self.verbose)
                net.set_params(max_epochs=self.max_epochs_, verbose=int(self.verbose))
                if verbose_changed:  # the table and bar are chosen by verbose
                    net.initialize_callbacks()
            else:
                module = self._build_module(data)
                net = DANNNet(module, **self._net_kwargs(device, seed))
                net.initialize()
            # DANNNet.fit_loop moves the data once when data_on_device is set.
            net.data_on_device = self._data_on_device(data, device)
            # skorch's partial_fit: on_train_begin, fit_loop, and a
            # KeyboardInterrupt keeps the epochs done so far.
            net.partial_fit(data, epochs=epochs)
        self.net_ = net
        self.device_ = device
        self.n_source_, self.n_target_ = data.n_source, data.n_target
        return self

    # ------------------------------------------------------------- inference
    @property
    def history_(self):
        """Per-epoch training history (a ``skorch.History``)."""
        check_is_fitted(self)
        return self.net_.history

    def _inference_tensor(self, X) -> torch.Tensor:
        check_is_fitted(self)
        check_rank(X, "X")
        if self.input_shape_ is not None:
            if not is_image_input(X):
                raise ValueError(
                    f"This model was fitted on images of shape {self.input_shape_} (C, H, W); "
                    f"got input of shape {np.shape(X)}."
                )
            X = check_images(X)
            if tuple(X.shape[1:]) != self.input_shape_:
                raise ValueError(
                    f"X has images of shape {tuple(X.shape[1:])} but the model was fitted on "
                    f"{self.input_shape_} (C, H, W)."
                )
        else:
            if is_image_input(X):
                raise ValueError(
                    f"This model was fitted on tabular data with {self.n_features_in_} features; "
                    f"got an array of shape {np.shape(X)}."
                )
            X = validate_data(self, X, reset=False, accept_sparse="csr",
                              dtype=[np.float32, np.float64], ensure_all_finite=True)
        return as_tensor(X)

    def _run(self, method: str, X) -> torch.Tensor:
        X = self._inference_tensor(X)
        with _torch_threads(self.n_threads):
            return getattr(self.net_, method)(X, self.predict_batch_size)

    def predict_proba(self, X: ArrayLike) -> np.ndarray:
        """Class probabilities.

        Parameters
        ----------
        X : array-like
            Rows (or images) of the training shape.

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
            Probabilities in the order of ``classes_``; rows sum to 1.
        """
        logits = self._run("predict_logits", X)
        return torch.softmax(logits.double(), dim=1).numpy()

    def predict_log_proba(self, X: ArrayLike) -> np.ndarray:
        """Logarithm of the class probabilities.

        Parameters
        ----------
        X : array-like
            Rows (or images) of the training shape.

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
            Log-probabilities in the order of ``classes_``.
        """
        logits = self._run("predict_logits", X)
        return torch.log_softmax(logits.double(), dim=1).numpy()

    def predict(self, X: ArrayLike) -> np.ndarray:
        """Predicted class labels.

        Parameters
        ----------
        X : array-like
            Rows (or images) of the training shape.

        Returns
        -------
        ndarray of shape (n_samples,)
            Labels from ``classes_``.
        """
        logits = self._run("predict_logits", X)
        return self.classes_[logits.argmax(dim=1).numpy()]

    def transform(self, X: ArrayLike) -> np.ndarray:
        """Features of the extractor ``G_f``.

        Parameters
        ----------
        X : array-like
            Rows (or images) of the training shape.

        Returns
        -------
        ndarray of shape (n_samples, n_features_out)
            float32 features.
        """
        return self._run("features", X).numpy()

    def predict_domain_proba(self, X: ArrayLike) -> np.ndarray:
        """Probability, by the domain head, that each row comes from the target domain.

        Parameters
        ----------
        X : array-like
            Rows (or images) of the training shape.

        Returns
        -------
        ndarray of shape (n_samples,)
            Values near 0.5 on both domains mean aligned features.
        """
        return torch.sigmoid(self._run("domain_logits", X).double()).numpy()

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

    def __setstate__(self, state):
        super().__setstate__(state)
        net = self.__dict__.get("net_")
        if net is not None:
            # skorch maps a CUDA-trained net to the CPU when CUDA is absent.
            self.device_ = torch.device(net.device)


def _rows(rows):
    return None if rows is None else torch.as_tensor(rows, dtype=torch.int64)
