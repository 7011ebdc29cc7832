"""DANNNet: the skorch steps that make up DANN training."""

import numpy as np
import pytest
import torch
from skorch.callbacks import Callback

from skdann import DANNClassifier, DANNModule, DANNNet, DomainHead, LabelHead, MLPExtractor
from skdann._data import DomainBatchIterator, DomainData


def _net(**kwargs):
    torch.manual_seed(0)
    module = DANNModule(MLPExtractor(2, (8,)), LabelHead(8, 2), DomainHead(8))
    return DANNNet(module, verbose=0, **{"max_epochs": 2, "batch_size": 4, **kwargs}).initialize()


def _data(n_source=10, n_target=6):
    g = torch.Generator().manual_seed(0)
    return DomainData(torch.randn(n_source, 2, generator=g), torch.arange(n_source) % 2,
                      torch.randn(n_target, 2, generator=g) + 3)


def test_every_step_sees_equal_source_and_target_batches():
    it = DomainBatchIterator(_data(10, 3), batch_size=4, device=torch.device("cpu"), seed=0,
                             resident=True)
    batches = list(it)
    assert len(batches) == len(it) == 3  # ceil(10 / 4): one pass over the source
    assert all(xs.shape == (4, 2) and ys.shape == (4,) and xt.shape == (4, 2)
               for xs, ys, xt in batches)


def test_source_rows_are_each_seen_once_per_epoch_and_target_rows_cycle():
    data = _data(8, 3)
    it = DomainBatchIterator(data, batch_size=4, device=torch.device("cpu"), seed=0, resident=True)
    seen = torch.cat([xs for xs, _, _ in it])
    assert sorted(seen[:, 0].tolist()) == sorted(data.source[:, 0].tolist())
    targets = torch.cat([xt for _, _, xt in it])
    counts = np.unique(targets[:, 0].numpy(), return_counts=True)[1]
    assert len(counts) == 3 and counts.max() - counts.min() <= 1


def test_stacked_rows_are_selected_without_copies():
    X = torch.arange(12.0).reshape(6, 2)
    data = DomainData(X, torch.tensor([0, 1, 0]), X, torch.tensor([0, 2, 4]), torch.tensor([1, 3, 5]))
    it = DomainBatchIterator(data, batch_size=3, device=torch.device("cpu"), seed=0, resident=True)
    ((xs, ys, xt),) = list(it)
    assert set(xs[:, 0].tolist()) == {0.0, 4.0, 8.0} and set(xt[:, 0].tolist()) == {2.0, 6.0, 10.0}
    assert sorted(zip(xs[:, 0].tolist(), ys.tolist())) == [(0.0, 0), (4.0, 1), (8.0, 0)]


def test_uint8_batches_are_scaled_on_the_fly():
    X = torch.full((4, 1, 2, 2), 255, dtype=torch.uint8)
    it = DomainBatchIterator(DomainData(X, torch.tensor([0, 1, 0, 1])), batch_size=4,
                             device=torch.device("cpu"), seed=0, resident=True)
    ((xs, _, xt),) = list(it)
    assert xs.dtype == torch.float32 and torch.all(xs == 1.0) and xt is None


def test_schedules_are_applied_before_every_step():
    seen = []

    class Spy(Callback):
        def on_grad_computed(self, net, named_parameters, **kwargs):
            seen.append((net.module_.grl.lambda_, net.optimizer_.param_groups[0]["lr"]))

    net = _net(callbacks=[Spy()], lambda_max=2.0, lr=0.1)
    net.fit_loop(_data())
    steps = 2 * 3
    progress = [k / steps for k in range(steps)]
    assert [lam for lam, _ in seen] == pytest.approx([2.0 * (2 / (1 + np.exp(-10 * p)) - 1)
                                                      for p in progress])
    assert [lr for _, lr in seen] == pytest.approx([0.1 / (1 + 10 * p) ** 0.75 for p in progress])
    assert net.steps_done_ == steps


def test_domain_loss_labels_source_zero_and_target_one():
    net = _net()
    logits = torch.tensor([-20.0, -20.0, 20.0, 20.0])
    assert net.get_domain_loss(logits, 2).item() < 1e-6
    assert net.get_domain_loss(-logits, 2).item() > 10


def test_overriding_a_step_changes_training(moons):
    class NoDomainLoss(DANNNet):
        def get_domain_loss(self, domain_logits, n_source):
            return domain_logits.sum() * 0.0

    net = NoDomainLoss(DANNModule(MLPExtractor(2, (8,)), LabelHead(8, 2), DomainHead(8)),
                       max_epochs=2, batch_size=32, verbose=0).initialize()
    Xs, ys, Xt, _ = moons
    net.fit_loop(DomainData(torch.as_tensor(Xs, dtype=torch.float32), torch.as_tensor(ys),
                            torch.as_tensor(Xt, dtype=torch.float32)))
    assert net.history[-1, "domain_loss"] == 0.0


def test_history_has_no_per_batch_loss_sync_but_epoch_aggregates(moons):
    Xs, ys, Xt, _ = moons
    clf = DANNClassifier(max_epochs=2, random_state=0).fit(Xs, ys, Xt)
    row = clf.history_[-1]
    assert row["batches"] == []
    assert row["train_loss"] == pytest.approx(row["label_loss"] + row["domain_loss"])
    assert row["train_batch_count"] == int(np.ceil(300 / clf.batch_size))


def test_per_step_hooks_reach_the_callbacks_that_define_them():
    calls = {"begin": 0, "end": 0, "grad": 0, "epoch": 0}

    class Counter(Callback):
        def on_batch_begin(self, net, **kwargs):
            calls["begin"] += 1

        def on_batch_end(self, net, **kwargs):
            calls["end"] += 1

        def on_grad_computed(self, net, named_parameters, **kwargs):
            calls["grad"] += 1

    class EpochOnly(Callback):
        def on_epoch_end(self, net, **kwargs):
            calls["epoch"] += 1

    net = _net(callbacks=[Counter(), EpochOnly()])
    net.fit_loop(_data())
    assert calls == {"begin": 6, "end": 6, "grad": 6, "epoch": 2}


def test_continued_training_draws_new_batch_orders():
    net = _net()
    data = _data()
    first = [xs.clone() for xs, _, _ in net.get_iterator(data)]
    net.fit_loop(data, epochs=1)
    again = [xs.clone() for xs, _, _ in net.get_iterator(data)]
    assert not all(torch.equal(a, b) for a, b in zip(first, again))


def test_moving_data_to_a_device_makes_float32_once_and_keeps_shared_rows_shared():
    X = torch.zeros(6, 2, dtype=torch.float64)
    data = DomainData(X, torch.tensor([0, 1, 0]), X, torch.tensor([0, 2, 4]), torch.tensor([1, 3, 5]))
    moved = data.to(torch.device("cpu"))
    assert moved.source.dtype == torch.float32 and moved.target is moved.source
