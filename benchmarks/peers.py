"""skdann against skada 0.6's deep DANN and a plain PyTorch loop, same network and budget.

Five contenders train the SAME network on the same tasks with the same batch
size (rows per domain per step), the same number of optimisation steps and
the same optimizer (Adam, lr 3e-3 with the paper's decay lr_p = lr /
(1 + 10 p) ** 0.75, updated every step):

1. ``skdann DANN``: ``DANNClassifier`` defaults, ``max_epochs`` fixed;
2. ``skdann source-only``: the same with ``lambda_max=0``;
3. ``plain PyTorch DANN``: a hand-written loop (skdann's network modules, the
   paper's λ ramp and lr decay), the reference for speed;
4. ``skada DANN (default head)``: ``skada.deep.DANN(module, layer_name,
   num_features=...)`` as a user calls it, with its default
   ``DomainClassifier`` (Linear-100-BatchNorm-ReLU-Linear-1-Softmax);
5. ``skada DANN (sigmoid head)``: the same given a working domain head of
   skdann's architecture ending in a sigmoid (skada's domain loss is a BCE on
   probabilities), behind skada's gradient reversal layer.

skada has no λ schedule: its weight ``reg`` (left at 1) is constant from the
first step, and its domain loss is BCE(source) + BCE(target), each averaged
over its half of the batch. Both skada contenders get ``train_split=None``
(as in skada's own tests; skorch would otherwise hold out 20 % of the rows),
``verbose=0`` and the lr decay through skorch's ``LRScheduler`` (per batch).
skada's epoch is ``max(n_source, n_target) // batch`` steps, skdann's
``ceil(n_source / batch)``, so skada's epochs are chosen to give the same
number of steps (within one epoch) and speed is compared per step.

Networks: tabular tasks, MLP 64-64 (ReLU) extractor, linear label head,
domain head 64 → 1; images, the paper's CNN (``skdann.CNNExtractor``), label
head 100-100 → 10, domain head 100 → 1. One torch thread; contenders are
interleaved within each seed.

    python benchmarks/peers.py [--tasks moons mnist-digits digits-mnist images] [--quick]
"""

from __future__ import annotations

import argparse
import math
import platform
import re
import statistics
import time
import warnings
from importlib.metadata import version
from pathlib import Path

import numpy as np
import torch
from torch import nn

from _plain import dann_step
from _report import ROOT, machine, publish
from digits import image_data, tabular_data
from skdann import (
    CNNExtractor,
    DANNClassifier,
    DANNModule,
    DomainHead,
    LabelHead,
    MLPExtractor,
    ganin_lambda,
    ganin_lr_factor,
)
from skdann.datasets import make_domain_moons

LR = 3e-3
CONTENDERS = ["skdann DANN", "skdann source-only", "plain PyTorch DANN",
              "skada DANN (default head)", "skada DANN (sigmoid head)"]
SHORT = {"skdann DANN": "skdann", "skdann source-only": "skdann src-only",
         "plain PyTorch DANN": "plain loop", "skada DANN (default head)": "skada default",
         "skada DANN (sigmoid head)": "skada sigmoid"}
TASK_NAMES = {"moons": "moons 35°", "mnist-digits": "MNIST-5k → digits",
              "digits-mnist": "digits → MNIST-5k", "images": "MNIST-5k → MNIST-M-lite"}


# ------------------------------------------------------------------ data
def moons_data(seed):
    Xs, ys, Xt, _ = make_domain_moons(angle=35, random_state=seed)
    Xte, yte = make_domain_moons(n_source=2, n_target=2000, angle=35, random_state=1000 + seed)[2:]
    return dict(Xs=Xs, ys=ys, Xt=Xt, Xtest=Xte, ytest=yte)


def _float32(d):
    out = dict(d)
    for key in ("Xs", "Xt", "Xtest"):
        x = np.asarray(d[key])
        out[key] = (x / np.float32(255) if x.dtype == np.uint8 else x).astype(np.float32)
    return out


# --------------------------------------------------------------- network
def build_parts(image, n_in, n_classes, seed):
    """Extractor, label head and domain-head-without-output-nonlinearity, seeded."""
    torch.manual_seed(seed)
    if image:
        ext = CNNExtractor(n_in)
        return ext, LabelHead(ext.out_features, n_classes, (100, 100)), DomainHead(ext.out_features, (100,))
    ext = MLPExtractor(n_in, (64, 64))
    return ext, LabelHead(64, n_classes), DomainHead(64, (64,))


