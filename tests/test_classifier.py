"""DANNClassifier: the fit forms, the method, and the estimator's behaviour."""

import pickle
import warnings

import joblib
import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from torch import nn

from skdann import DANNClassifier, NoTargetDataWarning, TrainingDivergedError

# --------------------------------------------------------------- fit forms


def test_both_fit_forms_give_the_same_model(moons, moons_stacked, fast):
    Xs, ys, Xt, _ = moons
    a = DANNClassifier(**fast).fit(Xs, ys, Xt)
    b = DANNClassifier(**fast).fit(*moons_stacked)
    assert np.array_equal(a.predict_proba(Xt), b.predict_proba(Xt))
    assert (a.n_source_, a.n_target_) == (b.n_source_, b.n_target_) == (300, 300)


def test_same_random_state_gives_bit_identical_models(moons, fast):
    Xs, ys, Xt, _ = moons
    p1 = DANNClassifier(**fast).fit(Xs, ys, Xt).predict_proba(Xt)
    p2 = DANNClassifier(**fast).fit(Xs, ys, Xt).predict_proba(Xt)
    p3 = DANNClassifier(**{**fast, "random_state": 1}).fit(Xs, ys, Xt).predict_proba(Xt)
    assert np.array_equal(p1, p2)
    assert not np.array_equal(p1, p3)


def test_fit_does_not_touch_the_global_torch_rng(moons, fast):
    Xs, ys, Xt, _ = moons
    torch.manual_seed(123)
    before = torch.random.get_rng_state()
    DANNClassifier(**fast).fit(Xs, ys, Xt)
    assert torch.equal(before, torch.random.get_rng_state())


def test_no_marked_rows_warns_and_trains_on_the_source(moons, fast):
    Xs, ys, _, _ = moons
    with pytest.warns(NoTargetDataWarning, match="no unlabeled samples"):
        clf = DANNClassifier(**fast).fit(Xs, ys)
    assert clf.n_target_ == 0
    assert np.isnan(clf.history_[-1, "domain_loss"])
    assert clf.score(Xs, ys) > 0.7


def test_an_explicitly_empty_x_target_is_an_error(moons):
    Xs, ys, Xt, _ = moons
    with pytest.raises(ValueError, match="X_target is empty"):
        DANNClassifier().fit(Xs, ys, Xt[:0])


def test_string_labels_with_a_string_marker(moons, fast):
    Xs, ys, Xt, yt = moons
    names = np.array(["left", "right"])
    X = np.vstack([Xs, Xt])
    y = np.r_[names[ys], np.full(len(Xt), "?")]
    clf = DANNClassifier(unlabeled_marker="?", **fast).fit(X, y)
    assert list(clf.classes_) == ["left", "right"]
    assert set(clf.predict(Xt)) <= {"left", "right"}
    assert clf.n_target_ == 300


def test_string_labels_with_the_int_marker_warn_that_nothing_is_marked(moons, fast):
    Xs, ys, _, _ = moons
    with pytest.warns(NoTargetDataWarning):
        DANNClassifier(**fast).fit(Xs, np.array(["a", "b"])[ys])


