"""BaseDANN: the contract both estimators share (parameters, warm start, rollback, threads)."""

import copy
import pickle

import numpy as np
import pytest
import torch
from sklearn.base import clone
from skorch.callbacks import Callback

from skdann import DANNClassifier, DANNNet, DANNRegressor
from skdann.exceptions import TrainingDivergedError


class RaiseAtEpochEnd(Callback):
    def on_epoch_end(self, net, **kwargs):
        raise RuntimeError("callback failed")


def _state(clf):
    return {k: v.clone() for k, v in clf.net_.module_.state_dict().items()}


def _same_state(a, b):
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


# ------------------------------------------------------------- parameters
@pytest.mark.parametrize("params, match", [
    ({"warm_start": "no"}, "warm_start"), ({"standardize": "yes"}, "standardize"),
    ({"adversary": "gan"}, "adversary"), ({"domain_labels": "all"}, "domain_labels"),
    ({"averaging": "mean"}, "averaging"), ({"averaging_decay": 1.0}, "averaging_decay"),
    ({"warmup": 1.0}, "warmup"), ({"domain_lr_factor": 0}, "domain_lr_factor"),
    ({"domain_label_smoothing": 1.0}, "domain_label_smoothing"),
    ({"validation_fraction": 0.0}, "validation_fraction"), ({"label_shift": "bbse"}, "label_shift"),
    ({"n_threads": "many"}, "n_threads"), ({"verbose": -1}, "verbose"),
])
def test_bad_values_of_new_parameters_are_errors_before_training(moons, params, match):
    clf = DANNClassifier(**params)
    with pytest.raises(ValueError, match=match):
        clf.fit(*moons[:3])
    assert not hasattr(clf, "net_")


def test_callbacks_must_be_skorch_callbacks(moons):
    with pytest.raises(TypeError, match="skorch callbacks"):
        DANNClassifier(callbacks=[object()]).fit(*moons[:3])


def test_routed_prefixes_come_from_the_net_class():
    prefixes = DANNClassifier._routed_prefixes()
    assert prefixes == tuple(p + "__" for p in DANNNet.routed_prefixes)
    assert "criterion_domain__" in prefixes and "adversary__" in prefixes
    clf = DANNClassifier(criterion_domain__pos_weight=None, adversary__entropy=True)
    assert clf.get_params()["adversary__entropy"] is True


def test_criterion_domain_is_the_domain_loss_with_its_routed_options(moons, fast):
    # pos_weight=0 removes the target rows' term: the domain head then only
    # learns to call every row a source row, so its loss differs from the default.
    default = DANNClassifier(**fast).fit(*moons[:3])
    assert isinstance(default.net_.criterion_domain_, torch.nn.BCEWithLogitsLoss)
    clf = DANNClassifier(criterion_domain=torch.nn.BCEWithLogitsLoss,
                         criterion_domain__pos_weight=torch.tensor(0.0), **fast).fit(*moons[:3])
    assert clf.net_.criterion_domain_.pos_weight.item() == 0.0
    assert clf.net_.criterion_domain_.reduction == "none"
    assert not np.allclose(default.history_[:, "domain_loss"], clf.history_[:, "domain_loss"])
    assert clone(clf).get_params()["criterion_domain"] is torch.nn.BCEWithLogitsLoss
    with pytest.raises(ValueError, match="criterion_domain"):
        DANNClassifier(criterion_domain="bce").fit(*moons[:3])


def test_partial_fit_epochs_must_be_a_non_negative_integer(moons):
    for bad in (-3, 1.9, True, "2"):
        with pytest.raises(ValueError, match="epochs must be an integer"):
            DANNClassifier().partial_fit(*moons[:3], epochs=bad)
    clf = DANNClassifier(random_state=0).partial_fit(*moons[:3], epochs=0)
    assert len(clf.history_) == 0  # built, not trained


def test_a_schedule_returning_a_negative_factor_is_an_error_and_keeps_no_model(moons):
    clf = DANNClassifier(max_epochs=2, lambda_schedule=lambda p: -1.0)
    with pytest.raises(ValueError, match="lambda_schedule must return a finite factor >= 0"):
        clf.fit(*moons[:3])
    assert not hasattr(clf, "net_")
    with pytest.raises(ValueError, match="lr_schedule"):
        DANNClassifier(max_epochs=2, lr_schedule=lambda p: float("nan")).fit(*moons[:3])


