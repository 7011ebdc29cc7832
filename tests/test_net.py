"""DANNNet: the skorch steps that make up DANN training."""

import numpy as np
import pytest
import torch
from skorch.callbacks import Callback

from skdann import DANNClassifier, DANNNet
from skdann._batching import DomainData, Group


def _net(net_class=DANNNet, **kwargs):
    torch.manual_seed(0)
    params = {"input_shape": (2,), "n_outputs": 2, "extractor__hidden_sizes": (8,),
              "max_epochs": 2, "batch_size": 4, "verbose": 0, **kwargs}
    return net_class(**params).initialize()


def _data(n_source=10, n_target=6):
    g = torch.Generator().manual_seed(0)
    return DomainData.from_domains(torch.randn(n_source, 2, generator=g), torch.arange(n_source) % 2,
                                   torch.randn(n_target, 2, generator=g) + 3)


def _recorder(read):
    """A callback that appends ``read(net)`` after every backward pass, and the list it fills."""
    seen = []

    class Recorder(Callback):
        def on_grad_computed(self, net, named_parameters, **kwargs):
            seen.append(read(net))

    return Recorder(), seen


def test_schedules_are_applied_before_every_step():
    spy, seen = _recorder(lambda net: (net.module_.grl.lambda_, net.optimizer_.param_groups[0]["lr"]))
    net = _net(callbacks=[spy], lambda_max=2.0, lr=0.1)
    net.fit_loop(_data())
    steps = 2 * 3
    progress = [k / steps for k in range(steps)]
    assert [lam for lam, _ in seen] == pytest.approx([2.0 * (2 / (1 + np.exp(-10 * p)) - 1)
                                                      for p in progress])
    assert [lr for _, lr in seen] == pytest.approx([0.1 / (1 + 10 * p) ** 0.75 for p in progress])
    assert net.progress_.steps == steps and net.history[-1, "steps"] == steps


def test_warmup_keeps_lambda_at_zero_then_runs_the_schedule_over_the_rest():
    spy, seen = _recorder(lambda net: net.lambda_)
    net = _net(callbacks=[spy], warmup=0.5, max_epochs=4)
    net.fit_loop(_data())
    assert seen[:6] == [0.0] * 6  # half of 12 steps
    assert seen[7] == pytest.approx(2 / (1 + np.exp(-10 * (1 / 12) / 0.5)) - 1)


def test_domain_loss_labels_source_zero_and_target_one():
    net = _net()
    net.fit_loop(_data(), epochs=0)  # sets the batch layout: 4 source rows then 4 target rows
    logits = torch.tensor([-20.0] * 4 + [20.0] * 4)
    assert net.get_domain_loss(logits, net.domain_labels_, net.domain_weights_).item() < 1e-6
    assert net.get_domain_loss(-logits, net.domain_labels_, net.domain_weights_).item() > 10
    assert net.domain_weights_.sum().item() == pytest.approx(1.0)


def test_fused_default_losses_equal_their_per_row_definition():
    # The default criteria take a fused path (one kernel); it must be the
    # same loss as the per-row criterion weighted and summed (or averaged).
    net = _net()
    net.fit_loop(_data(), epochs=0)
    g = torch.Generator().manual_seed(1)
    logits = torch.randn(8, generator=g)
    weights = net.domain_weights_ * torch.rand(8, generator=g)
    per_row = torch.nn.BCEWithLogitsLoss(reduction="none")(logits, net.domain_labels_)
    assert net.get_domain_loss(logits, net.domain_labels_, weights).item() == pytest.approx(
        (per_row * weights).sum().item(), rel=1e-6)
    outputs, y = torch.randn(5, 2, generator=g), torch.tensor([0, 1, 1, 0, 1])
    per_row = torch.nn.CrossEntropyLoss(reduction="none")(outputs, y)
    assert net.get_label_loss(outputs, y).item() == pytest.approx(per_row.mean().item(), rel=1e-6)
    w = torch.rand(5, generator=g)
    assert net.get_label_loss(outputs, y, w).item() == pytest.approx(
        ((per_row * w).sum() / w.sum()).item(), rel=1e-6)


def test_epoch_domain_accuracy_counts_the_rows_the_head_told_apart():
    # The per-step domain logits are kept and scored once per epoch.
    steps = []

    class Spy(Callback):
        def on_batch_end(self, net, **step):
            steps.append(step["domain_logits"].clone())

    net = _net(callbacks=[Spy()], max_epochs=1)
    net.fit_loop(_data())
    side = net.domain_side_.bool()
    correct = sum(((s > 0) == side).sum().item() for s in steps)
    assert net.history[-1, "domain_acc"] == pytest.approx(correct / (len(steps) * len(side)))


