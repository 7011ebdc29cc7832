"""The adversary: what the domain head sees (DANN, CDAN, CDAN+E, user subclasses)."""

import numpy as np
import pytest
import torch

from skdann import Adversary, CDANAdversary, DANNAdversary, DANNClassifier
from skdann._adversary import resolve_adversary


def test_dann_feeds_the_features_unchanged():
    z = torch.randn(5, 4)
    assert torch.equal(DANNAdversary().head_input(z, None), z)
    assert DANNAdversary().build(4, 3) == 4 and DANNAdversary().row_weights(None) is None


def test_cdan_feeds_the_outer_product_of_probabilities_and_features():
    f = torch.tensor([[1.0, 2.0]])
    logits = torch.tensor([[0.0, np.log(3.0)]])  # probabilities 0.25, 0.75
    cdan = CDANAdversary()
    assert cdan.build(2, 2) == 4
    h = cdan.head_input(f, logits)
    assert torch.allclose(h, torch.tensor([[0.25, 0.5, 0.75, 1.5]]))
    # the map sees the predictions but sends them no gradient; the features get one
    logits.requires_grad_(True)
    f.requires_grad_(True)
    cdan.head_input(f, logits).sum().backward()
    assert logits.grad is None and f.grad is not None


def test_randomized_cdan_keeps_the_head_small():
    cdan = CDANAdversary(max_map_features=10, random_dim=8)
    assert cdan.build(6, 4) == 8
    assert cdan.head_input(torch.randn(3, 6), torch.randn(3, 4)).shape == (3, 8)
    assert "random_features" in dict(cdan.named_buffers())


def test_cdan_e_weights_confident_rows_more():
    weights = CDANAdversary(entropy=True).row_weights(torch.tensor([[10.0, -10.0], [0.0, 0.0]]))
    assert weights[0] > weights[1] and weights[1] == pytest.approx(1.5)


def test_names_classes_and_instances_resolve():
    assert isinstance(resolve_adversary("dann", {}), DANNAdversary)
    assert resolve_adversary("cdan+e", {}).entropy
    assert resolve_adversary(CDANAdversary, {"entropy": True}).entropy
    with pytest.raises(ValueError, match="instance"):
        resolve_adversary(CDANAdversary(), {"entropy": True})
    with pytest.raises(ValueError, match="adversary must be"):
        resolve_adversary("gan", {})


def test_cdan_trains_end_to_end_with_routed_options(moons, fast):
    clf = DANNClassifier(adversary="cdan", adversary__entropy=True, **fast).fit(*moons[:3])
    assert isinstance(clf.net_.module_.adversary, CDANAdversary)
    assert clf.net_.module_.adversary.entropy
    assert clf.net_.module_.domain_head.net[0].in_features == 64 * 2
    assert clf.predict_domain_proba(moons[2]).shape == (300,)


def test_a_user_adversary_is_one_small_subclass(moons, fast):
    class FirstHalf(Adversary):
        def build(self, n_features, n_outputs):
            return n_features // 2

        def head_input(self, features, label_outputs):
            return features[:, : features.shape[1] // 2]

    clf = DANNClassifier(adversary=FirstHalf(), **fast).fit(*moons[:3])
    assert clf.net_.module_.domain_head.net[0].in_features == 32