def test_net_class_plugs_in_a_subclass_of_the_training_loop(moons, fast):
    class NoDomain(DANNNet):
        def get_domain_loss(self, domain_logits, targets, weights):
            return domain_logits.sum() * 0.0

    clf = DANNClassifier(net_class=NoDomain, **fast).fit(*moons[:3])
    assert isinstance(clf.net_, NoDomain) and clf.history_[-1, "domain_loss"] == 0.0
    with pytest.raises(TypeError, match="net_class"):
        DANNClassifier(net_class=torch.nn.Linear, **fast).fit(*moons[:3])


def test_module_plugs_in_a_subclass_of_the_network(moons, fast):
    from skdann import DANNModule

    class Doubled(DANNModule):
        def __init__(self, *args, scale=2.0, **kwargs):
            super().__init__(*args, **kwargs)
            self.scale = scale

        def forward(self, x):
            return super().forward(x) * self.scale

    clf = DANNClassifier(module=Doubled, module__scale=3.0, **fast).fit(*moons[:3])
    assert isinstance(clf.net_.module_, Doubled) and clf.net_.module_.scale == 3.0


# ------------------------------------------------------------- warm start
def test_warm_start_applies_a_new_learning_rate_and_optimizer(moons, fast):
    Xs, ys, Xt, _ = moons
    clf = DANNClassifier(warm_start=True, **fast).fit(Xs, ys, Xt)
    clf.set_params(lr=0.05, optimizer="sgd").fit(Xs, ys, Xt)
    opt = clf.net_.optimizer_
    assert isinstance(opt, torch.optim.SGD) and opt.param_groups[0]["initial_lr"] == 0.05
    assert opt.param_groups[0]["momentum"] == 0.9
    # the schedules kept counting: progress is at its end, not restarted
    assert clf.history_[3, "progress"] == 1.0 and clf.history_[-1, "steps"] == 60


def test_warm_start_refuses_a_change_to_the_network(moons, fast):
    Xs, ys, Xt, _ = moons
    clf = DANNClassifier(warm_start=True, **fast).fit(Xs, ys, Xt)
    before = _state(clf)
    with pytest.raises(ValueError, match="extractor__hidden_sizes changed.*warm_start=False"):
        clf.set_params(extractor__hidden_sizes=(8,)).fit(Xs, ys, Xt)
    assert _same_state(before, _state(clf))
    clf.set_params(warm_start=False).fit(Xs, ys, Xt)  # a new network is fine
    assert clf.net_.module_.extractor.out_features == 8


def test_warm_start_applies_new_callbacks_and_max_epochs(moons, fast):
    Xs, ys, Xt, _ = moons
    seen = []

    class Count(Callback):
        def on_epoch_end(self, net, **kwargs):
            seen.append(len(net.history))

    clf = DANNClassifier(warm_start=True, **fast).fit(Xs, ys, Xt)
    clf.set_params(callbacks=[Count()], max_epochs=5).fit(Xs, ys, Xt)
    assert seen == [4, 5, 6, 7, 8] and clf.max_epochs_ == 5


def test_warm_start_with_another_batch_size_continues_the_progress(moons):
    Xs, ys, Xt, _ = moons
    clf = DANNClassifier(warm_start=True, max_epochs=4, batch_size=100, random_state=0)
    clf.partial_fit(Xs, ys, Xt, epochs=2)  # 2 of 4 epochs of 3 steps: p = 0.5
    assert clf.history_[-1, "progress"] == pytest.approx(0.5)
    clf.set_params(batch_size=50).partial_fit(Xs, ys, Xt, epochs=1)  # 6 steps of 24
    assert clf.history_[-1, "progress"] == pytest.approx(0.75)


def test_a_warm_fit_that_raises_leaves_the_model_as_it_was(moons, fast):
    Xs, ys, Xt, _ = moons
    clf = DANNClassifier(warm_start=True, **fast).fit(Xs, ys, Xt)
    before, history = _state(clf), len(clf.history_)
    proba = clf.predict_proba(Xt)
    with pytest.raises(RuntimeError, match="callback failed"):
        clf.set_params(callbacks=[RaiseAtEpochEnd()]).fit(Xs, ys, Xt)
    assert _same_state(before, _state(clf)) and len(clf.history_) == history
    np.testing.assert_array_equal(proba, clf.predict_proba(Xt))


def test_partial_fit_that_diverges_keeps_the_previous_model(moons, fast):
    Xs, ys, Xt, _ = moons
    clf = DANNClassifier(**fast).fit(Xs, ys, Xt)
    before = _state(clf)
    with pytest.raises(TrainingDivergedError):
        clf.set_params(lr=1e30, optimizer="sgd").partial_fit(Xs * 1e30, ys, Xt)
    assert _same_state(before, _state(clf))


