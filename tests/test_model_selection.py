"""Specification of skdann.model_selection: scorers, the domain-aware splitter, diagnostics.

Each scorer is checked on a case whose answer is known in advance; the
splitter on the properties a cross-validation of stacked source+target rows
needs; GridSearchCV on the recipe of the module docstring, serial and
parallel.
"""

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skdann import DANNClassifier
from skdann.model_selection import (
    DomainStratifiedKFold,
    dev_scorer,
    domain_accuracy,
    entropy_scorer,
    iwcv_scorer,
    make_dev_scorer,
    make_iwcv_scorer,
    make_reverse_validation_scorer,
    make_snd_scorer,
    make_target_accuracy_scorer,
    proxy_a_distance,
    reverse_validation_scorer,
    snd_scorer,
    source_accuracy_scorer,
)

MARK = -1


def stack(Xs, ys, Xt):
    return np.vstack([Xs, Xt]), np.r_[ys, np.full(len(Xt), MARK)]


class Rule:
    """A fixed 'fitted model': class 1 iff x0 > 0, flipped where x0 > flip_above.

    ``proba`` replaces the one-hot probabilities by a constant row.
    """

    unlabeled_marker = MARK
    classes_ = np.array([0, 1])

    def __init__(self, flip_above=np.inf, proba=None):
        self.flip_above = flip_above
        self.proba = proba

    def predict(self, X):
        X = np.asarray(X)
        label = (X[:, 0] > 0).astype(int)
        return np.where(X[:, 0] > self.flip_above, 1 - label, label)

    def predict_proba(self, X):
        if self.proba is not None:
            return np.tile(np.asarray(self.proba, dtype=float), (len(X), 1))
        return np.eye(2)[self.predict(X)]

    def transform(self, X):
        return np.asarray(X, dtype=float)

    def predict_domain_proba(self, X):
        return (np.asarray(X)[:, 0] > 5).astype(float)


def blobs(n, rng, centre_shift=0.0):
    """Two well separated 2-D blobs at x0 = -3 and +3, labels 0/1."""
    y = np.arange(n) % 2
    X = np.c_[np.where(y == 1, 3.0, -3.0), np.zeros(n)] + 0.5 * rng.normal(size=(n, 2))
    return X + centre_shift, y


@pytest.fixture(scope="module")
def covariate_shift():
    """Source: 90 rows near x0=-2 (class 0) and 10 near x0=+2 (class 1); target: 50 near +2."""
    rng = np.random.RandomState(0)
    Xs = np.r_[rng.normal([-2, 0], 0.3, size=(90, 2)), rng.normal([2, 0], 0.3, size=(10, 2))]
    ys = (Xs[:, 0] > 0).astype(int)
    Xt = rng.normal([2, 0], 0.3, size=(50, 2))
    return Xs, ys, Xt


@pytest.fixture(scope="module")
def two_blobs():
    rng = np.random.RandomState(0)
    Xs, ys = blobs(60, rng)
    Xt, yt = blobs(60, rng, centre_shift=0.3)
    return Xs, ys, Xt, yt


DANN_FAST = dict(max_epochs=5, lr=0.03, batch_size=16, lambda_max=0.0, n_threads=1,
                 random_state=0)


@pytest.fixture(scope="module")
def perfect_and_random(two_blobs):
    """A DANN that separates the blobs, and one trained on shuffled labels."""
    Xs, ys, Xt, yt = two_blobs
    X, y = stack(Xs, ys, Xt)
    good = DANNClassifier(**DANN_FAST).fit(X, y)
    assert np.mean(good.predict(Xt) == yt) == 1.0
    shuffled = np.random.RandomState(1).permutation(ys)
    bad = DANNClassifier(**DANN_FAST).fit(*stack(Xs, shuffled, Xt))
    return good, bad, X, y


