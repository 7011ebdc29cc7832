"""Batching: the training rows as tensors, grouped by domain, and the batches cut from them.

A per-row ``Dataset.__getitem__`` + ``default_collate`` pipeline costs more
than the forward/backward pass of a small tabular network, so batches are
cut from whole tensors with one ``index_select`` per block and step.

The rows are organised in *groups*: the labelled rows of each source domain,
the labelled rows of each target domain (semi-supervised adaptation) and
the unlabelled rows of each target domain. Every step draws a fixed number
of rows from each group's endless, reshuffled stream and stacks them in the
one batch layout of this package (:class:`BatchLayout`): source rows first,
then labelled target rows, then unlabelled target rows. Labelled rows are
therefore always the leading rows of a batch.

This module also owns the placement of the data (on the device once, or
streamed from host memory) and the statistics for input standardisation.
"""

from __future__ import annotations

import functools
import math
import mmap
import warnings
from dataclasses import dataclass

import numpy as np
import torch

__all__ = ["DomainData", "Group", "BatchLayout", "DomainBatch", "DomainBatchIterator",
           "as_tensor", "to_model_input", "iter_chunks", "place_data", "input_statistics"]


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
        return torch.from_numpy(self.X[key].toarray().astype(np.float32, copy=False))

    def element_size(self) -> int:
        return 1

    def nelement(self) -> int:
        return int(self.X.data.nbytes + self.X.indices.nbytes + self.X.indptr.nbytes)


def is_memory_mapped(X) -> bool:
    """Whether the array ``X`` views a memory-mapped file (``np.memmap``, ``np.load(mmap_mode=)``)."""

    base = X
    while base is not None:
        if isinstance(base, (np.memmap, mmap.mmap)):
            return True
        base = getattr(base, "base", None)
    return False


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
    # Skip no-op conversions: each call costs a dispatch at every training step.
    if x.device != device:
        x = x.to(device, non_blocking=non_blocking)
    if x.dtype == torch.uint8:
        return x.to(torch.float32).div_(255.0)
    return x if x.dtype == torch.float32 else x.to(torch.float32)


@dataclass
class Group:
    """One sampling group: the labelled, or the unlabelled, rows of one domain.

    Attributes
    ----------
    block : int
        Which tensor of :attr:`DomainData.blocks` holds the rows.
    rows : torch.Tensor or None
        Row positions in that tensor (``None``: all of its rows).
    domain : int
        The ``sample_domain`` value: positive for a source domain, negative
        for a target domain.
    labelled : bool
        Whether the rows carry labels (every source row does).
    """

    block: int
    rows: torch.Tensor | None
    domain: int
    labelled: bool

    @property
    def is_target(self) -> bool:
        return self.domain < 0