def test_multiclass_and_classes_are_sorted(blobs, fast):
    Xs, ys, Xt, yt = blobs
    labels = np.array([30, 10, 20])
    clf = DANNClassifier(**fast).fit(Xs, labels[ys], Xt)
    assert list(clf.classes_) == [10, 20, 30]
    proba = clf.predict_proba(Xt)
    assert proba.shape == (90, 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert np.array_equal(clf.predict(Xt), clf.classes_[proba.argmax(axis=1)])


def test_float32_and_float64_input_give_the_same_model(moons, fast):
    Xs, ys, Xt, _ = moons
    Xs32, Xt32 = Xs.astype(np.float32), Xt.astype(np.float32)
    a = DANNClassifier(**fast).fit(Xs32, ys, Xt32).predict_proba(Xt32)
    b = DANNClassifier(**fast).fit(Xs32.astype(np.float64), ys, Xt32.astype(np.float64))
    assert np.array_equal(a, b.predict_proba(Xt32))


# ------------------------------------------------------------------ method


def test_lambda_zero_is_exactly_source_only_training(moons, fast):
    """With lambda_max=0 the target rows cannot influence the label predictor."""
    Xs, ys, Xt, _ = moons
    rng = np.random.RandomState(1)
    other_target = rng.normal(size=(50, 2)) * 3
    a = DANNClassifier(lambda_max=0, **fast).fit(Xs, ys, Xt)
    b = DANNClassifier(lambda_max=0, **fast).fit(Xs, ys, other_target)
    assert np.array_equal(a.predict_proba(Xs), b.predict_proba(Xs))
    assert np.array_equal(a.transform(Xs), b.transform(Xs))
    # ... while the domain head still trains, as a diagnostic
    assert not np.array_equal(a.predict_domain_proba(Xs), b.predict_domain_proba(Xs))
    assert all(h["lambda"] == 0.0 for h in a.history_)


def test_positive_lambda_lets_the_target_change_the_features(moons, fast):
    Xs, ys, Xt, _ = moons
    a = DANNClassifier(lambda_max=1, **fast).fit(Xs, ys, Xt)
    b = DANNClassifier(lambda_max=1, **fast).fit(Xs, ys, Xt + 1.0)
    assert not np.array_equal(a.transform(Xs), b.transform(Xs))


def test_history_records_the_schedules(moons):
    Xs, ys, Xt, _ = moons
    clf = DANNClassifier(max_epochs=4, lambda_max=2.0, lr=0.01, random_state=0).fit(Xs, ys, Xt)
    h = clf.history_
    assert len(h) == 4
    for key in ("train_loss", "label_loss", "domain_loss", "domain_acc", "lambda", "lr", "dur"):
        assert all(np.isfinite(v) for v in h[:, key]), key
    lambdas, lrs = h[:, "lambda"], h[:, "lr"]
    assert lambdas == sorted(lambdas) and 0 < lambdas[0] < lambdas[-1] < 2.0
    assert lrs == sorted(lrs, reverse=True) and lrs[0] < 0.01
    assert all(0 <= a <= 1 for a in h[:, "domain_acc"])


def test_constant_schedules(moons, fast):
    Xs, ys, Xt, _ = moons
    clf = DANNClassifier(lambda_schedule="constant", lambda_max=0.7, lr_schedule=None, lr=0.01,
                         **fast).fit(Xs, ys, Xt)
    assert set(clf.history_[:, "lambda"]) == {0.7}
    assert set(clf.history_[:, "lr"]) == {0.01}


def test_callable_lambda_schedule_receives_progress(moons, fast):
    Xs, ys, Xt, _ = moons
    seen = []
    clf = DANNClassifier(lambda_schedule=lambda p: seen.append(p) or p, **fast).fit(Xs, ys, Xt)
    steps = 3 * int(np.ceil(300 / 32))
    assert len(seen) == steps
    assert seen[0] == 0.0 and seen == sorted(seen) and seen[-1] == (steps - 1) / steps
    # The schedule is a factor: the logged lambda is lambda_max times its value.
    assert clf.history_[-1, "lambda"] == pytest.approx(clf.lambda_max * seen[-1])


def test_dann_beats_source_only_on_rotated_moons():
    from skdann.datasets import make_domain_moons
    Xs, ys, Xt, yt = make_domain_moons(angle=35, random_state=3)
    kw = {"random_state": 0}
    base = DANNClassifier(lambda_max=0, **kw).fit(Xs, ys, Xt).score(Xt, yt)
    dann = DANNClassifier(**kw).fit(Xs, ys, Xt).score(Xt, yt)
    assert dann > base


# ------------------------------------------------------------ outputs


def test_transform_and_domain_probabilities(moons, fast):
    Xs, ys, Xt, _ = moons
    clf = DANNClassifier(extractor__hidden_sizes=(16, 8), **fast).fit(Xs, ys, Xt)
    Z = clf.transform(Xt)
    assert Z.shape == (300, 8) and Z.dtype == np.float32
    d = clf.predict_domain_proba(Xt)
    assert d.shape == (300,) and ((d >= 0) & (d <= 1)).all()
    assert list(clf.get_feature_names_out()) == [f"dannclassifier{i}" for i in range(8)]
    np.testing.assert_allclose(np.exp(clf.predict_log_proba(Xt)), clf.predict_proba(Xt))


def test_score_refuses_marked_rows(moons_stacked, fast):
    X, y = moons_stacked
    clf = DANNClassifier(**fast).fit(X, y)
    with pytest.raises(ValueError, match="unlabeled marker -1 in 300 row"):
        clf.score(X, y)


def test_unfitted_model_raises_not_fitted(moons):
    clf = DANNClassifier()
    for method in ("predict", "predict_proba", "transform", "predict_domain_proba"):
        with pytest.raises(NotFittedError):
            getattr(clf, method)(moons[0])


def test_prediction_runs_in_batches_with_identical_results(moons, fast):
    Xs, ys, Xt, _ = moons
    clf = DANNClassifier(**fast).fit(Xs, ys, Xt)
    full = clf.predict_proba(Xt)
    clf.set_params(predict_batch_size=7)
    np.testing.assert_allclose(clf.predict_proba(Xt), full, rtol=0, atol=1e-6)


# ------------------------------------------------------- parameters / sklearn


def test_routed_parameters_reach_the_parts_and_the_optimizer(moons, fast):
    Xs, ys, Xt, _ = moons
    clf = DANNClassifier(extractor__hidden_sizes=(8, 5), domain_head__hidden_sizes=(3,),
                         label_head__hidden_sizes=(4,), optimizer="sgd",
                         optimizer__weight_decay=1e-4, **fast)
    assert clf.get_params()["extractor__hidden_sizes"] == (8, 5)
    clf.fit(Xs, ys, Xt)
    module = clf.net_.module_
    assert module.extractor.out_features == 5
    assert module.domain_head.net[0].out_features == 3
    opt = clf.net_.optimizer_
    assert isinstance(opt, torch.optim.SGD)
    assert opt.param_groups[0]["weight_decay"] == 1e-4 and opt.param_groups[0]["momentum"] == 0.9
    clf.set_params(extractor__hidden_sizes=(6,))
    assert clf.fit(Xs, ys, Xt).net_.module_.extractor.out_features == 6


def test_user_modules_as_classes_and_instances(moons, fast):
    Xs, ys, Xt, _ = moons

    class Tiny(nn.Module):
        def __init__(self, n_features, width=6):
            super().__init__()
            self.lin = nn.Linear(n_features, width)

        def forward(self, x):
            return torch.relu(self.lin(x))

    head = nn.Linear(6, 1)
    clf = DANNClassifier(extractor=Tiny, extractor__width=6, domain_head=head, **fast)
    clf.fit(Xs, ys, Xt)
    assert clf.transform(Xs).shape == (300, 6)
    # the instance parameter is copied, never trained in place
    assert clf.net_.module_.domain_head is not head
    assert clone(clf).get_params()["domain_head"] is not head


def test_instance_with_routed_parameters_is_an_error(moons):
    Xs, ys, Xt, _ = moons
    with pytest.raises(ValueError, match="pass its class"):
        DANNClassifier(extractor=nn.Linear(2, 4), extractor__bias=False).fit(Xs, ys, Xt)


def test_a_misspelt_parameter_is_an_error_in_init_and_set_params():
    # Stored silently, it would be dropped by clone() and GridSearchCV would
    # quietly train the default.
    with pytest.raises(TypeError, match="'lamda_max'.*Did you mean 'lambda_max'"):
        DANNClassifier(lamda_max=0.0)
    with pytest.raises(ValueError, match="Invalid parameter 'lamda_max'"):
        DANNClassifier().set_params(lamda_max=3)
    with pytest.raises(ValueError, match="Invalid parameter 'extractr__hidden_sizes'"):
        DANNClassifier().set_params(extractr__hidden_sizes=(3,))
    clf = clone(DANNClassifier(lambda_max=0.0, extractor__hidden_sizes=(5,)))
    assert clf.lambda_max == 0.0 and clf.get_params()["extractor__hidden_sizes"] == (5,)


@pytest.mark.parametrize("params, match", [
    ({"lambda_max": -1}, "lambda_max"), ({"lr": 0}, "lr"), ({"batch_size": 0}, "batch_size"),
    ({"max_epochs": 1.5}, "max_epochs"), ({"optimizer": "lbfgs2"}, "optimizer"),
    ({"precision": "fp8"}, "precision"), ({"lambda_schedule": "step"}, "lambda_schedule"),
    ({"data_on_device": "yes"}, "data_on_device"), ({"n_threads": 0}, "n_threads"),
    ({"label_shift": "iwdan", "label_shift_shrinkage": 1.5}, "label_shift_shrinkage"),
    ({"target_entropy": -0.1}, "target_entropy"), ({"domain_steps": 0}, "domain_steps"),
    ({"vat_weight": -1.0}, "vat_weight"), ({"vat_weight": 1.0, "vat_radius": 0.0}, "vat_radius"),
    ({"vat_weight": 1.0, "vat_rows": "source"}, "vat_rows"),
])
def test_bad_parameters_are_value_errors_before_training(moons, params, match):
    with pytest.raises(ValueError, match=match):
        DANNClassifier(**params).fit(*moons[:3])


def test_label_shift_shrinkage_without_label_shift_warns_that_it_is_ignored(moons, fast):
    with pytest.warns(UserWarning, match="label_shift_shrinkage only acts with label_shift='iwdan'"):
        DANNClassifier(label_shift_shrinkage=0.5, **fast).fit(*moons[:3])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        DANNClassifier(label_shift="iwdan", label_shift_shrinkage=0.5, **fast).fit(*moons[:3])


def test_domain_steps_make_a_stronger_domain_head(moons, fast):
    weak = DANNClassifier(**{**fast, "max_epochs": 10}).fit(*moons[:3])
    strong = DANNClassifier(domain_steps=5, **{**fast, "max_epochs": 10}).fit(*moons[:3])
    assert np.mean(strong.history_[:, "domain_loss"]) < np.mean(weak.history_[:, "domain_loss"])
    with pytest.warns(UserWarning, match="domain_steps .* lambda_max=0"):
        DANNClassifier(domain_steps=2, **{**fast, "lambda_max": 0.0}).fit(*moons[:3])
    with warnings.catch_warnings():
        # λ=0 in the grid of lambda_max="auto" is a candidate, not the user's setting
        warnings.simplefilter("error")
        DANNClassifier(domain_steps=2, target_entropy=0.1, lambda_max="auto", lambda_grid=(0.0, 0.3),
                       lambda_scoring="source_accuracy", **{**fast, "max_epochs": 2}).fit(*moons[:3])


def test_target_entropy_without_adaptation_warns_that_it_is_ignored(moons, fast):
    with pytest.warns(UserWarning, match="target_entropy .* no effect with lambda_max=0"):
        DANNClassifier(target_entropy=1.0, **{**fast, "lambda_max": 0.0}).fit(*moons[:3])


def test_vat_radius_without_vat_weight_warns_that_it_is_ignored(moons, fast):
    with pytest.warns(UserWarning, match="vat_radius only acts with vat_weight > 0"):
        DANNClassifier(vat_radius=0.1, **fast).fit(*moons[:3])


def test_vat_rows_without_vat_weight_or_adaptation_warns_that_it_is_ignored(moons, fast):
    with pytest.warns(UserWarning, match="vat_rows only acts with vat_weight > 0"):
        DANNClassifier(vat_rows="target", **fast).fit(*moons[:3])
    with pytest.warns(UserWarning, match="vat_rows='target' .* no effect with lambda_max=0"):
        DANNClassifier(vat_weight=1.0, vat_rows="target", **{**fast, "lambda_max": 0.0}).fit(*moons[:3])


def test_vat_on_target_rows_leaves_source_only_training_bit_identical(moons, fast):
    # The suite's source-only baseline of vat_rows="target" is the default one.
    plain = DANNClassifier(**{**fast, "lambda_max": 0.0}).fit(*moons[:3])
    with pytest.warns(UserWarning, match="vat_rows='target'"):
        vat = DANNClassifier(vat_weight=1.0, vat_rows="target",
                             **{**fast, "lambda_max": 0.0}).fit(*moons[:3])
    Xt = moons[2]
    np.testing.assert_array_equal(plain.predict_proba(Xt), vat.predict_proba(Xt))


def test_vat_pushes_the_boundary_of_the_moons_into_the_gap_between_them(moons):
    # The cluster assumption on the source rows alone (lambda_max=0): the
    # boundary leaves the dense moons, so it still separates them rotated.
    Xs, ys, Xt, yt = moons
    X, y = np.vstack([Xs, Xt]), np.r_[ys, np.full(len(Xt), -1)]

    def target_accuracy(**params):
        model = make_pipeline(StandardScaler(), DANNClassifier(
            lambda_max=0.0, max_epochs=150, n_threads=1, random_state=0, **params))
        return model.fit(X, y).score(Xt, yt)

    assert target_accuracy(vat_weight=1.0) > target_accuracy() + 0.1


def test_clone_pipeline_and_grid_search_over_lambda(moons_stacked):
    from skdann.model_selection import source_accuracy_scorer
    X, y = moons_stacked
    pipe = Pipeline([("scale", StandardScaler()),
                     ("dannclassifier", DANNClassifier(max_epochs=2, lambda_max=0.7, random_state=0))])
    grid = {"dannclassifier__lambda_max": [0.0, 0.3],
            "dannclassifier__extractor__hidden_sizes": [(8,), (16, 4)]}
    search = GridSearchCV(pipe, grid, cv=2, scoring=source_accuracy_scorer)
    search.fit(X, y)
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()
    width = search.best_params_["dannclassifier__extractor__hidden_sizes"][-1]
    assert search.best_estimator_[-1].transform(X[:2]).shape == (2, width)
    assert search.predict(X[:5]).shape == (5,)
    # The search fitted clones: the pipeline it was given keeps its own parameters.
    assert clone(pipe).get_params()["dannclassifier__lambda_max"] == 0.7


def test_cross_val_score_on_labelled_rows(moons, fast):
    Xs, ys, _, _ = moons
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NoTargetDataWarning)
        scores = cross_val_score(DANNClassifier(**fast), Xs, ys, cv=3)
    assert scores.shape == (3,) and (scores > 0.5).all()


