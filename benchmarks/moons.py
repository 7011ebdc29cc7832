"""Rotated two moons (Ganin et al. 2016, section 5.1.1) with DEFAULT parameters.

5 seeds x rotations of 20, 35 and 50 degrees; source-only (lambda_max=0) vs
DANN, both with every other parameter at its default; and, for reference,
DANN with the paper's lambda for this toy (lambda_max=6), everything else default. Source: 150 points per
moon; target: 300 unlabelled rotated points; accuracy on 2,000 fresh rotated
points. One torch thread.

    python benchmarks/moons.py [--seeds 5]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from _report import machine, publish
from skdann import DANNClassifier
from skdann.datasets import make_domain_moons


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--angles", type=float, nargs="+", default=[20.0, 35.0, 50.0])
    args = parser.parse_args(argv)
    rows, seconds = [], []
    for angle in args.angles:
        acc = {"source only": [], "DANN": [], "DANN λ=6": []}
        for seed in range(args.seeds):
            Xs, ys, Xt, _ = make_domain_moons(angle=angle, random_state=seed)
            Xte, yte = make_domain_moons(n_source=2, n_target=2000, angle=angle,
                                         random_state=1000 + seed)[2:]
            for name, extra in (("source only", {"lambda_max": 0.0}), ("DANN", {}),
                                ("DANN λ=6", {"lambda_max": 6.0})):
                t = time.perf_counter()
                clf = DANNClassifier(random_state=seed, n_threads=1, **extra).fit(Xs, ys, Xt)
                seconds.append(time.perf_counter() - t)
                acc[name].append(clf.score(Xte, yte))
        below = {k: sum(d < s for d, s in zip(acc[k], acc["source only"]))
                 for k in ("DANN", "DANN λ=6")}
        rows.append((angle, acc, below))
    lines = [
        f"Defaults, {args.seeds} seeds, accuracy on 2,000 fresh target points "
        f"(`python benchmarks/moons.py`; {machine()}; median fit {statistics.median(seconds):.1f} s):",
        "",
        "| rotation | source-only median / worst | DANN (defaults) median / worst | seeds DANN < "
        "source-only | DANN λ_max=6 median / worst | seeds λ_max=6 < source-only |",
        "|---|---|---|---|---|---|",
    ]
    for angle, acc, below in rows:
        s, d, d6 = acc["source only"], acc["DANN"], acc["DANN λ=6"]
        lines.append(f"| {angle:g}° | {np.median(s):.3f} / {min(s):.3f} | {np.median(d):.3f} / "
                     f"{min(d):.3f} | {below['DANN']} of {len(d)} | {np.median(d6):.3f} / "
                     f"{min(d6):.3f} | {below['DANN λ=6']} of {len(d6)} |")
    publish("moons", "\n".join(lines))


if __name__ == "__main__":
    main()