# ------------------------------------------------------------------ splitter
class TestDomainStratifiedKFold:
    y = np.r_[np.zeros(30, int), np.ones(10, int), np.full(20, MARK)]
    X = np.arange(60, dtype=float).reshape(-1, 1)

    def test_every_fold_has_both_domains_and_the_test_folds_partition_the_rows(self):
        folds = list(DomainStratifiedKFold(4).split(self.X, self.y))
        assert len(folds) == 4
        tests = np.concatenate([test for _, test in folds])
        assert np.array_equal(np.sort(tests), np.arange(60))  # each row tested exactly once
        for train, test in folds:
            assert np.intersect1d(train, test).size == 0
            assert np.array_equal(np.union1d(train, test), np.arange(60))
            for part in (train, test):
                assert (self.y[part] == MARK).any() and (self.y[part] != MARK).any()

    def test_source_folds_are_stratified_and_target_folds_even(self):
        for _, test in DomainStratifiedKFold(5, shuffle=True, random_state=0).split(self.X, self.y):
            counts = [np.sum(self.y[test] == c) for c in (0, 1, MARK)]
            assert counts == [6, 2, 4]

    def test_shuffling_is_reproducible_and_a_string_marker_works(self):
        y = self.y.astype(object)
        y[y == MARK] = "unlabelled"
        y = y.astype(str)
        cv = DomainStratifiedKFold(3, shuffle=True, random_state=7, unlabeled_marker="unlabelled")
        first = [test for _, test in cv.split(self.X, y)]
        again = [test for _, test in cv.split(self.X, y)]
        assert all(np.array_equal(a, b) for a, b in zip(first, again))
        assert all((y[t] == "unlabelled").sum() in (6, 7) for t in first)
        assert cv.get_n_splits() == 3

    def test_too_few_rows_of_a_domain_or_no_labels_is_a_clear_error(self):
        y = np.r_[np.zeros(10, int), np.ones(10, int), np.full(2, MARK)]
        with pytest.raises(ValueError, match="every domain; target domain -1 has 2"):
            list(DomainStratifiedKFold(3).split(np.zeros((22, 1)), y))
        with pytest.raises(ValueError, match="needs y"):
            list(DomainStratifiedKFold(3).split(np.zeros((22, 1))))
        with pytest.raises(ValueError, match="n_splits"):
            DomainStratifiedKFold(1)

    def test_works_as_cv_of_cross_val_score(self, two_blobs):
        Xs, ys, Xt, _ = two_blobs
        X, y = stack(Xs, ys, Xt)
        scores = cross_val_score(DANNClassifier(**DANN_FAST), X, y,
                                 cv=DomainStratifiedKFold(2), scoring=source_accuracy_scorer,
                                 error_score="raise")
        assert scores.shape == (2,) and np.all(scores == 1.0)


# ------------------------------------------------------------------ label-free scorers
def test_entropy_of_a_constant_probability_model_is_minus_log_k(covariate_shift):
    X, y = stack(*covariate_shift)
    assert entropy_scorer(Rule(proba=[0.5, 0.5]), X, y) == pytest.approx(-np.log(2))
    assert entropy_scorer(Rule(proba=[0.9, 0.1]), X, y) == pytest.approx(
        0.9 * np.log(0.9) + 0.1 * np.log(0.1))
    assert entropy_scorer(Rule(), X, y) == pytest.approx(0.0, abs=1e-9)  # one-hot: certain


def test_snd_of_a_collapsed_model_is_log_of_n_target_minus_one(covariate_shift):
    X, y = stack(*covariate_shift)
    assert snd_scorer(Rule(proba=[0.3, 0.7]), X, y) == pytest.approx(np.log(50 - 1))


def test_snd_of_two_clean_clusters_is_log_of_cluster_size_minus_one():
    # 20 target rows, half predicted class 0 and half class 1 (one-hot):
    # each row's neighbours are the 9 others of its cluster.
    Xt = np.r_[np.full((10, 2), -1.0), np.full((10, 2), 1.0)]
    X, y = stack(np.array([[0.5, 0.0], [-0.5, 0.0]]), np.array([1, 0]), Xt)
    assert snd_scorer(Rule(), X, y) == pytest.approx(np.log(9), abs=1e-6)
    assert make_snd_scorer(space="features")(Rule(), X, y) == pytest.approx(np.log(9), abs=1e-6)


def test_iwcv_sees_the_target_error_that_source_accuracy_misses(covariate_shift):
    # The rule is right near x0=-2, where 90% of the source lies, and wrong
    # near x0=+2, where the whole target lies: target accuracy 0.
    X, y = stack(*covariate_shift)
    wrong_on_target = Rule(flip_above=0.0)
    assert source_accuracy_scorer(wrong_on_target, X, y) == pytest.approx(0.9)
    sharp = LogisticRegression(C=100.0)  # a nearly unregularised density-ratio estimate
    assert make_iwcv_scorer(space="input", domain_classifier=sharp)(wrong_on_target, X, y) < 0.1
    # The default domain classifier (C=0.1) shrinks the weights towards 1,
    # but still sees most of the error (features = input for the stub).
    assert iwcv_scorer(wrong_on_target, X, y) < 0.5
    # Whatever the weights, a model right everywhere scores 1.
    assert iwcv_scorer(Rule(), X, y) == 1.0
    assert make_iwcv_scorer(metric="neg_log_loss")(Rule(), X, y) == pytest.approx(0.0, abs=1e-9)


