"""Device selection: clear errors before training."""

import pytest
import torch

from skdann import DANNClassifier, resolve_device


def test_cpu_and_auto_resolve_on_a_machine_without_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr("skdann._device._mps_available", lambda: False)
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto") == torch.device("cpu")
    assert resolve_device(torch.device("cpu")) == torch.device("cpu")


def test_auto_prefers_cuda_then_mps(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 0)
    assert resolve_device("auto") == torch.device("cuda", 0)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr("skdann._device._mps_available", lambda: True)
    assert resolve_device("auto") == torch.device("mps")


def test_cuda_index_is_honoured_and_checked(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 0)
    assert resolve_device("cuda:1") == torch.device("cuda", 1)
    assert resolve_device("cuda") == torch.device("cuda", 0)
    with pytest.raises(ValueError, match="only 2 CUDA device"):
        resolve_device("cuda:2")


def test_cuda_without_cuda_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ValueError, match="CUDA is not available"):
        resolve_device("cuda")


def test_mps_without_mps_is_a_clear_error(monkeypatch):
    monkeypatch.setattr("skdann._device._mps_available", lambda: False)
    with pytest.raises(ValueError, match="MPS is not available"):
        resolve_device("mps")


@pytest.mark.parametrize("bad", ["gpu", "tpu:0", "cuda:x", ""])
def test_unknown_device_strings_are_value_errors(bad):
    with pytest.raises(ValueError, match="device"):
        resolve_device(bad)


def test_non_string_device_is_a_type_error():
    with pytest.raises(TypeError, match="device"):
        resolve_device(0)


def test_fit_checks_the_device_before_training(moons, monkeypatch):
    Xs, ys, Xt, _ = moons
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    clf = DANNClassifier(device="cuda", max_epochs=1)
    with pytest.raises(ValueError, match="CUDA is not available"):
        clf.fit(Xs, ys, Xt)
    assert not hasattr(clf, "net_")
