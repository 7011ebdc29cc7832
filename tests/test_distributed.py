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


DDP_SCRIPT = '''
import json, sys
import torch
import torch.distributed as dist
from skdann import DANNClassifier
from skdann.datasets import make_domain_moons

dist.init_process_group("gloo")
torch.set_num_threads(1)
out = []
for seed in range(int(sys.argv[2])):
    Xs, ys, Xt, _ = make_domain_moons(angle=35, random_state=seed)
    Xe, ye = make_domain_moons(n_source=2, n_target=2000, angle=35, random_state=1000 + seed)[2:]
    clf = DANNClassifier(batch_size=32, max_epochs=100, distributed=True,
                         random_state=seed).fit(Xs, ys, Xt)
    w = clf.net_.module_.label_head.net[0].weight.detach().clone()
    every = [torch.zeros_like(w) for _ in range(dist.get_world_size())]
    dist.all_gather(every, w)
    row = dict(clf.history_[-1])
    out.append({"acc": clf.score(Xe, ye), "lambda": row["lambda"], "lr": row["lr"],
                "steps": row["steps"], "same_weights": all(torch.equal(e, w) for e in every)})
    if dist.get_rank() == 0 and seed == 0:
        import pickle
        with open(sys.argv[1] + ".pkl", "wb") as f:
            pickle.dump(clf, f)
if dist.get_rank() == 0:
    json.dump(out, open(sys.argv[1], "w"))
dist.destroy_process_group()
'''


def _free_port():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_two_process_fit_matches_one_process_with_twice_the_batch(tmp_path):
    import json
    import subprocess
    import sys

    seeds = 5
    script = tmp_path / "ddp.py"
    script.write_text(DDP_SCRIPT)
    out = tmp_path / "out.json"
    run = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
                          "--master_addr", "127.0.0.1", "--master_port", str(_free_port()),
                          str(script), str(out), str(seeds)],
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    ddp = json.loads(out.read_text())
    single = []
    for seed in range(seeds):
        Xs, ys, Xt, _ = make_domain_moons(angle=35, random_state=seed)
        Xe, ye = make_domain_moons(n_source=2, n_target=2000, angle=35, random_state=1000 + seed)[2:]
        clf = DANNClassifier(batch_size=64, max_epochs=100, random_state=seed).fit(Xs, ys, Xt)
        single.append(clf)
    # Every rank ends with the same weights; the schedules follow the global step.
    assert all(r["same_weights"] for r in ddp)
    last = single[-1].history_[-1]
    for r in ddp:
        assert r["steps"] == last["steps"] == 500
        assert r["lambda"] == pytest.approx(last["lambda"]) and r["lr"] == pytest.approx(last["lr"])
    # Accuracy within seed noise: the difference of the means is within two standard errors.
    a = np.array([r["acc"] for r in ddp])
    b = np.array([np.mean(c.predict(make_domain_moons(n_source=2, n_target=2000, angle=35,
                                                      random_state=1000 + s)[2]) ==
                          make_domain_moons(n_source=2, n_target=2000, angle=35,
                                            random_state=1000 + s)[3]) for s, c in enumerate(single)])
    noise = 2 * np.sqrt(a.var(ddof=1) / seeds + b.var(ddof=1) / seeds)
    assert abs(a.mean() - b.mean()) <= noise + 0.02, (a, b)
    # The model that comes back pickles and predicts like a single-process one.
    import pickle
    with open(str(out) + ".pkl", "rb") as f:
        model = pickle.load(f)
    assert model.predict(np.zeros((3, 2))).shape == (3,)
    with pytest.raises(RuntimeError, match="torch.distributed to be initialised"):
        model.fit(*make_domain_moons(random_state=0)[:3])
