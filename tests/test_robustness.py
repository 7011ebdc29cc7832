"""Robustness: hostile inputs get a fitted model or a documented error; faults leave a usable model."""

import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from skorch.callbacks import Callback

from skdann import DANNClassifier, NoTargetDataWarning, TrainingDivergedError

# What a user may see from bad input: our ValueError/TypeError messages.
DOCUMENTED = (ValueError, TypeError)
TINY = {"max_epochs": 1, "batch_size": 8, "random_state": 0,
        "extractor__hidden_sizes": (4,), "domain_head__hidden_sizes": (4,)}


def _fit_or_documented_error(clf, *args):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NoTargetDataWarning)
        try:
            clf.fit(*args)
        except DOCUMENTED as exc:
            assert str(exc), "errors must say what is wrong"
            return None
    return clf


@settings(max_examples=30, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(
    n_classes=st.integers(1, 4),
    per_class=st.lists(st.integers(1, 6), min_size=4, max_size=4),
    n_target=st.integers(0, 7),
    n_features=st.integers(1, 5),
    dtype=st.sampled_from([np.float32, np.float64, np.int64, np.uint8, np.int32]),
    labels=st.sampled_from(["int", "str", "negative", "shifted"]),
    constant=st.booleans(),
    stacked=st.booleans(),
)
def test_any_tabular_input_fits_or_raises_a_documented_error(
        n_classes, per_class, n_target, n_features, dtype, labels, constant, stacked):
    rng = np.random.RandomState(0)
    y_codes = np.repeat(np.arange(n_classes), per_class[:n_classes])
    Xs = (rng.rand(len(y_codes), n_features) * 10).astype(dtype)
    Xt = (rng.rand(n_target, n_features) * 10 + 1).astype(dtype)
    if constant:
        Xs[:, 0] = 3
        Xt[:, 0] = 3
    marker = -1
    if labels == "str":
        y = np.array(["cat", "dog", "eel", "fox"])[y_codes]
        marker = "unlabelled"
    elif labels == "negative":  # negative class labels with another marker
        y = -1 - y_codes
        marker = 99
    elif labels == "shifted":
        y = y_codes + 10
    else:
        y = y_codes
    clf = DANNClassifier(unlabeled_marker=marker, **TINY)
    if stacked:
        X = np.vstack([Xs, Xt])
        y_all = np.concatenate([y.astype(object), np.full(n_target, marker, dtype=object)])
        y_all = y_all if labels == "str" else y_all.astype(np.int64)
        fitted = _fit_or_documented_error(clf, X, y_all)
    elif n_target == 0:
        with pytest.raises(ValueError, match="X_target is empty"):
            clf.fit(Xs, y, Xt)
        return
    else:
        fitted = _fit_or_documented_error(clf, Xs, y, Xt)
    if n_classes == 1:
        assert fitted is None
        return
    assert fitted is not None
    proba = fitted.predict_proba(Xs)
    assert proba.shape == (len(Xs), n_classes) and np.isfinite(proba).all()
    assert set(fitted.predict(Xs)) <= set(np.unique(y))


def test_one_source_row_per_class_and_one_target_row():
    clf = DANNClassifier(**TINY).fit(np.array([[0.0, 1.0], [1.0, 0.0]]), [0, 1], [[0.5, 0.5]])
    assert clf.n_source_ == 2 and clf.n_target_ == 1
    assert clf.predict([[0.0, 1.0]]).shape == (1,)


def test_dataframe_columns_in_another_order_are_a_documented_error():
    rng = np.random.RandomState(0)
    df = pd.DataFrame(rng.rand(20, 3), columns=["a", "b", "c"])
    y = np.r_[[0, 1] * 5, [-1] * 10]
    clf = DANNClassifier(**TINY).fit(df, y)
    with pytest.raises(ValueError, match="feature names"):
        clf.predict(df[["c", "a", "b"]])
    with pytest.raises(ValueError, match="feature names"):
        DANNClassifier(**TINY).fit(df.iloc[:10], y[:10], df.iloc[10:][["b", "a", "c"]])


def test_mixed_dtype_dataframe_and_object_columns():
    df = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0], "n": [1, 2, 3, 4], "s": ["a", "b", "c", "d"]})
    with pytest.raises(ValueError, match="could not convert|string"):
        DANNClassifier(**TINY).fit(df, [0, 1, 0, 1])
    clf = DANNClassifier(**TINY).fit(df[["x", "n"]], [0, 1, -1, -1])
    assert clf.n_features_in_ == 2


class Boom(Callback):
    def __init__(self, at_epoch=2):
        self.at_epoch = at_epoch

    def on_epoch_end(self, net, **kwargs):
        if len(net.history) == self.at_epoch:
            raise RuntimeError("boom")


def test_a_raising_callback_leaves_the_previous_model_intact(moons):
    Xs, ys, Xt, _ = moons
    clf = DANNClassifier(max_epochs=3, random_state=0).fit(Xs, ys, Xt)
    before = clf.predict_proba(Xt)
    clf.set_params(callbacks=[Boom()])
    with pytest.raises(RuntimeError, match="boom"):
        clf.fit(Xs[:, ::-1] * 2, np.array(["a", "b"])[ys], Xt)
    assert list(clf.classes_) == [0, 1]
    assert np.array_equal(clf.predict_proba(Xt), before)


def test_a_failed_first_fit_leaves_the_estimator_unfitted(moons):
    Xs, ys, Xt, _ = moons
    clf = DANNClassifier(max_epochs=3, callbacks=[Boom(1)], random_state=0)
    with pytest.raises(RuntimeError, match="boom"):
        clf.fit(Xs, ys, Xt)
    assert not [k for k in vars(clf) if k.endswith("_")]


def test_divergence_keeps_the_previous_model(moons):
    Xs, ys, Xt, _ = moons
    clf = DANNClassifier(max_epochs=2, random_state=0).fit(Xs, ys, Xt)
    before = clf.predict_proba(Xt)
    clf.set_params(optimizer="sgd", lr=1e12, lr_schedule=None)
    with pytest.raises(TrainingDivergedError):
        clf.fit(Xs * 1e6, ys, Xt * 1e6)
    assert np.array_equal(clf.predict_proba(Xt), before)