@pytest.mark.parametrize("dump", ["pickle", "joblib"])
def test_persistence_round_trip_gives_identical_predictions(moons, fast, dump, tmp_path):
    Xs, ys, Xt, _ = moons
    clf = make_pipeline(StandardScaler(), DANNClassifier(**fast))
    clf.fit(np.vstack([Xs, Xt]), np.r_[ys, -np.ones(300, int)])
    if dump == "pickle":
        loaded = pickle.loads(pickle.dumps(clf))
    else:
        joblib.dump(clf, tmp_path / "m.joblib")
        loaded = joblib.load(tmp_path / "m.joblib")
    assert np.array_equal(loaded.predict_proba(Xt), clf.predict_proba(Xt))


@pytest.mark.filterwarnings("ignore:Setting self.device")
def test_cuda_trained_pickle_loads_on_a_cpu_only_machine(moons, fast, monkeypatch):
    """Simulated: tensors are tagged as CUDA storages in the pickle."""
    Xs, ys, Xt, _ = moons
    clf = DANNClassifier(**fast).fit(Xs, ys, Xt)
    expected = clf.predict_proba(Xt)
    clf.net_.device = "cuda"
    clf.device_ = torch.device("cuda", 0)
    real_tag = torch.serialization.location_tag
    monkeypatch.setattr(torch.serialization, "location_tag",
                        lambda storage: "cuda:0" if real_tag(storage) == "cpu" else real_tag(storage))
    blob = pickle.dumps(clf)
    monkeypatch.setattr(torch.serialization, "location_tag", real_tag)
    assert b"cuda:0" in blob
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.warns(UserWarning, match="CUDA"):
        loaded = pickle.loads(blob)
    assert loaded.device_ == torch.device("cpu")
    assert np.array_equal(loaded.predict_proba(Xt), expected)


