"""Many fits on a Dask cluster: GridSearchCV under joblib's Dask backend equals the serial search."""

import pickle

import numpy as np
import pytest
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skdann import DANNClassifier, DANNRegressor
from skdann.datasets import make_domain_moons
from skdann.model_selection import (
    DomainStratifiedKFold,
    entropy_scorer,
    make_iwcv_scorer,
    make_reverse_validation_scorer,
    reverse_validation_scorer,
)


def _search(n_jobs):
    Xs, ys, Xt, _ = make_domain_moons(n_source=80, n_target=80, angle=35, random_state=0)
    X, y = np.vstack([Xs, Xt]), np.r_[ys, np.full(80, -1)]
    pipe = make_pipeline(StandardScaler(), DANNClassifier(max_epochs=5, batch_size=32, n_threads=1,
                                                          random_state=0))
    search = GridSearchCV(pipe, {"dannclassifier__lambda_max": [0.0, 0.3, 1.0]},
                          scoring={"rv": reverse_validation_scorer, "entropy": entropy_scorer},
                          refit="rv", cv=DomainStratifiedKFold(2, shuffle=True, random_state=0),
                          n_jobs=n_jobs, error_score="raise")
    return search.fit(X, y)


@pytest.mark.slow
def test_grid_search_on_a_dask_cluster_equals_the_serial_search():
    joblib = pytest.importorskip("joblib")
    distributed = pytest.importorskip("distributed")
    serial = _search(1)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, distributed.Client(cluster):
        with joblib.parallel_backend("dask"):
            on_dask = _search(-1)
    for key, value in serial.cv_results_.items():
        if key.startswith(("mean_test_", "split")):
            np.testing.assert_array_equal(on_dask.cv_results_[key], value, err_msg=key)
    assert on_dask.best_params_ == serial.best_params_


def test_what_crosses_to_a_worker_pickles_small():
    # An unfitted estimator, the splitter and the scorers travel to every
    # worker with every task: they must stay a few kilobytes.
    for obj in (DANNClassifier(), DANNRegressor(), DomainStratifiedKFold(3),
                reverse_validation_scorer, entropy_scorer, make_reverse_validation_scorer(),
                make_iwcv_scorer()):
        assert len(pickle.dumps(obj)) < 4000, type(obj).__name__