class DomainData:
    """Training rows as tensors, in blocks, with their sampling groups.

    ``fit(X, y)`` gives one block (the stacked rows) whose rows the groups
    pick out, so the input is never split into copies; ``fit(X_source,
    y_source, X_target)`` gives two blocks.

    Parameters
    ----------
    blocks : list of torch.Tensor (or row-indexable stand-ins)
        Input rows.
    y : list of torch.Tensor or None
        Per block, the encoded labels of all its rows (any value on
        unlabelled rows), or ``None`` when the block has no labelled rows.
    groups : list of Group
        The sampling groups; they are put in the batch layout's order.
    weight : list of torch.Tensor or None, optional
        Per block, the sample weights of its rows (label loss only).

    Examples
    --------
    >>> import torch
    >>> data = DomainData.from_domains(torch.zeros(6, 2), torch.tensor([0, 1] * 3), torch.ones(4, 2))
    >>> data.n_source, data.n_target
    (6, 4)
    """

    def __init__(self, blocks: list, y: list, groups: list[Group], weight: list | None = None,
                 mapped: list | None = None) -> None:
        self.blocks = list(blocks)
        self.y = list(y)
        self.weight = list(weight) if weight is not None else [None] * len(self.blocks)
        # Blocks backed by a memory-mapped file: read batch by batch, never copied whole.
        self.mapped = list(mapped) if mapped is not None else [False] * len(self.blocks)
        # The batch layout: source groups, labelled target groups, unlabelled target groups.
        self.groups = sorted(groups, key=lambda g: (g.is_target, not g.labelled, abs(g.domain)))

    @classmethod
    def from_domains(cls, X_source: torch.Tensor, y_source: torch.Tensor,
                     X_target: torch.Tensor | None = None) -> DomainData:
        """One labelled source domain and, optionally, one unlabelled target domain."""
        groups = [Group(0, None, 1, True)]
        if X_target is None:
            return cls([X_source], [y_source], groups)
        return cls([X_source, X_target], [y_source, None], groups + [Group(1, None, -1, False)])

    def group_size(self, group: Group) -> int:
        """Number of rows in ``group``."""
        return len(self.blocks[group.block]) if group.rows is None else len(group.rows)

    @property
    def n_source(self) -> int:
        return sum(self.group_size(g) for g in self.groups if not g.is_target)

    @property
    def n_target(self) -> int:
        return sum(self.group_size(g) for g in self.groups if g.is_target)

    @property
    def has_target(self) -> bool:
        return any(g.is_target for g in self.groups)

    def to(self, device: torch.device) -> DomainData:
        """Return the data on ``device`` (moved once; float64 becomes float32 on the way).

        Sparse rows stay in host memory and are densified per batch; a block
        shared by several groups is moved once.
        """
        def move(t):
            if t is None or not isinstance(t, torch.Tensor):
                return t
            if t.dtype == torch.float64:
                return t.to(device=device, dtype=torch.float32)
            return t.to(device)
        groups = [Group(g.block, move(g.rows), g.domain, g.labelled) for g in self.groups]
        return DomainData([move(b) for b in self.blocks], [move(y) for y in self.y], groups,
                          [move(w) for w in self.weight], self.mapped)

    def nbytes(self) -> int:
        """Bytes of the data tensors (what moving them to a device would take)."""
        return sum(b.element_size() * b.nelement() for b in self.blocks)

    @property
    def device(self) -> torch.device:
        return self.blocks[0].device


class DomainBatch(tuple):
    """One step's data: ``(X, y, sample_weight)``.

    ``X`` holds every row of the step in the :class:`BatchLayout` order;
    ``y`` the labels of its leading labelled rows; ``sample_weight`` their
    weights, or ``None`` when every row weighs the same.
    """

    __slots__ = ()

    def __new__(cls, X, y, sample_weight=None):
        return super().__new__(cls, (X, y, sample_weight))


@dataclass(frozen=True)
class BatchLayout:
    """Where each group's rows sit in every batch: consecutive runs, in group order.

    Attributes
    ----------
    counts : tuple of int
        Rows per group per step.
    domains : tuple of int
        Each group's ``sample_domain`` value.
    labelled : tuple of bool
        Whether each group is labelled.
    sizes : tuple of int
        Rows of each group in the training data.
    """

    counts: tuple
    domains: tuple
    labelled: tuple
    sizes: tuple

    # The sizes below are read at every training step: computed once per layout.

    @functools.cached_property
    def n_rows(self) -> int:
        return sum(self.counts)

    @functools.cached_property
    def n_labelled(self) -> int:
        """Leading rows that carry labels."""
        return sum(c for c, lab in zip(self.counts, self.labelled) if lab)

    @functools.cached_property
    def n_source(self) -> int:
        """Leading rows that come from source domains."""
        return sum(c for c, d in zip(self.counts, self.domains) if d > 0)

    @functools.cached_property
    def has_target(self) -> bool:
        return any(d < 0 for d in self.domains)

    @functools.cached_property
    def labelled_target_size(self) -> int:
        """Labelled target rows in the training data (not per batch)."""
        return sum(n for n, d, lab in zip(self.sizes, self.domains, self.labelled) if lab and d < 0)

    def row_domains(self) -> np.ndarray:
        """The ``sample_domain`` value of every row of a batch."""
        return np.repeat(np.asarray(self.domains, dtype=np.int64), self.counts)

    def row_shares(self) -> np.ndarray:
        """Each row's share of its domain in a batch, so that a domain's groups count as in the data.

        A domain drawn from two groups (its labelled and its unlabelled target
        rows) takes a fixed number of rows from each per step, whatever their
        sizes; weighing each group by its share of the domain's rows makes the
        domain's rows in a batch stand for the domain as it is, not for 50
        labelled rows drawn as often as all the others. Rows of one domain sum
        to 1.
        """
        counts = np.asarray(self.counts, dtype=np.float64)
        domains = np.asarray(self.domains)
        sizes = np.asarray(self.sizes, dtype=np.float64)
        share = np.empty(len(counts))
        for d in np.unique(domains):
            groups = domains == d
            share[groups] = sizes[groups] / sizes[groups].sum()
        return np.repeat(share / np.maximum(counts, 1), self.counts)


