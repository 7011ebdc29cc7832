"""Batching: groups of rows per domain, the batch layout, placement and statistics."""

import numpy as np
import pytest
import torch

from skdann._batching import (
    DomainBatchIterator,
    DomainData,
    Group,
    input_statistics,
    place_data,
)

CPU = torch.device("cpu")


def _data(n_source=10, n_target=6):
    g = torch.Generator().manual_seed(0)
    return DomainData.from_domains(torch.randn(n_source, 2, generator=g), torch.arange(n_source) % 2,
                                   torch.randn(n_target, 2, generator=g) + 3)


def test_every_step_sees_equal_source_and_target_batches():
    it = DomainBatchIterator(_data(10, 3), batch_size=4, device=CPU, seed=0, resident=True)
    batches = list(it)
    assert len(batches) == len(it) == 3  # ceil(10 / 4): one pass over the source
    assert all(X.shape == (8, 2) and y.shape == (4,) and w is None for X, y, w in batches)
    assert it.layout.n_labelled == it.layout.n_source == 4 and it.layout.n_rows == 8


def test_source_rows_are_each_seen_once_per_epoch_and_target_rows_cycle():
    data = _data(8, 3)
    it = DomainBatchIterator(data, batch_size=4, device=CPU, seed=0, resident=True)
    batches = list(it)
    seen = torch.cat([X[:4] for X, _, _ in batches])
    assert sorted(seen[:, 0].tolist()) == sorted(data.blocks[0][:, 0].tolist())
    targets = torch.cat([X[4:] for X, _, _ in batches])
    counts = np.unique(targets[:, 0].numpy(), return_counts=True)[1]
    assert len(counts) == 3 and counts.max() - counts.min() <= 1


def test_stacked_rows_are_selected_without_copies_and_labels_follow_their_rows():
    X = torch.arange(12.0).reshape(6, 2)
    y = torch.tensor([0, 9, 1, 9, 0, 9])  # 9: anything, on unlabelled rows
    data = DomainData([X], [y], [Group(0, torch.tensor([0, 2, 4]), 1, True),
                                 Group(0, torch.tensor([1, 3, 5]), -1, False)])
    it = DomainBatchIterator(data, batch_size=3, device=CPU, seed=0, resident=True)
    ((Xb, yb, _),) = list(it)
    assert set(Xb[:3, 0].tolist()) == {0.0, 4.0, 8.0} and set(Xb[3:, 0].tolist()) == {2.0, 6.0, 10.0}
    assert sorted(zip(Xb[:3, 0].tolist(), yb.tolist())) == [(0.0, 0), (4.0, 1), (8.0, 0)]


def test_groups_are_laid_out_source_then_labelled_target_then_unlabelled_target():
    X = torch.arange(40.0).reshape(20, 2)
    y = torch.zeros(20, dtype=torch.int64)
    groups = [Group(0, torch.arange(15, 20), -1, False), Group(0, torch.arange(0, 5), 2, True),
              Group(0, torch.arange(10, 12), -1, True), Group(0, torch.arange(5, 10), 1, True)]
    it = DomainBatchIterator(DomainData([X], [y], groups), batch_size=4, device=CPU, seed=0,
                             resident=True)
    assert it.layout.domains == (1, 2, -1, -1) and it.layout.labelled == (True, True, True, False)
    # 4 rows per source domain, all 2 labelled target rows, 4 unlabelled target rows.
    assert it.layout.counts == (4, 4, 2, 4) and it.layout.n_labelled == 10
    X_batch, y_batch, _ = it.next_batch()
    rows = (X_batch[:, 0] / 2).long()
    assert all(5 <= r < 10 for r in rows[:4]) and all(0 <= r < 5 for r in rows[4:8])
    assert all(10 <= r < 12 for r in rows[8:10]) and all(15 <= r < 20 for r in rows[10:])
    assert len(y_batch) == 10
    assert len(it) == 2  # 10 source rows, 8 per step
    # The target domain's 2 labelled and 5 unlabelled rows stand for 2/7 and
    # 5/7 of it, however many of each a step draws.
    assert it.layout.sizes == (5, 5, 2, 5)
    shares = it.layout.row_shares()
    assert np.allclose(shares, [1 / 4] * 8 + [1 / 7] * 2 + [5 / 7 / 4] * 4)


