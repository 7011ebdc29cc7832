"""The skorch net that trains DANN: one class, small overridable steps."""

from __future__ import annotations

import contextlib

import numpy as np
import torch
from skorch import NeuralNet
from skorch.callbacks import Callback, EpochTimer, PrintLog, ProgressBar
from torch import nn

from ._data import DomainBatch, DomainBatchIterator, DomainData, iter_chunks
from ._schedules import resolve_lambda_schedule, resolve_lr_schedule
from .exceptions import TrainingDivergedError

__all__ = ["DANNNet"]

_SAME_AS_MODULE_ = "<module_>"
_PRECISIONS = {None: None, "bf16": torch.bfloat16, "fp16": torch.float16}


class DANNProgressBar(ProgressBar):
    """skorch's ``ProgressBar`` for :class:`DANNNet` (shown with ``verbose=2``).

    The number of steps comes from the DANN batch iterator, and the bar shows
    the current λ (DANNNet records no per-batch history to show losses from).

    Examples
    --------
    >>> bar = DANNProgressBar()
    """

    def _get_batches_per_epoch_phase(self, net, dataset, training):
        if dataset is None or not training:
            return 0
        return len(net.get_iterator(dataset, training=True))

    def _get_postfix_dict(self, net):
        return {"lambda": f"{net.lambda_:.3f}"}