class _IndexStream:
    """Endless reshuffled stream of row indices (as skdann's batch iterator)."""

    def __init__(self, n, generator):
        self.n, self.g, self.buf = n, generator, torch.empty(0, dtype=torch.int64)

    def take(self, b):
        while len(self.buf) < b:
            self.buf = torch.cat([self.buf, torch.randperm(self.n, generator=self.g)])
        out, self.buf = self.buf[:b], self.buf[b:]
        return out


def plain_dann(d, image, epochs, batch, seed):
    """The reference: a DANN loop written by hand, same schedules as skdann."""
    Xs, ys, Xt = (torch.from_numpy(d["Xs"]), torch.from_numpy(np.asarray(d["ys"], dtype=np.int64)),
                  torch.from_numpy(d["Xt"]))
    classes = int(ys.max()) + 1
    model = DANNModule(*build_parts(image, tuple(Xs.shape[1:]) if image else Xs.shape[1], classes, seed))
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    ce, bce = nn.CrossEntropyLoss(), nn.BCEWithLogitsLoss()
    b = min(batch, len(Xs))
    domain_y = torch.cat([torch.zeros(b), torch.ones(b)])
    steps = math.ceil(len(Xs) / b)
    total = epochs * steps
    g = torch.Generator().manual_seed(seed)
    src, tgt = _IndexStream(len(Xs), g), _IndexStream(len(Xt), g)
    model.train()
    for k in range(total):
        p = k / total
        model.grl.lambda_ = ganin_lambda(p)
        for group in opt.param_groups:
            group["lr"] = LR * ganin_lr_factor(p)
        i, j = src.take(b), tgt.take(b)
        dann_step(model, opt, Xs[i], ys[i], Xt[j], domain_y, ce, bce)
    model.eval()

    def predict(X):
        with torch.no_grad():
            return model(torch.from_numpy(X)).argmax(1).numpy()
    return predict, total


# ---------------------------------------------------------------- skada
class SkadaBase(nn.Module):
    """Extractor + label head; skada collects the features at ``layer_name="extractor"``."""

    def __init__(self, extractor, head):
        super().__init__()
        self.extractor, self.head = extractor, head

    def forward(self, x, sample_weight=None):
        return self.head(self.extractor(x))


class SigmoidDomainHead(nn.Module):
    """skdann's domain head behind skada's gradient reversal, ending in a sigmoid."""

    def __init__(self, head):
        super().__init__()
        self.head = head

    def forward(self, x, sample_weight=None):
        from skada.deep.modules import GradientReversalLayer
        return torch.sigmoid(self.head(GradientReversalLayer.apply(x, 1.0))).reshape(-1)


def skada_arrays(d):
    X = np.concatenate([d["Xs"], d["Xt"]])
    y = np.concatenate([np.asarray(d["ys"], dtype=np.int64), -np.ones(len(d["Xt"]), dtype=np.int64)])
    domain = np.concatenate([np.ones(len(d["Xs"]), dtype=np.int64),
                             -2 * np.ones(len(d["Xt"]), dtype=np.int64)])
    return X, y, domain


def skada_dann(d, image, target_steps, batch, seed, head, reg=1.0):
    """skada.deep.DANN; ``head``: "default" (its DomainClassifier) or "sigmoid"."""
    from skada.deep import DANN
    from skorch.callbacks import LRScheduler

    n_s, n_t = len(d["Xs"]), len(d["Xt"])
    per_epoch = max(n_s - n_s % batch, n_t - n_t % batch) // batch  # DomainBalancedSampler("max")
    epochs = max(1, round(target_steps / per_epoch))
    total = epochs * per_epoch
    classes = int(np.max(d["ys"])) + 1
    n_in = tuple(d["Xs"].shape[1:]) if image else d["Xs"].shape[1]
    ext, label_head, dom = build_parts(image, n_in, classes, seed)
    extra = {"num_features": ext.out_features} if head == "default" else \
        {"domain_classifier": SigmoidDomainHead(dom)}
    torch.manual_seed(seed)  # the default DomainClassifier is built inside DANN()
    net = DANN(SkadaBase(ext, label_head), "extractor", reg=reg, optimizer=torch.optim.Adam, lr=LR,
               batch_size=batch, max_epochs=epochs, train_split=None, verbose=0,
               callbacks=[LRScheduler(policy=torch.optim.lr_scheduler.LambdaLR,
                                      lr_lambda=lambda k: ganin_lr_factor(min(k / total, 1.0)),
                                      step_every="batch")],
               **extra)
    X, y, domain = skada_arrays(d)
    net.fit(X, y, sample_domain=domain)

    def predict(Xq):
        return net.predict(Xq, sample_domain=-2 * np.ones(len(Xq), dtype=np.int64))
    return predict, total, net


