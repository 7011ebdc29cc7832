"""Domains as data: several source domains, a few labelled target rows, and regression.

(a) Several sources. Three source domains and one target: the rotated moons
(0°, 15° and 30° → 45°) and wages in the 1988 CPS by region (northeast,
midwest, west → south; weekly wage above the sources' median). DANN with
``sample_domain`` giving each source its own id (each source domain gets
``batch_size`` rows per step and weighs a third of the source side of the
domain loss; ``domain_labels="pooled"``, and ``"per_domain"``, where the
domain head tells all four domains apart) against the same DANN with the
three sources pooled into one domain (``sample_domain`` 1 for every source row).

(b) A few labelled target rows (semi-supervised adaptation). For n = 10, 50
and 200 labelled target rows (the rest of the target training rows
unlabelled): unsupervised DANN (no target labels); source + the n labelled
target rows without adaptation (``lambda_max=0``); the n labelled target rows
alone; and DANN with the n labelled target rows in its label loss. On
MNIST-5k → MNIST-M-lite (images; the suite's quick CPU schedule) and on a
real tabular task (gss-sex, StandardScaler on the stacked rows).

(c) Regression. ``DANNRegressor`` against its own source-only version
(``lambda_max=0``), R² on held-out target rows: three real tasks (log wage
or log income by ethnicity, sex and survey era, from the suite's data) and
two synthetic shifts: a covariate shift (y = sin(x0) + x1, target inputs
shifted along the directions y depends on) and the rotated moons with a
continuous target (the labelling rule turns with the domain).

(d) Labelled target rows under label shift (``--parts shift``, its own table).
On the 7 real tasks, whose class balance mostly differs between domains,
with 50 labelled target rows: source + labelled rows without adaptation,
unsupervised DANN, unsupervised DANN with IWDAN (``label_shift="iwdan"``,
target class proportions from the predictions) and DANN with IWDAN and the
labelled rows (proportions from their labels combined with the
predictions) — at the default weight of the labelled rows, and with a
``sample_weight`` of 0.1 on them — with the error of each IWDAN's estimate
of the target's share of class 1.

    python benchmarks/domains.py [--seeds 5] [--parts sources labelled regression shift]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings

import numpy as np
import pandas as pd
import torch
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from _report import ROOT, machine, publish
from _tasks import REAL, REGRESSION, load_task
from skdann import DANNClassifier, DANNRegressor
from skdann.datasets import make_domain_moons, rotate
from suite import IMAGE_QUICK

MARK = -1


# ------------------------------------------------------------- (a) sources
def moons_three_sources(seed):
    Xs, ys, Xt, yt = make_domain_moons(angle=45, random_state=seed)
    X = np.vstack([rotate(Xs, a) for a in (0, 15, 30)])
    y = np.r_[ys, ys, ys]
    sd = np.repeat([1, 2, 3], len(ys))
    Xe, ye = make_domain_moons(n_source=2, n_target=2000, angle=45, random_state=1000 + seed)[2:]
    return X, y, sd, Xt, Xe, ye


def cps_three_sources(seed):
    """CPS 1988: northeast, midwest, west (three source domains) → south; wage above the sources' median."""
    from _tasks import _frame, features, real_domains, split_target

    frame = _frame("AER", "CPS1988")
    regions = ["northeast", "midwest", "west"]
    sources = [real_domains(frame, "region", [r], ["south"])[0] for r in regions]
    target = real_domains(frame, "region", regions, ["south"])[1]
    source = pd.concat(sources)
    Xs, Xt = features(source, target, "wage")
    median = source.wage.median()
    ys = (source.wage > median).to_numpy(np.int64)
    yt = (target.wage > median).to_numpy(np.int64)
    sd = np.repeat([1, 2, 3], [len(p) for p in sources])
    t = split_target(Xt, yt)
    return Xs, ys, sd, t["Xt"], t["Xtest"], t["ytest"]


