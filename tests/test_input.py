"""Input handling: the three forms of fit, domains per row, and clear errors before training."""

import warnings

import numpy as np
import pytest
import torch
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skdann import DANNClassifier, NoTargetDataWarning


def _stacked(moons):
    Xs, ys, Xt, _ = moons
    X = np.vstack([Xs, Xt])
    y = np.r_[ys, np.full(len(Xt), -1)]
    sd = np.r_[np.ones(len(Xs), int), -np.ones(len(Xt), int)]
    return X, y, sd


def test_the_three_fit_forms_give_identical_models(moons, fast):
    Xs, ys, Xt, _ = moons
    X, y, sd = _stacked(moons)
    a = DANNClassifier(**fast).fit(Xs, ys, Xt)
    b = DANNClassifier(**fast).fit(X, y)
    c = DANNClassifier(**fast).fit(X, y, sample_domain=sd)
    for other in (b, c):
        np.testing.assert_array_equal(a.predict_proba(Xt), other.predict_proba(Xt))


def test_sample_domain_needs_integers_and_no_zero(moons):
    X, y, sd = _stacked(moons)
    with pytest.raises(ValueError, match="contains 0"):
        DANNClassifier().fit(X, y, sample_domain=np.where(sd > 0, 0, -1))
    with pytest.raises(ValueError, match="integers"):
        DANNClassifier().fit(X, y, sample_domain=sd + 0.5)
    with pytest.raises(ValueError, match="one value per row"):
        DANNClassifier().fit(X, y, sample_domain=sd[:-1])
    with pytest.raises(ValueError, match="not both"):
        DANNClassifier().fit(X[:300], y[:300], X[300:], sample_domain=sd[:300])


def test_a_domain_with_a_single_row_is_an_error(moons):
    X, y, sd = _stacked(moons)
    sd = sd.copy()
    sd[-1] = -7
    with pytest.raises(ValueError, match=r"Domain\(s\) \[-7\] have a single row"):
        DANNClassifier().fit(X, y, sample_domain=sd)


def test_labels_on_every_target_row_are_an_error_that_says_what_is_expected(moons):
    Xs, ys, Xt, yt = moons
    X, _, sd = _stacked(moons)
    with pytest.raises(ValueError, match="All 300 target rows have labels.*unlabelled marker"):
        DANNClassifier().fit(X, np.r_[ys, yt], sample_domain=sd)


def test_unlabelled_source_rows_and_no_source_domain_are_errors(moons):
    X, y, sd = _stacked(moons)
    with pytest.raises(ValueError, match="source domains.*have no label"):
        DANNClassifier().fit(X, y, sample_domain=np.ones(len(y), int))
    with pytest.raises(ValueError, match="no source rows"):
        DANNClassifier().fit(X, np.r_[y[:300], y[:300]], sample_domain=-np.abs(sd) - (sd < 0))


def test_no_negative_domain_warns_that_there_is_nothing_to_adapt_to(moons, fast):
    Xs, ys, _, _ = moons
    with pytest.warns(NoTargetDataWarning, match="no negative"):
        DANNClassifier(**fast).fit(Xs, ys, sample_domain=np.ones(len(ys), int))


def test_a_label_vector_passed_as_x_target_is_a_clear_error(moons):
    Xs, ys, _, yt = moons
    with pytest.raises(ValueError, match="never target labels"):
        DANNClassifier().fit(Xs, ys, yt)


def test_minus_one_plus_one_classes_explain_the_marker(moons):
    Xs, ys, _, _ = moons
    with pytest.raises(ValueError, match="labelled -1 were taken as unlabelled target rows"):
        DANNClassifier().fit(Xs, np.where(ys == 1, 1, -1))


def test_a_numeric_marker_turned_into_a_string_by_numpy_is_caught(moons):
    Xs, ys, Xt, _ = moons
    labels = np.array(["no", "yes"])[ys]
    y = np.r_[labels, np.full(len(Xt), -1)]  # numpy makes -1 the string '-1'
    assert y.dtype.kind == "U"
    with pytest.raises(ValueError, match="unlabeled_marker='-1'"):
        DANNClassifier().fit(np.vstack([Xs, Xt]), y)


def test_values_beyond_float32_are_rejected_in_fit_and_predict(moons, fast):
    Xs, ys, Xt, _ = moons
    big = Xs.copy()
    big[0, 0] = 1e39
    with pytest.raises(ValueError, match="beyond float32's range"):
        DANNClassifier().fit(big, ys, Xt)
    clf = DANNClassifier(**fast).fit(Xs, ys, Xt)
    with pytest.raises(ValueError, match="beyond float32's range"):
        clf.predict(big)


