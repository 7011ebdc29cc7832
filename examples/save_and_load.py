"""Save a fitted DANNClassifier and load it back: pickle, joblib, and skorch's parameter files.

1. ``pickle`` / ``joblib``: the whole estimator (parameters, classes, the
   skorch net with its weights, optimizer and history). Simplest; needs the
   same versions of skdann, torch and skorch to load, and any custom module
   classes importable under the same name.
2. ``model.net_.save_params`` / ``load_params`` (skorch): only the tensors
   (weights, optimizer state) and the history, as files. To load them, build
   the same estimator, initialise its network without training
   (``partial_fit(..., epochs=0)``), then load.

Each way, the loaded model's predictions must equal the original's exactly.

Run: ``python examples/save_and_load.py`` (a few seconds), ``--smoke`` for
fewer epochs.
"""

from __future__ import annotations

import argparse
import pickle
import tempfile
from pathlib import Path

import joblib
import numpy as np
import torch

from skdann import DANNClassifier
from skdann.datasets import make_domain_moons


def same_predictions(a, b, X) -> bool:
    return (np.array_equal(a.predict(X), b.predict(X))
            and np.array_equal(a.predict_proba(X), b.predict_proba(X))
            and np.array_equal(a.transform(X), b.transform(X)))


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="fewer epochs")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)

    Xs, ys, Xt, yt = make_domain_moons(angle=35, random_state=0)
    params = {"max_epochs": 3 if args.smoke else 50, "random_state": 0, "n_threads": 1}
    model = DANNClassifier(**params).fit(Xs, ys, Xt)
    print(f"fitted: target accuracy {model.score(Xt, yt):.3f}, {len(model.history_)} epochs")

    checks = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)

        # 1a. pickle (bytes, or a file)
        restored = pickle.loads(pickle.dumps(model))
        checks["pickle"] = same_predictions(model, restored, Xt)

        # 1b. joblib (a file; compress is optional)
        joblib.dump(model, tmp / "dann.joblib", compress=3)
        restored = joblib.load(tmp / "dann.joblib")
        checks["joblib"] = same_predictions(model, restored, Xt)
        checks["joblib history"] = restored.history_[:, "train_loss"] == model.history_[:, "train_loss"]

        # 2. skorch's parameter files: weights, optimizer state, history.
        files = {"f_params": tmp / "params.pt", "f_optimizer": tmp / "optimizer.pt",
                 "f_history": tmp / "history.json"}
        model.net_.save_params(**files)
        fresh = DANNClassifier(**params)
        # Same data shapes and classes; 0 epochs: builds the network, trains nothing.
        fresh.partial_fit(Xs, ys, Xt, epochs=0)
        checks["fresh model differs"] = not same_predictions(model, fresh, Xt)
        fresh.net_.load_params(**files)
        checks["load_params"] = same_predictions(model, fresh, Xt)
        checks["load_params history"] = len(fresh.history_) == len(model.history_)

    for name, ok in checks.items():
        print(f"  {name:<22} {'ok' if ok else 'FAILED'}")
    if not all(checks.values()):
        raise SystemExit("a round trip changed the model")
    return checks


if __name__ == "__main__":
    main()