def test_skorch_save_and_load_params(moons, fast, tmp_path):
    Xs, ys, Xt, _ = moons
    a = DANNClassifier(**fast).fit(Xs, ys, Xt)
    b = DANNClassifier(**{**fast, "random_state": 5}).fit(Xs, ys, Xt)
    a.net_.save_params(f_params=tmp_path / "p.pt")
    b.net_.load_params(f_params=tmp_path / "p.pt")
    assert np.array_equal(a.predict_proba(Xt), b.predict_proba(Xt))


# ---------------------------------------------------------------- pandas


def test_dataframes_record_feature_names_and_check_them(moons, fast):
    Xs, ys, Xt, _ = moons
    dfs, dft = pd.DataFrame(Xs, columns=["a", "b"]), pd.DataFrame(Xt, columns=["a", "b"])
    clf = DANNClassifier(**fast).fit(dfs, pd.Series(ys), dft)
    assert list(clf.feature_names_in_) == ["a", "b"] and clf.n_features_in_ == 2
    with pytest.warns(UserWarning, match="feature names"):  # sklearn's own warning
        assert np.array_equal(clf.predict(dft), clf.predict(Xt))
    with pytest.raises(ValueError, match="feature names"):
        clf.predict(dft[["b", "a"]])


# --------------------------------------------------------------- bad input