def test_label_smoothing_moves_domain_labels_off_zero_and_one():
    net = _net(domain_label_smoothing=0.2)
    net.fit_loop(_data(), epochs=0)
    assert sorted(set(net.domain_labels_.tolist())) == pytest.approx([0.1, 0.9])


def test_overriding_a_step_changes_training():
    class NoDomainLoss(DANNNet):
        def get_domain_loss(self, domain_logits, targets, weights):
            return domain_logits.sum() * 0.0

    net = NoDomainLoss(input_shape=(2,), n_outputs=2, max_epochs=2, batch_size=4).initialize()
    net.fit_loop(_data())
    assert net.history[-1, "domain_loss"] == 0.0


def test_history_has_no_per_batch_loss_sync_but_epoch_aggregates(moons):
    Xs, ys, Xt, _ = moons
    clf = DANNClassifier(max_epochs=2, random_state=0).fit(Xs, ys, Xt)
    row = clf.history_[-1]
    assert row["batches"] == []
    assert row["train_loss"] == pytest.approx(row["label_loss"] + row["domain_loss"])
    assert row["train_batch_count"] == int(np.ceil(300 / clf.batch_size))
    assert 0 <= row["domain_acc"] <= 1 and row["progress"] == 1.0


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
    first = [X.clone() for X, _, _ in net.get_iterator(data)]
    net.fit_loop(data, epochs=1)
    again = [X.clone() for X, _, _ in net.get_iterator(data)]
    assert not all(torch.equal(a, b) for a, b in zip(first, again))


def test_domain_head_learns_at_its_own_rate():
    net = _net(domain_lr_factor=10.0, lr=0.01)
    domain = {id(p) for p in net.module_.domain_head.parameters()}
    lr_of = {id(p): g["lr"] for g in net.optimizer_.param_groups for p in g["params"]}
    assert [lr_of[i] for i in domain] == pytest.approx([0.1] * len(domain))
    others = [v for k, v in lr_of.items() if k not in domain]
    assert others == pytest.approx([0.01] * len(others)) and others
    assert len(lr_of) == len(list(net.module_.parameters()))


def test_a_domain_head_step_moves_the_domain_head_and_nothing_else():
    net = _net(domain_steps=3)
    data = _data()
    net.fit_loop(data, epochs=0)  # sets the batch layout
    batch = next(iter(net.get_iterator(data, training=True)))
    before = {k: v.clone() for k, v in net.module_.state_dict().items()}
    net.train_domain_head_step(batch)
    moved = {k for k, v in net.module_.state_dict().items() if not torch.equal(v, before[k])}
    assert moved and all(k.startswith("domain_head.") for k in moved)


def test_domain_steps_run_the_extra_head_updates_before_every_training_step():
    calls = []

    class Spy(DANNNet):
        def train_domain_head_step(self, batch):
            calls.append(self.progress_.steps)
            super().train_domain_head_step(batch)

    _net(Spy, domain_steps=3).fit_loop(_data())
    assert calls == [k for k in range(6) for _ in range(2)]  # 6 steps, 2 head updates before each
    calls.clear()
    _net(Spy, domain_steps=3, lambda_max=0.0).fit_loop(_data())
    assert calls == []  # no adversary to strengthen


def test_an_interrupted_epoch_still_gets_a_complete_history_row():
    class Stop(Callback):
        def on_batch_end(self, net, **kwargs):
            if net.progress_.steps == 4:
                raise KeyboardInterrupt

    net = _net(callbacks=[Stop()])
    net.partial_fit(_data())  # skorch's partial_fit keeps what was trained
    row = net.history[-1]
    assert row["train_batch_count"] == 1 and np.isfinite(row["domain_acc"])
    assert row["steps"] == 4


def test_averaged_weights_are_what_prediction_uses():
    net = _net(averaging="ema", averaging_start=0.0, max_epochs=3)
    net.fit_loop(_data())
    assert net.averaged_module_ is not None
    x = torch.randn(5, 2)
    assert torch.allclose(net.predict_outputs(x), net.averaged_module_.module.eval()(x))
    assert not torch.allclose(net.predict_outputs(x), net.module_.eval()(x))
    # the average is never trained by the optimizer
    trained = {id(p) for g in net.optimizer_.param_groups for p in g["params"]}
    assert not trained & {id(p) for p in net.averaged_module_.parameters()}


