"""Ablation of the training options ("levers") on the benchmark suite's tasks.

Every lever is a parameter of ``DANNClassifier``; each configuration below is
trained on the suite's tasks (``benchmarks/suite.py``: same data, same feeds,
held-out target rows) for several seeds and compared with source-only
training:

- against the source-only network with the package's current defaults
  ("gain"), which is what a user gains by switching the lever on;
- against source-only training with the same lever ("own SO"): a lever that
  also changes source-only training (input standardisation, training
  length, weight averaging) shows here whether it helps the adaptation or
  just the network.

Source-only runs are cached by the parameters that can change them, so a
lever that only touches the adversary costs one DANN fit per task and seed.
Configurations are combined on top of ``--base`` (default: the package
defaults), so the script is also how a candidate set of defaults is judged.

    python benchmarks/ablation.py [--quick] [--seeds 3] [--tasks real moons-35]
                                  [--configs standardize ema ...] [--base key=value ...]
                                  [--name NAME]

Writes ``results/ablation[_NAME].{md,json}``, and the README block between
``<!-- ablation[_NAME]:start -->`` and ``<!-- ablation[_NAME]:end -->`` where the README has those
markers. ``--reuse`` an earlier run's JSON to add configurations without
refitting what is done; ``--render NAME`` rebuilds a finished run's tables from
its JSON (after the tables gained a column), keeping the line naming its run.
Real tasks also get a table of DANN's target accuracy against the better of
LogisticRegression and HistGradientBoosting from ``results/suite.json``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from multiprocessing import get_context

import numpy as np
import torch

from _levers import (
    GradientPenalty01Net,
    GradientPenaltyNet,
    MinimumClassConfusionNet,
    RelaxedDomainLoss,
    SharpnessAware002Net,
    SharpnessAwareNet,
    VirtualAdversarial03Net,
    VirtualAdversarialNet,
)
from _report import ROOT, machine, publish
from suite import TASKS, load_task, parse_overrides, run_dann, run_source_only, select_tasks

#: The first round: every lever alone (the default run).
ROUND_1 = {
    "defaults": {},
    "standardize": {"standardize": True},
    "steps-500": {"_auto_steps": 500},
    "steps-1000": {"_auto_steps": 1000},
    "early-stopping": {"early_stopping": True},
    "ema": {"averaging": "ema"},
    "swa": {"averaging": "swa"},
    "lambda-0.3": {"lambda_max": 0.3},
    "lambda-0.1": {"lambda_max": 0.1},
    "domain-lr-0.1": {"domain_lr_factor": 0.1},
    "domain-lr-10": {"domain_lr_factor": 10.0},
    "domain-head-256x2": {"domain_head__hidden_sizes": (256, 256)},
    "label-smoothing-0.2": {"domain_label_smoothing": 0.2},
    "warmup-0.2": {"warmup": 0.2},
    "iwdan": {"label_shift": "iwdan"},
    "cdan": {"adversary": "cdan"},
    "cdan+e": {"adversary": "cdan+e"},
    "weight-decay": {"optimizer": "adamw", "optimizer__weight_decay": 0.01},
}
#: The second round: combinations of the levers that helped in the first.
ROUND_2 = {
    "iwdan+weight-decay": {"label_shift": "iwdan", "optimizer": "adamw",
                           "optimizer__weight_decay": 0.01},
    "iwdan+lambda-0.3": {"label_shift": "iwdan", "lambda_max": 0.3},
    "iwdan+steps-1000": {"label_shift": "iwdan", "_auto_steps": 1000},
    "iwdan+early-stopping": {"label_shift": "iwdan", "early_stopping": True},
    "iwdan+ema": {"label_shift": "iwdan", "averaging": "ema"},
    "weight-decay+lambda-0.3": {"optimizer": "adamw", "optimizer__weight_decay": 0.01,
                                "lambda_max": 0.3},
    "weight-decay+swa": {"optimizer": "adamw", "optimizer__weight_decay": 0.01, "averaging": "swa"},
}
#: Later rounds (each README table names the configurations it ran): IWDAN's
#: shrinkage, extractor dropout, the adversary's settings around the defaults, and
#: entropy minimisation on the target rows, relaxed alignment and a gradient
#: penalty on the domain head (the last two from ``_levers.py``), and several
#: domain-head updates per training step.
LATER = {
    "iwdan-shrink-0.5": {"label_shift": "iwdan", "label_shift_shrinkage": 0.5},
    "iwdan-shrink-0.5+steps-1000": {"label_shift": "iwdan", "label_shift_shrinkage": 0.5,
                                    "_auto_steps": 1000},
    "dropout-0.2": {"extractor__dropout": 0.2},
    "dropout-0.5": {"extractor__dropout": 0.5},
    "dropout-0.5+iwdan": {"extractor__dropout": 0.5, "label_shift": "iwdan"},
    "dropout-0.5+iwdan-shrink-0.5": {"extractor__dropout": 0.5, "label_shift": "iwdan",
                                     "label_shift_shrinkage": 0.5},
    "dropout-0.2+iwdan-shrink-0.5": {"extractor__dropout": 0.2, "label_shift": "iwdan",
                                     "label_shift_shrinkage": 0.5},
    "dropout-0.2+lambda-1": {"extractor__dropout": 0.2, "lambda_max": 1.0},
    "lambda-0.5": {"lambda_max": 0.5},
    "lambda-0.2": {"lambda_max": 0.2},
    "gamma-5": {"gamma": 5.0},
    "gamma-20": {"gamma": 20.0},
    "domain-lr-0.3": {"domain_lr_factor": 0.3},
    "domain-lr-3": {"domain_lr_factor": 3.0},
    "entropy-0.1": {"target_entropy": 0.1},
    "entropy-0.3": {"target_entropy": 0.3},
    "entropy-1": {"target_entropy": 1.0},
    "relaxed-1": {"criterion_domain": RelaxedDomainLoss, "criterion_domain__beta": 1.0},
    "relaxed-1+lambda-3": {"criterion_domain": RelaxedDomainLoss, "criterion_domain__beta": 1.0,
                           "lambda_max": 3.0},
    "domain-gp-0.1": {"net_class": GradientPenalty01Net},
    "domain-gp-1": {"net_class": GradientPenaltyNet},
    "domain-steps-2": {"domain_steps": 2},
    "domain-steps-5": {"domain_steps": 5},
    "sam-0.05": {"net_class": SharpnessAwareNet},
    "sam-0.02": {"net_class": SharpnessAware002Net},
    "ensemble-3": {"_ensemble": 3},
    "ensemble-5": {"_ensemble": 5},
    "vat-0.1": {"net_class": VirtualAdversarialNet},
    "vat-0.3": {"net_class": VirtualAdversarial03Net},
    "vat-0.1+entropy-0.1": {"net_class": VirtualAdversarialNet, "target_entropy": 0.1},
    "vat-weight-1": {"vat_weight": 1.0},
    "vat-weight-1-radius-0.1": {"vat_weight": 1.0, "vat_radius": 0.1},
    "vat-target-1": {"vat_weight": 1.0, "vat_rows": "target"},
    "vat-target-3": {"vat_weight": 3.0, "vat_rows": "target"},
    "vat-target-1-radius-0.1": {"vat_weight": 1.0, "vat_rows": "target", "vat_radius": 0.1},
    "mcc-0.3": {"net_class": MinimumClassConfusionNet, "target_entropy": 0.3},
    "mcc-1": {"net_class": MinimumClassConfusionNet, "target_entropy": 1.0},
}
#: Every configuration by name (added to --base).
CONFIGS = {**ROUND_1, **ROUND_2, **LATER}

#: Parameters that cannot change a source-only fit (with lambda_max=0 the
#: extractor gets no domain gradient, and the domain head is built last).
ADVERSARY_ONLY = ("lambda_max", "lambda_schedule", "gamma", "warmup", "adversary", "domain_labels",
                  "domain_lr_factor", "domain_label_smoothing", "domain_steps", "target_entropy",
                  "criterion_domain", "net_class")
ADVERSARY_PREFIXES = ("adversary__", "domain_head__", "criterion_domain__")


def so_key(params: dict) -> str:
    """Cache key of a source-only fit: the parameters that can change it."""
    kept = {k: v for k, v in params.items()
            if k not in ADVERSARY_ONLY and not k.startswith(ADVERSARY_PREFIXES)}
    # A net class of _levers.py acts on the domain head alone unless it says otherwise.
    if getattr(params.get("net_class"), "changes_source_only", False):
        kept["net_class"] = params["net_class"]
    # VAT on the target rows alone is ramped with λ: a lambda_max=0 fit skips it.
    if params.get("vat_rows") == "target":
        kept = {k: v for k, v in kept.items() if not k.startswith("vat_")}
    return json.dumps(kept, sort_keys=True, default=repr)


def _init_worker():
    torch.set_num_threads(1)


def run_job(job, quick):
    """``(task, kind, params, seed)`` -> (accuracy, seconds); kind is "SO" or "DANN"."""
    from skdann import DANNClassifier

    name, kind, params, seed = job
    params = dict(params)
    steps = params.pop("_auto_steps", None)
    max_epochs = params.pop("_auto_max_epochs", None)
    # What max_epochs="auto" aims for: its number of steps, its largest number of epochs.
    defaults = DANNClassifier.AUTO_STEPS, DANNClassifier.AUTO_MAX_EPOCHS
    if steps is not None:
        DANNClassifier.AUTO_STEPS = int(steps)
    if max_epochs is not None:
        DANNClassifier.AUTO_MAX_EPOCHS = int(max_epochs)
    runner = run_source_only if kind == "SO" else run_dann
    d = load_task(name)
    if d["kind"] == "image":
        params.pop("extractor__dropout", None)  # an MLP-extractor lever: the CNN has no dropout
    try:
        return runner(d, seed, params, quick=quick)
    finally:
        DANNClassifier.AUTO_STEPS, DANNClassifier.AUTO_MAX_EPOCHS = defaults


def plan(names, configs, base, seeds):
    jobs, so_jobs = [], {}
    for name in names:
        for seed in range(seeds):
            for cfg in configs:
                params = {**base, **CONFIGS[cfg]}
                jobs.append((name, "DANN", params, seed, cfg))
                key = (name, so_key(params), seed)
                so_jobs.setdefault(key, (name, "SO", params, seed, cfg))
    all_jobs = jobs + list(so_jobs.values())
    # the image task first: it is the longest
    return sorted(all_jobs, key=lambda j: TASKS[j[0]]["kind"] != "image")


def _done(results, job):
    name, kind, params, seed, cfg = job
    key = cfg if kind == "DANN" else so_key(params)
    return str(seed) in results[kind].get(name, {}).get(key, {})


def merge_results(saved) -> dict:
    """One results dict from several runs' (the first run's fit wins on a repeat)."""
    merged = {"DANN": {}, "SO": {}}
    for results in saved:
        for kind, tasks in results.items():
            for name, keys in tasks.items():
                for key, seeds in keys.items():
                    for seed, value in seeds.items():
                        merged[kind].setdefault(name, {}).setdefault(key, {}).setdefault(seed, value)
    return merged


def execute(jobs, quick, n_jobs, log, results=None):
    results = results or {"DANN": {}, "SO": {}}
    jobs = [job for job in jobs if not _done(results, job)]
    with ProcessPoolExecutor(n_jobs, mp_context=get_context("spawn"), initializer=_init_worker) as pool:
        futures = {pool.submit(run_job, job[:4], quick): job for job in jobs}
        for k, future in enumerate(as_completed(futures), 1):
            name, kind, params, seed, cfg = futures[future]
            acc, sec = future.result()
            key = cfg if kind == "DANN" else so_key(params)
            results[kind].setdefault(name, {}).setdefault(key, {})[str(seed)] = [acc, sec]
            log(f"[{k}/{len(jobs)}] {name} {kind} {cfg if kind == 'DANN' else ''} seed {seed}: "
                f"acc {acc:.3f} {sec:5.1f} s")
    return results


def summarise(results, names, configs, base, seeds):
    """One row per configuration."""
    rows = []
    default_so = so_key(base)
    for cfg in configs:
        params = {**base, **CONFIGS[cfg]}
        own_so = so_key(params)
        gains, own_gains, below_task, below_seed, real, secs, base_secs = [], [], 0, 0, [], [], []
        per_task, real_acc = {}, {}
        for name in names:
            dann = results["DANN"][name][cfg]
            so = results["SO"][name][default_so]
            so_own = results["SO"][name][own_so]
            keys = sorted(dann, key=int)
            d = [dann[k][0] for k in keys]
            s = [so[k][0] for k in keys]
            o = [so_own[k][0] for k in keys]
            gains.append(np.mean(d) - np.mean(s))
            own_gains.append(np.mean(d) - np.mean(o))
            per_task[name] = float(np.mean(d) - np.mean(s))
            below_task += statistics.median(d) < statistics.median(o) - 0.005
            below_seed += sum(di < oi - 0.05 for di, oi in zip(d, o))
            if TASKS[name]["real"]:
                real.append(np.mean(d))
                real_acc[name] = float(np.mean(d))
            secs.append(np.median([dann[k][1] for k in keys]))
            base_secs.append(np.median([results["DANN"][name]["defaults"][k][1] for k in keys])
                             if "defaults" in results["DANN"][name] else np.nan)
        rows.append({"config": cfg, "params": CONFIGS[cfg], "gain": float(np.mean(gains)),
                     "own_gain": float(np.mean(own_gains)), "below_task": int(below_task),
                     "below_seed": int(below_seed), "n_seeds": len(names) * seeds,
                     "real": float(np.mean(real)) if real else float("nan"),
                     "time": float(np.nanmedian(np.asarray(secs) / np.asarray(base_secs))),
                     "per_task": per_task, "real_acc": real_acc})
    return rows


def practitioner_baselines():
    """max(LR, HGB) on the source rows per real task, from the suite's saved run (or {})."""
    path = ROOT / "benchmarks" / "results" / "suite.json"
    if not path.exists():
        return {}
    saved = json.loads(path.read_text())["results"]
    return {name: max(np.mean(list(saved[name]["scaled"][m]["acc"].values())) for m in ("LR", "HGB"))
            for name in saved if TASKS.get(name, {}).get("real")}