@pytest.mark.parametrize("poison", [np.nan, np.inf])
def test_nan_and_inf_are_rejected(moons, poison):
    Xs, ys, Xt, _ = moons
    bad = Xs.copy()
    bad[3, 1] = poison
    with pytest.raises(ValueError, match="NaN|infinity"):
        DANNClassifier().fit(bad, ys, Xt)
    bad_t = Xt.copy()
    bad_t[0, 0] = poison
    with pytest.raises(ValueError, match="NaN|infinity"):
        DANNClassifier().fit(Xs, ys, bad_t)


def test_feature_count_mismatch_between_domains(moons):
    Xs, ys, Xt, _ = moons
    with pytest.raises(ValueError, match="X_target has 3 features but X_source has 2"):
        DANNClassifier().fit(Xs, ys, np.c_[Xt, Xt[:, 0]])


def test_one_class_and_only_marker_labels(moons):
    Xs, ys, Xt, _ = moons
    with pytest.raises(ValueError, match="class"):
        DANNClassifier().fit(Xs, np.zeros(300, int), Xt)
    with pytest.raises(ValueError, match="no labelled rows"):
        DANNClassifier().fit(Xs, -np.ones(300, int))


def test_marker_in_y_source_of_the_three_argument_form(moons):
    Xs, ys, Xt, _ = moons
    y = ys.copy()
    y[:5] = -1
    with pytest.raises(ValueError, match="y_source contains the unlabeled marker -1 in 5"):
        DANNClassifier().fit(Xs, y, Xt)


