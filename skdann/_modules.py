"""The network parts of DANN: extractors, heads, input standardisation, the composite module.

These are plain ``torch.nn.Module`` classes; the training loop that drives them
lives in :mod:`skdann._net`.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from ._grl import GradientReversal

__all__ = ["MLPExtractor", "CNNExtractor", "LabelHead", "DomainHead", "Standardize", "DANNModule"]

_ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid, "gelu": nn.GELU, "elu": nn.ELU}


def _activation(name) -> nn.Module:
    if isinstance(name, type) and issubclass(name, nn.Module):
        return name()
    try:
        return _ACTIVATIONS[name]()
    except (KeyError, TypeError):
        raise ValueError(
            f"activation must be one of {sorted(_ACTIVATIONS)} or an nn.Module class, got {name!r}."
        ) from None


def _mlp(in_features: int, hidden_sizes: Sequence[int], activation, dropout: float) -> list[nn.Module]:
    layers: list[nn.Module] = []
    width = in_features
    for size in hidden_sizes:
        layers += [nn.Linear(width, int(size)), _activation(activation)]
        if dropout:
            layers.append(nn.Dropout(dropout))
        width = int(size)
    return layers


class MLPExtractor(nn.Module):
    """Default feature extractor for tabular data: a multi-layer perceptron.

    Parameters
    ----------
    n_features : int
        Number of input features (filled in by the estimator).
    hidden_sizes : sequence of int, default=(64, 64)
        Widths of the hidden layers; the last one is the feature dimension.
    activation : str or nn.Module class, default="relu"
        Non-linearity after each layer.
    dropout : float, default=0.0
        Dropout after each activation.

    Attributes
    ----------
    out_features : int
        Dimension of the features.

    Examples
    --------
    >>> import torch
    >>> MLPExtractor(3, hidden_sizes=(8,))(torch.zeros(5, 3)).shape
    torch.Size([5, 8])
    """

    def __init__(self, n_features: int, hidden_sizes: Sequence[int] = (64, 64),
                 activation="relu", dropout: float = 0.0) -> None:
        super().__init__()
        if len(hidden_sizes) == 0:
            raise ValueError("MLPExtractor needs at least one hidden layer.")
        self.net = nn.Sequential(*_mlp(n_features, hidden_sizes, activation, dropout))
        self.out_features = int(hidden_sizes[-1])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map ``(n, n_features)`` inputs to ``(n, out_features)`` features.

        Parameters
        ----------
        x : torch.Tensor
            Input batch.

        Returns
        -------
        torch.Tensor
            Features.
        """
        return self.net(x)


