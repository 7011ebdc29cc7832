"""Choosing λ without target labels: which criterion finds a λ close to the best one?

For every task of the suite and every seed, the labelled source rows and the
unlabelled target rows are split 80/20 (stratified, fixed seed) into
training rows and a validation fold. A DANN is fitted on the training rows
for every λ of the grid (0 is source-only training), and each of the
package's label-free scorers (``skdann.model_selection``) scores it on the
validation fold (its source rows labelled, its target rows marked), while
the accuracy on the suite's held-out labelled target rows says which λ was
really best. A selection rule picks, per task and seed, the λ with the best
score; the table reports how far its target accuracy is from the best λ's
(the "oracle"), and how often it lands within 2 points.

``--iwdan`` adds, for every λ > 0 of the grid, the same fit with
``label_shift="iwdan"`` as one more candidate: can a label-free rule tell
when class-weighted alignment is the better model?

    python benchmarks/auto_lambda.py [--quick] [--seeds 3] [--tasks ...] [--grid 0 0.1 0.3 1]
                                     [--iwdan] [--name NAME] [--reuse JSON]

Raw scores go to ``results/auto_lambda.json``; the table to the README block
``auto_lambda`` (for the default run).
"""

from __future__ import annotations

import argparse
import json
import operator
import sys
import time
import warnings
from concurrent.futures import ProcessPoolExecutor, as_completed
from multiprocessing import get_context

import numpy as np
import torch
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from _report import ROOT, machine, publish
from skdann import DANNClassifier
from skdann.model_selection import (
    dev_scorer,
    domain_accuracy,
    entropy_scorer,
    iwcv_scorer,
    reverse_validation_scorer,
    snd_scorer,
    source_accuracy_scorer,
)
from suite import TASKS, dann_params, load_task, select_tasks

SCORERS = {"reverse validation": reverse_validation_scorer, "source accuracy": source_accuracy_scorer,
           "IWCV": iwcv_scorer, "DEV": dev_scorer, "entropy": entropy_scorer, "SND": snd_scorer}


def split(d, seed=0):
    """Training rows and a validation fold of each domain (80/20, fixed)."""
    s_train, s_val = train_test_split(np.arange(len(d["ys"])), test_size=0.2, random_state=seed,
                                      stratify=d["ys"])
    t_train, t_val = train_test_split(np.arange(len(d["Xt"])), test_size=0.2, random_state=seed)
    return s_train, s_val, t_train, t_val


def stacked(d, s_rows, t_rows):
    X = np.concatenate([d["Xs"][s_rows], d["Xt"][t_rows]])
    y = np.r_[d["ys"][s_rows], np.full(len(t_rows), -1)]
    return X, y


def candidates(grid, iwdan):
    """The candidates' keys: ``"0.3"`` (λ), and ``"0.3+iwdan"`` for λ > 0 with ``iwdan``."""
    keys = [str(lam) for lam in grid]
    return keys + [f"{lam}+iwdan" for lam in grid if iwdan and lam > 0]


def candidate_params(key):
    """DANNClassifier parameters of a candidate key."""
    lam, _, extra = key.partition("+")
    return {"lambda_max": float(lam), **({"label_shift": "iwdan"} if extra == "iwdan" else {})}


def run_job(job, quick):
    """Fit one (task, seed, candidate); return the target test accuracy and every scorer's value."""
    name, seed, key = job
    torch.set_num_threads(1)
    d = load_task(name)
    s_train, s_val, t_train, t_val = split(d)
    params = {**dann_params(d, candidate_params(key), quick), "random_state": seed}
    clf = DANNClassifier(**params)
    model = clf if d["kind"] == "image" else make_pipeline(StandardScaler(), clf)
    model.fit(*stacked(d, s_train, t_train))
    X_val, y_val = stacked(d, s_val, t_val)
    out = {"target_acc": float(np.mean(model.predict(d["Xtest"]) == d["ytest"]))}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for key, scorer in SCORERS.items():
            out[key] = float(scorer(model, X_val, y_val))
        out["domain accuracy"] = float(domain_accuracy(model, d["Xs"][s_val], d["Xt"][t_val]))
    return out


RULES = {
    **{f"max {k}": operator.itemgetter(k) for k in SCORERS},
    "min domain accuracy": lambda scores: -scores["domain accuracy"],
    # aligned_reverse_validation_scorer: both terms are measured on the same fold
    "max aligned reverse validation (RV − domain accuracy)":
        lambda scores: scores["reverse validation"] - scores["domain accuracy"],
}