def test_wrong_y_length_and_ranks(moons):
    Xs, ys, Xt, _ = moons
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        DANNClassifier().fit(Xs, ys[:-1], Xt)
    with pytest.raises(ValueError, match="Expected 2D array, got 1D"):
        DANNClassifier().fit(Xs[:, 0], ys, Xt)
    with pytest.raises(ValueError, match="accepts tabular data"):
        DANNClassifier().fit(Xs.reshape(300, 2, 1, 1, 1), ys)


@pytest.mark.parametrize("fmt", ["csr", "csc", "coo"])
def test_sparse_input_trains_the_same_model_as_dense(moons, fast, fmt):
    sparse = pytest.importorskip("scipy.sparse")
    Xs, ys, Xt, _ = moons
    Xs32, Xt32 = Xs.astype(np.float32), Xt.astype(np.float32)
    dense = DANNClassifier(**fast).fit(Xs32, ys, Xt32)
    sp = DANNClassifier(**fast).fit(sparse.csr_matrix(Xs32).asformat(fmt), ys,
                                    sparse.csr_matrix(Xt32).asformat(fmt))
    assert np.array_equal(sp.predict_proba(sparse.csr_matrix(Xt32)), dense.predict_proba(Xt32))
    X = sparse.vstack([sparse.csr_matrix(Xs32), sparse.csr_matrix(Xt32)]).asformat(fmt)
    stacked = DANNClassifier(**fast).fit(X, np.r_[ys, -np.ones(300, int)])
    assert np.array_equal(stacked.predict_proba(Xt32), dense.predict_proba(Xt32))


def test_continuous_targets_are_rejected(moons):
    Xs, _, Xt, _ = moons
    with pytest.raises(ValueError, match="Unknown label type"):
        DANNClassifier().fit(Xs, np.linspace(0, 1, 300), Xt)


