"""Why the default optimizer is Adam with lr=3e-3, and batch_size 128: candidates on two tasks.

DANN (lambda_max=1, batch 128, max_epochs="auto", everything else default)
with four optimizer settings, on the rotated moons (35 degrees, 5 seeds,
2,000 fresh target points) and on MNIST-5k -> load_digits (tabular, as in
benchmarks/digits.py, 3 seeds, held-out target rows). One torch thread.

    python benchmarks/defaults.py
"""

from __future__ import annotations

import statistics

import numpy as np

from _report import machine, publish
from digits import tabular_data
from skdann import DANNClassifier
from skdann.datasets import make_domain_moons

CANDIDATES = {
    "Adam, lr 3e-3 (default)": {"optimizer": "adam", "lr": 3e-3},
    "Adam, lr 1e-3": {"optimizer": "adam", "lr": 1e-3},
    "SGD momentum 0.9, lr 0.01 (the paper's)": {"optimizer": "sgd", "lr": 1e-2},
    "SGD momentum 0.9, lr 0.03": {"optimizer": "sgd", "lr": 3e-2},
}


BATCH_SIZES = [64, 128, 256]


def moons(params, seed, angle=35):
    Xs, ys, Xt, _ = make_domain_moons(angle=angle, random_state=seed)
    Xte, yte = make_domain_moons(n_source=2, n_target=2000, angle=angle,
                                 random_state=1000 + seed)[2:]
    return DANNClassifier(random_state=seed, n_threads=1, **params).fit(Xs, ys, Xt).score(Xte, yte)


def digits(params, seed, d):
    clf = DANNClassifier(random_state=seed, n_threads=1, **params).fit(d["Xs"], d["ys"], d["Xt"])
    return clf.score(d["Xtest"], d["ytest"])


def main():
    d = tabular_data()["MNIST-5k → load_digits"]
    lines = [f"`python benchmarks/defaults.py` ({machine()}): DANN with lambda_max=1, batch 128, "
             "max_epochs='auto'; target accuracy, median / worst over seeds.", "",
             "| optimizer | moons 35° (5 seeds) | MNIST-5k → digits (3 seeds) |", "|---|---|---|"]
    for name, params in CANDIDATES.items():
        m = [moons(params, s) for s in range(5)]
        g = [digits(params, s, d) for s in range(3)]
        lines.append(f"| {name} | {statistics.median(m):.3f} / {min(m):.3f} | "
                     f"{statistics.median(g):.3f} / {min(g):.3f} |")
        print(lines[-1], flush=True)
    lines += ["", "| batch_size (Adam, lr 3e-3) | moons 35° (5 seeds) | moons 50° (5 seeds) | "
              "MNIST-5k → digits (3 seeds) |", "|---|---|---|---|"]
    for bs in BATCH_SIZES:
        params = {"batch_size": bs}
        m35 = [moons(params, s) for s in range(5)]
        m50 = [moons(params, s, angle=50) for s in range(5)]
        g = [digits(params, s, d) for s in range(3)]
        lines.append(f"| {bs}{' (default)' if bs == 128 else ''} | {statistics.median(m35):.3f} / "
                     f"{min(m35):.3f} | {statistics.median(m50):.3f} / {min(m50):.3f} | "
                     f"{statistics.median(g):.3f} / {min(g):.3f} |")
        print(lines[-1], flush=True)
    publish("defaults_optimizer", "\n".join(lines))


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