class _IndexStream:
    """An endless stream of row positions: a fresh permutation each pass."""

    def __init__(self, n: int, rows: torch.Tensor | None, generator: torch.Generator,
                 device: torch.device) -> None:
        self.n, self.rows, self.generator, self.device = n, rows, generator, device
        self.pos = n  # forces a permutation on first use

    def _refill(self) -> None:
        perm = torch.randperm(self.n, generator=self.generator)
        if self.device.type == "cuda":
            # A pageable copy would make the host wait for the GPU once per pass.
            perm = perm.pin_memory().to(self.device, non_blocking=True)
        else:
            perm = perm.to(self.device)
        self.order = perm if self.rows is None else self.rows[perm]
        self.pos = 0

    def take(self, k: int) -> torch.Tensor:
        """Return the next ``k`` row positions of the data tensor."""
        parts = []
        while k > 0:
            if self.pos >= self.n:
                self._refill()
            m = min(k, self.n - self.pos)
            parts.append(self.order[self.pos:self.pos + m])
            self.pos += m
            k -= m
        return parts[0] if len(parts) == 1 else torch.cat(parts)

    def state_dict(self) -> dict:
        return {"generator": self.generator.get_state(), "pos": self.pos,
                "order": getattr(self, "order", None)}

    def load_state_dict(self, state: dict) -> None:
        self.generator.set_state(state["generator"])
        self.pos = state["pos"]
        if state["order"] is not None:
            self.order = state["order"].to(self.device)


