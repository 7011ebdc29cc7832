"""One DANN trained by several processes: the torchrun recipe of the README, runnable.

    torchrun --nproc_per_node 2 benchmarks/ddp_example.py                   # CPU, gloo
    torchrun --nproc_per_node <GPUs> benchmarks/ddp_example.py --backend nccl --device cuda

Every process loads the same data and calls ``fit`` with ``distributed=True``;
each draws its batches from its own shard of every domain, the gradients are
averaged after every backward pass, and only rank 0 prints and saves the
fitted model (a plain pickle, loadable anywhere).
"""

from __future__ import annotations

import argparse
import os
import pickle

import torch
import torch.distributed as dist

from skdann import DANNClassifier
from skdann.datasets import make_domain_moons


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="gloo")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--out", default=None, help="where rank 0 pickles the model")
    args = parser.parse_args(argv)
    dist.init_process_group(args.backend)
    rank, local = dist.get_rank(), int(os.environ.get("LOCAL_RANK", 0))
    device = f"cuda:{local}" if args.device == "cuda" else "cpu"
    Xs, ys, Xt, yt = make_domain_moons(angle=35, random_state=0)
    clf = DANNClassifier(batch_size=64, distributed=True, device=device, random_state=0,
                         verbose=1).fit(Xs, ys, Xt)
    if rank == 0:
        print(f"world size {dist.get_world_size()}, target accuracy {clf.score(Xt, yt):.3f}, "
              f"steps {clf.history_[-1, 'steps']}, λ {clf.history_[-1, 'lambda']:.4f}")
        if args.out:
            with open(args.out, "wb") as f:
                pickle.dump(clf, f)
    dist.destroy_process_group()


if __name__ == "__main__":
    torch.set_num_threads(1)
    main()