def default_head_facts(net, d):
    """Evidence that skada's default domain head is constant and trains nothing."""
    from skada.deep.modules import DomainClassifier
    module = net.module_
    dc = module.domain_classifier_
    assert isinstance(dc, DomainClassifier)
    X = torch.from_numpy(np.concatenate([d["Xs"][:256], d["Xt"][:256]]))
    module.train()
    z = module.base_module_.extractor(X)
    out = dc(z)
    n = min(256, len(d["Xs"]))
    loss = net.criterion_.adapt_criterion(domain_pred_s=out[:n], domain_pred_t=out[n:])
    params = list(module.base_module_.extractor.parameters()) + list(dc.parameters())
    grads = torch.autograd.grad(loss, params, allow_unused=True)
    module.eval()
    return {"max |output - 1|": float((out.detach() - 1).abs().max()),
            "domain loss": float(loss.detach()),
            "max |gradient|": max(0.0 if g is None else float(g.abs().max()) for g in grads),
            "min train_loss": float(min(net.history[:, "train_loss"]))}


# ------------------------------------------------------------------ runs
def run_task(task, d_for_seed, image, epochs, batch, seeds, log):
    """Accuracy, fit seconds and steps of every contender over seeds."""
    res = {c: {"acc": [], "sec": [], "steps": []} for c in CONTENDERS}
    facts = None
    warm = _float32(d_for_seed(0))  # untimed warm-up of every code path on a few steps
    DANNClassifier(max_epochs=1, batch_size=batch, random_state=0, n_threads=1).fit(
        warm["Xs"][:4 * batch], warm["ys"][:4 * batch], warm["Xt"][:4 * batch])
    plain_dann(warm, image, 1, batch, 0)
    for head in ("default", "sigmoid"):
        skada_dann({k: v[:4 * batch] for k, v in warm.items()}, image, 4, batch, 0, head)
    for seed in range(seeds):
        d = _float32(d_for_seed(seed))
        skdann_steps = epochs * math.ceil(len(d["Xs"]) / min(batch, len(d["Xs"])))
        for name in CONTENDERS:
            t = time.perf_counter()
            if name.startswith("skdann"):
                clf = DANNClassifier(max_epochs=epochs, batch_size=batch, random_state=seed, n_threads=1,
                                     lambda_max=0.0 if "source" in name else 1.0)
                clf.fit(d["Xs"], d["ys"], d["Xt"])
                sec = time.perf_counter() - t
                predict, steps = clf.predict, clf.net_.steps_done_
            elif name == "plain PyTorch DANN":
                predict, steps = plain_dann(d, image, epochs, batch, seed)
                sec = time.perf_counter() - t
            else:
                head = "default" if "default" in name else "sigmoid"
                predict, steps, net = skada_dann(d, image, skdann_steps, batch, seed, head)
                sec = time.perf_counter() - t
                if head == "default" and seed == 0:
                    facts = default_head_facts(net, d)
                    if task == "moons":  # reg=0 (source-only) with the same seed: same predictions?
                        p0 = skada_dann(d, image, skdann_steps, batch, seed, "default", reg=0.0)[0]
                        facts["predictions identical to reg=0"] = bool(
                            np.array_equal(predict(d["Xtest"]), p0(d["Xtest"])))
            acc = float(np.mean(predict(d["Xtest"]) == np.asarray(d["ytest"])))
            res[name]["acc"].append(acc)
            res[name]["sec"].append(sec)
            res[name]["steps"].append(steps)
            log(f"  {task} seed {seed} {name:28s} acc {acc:.3f}  {sec:6.1f} s  {steps} steps")
    return res, facts