def part_sources(seeds, log):
    rows = []
    for task, make in (("moons 0°/15°/30° → 45°", moons_three_sources),
                       ("CPS 1988 wages: NE/MW/W → S", cps_three_sources)):
        acc = {"pooled": [], "per source, pooled head": [], "per source, per-domain head": [],
               "source only": []}
        for seed in range(seeds):
            X, y, sd, Xt, Xe, ye = make(seed)
            Xall = np.vstack([X, Xt])
            yall = np.r_[y, np.full(len(Xt), MARK)]
            scaler = StandardScaler().fit(Xall)
            Xall, Xe_s = scaler.transform(Xall), scaler.transform(Xe)
            tgt = np.full(len(Xt), -1)
            for name, domains, extra in (
                    ("pooled", np.r_[np.ones(len(y), int), tgt], {}),
                    ("per source, pooled head", np.r_[sd, tgt], {}),
                    ("per source, per-domain head", np.r_[sd, tgt], {"domain_labels": "per_domain"}),
                    ("source only", np.r_[np.ones(len(y), int), tgt], {"lambda_max": 0.0})):
                clf = DANNClassifier(random_state=seed, n_threads=1, **extra)
                clf.fit(Xall, yall, sample_domain=domains)
                acc[name].append(float(np.mean(clf.predict(Xe_s) == ye)))
            log(f"(a) {task} seed {seed}: " + ", ".join(f"{k} {v[-1]:.3f}" for k, v in acc.items()))
        rows.append((task, acc))
    lines = [f"**(a) Three source domains** ({seeds} seeds; mean / worst seed of the target accuracy; "
             "every variant trains the same network for the same steps, StandardScaler on all rows)", "",
             "| task | " + " | ".join(rows[0][1]) + " |", "|---|" + "---|" * len(rows[0][1])]
    for task, acc in rows:
        lines.append(f"| {task} | " + " | ".join(f"{np.mean(v):.3f} / {min(v):.3f}" for v in acc.values())
                     + " |")
    return "\n".join(lines)


# ------------------------------------------------------------ (b) labelled
def _ssda_fit(d, n, seed, variant, image, return_share=False):
    """One fit of a (b) or (d) variant; returns the accuracy on the held-out target rows.

    With ``return_share`` (IWDAN variants), also IWDAN's estimate of the
    target's share of class 1.
    """
    rng = np.random.RandomState(seed)
    labelled = rng.choice(len(d["Xt"]), n, replace=False) if n else np.array([], int)
    yt = np.full(len(d["Xt"]), MARK)
    yt[labelled] = d["Xt_labels"][labelled]
    params = {"random_state": seed, "n_threads": 1, **(IMAGE_QUICK if image else {})}
    if variant == "target rows alone":
        X, y, sd = d["Xt"][labelled], d["Xt_labels"][labelled], None
        params.update(lambda_max=0.0, max_epochs="auto")  # a few rows: the steps, not 3 passes
    elif variant == "source + labelled, no adaptation":
        # The labelled target rows as a second labelled domain: sampled every
        # step as in the semi-supervised fit, with no adversary (lambda_max=0).
        X = np.concatenate([d["Xs"], d["Xt"][labelled]])
        y = np.r_[d["ys"], d["Xt_labels"][labelled]]
        sd = np.r_[np.ones(len(d["ys"]), int), np.full(n, 2)]
        params["lambda_max"] = 0.0
    else:
        ytt = yt if "labelled target rows" in variant else np.full(len(d["Xt"]), MARK)
        X = np.concatenate([d["Xs"], d["Xt"]])
        y = np.r_[d["ys"], ytt]
        sd = np.r_[np.ones(len(d["ys"]), int), -np.ones(len(d["Xt"]), int)]
    if "IWDAN" in variant:
        params["label_shift"] = "iwdan"
    fit_params = {}
    if variant.endswith("sample_weight 0.1"):
        # The labelled target rows are drawn every step like a domain of their
        # own; a weight of 0.1 shrinks their share of the label loss tenfold.
        fit_params["sample_weight"] = np.ones(len(y))
        fit_params["sample_weight"][len(d["ys"]) + labelled] = 0.1
    clf = DANNClassifier(**params)
    model = clf if image else make_pipeline(StandardScaler(), clf)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # no target rows: NoTargetDataWarning, expected here
        if sd is None:
            model.fit(X, y)
        else:
            prefix = "" if image else "dannclassifier__"
            model.fit(X, y, **{prefix + k: v for k, v in {"sample_domain": sd, **fit_params}.items()})
    accuracy = float(np.mean(model.predict(d["Xtest"]) == d["ytest"]))
    if not return_share:
        return accuracy
    # IWDAN's estimate of the target's share of class 1: w_1 · p_s(1), normalised.
    prior = np.bincount(d["ys"], minlength=2) / len(d["ys"])
    q = clf.net_.class_weights_.cpu().numpy() * prior
    return accuracy, float(q[1] / q.sum())


