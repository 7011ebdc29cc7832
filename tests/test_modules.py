"""Default network parts: shapes, sizing, and the single domain logit."""

import pytest
import torch
from torch import nn

from skdann import CNNExtractor, DANNModule, DomainHead, LabelHead, MLPExtractor, Standardize


def test_mlp_extractor_output_width_is_the_last_hidden_size():
    ext = MLPExtractor(5, hidden_sizes=(7, 3), activation="tanh", dropout=0.1)
    assert ext.out_features == 3
    assert ext(torch.zeros(4, 5)).shape == (4, 3)
    assert any(isinstance(m, nn.Dropout) for m in ext.modules())


def test_mlp_extractor_rejects_unknown_activation_and_no_layers():
    with pytest.raises(ValueError, match="activation"):
        MLPExtractor(2, activation="swish2")
    with pytest.raises(ValueError, match="hidden layer"):
        MLPExtractor(2, hidden_sizes=())


def test_domain_head_ends_in_one_logit_that_is_not_constant():
    head = DomainHead(4)
    out = head(torch.randn(6, 4))
    assert out.shape == (6,)
    assert out.std() > 0  # a softmax over one unit would be constant 1


def test_label_head_gives_one_logit_per_class():
    assert LabelHead(4, 5, hidden_sizes=(8,))(torch.zeros(2, 4)).shape == (2, 5)


def test_cnn_extractor_is_the_papers_mnist_network_on_28x28():
    cnn = CNNExtractor((1, 28, 28))
    convs = [m for m in cnn.modules() if isinstance(m, nn.Conv2d)]
    assert [(c.in_channels, c.out_channels, c.kernel_size, c.padding) for c in convs] == [
        (1, 32, (5, 5), (0, 0)), (32, 48, (5, 5), (0, 0))]
    assert cnn.out_features == 48 * 4 * 4
    assert cnn(torch.zeros(2, 1, 28, 28)).shape == (2, 768)


def test_cnn_extractor_pads_small_images_and_accepts_colour():
    cnn = CNNExtractor((3, 8, 8))
    assert cnn.padding == "same"
    assert cnn(torch.zeros(2, 3, 8, 8)).shape == (2, cnn.out_features)


def test_cnn_extractor_rejects_images_too_small_even_when_padded():
    with pytest.raises(ValueError, match="too small"):
        CNNExtractor((1, 3, 3))


def test_module_predicts_labels_and_gives_one_domain_logit_per_row():
    m = DANNModule(MLPExtractor(2, (4,)), LabelHead(4, 3), DomainHead(4))
    assert m(torch.zeros(5, 2)).shape == (5, 3)
    assert m.domain_logits(m.features(torch.ones(7, 2))).shape == (7,)
    several = DANNModule(MLPExtractor(2, (4,)), LabelHead(4, 3), DomainHead(4, n_outputs=3))
    assert several.domain_logits(several.features(torch.ones(7, 2))).shape == (7, 3)


def test_standardize_layer_applies_stored_statistics_and_travels_with_the_module():
    m = DANNModule(MLPExtractor(2, (4,)), LabelHead(4, 2), DomainHead(4), input_shape=(2,))
    x = torch.tensor([[3.0, 5.0]])
    before = m.features(x)
    m.standardize.set_statistics(torch.tensor([3.0, 5.0]), torch.tensor([2.0, 0.0]))
    assert torch.equal(m.standardize(x), torch.zeros(1, 2))  # zero scale counts as 1
    assert not torch.equal(m.features(x), before)
    assert {"standardize.mean", "standardize.scale"} <= set(m.state_dict())
    images = Standardize((3, 4, 4))
    images.set_statistics(torch.tensor([0.0, 1.0, 2.0]), torch.ones(3))
    assert images(torch.ones(1, 3, 4, 4))[0, :, 0, 0].tolist() == [1.0, 0.0, -1.0]


def test_an_extractor_returning_a_tuple_is_a_clear_error():
    class Pair(torch.nn.Module):
        def forward(self, x):
            return x, x

    m = DANNModule(Pair(), LabelHead(2, 2), DomainHead(2))
    with pytest.raises(TypeError, match="one tensor"):
        m.features(torch.zeros(3, 2))


def test_module_reverses_only_the_gradient_into_the_extractor():
    torch.manual_seed(0)
    m = DANNModule(MLPExtractor(2, (4,)), LabelHead(4, 2), DomainHead(4, hidden_sizes=()))
    x = torch.randn(3, 2)

    def grads(lambda_):
        m.zero_grad()
        m.grl.lambda_ = lambda_
        m.domain_logits(m.features(x)).sum().backward()
        return ([p.grad.clone() for p in m.extractor.parameters()],
                m.domain_head.net[0].weight.grad.clone())

    ext_zero, head_zero = grads(0.0)
    assert all(torch.count_nonzero(g) == 0 for g in ext_zero)
    ext_two, head_two = grads(2.0)
    ext_one, _ = grads(1.0)
    # the extractor gets -λ times the gradient; the domain head its own, unreversed
    assert all(torch.allclose(a, 2 * b) for a, b in zip(ext_two, ext_one))
    assert torch.equal(head_zero, head_two) and torch.count_nonzero(head_two) > 0
    z = m.features(x).detach().requires_grad_(True)
    m.domain_head(z).sum().backward()  # without the GRL
    m.zero_grad()
    m.grl.lambda_ = 1.0
    z2 = m.features(x)
    z2.retain_grad()
    m.domain_logits(z2).sum().backward()
    assert torch.allclose(z2.grad, -z.grad)
