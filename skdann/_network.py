"""The DANN network: feature extractor, label head, domain head behind a GRL."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from ._grl import GradientReversal

__all__ = ["MLPExtractor", "CNNExtractor", "LabelHead", "DomainHead", "DANNModule"]

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
        Number of input features (filled in by ``DANNClassifier``).
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
        ``(channels, height, width)`` (filled in by ``DANNClassifier``).
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
    """Default label predictor: an optional MLP ending in one logit per class.

    Parameters
    ----------
    in_features : int
        Feature dimension (filled in by ``DANNClassifier``).
    n_classes : int
        Number of classes (filled in by ``DANNClassifier``).
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
    library.)

    Parameters
    ----------
    in_features : int
        Feature dimension (filled in by ``DANNClassifier``).
    hidden_sizes : sequence of int, default=(64,)
        Hidden layers before the output logit.
    activation : str or nn.Module class, default="relu"
        Non-linearity of the hidden layers.
    dropout : float, default=0.0
        Dropout after each hidden activation.

    Examples
    --------
    >>> import torch
    >>> DomainHead(8)(torch.zeros(4, 8)).shape
    torch.Size([4])
    """

    def __init__(self, in_features: int, hidden_sizes: Sequence[int] = (64,),
                 activation="relu", dropout: float = 0.0) -> None:
        super().__init__()
        layers = _mlp(in_features, hidden_sizes, activation, dropout)
        width = int(hidden_sizes[-1]) if len(hidden_sizes) else in_features
        self.net = nn.Sequential(*layers, nn.Linear(width, 1))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """Return one logit per row, shape ``(n,)``; positive means "target".

        Parameters
        ----------
        z : torch.Tensor
            Features (already through the gradient reversal layer).

        Returns
        -------
        torch.Tensor
            Domain logits.
        """
        return self.net(z).reshape(-1)


class DANNModule(nn.Module):
    """The three parts of DANN in one module.

    Parameters
    ----------
    extractor : nn.Module
        Feature extractor ``G_f``; its output is flattened to 2-D.
    label_head : nn.Module
        Label predictor ``G_y`` on the features (one logit per class).
    domain_head : nn.Module
        Domain classifier ``G_d`` (one logit per row), fed through ``grl``.

    Attributes
    ----------
    grl : GradientReversal
        The gradient reversal layer; its ``lambda_`` follows the schedule.

    Examples
    --------
    >>> import torch
    >>> m = DANNModule(MLPExtractor(2, (4,)), LabelHead(4, 3), DomainHead(4))
    >>> label_logits, domain_logits = m(torch.zeros(5, 2), torch.zeros(7, 2))
    >>> label_logits.shape, domain_logits.shape
    (torch.Size([5, 3]), torch.Size([12]))
    """

    def __init__(self, extractor: nn.Module, label_head: nn.Module, domain_head: nn.Module) -> None:
        super().__init__()
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
        z = self.extractor(x)
        return z.reshape(z.shape[0], -1) if z.dim() != 2 else z

    def domain_logits(self, z: torch.Tensor) -> torch.Tensor:
        """Return domain logits of features ``z`` (through the GRL).

        Parameters
        ----------
        z : torch.Tensor
            Features.

        Returns
        -------
        torch.Tensor
            One logit per row; positive means "target".
        """
        return self.domain_head(self.grl(z)).reshape(-1)

    def forward(self, x: torch.Tensor, x_target: torch.Tensor | None = None):
        """Label logits of ``x``; with ``x_target``, also domain logits of both.

        Parameters
        ----------
        x : torch.Tensor
            Source (or any) batch.
        x_target : torch.Tensor, optional
            Target batch. Source and target go through the extractor as one
            concatenated batch, as in the paper's implementation.

        Returns
        -------
        torch.Tensor or tuple of torch.Tensor
            ``label_logits`` of ``x``; with ``x_target``, ``(label_logits,
            domain_logits)`` where ``domain_logits`` covers ``x`` then
            ``x_target``.
        """
        if x_target is None:
            return self.label_head(self.features(x))
        z = self.features(torch.cat([x, x_target], dim=0))
        return self.label_head(z[: x.shape[0]]), self.domain_logits(z)
