"""The training loop: the skorch net that trains DANN, in small overridable steps."""

from __future__ import annotations

import contextlib
import copy
import inspect
import math
import os
from collections.abc import Sequence

import numpy as np
import torch
from skorch import NeuralNet
from skorch.callbacks import Callback, Checkpoint, EarlyStopping, EpochTimer, LoadInitState, PrintLog
from torch import nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from ._adversary import resolve_adversary
from ._batching import BatchLayout, DomainBatch, DomainBatchIterator, DomainData, iter_chunks, place_data
from ._modules import CNNExtractor, DANNModule, DomainHead, LabelHead, MLPExtractor
from ._schedules import Progress, checked_factor, resolve_lambda_schedule, resolve_lr_schedule
from .exceptions import TrainingDivergedError

__all__ = ["DANNNet", "DANNProgressBar", "DANNCheckpoint", "DANNLoadInitState"]

_SAME_AS_MODULE_ = "<module_>"
_PRECISIONS = {None: None, "bf16": torch.bfloat16, "fp16": torch.float16}


def _rank_and_world(distributed: bool) -> tuple[int, int]:
    """``(rank, world_size)`` of a distributed fit, ``(0, 1)`` otherwise."""
    if not distributed:
        return 0, 1
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()):
        raise RuntimeError(
            "distributed=True needs torch.distributed to be initialised in every process "
            "(launch with torchrun and call torch.distributed.init_process_group first)."
        )
    return dist.get_rank(), dist.get_world_size()


class DANNProgressBar(Callback):
    """One progress bar over the whole fit, in optimisation steps (shown with ``verbose=2``).

    The bar advances every step and shows λ, the learning rate and the last
    epoch's losses (read once per epoch, so the bar adds no device sync per
    step).

    Examples
    --------
    >>> bar = DANNProgressBar()
    """

    def __init__(self, leave: bool = True) -> None:
        self.leave = leave

    def on_epoch_begin(self, net, **kwargs):
        if getattr(self, "bar_", None) is None:
            from tqdm.auto import tqdm
            self.bar_ = tqdm(total=net.steps_planned_, unit="step", leave=self.leave,
                             dynamic_ncols=True)

    def on_batch_end(self, net, **kwargs):
        self.bar_.update(1)

    def on_epoch_end(self, net, **kwargs):
        row = net.history[-1]
        self.bar_.set_postfix({"λ": f"{row['lambda']:.3f}", "lr": f"{row['lr']:.2g}",
                               "label": f"{row['label_loss']:.3f}",
                               "domain": f"{row['domain_loss']:.3f}"}, refresh=False)

    def on_train_end(self, net, **kwargs):
        if getattr(self, "bar_", None) is not None:
            self.bar_.close()
            self.bar_ = None

    def __getstate__(self):
        state = dict(self.__dict__)
        state.pop("bar_", None)
        return state


class _EarlyStopping(EarlyStopping):
    """skorch's ``EarlyStopping`` on the held-out source loss, restoring the best weights.

    The weights that prediction uses (the averaged ones, with ``averaging``)
    are the ones kept and restored.
    """

    def __init__(self, patience: int) -> None:
        super().__init__(monitor="valid_loss", patience=patience, threshold=1e-4,
                         threshold_mode="rel", lower_is_better=True, load_best=True, sink=None)

    def on_epoch_end(self, net, **kwargs):
        current = net.history[-1, self.monitor]
        if not self._is_score_improved(current):
            self.misses_ += 1
        else:
            self.misses_ = 0
            self.dynamic_threshold_ = self._calc_new_threshold(current)
            self.best_epoch_ = net.history[-1, "epoch"]
            self.best_model_weights_ = copy.deepcopy(net.weights_state())
        if self.misses_ == self.patience:
            raise KeyboardInterrupt

    def on_train_end(self, net, **kwargs):
        if self.best_model_weights_ is not None and self.best_epoch_ != net.history[-1, "epoch"]:
            net.load_weights_state(self.best_model_weights_)
            net.history.record("restored_epoch", self.best_epoch_)


class DANNCheckpoint(Checkpoint):
    """skorch's ``Checkpoint``, plus the DANN training state needed to resume exactly.

    Besides the parameters, optimizer state and history that skorch saves,
    it saves ``f_training_state``: the schedules' position, each domain's
    batch stream (generator, position, current permutation), the torch RNG
    state, the weight average and the IWDAN class weights. A fit killed
    after epoch ``k`` and resumed with :class:`DANNLoadInitState` then ends
    with the same model as an uninterrupted fit (bit-identical on the CPU).

    Parameters
    ----------
    monitor : str, callable or None, default=None
        When to save (skorch's meaning); ``None``: after every epoch.
    f_training_state : str, default="training_state.pt"
        File of the DANN training state, in ``dirname``.
    **kwargs
        skorch's ``Checkpoint`` parameters (``dirname``, ``f_params``, ...).

    Examples
    --------
    >>> import tempfile
    >>> from skdann import DANNClassifier
    >>> from skdann.datasets import make_domain_moons
    >>> Xs, ys, Xt, _ = make_domain_moons(random_state=0)
    >>> folder = tempfile.mkdtemp()
    >>> cp = DANNCheckpoint(dirname=folder)
    >>> clf = DANNClassifier(max_epochs=3, random_state=0,
    ...                      callbacks=[cp, DANNLoadInitState(cp)]).fit(Xs, ys, Xt)
    >>> again = DANNClassifier(max_epochs=3, random_state=0,
    ...                        callbacks=[cp, DANNLoadInitState(cp)]).fit(Xs, ys, Xt)
    >>> len(again.history_)  # already trained for max_epochs: nothing left to do
    3
    """

    def __init__(self, monitor=None, f_training_state="training_state.pt", **kwargs):
        self.f_training_state = f_training_state  # before skorch's checks of the f_* names
        super().__init__(monitor=monitor, **kwargs)

    def _f_kwargs(self):
        kwargs = super()._f_kwargs()
        for key in ("f_training_state", "f_training_state_"):  # not skorch's module files
            kwargs.pop(key, None)
        return kwargs

    def _format_target(self, net, f, idx):
        """skorch's file name formatting, without ``last_batch`` (DANNNet keeps no batch rows)."""
        if isinstance(f, str):
            last_epoch = net.history[idx] if len(net.history) else {}
            return os.path.join(self.dirname, self.fn_prefix + f.format(net=net, last_epoch=last_epoch))
        return f

    @property
    def f_training_state_(self) -> str | None:
        if self.f_training_state is None:
            return None
        return os.path.join(self.dirname, self.fn_prefix + self.f_training_state)

    def save_model(self, net):
        """Save skorch's files, then the DANN training state (only rank 0 of a distributed fit)."""
        if net.rank_and_world()[0] != 0:
            return
        super().save_model(net)
        if self.f_training_state_ is not None:
            torch.save(net.training_state_dict(), self.f_training_state_)


class DANNLoadInitState(LoadInitState):
    """skorch's ``LoadInitState`` for :class:`DANNCheckpoint`: resume a fit where it stopped.

    When training begins and the checkpoint's files exist, it loads the
    parameters, optimizer state and history (skorch's part) and the DANN
    training state; the fit then trains only the epochs left to reach
    ``max_epochs``.

    Parameters
    ----------
    checkpoint : DANNCheckpoint
        The checkpoint to resume from.

    Examples
    --------
    >>> cp = DANNCheckpoint(dirname="checkpoints")
    >>> load = DANNLoadInitState(cp)
    """

    def on_train_begin(self, net, X=None, y=None, **kwargs):
        if self.did_load_:
            return
        path = self.checkpoint.f_training_state_
        super().on_train_begin(net, X=X, y=y, **kwargs)
        if path is not None and os.path.exists(path):
            net.load_training_state_dict(torch.load(path, weights_only=True))


def _accepted(cls, kwargs: dict) -> dict:
    """The keyword arguments of ``kwargs`` that ``cls``'s signature takes."""
    try:
        params = inspect.signature(cls).parameters
    except (TypeError, ValueError):
        return {}
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return dict(kwargs)
    return {k: v for k, v in kwargs.items() if k in params}


