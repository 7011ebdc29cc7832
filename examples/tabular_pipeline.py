"""StandardScaler + DANNClassifier in a Pipeline, with λ chosen by GridSearchCV.

The data are the rotated two moons of Ganin et al. (2016) with three noise
columns, and every column in its own unit (so scaling matters). Source rows
are labelled; target rows are stacked under them with the label -1, the
scikit-learn semi-supervised convention, so the whole Pipeline (scaler
included) is fitted with one ``fit(X, y)`` and cross-validation splits both
domains.

Target labels are never used for training or model selection: GridSearchCV
scores with reverse validation (``skdann.model_selection``) on folds of
``DomainStratifiedKFold``. They are only used at the end to report the
target accuracy.

Run: ``python examples/tabular_pipeline.py`` (about 30 s on 2 cores), or
``--smoke`` for a few-second check; ``--plot FOLDER`` saves pictures.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skdann import DANNClassifier
from skdann.datasets import make_domain_moons
from skdann.model_selection import DomainStratifiedKFold, reverse_validation_scorer

UNITS = np.array([1.0, 1.0, 10.0, 100.0, 0.1])  # a different scale per column


def make_data(n: int, random_state: int = 0):
    """Moons rotated 35° in the target, 3 noise columns, mixed units."""
    rng = np.random.RandomState(random_state)
    Xs, ys, Xt, yt = make_domain_moons(n_source=n, n_target=n, angle=35, random_state=rng)
    Xs = np.c_[Xs, rng.normal(scale=0.5, size=(n, 3))] * UNITS
    Xt = np.c_[Xt, rng.normal(scale=0.5, size=(n, 3))] * UNITS
    return Xs, ys, Xt, yt


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny run (a few seconds)")
    parser.add_argument("--plot", metavar="FOLDER", help="save history and domain pictures")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)

    n, epochs, grid, folds = (300, 40, [0.0, 0.1, 0.3, 1.0], 3)
    if args.smoke:
        n, epochs, grid, folds = (60, 2, [0.0, 1.0], 2)

    Xs, ys, Xt, yt = make_data(n)
    # Stacked form: target rows carry the marker -1 (DANNClassifier's unlabeled_marker).
    X = np.vstack([Xs, Xt])
    y = np.r_[ys, np.full(len(Xt), -1)]

    pipe = make_pipeline(
        StandardScaler(),
        DANNClassifier(max_epochs=epochs, batch_size=32, random_state=0, n_threads=1),
    )
    search = GridSearchCV(
        pipe,
        {"dannclassifier__lambda_max": grid},
        # Reverse validation (Ganin et al. 2016, section 5.1.2): pseudo-label the
        # fold's target rows, train a reverse model on them, score it on the
        # fold's source rows. No target label is used.
        scoring=reverse_validation_scorer,
        # Every training and test fold holds source and target rows.
        cv=DomainStratifiedKFold(folds, shuffle=True, random_state=0),
        n_jobs=1,
    )
    t = time.perf_counter()
    search.fit(X, y)
    print(f"GridSearchCV over lambda_max={grid} with reverse validation "
          f"({folds} folds, {time.perf_counter() - t:.1f} s)")
    for lam, score in zip(grid, search.cv_results_["mean_test_score"]):
        print(f"  lambda_max={lam:<4g} mean CV score {score:.3f}")
    best = search.best_params_["dannclassifier__lambda_max"]

    # For the report only: the target labels, and a source-only refit to compare.
    source_only = make_pipeline(
        StandardScaler(),
        DANNClassifier(max_epochs=epochs, batch_size=32, lambda_max=0.0, random_state=0,
                       n_threads=1),
    ).fit(X, y)
    results = {
        "best_lambda_max": best,
        "target_accuracy": float(np.mean(search.predict(Xt) == yt)),
        "source_only_target_accuracy": float(np.mean(source_only.predict(Xt) == yt)),
    }
    print(f"best lambda_max={best:g}: target accuracy {results['target_accuracy']:.3f} "
          f"(source only: {results['source_only_target_accuracy']:.3f})")

    if args.plot:
        from pathlib import Path

        from skdann.plot import plot_domains, plot_history

        folder = Path(args.plot)
        folder.mkdir(parents=True, exist_ok=True)
        model = search.best_estimator_
        plot_history(model).savefig(folder / "tabular_history.png", dpi=90)
        plot_domains(model, Xs, Xt, y_source=ys, y_target=yt, before=source_only).savefig(
            folder / "tabular_domains.png", dpi=90)
        print(f"saved pictures to {folder}/")
    return results


if __name__ == "__main__":
    main()
