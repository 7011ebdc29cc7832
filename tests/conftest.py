"""Shared fixtures: small data, one torch thread, fixed seeds."""

import numpy as np
import pytest
import torch

from skdann.datasets import make_domain_moons

# On 2 cores small networks train faster with one thread than two.
torch.set_num_threads(1)


@pytest.fixture(scope="session")
def moons():
    """The paper's toy: (Xs, ys, Xt, yt) with the target rotated 35 degrees."""
    return make_domain_moons(angle=35, random_state=0)


@pytest.fixture(scope="session")
def moons_stacked(moons):
    """Moons as one stacked (X, y) with target rows marked -1."""
    Xs, ys, Xt, _ = moons
    return np.vstack([Xs, Xt]), np.r_[ys, np.full(len(Xt), -1)]


@pytest.fixture(scope="session")
def blobs():
    """Three-class tabular data with a shifted target: (Xs, ys, Xt, yt)."""
    rng = np.random.RandomState(0)
    centres = np.array([[0, 0, 0, 0], [3, 0, 0, 0], [0, 3, 0, 0]], dtype=float)
    ys = rng.randint(0, 3, 120)
    yt = rng.randint(0, 3, 90)
    Xs = centres[ys] + rng.normal(size=(120, 4))
    Xt = centres[yt] + rng.normal(size=(90, 4)) + [0.5, 0.5, 1.0, 0.0]
    return Xs, ys, Xt, yt


@pytest.fixture
def fast():
    """Keyword arguments for short, deterministic fits."""
    return {"max_epochs": 3, "batch_size": 32, "random_state": 0}