def _bbse_weights(joint: np.ndarray, prior: np.ndarray, mu: np.ndarray) -> np.ndarray:
    """Black-box shift estimation: ``w ≥ 0`` with ``Σ_y joint[y, ŷ] w_y ≈ mu[ŷ]``.

    ``joint`` is the source's ``p_s(y, ŷ)``, ``prior`` its row sums ``p_s(y)``
    and ``mu`` the target's ``p_t(ŷ)``; ``Σ_y prior_y w_y = 1`` enters as a
    heavy row.
    """
    from scipy.optimize import nnls

    A = np.vstack([joint.T, 10.0 * prior])
    b = np.r_[mu, 10.0]
    return nnls(A, b)[0]


def _empirical_bayes(q_labels: np.ndarray, q_prior: np.ndarray, n: int) -> np.ndarray:
    """Class proportions from ``n`` labelled rows, shrunk towards ``q_prior`` as far as they agree.

    Per class, ``q_prior`` (normalised) is the prior mean and its spread the
    part of the squared gap that the labels' sampling variance does not
    explain: the labels take over when they contradict the prior by more
    than their own noise.
    """
    q_prior = q_prior / max(q_prior.sum(), 1e-12)
    noise = q_labels * (1.0 - q_labels) / n
    gap = q_prior - q_labels
    spread = np.maximum(gap ** 2 - noise, 0.0)
    q = q_labels + noise / (noise + spread) * gap
    return q / q.sum()


