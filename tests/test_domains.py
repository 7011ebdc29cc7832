"""Domains as data: several source domains, labelled target rows, the domain head's labels."""

import numpy as np
import pytest

from skdann import DANNClassifier
from skdann.datasets import make_domain_moons, rotate


@pytest.fixture(scope="module")
def three_sources():
    """Moons rotated 0°, 15° and 30° as three source domains; 45° as the target."""
    Xs, ys, Xt, yt = make_domain_moons(angle=45, random_state=0)
    X = np.vstack([rotate(Xs, a) for a in (0, 15, 30)] + [Xt])
    y = np.r_[ys, ys, ys, np.full(len(Xt), -1)]
    sd = np.r_[np.full(300, 1), np.full(300, 2), np.full(300, 3), np.full(len(Xt), -1)]
    return X, y, sd, Xt, yt


def test_each_source_domain_gets_its_share_of_every_batch(three_sources):
    X, y, sd, _, _ = three_sources
    clf = DANNClassifier(max_epochs=2, batch_size=32, random_state=0).fit(X, y, sample_domain=sd)
    layout = clf.net_.layout_
    assert layout.domains == (1, 2, 3, -1) and layout.counts == (32, 32, 32, 32)
    # pooled: one logit; each source domain weighs a third of the source half
    weights = clf.net_.domain_weights_.numpy()
    assert weights[:32].sum() == pytest.approx(1 / 6) and weights[96:].sum() == pytest.approx(0.5)
    assert clf.domains_ == (1, 2, 3, -1)


def test_per_domain_labels_train_one_logit_per_domain(three_sources):
    X, y, sd, Xt, _ = three_sources
    clf = DANNClassifier(domain_labels="per_domain", max_epochs=2, batch_size=32,
                         random_state=0).fit(X, y, sample_domain=sd)
    proba = clf.predict_domain_proba(Xt)
    assert proba.shape == (len(Xt), 4) and np.allclose(proba.sum(axis=1), 1)
    assert clf.net_.domain_labels_.tolist() == [0] * 32 + [1] * 32 + [2] * 32 + [3] * 32
    with pytest.raises(ValueError, match=r"Domains \[4\] were not seen"):
        clf.partial_fit(X, y, sample_domain=np.where(sd == 3, 4, sd))


@pytest.fixture(scope="module")
def ten_labelled_target_rows(moons):
    """A fit on the moons with 10 of the 300 target rows labelled, batches of 64 per domain."""
    Xs, ys, Xt, yt = moons
    y = np.r_[ys, np.full(len(Xt), -1)]
    y[300:310] = yt[:10]
    sd = np.r_[np.ones(300, int), -np.ones(300, int)]
    return DANNClassifier(max_epochs=1, batch_size=64, random_state=0).fit(
        np.vstack([Xs, Xt]), y, sample_domain=sd)


def test_labelled_target_rows_join_the_label_loss_and_are_oversampled(ten_labelled_target_rows):
    clf = ten_labelled_target_rows
    layout = clf.net_.layout_
    # 64 source rows, all 10 labelled target rows every step, 64 unlabelled target rows
    assert layout.counts == (64, 10, 64) and layout.labelled == (True, True, False)
    assert layout.n_labelled == 74 and clf.n_target_ == 300


def test_labelled_target_rows_weigh_their_share_of_the_target_in_the_domain_loss(
        ten_labelled_target_rows):
    # 10 of the 300 target rows are labelled and drawn every step (10 of the
    # 74 target rows of a batch); the domain head must still see the target
    # as it is: the labelled group weighs 10/300 of the target half, not 10/74.
    weights = ten_labelled_target_rows.net_.domain_weights_.numpy()
    assert weights[:64].sum() == pytest.approx(0.5)
    assert weights[64:74].sum() == pytest.approx(0.5 * 10 / 300)
    assert weights[74:].sum() == pytest.approx(0.5 * 290 / 300)


def test_labelled_target_rows_set_iwdans_class_proportions_where_the_predictions_cannot(moons):
    # The moons' target is balanced, and so are the predictions on it; the 40
    # labelled target rows below are 3/4 class 1. Their labels contradict the
    # predictions far beyond their own sampling noise, so IWDAN follows them,
    # up to a small pull towards the predictions: w_1 a little under 0.74 / 0.5
    # (add-one smoothed). Unlabelled, the same rows give w ≈ 1.
    Xs, ys, Xt, yt = moons
    picked = np.r_[np.flatnonzero(yt == 1)[:30], np.flatnonzero(yt == 0)[:10]]
    sd = np.r_[np.ones(300, int), -np.ones(300, int)]
    params = {"label_shift": "iwdan", "max_epochs": 20, "batch_size": 32, "random_state": 0}
    y = np.r_[ys, np.full(len(Xt), -1)]
    unlabelled = DANNClassifier(**params).fit(np.vstack([Xs, Xt]), y, sample_domain=sd)
    y[300 + picked] = yt[picked]
    labelled = DANNClassifier(**params).fit(np.vstack([Xs, Xt]), y, sample_domain=sd)
    w_unlabelled = unlabelled.net_.class_weights_.numpy()
    w_labelled = labelled.net_.class_weights_.numpy()
    assert np.abs(w_unlabelled - 1).max() < 0.25
    assert 1.3 < w_labelled[1] < 31 / 42 / 0.5 + 0.05
    assert 11 / 42 / 0.5 - 0.05 < w_labelled[0] < 0.7