class DomainBatchIterator:
    """Yields the batches of one epoch each time it is iterated.

    With ``b = min(batch_size, n_source)``, each step takes ``min(b, n)``
    rows from every source domain and every labelled target group of ``n``
    rows, and ``b`` rows from every unlabelled target domain (half source,
    half target, as in the paper, for one domain of each). Every group is
    an endless reshuffled stream, so small groups are cycled and every step
    has the same shape. An epoch is one pass over the source rows:
    ``ceil(n_source / source rows per step)`` steps.

    Parameters
    ----------
    data : DomainData
        Training rows; if ``resident`` they are already on ``device``.
    batch_size : int
        Rows per domain per step.
    device : torch.device
        Where batches are sent.
    seed : int
        Seeds the groups' shuffling generators (one per group, ``seed + i``
        for the ``i``-th, so one domain's order does not depend on another's
        size).
    resident : bool
        Whether ``data`` already lives on ``device``.
    prefetch : int, default=0
        Batches prepared ahead by a background thread (for data streamed
        from host memory or a memory-mapped file: the next batches are
        gathered while the current step computes). 0: none.
    shard : tuple of int, default=(0, 1)
        ``(rank, world_size)`` of a distributed fit: this process draws only
        from every ``world_size``-th row of each group, starting at ``rank``
        (disjoint shards), with its own generators, and every process takes
        the same number of steps per epoch (the steps of one pass over the
        source rows by all processes together).

    Attributes
    ----------
    layout : BatchLayout
        The rows of each group in every batch.
    """

    def __init__(self, data: DomainData, batch_size: int, device: torch.device, seed: int,
                 resident: bool, shard: tuple = (0, 1), prefetch: int = 0) -> None:
        self.data, self.device, self.resident = data, device, resident
        self.prefetch = int(prefetch)
        self._consumed_state = None
        rank, self.world = int(shard[0]), int(shard[1])
        b = min(int(batch_size), data.n_source)
        index_device = device if resident else torch.device("cpu")
        self.streams, counts = [], []
        for i, group in enumerate(data.groups):
            rows = group.rows
            if self.world > 1:
                all_rows = torch.arange(data.group_size(group)) if rows is None else rows.cpu()
                rows = all_rows[rank::self.world].to(index_device)
            n = data.group_size(group) if rows is None else len(rows)
            counts.append(b if group.is_target and not group.labelled else min(b, n))
            generator = torch.Generator().manual_seed(seed + i + 7919 * rank)
            self.streams.append(_IndexStream(n, rows, generator, index_device))
        self.layout = BatchLayout(tuple(counts), tuple(g.domain for g in data.groups),
                                  tuple(g.labelled for g in data.groups),
                                  tuple(data.group_size(g) for g in data.groups))
        self.pin = (not resident) and device.type == "cuda"
        self.single_block = len({g.block for g in data.groups}) == 1

    def __len__(self) -> int:
        return math.ceil(self.data.n_source / max(self.layout.n_source * self.world, 1))

    def _send(self, x: torch.Tensor, convert: bool = True) -> torch.Tensor:
        if self.resident:
            return to_model_input(x, self.device) if convert else x
        if self.pin:
            x = x.pin_memory()
        if convert:
            return to_model_input(x, self.device, non_blocking=self.pin)
        return x if x.device == self.device else x.to(self.device, non_blocking=self.pin)

    def next_batch(self) -> DomainBatch:
        """Draw one step's batch."""
        data, groups = self.data, self.data.groups
        rows = [stream.take(k) for stream, k in zip(self.streams, self.layout.counts)]
        if self.single_block:
            # Stacked input: one gather for the whole batch.
            X = data.blocks[groups[0].block].index_select(0, torch.cat(rows))
        else:
            X = torch.cat([data.blocks[g.block].index_select(0, r) for g, r in zip(groups, rows)])
        labelled = [(g, r) for g, r in zip(groups, rows) if g.labelled]
        y = [data.y[g.block].index_select(0, r) for g, r in labelled]
        y = y[0] if len(y) == 1 else torch.cat(y)
        w = None
        if any(data.weight[g.block] is not None for g, _ in labelled):
            w = torch.cat([torch.ones(len(r), dtype=torch.float32, device=r.device)
                           if data.weight[g.block] is None
                           else data.weight[g.block].index_select(0, r) for g, r in labelled])
            w = self._send(w, convert=False)
        return DomainBatch(self._send(X), self._send(y, convert=False), w)

    def __iter__(self):
        if self.prefetch <= 0:
            for _ in range(len(self)):
                yield self.next_batch()
            return
        yield from self._prefetched(len(self))

    def _prefetched(self, n_batches: int):
        """Yield ``n_batches`` batches gathered by a background thread, at most ``prefetch`` ahead.

        Each batch travels with the streams' state after it was drawn, so a
        checkpoint records what was consumed, not what was read ahead.
        """
        import queue
        import threading

        ready: queue.Queue = queue.Queue(maxsize=self.prefetch)
        stop = threading.Event()

        def produce():
            try:
                for _ in range(n_batches):
                    item = (self.next_batch(), self._streams_state())
                    while not stop.is_set():
                        try:
                            ready.put(item, timeout=0.1)
                            break
                        except queue.Full:
                            continue
                    if stop.is_set():
                        return
            except BaseException as exc:  # handed to the training thread
                ready.put(exc)

        thread = threading.Thread(target=produce, name="skdann-prefetch", daemon=True)
        thread.start()
        try:
            for _ in range(n_batches):
                item = ready.get()
                if isinstance(item, BaseException):
                    raise item
                batch, self._consumed_state = item
                yield batch
        finally:
            stop.set()
            thread.join()

    def _streams_state(self) -> dict:
        return {"streams": [s.state_dict() for s in self.streams]}

    def state_dict(self) -> dict:
        """The streams' positions and generators after the last batch consumed (for checkpoints)."""
        if self.prefetch > 0 and self._consumed_state is not None:
            return self._consumed_state
        return self._streams_state()

    def load_state_dict(self, state: dict) -> None:
        """Restore positions saved by :meth:`state_dict`."""
        for stream, s in zip(self.streams, state["streams"]):
            stream.load_state_dict(s)
        self._consumed_state = None