VARIANTS = ["unsupervised DANN", "target rows alone", "source + labelled, no adaptation",
            "DANN + labelled target rows"]


def part_labelled(seeds, log):
    lines = [f"**(b) A few labelled target rows** ({seeds} seeds; mean target accuracy on held-out "
             "target rows; 'target rows alone': the same network trained on the n labelled rows only)",
             "", "| task | n labelled | " + " | ".join(VARIANTS)
             + " | DANN + labelled − best of unsupervised DANN and no adaptation |",
             "|---|---|" + "---|" * 5]
    # 10, 50 and 200 labelled rows on an image task, on digits as pixel vectors and on a real
    # tabular task; 10 and 50 on the moons (300 target rows); 50 on every other real task.
    plan = {"mnist-mnistm": (10, 50, 200), "mnist-digits": (10, 50, 200), "moons-35": (10, 50),
            "gss-sex": (10, 50, 200), **{t: (50,) for t in REAL if t != "gss-sex"}}
    for task, sizes in plan.items():
        d = load_task(task)
        image = d["kind"] == "image"
        # Unsupervised DANN uses no target label: one run per seed serves every n.
        unsupervised = [_ssda_fit(d, 0, seed, VARIANTS[0], image) for seed in range(seeds)]
        for n in sizes:
            acc = {VARIANTS[0]: unsupervised, **{v: [] for v in VARIANTS[1:]}}
            for seed in range(seeds):
                for v in VARIANTS[1:]:
                    acc[v].append(_ssda_fit(d, n, seed, v, image))
                log(f"(b) {task} n={n} seed {seed}: " + ", ".join(f"{v} {acc[v][-1]:.3f}"
                                                                  for v in VARIANTS[1:]))
            margin = np.mean(acc[VARIANTS[3]]) - max(np.mean(acc[VARIANTS[0]]), np.mean(acc[VARIANTS[2]]))
            lines.append(f"| {task} | {n} | " + " | ".join(f"{np.mean(acc[v]):.3f}" for v in VARIANTS)
                         + f" | {margin:+.3f} |")
    return "\n".join(lines)


# ---------------------------------------------------- (d) label shift, labelled
SHIFT_VARIANTS = ["source + labelled, no adaptation", "unsupervised DANN", "unsupervised DANN, IWDAN",
                  "DANN, IWDAN + labelled target rows",
                  "DANN, IWDAN + labelled target rows, sample_weight 0.1"]


