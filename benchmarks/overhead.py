"""Per-epoch overhead of DANNClassifier against a plain PyTorch DANN loop.

Both train the same network (2-feature MLP 64-64, domain head 64, Adam, the
paper's lambda and lr schedules updated every step) on the same batches
(64 source + 64 target rows per step, 1,024 rows per domain, so every step is
full in both) in the same process, one torch thread. Runs are interleaved;
the ratio is of medians over ``--repeats`` runs.

``--levers`` times one step with each training option ("lever") of the
ablation (``benchmarks/ablation.py``) switched on, on the same data and
network, against the same estimator with the options off: the levers' cost
per step, free of the differences between benchmark runs that the
ablation's fit-time column carries. Writes ``results/overhead_levers.md``.

    python benchmarks/overhead.py [--repeats 7] [--epochs 20] [--levers]
"""

from __future__ import annotations

import argparse
import math
import statistics
import time

import numpy as np
import torch
from torch import nn

from _plain import dann_step
from _report import machine, publish
from skdann import (
    DANNClassifier,
    DANNModule,
    DomainHead,
    LabelHead,
    MLPExtractor,
    ganin_lambda,
    ganin_lr_factor,
)
from skdann.datasets import make_domain_moons

N, BATCH, LR = 1024, 64, 1e-3
#: Default training length and repetitions of a timing.
EPOCHS, REPEATS = 20, 7


def plain_dann(Xs, ys, Xt, epochs, seed):
    """The reference: a DANN training loop as one would write it by hand."""
    torch.manual_seed(seed)
    model = DANNModule(MLPExtractor(2, (64, 64)), LabelHead(64, 2), DomainHead(64))
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    ce, bce = nn.CrossEntropyLoss(), nn.BCEWithLogitsLoss()
    domain_y = torch.cat([torch.zeros(BATCH), torch.ones(BATCH)])
    steps = math.ceil(len(Xs) / BATCH)
    total, k = epochs * steps, 0
    g = torch.Generator().manual_seed(seed)
    model.train()
    for _ in range(epochs):
        perm_s = torch.randperm(len(Xs), generator=g)
        perm_t = torch.randperm(len(Xt), generator=g)
        for i in range(steps):
            p = k / total
            model.grl.lambda_ = ganin_lambda(p)
            for group in opt.param_groups:
                group["lr"] = LR * ganin_lr_factor(p)
            idx_s = perm_s[i * BATCH:(i + 1) * BATCH]
            idx_t = perm_t[i * BATCH:(i + 1) * BATCH]
            dann_step(model, opt, Xs[idx_s], ys[idx_s], Xt[idx_t], domain_y, ce, bce)
            k += 1
    return model


def skdann_dann(Xs, ys, Xt, epochs, seed):
    return DANNClassifier(extractor__hidden_sizes=(64, 64), domain_head__hidden_sizes=(64,),
                          optimizer="adam", lr=LR, batch_size=BATCH, max_epochs=epochs,
                          random_state=seed).fit(Xs, ys, Xt)


#: Every lever that changes the work of a step (the others — λ, γ, warm-up,
#: learning-rate factors, label smoothing's targets — change numbers, not work).
LEVERS = {
    "standardize": {"standardize": True},
    "averaging=ema": {"averaging": "ema", "averaging_start": 0.0},
    "averaging=swa": {"averaging": "swa", "averaging_start": 0.0},
    "label_shift=iwdan": {"label_shift": "iwdan"},
    "adversary=cdan": {"adversary": "cdan"},
    "adversary=cdan+e": {"adversary": "cdan+e"},
    "target_entropy=0.1": {"target_entropy": 0.1},
    "vat_weight=1": {"vat_weight": 1.0},
    "extractor__dropout=0.2": {"extractor__dropout": 0.2},
    "domain_head__hidden_sizes=(256, 256)": {"domain_head__hidden_sizes": (256, 256)},
    "domain_steps=2": {"domain_steps": 2},
    "optimizer=adamw (weight decay)": {"optimizer": "adamw", "optimizer__weight_decay": 0.01},
}


