"""Gradient reversal layer (Ganin & Lempitsky, 2015; Ganin et al., 2016)."""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["GradientReversal", "GradientReversalFunction", "grad_reverse"]


class GradientReversalFunction(torch.autograd.Function):
    """Identity on the forward pass, ``-lambda_ * grad`` on the backward pass.

    Written with the static ``forward``/``backward`` + ``ctx`` API; the legacy
    ``Function.__init__`` style no longer runs on current PyTorch.

    Examples
    --------
    >>> import torch
    >>> x = torch.tensor([1.0, 2.0], requires_grad=True)
    >>> GradientReversalFunction.apply(x, 3.0).sum().backward()
    >>> x.grad
    tensor([-3., -3.])
    """

    @staticmethod
    def forward(ctx, x: torch.Tensor, lambda_: float) -> torch.Tensor:
        """Return ``x`` (as a view) and remember ``lambda_`` for the backward pass."""
        ctx.lambda_ = lambda_
        # A view, not ``x`` itself: autograd must see a new node to attach
        # our backward to.
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad_output: torch.Tensor):
        """Return ``-lambda_ * grad_output`` for ``x`` and no gradient for ``lambda_``."""
        # ``-0.0 * g`` added to another gradient leaves it bit-identical, so
        # lambda_=0 is exactly "no domain gradient reaches the extractor".
        return grad_output * (-ctx.lambda_), None


def grad_reverse(x: torch.Tensor, lambda_: float = 1.0) -> torch.Tensor:
    """Apply gradient reversal to ``x``.

    Parameters
    ----------
    x : torch.Tensor
        Input tensor.
    lambda_ : float, default=1.0
        Coefficient of the reversed gradient.

    Returns
    -------
    torch.Tensor
        A tensor equal to ``x`` whose gradient is multiplied by ``-lambda_``.

    Examples
    --------
    >>> import torch
    >>> x = torch.ones(2, requires_grad=True)
    >>> grad_reverse(x, 0.5).sum().backward()
    >>> x.grad
    tensor([-0.5000, -0.5000])
    """
    return GradientReversalFunction.apply(x, float(lambda_))


class GradientReversal(nn.Module):
    """Gradient reversal layer.

    The identity in the forward pass; in the backward pass the incoming
    gradient is multiplied by ``-lambda_``. Placed between the feature
    extractor and the domain classifier, it lets one optimizer train the
    domain classifier to separate the domains while the extractor learns to
    confuse it.

    Parameters
    ----------
    lambda_ : float, default=1.0
        Coefficient of the reversed gradient. A plain attribute: change it
        between optimisation steps to follow a schedule.

    Examples
    --------
    >>> import torch
    >>> grl = GradientReversal(lambda_=2.0)
    >>> x = torch.tensor([1.0, 2.0], requires_grad=True)
    >>> y = grl(x)
    >>> y.sum().backward()
    >>> y.detach(), x.grad
    (tensor([1., 2.]), tensor([-2., -2.]))
    >>> grl.lambda_ = 0.5  # e.g. from a schedule
    """

    def __init__(self, lambda_: float = 1.0) -> None:
        super().__init__()
        self.lambda_ = float(lambda_)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return ``x`` unchanged, reversing its gradient in the backward pass.

        Parameters
        ----------
        x : torch.Tensor
            Input tensor.

        Returns
        -------
        torch.Tensor
            ``x`` (as a view).
        """
        return GradientReversalFunction.apply(x, self.lambda_)

    def extra_repr(self) -> str:
        """Show ``lambda_`` in the module's repr."""
        return f"lambda_={self.lambda_:g}"
