"""Tensor-level batching of source and target rows.

A per-row ``Dataset.__getitem__`` + ``default_collate`` pipeline costs more
than the forward/backward pass of a small tabular network, so batches are
cut from whole tensors with one ``index_select`` per domain and step.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
import torch

__all__ = ["DomainData", "DomainBatch", "DomainBatchIterator", "as_tensor", "to_model_input"]


class SparseRows:
    """Row access to a scipy CSR matrix that yields dense float32 tensors.

    Sparse data (bag-of-words features, say) stay sparse in memory; each
    batch is densified when it is cut, so the dense matrix never exists.
    Implements the few tensor methods the batching code uses.
    """

    dtype = torch.float32
    device = torch.device("cpu")

    def __init__(self, X) -> None:
        self.X = X.tocsr()

    def __len__(self) -> int:
        return self.X.shape[0]

    @property
    def shape(self):
        return self.X.shape

    def index_select(self, dim: int, index: torch.Tensor) -> torch.Tensor:
        rows = self.X[index.cpu().numpy()]
        return torch.from_numpy(rows.toarray().astype(np.float32, copy=False))

    def __getitem__(self, key) -> torch.Tensor:
        if isinstance(key, torch.Tensor):
            return self.index_select(0, key)
        return torch.from_numpy(self.X[key].toarray().astype(np.float32, copy=False))

    def to(self, *args, **kwargs):
        return self  # stays in host memory; batches are densified and sent

    def element_size(self) -> int:
        return 1

    def nelement(self) -> int:
        return int(self.X.data.nbytes + self.X.indices.nbytes + self.X.indptr.nbytes)


def as_tensor(X) -> torch.Tensor | SparseRows:
    """Share ``X``'s memory as a tensor (no copy for contiguous arrays).

    Sparse matrices are wrapped in :class:`SparseRows` instead.
    """
    if hasattr(X, "tocsr"):
        return SparseRows(X)
    X = np.ascontiguousarray(X)
    with warnings.catch_warnings():
        # Read-only inputs (memmaps) are never written to, only indexed.
        warnings.filterwarnings("ignore", message="The given NumPy array is not writ")
        return torch.from_numpy(X)


def to_model_input(x: torch.Tensor, device: torch.device, non_blocking: bool = False) -> torch.Tensor:
    """Move a batch to ``device`` and make it float32.

    ``uint8`` images are scaled to ``[0, 1]`` here, per batch and on the
    device, so the whole set stays compact in memory.
    """
    x = x.to(device, non_blocking=non_blocking)
    if x.dtype == torch.uint8:
        return x.to(torch.float32).div_(255.0)
    return x.to(torch.float32)


@dataclass
class DomainData:
    """Training rows of both domains, as tensors.

    ``source``/``target`` are the full tensors; ``source_rows``/``target_rows``
    pick the rows of each domain out of them (``None`` means all rows), so a
    stacked ``fit(X, y)`` input is never split into copies.
    """

    source: torch.Tensor
    y: torch.Tensor
    target: torch.Tensor | None = None
    source_rows: torch.Tensor | None = None
    target_rows: torch.Tensor | None = None

    @property
    def n_source(self) -> int:
        return len(self.y)

    @property
    def n_target(self) -> int:
        if self.target is None:
            return 0
        return len(self.target) if self.target_rows is None else len(self.target_rows)

    def to(self, device: torch.device) -> DomainData:
        """Return the data on ``device`` (moved once; float64 becomes float32 on the way).

        Sparse rows stay in host memory and are densified per batch.
        """
        def move(t):
            if t is None or isinstance(t, SparseRows):
                return t
            if t.dtype == torch.float64:
                return t.to(device=device, dtype=torch.float32)
            return t.to(device)
        source = move(self.source)
        target = source if self.target is self.source else move(self.target)
        return DomainData(source, move(self.y), target, move(self.source_rows),
                          move(self.target_rows))

    def nbytes(self) -> int:
        """Bytes of the data tensors (what moving them to a device would take)."""
        return sum(t.element_size() * t.nelement() for t in (self.source, self.target) if t is not None)


class DomainBatch(tuple):
    """One step's data: ``(X_source, y_source, X_target)``; ``X_target`` may be None."""

    __slots__ = ()

    def __new__(cls, X_source, y_source, X_target):
        return super().__new__(cls, (X_source, y_source, X_target))