class DANNNet(NeuralNet):
    """Skorch ``NeuralNet`` that runs the DANN training loop.

    ``DANNClassifier`` builds and drives this net; use it directly (or
    subclass it) to change one step of training. The steps, in call order
    for every optimisation step:

    - :meth:`update_schedules` sets λ_p on the gradient reversal layer and
      lr_p on the optimizer from the progress ``p``;
    - :meth:`train_step` (skorch's) zeroes gradients, calls
      :meth:`train_step_single`, notifies ``on_grad_computed`` and steps the
      optimizer;
    - :meth:`train_step_single` calls :meth:`infer` on the concatenated
      source+target batch, :meth:`get_label_loss` on the source rows and
      :meth:`get_domain_loss` on all rows, and back-propagates their sum;
    - :meth:`run_single_epoch` loops over :meth:`get_iterator`'s batches and
      writes the epoch's aggregates to the history (:meth:`record_epoch`).

    Parameters
    ----------
    module : DANNModule
        The network (an initialised instance).
    criterion : nn.Module class, default=nn.CrossEntropyLoss
        Label loss.
    criterion_domain : nn.Module class, default=nn.BCEWithLogitsLoss
        Domain loss on the single domain logit.
    lambda_max, lambda_schedule, gamma, lr_schedule, lr_alpha, lr_beta
        See :class:`skdann.DANNClassifier`.
    seed : int, default=0
        Seeds the batch order of both domains.
    data_on_device : bool, default=True
        Whether training data is moved to the device once (else batches are
        streamed from host memory, pinned, with non-blocking copies).
    precision : {None, "bf16", "fp16"}, default=None
        Autocast dtype for forward passes; "fp16" adds a gradient scaler.
    **kwargs
        Passed to ``skorch.NeuralNet`` (``optimizer``, ``lr``,
        ``max_epochs``, ``batch_size``, ``device``, ``callbacks``,
        ``verbose``, ``optimizer__*`` ...).

    Examples
    --------
    >>> import torch
    >>> from skdann._network import DANNModule, MLPExtractor, LabelHead, DomainHead
    >>> from skdann._data import DomainData
    >>> module = DANNModule(MLPExtractor(2, (8,)), LabelHead(8, 2), DomainHead(8))
    >>> net = DANNNet(module, max_epochs=2, batch_size=4, verbose=0).initialize()
    >>> data = DomainData(torch.randn(8, 2), torch.tensor([0, 1] * 4), torch.randn(8, 2))
    >>> _ = net.fit_loop(data)
    >>> len(net.history)
    2
    """

    def __init__(self, module, criterion=nn.CrossEntropyLoss, *,
                 criterion_domain=nn.BCEWithLogitsLoss, lambda_max: float = 1.0,
                 lambda_schedule="ganin", gamma: float = 10.0, lr_schedule="ganin",
                 lr_alpha: float = 10.0, lr_beta: float = 0.75, seed: int = 0,
                 data_on_device: bool = True, precision=None, **kwargs):
        kwargs.setdefault("train_split", None)
        super().__init__(module, criterion, **kwargs)
        self.criterion_domain = criterion_domain
        self.lambda_max = lambda_max
        self.lambda_schedule = lambda_schedule
        self.gamma = gamma
        self.lr_schedule = lr_schedule
        self.lr_alpha = lr_alpha
        self.lr_beta = lr_beta
        self.seed = seed
        self.data_on_device = data_on_device
        self.precision = precision

    # ------------------------------------------------------------------ setup
    def get_default_callbacks(self):
        """Epoch timing, and the per-epoch table when ``verbose``.

        skorch's ``PrintLog`` formats its table every epoch even when it
        prints nothing, which costs about a tenth of a small network's epoch,
        so it is only added when there is something to print.
        """
        callbacks = [("epoch_timer", EpochTimer())]
        if self.verbose:
            callbacks.append(("print_log", PrintLog()))
        if self.verbose >= 2:
            callbacks.append(("progress_bar", DANNProgressBar()))
        return callbacks

    def initialize_criterion(self):
        """Initialise the label criterion and the domain criterion."""
        super().initialize_criterion()
        kwargs = self.get_params_for("criterion_domain")
        self.criterion_domain_ = self.initialized_instance(self.criterion_domain, kwargs)
        return self

    def initialize_optimizer(self, *args, **kwargs):
        """Initialise the optimizer and remember each group's initial lr."""
        super().initialize_optimizer(*args, **kwargs)
        for group in self.optimizer_.param_groups:
            group.setdefault("initial_lr", group["lr"])
        self.steps_done_ = 0
        self.total_steps_ = None
        self.lambda_ = 0.0
        self.lr_factor_ = 1.0
        dtype = _PRECISIONS[self.precision]
        use_scaler = dtype is torch.float16 and torch.device(self.device).type == "cuda"
        self.grad_scaler_ = torch.amp.GradScaler("cuda") if use_scaler else None
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
        """Training progress ``p`` in [0, 1]: steps done / steps of ``max_epochs``."""
        if not self.total_steps_:
            return 0.0
        return min(self.steps_done_ / self.total_steps_, 1.0)

    def update_schedules(self) -> None:
        """Set λ_p on the GRL and lr_p on every optimizer group for this step."""
        p = self.progress()
        self.lambda_ = float(self.lambda_max) * self._lambda_fn(p)
        self.lr_factor_ = self._lr_fn(p)
        self.module_.grl.lambda_ = self.lambda_
        for group in self.optimizer_.param_groups:
            group["lr"] = group["initial_lr"] * self.lr_factor_

    # ------------------------------------------------------------------- step
    def _autocast(self):
        dtype = _PRECISIONS[self.precision]
        if dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=torch.device(self.device).type, dtype=dtype)

    def infer(self, x, x_target=None, **fit_params):
        """Forward pass: label logits, plus domain logits when ``x_target`` is given.

        Parameters
        ----------
        x : torch.Tensor
            Source (or any) batch on the device.
        x_target : torch.Tensor, optional
            Target batch on the device.
        **fit_params
            Ignored; accepted for skorch compatibility.

        Returns
        -------
        torch.Tensor or tuple of torch.Tensor
            See :meth:`skdann._network.DANNModule.forward`.
        """
        return self.module_(x, x_target)

    def get_label_loss(self, label_logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Label loss on the source rows (cross-entropy by default).

        Parameters
        ----------
        label_logits : torch.Tensor
            Logits of the source rows.
        y : torch.Tensor
            Class codes of the source rows.

        Returns
        -------
        torch.Tensor
            Scalar loss.
        """
        return self.criterion_(label_logits.float(), y)

    def get_domain_loss(self, domain_logits: torch.Tensor, n_source: int) -> torch.Tensor:
        """Domain loss: binary cross-entropy, source rows first (label 0), target rows 1.

        Parameters
        ----------
        domain_logits : torch.Tensor
            Logits of the concatenated batch.
        n_source : int
            How many of the leading rows are source rows.

        Returns
        -------
        torch.Tensor
            Scalar loss.
        """
        n = domain_logits.shape[0]
        key = (n, n_source, domain_logits.device)
        cache = self.__dict__.setdefault("_domain_targets", {})
        targets = cache.get(key)
        if targets is None:
            targets = torch.ones(n, device=domain_logits.device)
            targets[:n_source] = 0.0
            cache[key] = targets
        return self.criterion_domain_(domain_logits.float(), targets)

    def train_step_single(self, batch: DomainBatch, **fit_params) -> dict:
        """Forward the batch, compute both losses, back-propagate their sum.

        Parameters
        ----------
        batch : DomainBatch
            ``(X_source, y_source, X_target)`` on the device.
        **fit_params
            Passed to :meth:`infer`.

        Returns
        -------
        dict
            ``loss``, ``label_loss``, ``domain_loss`` (tensors, detached
            except ``loss``), ``y_pred`` (source label logits) and
            ``domain_logits`` (or None without target rows).
        """
        xs, ys, xt = batch
        with self._autocast():
            if xt is None:
                label_logits, domain_logits = self.infer(xs, **fit_params), None
            else:
                label_logits, domain_logits = self.infer(xs, xt, **fit_params)
        label_loss = self.get_label_loss(label_logits, ys)
        if domain_logits is None:
            loss, domain_loss = label_loss, None
        else:
            domain_loss = self.get_domain_loss(domain_logits, xs.shape[0])
            loss = label_loss + domain_loss
        if self.grad_scaler_ is not None:
            self.grad_scaler_.scale(loss).backward()
        else:
            loss.backward()
        return {
            "loss": loss,
            "label_loss": label_loss.detach(),
            "domain_loss": None if domain_loss is None else domain_loss.detach(),
            "y_pred": label_logits,
            "domain_logits": None if domain_logits is None else domain_logits.detach(),
        }

    def _step_optimizer(self, step_fn):
        if self.grad_scaler_ is None:
            return super()._step_optimizer(step_fn)
        # A closure cannot be combined with a GradScaler: run it, then step.
        step_fn()
        self.grad_scaler_.step(self.optimizer_)
        self.grad_scaler_.update()
        return None

    def train_step(self, batch, **fit_params):
        """Update the schedules, then run skorch's optimisation step.

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
        step = super().train_step(batch, **fit_params)
        self.steps_done_ += 1
        return step

    # ------------------------------------------------------------------ loops
    def get_iterator(self, dataset: DomainData, training: bool = False):
        """Return the epoch iterator over ``(X_source, y_source, X_target)`` batches.

        Parameters
        ----------
        dataset : DomainData
            Training rows (on the device when ``data_on_device``).
        training : bool
            Unused; DANN batches are only drawn for training.

        Returns
        -------
        DomainBatchIterator
            The iterator.
        """
        resident = dataset.source.device == torch.device(self.device)
        # Offset by the steps done, so that continued training (warm start,
        # partial_fit) draws new batch orders instead of replaying the first.
        return DomainBatchIterator(dataset, self.batch_size, torch.device(self.device),
                                   self.seed + self.steps_done_, resident)

    def fit_loop(self, X: DomainData, y=None, epochs=None, **fit_params):
        """Train for ``epochs`` (default ``max_epochs``) epochs on ``X``.

        Parameters
        ----------
        X : DomainData
            Source rows with labels and target rows.
        y : None
            Unused (labels are inside ``X``).
        epochs : int, optional
            Number of epochs; ``max_epochs`` if None.
        **fit_params
            Passed to the steps.

        Returns
        -------
        self
        """
        self.check_training_readiness()
        fit_params.pop("_routing_method", None)  # skorch's partial_fit bookkeeping
        epochs = self.max_epochs if epochs is None else epochs
        self._lambda_fn = resolve_lambda_schedule(self.lambda_schedule, self.gamma)
        self._lr_fn = resolve_lr_schedule(self.lr_schedule, self.lr_alpha, self.lr_beta)
        device = torch.device(self.device)
        if self.data_on_device and X.source.device != device:
            X = X.to(device)
        iterator = self.get_iterator(X, training=True)
        if self.total_steps_ is None:
            self.total_steps_ = max(int(self.max_epochs), 1) * len(iterator)
        kwargs = {"dataset_train": X, "dataset_valid": None}
        for _ in range(epochs):
            self.notify("on_epoch_begin", **kwargs)
            self.run_single_epoch(iterator, training=True, prefix="train",
                                  step_fn=self.train_step, **fit_params)
            self.notify("on_epoch_end", **kwargs)
        return self

    def run_single_epoch(self, iterator, training, prefix, step_fn, **fit_params):
        """Run one epoch of steps and record its aggregates.

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
        if iterator is None:
            return
        self._set_training(training)
        label_losses, domain_losses, domain_logits = [], [], []
        for batch in iterator:
            self.notify("on_batch_begin", batch=batch, training=training)
            step = step_fn(batch, **fit_params)
            label_losses.append(step["label_loss"])
            if step["domain_loss"] is not None:
                domain_losses.append(step["domain_loss"])
                domain_logits.append(step["domain_logits"])
            self.notify("on_batch_end", batch=batch, training=training, **step)
        self.record_epoch(prefix, label_losses, domain_losses, domain_logits, len(iterator))

    def record_epoch(self, prefix, label_losses, domain_losses, domain_logits, n_batches) -> None:
        """Write the epoch's mean losses, domain accuracy, λ and lr to the history.

        Raises
        ------
        TrainingDivergedError
            If the loss is NaN or infinite.
        """
        label_loss = torch.stack(label_losses).mean().item()
        domain_loss, domain_acc = float("nan"), float("nan")
        if domain_losses:
            domain_loss = torch.stack(domain_losses).mean().item()
            logits = torch.stack(domain_logits)  # (steps, 2b): source rows first
            half = logits.shape[1] // 2
            correct = (logits[:, :half] <= 0).sum() + (logits[:, half:] > 0).sum()
            domain_acc = correct.item() / logits.numel()
        total = label_loss + domain_loss if domain_losses else label_loss
        h = self.history
        h.record(prefix + "_loss", total)
        h.record("label_loss", label_loss)
        h.record("domain_loss", domain_loss)
        h.record("domain_acc", domain_acc)
        h.record("lambda", self.lambda_)
        h.record("lr", self.optimizer_.param_groups[0]["lr"])
        h.record(prefix + "_batch_count", n_batches)
        if not np.isfinite(total):
            raise TrainingDivergedError(
                f"Training diverged at epoch {len(h)}: the loss is {total} "
                f"(label loss {label_loss}, domain loss {domain_loss}). Try a smaller lr "
                f"(now {self.lr}), a smaller lambda_max (now {self.lambda_max}), standardised "
                "features (e.g. StandardScaler in a Pipeline), or precision=None."
            )

    def load_params(self, *args, **kwargs):
        """Load parameters (skorch's), and the schedule position with the history.

        When a history is loaded, the step count is restored from it, so
        that continued training resumes the λ and lr schedules where they
        were instead of restarting them.
        """
        super().load_params(*args, **kwargs)
        if kwargs.get("f_history") is not None or kwargs.get("checkpoint") is not None:
            self.steps_done_ = int(sum(self.history[:, "train_batch_count"]))
        return self

    # ------------------------------------------------------------- inference
    @torch.inference_mode()
    def _map_batches(self, X: torch.Tensor, fn, batch_size: int) -> torch.Tensor:
        self.module_.eval()
        device = torch.device(self.device)
        outs = []
        with self._autocast():
            for x in iter_chunks(X, batch_size, device):
                outs.append(fn(x).float().cpu())
        if not outs:
            return torch.empty(0)
        return torch.cat(outs)

    def predict_logits(self, X: torch.Tensor, batch_size: int = 4096) -> torch.Tensor:
        """Label logits of ``X``, computed in batches (on the CPU)."""
        return self._map_batches(X, self.module_, batch_size)

    def features(self, X: torch.Tensor, batch_size: int = 4096) -> torch.Tensor:
        """Extractor features of ``X``, computed in batches (on the CPU)."""
        return self._map_batches(X, self.module_.features, batch_size)

    def domain_logits(self, X: torch.Tensor, batch_size: int = 4096) -> torch.Tensor:
        """Domain logits of ``X`` (positive means target), in batches (on the CPU)."""
        return self._map_batches(X, lambda x: self.module_.domain_logits(self.module_.features(x)),
                                 batch_size)

    def __getstate__(self):
        state = super().__getstate__()
        # Device-resident caches are rebuilt on demand; pickling them would
        # tie the pickle to the training device.
        state.pop("_domain_targets", None)
        state.pop("_listeners", None)
        state.pop("_lambda_fn", None)
        state.pop("_lr_fn", None)
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