def test_dev_is_zero_for_a_perfect_model_and_near_minus_one_when_wrong_on_the_target(
        covariate_shift):
    X, y = stack(*covariate_shift)
    assert dev_scorer(Rule(), X, y) == pytest.approx(0.0, abs=1e-12)
    assert dev_scorer(Rule(flip_above=0.0), X, y) < -0.7
    assert make_dev_scorer(loss="log_loss")(Rule(flip_above=0.0), X, y) < -5


def test_reverse_validation_tells_a_perfect_model_from_a_random_one(perfect_and_random):
    good, bad, X, y = perfect_and_random
    assert reverse_validation_scorer(good, X, y) > 0.95
    assert reverse_validation_scorer(bad, X, y) < 0.75
    rv_loss = make_reverse_validation_scorer(metric="neg_log_loss")
    assert rv_loss(good, X, y) > rv_loss(bad, X, y)


def test_warm_reverse_model_starts_from_the_forward_weights_and_leaves_them_alone(
        perfect_and_random):
    good, _, X, y = perfect_and_random
    before = {k: v.clone() for k, v in good.net_.module_.state_dict().items()}
    # With a negligible learning rate the warm reverse model IS the forward
    # model, so it scores the forward model's source accuracy.
    frozen = make_reverse_validation_scorer(warm_start=True, max_epochs=1, params={"lr": 1e-12})
    assert frozen(good, X, y) == source_accuracy_scorer(good, X, y) == 1.0
    after = good.net_.module_.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_reverse_validation_of_a_pipeline_uses_the_transformed_rows(two_blobs):
    Xs, ys, Xt, _ = two_blobs
    X, y = stack(Xs, ys, Xt)
    pipe = make_pipeline(StandardScaler(), DANNClassifier(**DANN_FAST)).fit(X, y)
    scorer = make_reverse_validation_scorer(max_epochs=2)
    assert scorer(pipe, X, y) == scorer(pipe[-1], pipe[:-1].transform(X), y)


def test_a_fold_without_target_rows_is_a_clear_error(covariate_shift):
    Xs, ys, _ = covariate_shift
    for scorer in (entropy_scorer, snd_scorer, iwcv_scorer, dev_scorer, reverse_validation_scorer):
        with pytest.raises(ValueError, match="no target rows"):
            scorer(Rule(), Xs, ys)


# ------------------------------------------------------------------ accuracies
def test_target_accuracy_scorer_scores_its_own_rows_and_ignores_the_fold(covariate_shift):
    Xs, ys, Xt = covariate_shift
    X, y = stack(Xs, ys, Xt)
    scorer = make_target_accuracy_scorer(Xt, np.ones(len(Xt), int))
    assert scorer(Rule(), X, y) == 1.0
    assert scorer(Rule(flip_above=0.0), None, None) == 0.0
    with pytest.raises(ValueError, match="rows"):
        make_target_accuracy_scorer(Xt, np.ones(3))


def test_source_accuracy_ignores_the_marked_rows(covariate_shift):
    X, y = stack(*covariate_shift)
    assert source_accuracy_scorer(Rule(), X, y) == 1.0


# ------------------------------------------------------------------ diagnostics
def test_proxy_a_distance_is_zero_for_one_distribution_and_two_for_disjoint_ones():
    rng = np.random.RandomState(0)
    A, B = rng.normal(size=(300, 3)), rng.normal(size=(300, 3))
    assert proxy_a_distance(A, B) < 0.3
    assert proxy_a_distance(A, A + 20) == pytest.approx(2.0)
    assert 0.3 < proxy_a_distance(A, B + [1, 0, 0]) < 1.9  # overlapping: in between


def test_domain_accuracy_is_balanced_accuracy_of_the_domain_head():
    Xs, Xt = np.zeros((30, 2)), np.full((10, 2), 10.0)
    assert domain_accuracy(Rule(), Xs, Xt) == 1.0
    assert domain_accuracy(Rule(), Xs, Xs) == 0.5  # everything called "source"


