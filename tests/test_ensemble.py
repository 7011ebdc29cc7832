"""Seed ensembles: DANN models from different seeds, their predictions averaged."""

import pickle

import numpy as np
import pytest
import sklearn
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skdann import DANNClassifier, DANNEnsembleClassifier, DANNEnsembleRegressor, DANNRegressor
from skdann.model_selection import DomainStratifiedKFold, entropy_scorer

MEMBER = {"max_epochs": 3, "batch_size": 32, "n_threads": 1}


def _ensemble(n=3, random_state=0, **kwargs):
    return DANNEnsembleClassifier(DANNClassifier(**MEMBER), n_estimators=n,
                                  random_state=random_state, **kwargs)


def test_prediction_is_the_mean_of_members_trained_from_different_seeds(moons):
    Xs, ys, Xt, _ = moons
    model = _ensemble().fit(Xs, ys, X_target=Xt)
    members = model.estimators_
    assert len(members) == 3
    assert len({m.random_state for m in members}) == 3  # three seeds, so three models
    probas = [m.predict_proba(Xt) for m in members]
    assert not np.allclose(probas[0], probas[1])
    np.testing.assert_allclose(model.predict_proba(Xt), np.mean(probas, axis=0))
    np.testing.assert_allclose(model.predict_proba(Xt).sum(axis=1), 1.0)
    np.testing.assert_array_equal(model.predict(Xt),
                                  model.classes_[np.mean(probas, axis=0).argmax(axis=1)])
    np.testing.assert_allclose(np.exp(model.predict_log_proba(Xt)), model.predict_proba(Xt))
    assert model.score(Xt, model.predict(Xt)) == 1.0
    np.testing.assert_array_equal(model.classes_, [0, 1])
    assert model.n_features_in_ == 2


def test_the_same_random_state_gives_the_same_ensemble_and_another_a_different_one(moons):
    Xs, ys, Xt, _ = moons
    a = _ensemble(n=2, random_state=0).fit(Xs, ys, X_target=Xt).predict_proba(Xt)
    b = _ensemble(n=2, random_state=0).fit(Xs, ys, X_target=Xt).predict_proba(Xt)
    c = _ensemble(n=2, random_state=1).fit(Xs, ys, X_target=Xt).predict_proba(Xt)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


@pytest.mark.slow  # starts worker processes
def test_members_fitted_in_parallel_equal_the_serial_ones(moons):
    Xs, ys, Xt, _ = moons
    serial = _ensemble(n=2).fit(Xs, ys, X_target=Xt).predict_proba(Xt)
    parallel = _ensemble(n=2, n_jobs=2).fit(Xs, ys, X_target=Xt).predict_proba(Xt)
    np.testing.assert_allclose(serial, parallel, rtol=1e-6)


def test_a_pipeline_member_gets_its_seed_through_the_pipeline(moons_stacked, moons):
    X, y = moons_stacked
    Xt = moons[2]
    pipe = make_pipeline(StandardScaler(), DANNClassifier(**MEMBER))
    model = DANNEnsembleClassifier(pipe, n_estimators=2, random_state=0).fit(X, y)
    seeds = [m.get_params()["dannclassifier__random_state"] for m in model.estimators_]
    assert seeds[0] != seeds[1] and None not in seeds
    # the domain head's view of target rows, averaged through each pipeline's scaler
    expected = np.mean([m[-1].predict_domain_proba(m[0].transform(Xt))
                        for m in model.estimators_], axis=0)
    np.testing.assert_allclose(model.predict_domain_proba(Xt), expected)


@pytest.fixture
def semi_supervised(moons):
    """Stacked moons where ten target rows carry labels: only sample_domain says they are target."""
    Xs, ys, Xt, yt = moons
    X, y = np.vstack([Xs, Xt]), np.r_[ys, np.full(len(Xt), -1)]
    y[len(Xs):len(Xs) + 10] = yt[:10]
    sd = np.r_[np.ones(len(Xs), int), -np.ones(len(Xt), int)]
    return X, y, sd, len(Xt)


def test_fit_params_reach_every_member_as_the_member_takes_them(semi_supervised):
    X, y, sd, n_target = semi_supervised
    pipe = make_pipeline(StandardScaler(), DANNClassifier(**MEMBER))
    model = DANNEnsembleClassifier(pipe, n_estimators=2, random_state=0)
    model.fit(X, y, dannclassifier__sample_domain=sd)  # a Pipeline's step__param form
    assert [m[-1].n_target_ for m in model.estimators_] == [n_target] * 2


