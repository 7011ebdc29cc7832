"""Image defaults: a small grid on MNIST-5k -> MNIST-M-lite (meant for a GPU).

lr x batch size x lambda_max, ``max_epochs="auto"`` (about 2,000 steps),
the default CNN, 2 seeds; source-only (lambda_max=0) once per (lr, batch).
Same data and split as ``benchmarks/digits.py``. Prints a markdown table
and saves it as benchmarks/results/image_sweep.md.

    python benchmarks/image_sweep.py --device cuda
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import time

from _report import machine, publish
from digits import image_data
from skdann import DANNClassifier


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--lrs", type=float, nargs="+", default=[1e-3, 3e-3])
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[32, 128])
    parser.add_argument("--lambdas", type=float, nargs="+", default=[0.3, 1.0])
    parser.add_argument("--epochs", type=lambda v: v if v == "auto" else int(v), default="auto")
    parser.add_argument("--name", default="image_sweep", help="results/NAME.md to write")
    args = parser.parse_args(argv)
    d = image_data()
    rows = []
    start = time.perf_counter()
    for lr, bs in itertools.product(args.lrs, args.batch_sizes):
        for lam in [0.0] + args.lambdas:
            seeds = range(1 if lam == 0 else args.seeds)
            accs, secs = [], []
            for seed in seeds:
                t = time.perf_counter()
                clf = DANNClassifier(lr=lr, batch_size=bs, lambda_max=lam, device=args.device,
                                     max_epochs=args.epochs, random_state=seed)
                clf.fit(d["Xs"], d["ys"], d["Xt"])
                secs.append(time.perf_counter() - t)
                accs.append(clf.score(d["Xtest"], d["ytest"]))
            row = (lr, bs, lam, clf.max_epochs_, accs, statistics.mean(secs),
                   clf.history_[-1, "domain_acc"])
            rows.append(row)
            print(row, flush=True)
    lines = [f"`python benchmarks/image_sweep.py --device {args.device}` ({machine()}; "
             f"{(time.perf_counter() - start) / 60:.1f} min): MNIST-5k → MNIST-M-lite, default CNN, "
             f"Adam, max_epochs={args.epochs!r}; target test accuracy per seed.", "",
             "| lr | batch | lambda_max | epochs | accuracy (per seed) | mean | final domain acc. | "
             "fit (s) |", "|---|---|---|---|---|---|---|---|"]
    for lr, bs, lam, ep, accs, sec, dacc in rows:
        lines.append(f"| {lr:g} | {bs} | {lam:g}{' (source only)' if lam == 0 else ''} | {ep} | "
                     f"{' '.join(f'{a:.3f}' for a in accs)} | {statistics.mean(accs):.3f} | "
                     f"{dacc:.2f} | {sec:.1f} |")
    publish(args.name, "\n".join(lines), readme=False)


if __name__ == "__main__":
    main()