def test_uint8_model_refuses_float_images_in_prediction(fast):
    rng = np.random.RandomState(0)
    images = rng.randint(0, 255, (40, 1, 8, 8)).astype(np.uint8)
    clf = DANNClassifier(**fast).fit(images, np.arange(40) % 2, images[:20])
    with pytest.raises(ValueError, match="fitted on uint8 images but X is float32"):
        clf.predict(images.astype(np.float32))


def test_nested_lists_of_images_get_a_hint():
    with pytest.raises(ValueError, match="numpy array"):
        DANNClassifier().fit(np.zeros((4, 2, 2)).tolist(), [0, 1, 0, 1])


def test_a_label_head_with_more_outputs_than_classes_is_an_error(moons):
    from skdann import LabelHead

    with pytest.raises(ValueError, match="label head has 5 outputs but the task has 2"):
        DANNClassifier(label_head=LabelHead(64, 5), max_epochs=1).fit(*moons[:3])


def test_an_extractor_returning_a_tuple_is_a_clear_error(moons):
    class Pair(torch.nn.Module):
        def __init__(self, n_features):
            super().__init__()
            self.lin = torch.nn.Linear(n_features, 4)

        def forward(self, x):
            return self.lin(x), x

    with pytest.raises(TypeError, match="extractor must return one tensor"):
        DANNClassifier(extractor=Pair, max_epochs=1).fit(*moons[:3])


def test_x_target_passed_through_a_pipeline_warns_that_it_skips_the_scaler(moons, fast):
    Xs, ys, Xt, _ = moons
    pipe = make_pipeline(StandardScaler(), DANNClassifier(**fast))
    with pytest.warns(UserWarning, match="skips the steps before"):
        pipe.fit(Xs * 10 + 50, ys, dannclassifier__X_target=Xt * 10 + 50)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        DANNClassifier(**fast).fit(Xs, ys, Xt)  # unscaled, both alike: no warning


def test_sample_weight_weighs_the_label_loss(moons, fast):
    Xs, ys, Xt, _ = moons
    w = np.where(ys == 1, 5.0, 1.0)
    plain = DANNClassifier(**fast).fit(Xs, ys, Xt)
    ones = DANNClassifier(**fast).fit(Xs, ys, Xt, sample_weight=np.ones(len(ys)))
    heavy = DANNClassifier(**fast).fit(Xs, ys, Xt, sample_weight=w)
    np.testing.assert_allclose(plain.predict_proba(Xt), ones.predict_proba(Xt), atol=1e-6)
    assert heavy.predict_proba(Xt)[:, 1].mean() > plain.predict_proba(Xt)[:, 1].mean()
    with pytest.raises(ValueError, match="non-zero"):
        DANNClassifier(**fast).fit(Xs, ys, Xt, sample_weight=np.zeros(len(ys)))


def test_memory_mapped_inputs_train_from_the_file_and_give_the_in_memory_model(moons, fast, tmp_path):
    Xs, ys, Xt, _ = moons  # float64: the file is converted per batch, never copied whole
    np.save(tmp_path / "xs.npy", Xs)
    np.save(tmp_path / "xt.npy", Xt)
    ms, mt = np.load(tmp_path / "xs.npy", mmap_mode="r"), np.load(tmp_path / "xt.npy", mmap_mode="r")
    from skdann._batching import is_memory_mapped

    assert is_memory_mapped(ms) and not is_memory_mapped(Xs)
    mapped = DANNClassifier(**fast).fit(ms, ys, mt)
    plain = DANNClassifier(**fast).fit(Xs, ys, Xt)
    np.testing.assert_array_equal(mapped.predict_proba(mt), plain.predict_proba(Xt))


def test_a_feature_mismatch_from_a_pipeline_says_how_to_stack_the_rows(moons):
    from sklearn.compose import ColumnTransformer
    from sklearn.preprocessing import OneHotEncoder

    Xs, ys, Xt, _ = moons
    # a column transformer widens the source rows; X_target skips it
    cats = np.c_[Xs, np.arange(len(Xs)) % 3]
    pipe = make_pipeline(ColumnTransformer([("onehot", OneHotEncoder(), [2])], remainder="passthrough"),
                         DANNClassifier(max_epochs=1))
    with pytest.raises(ValueError, match="X_target has 3 features but X_source has 5.*stack source and "
                                         "target rows in X and mark the target rows"):
        pipe.fit(cats, ys, dannclassifier__X_target=np.c_[Xt, np.arange(len(Xt)) % 3])