def _label(key):
    lam, _, extra = key.partition("+")
    return f"λ={float(lam):g}" + (" + IWDAN" if extra else "")


def evaluate(results, names, seeds, keys):
    """For each rule: mean gap to the oracle candidate, share within 2 points, share of λ=0 picks."""
    rows = []
    fixed = [(f"always {_label(key)}", ("fixed", key)) for key in keys]
    zero_key = str(0.0)
    for rule, key in list(RULES.items()) + fixed:
        gaps, within, zero, vs_zero = [], 0, 0, []
        for name in names:
            for seed in range(seeds):
                cells = [results[name][str(seed)][k] for k in keys]
                accs = np.array([c["target_acc"] for c in cells])
                if isinstance(key, tuple):
                    pick = keys.index(key[1])
                else:
                    values = np.array([key(c) for c in cells])
                    pick = int(np.nanargmax(values))
                gap = accs.max() - accs[pick]
                gaps.append(gap)
                vs_zero.append(accs[pick] - accs[keys.index(zero_key)])
                within += gap <= 0.02
                zero += keys[pick] == zero_key
        n = len(gaps)
        rows.append((rule, float(np.mean(gaps)), within / n, zero / n, float(np.mean(vs_zero)),
                     int(np.sum(np.array(vs_zero) < -0.05))))
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--tasks", nargs="*", default=None)
    parser.add_argument("--grid", nargs="*", type=float, default=[0.0, 0.1, 0.3, 1.0])
    parser.add_argument("--iwdan", action="store_true",
                        help="also every λ > 0 with label_shift='iwdan', as one more candidate")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--name", default=None)
    parser.add_argument("--reuse", default=None, help="an earlier run's JSON: only rewrite the table")
    args = parser.parse_args(argv)
    names = select_tasks(args.tasks)
    if 0.0 not in args.grid:
        parser.error("the grid needs λ=0 (the source-only baseline of the table)")
    keys = candidates(args.grid, args.iwdan)
    jobs = [(n, s, key) for n in names for s in range(args.seeds) for key in keys]
    jobs.sort(key=lambda j: TASKS[j[0]]["kind"] != "image")
    t0 = time.perf_counter()
    results = {n: {str(s): {} for s in range(args.seeds)} for n in names}
    spent = 0.0
    if args.reuse:
        previous = json.loads(open(args.reuse).read())
        results.update(previous["results"])
        spent = previous.get("minutes", 0.0)
        jobs = [j for j in jobs if j[2] not in results[j[0]][str(j[1])]]
    with ProcessPoolExecutor(args.jobs, mp_context=get_context("spawn")) as pool:
        futures = {pool.submit(run_job, job, args.quick): job for job in jobs}
        for k, future in enumerate(as_completed(futures), 1):
            name, seed, key = futures[future]
            results[name][str(seed)][key] = future.result()
            print(f"{time.perf_counter() - t0:7.0f} s [{k}/{len(jobs)}] {name} seed {seed} "
                  f"{_label(key)}: {results[name][str(seed)][key]['target_acc']:.3f}", flush=True)
    rows = evaluate(results, names, args.seeds, keys)
    minutes = spent + (time.perf_counter() - t0) / 60
    command = " ".join(["python benchmarks/auto_lambda.py", *(argv if argv is not None else sys.argv[1:])])
    grid_txt = ", ".join(_label(k) for k in keys)
    lines = [f"`{command}` — {machine()}; {minutes:.0f} min. Candidates {grid_txt}; {args.seeds} seeds "
             f"× {len(names)} tasks; each fit on 80 % of the source and target rows, scored on the "
             "other 20 % (validation fold); gap = target accuracy of the best candidate minus that of "
             "the pick.", "",
             "| rule | mean gap to the best candidate | picks within 2 points | picks of λ=0 | "
             "mean gain over λ=0 | picks > 5 points below λ=0 |", "|---|---|---|---|---|---|"]
    for rule, gap, within, zero, gain, bad in rows:
        lines.append(f"| {rule} | {gap:.3f} | {within:.0%} | {zero:.0%} | {gain:+.3f} | {bad} of "
                     f"{len(names) * args.seeds} |")
    name = "auto_lambda" + (f"_{args.name}" if args.name else "")
    (ROOT / "benchmarks" / "results" / f"{name}.json").write_text(
        json.dumps({"grid": args.grid, "results": results, "minutes": minutes}, indent=1))
    publish(name, "\n".join(lines), readme=args.name is None)


if __name__ == "__main__":
    main()
