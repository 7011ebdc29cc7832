"""Image DANN on a GPU: throughput CPU vs GPU, and CPU/GPU agreement.

MNIST-5k (source) -> MNIST-M-lite (target) with the default CNN, a fixed
number of epochs on each device. Prints images/s (source+target images
through the training step per second) and how well predictions of one
fixed model agree between the GPU and the CPU.

    python benchmarks/gpu_bench.py [--epochs 10] [--cpu-epochs 1]
"""

from __future__ import annotations

import argparse
import os
import pickle
import time

import numpy as np
import torch

from _report import publish
from skdann import DANNClassifier
from skdann.datasets import load_mnist_5k, make_mnist_m


def data():
    X, y = load_mnist_5k()
    Xm = make_mnist_m(X, random_state=0)
    rgb = np.repeat(X[:, None], 3, axis=1)
    rng = np.random.RandomState(0)
    perm = rng.permutation(len(X))
    tgt_train, tgt_test = perm[:4000], perm[4000:]
    return rgb, y, Xm[tgt_train], Xm[tgt_test], y[tgt_test]


def fit(device, epochs, Xs, ys, Xt, **kw):
    clf = DANNClassifier(device=device, max_epochs=epochs, batch_size=128, lr=1e-3,
                         random_state=0, **kw)
    t = time.perf_counter()
    clf.fit(Xs, ys, Xt)
    if device != "cpu":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - t
    steps = sum(clf.history_[:, "train_batch_count"])
    return clf, seconds, 2 * 128 * steps / seconds


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--cpu-epochs", type=int, default=1)
    args = parser.parse_args(argv)
    Xs, ys, Xt, Xtest, ytest = data()
    name = torch.cuda.get_device_name(0)
    print(f"device: {name}; torch {torch.__version__}; CPU threads {torch.get_num_threads()} "
          f"of {os.cpu_count()} cores")
    fit("cuda", 1, Xs[:512], ys[:512], Xt[:512])  # warm-up (cuDNN autotune, allocator)
    rows = []
    for label, kw in (("fp32", {}), ("bf16 autocast", {"precision": "bf16"}),
                      ("fp32, streamed from pinned host memory", {"data_on_device": False})):
        clf, sec, ips = fit("cuda", args.epochs, Xs, ys, Xt, **kw)
        acc = clf.score(Xtest, ytest)
        rows.append((f"GPU {label}", args.epochs, sec, ips, acc))
        if not kw:
            gpu_model = clf
    base = DANNClassifier(device="cuda", lambda_max=0, max_epochs=args.epochs, batch_size=128,
                          random_state=0).fit(Xs, ys, Xt)
    rows.append(("GPU fp32 source-only (lambda_max=0)", args.epochs, float("nan"), float("nan"),
                 base.score(Xtest, ytest)))
    _, sec, ips = fit("cpu", args.cpu_epochs, Xs, ys, Xt)
    rows.append((f"CPU ({torch.get_num_threads()} threads)", args.cpu_epochs, sec, ips, float("nan")))
    lines = [f"`python benchmarks/gpu_bench.py --epochs {args.epochs}` on {name} (torch "
             f"{torch.__version__}; CPU row: {torch.get_num_threads()} threads of {os.cpu_count()} cores). "
             "MNIST-5k → MNIST-M-lite, default CNN, batch 128+128, lr 1e-3, one seed; images/s counts "
             "source+target images through the training step.", "",
             "| run | epochs | fit (s) | images/s | target acc. |", "|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r[0]} | {r[1]} | {r[2]:.1f} | {r[3]:.0f} | {r[4]:.3f} |")
    # Same weights on both devices.
    cpu_model = pickle.loads(pickle.dumps(gpu_model))
    cpu_model.net_.module_.to("cpu")
    cpu_model.net_.device, cpu_model.device_ = "cpu", torch.device("cpu")
    p_gpu, p_cpu = gpu_model.predict_proba(Xtest), cpu_model.predict_proba(Xtest)
    agree = (p_gpu.argmax(1) == p_cpu.argmax(1)).mean()
    lines += ["", f"CPU vs GPU on the same weights ({len(Xtest)} target images): predictions agree "
              f"{agree:.4f}, max |proba difference| {np.abs(p_gpu - p_cpu).max():.2e}."]
    publish("gpu", "\n".join(lines))
    assert agree >= 0.99, "CPU and GPU predictions disagree"


if __name__ == "__main__":
    main()
