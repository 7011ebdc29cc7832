"""DANNRegressor: DANN for continuous targets, with NaN marking unlabelled target rows."""

import numpy as np
import pytest
from sklearn.base import clone

from skdann import DANNRegressor


@pytest.fixture(scope="module")
def shifted_regression():
    """y = sin(x0) + x1 on source rows around 0, target rows shifted to around 1."""
    rng = np.random.RandomState(0)
    Xs = rng.normal(0.0, 1.0, (300, 3))
    Xt = rng.normal(1.0, 1.0, (300, 3))

    def f(X):
        return np.sin(X[:, 0]) + X[:, 1]
    return Xs, f(Xs), Xt, f(Xt)


FAST = {"max_epochs": 20, "batch_size": 64, "random_state": 0}


def test_the_three_forms_give_the_same_model_and_nan_marks_target_rows(shifted_regression):
    Xs, ys, Xt, _ = shifted_regression
    X, y = np.vstack([Xs, Xt]), np.r_[ys, np.full(len(Xt), np.nan)]
    sd = np.r_[np.ones(len(Xs), int), -np.ones(len(Xt), int)]
    a = DANNRegressor(**FAST).fit(Xs, ys, Xt)
    b = DANNRegressor(**FAST).fit(X, y)
    c = DANNRegressor(**FAST).fit(X, y, sample_domain=sd)
    np.testing.assert_array_equal(a.predict(Xt), b.predict(Xt))
    np.testing.assert_array_equal(a.predict(Xt), c.predict(Xt))
    assert a.n_target_ == 300 and a.history_[-1, "domain_acc"] > 0


def test_predictions_are_in_the_units_of_y_and_score_is_r2(shifted_regression):
    Xs, ys, Xt, yt = shifted_regression
    reg = DANNRegressor(**FAST).fit(Xs, 1000 * ys + 5000, Xt)
    pred = reg.predict(Xt)
    assert pred.shape == (300,) and abs(np.mean(pred) - np.mean(1000 * yt + 5000)) < 500
    r2 = reg.score(Xt, 1000 * yt + 5000)
    assert r2 == pytest.approx(1 - np.sum((1000 * yt + 5000 - pred) ** 2)
                               / np.sum((1000 * yt + 5000 - np.mean(1000 * yt + 5000)) ** 2))
    assert r2 > 0.5
    unscaled = DANNRegressor(scale_y=False, **FAST).fit(Xs, ys, Xt)
    assert np.all(unscaled.y_mean_ == 0) and np.all(unscaled.y_scale_ == 1)


def test_several_targets_come_back_in_the_shape_of_y(shifted_regression):
    Xs, ys, Xt, yt = shifted_regression
    Y = np.c_[ys, -2 * ys]
    reg = DANNRegressor(**FAST).fit(Xs, Y, Xt)
    assert reg.n_targets_ == 2 and reg.predict(Xt).shape == (300, 2)
    column = DANNRegressor(**FAST).fit(Xs, ys[:, None], Xt)
    assert column.predict(Xt).shape == (300, 1)


def test_rows_with_only_some_targets_missing_are_an_error(shifted_regression):
    Xs, ys, Xt, _ = shifted_regression
    Y = np.c_[ys, ys]
    Y[0, 1] = np.nan
    with pytest.raises(ValueError, match="only some targets are NaN"):
        DANNRegressor().fit(Xs, Y, Xt)
    with pytest.raises(ValueError, match="y contains NaN"):
        DANNRegressor(**FAST).fit(Xs, ys, Xt).score(Xt, np.full(300, np.nan))


def test_conditional_adversaries_need_a_classifier(shifted_regression):
    with pytest.raises(ValueError, match="needs a classifier"):
        DANNRegressor(adversary="cdan").fit(*shifted_regression[:3])


def test_any_torch_loss_as_criterion(shifted_regression):
    import torch

    Xs, ys, Xt, _ = shifted_regression
    mse = DANNRegressor(**FAST).fit(Xs, ys, Xt)
    huber = DANNRegressor(criterion=torch.nn.HuberLoss, criterion__delta=0.1, **FAST).fit(Xs, ys, Xt)
    assert not np.allclose(mse.predict(Xt), huber.predict(Xt))
    assert clone(huber).get_params()["criterion__delta"] == 0.1


def test_labelled_target_rows_train_the_regressor(shifted_regression):
    Xs, ys, Xt, yt = shifted_regression
    y = np.r_[ys, np.full(len(Xt), np.nan)]
    y[300:330] = yt[:30]  # 30 labelled target rows
    sd = np.r_[np.ones(300, int), -np.ones(300, int)]
    reg = DANNRegressor(**FAST).fit(np.vstack([Xs, Xt]), y, sample_domain=sd)
    assert reg.net_.layout_.n_labelled == 64 + 30
