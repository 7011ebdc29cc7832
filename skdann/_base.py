"""BaseDANN: the scikit-learn contract shared by the DANN estimators.

Parameters and their validation (scikit-learn's ``_parameter_constraints``),
routing of prefixed parameters to the net (the prefixes come from the net
class), the ``fit``/``partial_fit`` template with rollback on error and warm
start, prediction plumbing, ``transform`` and ``predict_domain_proba``. The
subclasses add only what differs: the labels (classes and probabilities,
or regression targets) and the default loss.
"""

from __future__ import annotations

import contextlib
import copy
import difflib
import math
import numbers
import warnings

import numpy as np
import torch
from numpy.typing import ArrayLike
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin, _fit_context
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted
from torch import nn

from ._adversary import Adversary
from ._batching import DomainData, Group, as_tensor, input_statistics, is_memory_mapped
from ._device import resolve_device
from ._input import FitData, check_inference_input, validate_fit
from ._net import DANNNet, _rank_and_world
from ._schedules import resolve_lambda_schedule, resolve_lr_schedule

__all__ = ["BaseDANN"]

_OPTIMIZERS = {
    "adam": (torch.optim.Adam, {}),
    "adamw": (torch.optim.AdamW, {}),
    "sgd": (torch.optim.SGD, {"momentum": 0.9}),  # the paper's momentum
    "rmsprop": (torch.optim.RMSprop, {}),
}

# Parameters that shape the network: a warm start cannot apply a change to them.
_ARCHITECTURE = ("extractor", "label_head", "domain_head", "module", "adversary", "domain_labels",
                 "standardize", "criterion", "criterion_domain", "net_class")
_ARCHITECTURE_PREFIXES = ("extractor__", "label_head__", "domain_head__", "module__", "adversary__",
                          "criterion__", "criterion_domain__")


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


def _is_module_spec(value) -> bool:
    return value is None or isinstance(value, nn.Module) or callable(value)