#: Prediction batches are padded to at least this many rows: BLAS computes
#: very small matrices with other kernels (on x86 CPUs below about 10 rows),
#: whose float32 rounding would make a row's prediction depend on how many
#: rows it is predicted with.
MIN_CHUNK_ROWS = 32


def iter_chunks(X: torch.Tensor, chunk_size: int, device: torch.device):
    """Yield ``(chunk, n_rows)``: consecutive row chunks of ``X`` as float32 on ``device``.

    A chunk of fewer than :data:`MIN_CHUNK_ROWS` rows is padded (with copies
    of its first row) so that predictions do not depend on the chunking;
    ``n_rows`` says how many of its rows are real.
    """
    pin = device.type == "cuda" and X.device.type == "cpu"
    for start in range(0, X.shape[0], chunk_size):
        x = X[start:start + chunk_size]
        n = x.shape[0]
        if n < MIN_CHUNK_ROWS:
            x = torch.cat([x, x[:1].expand(MIN_CHUNK_ROWS - n, *x.shape[1:])])
        if pin:
            x = x.pin_memory()
        yield to_model_input(x, device, non_blocking=pin), n


def place_data(data: DomainData, device: torch.device, data_on_device) -> tuple[DomainData, bool]:
    """Decide where the training data lives and put it there: the one place that does.

    Parameters
    ----------
    data : DomainData
        Rows in host memory.
    device : torch.device
        The training device.
    data_on_device : {"auto", True, False}
        ``True``: move the data to the device once; ``False``: stream
        batches from host memory; ``"auto"``: move it on the CPU, and on a
        GPU when it takes under half of the free memory.

    Returns
    -------
    data : DomainData
        The data where it will be read from.
    resident : bool
        Whether it lives on ``device``.
    """
    if device.type == "cpu" and any(data.mapped):
        # A memory-mapped file stays on disk (in the page cache): batches are
        # gathered from it, and float64 is converted per batch, not as a copy.
        return data, False
    if any(not isinstance(b, torch.Tensor) for b in data.blocks):
        # Sparse rows are densified per batch on the host.
        resident = device.type == "cpu"
    elif data_on_device != "auto":
        resident = bool(data_on_device)
    elif device.type != "cuda":
        resident = True
    else:
        free, _ = torch.cuda.mem_get_info(device)
        resident = data.nbytes() < 0.5 * free  # float64 is stored as float32 there
    if resident:
        # Also on the CPU: float64 is converted once rather than every batch.
        return data.to(device), True
    return data, False


def input_statistics(data: DomainData, image: bool, chunk_size: int = 65536):
    """Mean and standard deviation of the inputs over the rows of both domains.

    Per feature for tabular rows, per channel for images (``uint8`` images
    scaled to ``[0, 1]`` first), accumulated in float64 over chunks so that
    large inputs are never converted whole.

    Returns
    -------
    mean, std : torch.Tensor
        float32 tensors of one value per feature (or channel).
    """
    total, total_sq, count = 0.0, 0.0, 0
    for group in data.groups:
        block = data.blocks[group.block]
        n = data.group_size(group)
        for start in range(0, n, chunk_size):
            if group.rows is None:
                index = torch.arange(start, min(start + chunk_size, n))
            else:
                index = group.rows[start:start + chunk_size].cpu()
            x = to_model_input(block.index_select(0, index.to(block.device)), torch.device("cpu"))
            x = x.double()
            dims = (0, 2, 3) if image else (0,)
            total = total + x.sum(dim=dims)
            total_sq = total_sq + (x * x).sum(dim=dims)
            count += x.numel() // (x.shape[1])
    mean = total / count
    var = torch.clamp(total_sq / count - mean * mean, min=0.0)
    return mean.float(), var.sqrt().float()
