"""The adversary: what the domain head sees of a batch, and how its rows count.

DANN feeds the domain head the features; CDAN (Long et al., 2018) feeds it
the multilinear map of the features and the predicted class probabilities,
so that the alignment is conditioned on the classes, and CDAN+E weights each
row by the certainty of its prediction. A new adversarial loss is one
subclass of :class:`Adversary` in this file (or in user code), passed as
``adversary=`` to the estimator.

An adversary is a ``torch.nn.Module`` so that whatever state it keeps (the
random matrices of randomized CDAN) moves to the device and is pickled with
the network; it has no trainable parameters of its own.
"""

from __future__ import annotations

import math

import torch
from torch import nn

__all__ = ["Adversary", "DANNAdversary", "CDANAdversary", "resolve_adversary"]


class Adversary(nn.Module):
    """Base class of the adversaries: override the steps that differ.

    The training loop calls, every step and in this order,
    :meth:`head_input` (the domain head's input, before the gradient
    reversal layer) and :meth:`row_weights` (relative weights of the rows in
    the domain loss, or ``None`` for equal weights). :meth:`build` is called
    once, when the network is built, and tells the domain head's input width.

    Attributes
    ----------
    uses_predictions : bool
        Whether :meth:`head_input` or :meth:`row_weights` read the label
        head's outputs; then the label head also runs on the unlabelled
        target rows of each batch.
    needs_classes : bool
        Whether the adversary needs class probabilities (not usable by a
        regressor).

    Examples
    --------
    >>> import torch
    >>> class Detached(Adversary):
    ...     '''Align only the first half of the features.'''
    ...     def build(self, n_features, n_outputs):
    ...         return n_features // 2
    ...     def head_input(self, features, label_outputs):
    ...         return features[:, : features.shape[1] // 2]
    >>> Detached().head_input(torch.zeros(3, 8), None).shape
    torch.Size([3, 4])
    """

    uses_predictions = False
    needs_classes = False

    def build(self, n_features: int, n_outputs: int) -> int:
        """Prepare for a network of these widths; return the domain head's input width.

        Parameters
        ----------
        n_features : int
            Width of the extractor's features.
        n_outputs : int
            Outputs of the label head (classes, or regression targets).

        Returns
        -------
        int
            ``n_features`` by default.
        """
        return n_features

    def head_input(self, features: torch.Tensor, label_outputs: torch.Tensor | None) -> torch.Tensor:
        """The domain head's input for a batch (before the gradient reversal layer).

        Parameters
        ----------
        features : torch.Tensor
            Features of every row of the batch, ``(n, n_features)``.
        label_outputs : torch.Tensor or None
            Label head outputs of every row when :attr:`uses_predictions`,
            else ``None``.

        Returns
        -------
        torch.Tensor
            ``features`` by default.
        """
        return features

    def row_weights(self, label_outputs: torch.Tensor | None) -> torch.Tensor | None:
        """Relative weights of the rows in the domain loss, or ``None`` (equal).

        The loop rescales them so that the source and the target rows still
        weigh half each.

        Parameters
        ----------
        label_outputs : torch.Tensor or None
            As in :meth:`head_input`.

        Returns
        -------
        torch.Tensor or None
            ``None`` by default.
        """
        return None

    def forward(self, features: torch.Tensor, label_outputs: torch.Tensor | None = None):
        """Return :meth:`head_input` (so that the adversary is a usable module)."""
        return self.head_input(features, label_outputs)


class DANNAdversary(Adversary):
    """DANN's adversary (Ganin et al., 2016): the domain head sees the features.

    Examples
    --------
    >>> import torch
    >>> z = torch.randn(4, 3)
    >>> bool(torch.equal(DANNAdversary().head_input(z, None), z))
    True
    """


