"""skdann's training step against a plain PyTorch DANN loop, on a GPU (or the CPU).

Three workloads, the same modules, the same batch sizes and number of steps,
the data resident on the device, Adam with the paper's λ and lr schedules:

- tabular, 2 features, MLP 64-64, batch 128+128, 1,024 steps;
- tabular, 50 features, MLP 256-256, batch 1024+1024, 768 steps;
- images 3×28×28, the paper's CNN, batch 128+128, 512 steps.

For each, the minimum over ``--repeats`` runs of the whole ``fit`` and of
its epochs alone (skorch's ``EpochTimer``), divided by the plain loop's time
(whose clock is stopped after a ``torch.cuda.synchronize()``). A ratio near
1 means the GPU never waits for skdann's host-side bookkeeping.

    python benchmarks/gpu_overhead.py [--device cuda] [--repeats 3]

Without CUDA it runs on the CPU (one thread) and prints the same table.
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np
import torch
from torch import nn

from _plain import dann_step
from _report import machine, publish
from skdann import DANNClassifier, ganin_lambda, ganin_lr_factor

LR = 1e-3
WORKLOADS = [
    ("tabular 2 features, MLP 64-64, batch 128+128", dict(shape=(2,), hidden=(64, 64), batch=128,
                                                           steps=1024, n=4096)),
    ("tabular 50 features, MLP 256-256, batch 1024+1024", dict(shape=(50,), hidden=(256, 256),
                                                                batch=1024, steps=768, n=16384)),
    ("images 3×28×28, the paper's CNN, batch 128+128", dict(shape=(3, 28, 28), hidden=None, batch=128,
                                                             steps=512, n=4096)),
]


def make_data(w, seed=0):
    rng = np.random.RandomState(seed)
    n = w["n"]
    if len(w["shape"]) == 3:
        Xs = rng.randint(0, 255, (n, *w["shape"])).astype(np.uint8)
        Xt = rng.randint(0, 255, (n, *w["shape"])).astype(np.uint8)
    else:
        Xs = rng.normal(size=(n, *w["shape"])).astype(np.float32)
        Xt = (rng.normal(size=(n, *w["shape"])) + 0.5).astype(np.float32)
    ys = rng.randint(0, 10 if len(w["shape"]) == 3 else 2, n)
    return Xs, ys, Xt


def estimator(w, device, epochs):
    kw = {} if w["hidden"] is None else {"extractor__hidden_sizes": w["hidden"],
                                         "domain_head__hidden_sizes": (w["hidden"][-1],)}
    return DANNClassifier(batch_size=w["batch"], max_epochs=epochs, lr=LR, device=device,
                          data_on_device=True, random_state=0, n_threads=None, **kw)


def skdann_run(w, data, device):
    epochs = math.ceil(w["steps"] / math.ceil(w["n"] / w["batch"]))
    clf = estimator(w, device, epochs)
    sync(device)
    t = time.perf_counter()
    clf.fit(*data)
    sync(device)
    return time.perf_counter() - t, float(sum(clf.history_[:, "dur"])), clf


def plain_run(w, data, device, template):
    """The hand-written loop on a copy of skdann's freshly built module (same sizes)."""
    import copy

    model = copy.deepcopy(template).to(device).train()
    Xs, ys, Xt = (torch.as_tensor(a).to(device) for a in data)
    image = Xs.dtype == torch.uint8
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    ce, bce = nn.CrossEntropyLoss(), nn.BCEWithLogitsLoss()
    b = w["batch"]
    domain_y = torch.cat([torch.zeros(b), torch.ones(b)]).to(device)
    per_epoch = math.ceil(w["n"] / b)
    epochs = math.ceil(w["steps"] / per_epoch)
    total, k = epochs * per_epoch, 0
    g = torch.Generator().manual_seed(0)
    sync(device)
    t = time.perf_counter()
    for _ in range(epochs):
        perm_s = torch.randperm(w["n"], generator=g).to(device)
        perm_t = torch.randperm(w["n"], generator=g).to(device)
        for i in range(per_epoch):
            p = k / total
            model.grl.lambda_ = ganin_lambda(p)
            for group in opt.param_groups:
                group["lr"] = LR * ganin_lr_factor(p)
            si, ti = perm_s[i * b:(i + 1) * b], perm_t[i * b:(i + 1) * b]
            if len(si) < b:  # the last, short source batch: wrap around as skdann's stream does
                si = torch.cat([si, perm_s[: b - len(si)]])
            xs, xt = Xs[si], Xt[ti]
            if image:
                xs, xt = xs.float().div_(255), xt.float().div_(255)
            dann_step(model, opt, xs, ys[si], xt, domain_y, ce, bce)
            k += 1
    sync(device)
    return time.perf_counter() - t


def sync(device):
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    if args.device == "cpu":
        torch.set_num_threads(1)
    rows = []
    for name, w in WORKLOADS:
        data = make_data(w)
        _, _, warm = skdann_run({**w, "steps": 8}, data, args.device)  # warm-up, module template
        template = warm.net_.module_.cpu()
        plain_run({**w, "steps": 8}, data, args.device, template)
        fits, epochs_only, plains = [], [], []
        for _ in range(args.repeats):
            plains.append(plain_run(w, data, args.device, template))
            total, dur, clf = skdann_run(w, data, args.device)
            fits.append(total)
            epochs_only.append(dur)
        steps = int(clf.history_[-1, "steps"])
        rows.append((name, steps, min(plains), min(fits), min(epochs_only)))
        print(rows[-1], flush=True)
    device_name = (torch.cuda.get_device_name(torch.device(args.device)) if args.device.startswith("cuda")
                   else "CPU, 1 thread")
    lines = [f"`python benchmarks/gpu_overhead.py` on {device_name} ({machine()}); minimum of "
             f"{args.repeats} runs each, data resident on the device, same modules and batches.", "",
             "| workload | steps | plain loop (s) | skdann fit (s) | skdann / plain, whole fit | "
             "epochs only |", "|---|---|---|---|---|---|"]
    for name, steps, plain, fit, dur in rows:
        lines.append(f"| {name} | {steps} | {plain:.2f} | {fit:.2f} | {fit / plain:.2f} | "
                     f"{dur / plain:.2f} |")
    publish("gpu_overhead" if args.device.startswith("cuda") else "gpu_overhead_cpu", "\n".join(lines))


if __name__ == "__main__":
    main()
