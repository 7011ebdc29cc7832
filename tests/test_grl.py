"""GradientReversal: identity forward, -lambda * gradient backward."""

import pytest
import torch

from skdann import GradientReversal, grad_reverse


def _textbook(lambda_):
    x = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = torch.tensor([4.0, 5.0, 6.0], requires_grad=True)
    f = x**2 + y**2 + x + y
    s = 6 * f.sum()
    s = GradientReversal(lambda_)(s)
    s.backward()
    return s, x.grad, y.grad


def test_textbook_example_is_reproduced_exactly():
    s, gx, gy = _textbook(1.0)
    assert s.item() == 672.0
    assert torch.equal(gx, torch.tensor([-18.0, -30.0, -42.0]))
    assert torch.equal(gy, torch.tensor([-54.0, -66.0, -78.0]))


def test_half_lambda_halves_the_gradients_and_keeps_the_output():
    s, gx, gy = _textbook(0.5)
    assert s.item() == 672.0
    assert torch.equal(gx, torch.tensor([-9.0, -15.0, -21.0]))
    assert torch.equal(gy, torch.tensor([-27.0, -33.0, -39.0]))


def test_lambda_can_change_between_steps():
    grl = GradientReversal(1.0)
    x = torch.ones(3, requires_grad=True)
    grl(x).sum().backward()
    assert torch.equal(x.grad, -torch.ones(3))
    x.grad = None
    grl.lambda_ = 3.0
    grl(x).sum().backward()
    assert torch.equal(x.grad, torch.full((3,), -3.0))


def test_zero_lambda_adds_exactly_nothing_to_another_gradient():
    x = torch.tensor([0.1, 0.2, 0.3], requires_grad=True)
    (x.sin().sum() + GradientReversal(0.0)(x).exp().sum()).backward()
    assert torch.equal(x.grad, x.detach().cos())


def test_forward_is_the_identity_on_any_shape():
    x = torch.randn(2, 3, 4)
    assert torch.equal(GradientReversal(2.0)(x), x)
    assert torch.equal(grad_reverse(x, 2.0), x)


@pytest.mark.parametrize("lambda_", [0.0, 0.3, 1.0, 6.0])
def test_gradcheck_against_the_analytic_gradient(lambda_):
    x = torch.randn(5, dtype=torch.float64, requires_grad=True)
    (grad_reverse(x, lambda_) * torch.arange(5.0, dtype=torch.float64)).sum().backward()
    assert torch.allclose(x.grad, -lambda_ * torch.arange(5.0, dtype=torch.float64))