# ------------------------------------------------------------- fitted attributes
def test_refit_on_another_input_kind_drops_stale_attributes(moons, fast):
    pd = pytest.importorskip("pandas")
    Xs, ys, Xt, _ = moons
    clf = DANNClassifier(**fast).fit(pd.DataFrame(Xs, columns=["a", "b"]), ys,
                                     pd.DataFrame(Xt, columns=["a", "b"]))
    assert list(clf.feature_names_in_) == ["a", "b"]
    clf.fit(Xs, ys, Xt)
    assert not hasattr(clf, "feature_names_in_") and clf.n_features_in_ == 2
    images = np.random.RandomState(0).randint(0, 255, (40, 1, 8, 8)).astype(np.uint8)
    clf.fit(images, np.arange(40) % 2, images[:20])
    assert clf.n_features_in_ == 64 and clf.input_shape_ == (1, 8, 8)


def test_fitted_model_pickles_small_and_predicts_the_same(moons, fast):
    Xs, ys, Xt, _ = moons
    clf = DANNClassifier(**fast).fit(Xs, ys, Xt)
    again = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(clf.predict_proba(Xt), again.predict_proba(Xt))
    assert len(pickle.dumps(DANNClassifier())) < 2000  # an unfitted estimator crosses to workers


# ------------------------------------------------------------- threads and dtypes
def test_auto_threads_use_one_thread_for_tabular_fits(moons, fast):
    seen = []

    class Threads(Callback):
        def on_epoch_end(self, net, **kwargs):
            seen.append(torch.get_num_threads())

    before = torch.get_num_threads()
    DANNClassifier(callbacks=[Threads()], **fast).fit(*moons[:3])
    assert seen == [1, 1, 1] and torch.get_num_threads() == before


def test_a_float64_default_dtype_does_not_break_training(moons, fast):
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        clf = DANNClassifier(**fast).fit(*moons[:3])
        reg = DANNRegressor(**fast).fit(moons[0], moons[0][:, 0], moons[2])
    finally:
        torch.set_default_dtype(previous)
    assert clf.predict(moons[2]).shape == (300,) and reg.predict(moons[2]).shape == (300,)


def test_clone_keeps_routed_parameters_and_deepcopy_works():
    from sklearn.base import clone
    clf = DANNClassifier(extractor__hidden_sizes=(7,), optimizer__weight_decay=1e-4)
    assert clone(clf).get_params()["optimizer__weight_decay"] == 1e-4
    assert copy.deepcopy(clf).get_params()["extractor__hidden_sizes"] == (7,)


# ------------------------------------------------------------- automatic λ
def test_auto_lambda_trains_every_candidate_on_held_out_rows_and_keeps_the_best(moons):
    Xs, ys, Xt, _ = moons
    calls = []

    def scorer(estimator, X, y, sample_domain=None):
        # the held-out fold: 20 % of each domain, domains given per row
        calls.append((estimator.lambda_max_, len(X), int((sample_domain < 0).sum())))
        return -abs(estimator.lambda_max_ - 0.3)  # prefers 0.3

    clf = DANNClassifier(lambda_max="auto", lambda_grid=(0.0, 0.3, 1.0), lambda_scoring=scorer,
                         max_epochs=3, random_state=0).fit(Xs, ys, Xt)
    assert [c[0] for c in calls] == [0.0, 0.3, 1.0]
    assert all(n == 120 and t == 60 for _, n, t in calls)
    assert clf.lambda_max_ == 0.3 and clf.lambda_scores_ == {0.0: -0.3, 0.3: 0.0, 1.0: -0.7}
    assert clf.net_.lambda_max == 0.3 and clf.n_source_ == 300  # the final fit uses every row


def test_auto_lambda_ties_go_to_the_smaller_lambda_and_names_resolve(moons):
    Xs, ys, Xt, _ = moons
    clf = DANNClassifier(lambda_max="auto", lambda_grid=(1.0, 0.0), max_epochs=2, random_state=0,
                         lambda_scoring=lambda est, X, y, sample_domain=None: 1.0).fit(Xs, ys, Xt)
    assert clf.lambda_max_ == 0.0
    with pytest.raises(ValueError, match="lambda_scoring"):
        DANNClassifier(lambda_max="auto", lambda_scoring="accuracy").fit(Xs, ys, Xt)
    named = DANNClassifier(lambda_max="auto", lambda_grid=(0.0, 1.0), lambda_scoring="source_accuracy",
                           max_epochs=2, random_state=0).fit(Xs, ys, Xt)
    assert set(named.lambda_scores_) == {0.0, 1.0}