class CDANAdversary(Adversary):
    """Conditional adversary (CDAN, Long et al., NeurIPS 2018).

    The domain head sees the multilinear map ``f ⊗ g`` of the features
    ``f`` and the predicted class probabilities ``g`` (detached, as in the
    authors' code): aligning these joint statistics aligns the features
    class by class, which plain DANN cannot do when classes move
    differently. When ``n_features · n_classes`` exceeds
    ``max_map_features``, the map is randomized: ``(f R_f) ⊙ (g R_g) /
    sqrt(d)`` with fixed Gaussian matrices of ``d = random_dim`` columns.

    Parameters
    ----------
    entropy : bool, default=False
        CDAN+E: weight each row by ``1 + exp(-H(g))``, so that rows with
        confident predictions count more in the domain loss.
    max_map_features : int, default=4096
        Largest full multilinear map; above it the map is randomized.
    random_dim : int, default=1024
        Width of the randomized map.

    Examples
    --------
    >>> import torch
    >>> cdan = CDANAdversary()
    >>> cdan.build(8, 3)
    24
    >>> cdan.head_input(torch.ones(2, 8), torch.zeros(2, 3)).shape
    torch.Size([2, 24])
    """

    uses_predictions = True
    needs_classes = True

    def __init__(self, entropy: bool = False, max_map_features: int = 4096,
                 random_dim: int = 1024) -> None:
        super().__init__()
        if int(max_map_features) < 1 or int(random_dim) < 1:
            raise ValueError("max_map_features and random_dim must be positive integers.")
        self.entropy = bool(entropy)
        self.max_map_features = int(max_map_features)
        self.random_dim = int(random_dim)
        # Drawn by build() when the map is randomized; buffers, so that they
        # move to the device and are saved with the network.
        self.register_buffer("random_features", None)
        self.register_buffer("random_classes", None)

    def build(self, n_features: int, n_outputs: int) -> int:
        """``n_features · n_classes``, or ``random_dim`` (drawing the random matrices)."""
        if n_features * n_outputs <= self.max_map_features:
            return n_features * n_outputs
        # Drawn from torch's global generator, which the estimator seeds.
        self.register_buffer("random_features", torch.randn(n_features, self.random_dim))
        self.register_buffer("random_classes", torch.randn(n_outputs, self.random_dim))
        return self.random_dim

    def head_input(self, features, label_outputs):
        """The (possibly randomized) multilinear map of features and class probabilities."""
        g = torch.softmax(label_outputs.float(), dim=1).detach()
        f = features.float()
        if self.random_features is None:
            return (g.unsqueeze(2) * f.unsqueeze(1)).reshape(f.shape[0], -1)
        return (f @ self.random_features) * (g @ self.random_classes) / math.sqrt(self.random_dim)

    def row_weights(self, label_outputs):
        """CDAN+E's certainty weights ``1 + exp(-H(g))``, or ``None`` without ``entropy``."""
        if not self.entropy:
            return None
        p = torch.softmax(label_outputs.float(), dim=1).detach()
        entropy = -(p * torch.log(p.clamp_min(1e-12))).sum(dim=1)
        return 1.0 + torch.exp(-entropy)


_NAMED = {"dann": (DANNAdversary, {}), "cdan": (CDANAdversary, {}),
          "cdan+e": (CDANAdversary, {"entropy": True})}


def resolve_adversary(spec, kwargs: dict) -> Adversary:
    """Build the adversary that the ``adversary`` parameter names.

    Parameters
    ----------
    spec : {"dann", "cdan", "cdan+e"}, Adversary class or instance
        What the estimator was given.
    kwargs : dict
        The routed ``adversary__*`` parameters.

    Returns
    -------
    Adversary
        A new instance (an instance given is copied by the caller).

    Examples
    --------
    >>> resolve_adversary("cdan+e", {}).entropy
    True
    """
    if isinstance(spec, str):
        try:
            cls, defaults = _NAMED[spec.lower()]
        except KeyError:
            raise ValueError(
                f"adversary must be one of {sorted(_NAMED)}, an Adversary subclass or instance; "
                f"got {spec!r}."
            ) from None
        return cls(**{**defaults, **kwargs})
    if isinstance(spec, Adversary):
        if kwargs:
            raise ValueError(
                f"adversary__* parameters ({sorted(kwargs)}) were given but adversary is an "
                "instance; pass its class instead so the parameters can be applied."
            )
        return spec
    if isinstance(spec, type) and issubclass(spec, Adversary):
        return spec(**kwargs)
    raise TypeError(
        f"adversary must be one of {sorted(_NAMED)}, an Adversary subclass or instance; got {spec!r}."
    )