class _IndexStream:
    """An endless stream of row positions: a fresh permutation each pass."""

    def __init__(self, n: int, rows: torch.Tensor | None, generator: torch.Generator,
                 device: torch.device) -> None:
        self.n, self.rows, self.generator, self.device = n, rows, generator, device
        self.pos = n  # forces a permutation on first use

    def _refill(self) -> None:
        perm = torch.randperm(self.n, generator=self.generator).to(self.device)
        self.order = perm
        self.order_rows = perm if self.rows is None else self.rows[perm]
        self.pos = 0

    def take(self, k: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Return ``k`` positions and the matching rows of the data tensor."""
        parts, row_parts = [], []
        while k > 0:
            if self.pos >= self.n:
                self._refill()
            m = min(k, self.n - self.pos)
            parts.append(self.order[self.pos:self.pos + m])
            row_parts.append(self.order_rows[self.pos:self.pos + m])
            self.pos += m
            k -= m
        if len(parts) == 1:
            return parts[0], row_parts[0]
        return torch.cat(parts), torch.cat(row_parts)


class DomainBatchIterator:
    """Yields the batches of one epoch each time it is iterated.

    An epoch is one pass over the source rows, ``ceil(n_source / b)`` steps
    with ``b = min(batch_size, n_source)``. Each step takes ``b`` source rows
    and ``b`` target rows (half and half, as in the paper); both domains are
    endless reshuffled streams, so the target is cycled whatever its size
    and every step has the same shape.

    Parameters
    ----------
    data : DomainData
        Training rows; if ``resident`` they are already on ``device``.
    batch_size : int
        Rows per domain per step.
    device : torch.device
        Where batches are sent.
    seed : int
        Seeds the two shuffling generators (one per domain, so source order
        does not depend on the target's size).
    resident : bool
        Whether ``data`` already lives on ``device``.
    """

    def __init__(self, data: DomainData, batch_size: int, device: torch.device, seed: int,
                 resident: bool) -> None:
        self.data, self.device, self.resident = data, device, resident
        self.batch_size = min(int(batch_size), data.n_source)
        index_device = device if resident else torch.device("cpu")
        g_source = torch.Generator().manual_seed(seed)
        g_target = torch.Generator().manual_seed(seed + 1)
        self.source_stream = _IndexStream(data.n_source, data.source_rows, g_source, index_device)
        self.target_stream = None
        if data.n_target:
            self.target_stream = _IndexStream(data.n_target, data.target_rows, g_target, index_device)
        self.pin = (not resident) and device.type == "cuda"

    def __len__(self) -> int:
        return math.ceil(self.data.n_source / self.batch_size)

    def _send(self, x: torch.Tensor) -> torch.Tensor:
        if self.resident:
            return to_model_input(x, self.device)
        if self.pin:
            return to_model_input(x.pin_memory(), self.device, non_blocking=True)
        return to_model_input(x, self.device)

    def __iter__(self):
        data, b = self.data, self.batch_size
        for _ in range(len(self)):
            pos, rows = self.source_stream.take(b)
            xs = self._send(data.source.index_select(0, rows))
            ys = data.y.index_select(0, pos)
            if not self.resident:
                ys = ys.to(self.device, non_blocking=self.pin)
            xt = None
            if self.target_stream is not None:
                _, trows = self.target_stream.take(b)
                xt = self._send(data.target.index_select(0, trows))
            yield DomainBatch(xs, ys, xt)


def iter_chunks(X: torch.Tensor, chunk_size: int, device: torch.device):
    """Yield consecutive row chunks of ``X`` as float32 on ``device``."""
    pin = device.type == "cuda" and X.device.type == "cpu"
    for start in range(0, X.shape[0], chunk_size):
        x = X[start:start + chunk_size]
        if pin:
            x = x.pin_memory()
        yield to_model_input(x, device, non_blocking=pin)