class BaseDANN(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """Base class of the DANN estimators: the shared scikit-learn contract.

    Holds the parameters shared by :class:`~skdann.DANNClassifier` and
    :class:`~skdann.DANNRegressor` (documented there), their validation,
    the routing of prefixed parameters to the net, the ``fit`` template with
    rollback on error and warm start, ``transform`` and
    ``predict_domain_proba``. A subclass supplies the label logic:
    ``_check_y``, ``_labelled_mask``, ``_marker_repr``, ``_encode_targets``,
    ``_n_outputs`` and ``_criterion``.

    Examples
    --------
    >>> from skdann import BaseDANN, DANNClassifier, DANNRegressor
    >>> issubclass(DANNClassifier, BaseDANN) and issubclass(DANNRegressor, BaseDANN)
    True
    """

    #: Optimisation steps that ``max_epochs="auto"`` aims for.
    AUTO_STEPS = 2000
    #: Fewest and most epochs of ``max_epochs="auto"``.
    AUTO_MIN_EPOCHS, AUTO_MAX_EPOCHS = 10, 500

    # With scikit-learn's metadata routing, sample_domain (skada's
    # convention) reaches fit and the prediction methods without a
    # set_*_request call: it is what a domain-adaptation model is for.
    __metadata_request__fit = {"sample_domain": True}
    __metadata_request__partial_fit = {"sample_domain": True}
    __metadata_request__transform = {"sample_domain": True}

    _parameter_constraints: dict = {
        "extractor": [None, nn.Module, callable],
        "label_head": [None, nn.Module, callable],
        "domain_head": [None, nn.Module, callable],
        "module": [None, callable],
        "net_class": [None, callable],
        "adversary": [StrOptions({"dann", "cdan", "cdan+e"}), Adversary, callable],
        "domain_labels": [StrOptions({"pooled", "per_domain"})],
        "lambda_max": [Interval(numbers.Real, 0, None, closed="left"), StrOptions({"auto"})],
        "lambda_grid": ["array-like"],
        "lambda_scoring": [StrOptions({"aligned_reverse_validation", "reverse_validation",
                                       "source_accuracy", "iwcv", "dev", "entropy", "snd"}), callable],
        "lambda_schedule": [StrOptions({"ganin", "constant"}), callable],
        "gamma": [Interval(numbers.Real, 0, None, closed="neither")],
        "warmup": [Interval(numbers.Real, 0, 1, closed="left")],
        "optimizer": [StrOptions(set(_OPTIMIZERS)), callable],
        "lr": [Interval(numbers.Real, 0, None, closed="neither")],
        "lr_schedule": [StrOptions({"ganin", "constant"}), None, callable],
        "lr_alpha": [Interval(numbers.Real, 0, None, closed="left")],
        "lr_beta": [Interval(numbers.Real, 0, None, closed="left")],
        "domain_lr_factor": [Interval(numbers.Real, 0, None, closed="neither")],
        "domain_label_smoothing": [Interval(numbers.Real, 0, 1, closed="left")],
        "domain_steps": [Interval(numbers.Integral, 1, None, closed="left")],
        "averaging": [None, StrOptions({"ema", "swa"})],
        "averaging_decay": [Interval(numbers.Real, 0, 1, closed="neither")],
        "averaging_start": [Interval(numbers.Real, 0, 1, closed="both")],
        "standardize": ["boolean"],
        "batch_size": [Interval(numbers.Integral, 1, None, closed="left")],
        "max_epochs": [Interval(numbers.Integral, 1, None, closed="left"), StrOptions({"auto"})],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(numbers.Real, 0, 1, closed="neither")],
        "n_iter_no_change": [Interval(numbers.Integral, 1, None, closed="left")],
        "criterion": [None, nn.Module, callable],
        "criterion_domain": [None, nn.Module, callable],
        "device": [str, torch.device],
        "data_on_device": [StrOptions({"auto"}), "boolean"],
        "distributed": ["boolean"],
        "precision": [None, StrOptions({"bf16", "fp16"})],
        "predict_batch_size": [Interval(numbers.Integral, 1, None, closed="left")],
        "n_threads": [None, StrOptions({"auto"}), Interval(numbers.Integral, 1, None, closed="left")],
        "warm_start": ["boolean"],
        "random_state": ["random_state"],
        "callbacks": [None, list, tuple],
        "verbose": [Interval(numbers.Integral, 0, None, closed="left"), "boolean"],
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
                 callbacks=None, verbose=0, **kwargs):
        self.extractor = extractor
        self.label_head = label_head
        self.domain_head = domain_head
        self.module = module
        self.net_class = net_class
        self.adversary = adversary
        self.domain_labels = domain_labels
        self.lambda_max = lambda_max
        self.lambda_grid = lambda_grid
        self.lambda_scoring = lambda_scoring
        self.lambda_schedule = lambda_schedule
        self.gamma = gamma
        self.warmup = warmup
        self.optimizer = optimizer
        self.lr = lr
        self.lr_schedule = lr_schedule
        self.lr_alpha = lr_alpha
        self.lr_beta = lr_beta
        self.domain_lr_factor = domain_lr_factor
        self.domain_label_smoothing = domain_label_smoothing
        self.domain_steps = domain_steps
        self.averaging = averaging
        self.averaging_decay = averaging_decay
        self.averaging_start = averaging_start
        self.standardize = standardize
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.criterion = criterion
        self.criterion_domain = criterion_domain
        self.device = device
        self.data_on_device = data_on_device
        self.distributed = distributed
        self.precision = precision
        self.predict_batch_size = predict_batch_size
        self.n_threads = n_threads
        self.warm_start = warm_start
        self.random_state = random_state
        self.callbacks = callbacks
        self.verbose = verbose
        self._check_routed_names(kwargs, "__init__")
        vars(self).update(kwargs)

    # ------------------------------------------------------------- parameters
    @classmethod
    def _routed_prefixes(cls) -> tuple:
        """Prefixes of the parameters routed to the net: ``extractor__hidden_sizes`` etc."""
        return tuple(p + "__" for p in DANNNet.routed_prefixes)

    def _check_routed_names(self, names, where: str) -> None:
        valid = sorted(self._get_param_names())
        for name in names:
            if not name.startswith(self._routed_prefixes()):
                close = difflib.get_close_matches(name, valid, n=1)
                hint = f" Did you mean {close[0]!r}?" if close else ""
                prefixes = ", ".join(p + "*" for p in self._routed_prefixes())
                msg = (f"Invalid parameter {name!r} for estimator {type(self).__name__}.{hint} "
                       f"Valid parameters are: {valid}, and the routed {prefixes}.")
                if where == "__init__":
                    raise TypeError(msg)
                raise ValueError(msg)

    def _routed(self) -> dict:
        return {k: v for k, v in vars(self).items() if k.startswith(self._routed_prefixes())}

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

    def set_params(self, **params):
        """Set parameters, including routed ``prefix__name`` parameters.

        Unknown names are an error, as in scikit-learn.

        Parameters
        ----------
        **params : dict
            Parameter names mapped to new values.

        Returns
        -------
        self
            This estimator.
        """
        names = set(self._get_param_names())
        routed = {k: v for k, v in params.items() if k not in names}
        self._check_routed_names(routed, "set_params")
        for key, value in routed.items():
            setattr(self, key, value)
        rest = {k: v for k, v in params.items() if k in names}
        if rest:
            super().set_params(**rest)
        return self

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.input_tags.allow_nan = False
        # Features come out as float32, whatever the input dtype.
        tags.transformer_tags.preserves_dtype = ["float32"]
        tags.non_deterministic = False
        return tags

    def _check_params(self) -> None:
        """Checks beyond ``_parameter_constraints``: callables and routed values."""
        resolve_lambda_schedule(self.lambda_schedule, 1.0)
        resolve_lr_schedule(self.lr_schedule, 1.0, 1.0)
        for name in ("extractor", "label_head", "domain_head"):
            if not _is_module_spec(getattr(self, name)):
                raise TypeError(f"{name} must be None, an nn.Module instance or class.")
        if self.callbacks is not None:
            from skorch.callbacks import Callback
            for cb in self.callbacks:
                item = cb[1] if isinstance(cb, tuple) and len(cb) == 2 else cb
                ok = isinstance(item, Callback) or (isinstance(item, type) and issubclass(item, Callback))
                if not ok:
                    raise TypeError(
                        f"callbacks must hold skorch callbacks (instances or classes) or "
                        f"(name, callback) tuples; got {cb!r}."
                    )
        self._optimizer_spec()
        if self.domain_steps > 1 and self.lambda_max == 0:
            warnings.warn("domain_steps strengthens the adversary, which lambda_max=0 switches off "
                          "(source-only training); it has no effect.", UserWarning, stacklevel=3)
        adversary = self.adversary
        needs_classes = (adversary in ("cdan", "cdan+e") or
                         getattr(adversary, "needs_classes", False))
        if needs_classes and not self._is_classifier():
            raise ValueError(f"adversary={adversary!r} conditions on class probabilities; "
                             "it needs a classifier.")

    @staticmethod
    def _is_classifier() -> bool:
        return False

    def _optimizer_spec(self):
        opt = self.optimizer
        if isinstance(opt, str):
            cls, defaults = _OPTIMIZERS[opt.lower()]
            return cls, dict(defaults)
        if isinstance(opt, type) and issubclass(opt, torch.optim.Optimizer):
            return opt, {}
        raise TypeError(f"optimizer must be a string or a torch optimizer class, got {opt!r}.")

    # -------------------------------------------------------------------- fit
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X: ArrayLike, y: ArrayLike | None = None, X_target: ArrayLike | None = None, *,
            sample_domain: ArrayLike | None = None, sample_weight: ArrayLike | None = None):
        """Fit on labelled source rows and unlabelled (or a few labelled) target rows.

        Three equivalent forms, which give the same model:

        - ``fit(X_source, y_source, X_target)``;
        - ``fit(X, y)``, where rows whose label is the unlabelled marker
          (``unlabeled_marker`` for a classifier, ``NaN`` for a regressor) are
          unlabelled target rows (this form works through a ``Pipeline``);
        - ``fit(X, y, sample_domain=...)``, skada's convention: positive
          integers mark source domains, negative integers target domains;
          target rows with a real label (not the marker) also train the label
          head (semi-supervised adaptation).

        Without target rows, a :class:`~skdann.exceptions.NoTargetDataWarning`
        is issued and the model is trained on the source alone.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or image array
            Source rows (with ``X_target``), or the rows of all domains
            stacked. Images: ``(n, H, W)`` or ``(n, C, H, W)``, uint8 or float.
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
            Labels; unlabelled rows carry the marker.
        X_target : array-like, optional
            Unlabelled target rows, same features as ``X``.
        sample_domain : array-like of shape (n_samples,) of int, optional
            Each row's domain (not with ``X_target``).
        sample_weight : array-like of shape (n_samples,), optional
            Weights of the rows in the label loss (of the source rows when
            ``X_target`` is given); the domain loss stays balanced.

        Returns
        -------
        self
            The fitted estimator.
        """
        warm = bool(self.warm_start) and hasattr(self, "net_")
        return self._fit_with(X, y, X_target, sample_domain, sample_weight, warm=warm, epochs=None)

    @staticmethod
    def _check_epochs(epochs) -> int:
        if isinstance(epochs, bool) or not isinstance(epochs, numbers.Integral) or epochs < 0:
            raise ValueError(f"epochs must be an integer >= 0, got {epochs!r}.")
        return int(epochs)

    def _fit_with(self, X, y, X_target, sample_domain, sample_weight, *, warm: bool, epochs,
                  classes=None):
        """The fit template shared by ``fit`` and ``partial_fit``."""
        self._check_params()
        device = resolve_device(self.device)
        with self._restored_on_error(warm):
            data = validate_fit(self, X, y, X_target, sample_domain, sample_weight, reset=not warm)
            if warm:
                self._check_continuation(data)
                if self.lambda_max != "auto":  # a new λ applies; "auto" keeps the one chosen
                    self.lambda_max_ = float(self.lambda_max)
            elif self.lambda_max == "auto":
                self.lambda_max_, self.lambda_scores_ = self._select_lambda(data, classes)
            else:
                self.lambda_max_ = float(self.lambda_max)
                self.__dict__.pop("lambda_scores_", None)
            self._fit_validated(data, device, warm, epochs, classes)
        return self

    def _fit_validated(self, data: FitData, device, warm: bool, epochs, classes=None) -> None:
        """Train on validated data (the part of the template after the input checks)."""
        encoded = self._encode_targets(data, warm, classes)
        domain_data = self._domain_data(data, encoded)
        domain_data, valid = self._split_validation(domain_data, data)
        n_threads = self._threads(data.kind)
        rng = check_random_state(self.random_state)
        seed = int(rng.randint(np.iinfo(np.int32).max - 1))
        fork = [device.index] if device.type == "cuda" else []
        with _torch_threads(n_threads), torch.random.fork_rng(devices=fork):
            torch.manual_seed(seed)
            if warm:
                net = self._continue_net(domain_data)
            else:
                max_epochs = self._resolve_max_epochs(domain_data.n_source)
                net = self._make_net(data, domain_data, device, seed, max_epochs)
                net.initialize()
            # skorch's partial_fit: on_train_begin, fit_loop, and a
            # KeyboardInterrupt keeps the epochs done so far.
            net.partial_fit(domain_data, epochs=epochs, X_valid=valid)
        self._set_fitted(net, data, domain_data, device, warm)

    # --------------------------------------------------------- automatic λ
    def _select_lambda(self, data: FitData, classes) -> tuple[float, dict]:
        """``lambda_max="auto"``: the λ of ``lambda_grid`` whose model scores best on held-out rows.

        Every domain's rows are split 80/20 (labelled rows stratified by
        class for a classifier); a model is trained on the 80 % for every λ
        and scored by ``lambda_scoring`` on the 20 % (their labels on the
        source rows, their domains from ``sample_domain``). Ties go to the
        smaller λ. Costs one fit per λ (and what the scorer trains).
        """
        from sklearn.base import clone

        from .model_selection import resolve_lambda_scoring

        scorer = resolve_lambda_scoring(self.lambda_scoring)
        train, val = self._holdout(data, classes)
        X_val, y_val, sd_val = _stacked_rows(val)
        scores = {}
        for lam in self.lambda_grid:
            model = clone(self).set_params(lambda_max=float(lam), callbacks=None, verbose=0,
                                          warm_start=False)
            model.n_features_in_ = getattr(self, "n_features_in_", None)
            with warnings.catch_warnings():
                # This estimator's own check has warned about its parameters; a
                # candidate differs only by λ, and λ=0 is a choice of the grid,
                # not a setting that leaves the user's other parameters idle.
                warnings.simplefilter("ignore", UserWarning)
                model._check_params()
            model.lambda_max_ = float(lam)
            model._fit_validated(train, resolve_device(self.device), False, None, classes)
            scores[float(lam)] = float(scorer(model, X_val, y_val, sample_domain=sd_val))
        best = max(scores.values())
        chosen = min(lam for lam, score in scores.items() if score == best)
        return chosen, scores

    def _holdout(self, data: FitData, classes, fraction: float = 0.2):
        """Split every domain's rows of ``data`` into training and held-out parts."""
        rng = np.random.RandomState(check_random_state(self.random_state).randint(2**31 - 1))
        parts = ([], [])
        for b in range(len(data.blocks)):
            held = np.zeros(len(data.domain[b]), dtype=bool)
            for d in np.unique(data.domain[b]):
                for lab in (True, False):
                    rows = np.flatnonzero((data.domain[b] == d) & (data.labelled[b] == lab))
                    if len(rows) < 5:
                        continue
                    rows = rows[rng.permutation(len(rows))]
                    held[rows[: max(1, int(round(fraction * len(rows))))]] = True
            for part, mask in zip(parts, (~held, held)):
                part.append(mask)
        return tuple(_subset(data, masks) for masks in parts)

    @contextlib.contextmanager
    def _restored_on_error(self, warm: bool):
        """Leave the fitted model as it was if fitting raises.

        A failed fit (bad input, a raising callback, divergence) must not
        leave new ``classes_`` next to an old network, nor a half-trained
        network: a warm fit trains a copy of the net, kept only on success.
        """
        def fitted(key):
            return (key.endswith("_") and not key.startswith("__")) or key == "_n_features_out"

        saved = {k: v for k, v in vars(self).items() if fitted(k)}
        if warm:
            self.net_ = copy.deepcopy(self.net_)
        try:
            yield
        except BaseException:
            for key in [k for k in vars(self) if fitted(k) and k not in saved]:
                delattr(self, key)
            vars(self).update(saved)
            raise

    def _threads(self, kind: str):
        if self.n_threads != "auto":
            return self.n_threads
        # Small tabular networks train fastest on one thread (and a busy
        # machine's other cores do not stall them); convolutions use torch's.
        return None if kind == "image" else 1

    def _check_continuation(self, data: FitData) -> None:
        """A warm start continues the same network: reject what would change it."""
        image = data.kind == "image"
        if (self.input_shape_ is not None) != image:
            raise ValueError("Continuing training needs inputs of the kind (tabular or images) "
                             "seen before.")
        if image and data.row_shape != self.input_shape_:
            raise ValueError(f"Continuing training needs images of shape {self.input_shape_}, got "
                             f"{data.row_shape}.")
        changed = sorted(k for k, v in self._build_params().items()
                         if not _same(v, self.build_params_.get(k, _MISSING)))
        changed += sorted(k for k in self.build_params_ if k not in self._build_params())
        if changed:
            raise ValueError(
                f"{', '.join(changed)} changed since the network was built, and continuing "
                "training (warm_start=True or partial_fit) keeps the same network. Set "
                "warm_start=False (or start a new estimator) to build a new one."
            )
        if self.domain_labels == "per_domain":
            unseen = set(np.unique(np.concatenate(data.domain)).tolist()) - set(self.domains_)
            if unseen:
                raise ValueError(f"Domains {sorted(unseen)} were not seen when the network was "
                                 f"built (domains {list(self.domains_)}).")

    def _build_params(self) -> dict:
        params = {k: getattr(self, k) for k in _ARCHITECTURE}
        params.update({k: v for k, v in self._routed().items() if k.startswith(_ARCHITECTURE_PREFIXES)})
        return params

    def _domain_data(self, data: FitData, encoded: list) -> DomainData:
        """Tensors and sampling groups of the validated data."""
        groups = []
        for b, (labelled, domain) in enumerate(zip(data.labelled, data.domain)):
            for d in np.unique(domain):
                for lab in (True, False):
                    mask = (domain == d) & (labelled if lab else ~labelled)
                    if not mask.any():
                        continue
                    rows = None if mask.all() else torch.as_tensor(np.flatnonzero(mask))
                    groups.append(Group(b, rows, int(d), lab))
        weights = [None if w is None else torch.as_tensor(w, dtype=torch.float32) for w in data.weight]
        return DomainData([as_tensor(X) for X in data.blocks], encoded, groups, weights,
                          [is_memory_mapped(X) for X in data.blocks])

    def _split_validation(self, domain_data: DomainData, data: FitData):
        """Hold out ``validation_fraction`` of the source rows for early stopping."""
        if not self.early_stopping:
            return domain_data, None
        rng = np.random.RandomState(check_random_state(self.random_state).randint(2**31 - 1))
        groups, valid_X, valid_y = [], [], []
        for g in domain_data.groups:
            if g.is_target:
                groups.append(g)
                continue
            rows = (torch.arange(len(domain_data.blocks[g.block])) if g.rows is None else g.rows)
            order = torch.as_tensor(rng.permutation(len(rows)))
            n_valid = int(math.ceil(self.validation_fraction * len(rows)))
            if len(rows) - n_valid < 2 or n_valid < 1:
                raise ValueError(
                    f"early_stopping holds out validation_fraction={self.validation_fraction} of "
                    f"each source domain, which leaves too few training rows in domain {g.domain} "
                    f"({len(rows)} rows)."
                )
            held, kept = rows[order[:n_valid]], rows[order[n_valid:]]
            groups.append(Group(g.block, kept, g.domain, g.labelled))
            valid_X.append(domain_data.blocks[g.block].index_select(0, held))
            valid_y.append(domain_data.y[g.block].index_select(0, held))
        train = DomainData(domain_data.blocks, domain_data.y, groups, domain_data.weight,
                           domain_data.mapped)
        return train, (torch.cat(valid_X), torch.cat(valid_y))

    def _resolve_max_epochs(self, n_source: int) -> int:
        if self.max_epochs != "auto":
            return int(self.max_epochs)
        world = _rank_and_world(bool(self.distributed))[1]
        steps_per_epoch = math.ceil(n_source / (min(self.batch_size, n_source) * world))
        epochs = max(math.ceil(self.AUTO_STEPS / steps_per_epoch), self.AUTO_MIN_EPOCHS)
        return int(min(epochs, self.AUTO_MAX_EPOCHS))

    def _net_params(self, data: FitData, domain_data: DomainData, device, seed: int,
                    max_epochs: int, domains: tuple) -> dict:
        opt_cls, opt_defaults = self._optimizer_spec()
        routed = dict(self._routed())
        for key, value in opt_defaults.items():
            routed.setdefault(f"optimizer__{key}", value)
        stats = None
        if self.standardize:
            stats = input_statistics(domain_data, data.kind == "image")
        params = dict(
            extractor=self.extractor, label_head=self.label_head, domain_head=self.domain_head,
            adversary=self.adversary, input_shape=data.row_shape, n_outputs=self._n_outputs(),
            domain_ids=domains, domain_labels=self.domain_labels,
            input_statistics=stats, optimizer=opt_cls, lr=self.lr, max_epochs=max_epochs,
            device=str(device), callbacks=list(self.callbacks or []), verbose=int(self.verbose),
            seed=seed, patience=self.n_iter_no_change if self.early_stopping else None,
            distributed=bool(self.distributed),
            **self._schedule_params(), **routed,
        )
        if self.module is not None:
            params["module"] = self.module
        params["criterion"] = self._criterion()
        params["criterion_domain"] = self.criterion_domain
        return params

    def _schedule_params(self) -> dict:
        """The net's parameters that a warm start applies when they change."""
        return dict(
            batch_size=self.batch_size, lambda_max=float(self.lambda_max_),
            lambda_schedule=self.lambda_schedule, gamma=float(self.gamma),
            warmup=float(self.warmup), lr_schedule=self.lr_schedule,
            lr_alpha=float(self.lr_alpha), lr_beta=float(self.lr_beta),
            domain_lr_factor=float(self.domain_lr_factor),
            domain_label_smoothing=float(self.domain_label_smoothing),
            domain_steps=int(self.domain_steps),
            averaging=self.averaging, averaging_decay=float(self.averaging_decay),
            averaging_start=float(self.averaging_start), precision=self.precision,
            data_on_device=self.data_on_device, **self._extra_net_params(),
        )

    def _extra_net_params(self) -> dict:
        """Net parameters that only a subclass has (e.g. ``label_shift``)."""
        return {}

    def _make_net(self, data, domain_data, device, seed, max_epochs) -> DANNNet:
        net_class = DANNNet if self.net_class is None else self.net_class
        if not (isinstance(net_class, type) and issubclass(net_class, DANNNet)):
            raise TypeError(f"net_class must be DANNNet or a subclass of it, got {net_class!r}.")
        domains = tuple(sorted({g.domain for g in domain_data.groups}, key=lambda d: (d < 0, abs(d))))
        return net_class(**self._net_params(data, domain_data, device, seed, max_epochs, domains))

    def _continue_net(self, domain_data: DomainData) -> DANNNet:
        """Apply what may change between calls to the fitted net, and return it."""
        net = self.net_
        for key, value in self._schedule_params().items():
            setattr(net, key, value)
        lr_changed = net.lr != self.lr
        opt_cls, opt_defaults = self._optimizer_spec()
        opt_params = {f"optimizer__{k}": v for k, v in opt_defaults.items()}
        opt_params.update({k: v for k, v in self._routed().items() if k.startswith("optimizer__")})
        old_opt = {k: v for k, v in vars(net).items() if k.startswith("optimizer__")}
        if opt_cls is not net.optimizer or opt_params != old_opt or lr_changed:
            # A new optimizer (its state, e.g. Adam's moments, starts afresh).
            for key in old_opt:
                delattr(net, key)
            for key, value in opt_params.items():
                setattr(net, key, value)
            net.optimizer, net.lr = opt_cls, self.lr
            progress = net.progress_
            net.initialize_optimizer()
            net.progress_ = progress
        callbacks = list(self.callbacks or [])
        if net.verbose != int(self.verbose) or not _same(callbacks, net.callbacks) or \
                net.patience != (self.n_iter_no_change if self.early_stopping else None):
            net.verbose = int(self.verbose)
            net.callbacks = callbacks
            net.patience = self.n_iter_no_change if self.early_stopping else None
            net.initialize_callbacks()
        if self.max_epochs != "auto":  # a new horizon; "auto" keeps the first fit's
            net.max_epochs = int(self.max_epochs)
        return net

    def _set_fitted(self, net: DANNNet, data: FitData, domain_data: DomainData, device,
                    warm: bool) -> None:
        """Set the fitted attributes: the one place that does.

        (Input validation sets ``n_features_in_``/``feature_names_in_`` as
        scikit-learn's ``validate_data`` does, the subclass its label
        attributes such as ``classes_``, and the λ selection ``lambda_max_``.)
        """
        image = data.kind == "image"
        self.net_ = net
        self.device_ = device
        self.domains_ = tuple(int(d) for d in net.domain_ids)
        self.max_epochs_ = int(net.max_epochs)
        if not warm:  # what the network was built with, for later warm starts to check
            self.build_params_ = self._build_params()
        self.input_shape_ = data.row_shape if image else None
        if image:
            self.n_features_in_ = int(np.prod(data.row_shape))
            self.input_dtype_ = data.blocks[0].dtype
            self.__dict__.pop("feature_names_in_", None)
        else:
            self.__dict__.pop("input_dtype_", None)
        self._n_features_out = self._features_width(net, data.row_shape)
        self.n_source_, self.n_target_ = domain_data.n_source, domain_data.n_target

    @staticmethod
    def _features_width(net: DANNNet, row_shape) -> int:
        module = net.module_
        was_training = module.training
        module.eval()
        with torch.no_grad():
            z = module.features(torch.zeros((1, *row_shape), dtype=torch.float32,
                                            device=torch.device(net.device)))
        module.train(was_training)
        return int(z.shape[1])

    # --------------------------------------------------- subclass interface
    def _check_y(self, y, name: str) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def _labelled_mask(self, y: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def _marker_repr(self) -> str:  # pragma: no cover - abstract
        raise NotImplementedError

    def _encode_targets(self, data: FitData, warm: bool, classes) -> list:  # pragma: no cover
        raise NotImplementedError

    def _n_outputs(self) -> int:  # pragma: no cover - abstract
        raise NotImplementedError

    def _criterion(self):  # pragma: no cover - abstract
        raise NotImplementedError

    # ------------------------------------------------------------- inference
    @property
    def history_(self):
        """Per-epoch training history (a ``skorch.History``)."""
        check_is_fitted(self)
        return self.net_.history

    def _run(self, method: str, X) -> torch.Tensor:
        check_is_fitted(self)
        X = as_tensor(check_inference_input(self, X))
        with _torch_threads(self._threads("image" if self.input_shape_ else "tabular")):
            return getattr(self.net_, method)(X, self.predict_batch_size)

    def transform(self, X: ArrayLike, sample_domain=None) -> np.ndarray:
        """Features of the extractor ``G_f``.

        Parameters
        ----------
        X : array-like
            Rows (or images) of the training shape.
        sample_domain : array-like, optional
            Accepted for compatibility with skada's pipelines and scorers;
            the features do not depend on the domain.

        Returns
        -------
        ndarray of shape (n_samples, n_features_out)
            float32 features.
        """
        return self._run("features", X).numpy()

    def predict_domain_proba(self, X: ArrayLike) -> np.ndarray:
        """Probability, by the domain head, that each row comes from a target domain.

        Parameters
        ----------
        X : array-like
            Rows (or images) of the training shape.

        Returns
        -------
        ndarray of shape (n_samples,), or (n_samples, n_domains)
            With ``domain_labels="pooled"``, values near 0.5 on both domains
            mean aligned features; with ``"per_domain"``, the probability of
            each domain of ``domains_``.
        """
        logits = self._run("domain_logits", X).double()
        if logits.dim() == 1:
            return torch.sigmoid(logits).numpy()
        return torch.softmax(logits, dim=1).numpy()

    def __setstate__(self, state):
        super().__setstate__(state)
        net = self.__dict__.get("net_")
        if net is not None:
            # skorch maps a CUDA-trained net to the CPU when CUDA is absent.
            self.device_ = torch.device(net.device)


def _subset(data: FitData, masks: list) -> FitData:
    """The rows of ``data`` selected by one boolean mask per block."""
    pick = [lambda a, m=m: None if a is None else a[m] for m in masks]
    return FitData([p(X) for p, X in zip(pick, data.blocks)], [p(y) for p, y in zip(pick, data.y)],
                   [p(v) for p, v in zip(pick, data.labelled)], [p(v) for p, v in zip(pick, data.domain)],
                   [p(w) for p, w in zip(pick, data.weight)], data.kind)


def _stacked_rows(data: FitData):
    """``(X, y, sample_domain)`` of all rows of ``data`` (y: any label on unlabelled rows)."""
    import scipy.sparse as sp

    blocks = data.blocks
    X = sp.vstack(blocks).tocsr() if data.kind == "sparse" else np.concatenate(blocks)
    filler = data.labelled_y()[:1]
    ys = [np.asarray(y) if y is not None else np.repeat(filler, len(d), axis=0)
          for y, d in zip(data.y, data.domain)]
    y = np.concatenate(ys)
    return X, y, np.concatenate(data.domain).astype(np.int64)


_MISSING = object()


def _same(a, b) -> bool:
    """Parameter equality that copes with arrays, modules and lists of callbacks."""
    if a is b:
        return True
    try:
        result = a == b
        return bool(result) if not isinstance(result, np.ndarray) else bool(result.all())
    except Exception:  # noqa: BLE001 - incomparable objects count as changed
        return False



#: Parameter documentation shared by the estimators' docstrings.
SHARED_PARAMETERS = """\
    extractor : nn.Module instance or class, default=None
        Feature extractor ``G_f``. ``None``: :class:`~skdann.MLPExtractor` for
        2-D input, :class:`~skdann.CNNExtractor` for images. A class is built
        with the ``extractor__*`` parameters, plus ``n_features``/``in_features``
        (tabular) or ``input_shape``/``in_channels`` (images) when its
        signature has them. An instance is copied, never modified.
    label_head : nn.Module instance or class, default=None
        Label predictor ``G_y``, one output per class (or regression
        target). ``None``: :class:`~skdann.LabelHead` (``hidden_sizes=(100,
        100)`` for images, as in the paper). Classes receive ``in_features``
        and ``n_classes``/``n_outputs``.
    domain_head : nn.Module instance or class, default=None
        Domain classifier ``G_d`` ending in one logit (one per domain with
        ``domain_labels="per_domain"``). ``None``: :class:`~skdann.DomainHead`.
        Classes receive ``in_features`` and ``n_outputs``.
    module : DANNModule subclass, default=None
        The composite network class (``None``: :class:`~skdann.DANNModule`),
        built with the three parts and the ``module__*`` parameters.
    net_class : DANNNet subclass, default=None
        The skorch net that trains (``None``: :class:`~skdann.DANNNet`):
        subclass it to change one step of training.
    adversary : {"dann", "cdan", "cdan+e"}, Adversary class or instance, default="dann"
        What the domain head sees: the features (DANN), or their multilinear
        map with the class probabilities (CDAN, Long et al. 2018; "cdan+e"
        adds its entropy weighting; classifiers only). Options go in
        ``adversary__*``; a new adversary subclasses :class:`~skdann.Adversary`.
    domain_labels : {"pooled", "per_domain"}, default="pooled"
        With several domains: ``"pooled"`` trains the domain head to tell
        all source domains from all target domains; ``"per_domain"`` to
        tell every domain apart.
    lambda_max : float or "auto", default=0.3
        Adversarial weight λ reached at the end of training. ``0`` is exactly
        source-only training of the same network (the domain head still
        trains, as a diagnostic). The default 0.3 was the most robust value
        on the benchmark suite (``benchmarks/ablation.py``: no seed more than
        5 points below source-only, against 3 of 54 with 1.0); the paper's
        Amazon experiments most often chose about 0.31. ``"auto"``: chosen from ``lambda_grid``
        without target labels: every domain's rows are split 80/20, a model is
        trained on the 80 % for every λ and scored by ``lambda_scoring`` on
        the 20 %; the best λ (the smallest on ties) is then trained on all
        rows. Costs ``len(lambda_grid) + 1`` fits, plus what the scorer
        trains. The value used is ``lambda_max_``.
    lambda_grid : sequence of float, default=(0.0, 0.1, 0.3, 1.0)
        Candidates of ``lambda_max="auto"``; include 0 so that source-only
        training wins when adaptation does not pay.
    lambda_scoring : str or callable, default="aligned_reverse_validation"
        Label-free criterion of ``lambda_max="auto"``: the name of a scorer of
        :mod:`skdann.model_selection` (``"aligned_reverse_validation"``: reverse
        validation minus the domain head's held-out accuracy, the best rule in
        ``benchmarks/auto_lambda.py``; ``"reverse_validation"``,
        ``"source_accuracy"``, ``"iwcv"``, ``"dev"``, ``"entropy"``,
        ``"snd"``) or a callable ``scorer(estimator, X, y, sample_domain=...)``,
        higher is better.
    lambda_schedule : {"ganin", "constant"} or callable, default="ganin"
        ``"ganin"``: λ_p = lambda_max · (2 / (1 + exp(-gamma·p)) - 1), p the
        training progress in [0, 1], advanced every step. A callable maps p
        to a factor (>= 0) of ``lambda_max``.
    gamma : float, default=10.0
        Steepness of the ``"ganin"`` λ schedule.
    warmup : float in [0, 1), default=0.0
        Share of training with λ = 0 (source-only warm-up) before the λ
        schedule starts; the schedule then runs over the rest.
    optimizer : {"adam", "adamw", "sgd", "rmsprop"} or torch optimizer class, default="adam"
        ``"sgd"`` means SGD with the paper's momentum 0.9. Options go in
        ``optimizer__*`` (e.g. ``optimizer__weight_decay=1e-4``).
    lr : float, default=3e-3
        Initial learning rate μ0 (annealed by ``lr_schedule``).
    lr_schedule : {"ganin", "constant"}, None or callable, default="ganin"
        ``"ganin"``: lr_p = lr / (1 + lr_alpha·p) ** lr_beta; ``None`` or
        ``"constant"``: constant; a callable maps p to a factor (>= 0) of ``lr``.
    lr_alpha, lr_beta : float, default=10.0, 0.75
        Constants of the ``"ganin"`` learning-rate schedule.
    domain_lr_factor : float, default=1.0
        The domain head learns at ``domain_lr_factor`` times the learning
        rate (TLlib, DomainBed and WILDS have such a factor).
    domain_label_smoothing : float in [0, 1), default=0.0
        Smooth the domain labels (0/1 become ε/2 and 1 - ε/2).
    domain_steps : int >= 1, default=1
        Updates of the domain head per training step: ``domain_steps - 1``
        of the domain head alone on the step's batch, then the joint DANN
        step (the critic steps of adversarial training: a stronger adversary
        without a larger head). With ``lambda_max=0`` there is no adversary
        to strengthen; it has no effect and warns.
    averaging : {None, "ema", "swa"}, default=None
        Predict with averaged weights (``torch.optim.swa_utils``): an
        exponential moving average, or the uniform average of SWA, from
        ``averaging_start`` on; damps the oscillation of the adversarial game.
    averaging_decay : float, default=0.99
        Decay of the exponential moving average (``averaging="ema"``).
    averaging_start : float in [0, 1], default=0.5
        Training progress from which the weights are averaged.
    standardize : bool, default=False
        Standardise the inputs with a mean and scale computed on the rows of
        BOTH domains (per feature; per channel for images), as the first
        layer of the network, so prediction applies it too.
    batch_size : int, default=128
        Rows per domain per step: each step sees ``batch_size`` rows of every
        source domain and of every target domain (fewer if a source domain is
        smaller).
    max_epochs : int or "auto", default="auto"
        Epochs; an epoch is one pass over the source rows (target rows are
        cycled and reshuffled). ``"auto"``: enough epochs for about
        ``AUTO_STEPS`` (2,000) optimisation steps, at least 10 and at most
        500, since the schedules (and DANN's adversarial game) need steps
        rather than passes. The value used is ``max_epochs_``.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of each source domain's rows, record
        their label loss as ``valid_loss`` every epoch, stop when it has not
        improved for ``n_iter_no_change`` epochs and keep the best weights
        (the paper's use of a source validation set).
    validation_fraction : float in (0, 1), default=0.1
        Share of the source rows held out when ``early_stopping``.
    n_iter_no_change : int, default=10
        Patience of ``early_stopping``, in epochs.
    criterion : loss class or instance, default=None
        Label loss, applied per row. ``None``: cross-entropy (classifier),
        mean squared error (regressor). Options go in ``criterion__*``.
    criterion_domain : loss class or instance, default=None
        Domain loss, applied per row to the domain head's outputs and each
        row's domain label (``reduction="none"``: the net weighs the rows).
        ``None``: binary cross-entropy on one logit (``domain_labels="pooled"``),
        cross-entropy over the domains (``"per_domain"``). Options go in
        ``criterion_domain__*``.
    device : str, default="cpu"
        ``"cpu"``, ``"cuda"``, ``"cuda:N"``, ``"mps"`` or ``"auto"`` (CUDA,
        then MPS, then CPU). An unavailable device is an error before training.
    data_on_device : {"auto", True, False}, default="auto"
        Move the training data to the device once (``"auto"``: when it takes
        under half of the free device memory); otherwise batches are streamed
        from pinned host memory (a memory-mapped file is always streamed on
        the CPU, never copied into memory).
    distributed : bool, default=False
        Train one model in several processes with ``torch.distributed``
        (launched by ``torchrun``, process group initialised by the caller;
        ``device`` one GPU per process, or "cpu" with the gloo backend).
        Every process calls ``fit`` with the same data and parameters; each
        draws its batches from a disjoint shard of every domain, gradients
        are averaged after each backward pass, the schedules follow the
        global step, the epoch's metrics are averaged, and only rank 0 prints
        and writes checkpoints. ``batch_size`` is per process. The fitted
        estimator is the same on every rank and pickles like any other.
    precision : {None, "bf16", "fp16"}, default=None
        Mixed-precision autocast for forward passes ("fp16" adds a gradient
        scaler on CUDA).
    predict_batch_size : int, default=4096
        Rows per batch in prediction and ``transform``; bounds their memory.
    n_threads : "auto", int or None, default="auto"
        Torch CPU threads during ``fit`` and prediction (restored afterwards).
        ``"auto"``: one thread for tabular and sparse input (small networks
        train fastest on one thread, and other processes on the machine do
        not stall them), torch's setting for images. ``None``: torch's setting.
    warm_start : bool, default=False
        If True, ``fit`` continues training the fitted network for
        ``max_epochs`` more epochs; the schedules continue from where they
        were (progress counts towards ``max_epochs`` epochs and stays at its
        end value afterwards). Changes to the learning rate, the schedules,
        the optimizer, the batch size, the callbacks and ``max_epochs`` apply;
        a change to the network's shape is an error. See also ``partial_fit``.
    random_state : int, RandomState instance or None, default=None
        Seeds weight initialisation, batch order and dropout. An int gives
        bit-identical models on the CPU.
    callbacks : list of skorch callbacks or (name, callback) tuples, default=None
        Added to the net's callbacks; ``callbacks__*`` parameters route to them.
    verbose : int, default=0
        ``0`` prints nothing; ``1`` prints a table row per epoch (label loss,
        domain loss, domain accuracy, λ, lr); ``2`` also shows a progress bar
        over the whole fit.
    **kwargs
        Prefixed parameters routed to the net: ``extractor__*``,
        ``label_head__*``, ``domain_head__*``, ``module__*``, ``adversary__*``,
        ``optimizer__*``, ``criterion__*``, ``criterion_domain__*``,
        ``callbacks__*``. Any other name is an error."""

#: Fitted attributes shared by the estimators' docstrings.
SHARED_ATTRIBUTES = """\
    n_features_in_ : int
        Number of features (for images: C·H·W values per image).
    feature_names_in_ : ndarray of str
        Column names, when ``X`` was a DataFrame with string column names.
    input_shape_ : tuple of int or None
        ``(C, H, W)`` for image input, ``None`` for tabular input.
    domains_ : tuple of int
        The domains seen when the network was built (positive: source,
        negative: target).
    net_ : DANNNet
        The fitted skorch net (``net_.module_`` is the :class:`DANNModule`).
    history_ : skorch.History
        Per-epoch ``train_loss``, ``label_loss``, ``domain_loss``,
        ``domain_acc``, ``lambda``, ``lr``, ``steps``, ``progress``, ``dur``
        (and ``valid_loss`` with ``early_stopping``).
    device_ : torch.device
        Device the model lives on.
    n_source_, n_target_ : int
        Number of source and target rows trained on in the last call.
    max_epochs_ : int
        Epochs of the schedules' horizon (``max_epochs`` resolved).
    lambda_max_ : float
        The λ trained with (``lambda_max`` resolved).
    lambda_scores_ : dict
        With ``lambda_max="auto"``: each candidate λ's held-out score."""