def test_metadata_routing_brings_sample_domain_from_a_search_to_every_member(semi_supervised):
    X, y, sd, n_target = semi_supervised
    pipe = make_pipeline(StandardScaler(), DANNClassifier(**MEMBER))
    with sklearn.config_context(enable_metadata_routing=True):
        search = GridSearchCV(DANNEnsembleClassifier(pipe, n_estimators=2, random_state=0),
                              {"n_estimators": [2]}, cv=DomainStratifiedKFold(2),
                              scoring=entropy_scorer).fit(X, y, sample_domain=sd)
    assert [m[-1].n_target_ for m in search.best_estimator_.estimators_] == [n_target] * 2


def test_wrong_members_and_parameters_raise_before_any_training(moons):
    Xs, ys, Xt, _ = moons
    with pytest.raises(TypeError, match="DANNEnsembleRegressor"):
        DANNEnsembleClassifier(DANNRegressor(**MEMBER)).fit(Xs, ys, X_target=Xt)
    with pytest.raises(TypeError, match="DANNEnsembleClassifier"):
        DANNEnsembleRegressor(DANNClassifier(**MEMBER)).fit(Xs, ys, X_target=Xt)
    # members that cannot be seeded would all be the same model
    with pytest.raises(TypeError, match="no random_state"):
        DANNEnsembleClassifier(_NoSeed()).fit(Xs, ys)
    with pytest.raises(ValueError, match="n_estimators"):
        _ensemble(n=0).fit(Xs, ys, X_target=Xt)


def test_a_seed_set_on_the_member_warns_that_the_ensemble_replaces_it(moons):
    Xs, ys, Xt, _ = moons
    model = DANNEnsembleClassifier(DANNClassifier(**MEMBER, random_state=7), n_estimators=2,
                                   random_state=0)
    with pytest.warns(UserWarning, match="replaced by one seed per member"):
        model.fit(Xs, ys, X_target=Xt)
    assert 7 not in [m.random_state for m in model.estimators_]


def test_a_fit_that_raises_keeps_the_previous_members(moons):
    Xs, ys, Xt, _ = moons
    model = _ensemble(n=2).fit(Xs, ys, X_target=Xt)
    before = model.predict_proba(Xt)
    with pytest.raises(ValueError):
        model.fit(Xs[:, :1], ys, X_target=Xt)  # target rows with another width
    np.testing.assert_array_equal(model.predict_proba(Xt), before)


def test_clone_and_pickle_keep_what_they_should(moons):
    Xs, ys, Xt, _ = moons
    model = _ensemble(n=2)
    assert clone(model).get_params()["estimator__lambda_max"] == model.estimator.lambda_max
    with pytest.raises(ValueError):
        model.set_params(estimator__no_such_parameter=1)
    model.fit(Xs, ys, X_target=Xt)
    restored = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(restored.predict_proba(Xt), model.predict_proba(Xt))


def test_the_regressor_ensemble_predicts_the_members_mean():
    rng = np.random.RandomState(0)
    Xs, Xt = rng.normal(size=(80, 3)), rng.normal(0.5, 1.0, size=(80, 3))
    model = DANNEnsembleRegressor(DANNRegressor(**MEMBER), n_estimators=2, random_state=0)
    model.fit(Xs, Xs.sum(axis=1), X_target=Xt)
    np.testing.assert_allclose(model.predict(Xt),
                               np.mean([m.predict(Xt) for m in model.estimators_], axis=0))
    assert np.isfinite(model.score(Xt, Xt.sum(axis=1)))


def test_the_default_member_is_the_package_default():
    assert isinstance(DANNEnsembleClassifier()._default_estimator(), DANNClassifier)
    assert isinstance(DANNEnsembleRegressor()._default_estimator(), DANNRegressor)


class _NoSeed(ClassifierMixin, BaseEstimator):
    """A classifier without a random_state parameter."""

    def fit(self, X, y):
        return self

    def predict(self, X):
        return np.zeros(len(X))


def test_scorers_that_read_one_network_say_so_and_prediction_scorers_score_the_ensemble(moons):
    from skdann import model_selection as ms

    Xs, ys, Xt, _ = moons
    X, y = np.vstack([Xs, Xt]), np.r_[ys, np.full(len(Xt), -1)]
    model = _ensemble(n=2).fit(X, y)
    for scorer in (ms.reverse_validation_scorer, ms.aligned_reverse_validation_scorer,
                   ms.iwcv_scorer, ms.dev_scorer):
        with pytest.raises(TypeError, match=r"one network .*model\.estimators_"):
            scorer(model, X, y)
    assert ms.entropy_scorer(model, X, y) <= 0
    assert 0 <= ms.source_accuracy_scorer(model, X, y) <= 1
    assert np.isfinite(ms.snd_scorer(model, X, y))
    assert 0 <= ms.domain_accuracy(model, Xs, Xt) <= 1