def auto_epochs(n_source, batch):
    """The epochs ``max_epochs="auto"`` gives skdann for ``n_source`` rows (its own rule)."""
    return DANNClassifier(batch_size=batch)._resolve_max_epochs(n_source)


# ---------------------------------------------------------------- report
def fmt(v):
    return f"{v[0]:.3f}" if len(v) == 1 else f"{statistics.mean(v):.3f} ± {statistics.stdev(v):.3f}"


def per_step(r):
    return statistics.median(s / n for s, n in zip(r["sec"], r["steps"]))


def tables(results):
    acc = ["| task | " + " | ".join(CONTENDERS) + " |", "|---" * (len(CONTENDERS) + 1) + "|"]
    spd = ["| task | steps (skdann / skada) | " + " | ".join(f"{SHORT[c]}: fit s (× plain per step)"
                                                         for c in CONTENDERS) + " |",
           "|---" * (len(CONTENDERS) + 2) + "|"]
    goals = []
    for task, (cfg, res, _) in results.items():
        acc.append(f"| {TASK_NAMES[task]} ({cfg}) | "
                   + " | ".join(fmt(res[c]["acc"]) for c in CONTENDERS) + " |")
        plain = per_step(res["plain PyTorch DANN"])
        cells = [f"{statistics.median(res[c]['sec']):.1f} (×{per_step(res[c]) / plain:.2f})"
                 for c in CONTENDERS]
        spd.append(f"| {TASK_NAMES[task]} | {res['skdann DANN']['steps'][0]} / "
                   f"{res['skada DANN (sigmoid head)']['steps'][0]} | " + " | ".join(cells) + " |")
        ours, theirs = res["skdann DANN"], res["skada DANN (sigmoid head)"]
        d_acc = statistics.mean(ours["acc"]) - statistics.mean(theirs["acc"])
        ratio = per_step(ours) / per_step(theirs)
        goals.append(f"| {TASK_NAMES[task]} | {d_acc:+.3f} | {'yes' if d_acc >= 0 else 'NO'} | "
                     f"{ratio:.2f} | {'yes' if ratio <= 0.5 else 'NO'} |")
    goal = ["| task | skdann − skada (sigmoid) accuracy | as accurate? | skdann / skada time per step | "
            "≤ 0.5? |", "|---|---|---|---|---|", *goals]
    return "\n".join(acc), "\n".join(spd), "\n".join(goal)