def part_shift(seeds, log, n=50):
    """Labelled target rows under label shift: IWDAN with and without their labels."""
    lines = [f"**(d) Labelled target rows under label shift** ({seeds} seeds, {n} labelled target rows, "
             "the 7 real tasks; mean target accuracy on held-out target rows; IWDAN = "
             "`label_shift='iwdan'`, whose class proportions come from the predictions without "
             "labelled target rows and from their labels combined with the predictions with them; the "
             "labelled rows are drawn every step like a domain of their own, and `sample_weight` 0.1 "
             "shrinks their share of the label loss; "
             "'share error': mean |estimated − true target share of class 1|)", "",
             "| task | share of class 1: source / target | " + " | ".join(SHIFT_VARIANTS)
             + " | IWDAN + labelled − best of the first two | seeds where IWDAN + labelled beats both "
             "| IWDAN + labelled − unsupervised IWDAN | share error: predictions / with labels |",
             "|---|---|" + "---|" * 9]
    raw = {}
    for task in REAL:
        d = load_task(task)
        acc = {v: [] for v in SHIFT_VARIANTS}
        err = {v: [] for v in SHIFT_VARIANTS[2:]}
        true_share = float(np.mean(d["ytest"] == 1))
        for seed in range(seeds):
            for v in SHIFT_VARIANTS:
                if "IWDAN" in v:
                    a, share = _ssda_fit(d, n if "labelled" in v else 0, seed, v, False,
                                         return_share=True)
                    err[v].append(abs(share - true_share))
                else:
                    a = _ssda_fit(d, n, seed, v, False)
                acc[v].append(a)
            log(f"(d) {task} seed {seed}: " + ", ".join(f"{v} {acc[v][-1]:.3f}" for v in SHIFT_VARIANTS))
        raw[task] = {"accuracy": acc, "share_error": err, "true_share": true_share}
        mean = {v: np.mean(a) for v, a in acc.items()}
        last = mean[SHIFT_VARIANTS[3]]
        ours, baselines = acc[SHIFT_VARIANTS[3]], zip(acc[SHIFT_VARIANTS[0]], acc[SHIFT_VARIANTS[1]])
        wins = sum(a > max(b) for a, b in zip(ours, baselines))
        lines.append(f"| {task} | {np.mean(d['ys'] == 1):.2f} / {true_share:.2f} | "
                     + " | ".join(f"{mean[v]:.3f}" for v in SHIFT_VARIANTS)
                     + f" | {last - max(mean[SHIFT_VARIANTS[0]], mean[SHIFT_VARIANTS[1]]):+.3f}"
                     f" | {wins} of {seeds} | {last - mean[SHIFT_VARIANTS[2]]:+.3f}"
                     f" | {np.mean(err[SHIFT_VARIANTS[2]]):.3f} / {np.mean(err[SHIFT_VARIANTS[3]]):.3f} |")
    out = ROOT / "benchmarks" / "results" / "domains_shift.json"
    out.write_text(json.dumps(raw, indent=1))
    lines.append(f"\nPer-seed accuracies and share errors: `benchmarks/results/{out.name}`.")
    return "\n".join(lines)


# ----------------------------------------------------------- (c) regression
def synthetic_regression():
    rng = np.random.RandomState(0)
    Xs = rng.normal(0.0, 1.0, (2000, 5))
    Xt = rng.normal(0.0, 1.0, (2000, 5)) + [1.5, 1.0, 0, 0, 0]

    def f(X):
        return np.sin(X[:, 0]) + X[:, 1] + 0.1 * rng.normal(size=len(X))
    Xt_train, Xtest, _, ytest = train_test_split(Xt, f(Xt), test_size=0.5, random_state=0)
    return dict(Xs=Xs, ys=f(Xs), Xt=Xt_train, Xtest=Xtest, ytest=ytest)


def spurious_channels_regression():
    """A shift in what does not cause y: sensor channels that track y in the source only.

    Three signal features ``z`` (the same distribution in both domains) give
    ``y = sin(2 z0) + z1 + z2² / 2 + noise``; three more channels read
    ``0.7 y + noise`` in the source (a shortcut a source-only model learns)
    and drift to an unrelated N(2, 1) in the target (a recalibrated sensor),
    like MNIST-M's backgrounds: the domain lives in features that do not
    cause the label.
    """
    rng = np.random.RandomState(0)

    def domain(n, target):
        z = rng.normal(size=(n, 3))
        y = np.sin(2 * z[:, 0]) + z[:, 1] + 0.5 * z[:, 2] ** 2 + 0.1 * rng.normal(size=n)
        channels = (rng.normal(2.0, 1.0, (n, 3)) if target
                    else 0.7 * y[:, None] + rng.normal(0.0, 0.5, (n, 3)))
        return np.hstack([z, channels]), y
    Xs, ys = domain(2000, False)
    Xt, _ = domain(2000, True)
    Xtest, ytest = domain(2000, True)
    return dict(Xs=Xs, ys=ys, Xt=Xt, Xtest=Xtest, ytest=ytest)