def _shown(value) -> str:
    """A parameter value for the table: classes by name (also as saved in JSON, by repr)."""
    if isinstance(value, type):
        return value.__name__
    text = str(value)
    if text.startswith("<class '") and text.endswith("'>"):
        return text[len("<class '"):-2].rsplit(".", 1)[-1]
    return text


def table(rows, names):
    lines = ["| configuration | parameters | mean gain vs SO (defaults) | mean gain vs own SO | "
             "tasks below own SO − 0.5 pt | seeds > 5 pt below own SO | real tasks: mean acc | "
             "fit time vs defaults |", "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        params = ", ".join(f"{k}={_shown(v)}" for k, v in r["params"].items()) or "—"
        lines.append(f"| {r['config']} | {params} | {r['gain']:+.3f} | {r['own_gain']:+.3f} | "
                     f"{r['below_task']} of {len(names)} | {r['below_seed']} of {r['n_seeds']} | "
                     f"{r['real']:.3f} | ×{r['time']:.2f} |")
    lines += ["", "Gain per task (DANN − SO with defaults, mean over seeds):", "",
              "| configuration | " + " | ".join(names) + " |",
              "|---|" + "---|" * len(names)]
    for r in rows:
        lines.append(f"| {r['config']} | " + " | ".join(f"{r['per_task'][n]:+.3f}" for n in names) + " |")
    real = [n for n in names if TASKS[n]["real"]]
    best = practitioner_baselines()
    if real and all(n in best for n in real):
        lines += ["", "Real tasks: DANN's target accuracy (mean over seeds); * = at least the better of "
                  "LogisticRegression and HistGradientBoosting on the source rows (`results/suite.json`, "
                  "scaled feed):", "",
                  "| configuration | " + " | ".join(real) + " | tasks with * |",
                  "|---|" + "---|" * (len(real) + 1),
                  "| max(LR, HGB) | " + " | ".join(f"{best[n]:.3f}" for n in real) + " | |"]
        for r in rows:
            acc = r.get("real_acc") or {}
            if not all(n in acc for n in real):
                continue
            hits = [acc[n] >= best[n] for n in real]
            cells = " | ".join(f"{acc[n]:.3f}{'*' if h else ''}" for n, h in zip(real, hits))
            lines.append(f"| {r['config']} | {cells} | {sum(hits)} of {len(real)} |")
    return "\n".join(lines)


def render(name):
    """Tables of a finished run from its saved JSON (e.g. after the table gained a column)."""
    stem = ROOT / "benchmarks" / "results" / f"ablation_{name}"
    saved = json.loads(stem.with_suffix(".json").read_text())
    names, base = saved["names"], saved["base"]
    configs = [r["config"] for r in saved["rows"]]
    seeds = saved["rows"][0]["n_seeds"] // len(names)
    rows = summarise(saved["results"], names, configs, base, seeds)
    header = stem.with_suffix(".md").read_text().split("\n\n", 1)[0]
    saved["rows"] = rows
    stem.with_suffix(".json").write_text(json.dumps(saved, indent=1, default=repr))
    publish(f"ablation_{name}", header + "\n\n" + table(rows, names))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the suite's short image schedule")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--tasks", nargs="*", default=None)
    parser.add_argument("--configs", nargs="*", default=None, choices=sorted(CONFIGS))
    parser.add_argument("--base", nargs="*", default=None, help="key=value on top of the defaults")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--name", default=None)
    parser.add_argument("--reuse", nargs="+", default=None,
                        help="results JSONs of earlier runs with the same tasks, seeds and base: "
                             "their fits are not repeated")
    parser.add_argument("--render", default=None, metavar="NAME",
                        help="rebuild results/ablation_NAME.md (and the README's table) from its saved "
                             "JSON, keeping the line that names the run; nothing is trained")
    args = parser.parse_args(argv)
    if args.render:
        return render(args.render)
    names = select_tasks(args.tasks)
    configs = args.configs or list(ROUND_1)
    if "defaults" not in configs:
        configs = ["defaults"] + configs
    base = parse_overrides(args.base)
    t0 = time.perf_counter()
    jobs = plan(names, configs, base, args.seeds)

    def log(msg):
        print(f"{time.perf_counter() - t0:7.0f} s {msg}", flush=True)
    previous = merge_results(json.loads(open(path).read())["results"] for path in args.reuse or ())
    results = execute(jobs, args.quick, args.jobs, log, previous)
    rows = summarise(results, names, configs, base, args.seeds)
    minutes = (time.perf_counter() - t0) / 60
    base_txt = ", ".join(f"{k}={v}" for k, v in base.items()) or "the package defaults"
    command = " ".join(["python benchmarks/ablation.py", *(argv or sys.argv[1:])])
    md = (f"`{command}` "
          f"— {machine()}; {minutes:.0f} min. Each configuration on top of {base_txt}; "
          f"{args.seeds} seeds per task over {len(names)} tasks of `benchmarks/suite.py`"
          f"{' (image task on the quick schedule)' if args.quick else ''}; accuracy on held-out "
          "target rows. 'own SO': source-only training with the same configuration.\n\n"
          + table(rows, names))
    name = "ablation" + (f"_{args.name}" if args.name else "")
    out = ROOT / "benchmarks" / "results" / f"{name}.json"
    out.write_text(json.dumps({"rows": rows, "results": results, "names": names,
                               "base": base}, indent=1, default=repr))
    publish(name, md)  # into the README too, where it has this run's markers


if __name__ == "__main__":
    main()