def test_iwdan_class_weights_follow_the_target_class_proportions():
    # Source: balanced; target: 90 % class 1. The labels are a threshold the
    # network learns at once, so its target predictions reveal the shift.
    g = torch.Generator().manual_seed(0)
    ys = torch.arange(400) % 2
    Xs = torch.randn(400, 2, generator=g) + 4 * ys[:, None].float()
    yt = (torch.rand(400, generator=g) < 0.9).long()
    Xt = torch.randn(400, 2, generator=g) + 4 * yt[:, None].float()
    net = _net(label_shift="iwdan", lambda_max=0.0, max_epochs=20, batch_size=64, lr=0.01)
    net.fit_loop(DomainData.from_domains(Xs, ys, Xt))
    w = net.class_weights_.cpu().numpy()
    assert w[1] > 1.4 and w[0] < 0.6  # true ratio: 1.8 and 0.2
    # Shrinkage pulls the same estimate half-way to 1: no class drops out.
    half = _net(label_shift="iwdan", label_shift_shrinkage=0.5, lambda_max=0.0, max_epochs=20,
                batch_size=64, lr=0.01)
    half.fit_loop(DomainData.from_domains(Xs, ys, Xt))
    w_half = half.class_weights_.cpu().numpy()
    assert np.allclose(w_half, 1 + 0.5 * (w - 1), atol=0.05)
    assert w_half[0] > 0.5 and w_half[1] < 1.5


def test_iwdan_takes_the_target_proportions_from_labelled_target_rows_when_there_are_some():
    # The unlabelled target rows all look like source class 0, so the
    # predictions would call the target all class 0; the 40 labelled target
    # rows (30 of class 1) say otherwise, and their labels win.
    g = torch.Generator().manual_seed(0)
    ys = torch.arange(400) % 2
    Xs = torch.randn(400, 2, generator=g) + 4 * ys[:, None].float()
    Xt = torch.randn(200, 2, generator=g)
    yt = torch.zeros(200, dtype=torch.long)
    yt[:30] = 1
    groups = [Group(0, None, 1, True), Group(1, torch.arange(40), -1, True),
              Group(1, torch.arange(40, 200), -1, False)]
    net = _net(label_shift="iwdan", lambda_max=0.0, max_epochs=20, batch_size=64, lr=0.01)
    net.fit_loop(DomainData([Xs, Xt], [ys, yt], groups))
    q = np.array([10 + 1, 30 + 1]) / (40 + 2)  # add-one smoothed label frequencies
    assert net.class_weights_.cpu().numpy() == pytest.approx(q / 0.5, abs=0.05)


def test_entropy_loss_is_the_mean_prediction_entropy_of_the_target_rows():
    net = _net(target_entropy=1.0)
    certain, undecided = torch.tensor([[30.0, -30.0]]), torch.zeros(1, 2)
    assert net.get_entropy_loss(certain).item() < 1e-6
    assert net.get_entropy_loss(undecided).item() == pytest.approx(np.log(2))
    assert net.get_entropy_loss(torch.cat([certain, undecided])).item() == pytest.approx(np.log(2) / 2)


def test_target_entropy_follows_the_lambda_ramp_and_is_off_without_adaptation():
    spy, seen = _recorder(lambda net: (net.lambda_, net._entropy_weight()))
    net = _net(callbacks=[spy], lambda_max=2.0, target_entropy=0.5)
    net.fit_loop(_data())
    assert [w for _, w in seen] == pytest.approx([0.5 * lam / 2.0 for lam, _ in seen])
    assert seen[-1][1] > 0.4
    assert _net(lambda_max=0.0, target_entropy=0.5)._entropy_weight() == 0.0


def test_target_entropy_makes_the_target_predictions_more_confident():
    # The target sits between the source classes and off to the side, where
    # the source labels leave the network unsure; the term makes it commit.
    g = torch.Generator().manual_seed(0)
    ys = torch.arange(200) % 2
    Xs = torch.randn(200, 2, generator=g) + 3 * ys[:, None].float()
    Xt = torch.randn(200, 2, generator=g) * 0.5 + torch.tensor([1.5, 4.0])

    def target_entropy(weight):
        net = _net(lambda_max=0.1, target_entropy=weight, max_epochs=40, batch_size=50, lr=0.03)
        net.fit_loop(DomainData.from_domains(Xs, ys, Xt))
        return net.get_entropy_loss(net.predict_outputs(Xt)).item()

    assert target_entropy(1.0) < 0.5 * target_entropy(0.0)