def test_divergence_stops_with_advice(moons):
    Xs, ys, Xt, _ = moons
    clf = DANNClassifier(optimizer="sgd", lr=1e12, lr_schedule=None, max_epochs=5, random_state=0)
    with pytest.raises(TrainingDivergedError, match="smaller lr"):
        clf.fit(Xs * 1e6, ys, Xt * 1e6)


# ------------------------------------------------------------------ images


def test_small_images_train_end_to_end_with_uint8_kept_compact(fast):
    rng = np.random.RandomState(0)
    ys = rng.randint(0, 2, 40)
    Xs = (rng.rand(40, 10, 10) * 100).astype(np.uint8)
    Xs[ys == 1, 2:8, 4:6] = 255
    Xt = (255 - Xs[:30]).astype(np.uint8)
    clf = DANNClassifier(**fast).fit(Xs, ys, Xt)
    assert clf.input_shape_ == (1, 10, 10) and clf.n_features_in_ == 100
    assert clf.predict(Xt).shape == (30,)
    assert clf.transform(Xs[:, None]).shape == (40, clf.net_.module_.extractor.out_features)
    with pytest.raises(ValueError, match="fitted on images"):
        clf.predict(Xs.reshape(40, -1))
    with pytest.raises(ValueError, match=r"\(1, 10, 10\)"):
        clf.predict(Xs[:, :8, :8])


def test_image_domains_must_agree_in_shape_and_dtype():
    a = np.zeros((4, 1, 8, 8), np.uint8)
    y = np.array([0, 1, 0, 1])
    with pytest.raises(ValueError, match="np.repeat"):
        DANNClassifier().fit(a, y, np.zeros((4, 3, 8, 8), np.uint8))
    with pytest.raises(ValueError, match="different scales"):
        DANNClassifier().fit(a, y, np.zeros((4, 1, 8, 8), np.float32))
    with pytest.raises(ValueError, match="uint8"):
        DANNClassifier().fit(a.astype(np.int64), y)


# ------------------------------------------------------------ continuing


def test_partial_fit_continues_the_schedules(moons):
    Xs, ys, Xt, _ = moons
    clf = DANNClassifier(max_epochs=4, lambda_max=1.0, random_state=0)
    clf.partial_fit(Xs, ys, Xt)
    first = clf.history_[-1, "lambda"]
    clf.partial_fit(Xs, ys, Xt)
    assert len(clf.history_) == 2 and clf.history_[-1, "lambda"] > first
    full = DANNClassifier(max_epochs=4, lambda_max=1.0, random_state=0).fit(Xs, ys, Xt)
    assert clf.history_[-1, "lambda"] == pytest.approx(full.history_[1, "lambda"])


def test_warm_start_keeps_training_the_same_network(moons, fast):
    Xs, ys, Xt, _ = moons
    clf = DANNClassifier(warm_start=True, **fast).fit(Xs, ys, Xt)
    clf.fit(Xs, ys, Xt)
    twice = DANNClassifier(**{**fast, "max_epochs": 6}).partial_fit(Xs, ys, Xt, epochs=0)
    for _ in range(6):
        twice.partial_fit(Xs, ys, Xt)
    assert len(clf.history_) == 6 and clf.history_[-1, "steps"] == 6 * 10
    with pytest.raises(ValueError, match="features"):
        clf.fit(np.c_[Xs, Xs], ys, np.c_[Xt, Xt])


def test_keyboard_interrupt_keeps_the_epochs_done(moons, fast):
    from skorch.callbacks import Callback

    class StopAfterTwo(Callback):
        def on_epoch_end(self, net, **kwargs):
            if len(net.history) == 2:
                raise KeyboardInterrupt

    Xs, ys, Xt, _ = moons
    clf = DANNClassifier(callbacks=[StopAfterTwo()], **{**fast, "max_epochs": 10}).fit(Xs, ys, Xt)
    assert len(clf.history_) == 2
    assert clf.predict(Xt).shape == (300,)


def test_verbose_prints_the_epoch_table_and_silence_by_default(moons, fast, capsys):
    Xs, ys, Xt, _ = moons
    DANNClassifier(**fast).fit(Xs, ys, Xt)
    assert capsys.readouterr().out == ""
    DANNClassifier(verbose=1, **fast).fit(Xs, ys, Xt)
    out = capsys.readouterr().out
    for col in ("label_loss", "domain_loss", "domain_acc", "lambda", "lr"):
        assert col in out