def test_domain_accuracy_of_a_real_model_and_a_pipeline(two_blobs):
    Xs, ys, Xt, _ = two_blobs
    far = Xt + [0, 20]  # a target the domain head separates easily
    X, y = stack(Xs, ys, far)
    pipe = make_pipeline(StandardScaler(), DANNClassifier(**DANN_FAST)).fit(X, y)
    assert domain_accuracy(pipe, Xs, far) > 0.9


# ------------------------------------------------------------------ GridSearchCV
def _search(n_jobs, data):
    Xs, ys, Xt, yt = data
    X, y = stack(Xs, ys, Xt)
    pipe = make_pipeline(StandardScaler(), DANNClassifier(**{**DANN_FAST, "max_epochs": 3}))
    scoring = {"rv": make_reverse_validation_scorer(max_epochs=2), "iwcv": iwcv_scorer,
               "dev": dev_scorer, "entropy": entropy_scorer, "snd": snd_scorer,
               "source": source_accuracy_scorer, "target": make_target_accuracy_scorer(Xt, yt)}
    return GridSearchCV(pipe, {"dannclassifier__lambda_max": [0.0, 1.0]}, scoring=scoring,
                        refit="rv", cv=DomainStratifiedKFold(2), n_jobs=n_jobs,
                        error_score="raise").fit(X, y)


@pytest.fixture(scope="module")
def serial_search(two_blobs):
    return _search(1, two_blobs)


def test_grid_search_scores_equal_the_scorers_called_on_each_fold_model(serial_search, two_blobs):
    # What GridSearchCV reports for fold 0 is what our scorers give on a model
    # trained on that fold by hand: the scorers see the fold's stacked rows
    # and find the domains themselves.
    res = serial_search.cv_results_
    for name in ("rv", "iwcv", "dev", "entropy", "snd", "source", "target"):
        assert np.all(np.isfinite(res[f"mean_test_{name}"])), name
    Xs, ys, Xt, yt = two_blobs
    X, y = stack(Xs, ys, Xt)
    train, test = next(DomainStratifiedKFold(2).split(X, y))
    for i, params in enumerate(res["params"]):
        pipe = make_pipeline(StandardScaler(), DANNClassifier(**{**DANN_FAST, "max_epochs": 3}))
        pipe.set_params(**params).fit(X[train], y[train])
        assert source_accuracy_scorer(pipe, X[test], y[test]) == res["split0_test_source"][i]
        assert entropy_scorer(pipe, X[test], y[test]) == pytest.approx(res["split0_test_entropy"][i])
    assert res["mean_test_entropy"][0] != res["mean_test_entropy"][1]  # λ changes the model


def test_parallel_grid_search_equals_the_serial_one(serial_search, two_blobs):
    parallel = _search(2, two_blobs)
    for key, value in serial_search.cv_results_.items():
        if key.startswith(("mean_test_", "split")):
            np.testing.assert_array_equal(parallel.cv_results_[key], value, err_msg=key)


# ------------------------------------------------------------------ domains per row, routing, skada
def _stacked_with_domains(two_blobs):
    Xs, ys, Xt, _ = two_blobs
    X, y = stack(Xs, ys, Xt)
    return X, y, np.r_[np.ones(len(Xs), int), -np.ones(len(Xt), int)]


def test_scorers_and_splitter_read_domains_from_sample_domain(two_blobs):
    X, y, sd = _stacked_with_domains(two_blobs)
    model = DANNClassifier(**DANN_FAST).fit(X, y, sample_domain=sd)
    # labelled rows of a target domain are still target rows for the scorers
    y_labelled = np.r_[y[:60], two_blobs[3]]
    assert entropy_scorer(model, X, y_labelled, sample_domain=sd) == entropy_scorer(model, X, y)
    assert source_accuracy_scorer(model, X, y_labelled, sample_domain=sd) == 1.0
    with pytest.raises(ValueError, match="sample_domain < 0"):
        entropy_scorer(model, X, y, sample_domain=np.ones(len(y), int))
    three = np.where(np.arange(len(y)) % 3 == 0, 2, sd)  # a second source domain
    for _, test in DomainStratifiedKFold(3).split(X, y, sample_domain=three):
        assert set(three[test]) == {1, 2, -1}