def test_failed_load_leaves_the_net_as_it_was(tmp_path):
    net = _net()
    net.fit_loop(_data())
    before = {k: v.clone() for k, v in net.module_.state_dict().items()}
    other = _net(extractor__hidden_sizes=(8, 3))
    other.save_params(f_params=tmp_path / "other.pt")
    with pytest.raises(RuntimeError):
        net.load_params(f_params=tmp_path / "other.pt")
    after = net.module_.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_save_and_load_restore_the_schedule_position(tmp_path):
    net = _net()
    net.fit_loop(_data())
    net.save_params(f_params=tmp_path / "p.pt", f_history=tmp_path / "h.json")
    fresh = _net()
    fresh.load_params(f_params=tmp_path / "p.pt", f_history=tmp_path / "h.json")
    assert fresh.progress_.steps == net.progress_.steps == 6
    assert fresh.progress() == net.progress()


def test_vat_loss_is_a_divergence_in_a_ball_of_the_given_radius():
    net = _net(vat_weight=1.0)
    X = torch.randn(16, 2, generator=torch.Generator().manual_seed(1))
    loss = net.get_vat_loss(X)
    assert loss.shape == (16,) and bool((loss >= -1e-6).all()) and loss.sum() > 0
    # a vanishing radius moves no prediction
    assert net.set_params(vat_radius=1e-9).get_vat_loss(X).abs().max().item() < 1e-6
    # a larger ball holds a worse perturbation
    assert net.set_params(vat_radius=1.0).get_vat_loss(X).sum() > loss.sum()


def test_vat_perturbs_the_rows_after_the_networks_standardization():
    # Rows on a scale of thousands: relative to the raw row the ball would be
    # huge; after Standardize it is the same ball as for standardized rows.
    X = torch.randn(32, 2, generator=torch.Generator().manual_seed(1))
    stats = (torch.full((2,), 1000.0), torch.full((2,), 500.0))  # mean, scale
    net = _net(vat_weight=1.0, input_statistics=stats)
    plain = _net(vat_weight=1.0)
    plain.module_.load_state_dict(
        {k: v for k, v in net.module_.state_dict().items() if not k.startswith("standardize")})
    torch.manual_seed(0)
    raw = net.get_vat_loss(X * 500.0 + 1000.0)
    torch.manual_seed(0)
    scaled = plain.get_vat_loss(X)
    assert raw.detach().numpy() == pytest.approx(scaled.detach().numpy(), rel=1e-2, abs=1e-6)


def test_vat_acts_on_labelled_rows_always_and_on_target_rows_with_the_lambda_ramp():
    spy, seen = _recorder(lambda net: (net.lambda_, net._ramp()))
    net = _net(callbacks=[spy], lambda_max=2.0, vat_weight=1.0)
    net.fit_loop(_data())
    assert [r for _, r in seen] == pytest.approx([lam / 2.0 for lam, _ in seen])
    assert _net(lambda_max=0.0, vat_weight=1.0)._ramp() == 0.0
    # with lambda_max=0 the labelled rows still get the term: training differs from no VAT
    trained = [_net(lambda_max=0.0, vat_weight=w, max_epochs=5) for w in (0.0, 1.0)]
    for n in trained:
        torch.manual_seed(0)
        n.fit_loop(_data())
    X = _data().blocks[0]
    assert not torch.allclose(trained[0].predict_outputs(X), trained[1].predict_outputs(X))


def test_vat_on_target_rows_alone_leaves_the_labelled_rows_out():
    # The term of a batch is the ramp times the target rows' mean divergence:
    # the labelled rows (the first n_labelled) contribute nothing.
    net = _net(lambda_max=2.0, vat_weight=1.0, vat_rows="target")
    net.fit_loop(_data())
    X = torch.randn(net.layout_.n_rows, 2, generator=torch.Generator().manual_seed(3))
    n_lab = net.layout_.n_labelled
    torch.manual_seed(0)
    term = net._vat_term(X, None)
    torch.manual_seed(0)
    expected = net._ramp() * net.get_vat_loss(X[n_lab:]).mean()
    assert 0 < net._ramp() and term.item() == pytest.approx(expected.item(), rel=1e-5)
    # without adaptation the term is zero, not computed: no random draw is consumed
    net.set_params(lambda_max=0.0)
    state = torch.get_rng_state()
    assert net._vat_term(X, None).item() == 0.0 and torch.equal(state, torch.get_rng_state())