def test_verbose_two_shows_a_progress_bar(moons, fast, capsys):
    Xs, ys, Xt, _ = moons
    from skdann import DANNProgressBar

    updates = []

    class CountingBar(DANNProgressBar):
        def on_batch_end(self, net, **kwargs):
            super().on_batch_end(net, **kwargs)
            updates.append(self.bar_.n)

    clf = DANNClassifier(verbose=2, **fast)
    clf.fit(Xs, ys, Xt)
    captured = capsys.readouterr()
    # One bar over the whole fit, in steps (3 epochs of 10), with λ and the losses.
    assert "0/30" in captured.err and "30/30" in captured.err and "λ=" in captured.err
    assert captured.err.count("  0%|") == 1  # one bar, not one per epoch
    assert "label_loss" in captured.out
    clf.set_params(verbose=1, callbacks=[CountingBar()]).fit(Xs, ys, Xt)
    assert updates == list(range(1, 31))


def test_warm_start_follows_a_change_of_verbose(moons, fast, capsys):
    Xs, ys, Xt, _ = moons
    clf = DANNClassifier(warm_start=True, **fast).fit(Xs, ys, Xt)
    assert capsys.readouterr().out == ""
    clf.set_params(verbose=1).fit(Xs, ys, Xt)
    assert "domain_acc" in capsys.readouterr().out


def test_loading_params_with_history_resumes_the_schedules(moons, fast, tmp_path):
    Xs, ys, Xt, _ = moons
    a = DANNClassifier(**{**fast, "max_epochs": 4}).fit(Xs, ys, Xt)
    a.net_.save_params(f_params=tmp_path / "p.pt", f_optimizer=tmp_path / "o.pt",
                       f_history=tmp_path / "h.json")
    b = DANNClassifier(**{**fast, "max_epochs": 4}).partial_fit(Xs, ys, Xt, epochs=0)
    b.net_.load_params(f_params=tmp_path / "p.pt", f_optimizer=tmp_path / "o.pt",
                       f_history=tmp_path / "h.json")
    assert b.net_.progress_.steps == a.net_.progress_.steps == 40
    assert np.array_equal(a.predict_proba(Xt), b.predict_proba(Xt))


@pytest.mark.parametrize("n_source, batch_size, expected", [
    (300, 128, 500),       # 3 steps per epoch: capped at 500 epochs
    (16_000, 128, 16),     # 125 steps per epoch: 2,000 steps
    (1_000_000, 128, 10),  # huge data: at least 10 epochs
])
def test_auto_epochs_aim_for_two_thousand_steps(n_source, batch_size, expected):
    clf = DANNClassifier(batch_size=batch_size)
    assert clf.max_epochs == "auto"
    assert clf._resolve_max_epochs(n_source) == expected


def test_channels_last_images_get_a_hint():
    with pytest.raises(ValueError, match=r"transpose\(0, 3, 1, 2\)"):
        DANNClassifier().fit(np.zeros((4, 28, 28, 3), np.uint8), [0, 1, 0, 1])


def test_partial_fit_accepts_one_class_batches_after_the_first(moons):
    Xs, ys, Xt, _ = moons
    clf = DANNClassifier(max_epochs=3, random_state=0).partial_fit(Xs, ys, Xt, classes=[0, 1])
    clf.partial_fit(Xs[ys == 1], ys[ys == 1], Xt)
    assert list(clf.classes_) == [0, 1] and len(clf.history_) == 2
    with pytest.raises(ValueError, match="not seen"):
        clf.partial_fit(Xs[:5], [2] * 5, Xt)


def test_warm_start_applies_changed_schedule_parameters(moons, fast):
    Xs, ys, Xt, _ = moons
    clf = DANNClassifier(warm_start=True, lambda_schedule="constant", lambda_max=0.5,
                         **fast).fit(Xs, ys, Xt)
    clf.set_params(lambda_max=2.0).fit(Xs, ys, Xt)
    assert clf.history_[:, "lambda"] == [0.5] * 3 + [2.0] * 3