def test_splitter_does_not_stratify_regression_targets_and_finds_nan_rows():
    y = np.r_[np.linspace(0, 1, 20), np.full(10, np.nan)]
    folds = list(DomainStratifiedKFold(2).split(np.zeros((30, 1)), y))
    assert [int(np.isnan(y[test]).sum()) for _, test in folds] == [5, 5]


def test_scorers_request_sample_domain_for_metadata_routing():
    for scorer in (reverse_validation_scorer, iwcv_scorer, entropy_scorer, snd_scorer,
                   make_dev_scorer(), source_accuracy_scorer):
        assert scorer.get_metadata_routing().score.requests == {"sample_domain": True}
    assert DomainStratifiedKFold().get_metadata_routing().split.requests["sample_domain"] is True
    assert DANNClassifier().get_metadata_routing().fit.requests["sample_domain"] is True


def test_public_scorers_pickle_by_reference():
    import pickle
    assert pickle.loads(pickle.dumps(reverse_validation_scorer)) is reverse_validation_scorer
    assert len(pickle.dumps(make_iwcv_scorer())) < 2000


@pytest.fixture
def skada_with_routing():
    """skada, imported with sklearn's metadata routing on, then the setting restored.

    skada switches routing on for the whole process when it is imported.
    """
    import sklearn
    previous = sklearn.get_config()["enable_metadata_routing"]
    skada = pytest.importorskip("skada")
    sklearn.set_config(enable_metadata_routing=previous)
    with sklearn.config_context(enable_metadata_routing=True):
        yield skada


def test_a_skada_scorer_scores_a_skdann_pipeline_fitted_with_sample_domain(skada_with_routing,
                                                                          two_blobs):
    from skada.metrics import PredictionEntropyScorer

    X, y, sd = _stacked_with_domains(two_blobs)
    pipe = make_pipeline(StandardScaler(), DANNClassifier(**DANN_FAST))
    search = GridSearchCV(pipe, {"dannclassifier__lambda_max": [0.0, 1.0]},
                          scoring=PredictionEntropyScorer(), cv=DomainStratifiedKFold(2),
                          error_score="raise").fit(X, y, sample_domain=sd)
    assert np.all(np.isfinite(search.cv_results_["mean_test_score"]))
    assert search.cv_results_["mean_test_score"].max() <= 0  # minus an entropy


def test_a_skdann_scorer_gets_the_folds_domains_through_routing(skada_with_routing, two_blobs):
    X, y, sd = _stacked_with_domains(two_blobs)
    # Ten target rows carry labels (semi-supervised): only sample_domain tells
    # that they are target rows, for the fit, the splitter and the scorer.
    y_semi = y.copy()
    y_semi[60:70] = two_blobs[3][:10]
    pipe = make_pipeline(StandardScaler(), DANNClassifier(**DANN_FAST))
    cv = DomainStratifiedKFold(2)
    search = GridSearchCV(pipe, {"dannclassifier__lambda_max": [0.0, 1.0]}, scoring=entropy_scorer,
                          cv=cv, error_score="raise").fit(X, y_semi, sample_domain=sd)
    assert search.best_estimator_[-1].n_target_ == 60
    train, test = next(cv.split(X, y_semi, sample_domain=sd))
    for i, params in enumerate(search.cv_results_["params"]):
        model = clone(pipe).set_params(**params).fit(X[train], y_semi[train],
                                                     sample_domain=sd[train])
        expected = entropy_scorer(model, X[test], y_semi[test], sample_domain=sd[test])
        assert search.cv_results_["split0_test_score"][i] == pytest.approx(expected)
        assert expected != entropy_scorer(model, X[test], y_semi[test])  # the marker alone differs


def test_aligned_reverse_validation_is_reverse_validation_minus_domain_accuracy(two_blobs):
    from skdann.model_selection import aligned_reverse_validation_scorer

    Xs, ys, Xt, _ = two_blobs
    X, y = stack(Xs, ys, Xt + [0, 5])  # a shift the domain head sees
    model = DANNClassifier(**DANN_FAST).fit(X, y)
    expected = reverse_validation_scorer(model, X, y) - domain_accuracy(model, Xs, Xt + [0, 5])
    assert aligned_reverse_validation_scorer(model, X, y) == pytest.approx(expected)
    assert domain_accuracy(model, Xs, Xt + [0, 5]) > 0.9  # λ=0: the features stay apart
    with pytest.raises(ValueError, match="domain_penalty"):
        make_reverse_validation_scorer(domain_penalty=-1)
