"""The reference DANN step written by hand: what the benchmarks compare skdann's loop with.

One optimisation step of a plain PyTorch DANN on a ``DANNModule``: source and
target batches through the extractor as one batch, cross-entropy on the
source rows, binary cross-entropy of the domain logit (through the module's
gradient reversal layer) on all rows, one backward pass, one optimizer step.
Shared by ``overhead.py``, ``peers.py`` and ``gpu_overhead.py`` so that all
of them measure against the same loop.
"""

from __future__ import annotations

import torch


def dann_step(model, opt, xs, ys, xt, domain_y, ce, bce):
    """One DANN step; returns the loss tensor (not synchronised)."""
    z = model.features(torch.cat([xs, xt]))
    label_logits = model.label_head(z[: xs.shape[0]])
    domain_logits = model.domain_logits(z)
    loss = ce(label_logits, ys) + bce(domain_logits, domain_y)
    opt.zero_grad()
    loss.backward()
    opt.step()
    return loss
