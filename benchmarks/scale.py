"""Large tabular data: peak memory and time per epoch from 10^4 to 10^6 rows, and 2 x 10^7 from disk.

Each size runs in a fresh process (so peak RSS is its own): n source rows and
n target rows of 50 float32 features, one epoch of DANNClassifier (batch
256+256, MLP 64-64, one torch thread), then batched prediction on all source
rows, timed against a plain batched torch inference loop on the same
network. The memory bound checked: peak RSS <= 2 x data + 400 MB, where
"data" is the source+target arrays; the baseline RSS of Python with torch and
sklearn imported is printed too.

Data larger than memory: ``--memmap N`` (default 20,000,000) writes N source
and N target rows of 50 float32 features to ``.npy`` files in a temporary
folder (2 x 4 GB at 20M rows; deleted afterwards), opens them with
``np.load(mmap_mode="r")`` and fits one epoch from the files, then predicts
on the source rows. File pages belong to the page cache, not to the
process, so the memory reported there is the process's private memory:
``RssAnon`` of ``/proc/self/status``, sampled every 20 ms, maximum.

    python benchmarks/scale.py [--sizes 10000 100000 1000000] [--memmap 20000000]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

from _report import machine, publish

N_FEATURES, BATCH = 50, 256


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _rss_anon_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("RssAnon:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def run_memmap(n: int) -> dict:
    """One epoch from two memory-mapped files of n rows each; peak private memory sampled."""
    import tempfile
    import threading
    from pathlib import Path

    import numpy as np
    import torch

    from skdann import DANNClassifier

    torch.set_num_threads(1)
    peak = {"mb": 0.0}
    stop = threading.Event()

    def sample():
        while not stop.is_set():
            peak["mb"] = max(peak["mb"], _rss_anon_mb())
            time.sleep(0.02)

    with tempfile.TemporaryDirectory(dir=".") as folder:
        rng = np.random.default_rng(0)
        paths, labels = [], []
        t = time.perf_counter()
        for name, shift in (("source", 0.0), ("target", 0.5)):
            path = Path(folder) / f"{name}.npy"
            X = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(n, N_FEATURES))
            for start in range(0, n, 1_000_000):
                chunk = rng.standard_normal((min(1_000_000, n - start), N_FEATURES), dtype=np.float32)
                X[start:start + len(chunk)] = chunk + shift
                if name == "source":
                    labels.append((chunk[:, 0] + chunk[:, 1] > 0).astype(np.int8))
            X.flush()
            del X
            paths.append(path)
        write_s = time.perf_counter() - t
        ys = np.concatenate(labels)
        del labels
        Xs, Xt = (np.load(p, mmap_mode="r") for p in paths)
        baseline = _rss_anon_mb()
        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        clf = DANNClassifier(batch_size=BATCH, max_epochs=1, random_state=0, n_threads=1,
                             predict_batch_size=65536)
        t = time.perf_counter()
        clf.fit(Xs, ys, Xt)
        fit_s = time.perf_counter() - t
        epoch_s = clf.history_[-1, "dur"]
        t = time.perf_counter()
        pred = clf.predict(Xs)
        predict_s = time.perf_counter() - t
        stop.set()
        sampler.join()
        accuracy = float(np.mean(pred == ys))
        del Xs, Xt
    return {"n": n, "data_mb": 2 * n * N_FEATURES * 4 / 2**20, "write_s": write_s,
            "baseline_anon_mb": baseline, "peak_anon_mb": peak["mb"], "epoch_s": epoch_s,
            "fit_s": fit_s, "predict_s": predict_s, "source_accuracy": accuracy}


def run_one(n: int) -> dict:
    import numpy as np
    import torch

    from skdann import DANNClassifier

    torch.set_num_threads(1)
    baseline = _rss_mb()
    rng = np.random.default_rng(0)
    Xs = rng.standard_normal((n, N_FEATURES), dtype=np.float32)
    Xt = rng.standard_normal((n, N_FEATURES), dtype=np.float32)
    Xt += 0.5
    ys = (Xs[:, 0] + Xs[:, 1] > 0).astype(np.int64)
    data_mb = (Xs.nbytes + Xt.nbytes) / 2**20
    clf = DANNClassifier(batch_size=BATCH, max_epochs=1, random_state=0, n_threads=1,
                         predict_batch_size=4096)
    t = time.perf_counter()
    clf.fit(Xs, ys, Xt)
    fit_s = time.perf_counter() - t
    epoch_s = clf.history_[-1, "dur"]  # the epoch alone, without one-off set-up
    t = time.perf_counter()
    ours = clf.predict(Xs)
    predict_s = time.perf_counter() - t
    module = clf.net_.module_.eval()
    t = time.perf_counter()
    with torch.inference_mode():
        X = torch.from_numpy(Xs)
        plain = np.concatenate([module(X[i:i + 4096]).argmax(1).numpy()
                                for i in range(0, n, 4096)])
    plain_s = time.perf_counter() - t
    assert np.array_equal(clf.classes_[plain], ours)
    peak = _rss_mb()
    return {"n": n, "data_mb": data_mb, "baseline_mb": baseline, "peak_mb": peak,
            "bound_mb": 2 * data_mb + 400, "epoch_s": epoch_s, "fit_s": fit_s, "predict_s": predict_s,
            "plain_predict_s": plain_s}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--memmap", type=int, default=20_000_000,
                        help="rows per domain of the run from disk (0: skip it)")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--one-memmap", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(run_one(args.one)))
        return
    if args.one_memmap:
        print(json.dumps(run_memmap(args.one_memmap)))
        return
    rows = []
    for n in args.sizes:
        out = subprocess.run([sys.executable, __file__, "--one", str(n)], capture_output=True,
                             text=True, check=True)
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
    mapped = None
    if args.memmap:
        out = subprocess.run([sys.executable, __file__, "--one-memmap", str(args.memmap)],
                             capture_output=True, text=True, check=True)
        mapped = json.loads(out.stdout.strip().splitlines()[-1])
    lines = [f"`python benchmarks/scale.py` ({machine()}): {N_FEATURES} float32 features, n source + "
             f"n target rows, 1 epoch, batch {BATCH}+{BATCH}, 1 torch thread; each size in a fresh "
             "process; then predict on the n source rows, against a plain batched torch loop on the "
             "same network.", ""]
    out = lines.append
    out("| rows per domain | data (MB) | peak RSS (MB) | peak - baseline (MB) | "
          "bound 2x data + 400 (MB) | epoch (s) | us per row | whole fit (s) | predict (s) | "
          "plain loop (s) |")
    out("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        out(f"| {r['n']:,} | {r['data_mb']:.0f} | {r['peak_mb']:.0f} | "
              f"{r['peak_mb'] - r['baseline_mb']:.0f} | {r['bound_mb']:.0f} | {r['epoch_s']:.2f} | "
              f"{1e6 * r['epoch_s'] / r['n']:.1f} | {r['fit_s']:.2f} | {r['predict_s']:.2f} | "
              f"{r['plain_predict_s']:.2f} |")
    big = [r for r in rows if r["n"] >= 1_000_000]
    for r in big:
        ok = "holds" if r["peak_mb"] <= r["bound_mb"] else "is EXCEEDED"
        out("")
        out(f"Memory bound at {r['n']:,} rows per domain {ok}: peak {r['peak_mb']:.0f} MB "
              f"vs {r['bound_mb']:.0f} MB")
    out("")
    out(f"Baseline RSS (python + torch + sklearn + skorch imported): {rows[0]['baseline_mb']:.0f} MB. "
          "'epoch' is the epoch alone (skorch's EpochTimer); 'whole fit' adds validation and set-up.")
    if mapped is not None:
        m = mapped
        per_row = 1e6 * m["epoch_s"] / m["n"]
        ref = [r for r in rows if r["n"] == 1_000_000]
        ratio = (f"{per_row / (1e6 * ref[0]['epoch_s'] / ref[0]['n']):.2f}× the in-memory "
                 "1,000,000-row figure" if ref else "no in-memory 1,000,000-row run to compare with")
        out("")
        out(f"**From disk**: {m['n']:,} rows per domain in two memory-mapped `.npy` files "
            f"({m['data_mb'] / 1024:.1f} GB, written in {m['write_s']:.0f} s), one epoch: peak private "
            f"memory (RssAnon) {m['peak_anon_mb']:.0f} MB ({m['baseline_anon_mb']:.0f} MB before the "
            f"fit; goal < 1,500 MB); epoch {m['epoch_s']:.0f} s, {per_row:.1f} µs per row ({ratio}; "
            f"goal ≤ 1.5×); whole fit {m['fit_s']:.0f} s; predict on the {m['n']:,} source rows "
            f"{m['predict_s']:.0f} s.")
    publish("scale", "\n".join(lines))


if __name__ == "__main__":
    main()