def lever_costs(Xs, ys, Xt, epochs, repeats):
    """Median seconds of the training epochs (skorch's EpochTimer) per configuration."""
    configs = {"defaults (levers off)": {}, **LEVERS}

    def fit(params, n_epochs, seed):
        return DANNClassifier(**{"extractor__hidden_sizes": (64, 64), "domain_head__hidden_sizes": (64,),
                                 **params, "lr": LR, "batch_size": BATCH, "max_epochs": n_epochs,
                                 "random_state": seed}).fit(Xs, ys, Xt)

    for params in configs.values():  # warm-up: first calls of each code path are slower
        fit(params, 2, 0)
    times = {name: [] for name in configs}
    order = list(configs)
    rng = np.random.default_rng(0)
    for r in range(repeats):
        rng.shuffle(order)  # interleaved, in a new order each round: drifts hit all alike
        for name in order:
            times[name].append(sum(fit(configs[name], epochs, r).history_[:, "dur"]))
    return {name: statistics.median(t) for name, t in times.items()}


def _flags(epochs, repeats) -> str:
    """The command-line flags that differ from their defaults (for the table's header)."""
    return (f" --epochs {epochs}" if epochs != EPOCHS else "") + (
        f" --repeats {repeats}" if repeats != REPEATS else "")


def levers_table(Xs, ys, Xt, epochs, repeats):
    steps = epochs * math.ceil(N / BATCH)
    costs = lever_costs(Xs, ys, Xt, epochs, repeats)
    base = costs["defaults (levers off)"]
    lines = [
        f"Cost per step of each lever, alone on top of the defaults: moons, {N}+{N} rows, batch "
        f"{BATCH}+{BATCH}, MLP 64-64, {epochs} epochs ({steps} steps), 1 torch thread, training "
        f"epochs only (skorch's EpochTimer), median of {repeats} interleaved runs in shuffled order "
        f"(`python benchmarks/overhead.py --levers{_flags(epochs, repeats)}`; {machine()}):",
        "",
        "| lever | time per step (ms) | ratio to the levers off |",
        "|---|---|---|",
    ]
    for name, sec in costs.items():
        lines.append(f"| {name} | {1e3 * sec / steps:.3f} | {sec / base:.2f} |")
    publish("overhead_levers", "\n".join(lines))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=REPEATS)
    parser.add_argument("--epochs", type=int, default=EPOCHS)
    parser.add_argument("--levers", action="store_true",
                        help="time each lever's step instead (results/overhead_levers.md)")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    Xs, ys, Xt, _ = make_domain_moons(N, N, angle=35, random_state=0)
    Xs32, Xt32 = Xs.astype(np.float32), Xt.astype(np.float32)
    if args.levers:
        skdann_dann(Xs32, ys, Xt32, 2, 0)  # warm-up
        levers_table(Xs32, ys, Xt32, args.epochs, args.repeats)
        return
    tXs, tys, tXt = torch.from_numpy(Xs32), torch.from_numpy(ys), torch.from_numpy(Xt32)
    plain_dann(tXs, tys, tXt, 2, 0)  # warm-up
    skdann_dann(Xs32, ys, Xt32, 2, 0)
    times = {"plain": [], "skdann": [], "skdann_epochs": []}
    for r in range(args.repeats):
        t = time.perf_counter()
        plain_dann(tXs, tys, tXt, args.epochs, r)
        times["plain"].append(time.perf_counter() - t)
        t = time.perf_counter()
        clf = skdann_dann(Xs32, ys, Xt32, args.epochs, r)
        times["skdann"].append(time.perf_counter() - t)
        times["skdann_epochs"].append(sum(clf.history_[:, "dur"]))
    steps = args.epochs * math.ceil(N / BATCH)
    plain, ours = statistics.median(times["plain"]), statistics.median(times["skdann"])
    epochs_only = statistics.median(times["skdann_epochs"])
    lines = [
        f"Moons, 2 features, {N}+{N} rows, batch {BATCH}+{BATCH}, MLP 64-64, Adam, {args.epochs} "
        f"epochs ({steps} steps), 1 torch thread, median of {args.repeats} interleaved runs "
        f"(`python benchmarks/overhead.py`; {machine()}):",
        "",
        "| loop | time per epoch (ms) | time per step (ms) | ratio to plain |",
        "|---|---|---|---|",
    ]
    for name, med in (("plain PyTorch loop", plain),
                      ("skdann, epochs only (skorch's EpochTimer)", epochs_only),
                      ("skdann `DANNClassifier.fit` (validation and set-up included)", ours)):
        lines.append(f"| {name} | {1e3 * med / args.epochs:.2f} | {1e3 * med / steps:.3f} | "
                     f"{med / plain:.2f} |")
    publish("overhead", "\n".join(lines))


if __name__ == "__main__":
    main()