class DANNNet(NeuralNet):
    """Skorch ``NeuralNet`` that builds the DANN network and runs its training loop.

    The estimators (:class:`~skdann.DANNClassifier`,
    :class:`~skdann.DANNRegressor`) build and drive this net; pass a
    subclass as their ``net_class`` to change one step of training. The
    steps, in call order for every optimisation step:

    - :meth:`update_schedules` sets λ_p on the gradient reversal layer and
      lr_p on the optimizer from the progress ``p``;
    - :meth:`train_step` (skorch's) zeroes gradients, calls
      :meth:`train_step_single`, notifies ``on_grad_computed`` and steps the
      optimizer (and the weight average, if any);
    - :meth:`train_step_single` runs the extractor on the whole batch,
      :meth:`get_label_loss` on its labelled rows and, through the
      adversary and the gradient reversal layer, :meth:`get_domain_loss` on
      all rows, and back-propagates their sum;
    - :meth:`run_single_epoch` loops over the batches; :meth:`record_epoch`
      writes the epoch's aggregates to the history.

    Parameters
    ----------
    module : DANNModule class, default=DANNModule
        The composite network; built with the three parts (and
        ``module__*`` parameters).
    criterion : loss class or instance, default=nn.CrossEntropyLoss
        Label loss, applied per row (``reduction="none"``) and averaged with
        the sample weights.
    extractor, label_head, domain_head : nn.Module class or instance, default=None
        The network parts (``None``: the defaults for the input). A class is
        built with its ``extractor__*``/``label_head__*``/``domain_head__*``
        parameters plus the sizes its signature asks for
        (``n_features``/``in_features``, ``input_shape``/``in_channels``,
        ``n_classes``, ``n_outputs``); an instance is copied.
    adversary : {"dann", "cdan", "cdan+e"}, Adversary class or instance, default="dann"
        What the domain head sees (:mod:`skdann._adversary`).
    criterion_domain : loss class or instance, default=None
        Domain loss, per row; ``None``: ``BCEWithLogitsLoss`` on one logit
        (``domain_labels="pooled"``) or ``CrossEntropyLoss`` over domains.
    input_shape : tuple of int
        Shape of one input row: ``(n_features,)`` or ``(C, H, W)``.
    n_outputs : int
        Outputs of the label head (classes, or regression targets).
    domain_ids : tuple of int, default=(1, -1)
        The ``sample_domain`` values the domain head learns to tell apart
        (with ``domain_labels="per_domain"``).
    domain_labels : {"pooled", "per_domain"}, default="pooled"
        ``"pooled"``: one logit, all source domains against all target
        domains; ``"per_domain"``: one logit per domain.
    input_statistics : tuple of torch.Tensor, optional
        ``(mean, std)`` of the inputs over both domains, for the network's
        first (standardising) layer.
    lambda_max, lambda_schedule, gamma, warmup, lr_schedule, lr_alpha, lr_beta
        The schedules; see :class:`skdann.DANNClassifier`.
    domain_lr_factor : float, default=1.0
        The domain head learns at ``domain_lr_factor`` times the learning rate.
    domain_label_smoothing : float, default=0.0
        Domain labels ``0``/``1`` become ``ε/2``/``1 - ε/2``.
    domain_steps : int, default=1
        Updates of the domain head per training step: ``domain_steps - 1``
        of the head alone (:meth:`train_domain_head_step`), then the joint
        step. Not with ``lambda_max=0``.
    averaging : {None, "ema", "swa"}, default=None
        Average the weights for prediction (``torch.optim.swa_utils``).
    averaging_decay : float, default=0.99
        Decay of the exponential moving average.
    averaging_start : float, default=0.5
        Progress from which the weights are averaged.
    label_shift : {None, "iwdan"}, default=None
        Class-importance-weighted alignment (IWDAN, Tachet des Combes et al.,
        2020): source rows count with ``w_y = p_t(y) / p_s(y)``, estimated
        once per epoch from the predictions and, when some target rows are
        labelled, from their labels (see :meth:`_update_class_weights`).
    label_shift_shrinkage : float, default=0.0
        Shrinks IWDAN's estimated weights towards 1:
        ``w = 1 + (1 - shrinkage) (w_hat - 1)``, so that an estimate gone
        wrong (the target's classes also look different, not only their
        proportions) cannot drop a class from training.
    target_entropy : float, default=0.0
        Weight of the mean prediction entropy of the unlabelled target rows
        (entropy minimisation, Grandvalet & Bengio 2005; the conditional
        entropy term of VADA, Shu et al. 2018), added to the loss with the
        ramp of the λ schedule (``λ_p / lambda_max``), so it is off with
        ``lambda_max=0``.
    vat_weight : float, default=0.0
        Weight of virtual adversarial training (VAT, Miyato et al. 2018; the
        cluster-assumption terms of VADA, Shu et al. 2018): the divergence
        between the predicted class distribution of each row and that of the
        row moved by ``vat_radius`` times its norm in the direction that
        changes the prediction most (see :meth:`get_vat_loss`). Labelled rows
        always; unlabelled target rows with the ramp of the λ schedule, so a
        ``lambda_max=0`` run is regularised on its labelled rows alone.
    vat_radius : float, default=0.3
        VAT's perturbation radius, relative to each row's norm.
    vat_rows : {"all", "target"}, default="all"
        The rows VAT regularises: ``"all"`` the labelled rows and the ramped
        target rows; ``"target"`` the unlabelled target rows alone (ramped),
        so that it adapts and leaves a ``lambda_max=0`` run unchanged.
    patience : int or None, default=None
        Stop when the held-out source loss has not improved for this many
        epochs, and keep the best weights (needs validation rows).
    distributed : bool, default=False
        Train one model in several processes (``torch.distributed``, launched
        by ``torchrun``): each process draws its batches from a disjoint
        shard of every domain, the gradients are averaged across processes
        after every backward pass, the schedules follow the global step, the
        epoch's metrics are averaged across processes, and only rank 0 prints
        and writes checkpoints.
    seed : int, default=0
        Seeds the batch order of the domains.
    data_on_device : {"auto", True, False}, default="auto"
        Where the training data lives (:func:`skdann._batching.place_data`).
    precision : {None, "bf16", "fp16"}, default=None
        Autocast dtype for forward passes; "fp16" adds a gradient scaler.
    **kwargs
        Passed to ``skorch.NeuralNet`` (``optimizer``, ``lr``,
        ``max_epochs``, ``batch_size``, ``device``, ``callbacks``,
        ``verbose``, ``optimizer__*`` ...).

    Examples
    --------
    >>> import torch
    >>> from skdann._batching import DomainData
    >>> net = DANNNet(input_shape=(2,), n_outputs=2, extractor__hidden_sizes=(8,),
    ...               max_epochs=2, batch_size=4, verbose=0).initialize()
    >>> data = DomainData.from_domains(torch.randn(8, 2), torch.tensor([0, 1] * 4),
    ...                                torch.randn(8, 2))
    >>> _ = net.fit_loop(data)
    >>> len(net.history)
    2
    """

    prefixes_ = NeuralNet.prefixes_ + ["extractor", "label_head", "domain_head", "adversary",
                                       "criterion_domain"]

    #: Prefixes of the parameters that an estimator routes to this net.
    routed_prefixes = ("module", "extractor", "label_head", "domain_head", "adversary", "criterion",
                       "criterion_domain", "optimizer", "callbacks")

    def __init__(self, module=DANNModule, criterion=nn.CrossEntropyLoss, *, extractor=None,
                 label_head=None, domain_head=None, adversary="dann", criterion_domain=None,
                 input_shape: Sequence[int] = (2,), n_outputs: int = 2,
                 domain_ids: Sequence[int] = (1, -1), domain_labels: str = "pooled",
                 input_statistics=None, lambda_max: float = 1.0, lambda_schedule="ganin",
                 gamma: float = 10.0, warmup: float = 0.0, lr_schedule="ganin",
                 lr_alpha: float = 10.0, lr_beta: float = 0.75, domain_lr_factor: float = 1.0,
                 domain_label_smoothing: float = 0.0, domain_steps: int = 1, averaging=None,
                 averaging_decay: float = 0.99,
                 averaging_start: float = 0.5, label_shift=None, label_shift_shrinkage: float = 0.0,
                 target_entropy: float = 0.0, vat_weight: float = 0.0, vat_radius: float = 0.3,
                 vat_rows: str = "all", patience=None,
                 distributed: bool = False, seed: int = 0, data_on_device="auto", precision=None,
                 **kwargs):
        kwargs.setdefault("train_split", None)
        super().__init__(module, criterion, **kwargs)
        self.extractor = extractor
        self.label_head = label_head
        self.domain_head = domain_head
        self.adversary = adversary
        self.criterion_domain = criterion_domain
        self.input_shape = tuple(int(v) for v in input_shape)
        self.n_outputs = int(n_outputs)
        self.domain_ids = tuple(int(d) for d in domain_ids)
        self.domain_labels = domain_labels
        self.input_statistics = input_statistics
        self.lambda_max = lambda_max
        self.lambda_schedule = lambda_schedule
        self.gamma = gamma
        self.warmup = warmup
        self.lr_schedule = lr_schedule
        self.lr_alpha = lr_alpha
        self.lr_beta = lr_beta
        self.domain_lr_factor = domain_lr_factor
        self.domain_label_smoothing = domain_label_smoothing
        self.domain_steps = domain_steps
        self.averaging = averaging
        self.averaging_decay = averaging_decay
        self.averaging_start = averaging_start
        self.label_shift = label_shift
        self.label_shift_shrinkage = label_shift_shrinkage
        self.target_entropy = target_entropy
        self.vat_weight = vat_weight
        self.vat_radius = vat_radius
        self.vat_rows = vat_rows
        self.patience = patience
        self.distributed = distributed
        self.seed = seed
        self.data_on_device = data_on_device
        self.precision = precision

    # ------------------------------------------------------------------ setup
    def get_default_callbacks(self):
        """Epoch timing, the per-epoch table when ``verbose``, early stopping when ``patience``.

        skorch's ``PrintLog`` formats its table every epoch even when it
        prints nothing, which costs about a tenth of a small network's epoch,
        so it is only added when there is something to print.
        """
        callbacks = [("epoch_timer", EpochTimer())]
        if self.patience:
            callbacks.append(("early_stopping", _EarlyStopping(int(self.patience))))
        if self.verbose and self.rank_and_world()[0] == 0:
            callbacks.append(("print_log", PrintLog(keys_ignored=["steps", "progress"])))
        if self.verbose >= 2 and self.rank_and_world()[0] == 0:
            callbacks.append(("progress_bar", DANNProgressBar()))
        return callbacks

    def rank_and_world(self) -> tuple[int, int]:
        """``(rank, world_size)`` of this process in a distributed fit, ``(0, 1)`` otherwise."""
        return _rank_and_world(self.distributed)

    def _all_reduce(self, tensor: torch.Tensor) -> torch.Tensor:
        """Sum ``tensor`` over the processes of a distributed fit (in place); identity otherwise."""
        if self.rank_and_world()[1] > 1:
            import torch.distributed as dist
            dist.all_reduce(tensor)
        return tensor

    def _average_gradients(self) -> None:
        """Average the gradients over the processes: one all-reduce of one flat buffer."""
        world = self.rank_and_world()[1]
        if world == 1:
            return
        from torch._utils import _flatten_dense_tensors, _unflatten_dense_tensors

        grads = [p.grad for _, p in self.get_all_learnable_params() if p.grad is not None]
        flat = self._all_reduce(_flatten_dense_tensors(grads)).div_(world)
        for grad, synced in zip(grads, _unflatten_dense_tensors(flat, grads)):
            grad.copy_(synced)

    def _broadcast_weights(self) -> None:
        """Start every process of a distributed fit from rank 0's weights."""
        if self.rank_and_world()[1] > 1:
            import torch.distributed as dist
            for tensor in list(self.module_.parameters()) + list(self.module_.buffers()):
                dist.broadcast(tensor.data, src=0)

    @property
    def image(self) -> bool:
        """Whether the inputs are images ``(C, H, W)``."""
        return len(self.input_shape) == 3

    def _build_part(self, name: str, spec, default, defaults: dict, auto: dict) -> nn.Module:
        """Build one network part with skorch's ``initialized_instance``.

        Parameters routed to the part (``name__*``) win over the defaults
        for the default part; the sizes in ``auto`` are added when the
        part's signature asks for them. An instance is deep-copied, so
        fitting never changes the estimator's parameter.
        """
        routed = self.get_params_for(name)
        if isinstance(spec, nn.Module):
            if routed:
                raise ValueError(
                    f"{name}__* parameters ({sorted(routed)}) were given but {name} is a module "
                    f"instance; pass its class instead so the parameters can be applied."
                )
            return copy.deepcopy(spec)
        cls = default if spec is None else spec
        if not callable(cls):
            raise TypeError(f"{name} must be None, an nn.Module instance or class, got {spec!r}.")
        kwargs = {**_accepted(cls, auto), **(defaults if spec is None else {}), **routed}
        part = self.initialized_instance(cls, kwargs)
        if not isinstance(part, nn.Module):
            raise TypeError(f"{name} must build a torch.nn.Module, got {type(part).__name__}.")
        return part

    def _n_domain_outputs(self) -> int:
        return 1 if self.domain_labels == "pooled" else len(self.domain_ids)

    def initialize_module(self):
        """Build the extractor, the heads, the adversary and the composite module.

        The module is built in float32 whatever torch's default dtype, since
        the batches are float32.
        """
        shape = self.input_shape
        if self.image:
            auto = {"input_shape": shape, "in_channels": shape[0]}
            default_ext, label_defaults, domain_defaults = CNNExtractor, {"hidden_sizes": (100, 100)}, \
                {"hidden_sizes": (100,)}
        else:
            auto = {"n_features": shape[0], "in_features": shape[0]}
            default_ext, label_defaults, domain_defaults = MLPExtractor, {}, {}
        previous = torch.get_default_dtype()
        torch.set_default_dtype(torch.float32)
        try:
            extractor = self._build_part("extractor", self.extractor, default_ext, {}, auto)
            n_features = self._probe_width(extractor, (2, *shape), "extractor")
            label_head = self._build_part(
                "label_head", self.label_head, LabelHead, label_defaults,
                {"in_features": n_features, "n_classes": self.n_outputs, "n_outputs": self.n_outputs})
            width = self._probe_width(label_head, (2, n_features), "label_head")
            if width != self.n_outputs:
                raise ValueError(
                    f"The label head has {width} outputs but the task has {self.n_outputs} "
                    "(classes, or regression targets); give it one output per class/target."
                )
            adversary = resolve_adversary(self.adversary, self.get_params_for("adversary"))
            if isinstance(self.adversary, nn.Module):
                adversary = copy.deepcopy(adversary)
            head_in = adversary.build(n_features, self.n_outputs)
            domain_head = self._build_part(
                "domain_head", self.domain_head, DomainHead, domain_defaults,
                {"in_features": head_in, "n_outputs": self._n_domain_outputs()})
            kwargs = {"extractor": extractor, "label_head": label_head, "domain_head": domain_head,
                      **self.get_params_for("module")}
            if self.input_statistics is not None:
                kwargs["input_shape"] = shape
            module = self.initialized_instance(self.module, kwargs)
            module.adversary = adversary
            if self.input_statistics is not None:
                module.standardize.set_statistics(*self.input_statistics)
            module.float()
        finally:
            torch.set_default_dtype(previous)
        self.module_ = module
        self.averaged_module_ = None
        return self

    @staticmethod
    def _probe_width(part: nn.Module, shape: tuple, name: str) -> int:
        """Width of ``part``'s output on a zero batch (checked to be one tensor)."""
        was_training = part.training
        part.eval()
        with torch.no_grad():
            out = part(torch.zeros(shape))
        part.train(was_training)
        if not isinstance(out, torch.Tensor):
            raise TypeError(
                f"The {name} must return one tensor, got {type(out).__name__}; wrap it so that "
                "forward() returns a single tensor."
            )
        return int(np.prod(out.shape[1:]))

    def get_all_learnable_params(self):
        """The parameters of the network (never those of the weight average)."""
        seen = set()
        for name in [m for m in self._modules if m != "averaged_module"] + self._criteria:
            module = getattr(self, name + "_", None)
            for param_name, param in getattr(module, "named_parameters", lambda: [])():
                if param not in seen:
                    seen.add(param)
                    yield param_name, param

    def initialize_criterion(self):
        """Build the label criterion and the domain criterion, both per row."""
        label = self.initialized_instance(self.criterion, self._per_row(self.criterion, "criterion"))
        self.criterion_ = self._check_per_row(label, "criterion")
        spec = self.criterion_domain
        if spec is None:
            spec = nn.BCEWithLogitsLoss if self.domain_labels == "pooled" else nn.CrossEntropyLoss
        domain = self.initialized_instance(spec, self._per_row(spec, "criterion_domain"))
        self.criterion_domain_ = self._check_per_row(domain, "criterion_domain")
        return self

    def _per_row(self, spec, prefix: str) -> dict:
        kwargs = self.get_params_for(prefix)
        if isinstance(spec, nn.Module):
            if kwargs:
                raise ValueError(f"{prefix}__* parameters were given but {prefix} is an instance; "
                                 "pass its class instead.")
            spec.reduction = "none"
            return {}
        kwargs.setdefault("reduction", "none")
        return kwargs

    @staticmethod
    def _check_per_row(criterion, name: str):
        if getattr(criterion, "reduction", "none") != "none":
            raise ValueError(f"{name} must compute one loss per row (reduction='none'); the net "
                             "averages rows with their weights.")
        return criterion

    def get_params_for_optimizer(self, prefix, named_parameters):
        """skorch's optimizer arguments, with the domain head at ``domain_lr_factor`` × lr."""
        args, kwargs = super().get_params_for_optimizer(prefix, named_parameters)
        factor = float(self.domain_lr_factor)
        if prefix != "optimizer" or factor == 1.0:
            return args, kwargs
        domain = {id(p) for p in self.module_.domain_head.parameters()}
        groups = []
        for group in args[0]:
            lr = group.get("lr", kwargs["lr"])
            rest = [p for p in group["params"] if id(p) not in domain]
            mine = [p for p in group["params"] if id(p) in domain]
            groups += [{**group, "params": rest}] if rest else []
            groups += [{**group, "params": mine, "lr": lr * factor}] if mine else []
        return (groups,), kwargs

    def initialize_optimizer(self, *args, **kwargs):
        """Initialise the optimizer, the schedules' state and the gradient scaler."""
        super().initialize_optimizer(*args, **kwargs)
        for group in self.optimizer_.param_groups:
            group["initial_lr"] = group["lr"]
        if not isinstance(getattr(self, "progress_", None), Progress):
            self.progress_ = Progress()
            self.lambda_ = 0.0
            self.lr_factor_ = 1.0
        dtype = _PRECISIONS[self.precision]
        use_scaler = dtype is torch.float16 and torch.device(self.device).type == "cuda"
        self.grad_scaler_ = torch.amp.GradScaler("cuda") if use_scaler else None
        return self

    def initialize(self):
        """Initialise everything, with a fresh schedule position (the same weights on every rank)."""
        self.__dict__.pop("progress_", None)
        super().initialize()
        self.class_weights_ = None  # IWDAN's estimate, once label_shift is on
        self._broadcast_weights()
        return self

    def on_batch_begin(self, net, batch=None, training=False, **kwargs):
        """Do nothing: DANNNet keeps no per-batch history.

        Aggregates go into the epoch row (:meth:`record_epoch`); a per-batch
        history entry would cost a device sync per step for the loss.
        """

    def notify(self, method_name, **cb_kwargs):
        """Call ``method_name`` on the net and its callbacks.

        Per-step hooks (``on_batch_begin``, ``on_batch_end``,
        ``on_grad_computed``) are only dispatched to the callbacks that
        override them: on a small network, calling every no-op hook of every
        callback is a measurable share of a step.
        """
        if method_name not in _STEP_HOOKS:
            return super().notify(method_name, **cb_kwargs)
        owner, cache = self.__dict__.get("_listeners", (None, None))
        if owner is not self.callbacks_:
            owner, cache = self.callbacks_, {}
            self.__dict__["_listeners"] = (owner, cache)
        listeners = cache.get(method_name)
        if listeners is None:
            listeners = []
            if getattr(type(self), method_name) is not _STEP_HOOKS[method_name]:
                listeners.append(getattr(self, method_name))
            noop = getattr(Callback, method_name)
            listeners += [getattr(cb, method_name) for _, cb in self.callbacks_
                          if getattr(type(cb), method_name, noop) is not noop]
            cache[method_name] = listeners
        for fn in listeners:
            fn(self, **cb_kwargs)
        return None

    # -------------------------------------------------------------- schedules
    def progress(self) -> float:
        """Training progress ``p`` in [0, 1]: steps done over the steps of ``max_epochs`` epochs."""
        return self.progress_.value

    def update_schedules(self) -> None:
        """Set λ_p on the GRL and lr_p on every optimizer group for this step."""
        p = self.progress()
        warmup = float(self.warmup)
        q = 0.0 if p <= warmup else (p - warmup) / (1.0 - warmup)
        self.lambda_ = float(self.lambda_max) * checked_factor("lambda_schedule", self._lambda_fn(q))
        self.lr_factor_ = checked_factor("lr_schedule", self._lr_fn(p))
        self.module_.grl.lambda_ = self.lambda_
        for group in self.optimizer_.param_groups:
            group["lr"] = group["initial_lr"] * self.lr_factor_

    # ------------------------------------------------------------------- step
    def _autocast(self):
        dtype = _PRECISIONS[self.precision]
        if dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=torch.device(self.device).type, dtype=dtype)

    def infer(self, x, **fit_params):
        """Label head outputs of ``x`` (skorch's inference hook)."""
        return self.module_(x)

    def get_label_loss(self, outputs: torch.Tensor, y: torch.Tensor,
                       sample_weight: torch.Tensor | None = None) -> torch.Tensor:
        """Label loss of the labelled rows: the criterion per row, averaged with the weights.

        Parameters
        ----------
        outputs : torch.Tensor
            Label head outputs of the labelled rows.
        y : torch.Tensor
            Their class codes (or regression targets).
        sample_weight : torch.Tensor, optional
            Their weights.

        Returns
        -------
        torch.Tensor
            Scalar loss.
        """
        crit = self.criterion_
        if sample_weight is None and type(crit) is torch.nn.CrossEntropyLoss and crit.weight is None:
            # The default criterion unweighted: one fused kernel for the mean.
            return torch.nn.functional.cross_entropy(
                outputs.float(), y, ignore_index=crit.ignore_index,
                label_smoothing=crit.label_smoothing)
        loss = crit(outputs.float(), y)
        if loss.dim() > 1:  # several regression targets: one loss per row
            loss = loss.reshape(loss.shape[0], -1).mean(dim=1)
        if sample_weight is None:
            return loss.mean()
        return (loss * sample_weight).sum() / sample_weight.sum().clamp_min(1e-12)

    def get_domain_loss(self, domain_logits: torch.Tensor, targets: torch.Tensor,
                        weights: torch.Tensor) -> torch.Tensor:
        """Domain loss: the domain criterion per row, summed with weights that sum to 1.

        Parameters
        ----------
        domain_logits : torch.Tensor
            Domain head outputs of the batch.
        targets : torch.Tensor
            Each row's domain label: 0 (source) / 1 (target) for one logit,
            the domain's index for one logit per domain.
        weights : torch.Tensor
            Each row's weight; source and target rows weigh half each.

        Returns
        -------
        torch.Tensor
            Scalar loss.
        """
        crit, logits = self.criterion_domain_, domain_logits.float()
        if type(crit) is torch.nn.BCEWithLogitsLoss and crit.weight is None and crit.pos_weight is None:
            # The default criterion: one fused kernel instead of loss, product and sum.
            return torch.nn.functional.binary_cross_entropy_with_logits(
                logits, targets, weight=weights, reduction="sum")
        return (crit(logits, targets) * weights).sum()

    def _domain_targets(self, layout: BatchLayout, device) -> tuple:
        """Per-row domain labels and balanced weights of a batch layout (built once per fit)."""
        domains = layout.row_domains()
        target = domains < 0
        # Within a domain, each group (labelled / unlabelled target rows)
        # weighs its share of the domain's rows; each domain then weighs:
        shares = layout.row_shares()
        if self.domain_labels == "pooled":
            eps = float(self.domain_label_smoothing)
            labels = torch.as_tensor(np.where(target, 1.0 - eps / 2, eps / 2), dtype=torch.float32)
            # source and target half each; each source domain the same, and
            # each target domain the same.
            src_ids, tgt_ids = np.unique(domains[~target]), np.unique(domains[target])
            per_domain = {d: 0.5 / len(src_ids) for d in src_ids}
            per_domain.update({d: 0.5 / len(tgt_ids) for d in tgt_ids})
        else:
            index = {d: i for i, d in enumerate(self.domain_ids)}
            labels = torch.as_tensor([index[d] for d in domains], dtype=torch.int64)
            present = np.unique(domains)
            per_domain = {d: 1.0 / len(present) for d in present}
        weights = np.array([per_domain[d] for d in domains]) * shares
        side = torch.as_tensor(target.astype(np.int64))
        return (labels.to(device), torch.as_tensor(weights, dtype=torch.float32).to(device),
                side.to(device))

    def _row_weights(self, base: torch.Tensor, extra: torch.Tensor | None) -> torch.Tensor:
        """``base`` times ``extra``, rescaled so that each side keeps its share."""
        if extra is None:
            return base
        side = self.domain_side_
        w = base * extra
        share = torch.zeros(2, dtype=w.dtype, device=w.device).index_add_(0, side, base)
        total = torch.zeros(2, dtype=w.dtype, device=w.device).index_add_(0, side, w)
        return w * (share / total.clamp_min(1e-12))[side]

    def train_step_single(self, batch: DomainBatch, **fit_params) -> dict:
        """Forward the batch, compute both losses, back-propagate their sum.

        Parameters
        ----------
        batch : DomainBatch
            ``(X, y, sample_weight)`` on the device, in the layout of
            ``layout_``.
        **fit_params
            Unused; accepted for skorch compatibility.

        Returns
        -------
        dict
            ``loss``, ``label_loss``, ``domain_loss`` (tensors, detached
            except ``loss``; ``domain_loss`` None without target rows),
            ``y_pred`` (label outputs of the labelled rows) and
            ``domain_logits`` (the domain head's outputs, detached; None
            without target rows).
        """
        X, y, sample_weight = batch
        layout, module = self.layout_, self.module_
        n_lab = layout.n_labelled
        adversary = module.adversary
        entropy_weight = self._entropy_weight() if layout.has_target else 0.0
        all_outputs = layout.has_target and (adversary.uses_predictions or self.label_shift
                                             or entropy_weight > 0)
        with self._autocast():
            z = module.features(X)
            outputs = module.label_head(z if all_outputs else z[:n_lab])
        class_w = None
        if self.class_weights_ is not None:
            class_w = self.class_weights_[y[:layout.n_source]]
            rest = torch.ones(n_lab - layout.n_source, dtype=torch.float32, device=X.device)
            lab_w = torch.cat([class_w, rest])
            sample_weight = lab_w if sample_weight is None else sample_weight * lab_w
        labelled_outputs = outputs[:n_lab] if all_outputs else outputs
        label_loss = self.get_label_loss(labelled_outputs, y, sample_weight)
        step = {"label_loss": label_loss.detach(), "y_pred": labelled_outputs}
        if not layout.has_target:
            loss, step["domain_loss"], step["domain_logits"] = label_loss, None, None
        else:
            domain_loss, domain_logits = self._domain_loss(z, outputs, class_w)
            loss = label_loss + domain_loss
            if entropy_weight > 0:
                loss = loss + entropy_weight * self.get_entropy_loss(outputs[n_lab:])
            step["domain_loss"] = domain_loss.detach()
            step["domain_logits"] = domain_logits.detach()
            if self.label_shift:
                self._accumulate_label_shift(outputs.detach(), y, layout)
        if self.vat_weight:
            loss = loss + float(self.vat_weight) * self._vat_term(X, outputs)
        self._backward(loss)
        step["loss"] = loss
        return step

    def _backward(self, loss: torch.Tensor) -> None:
        """Back-propagate ``loss`` (scaled with fp16), then average the gradients over processes."""
        (loss if self.grad_scaler_ is None else self.grad_scaler_.scale(loss)).backward()
        self._average_gradients()

    def _domain_loss(self, z: torch.Tensor, outputs: torch.Tensor | None,
                     class_w: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        """The batch's weighted domain loss and the domain head's logits.

        ``z`` are the features of every row, ``outputs`` the label head's
        outputs of every row (used by adversaries that condition on them),
        ``class_w`` IWDAN's weights of the source rows (or None).
        """
        layout, module = self.layout_, self.module_
        adversary = module.adversary
        with self._autocast():
            h = adversary.head_input(z, outputs if adversary.uses_predictions else None)
            domain_logits = module.domain_logits(h)
        extra = adversary.row_weights(outputs) if adversary.uses_predictions else None
        if class_w is not None:
            ones = torch.ones(layout.n_rows - layout.n_source, dtype=torch.float32, device=z.device)
            cw = torch.cat([class_w, ones])
            extra = cw if extra is None else extra * cw
        weights = self._row_weights(self.domain_weights_, extra)
        return self.get_domain_loss(domain_logits, self.domain_labels_, weights), domain_logits

    def train_domain_head_step(self, batch: DomainBatch) -> None:
        """One update of the domain head alone, on the batch's features held fixed.

        Run ``domain_steps - 1`` times before each training step, so that the
        domain head gets closer to the best domain classifier of the current
        features before the extractor is trained against it (the critic steps
        of adversarial training). The extractor and the label head get no
        gradient here.

        Parameters
        ----------
        batch : DomainBatch
            The step's data, as for :meth:`train_step_single`.
        """
        X, y, _ = batch
        layout, module = self.layout_, self.module_
        with torch.no_grad(), self._autocast():
            z = module.features(X)
            outputs = module.label_head(z) if module.adversary.uses_predictions else None
        class_w = None
        if self.class_weights_ is not None:
            class_w = self.class_weights_[y[:layout.n_source]]

        def step_fn():
            self.optimizer_.zero_grad(set_to_none=True)  # only the domain head gets gradients
            loss, _ = self._domain_loss(z, outputs, class_w)
            self._backward(loss)
            return loss

        self._step_optimizer(step_fn)

    def _entropy_weight(self) -> float:
        """``target_entropy`` times the λ ramp ``λ_p / lambda_max`` (0 without adaptation)."""
        return float(self.target_entropy) * self._ramp() if self.target_entropy else 0.0

    def get_entropy_loss(self, outputs: torch.Tensor) -> torch.Tensor:
        """Mean entropy of the predicted class distribution of unlabelled target rows.

        Parameters
        ----------
        outputs : torch.Tensor of shape (n_rows, n_classes)
            Label head logits of the batch's unlabelled target rows.

        Returns
        -------
        torch.Tensor
            A scalar: ``mean(-Σ_k p_k log p_k)``; 0 for an empty batch.
        """
        if len(outputs) == 0:
            return outputs.sum()
        log_p = torch.log_softmax(outputs.float(), dim=1)
        return -(log_p.exp() * log_p).sum(dim=1).mean()

    def _vat_term(self, X: torch.Tensor, outputs: torch.Tensor | None) -> torch.Tensor:
        """VAT's loss for the step: labelled rows' mean plus the λ ramp times the target rows'.

        With ``vat_rows="target"`` the labelled rows' term is left out.
        ``outputs`` are the label head's outputs of every row when the step
        computed them (reused as VAT's reference), else None.
        """
        layout = self.layout_
        n_lab = layout.n_labelled
        ramp = self._ramp() if layout.has_target else 0.0
        if self.vat_rows == "target":
            if ramp <= 0 or len(X) == n_lab:
                return X.new_zeros(())
            reference = outputs[n_lab:] if outputs is not None and len(outputs) == len(X) else None
            return ramp * self.get_vat_loss(X[n_lab:], reference).mean()
        rows = X if ramp > 0 else X[:n_lab]
        reference = outputs[:len(rows)] if outputs is not None and len(outputs) >= len(rows) else None
        per_row = self.get_vat_loss(rows, reference)
        term = per_row[:n_lab].mean()
        if ramp > 0 and len(per_row) > n_lab:
            term = term + ramp * per_row[n_lab:].mean()
        return term

    def _ramp(self) -> float:
        """The λ ramp ``λ_p / lambda_max`` (0 without adaptation)."""
        lambda_max = float(self.lambda_max)
        return 0.0 if lambda_max <= 0 else self.lambda_ / lambda_max

    def get_vat_loss(self, X: torch.Tensor, outputs: torch.Tensor | None = None) -> torch.Tensor:
        """Per-row virtual adversarial loss (Miyato et al. 2018), one power iteration.

        The perturbation ``r`` of norm ``vat_radius × ||x||`` (per row) that
        most changes the predicted class distribution is found from the
        gradient of ``KL(p(x) || p(x + ξd))`` for a random direction ``d``
        (``ξ``: a hundredth of the radius);
        the loss is ``KL(p(x) || p(x + r))`` with ``p(x)`` held fixed, so
        the network learns to predict alike in a ball around every row: its
        decision boundary moves away from dense regions of the data.

        Parameters
        ----------
        X : torch.Tensor
            Rows (or images) of the batch, as the network takes them (with
            ``standardize=True`` the perturbation is made after it, so the
            radius is relative to the standardized row).
        outputs : torch.Tensor, optional
            The label head's outputs of ``X``, when already computed.

        Returns
        -------
        torch.Tensor of shape (len(X),)
            Non-negative divergences.
        """
        module = self.module_
        if module.standardize is not None:  # perturb the rows as the extractor sees them
            X = module.standardize(X)

        def log_p(x):
            with self._autocast():
                out = module.label_head(module.extract(x))
            return torch.log_softmax(out.float(), dim=1)

        def unit(v):
            flat = v.reshape(len(v), -1)
            return (flat / flat.norm(dim=1, keepdim=True).clamp_min(1e-12)).reshape(v.shape)

        with torch.no_grad():
            p = (torch.log_softmax(outputs.float(), dim=1) if outputs is not None
                 else log_p(X)).exp()
        norm = X.reshape(len(X), -1).norm(dim=1).clamp_min(1e-6)
        radius = (float(self.vat_radius) * norm).reshape(-1, *([1] * (X.dim() - 1)))
        # The probe step: a hundredth of the radius, large enough that the change
        # of the prediction it causes stands above float32 rounding.
        d = (0.01 * radius * unit(torch.randn_like(X))).requires_grad_(True)
        kl = nn.functional.kl_div(log_p(X + d), p, reduction="none").sum(dim=1)
        (grad,) = torch.autograd.grad(kl.sum(), d)
        r = (radius * unit(grad)).detach()
        return nn.functional.kl_div(log_p(X + r), p, reduction="none").sum(dim=1)

    def _domain_correct(self, logits: torch.Tensor) -> torch.Tensor:
        """Correctly told rows among ``logits`` of shape (steps, rows[, domains])."""
        if logits.dim() == 2:
            return ((logits > 0) == (self.domain_side_ == 1)).sum()
        return (logits.argmax(dim=-1) == self.domain_labels_).sum()

    def _accumulate_label_shift(self, outputs, y, layout) -> None:
        """Sum the source confusion, the target predictions and the labelled target rows' classes.

        Summed over an epoch for IWDAN's class weights (see
        :meth:`_update_class_weights`).
        """
        p = torch.softmax(outputs.float(), dim=1)
        n_src, n_lab, k = layout.n_source, layout.n_labelled, self.n_outputs
        onehot = torch.nn.functional.one_hot(y, k).float()
        self.label_shift_sums_[0] += onehot[:n_src].T @ p[:n_src]   # C[y, ŷ]
        self.label_shift_sums_[1] += p[n_lab:].sum(0)               # target ŷ
        self.label_shift_sums_[2] += onehot[n_src:n_lab].sum(0)     # labelled target y

    def _update_class_weights(self) -> None:
        """IWDAN's class importance weights ``w_y = p_t(y) / p_s(y)`` (once per epoch).

        From the predictions, ``p_t`` solves ``C w ≈ μ_t`` with ``w ≥ 0``
        (black-box shift estimation, BBSE), which is biased when the
        classes' features also shift. With labelled target rows, their
        add-one smoothed class frequencies are an unbiased but noisy estimate;
        the two are combined per class by empirical Bayes: BBSE is the prior
        mean, its spread the part of their disagreement that the labelled
        estimate's sampling variance does not explain. So BBSE is kept while
        the labels agree with it, and the labels take over when they
        contradict it by more than their own noise.
        """
        joint, target, labelled = (self._all_reduce(t).double().cpu().numpy()
                                   for t in self.label_shift_sums_)
        if joint.sum() <= 0:
            return
        joint /= joint.sum()                      # p_s(y, ŷ)
        prior = joint.sum(axis=1)                 # p_s(y)
        w = _bbse_weights(joint, prior, target / target.sum()) if target.sum() > 0 else None
        if labelled.sum() > 0:
            n = self.layout_.labelled_target_size  # rows, not draws: the noise's scale
            q = (labelled / labelled.sum() * n + 1.0) / (n + len(labelled))  # add-one smoothed
            if w is not None:
                q = _empirical_bayes(q, prior * np.clip(w, 0.0, 10.0), n)
            w = np.divide(q, prior, out=np.ones_like(q), where=prior > 0)
        if w is None:
            return
        w = np.clip(w, 0.0, 10.0)
        w = 1.0 + (1.0 - float(self.label_shift_shrinkage)) * (w - 1.0)
        old = self.class_weights_.cpu().numpy() if self.class_weights_ is not None else np.ones_like(w)
        w = 0.5 * old + 0.5 * w
        self.class_weights_ = torch.as_tensor(w, dtype=torch.float32, device=torch.device(self.device))

    def _step_optimizer(self, step_fn):
        if self.grad_scaler_ is None:
            return super()._step_optimizer(step_fn)
        # A closure cannot be combined with a GradScaler: run it, then step.
        step_fn()
        self.grad_scaler_.step(self.optimizer_)
        self.grad_scaler_.update()
        return None

    def train_step(self, batch, **fit_params):
        """Update the schedules, run skorch's optimisation step, then the weight average.

        Parameters
        ----------
        batch : DomainBatch
            The step's data.
        **fit_params
            Passed on to :meth:`train_step_single`.

        Returns
        -------
        dict
            What :meth:`train_step_single` returned.
        """
        self.update_schedules()
        if int(self.domain_steps) > 1 and self.layout_.has_target and float(self.lambda_max) > 0:
            for _ in range(int(self.domain_steps) - 1):
                self.train_domain_head_step(batch)
        step = super().train_step(batch, **fit_params)
        self.progress_.advance()
        if self.averaging and self.progress() >= float(self.averaging_start):
            self._update_average()
        return step

    def _update_average(self) -> None:
        if self.averaged_module_ is None:
            fn = get_ema_multi_avg_fn(float(self.averaging_decay)) if self.averaging == "ema" else None
            with self._current_init_context("module"):
                averaged = AveragedModel(self.module_, multi_avg_fn=fn, use_buffers=True)
                for p in averaged.parameters():
                    p.requires_grad_(False)
                self.averaged_module_ = averaged
        self.averaged_module_.update_parameters(self.module_)

    def inference_module(self) -> nn.Module:
        """The module that prediction uses: the weight average when there is one."""
        averaged = getattr(self, "averaged_module_", None)
        return self.module_ if averaged is None else averaged.module

    def weights_state(self) -> dict:
        """The weights of the network and of its average (for early stopping)."""
        averaged = getattr(self, "averaged_module_", None)
        return {"module": self.module_.state_dict(),
                "averaged": None if averaged is None else averaged.state_dict()}

    def load_weights_state(self, state: dict) -> None:
        """Restore weights saved by :meth:`weights_state`."""
        self.module_.load_state_dict(state["module"])
        if state["averaged"] is not None and self.averaged_module_ is not None:
            self.averaged_module_.load_state_dict(state["averaged"])

    def training_state_dict(self) -> dict:
        """What resuming needs beyond the parameters, optimizer state and history.

        The schedules' position, the batch streams of the current fit, the
        torch RNG state, the weight average and the IWDAN class weights; all
        tensors and numbers, so that ``torch.load(weights_only=True)`` reads it.
        """
        iterator = self.__dict__.get("iterator_")
        averaged = getattr(self, "averaged_module_", None)
        return {
            "progress": self.progress_.state_dict(),
            "streams": None if iterator is None else iterator.state_dict(),
            "torch_rng": torch.get_rng_state(),
            "averaged": None if averaged is None else averaged.state_dict(),
            "class_weights": getattr(self, "class_weights_", None),
        }

    def load_training_state_dict(self, state: dict) -> None:
        """Restore a state saved by :meth:`training_state_dict` and train only the epochs left."""
        self.progress_.load_state_dict(state["progress"])
        self.pending_streams_ = state["streams"]
        torch.set_rng_state(state["torch_rng"])
        if state["averaged"] is not None:
            self._update_average()  # builds the average, then takes the saved weights
            self.averaged_module_.load_state_dict(state["averaged"])
        if state["class_weights"] is not None:
            self.class_weights_ = state["class_weights"].to(torch.device(self.device))
        self.resuming_ = True

    # ------------------------------------------------------------------ loops
    def get_iterator(self, dataset: DomainData, training: bool = False):
        """Return the epoch iterator over :class:`DomainBatch` batches.

        Parameters
        ----------
        dataset : DomainData
            Training rows (on the device when resident).
        training : bool
            Unused; DANN batches are only drawn for training.

        Returns
        -------
        DomainBatchIterator
            The iterator.
        """
        device = torch.device(self.device)
        resident = dataset.device == device and all(isinstance(b, torch.Tensor) for b in dataset.blocks)
        # Offset by the steps done, so that continued training (warm start,
        # partial_fit) draws new batch orders instead of replaying the first.
        # Batches streamed to a GPU, or read from a memory-mapped file, are
        # gathered two ahead by a background thread while the current step
        # runs (torch's gathers and copies release the GIL; scipy's sparse
        # slicing does not, so sparse rows are cut in the training thread).
        sparse = not all(isinstance(b, torch.Tensor) for b in dataset.blocks)
        ahead = not resident and not sparse and (device.type == "cuda" or any(dataset.mapped))
        return DomainBatchIterator(dataset, self.batch_size, device,
                                   self.seed + self.progress_.steps, resident,
                                   shard=self.rank_and_world(), prefetch=2 if ahead else 0)

    def _prepare_epochs(self, X: DomainData, epochs):
        """Resolve the schedules, place the data and set the layout: once per call."""
        self._lambda_fn = resolve_lambda_schedule(self.lambda_schedule, self.gamma)
        self._lr_fn = resolve_lr_schedule(self.lr_schedule, self.lr_alpha, self.lr_beta)
        device = torch.device(self.device)
        X, _ = place_data(X, device, self.data_on_device)
        iterator = self.get_iterator(X, training=True)
        pending = self.__dict__.pop("pending_streams_", None)
        if pending is not None:  # resuming from a checkpoint: the same batches follow
            iterator.load_state_dict(pending)
        self.iterator_ = iterator
        self.layout_ = iterator.layout
        self.domain_labels_, self.domain_weights_, self.domain_side_ = \
            self._domain_targets(iterator.layout, device)
        self.progress_.set_horizon(max(int(self.max_epochs), 1) * len(iterator))
        self.steps_planned_ = epochs * len(iterator)
        return iterator

    def fit_loop(self, X: DomainData, y=None, epochs=None, X_valid=None, **fit_params):
        """Train for ``epochs`` (default ``max_epochs``) epochs on ``X``.

        Parameters
        ----------
        X : DomainData
            Training rows of all domains, with their labels.
        y : None
            Unused (labels are inside ``X``).
        epochs : int, optional
            Number of epochs; ``max_epochs`` if None.
        X_valid : tuple of torch.Tensor, optional
            ``(X, y)`` of held-out labelled source rows: their label loss is
            recorded every epoch as ``valid_loss`` (and drives ``patience``).
        **fit_params
            Passed to the steps.

        Returns
        -------
        self
        """
        self.check_training_readiness()
        fit_params.pop("_routing_method", None)  # skorch's partial_fit bookkeeping
        resuming = self.__dict__.pop("resuming_", False)
        if epochs is None:
            epochs = int(self.max_epochs)
            if resuming:  # after DANNLoadInitState: only the epochs left to reach max_epochs
                epochs = max(epochs - len(self.history), 0)
        epochs = int(epochs)
        if self.label_shift and self.class_weights_ is None:
            self.class_weights_ = torch.ones(self.n_outputs, dtype=torch.float32,
                                             device=torch.device(self.device))
        iterator = self._prepare_epochs(X, epochs)
        kwargs = {"dataset_train": X, "dataset_valid": X_valid}
        try:
            for _ in range(epochs):
                self.notify("on_epoch_begin", **kwargs)
                self.run_single_epoch(iterator, training=True, prefix="train",
                                      step_fn=self.train_step, **fit_params)
                if X_valid is not None:
                    self.validate(*X_valid)
                self.notify("on_epoch_end", **kwargs)
        finally:
            # The iterator holds the training data: a fitted model must not.
            self.__dict__.pop("iterator_", None)
        return self

    def run_single_epoch(self, iterator, training, prefix, step_fn, **fit_params):
        """Run one epoch of steps and record its aggregates.

        The aggregates are summed on the device and read once, when the
        epoch ends (also when it is interrupted).

        Parameters
        ----------
        iterator : DomainBatchIterator
            Batches of the epoch.
        training : bool
            Must be True (DANN has no validation pass here).
        prefix : str
            History prefix of the loss (``"train"``).
        step_fn : callable
            The step, normally :meth:`train_step`.
        **fit_params
            Passed to ``step_fn``.
        """
        self._set_training(training)
        device = torch.device(self.device)
        # Per-step label losses, domain losses and domain logits, kept as
        # tensors and reduced once when the epoch ends (no per-step arithmetic).
        parts = ([], [], [])
        if self.label_shift:
            k = self.n_outputs
            self.label_shift_sums_ = [torch.zeros(k, k, dtype=torch.float32, device=device),
                                      torch.zeros(k, dtype=torch.float32, device=device),
                                      torch.zeros(k, dtype=torch.float32, device=device)]
        n_steps = 0
        try:
            for batch in iterator:
                self.notify("on_batch_begin", batch=batch, training=training)
                step = step_fn(batch, **fit_params)
                parts[0].append(step["label_loss"])
                if step["domain_loss"] is not None:
                    parts[1].append(step["domain_loss"])
                    parts[2].append(step["domain_logits"])
                n_steps += 1
                self.notify("on_batch_end", batch=batch, training=training, **step)
        finally:
            # Also after an interrupt: the history row is complete either way.
            zero = torch.zeros((), device=device)
            sums = torch.stack([
                torch.stack(parts[0]).float().sum() if parts[0] else zero,
                torch.stack(parts[1]).float().sum() if parts[1] else zero,
                self._domain_correct(torch.stack(parts[2]).float()).float() if parts[2] else zero])
            self.record_epoch(prefix, sums, n_steps, iterator.layout)
        if self.label_shift:
            self._update_class_weights()

    def record_epoch(self, prefix: str, sums: torch.Tensor, n_steps: int, layout: BatchLayout) -> None:
        """Write the epoch's mean losses, domain accuracy, λ, lr and position to the history.

        Raises
        ------
        TrainingDivergedError
            If the loss is NaN or infinite.
        """
        world = self.rank_and_world()[1]
        if world > 1:  # every process's epoch counts
            sums = self._all_reduce(sums.clone()) / world
        label_sum, domain_sum, correct = sums.tolist() if n_steps else (math.nan,) * 3
        label_loss = label_sum / n_steps if n_steps else math.nan
        domain_loss, domain_acc = math.nan, math.nan
        if layout.has_target and n_steps:
            domain_loss = domain_sum / n_steps
            domain_acc = correct / (n_steps * layout.n_rows)
        total = label_loss + domain_loss if layout.has_target else label_loss
        h = self.history
        h.record(prefix + "_loss", total)
        h.record("label_loss", label_loss)
        h.record("domain_loss", domain_loss)
        h.record("domain_acc", domain_acc)
        h.record("lambda", self.lambda_)
        h.record("lr", self.optimizer_.param_groups[0]["lr"])
        h.record(prefix + "_batch_count", n_steps)
        h.record("steps", self.progress_.steps)
        h.record("progress", self.progress())
        if n_steps and not np.isfinite(total):
            raise TrainingDivergedError(
                f"Training diverged at epoch {len(h)}: the loss is {total} "
                f"(label loss {label_loss}, domain loss {domain_loss}). Try a smaller lr "
                f"(now {self.lr}), a smaller lambda_max (now {self.lambda_max}), standardised "
                "features (standardize=True, or StandardScaler in a Pipeline), or precision=None."
            )

    @torch.inference_mode()
    def validate(self, X: torch.Tensor, y: torch.Tensor) -> float:
        """Record the label loss of held-out labelled rows as ``valid_loss``."""
        outputs = self._map_batches(X, self.inference_module(), 4096)
        loss = self.criterion_(outputs, y)
        value = float(loss.reshape(loss.shape[0], -1).mean())
        self.history.record("valid_loss", value)
        return value

    def load_params(self, *args, **kwargs):
        """Load parameters (skorch's), all or nothing, and the schedule position with the history.

        If loading fails (an incompatible file, say), the net is left as it
        was: nothing is half-overwritten. When a history is loaded, the
        step count and progress are restored from it, so that continued
        training resumes the λ and lr schedules where they were.
        """
        saved = {k: copy.deepcopy(getattr(self, k)) for k in
                 ("module_", "optimizer_", "history_", "progress_", "averaged_module_")
                 if hasattr(self, k)}
        try:
            super().load_params(*args, **kwargs)
        except BaseException:
            for key, value in saved.items():
                self.__dict__[key] = value
            raise
        if kwargs.get("f_history") is not None or kwargs.get("checkpoint") is not None:
            if len(self.history) and "steps" in self.history[-1]:
                progress = Progress()
                progress.load_state_dict({"steps": self.history[-1, "steps"],
                                          "base": self.history[-1, "progress"], "since": 0,
                                          "total": 0})
                self.progress_ = progress
        return self

    # ------------------------------------------------------------- inference
    @torch.inference_mode()
    def _map_batches(self, X: torch.Tensor, fn, batch_size: int) -> torch.Tensor:
        """``fn`` over row chunks of ``X``, written into one preallocated output (on the CPU).

        Large inputs (memory-mapped files, say) are read chunk by chunk and
        the results never exist twice in memory.
        """
        module = self.inference_module()
        module.eval()
        device = torch.device(self.device)
        out, start = None, 0
        with self._autocast():
            for x, n in iter_chunks(X, batch_size, device):
                y = fn(x)[:n].float()
                if out is None:
                    out = torch.empty((X.shape[0], *y.shape[1:]), dtype=torch.float32)
                out[start:start + n] = y.cpu()
                start += n
        return torch.empty(0) if out is None else out

    def predict_outputs(self, X: torch.Tensor, batch_size: int = 4096) -> torch.Tensor:
        """Label head outputs of ``X`` (logits, or regression predictions), in batches, on the CPU."""
        return self._map_batches(X, self.inference_module(), batch_size)

    def features(self, X: torch.Tensor, batch_size: int = 4096) -> torch.Tensor:
        """Extractor features of ``X``, computed in batches (on the CPU)."""
        return self._map_batches(X, self.inference_module().features, batch_size)

    def domain_logits(self, X: torch.Tensor, batch_size: int = 4096) -> torch.Tensor:
        """Domain head logits of ``X`` (positive means target), in batches (on the CPU)."""
        module = self.inference_module()

        def fn(x):
            z = module.features(x)
            outputs = module.label_head(z) if module.adversary.uses_predictions else None
            return module.domain_logits(module.adversary.head_input(z, outputs))
        return self._map_batches(X, fn, batch_size)

    def __getstate__(self):
        state = super().__getstate__()
        # Device-resident caches are rebuilt on demand; pickling them would
        # tie the pickle to the training device.
        for key in ("_listeners", "_lambda_fn", "_lr_fn", "label_shift_sums_", "domain_labels_",
                    "domain_weights_", "domain_side_", "iterator_", "pending_streams_"):
            state.pop(key, None)
        if state.get("module") is self.__dict__.get("module_"):
            # The module parameter is the trained instance itself: pickle it
            # once, inside skorch's device-mapped attributes.
            state["module"] = _SAME_AS_MODULE_
        return state

    def __setstate__(self, state):
        super().__setstate__(state)
        if isinstance(self.__dict__.get("module"), str) and self.module == _SAME_AS_MODULE_:
            self.__dict__["module"] = self.module_


# The net's own no-op per-step hooks: a subclass that overrides one is called.
_STEP_HOOKS = {
    "on_batch_begin": DANNNet.on_batch_begin,
    "on_batch_end": NeuralNet.on_batch_end,
    "on_grad_computed": NeuralNet.on_grad_computed,
}