class CNNExtractor(nn.Module):
    """Default feature extractor for images: the MNIST network of Ganin et al.

    conv 5×5 (32 maps) → ReLU → max-pool 2×2 → conv 5×5 (48 maps) → ReLU →
    max-pool 2×2 → flatten. Images smaller than 16 pixels on a side would
    vanish under the paper's unpadded convolutions, so for them the
    convolutions are zero-padded ("same"); 28×28 MNIST keeps the paper's
    exact 48×4×4 = 768 features.

    Parameters
    ----------
    input_shape : tuple of int
        ``(channels, height, width)`` (filled in by the estimator).
    channels : tuple of int, default=(32, 48)
        Feature maps of the two convolutions.
    kernel_size : int, default=5
        Convolution kernel size.
    padding : {"auto", "valid", "same"}, default="auto"
        ``"auto"`` uses the paper's unpadded convolutions when the image is
        large enough and "same" padding otherwise.

    Attributes
    ----------
    out_features : int
        Dimension of the flattened features.

    Examples
    --------
    >>> import torch
    >>> CNNExtractor((1, 28, 28)).out_features
    768
    >>> CNNExtractor((1, 8, 8))(torch.zeros(2, 1, 8, 8)).shape
    torch.Size([2, 192])
    """

    def __init__(self, input_shape: Sequence[int], channels: Sequence[int] = (32, 48),
                 kernel_size: int = 5, padding: str = "auto") -> None:
        super().__init__()
        c, h, w = (int(v) for v in input_shape)
        if padding == "auto":
            padding = "valid" if min(self._size_after(h, kernel_size, 0, len(channels)),
                                     self._size_after(w, kernel_size, 0, len(channels))) >= 1 else "same"
        if padding not in ("valid", "same"):
            raise ValueError(f"padding must be 'auto', 'valid' or 'same', got {padding!r}.")
        pad = 0 if padding == "valid" else kernel_size // 2
        oh = self._size_after(h, kernel_size, pad, len(channels))
        ow = self._size_after(w, kernel_size, pad, len(channels))
        if min(oh, ow) < 1:
            raise ValueError(
                f"Images of {h}x{w} pixels are too small for the default CNN "
                f"({len(channels)} conv+pool stages); flatten them to 2-D for the tabular path "
                "or pass your own extractor."
            )
        layers: list[nn.Module] = []
        in_c = c
        for out_c in channels:
            layers += [nn.Conv2d(in_c, int(out_c), kernel_size, padding=pad), nn.ReLU(),
                       nn.MaxPool2d(2)]
            in_c = int(out_c)
        layers.append(nn.Flatten())
        self.net = nn.Sequential(*layers)
        self.padding = padding
        self.out_features = in_c * oh * ow

    @staticmethod
    def _size_after(size: int, kernel: int, pad: int, stages: int) -> int:
        for _ in range(stages):
            size = (size + 2 * pad - kernel + 1) // 2
        return size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map ``(n, C, H, W)`` images to ``(n, out_features)`` features.

        Parameters
        ----------
        x : torch.Tensor
            Image batch.

        Returns
        -------
        torch.Tensor
            Flattened features.
        """
        return self.net(x)


class LabelHead(nn.Module):
    """Default label predictor: an optional MLP ending in one output per class (or target).

    Parameters
    ----------
    in_features : int
        Feature dimension (filled in by the estimator).
    n_classes : int
        Number of outputs: classes of a classifier, targets of a regressor
        (filled in by the estimator).
    hidden_sizes : sequence of int, default=()
        Hidden layers before the output layer.
    activation : str or nn.Module class, default="relu"
        Non-linearity of the hidden layers.
    dropout : float, default=0.0
        Dropout after each hidden activation.

    Examples
    --------
    >>> import torch
    >>> LabelHead(8, 3)(torch.zeros(4, 8)).shape
    torch.Size([4, 3])
    """

    def __init__(self, in_features: int, n_classes: int, hidden_sizes: Sequence[int] = (),
                 activation="relu", dropout: float = 0.0) -> None:
        super().__init__()
        layers = _mlp(in_features, hidden_sizes, activation, dropout)
        width = int(hidden_sizes[-1]) if len(hidden_sizes) else in_features
        self.net = nn.Sequential(*layers, nn.Linear(width, n_classes))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """Return class logits of shape ``(n, n_classes)``.

        Parameters
        ----------
        z : torch.Tensor
            Features.

        Returns
        -------
        torch.Tensor
            Logits.
        """
        return self.net(z)


class DomainHead(nn.Module):
    """Default domain classifier: an MLP ending in ONE logit (target vs source).

    A single logit trained with binary cross-entropy. (A softmax over one
    unit is constantly 1 and trains nothing: a defect measured in a peer
    library.) With ``n_outputs > 1`` (one logit per domain, to tell several
    domains apart) it ends in ``n_outputs`` logits for a cross-entropy.

    Parameters
    ----------
    in_features : int
        Width of the head's input (filled in by the estimator: the feature
        dimension, or what the adversary feeds the head).
    hidden_sizes : sequence of int, default=(64,)
        Hidden layers before the output logit.
    activation : str or nn.Module class, default="relu"
        Non-linearity of the hidden layers.
    dropout : float, default=0.0
        Dropout after each hidden activation.
    n_outputs : int, default=1
        Number of logits (filled in by the estimator).

    Examples
    --------
    >>> import torch
    >>> DomainHead(8)(torch.zeros(4, 8)).shape
    torch.Size([4])
    >>> DomainHead(8, n_outputs=3)(torch.zeros(4, 8)).shape
    torch.Size([4, 3])
    """

    def __init__(self, in_features: int, hidden_sizes: Sequence[int] = (64,),
                 activation="relu", dropout: float = 0.0, n_outputs: int = 1) -> None:
        super().__init__()
        layers = _mlp(in_features, hidden_sizes, activation, dropout)
        width = int(hidden_sizes[-1]) if len(hidden_sizes) else in_features
        self.n_outputs = int(n_outputs)
        self.net = nn.Sequential(*layers, nn.Linear(width, self.n_outputs))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """Return the domain logits: shape ``(n,)`` (positive means "target"), or ``(n, n_outputs)``.

        Parameters
        ----------
        z : torch.Tensor
            Features (already through the gradient reversal layer).

        Returns
        -------
        torch.Tensor
            Domain logits.
        """
        out = self.net(z)
        return out.reshape(-1) if self.n_outputs == 1 else out


class Standardize(nn.Module):
    """Subtract a mean and divide by a scale, per feature or per image channel.

    The first layer of :class:`DANNModule` when the estimator standardises
    its inputs (``standardize=True``): the statistics are computed on the
    rows of both domains at fit time and stored as buffers, so they travel
    with the model (pickles, devices) and apply in prediction too. The
    identity until :meth:`set_statistics` is called.

    Parameters
    ----------
    shape : tuple of int
        Shape of one input row: ``(n_features,)`` or ``(C, H, W)``.

    Examples
    --------
    >>> import torch
    >>> s = Standardize((2,))
    >>> s.set_statistics(torch.tensor([1.0, 2.0]), torch.tensor([2.0, 4.0]))
    >>> s(torch.tensor([[3.0, 6.0]]))
    tensor([[1., 1.]])
    """

    def __init__(self, shape: Sequence[int]) -> None:
        super().__init__()
        # One value per feature, or per channel broadcast over (H, W).
        stat_shape = (int(shape[0]),) if len(shape) == 1 else (int(shape[0]), 1, 1)
        self.register_buffer("mean", torch.zeros(stat_shape))
        self.register_buffer("scale", torch.ones(stat_shape))
        self.active = False

    def set_statistics(self, mean: torch.Tensor, scale: torch.Tensor) -> None:
        """Store per-feature (or per-channel) ``mean`` and ``scale`` and switch on.

        Zero scales (constant features) are replaced by 1.
        """
        scale = torch.where(scale > 0, scale, torch.ones_like(scale))
        self.mean.copy_(mean.reshape(self.mean.shape))
        self.scale.copy_(scale.reshape(self.scale.shape))
        self.active = True

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return ``(x - mean) / scale`` (``x`` unchanged while inactive)."""
        if not self.active:
            return x
        return (x - self.mean) / self.scale


