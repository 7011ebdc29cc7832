"""How well do label-free scorers choose λ for DANN? (skdann.model_selection)

For each task and seed, one ``GridSearchCV`` over
λ ∈ {0, 0.01, 0.03, 0.1, 0.3, 1, 3} (``dannclassifier__lambda_max``) of
``Pipeline([StandardScaler(), DANNClassifier(...)])`` on stacked
source+target rows, ``cv=DomainStratifiedKFold(3, shuffle=True)``, with a
dict of scorers (``refit=False``): every fold model is fitted once and
scored by every scorer. One entry of the dict,
``make_target_accuracy_scorer``, measures each fold model's accuracy on
held-out labelled target rows that are not in the searched data, so no
other scorer sees them; its mean over the folds is "the target accuracy"
of a λ.

Per scorer and task the table gives: the λ it picks (per seed), the target
accuracy of that pick and the best target accuracy in the grid (oracle),
both averaged over seeds, and the Spearman correlation between the scorer
and the target accuracy over the 7 λ (averaged over seeds).

Tasks:

- moons: ``make_domain_moons`` (300 source, 300 target, 35°, noise 0.1);
  held-out target: 1000 fresh rotated points.
- mnist→digits: source = 2500 MNIST-5k digits (stratified subsample)
  converted by ``to_optdigits``, target = sklearn's ``load_digits``
  (1797) split into 1000 unlabelled adaptation rows and 797 held-out
  test rows; features / 16.
- digits→mnist: source = ``load_digits`` (1797), target = converted
  MNIST-5k split into 2000 adaptation rows and 3000 held-out test rows.

Run: ``python benchmarks/selection.py`` (about 10 minutes on one core);
``--quick`` for a smoke run. Writes ``benchmarks/results/selection.md``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
from scipy.stats import spearmanr
from sklearn.datasets import load_digits
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from skdann import DANNClassifier
from skdann.datasets import load_mnist_5k, make_domain_moons, to_optdigits
from skdann.model_selection import (
    DomainStratifiedKFold,
    dev_scorer,
    entropy_scorer,
    iwcv_scorer,
    make_iwcv_scorer,
    make_reverse_validation_scorer,
    make_target_accuracy_scorer,
    snd_scorer,
    source_accuracy_scorer,
)

torch.set_num_threads(1)
threadpool_limits(1)  # BLAS too: the domain classifiers of IWCV/DEV are small

GRID = [0.0, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0]
RESULTS = Path(__file__).resolve().parent / "results" / "selection.md"

# Explicit network/training parameters (the package defaults are being re-tuned).
PARAMS = {
    "moons": dict(max_epochs=150, lr=3e-3, batch_size=64, extractor__hidden_sizes=(64, 64)),
    "mnist→digits": dict(max_epochs=20, lr=1e-3, batch_size=64,
                         extractor__hidden_sizes=(128, 128)),
    "digits→mnist": dict(max_epochs=30, lr=1e-3, batch_size=64,
                         extractor__hidden_sizes=(128, 128)),
}
SEEDS = {"moons": [0, 1, 2], "mnist→digits": [0, 1], "digits→mnist": [0, 1]}

SCORERS = {
    "reverse validation (cold)": make_reverse_validation_scorer(warm_start=False),
    "reverse validation (warm)": make_reverse_validation_scorer(warm_start=True),
    "reverse validation (log loss)": make_reverse_validation_scorer(metric="neg_log_loss"),
    "IWCV (features)": iwcv_scorer,
    "IWCV (input)": make_iwcv_scorer(space="input"),
    "DEV": dev_scorer,
    "entropy": entropy_scorer,
    "SND": snd_scorer,
    "source accuracy": source_accuracy_scorer,
}


def _digits_domains():
    Xm, ym = load_mnist_5k()
    Xm = to_optdigits(Xm) / 16.0
    d = load_digits()
    return Xm, ym, d.data / 16.0, d.target


def load_task(name: str, seed: int):
    """(X_source, y_source, X_target_unlabelled, X_test, y_test) of a task."""
    if name == "moons":
        Xs, ys, Xt, _ = make_domain_moons(300, 300, angle=35, random_state=seed)
        _, _, X_test, y_test = make_domain_moons(2, 1000, angle=35, random_state=1000 + seed)
        return Xs, ys, Xt, X_test, y_test
    Xm, ym, Xd, yd = _digits_domains()
    if name == "mnist→digits":
        Xs, _, ys, _ = train_test_split(Xm, ym, train_size=2500, stratify=ym, random_state=seed)
        Xt, X_test, _, y_test = train_test_split(Xd, yd, train_size=1000, stratify=yd,
                                                 random_state=seed)
        return Xs, ys, Xt, X_test, y_test
    Xt, X_test, _, y_test = train_test_split(Xm, ym, train_size=2000, stratify=ym,
                                             random_state=seed)
    return Xd, yd, Xt, X_test, y_test


def run_search(name: str, seed: int, quick: bool):
    Xs, ys, Xt, X_test, y_test = load_task(name, seed)
    X = np.vstack([Xs, Xt])
    y = np.r_[ys, np.full(len(Xt), -1)]
    params = dict(PARAMS[name])
    if quick:
        params["max_epochs"] = max(2, params["max_epochs"] // 20)
    pipe = Pipeline([("scale", StandardScaler()),
                     ("dannclassifier", DANNClassifier(n_threads=1, random_state=seed, **params))])
    scoring = dict(SCORERS)
    scoring["target accuracy"] = make_target_accuracy_scorer(X_test, y_test)
    search = GridSearchCV(pipe, {"dannclassifier__lambda_max": GRID}, scoring=scoring,
                          refit=False, cv=DomainStratifiedKFold(3, shuffle=True, random_state=seed),
                          n_jobs=1, error_score=np.nan)
    search.fit(X, y)
    res = search.cv_results_
    return {k: np.asarray(res[f"mean_test_{k}"], dtype=float) for k in scoring}


def summarise(runs: list[dict]):
    """Rows (scorer, picks, acc of pick, oracle, spearman) from per-seed results."""
    rows = []
    for scorer in SCORERS:
        picks, accs, oracles, rhos = [], [], [], []
        for r in runs:
            s, t = r[scorer], r["target accuracy"]
            i = int(np.nanargmax(s)) if np.isfinite(s).any() else 0
            picks.append(GRID[i])
            accs.append(t[i])
            oracles.append(np.nanmax(t))
            ok = np.isfinite(s) & np.isfinite(t)
            rho = spearmanr(s[ok], t[ok]).statistic if ok.sum() > 2 and np.ptp(s[ok]) > 0 else np.nan
            rhos.append(rho)
        rows.append((scorer, picks, float(np.mean(accs)), float(np.mean(oracles)),
                     float(np.nanmean(rhos)) if np.isfinite(rhos).any() else np.nan))
    return rows


def _fmt_lambda(v: float) -> str:
    return f"{v:g}"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: few epochs, one seed")
    parser.add_argument("--tasks", nargs="*", default=list(PARAMS))
    args = parser.parse_args(argv)
    lines = ["# Choosing λ without target labels", "",
             f"Grid λ ∈ {{{', '.join(_fmt_lambda(g) for g in GRID)}}}; "
             "GridSearchCV(Pipeline([StandardScaler(), DANNClassifier(n_threads=1)]), "
             "cv=DomainStratifiedKFold(3, shuffle=True)), every scorer on the same fold models. "
             "Target accuracy: mean over the 3 fold models, on held-out labelled target rows "
             "no scorer sees. Produced by `python benchmarks/selection.py` on 1 CPU thread.", ""]
    t_all = time.perf_counter()
    for name in args.tasks:
        seeds = SEEDS[name][:1] if args.quick else SEEDS[name]
        t0 = time.perf_counter()
        runs = [run_search(name, seed, args.quick) for seed in seeds]
        dt = time.perf_counter() - t0
        params = ", ".join(f"{k}={v}" for k, v in PARAMS[name].items())
        target_by_lambda = np.mean([r["target accuracy"] for r in runs], axis=0)
        lines += [f"## {name}", "",
                  f"DANNClassifier({params}); seeds {seeds}; {dt:.0f} s.", "",
                  "Target accuracy by λ (mean over seeds): "
                  + ", ".join(f"{_fmt_lambda(g)}: {a:.3f}" for g, a in zip(GRID, target_by_lambda)),
                  "",
                  "| scorer | λ picked (per seed) | target acc. of pick | oracle | gap | Spearman ρ |",
                  "|---|---|---|---|---|---|"]
        for scorer, picks, acc, oracle, rho in summarise(runs):
            lines.append(f"| {scorer} | {', '.join(_fmt_lambda(p) for p in picks)} | {acc:.3f} | "
                         f"{oracle:.3f} | {oracle - acc:+.3f} | {rho:+.2f} |")
        lines.append("")
        print("\n".join(lines[-(len(SCORERS) + 8):]), flush=True)
    lines.append(f"Total time: {time.perf_counter() - t_all:.0f} s.")
    text = "\n".join(lines) + "\n"
    if not args.quick:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