def test_sample_weights_travel_with_their_rows():
    X = torch.arange(8.0).reshape(8, 1)
    data = DomainData([X], [torch.zeros(8, dtype=torch.int64)], [Group(0, None, 1, True)],
                      weight=[X[:, 0] * 10])
    it = DomainBatchIterator(data, batch_size=8, device=CPU, seed=0, resident=True)
    Xb, _, w = it.next_batch()
    assert torch.equal(w, Xb[:, 0] * 10)


def test_uint8_batches_are_scaled_on_the_fly():
    X = torch.full((4, 1, 2, 2), 255, dtype=torch.uint8)
    data = DomainData.from_domains(X, torch.tensor([0, 1, 0, 1]))
    Xb, _, _ = DomainBatchIterator(data, batch_size=4, device=CPU, seed=0, resident=True).next_batch()
    assert Xb.dtype == torch.float32 and torch.all(Xb == 1.0) and Xb.shape == (4, 1, 2, 2)


def test_placing_data_on_a_device_makes_float32_once_and_keeps_shared_blocks_shared():
    X = torch.zeros(6, 2, dtype=torch.float64)
    groups = [Group(0, torch.tensor([0, 2, 4]), 1, True), Group(0, torch.tensor([1, 3, 5]), -1, False)]
    data = DomainData([X], [torch.zeros(6, dtype=torch.int64)], groups)
    moved, resident = place_data(data, CPU, "auto")
    assert resident and len(moved.blocks) == 1 and moved.blocks[0].dtype == torch.float32


def test_input_statistics_cover_both_domains_per_feature_and_per_channel():
    data = DomainData.from_domains(torch.zeros(4, 2), torch.tensor([0, 1, 0, 1]),
                                   torch.full((4, 2), 2.0))
    mean, std = input_statistics(data, image=False)
    assert torch.allclose(mean, torch.tensor([1.0, 1.0])) and torch.allclose(std, torch.tensor([1.0, 1.0]))
    images = torch.zeros(2, 3, 2, 2, dtype=torch.uint8)
    images[:, 1] = 255
    mean, _ = input_statistics(DomainData.from_domains(images, torch.tensor([0, 1])), image=True)
    assert torch.allclose(mean, torch.tensor([0.0, 1.0, 0.0]))


def test_streams_can_be_saved_and_resumed():
    it = DomainBatchIterator(_data(), batch_size=4, device=CPU, seed=0, resident=True)
    it.next_batch()
    state = it.state_dict()
    expected = it.next_batch()[0]
    other = DomainBatchIterator(_data(), batch_size=4, device=CPU, seed=5, resident=True)
    other.load_state_dict(state)
    assert torch.equal(other.next_batch()[0], expected)


def test_prefetching_gives_the_same_batches_and_records_what_was_consumed():
    data = _data(50, 20)
    plain = DomainBatchIterator(data, batch_size=4, device=CPU, seed=3, resident=False)
    ahead = DomainBatchIterator(data, batch_size=4, device=CPU, seed=3, resident=False, prefetch=2)
    first = [X for X, _, _ in plain]
    for i, (X, _, _) in enumerate(ahead):
        assert torch.equal(X, first[i])
        if i == 4:
            state = ahead.state_dict()  # the thread has read ahead; the state must not
            break
    resumed = DomainBatchIterator(data, batch_size=4, device=CPU, seed=99, resident=False)
    resumed.load_state_dict(state)
    assert torch.equal(resumed.next_batch()[0], first[5])


def test_an_error_while_reading_ahead_reaches_the_training_loop():
    # a target group pointing at rows its block does not have
    data = DomainData([torch.zeros(20, 2), torch.zeros(3, 2)], [torch.zeros(20, dtype=torch.int64), None],
                      [Group(0, None, 1, True), Group(1, torch.tensor([0, 5, 9]), -1, False)])
    it = DomainBatchIterator(data, batch_size=4, device=CPU, seed=0, resident=False, prefetch=2)
    with pytest.raises(IndexError):
        list(it)