def moons_regression(angle=35.0):
    """The paper's moons with a continuous target, the target domain rotated by ``angle``.

    y = the moon (0 or 1) + half the point's first coordinate in the
    unrotated frame, so the labelling rule turns with the domain, as in the
    classification task that DANN was made for.
    """
    Xs, cs, Xt, ct = make_domain_moons(n_source=1000, n_target=2000, angle=angle, random_state=0)
    ys = cs + 0.5 * Xs[:, 0]
    yt = ct + 0.5 * rotate(Xt, -angle)[:, 0]
    Xt_train, Xtest, _, ytest = train_test_split(Xt, yt, test_size=0.5, random_state=0)
    return dict(Xs=Xs, ys=ys, Xt=Xt_train, Xtest=Xtest, ytest=ytest)


def part_regression(seeds, log):
    tasks = {name: (lambda name=name: load_task(name)) for name in REGRESSION}
    tasks["synthetic covariate shift"] = synthetic_regression
    tasks["rotated moons 35°, continuous target"] = moons_regression
    tasks["synthetic spurious channels"] = spurious_channels_regression
    lines = [f"**(c) Regression** ({seeds} seeds; R² on held-out target rows, mean / worst seed; "
             "StandardScaler on the stacked rows, NaN marks the target rows)", "",
             "| task | source only | DANN | DANN − source only |", "|---|---|---|---|"]
    for name, make in tasks.items():
        d = make()
        X = np.vstack([d["Xs"], d["Xt"]])
        y = np.r_[d["ys"], np.full(len(d["Xt"]), np.nan)]
        # Source-only is the same network with lambda_max=0; DANN keeps every default.
        r2 = {"SO": [], "DANN": []}
        for seed in range(seeds):
            for kind, extra in (("SO", {"lambda_max": 0.0}), ("DANN", {})):
                model = make_pipeline(StandardScaler(), DANNRegressor(random_state=seed, n_threads=1,
                                                                      **extra)).fit(X, y)
                r2[kind].append(float(model.score(d["Xtest"], d["ytest"])))
            log(f"(c) {name} seed {seed}: SO {r2['SO'][-1]:.3f} DANN {r2['DANN'][-1]:.3f}")
        so, dann = r2["SO"], r2["DANN"]
        lines.append(f"| {name} | {np.mean(so):.3f} / {min(so):.3f} | {np.mean(dann):.3f} / "
                     f"{min(dann):.3f} | {np.mean(dann) - np.mean(so):+.3f} |")
    return "\n".join(lines)


PARTS = {"sources": part_sources, "labelled": part_labelled, "regression": part_regression,
         "shift": part_shift}
#: The parts of the README's ``domains`` table; ``shift`` has a table of its own.
DOMAINS = ["sources", "labelled", "regression"]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--parts", nargs="*", default=DOMAINS, choices=list(PARTS))
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    t0 = time.perf_counter()

    def log(msg):
        print(f"{time.perf_counter() - t0:6.0f} s {msg}", flush=True)
    command = " ".join(["python benchmarks/domains.py", *(argv if argv is not None else sys.argv[1:])])
    for name, parts in (("domains", [p for p in args.parts if p in DOMAINS]),
                        ("domains_shift", [p for p in args.parts if p == "shift"])):
        if not parts:
            continue
        start = time.perf_counter()
        sections = [PARTS[p](args.seeds, log) for p in parts]
        minutes = (time.perf_counter() - start) / 60
        md = (f"`{command}` — {machine()}; {minutes:.0f} min; package defaults "
              "unless stated.\n\n" + "\n\n".join(sections))
        # A partial run of the domains parts is saved, not published over the full table.
        publish(name, md, readme=name == "domains_shift" or set(parts) == set(DOMAINS))


if __name__ == "__main__":
    main()