class DANNModule(nn.Module):
    """The parts of DANN in one module.

    The training loop (:class:`skdann.DANNNet`) calls :meth:`features` on a
    whole batch (source rows first, then target rows), the label head on the
    labelled rows and :meth:`domain_logits` on what the adversary makes of the
    features; ``forward`` is what prediction uses.

    Parameters
    ----------
    extractor : nn.Module
        Feature extractor ``G_f``; its output is flattened to 2-D.
    label_head : nn.Module
        Label predictor ``G_y`` on the features (one output per class, or per
        regression target).
    domain_head : nn.Module
        Domain classifier ``G_d``, fed through ``grl``.
    input_shape : tuple of int, optional
        Shape of one input row; when given, a :class:`Standardize` layer is
        put in front of the extractor (inactive until its statistics are set).

    Attributes
    ----------
    grl : GradientReversal
        The gradient reversal layer; its ``lambda_`` follows the schedule.
    standardize : Standardize or None
        Input standardisation, when ``input_shape`` was given.

    Examples
    --------
    >>> import torch
    >>> m = DANNModule(MLPExtractor(2, (4,)), LabelHead(4, 3), DomainHead(4))
    >>> z = m.features(torch.zeros(5, 2))
    >>> m.label_head(z).shape, m.domain_logits(z).shape
    (torch.Size([5, 3]), torch.Size([5]))
    """

    def __init__(self, extractor: nn.Module, label_head: nn.Module, domain_head: nn.Module,
                 input_shape: Sequence[int] | None = None) -> None:
        super().__init__()
        self.standardize = None if input_shape is None else Standardize(input_shape)
        self.extractor = extractor
        self.label_head = label_head
        self.domain_head = domain_head
        self.grl = GradientReversal(0.0)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Return the extractor's features, flattened to ``(n, d)``.

        Parameters
        ----------
        x : torch.Tensor
            Input batch.

        Returns
        -------
        torch.Tensor
            Features.
        """
        if self.standardize is not None:
            x = self.standardize(x)
        return self.extract(x)

    def extract(self, x: torch.Tensor) -> torch.Tensor:
        """The extractor's features of already standardized input, flattened to ``(n, d)``.

        Parameters
        ----------
        x : torch.Tensor
            Input batch, after ``standardize`` (the input itself without it).

        Returns
        -------
        torch.Tensor
            Features.
        """
        z = self.extractor(x)
        if not isinstance(z, torch.Tensor):
            raise TypeError(
                f"The extractor must return one tensor of features, got {type(z).__name__}; "
                "wrap it so that forward() returns only the features."
            )
        return z.reshape(z.shape[0], -1) if z.dim() != 2 else z

    def domain_logits(self, h: torch.Tensor) -> torch.Tensor:
        """Return the domain head's logits of ``h`` (the adversary's input), through the GRL.

        Parameters
        ----------
        h : torch.Tensor
            Input of the domain head.

        Returns
        -------
        torch.Tensor
            One logit per row (positive means "target"), or one per domain.
        """
        out = self.domain_head(self.grl(h))
        # A head ending in Linear(..., 1) gives (n, 1): one logit per row.
        return out.reshape(-1) if out.dim() == 2 and out.shape[1] == 1 else out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Label head outputs of ``x`` (what prediction uses).

        Parameters
        ----------
        x : torch.Tensor
            Input batch.

        Returns
        -------
        torch.Tensor
            Logits (classification) or predictions (regression).
        """
        return self.label_head(self.features(x))