def chart(results, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tasks = list(results)
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.5))
    width = 0.8 / len(CONTENDERS)
    x = np.arange(len(tasks))
    for k, c in enumerate(CONTENDERS):
        accs = [results[t][1][c]["acc"] for t in tasks]
        mean = [np.mean(a) for a in accs]
        std = [np.std(a, ddof=1) if len(a) > 1 else 0 for a in accs]
        axes[0].bar(x + k * width, mean, width, yerr=std, label=c, capsize=2)
        plain = [per_step(results[t][1]["plain PyTorch DANN"]) for t in tasks]
        axes[1].bar(x + k * width, [per_step(results[t][1][c]) / p for t, p in zip(tasks, plain)], width,
                    label=c)
    for ax, title in ((axes[0], "target accuracy (mean ± std over seeds)"),
                      (axes[1], "time per step / plain PyTorch loop")):
        ax.set_xticks(x + 0.4 - width / 2, [TASK_NAMES[t] for t in tasks], fontsize=8)
        ax.set_title(title)
    axes[0].set_ylim(0, 1)
    axes[1].axhline(1, color="k", lw=0.8)
    axes[0].legend(fontsize=7, loc="lower left")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def versions():
    names = ["skdann", "skada", "torch", "skorch", "scikit-learn", "numpy", "POT"]
    return ", ".join(f"{n} {version(n)}" for n in names) + f", Python {platform.python_version()}"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", nargs="+", choices=list(TASK_NAMES), default=list(TASK_NAMES))
    parser.add_argument("--seeds", type=int, default=None, help="seeds of every task (default 5/3/3/2)")
    parser.add_argument("--image-epochs", type=int, default=10)
    parser.add_argument("--quick", action="store_true", help="smoke run: 1 seed, few steps, nothing saved")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    # skada's default DomainClassifier ends in nn.Softmax() without dim: one warning per step.
    warnings.filterwarnings("ignore", message="Implicit dimension choice for softmax")
    start = time.perf_counter()

    def log(msg):
        print(f"[{time.perf_counter() - start:6.0f} s] {msg}", flush=True)

    results, all_facts = {}, {}
    for task in args.tasks:
        if task == "moons":
            image, batch, seeds = False, 128, 5
            epochs = 20 if args.quick else auto_epochs(300, batch)
            source = moons_data
        elif task == "images":
            image, batch, seeds, epochs = True, 64, 2, 1 if args.quick else args.image_epochs
            d_img = image_data()
            if args.quick:  # a tenth of the rows
                d_img = {k: v[::10] for k, v in d_img.items()}
            source = lambda seed, d=d_img: d  # noqa: E731
        else:
            image, batch, seeds = False, 128, 3
            name = "MNIST-5k → load_digits" if task == "mnist-digits" else "load_digits → MNIST-5k"
            d_tab = tabular_data()[name]
            epochs = 2 if args.quick else auto_epochs(len(d_tab["Xs"]), batch)
            source = lambda seed, d=d_tab: d  # noqa: E731
        seeds = 1 if args.quick else (args.seeds or seeds)
        cfg = f"{epochs} epochs, batch {batch}, {seeds} seeds"
        log(f"{task}: {cfg}")
        res, facts = run_task(task, source, image, epochs, batch, seeds, log)
        results[task] = (cfg, res, facts)
        if facts:
            all_facts[task] = facts
    minutes = (time.perf_counter() - start) / 60

    acc, spd, goal = tables(results)
    fact_lines = [f"- {TASK_NAMES[t]}: " + ", ".join(f"{k} = {v:.3g}" if isinstance(v, float)
                                                     else f"{k} = {v}" for k, v in f.items())
                  for t, f in all_facts.items()]
    command = "python benchmarks/peers.py"
    if args.tasks != list(TASK_NAMES):
        command += " --tasks " + " ".join(args.tasks)
    md = "\n".join([
        f"`{command}` — {machine()}; {versions()}. One torch thread, one process; {minutes:.1f} min in all.",
        "",
        "Same network per task (tabular: MLP 64-64 + linear label head + domain head 64 → 1; images: the "
        "paper's CNN + label head 100-100 + domain head 100 → 1; skada's default head is its own "
        "Linear-100-BatchNorm-ReLU-Linear-1-Softmax), same rows per domain per step, same number of steps "
        "(skada's epochs hold a different number of steps, so its epoch count is matched to the step count), "
        "Adam lr 3e-3 with the paper's per-step decay for everybody. skdann and the plain loop ramp λ from 0 "
        "to 1 (the paper's schedule); skada has a constant `reg=1` (its default; no schedule exists) and "
        "sums the two domains' mean BCEs. The images task runs few epochs on CPU (MNIST-5k: 3,500 source + "
        "3,500 target training images, 1,500 held-out target images), so its accuracies are far from "
        "converged. Accuracy on held-out target rows (moons: 2,000 fresh rotated points per seed), "
        "mean ± std over seeds. Each contender is fitted once untimed on a few steps before a task starts.",
        "",
        "**Target accuracy**",
        "",
        acc,
        "",
        "**Fit time** (median seconds per fit; in brackets the median time per optimisation step relative "
        "to the plain PyTorch loop, which equals the per-epoch ratio at equal epoch size)",
        "",
        spd,
        "",
        "**Goals** (skdann at least as accurate as skada with a working head, in at most 0.5× its time)",
        "",
        goal,
        "",
        "**skada's default domain head** (fitted with seed 0; evaluated in training mode on 256 + 256 rows):",
        "",
        *fact_lines,
    ])
    if args.quick:
        print(md)
        return
    publish("RESULTS", md, readme=False)
    # The place for it: benchmarks/RESULTS.md (results/ keeps a copy).
    (ROOT / "benchmarks" / "RESULTS.md").write_text(md.strip() + "\n")
    readme = ROOT / "README.md"
    text = readme.read_text()
    pattern = re.compile(r"(<!-- peers:start -->\n).*?(<!-- peers:end -->)", re.S)
    if pattern.search(text):
        readme.write_text(pattern.sub(lambda m: m.group(1) + md.strip() + "\n" + m.group(2), text))
    chart(results, Path(ROOT / "benchmarks" / "results" / "peers.png"))


if __name__ == "__main__":
    main()
