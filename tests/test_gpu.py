"""On a CUDA device (run by benchmarks/gpu_check.sh; skipped without CUDA)."""

import pickle
import subprocess
import sys

import numpy as np
import pytest
import torch

from skdann import DANNClassifier

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
]


def test_auto_and_indexed_cuda_devices_are_used(moons, fast):
    Xs, ys, Xt, _ = moons
    for device in ("auto", "cuda", "cuda:0"):
        clf = DANNClassifier(device=device, **fast).fit(Xs, ys, Xt)
        assert clf.device_ == torch.device("cuda", 0)
        assert next(clf.net_.module_.parameters()).device.type == "cuda"
        assert clf.predict(Xt).shape == (300,)


@pytest.mark.parametrize("on_device", [True, False])
def test_resident_and_streamed_data_train_the_same_model(moons, fast, on_device):
    Xs, ys, Xt, _ = moons
    ref = DANNClassifier(device="cuda", data_on_device=True, **fast).fit(Xs, ys, Xt)
    clf = DANNClassifier(device="cuda", data_on_device=on_device, **fast).fit(Xs, ys, Xt)
    np.testing.assert_allclose(clf.predict_proba(Xt), ref.predict_proba(Xt), atol=1e-5)


def test_gpu_and_cpu_predictions_agree_on_the_same_weights(moons, fast):
    Xs, ys, Xt, _ = moons
    gpu = DANNClassifier(device="cuda", **fast).fit(Xs, ys, Xt)
    cpu = pickle.loads(pickle.dumps(gpu))
    cpu.net_.module_.to("cpu")
    cpu.net_.device, cpu.device_ = "cpu", torch.device("cpu")
    np.testing.assert_allclose(cpu.predict_proba(Xt), gpu.predict_proba(Xt), atol=1e-4)
    assert (cpu.predict(Xt) == gpu.predict(Xt)).mean() > 0.99


def test_cuda_pickle_loads_in_a_process_without_cuda(moons, fast, tmp_path):
    Xs, ys, Xt, _ = moons
    clf = DANNClassifier(device="cuda", **fast).fit(Xs, ys, Xt)
    np.save(tmp_path / "Xt.npy", Xt)
    np.save(tmp_path / "expected.npy", clf.predict(Xt))
    (tmp_path / "m.pkl").write_bytes(pickle.dumps(clf))
    code = (
        "import pickle, warnings, numpy as np, torch\n"
        "assert not torch.cuda.is_available()\n"
        f"d = {str(tmp_path)!r}\n"
        "with warnings.catch_warnings():\n"
        "    warnings.simplefilter('ignore')\n"
        "    m = pickle.loads(open(d + '/m.pkl', 'rb').read())\n"
        "assert str(m.device_) == 'cpu', m.device_\n"
        "agree = (m.predict(np.load(d + '/Xt.npy')) == np.load(d + '/expected.npy')).mean()\n"
        "assert agree > 0.99, agree\n"
        "print('ok', agree)\n"
    )
    env = {**__import__("os").environ, "CUDA_VISIBLE_DEVICES": ""}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.startswith("ok")


@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_mixed_precision_trains_like_fp32_on_images(precision):
    rng = np.random.RandomState(0)
    ys = rng.randint(0, 2, 256)
    Xs = (rng.rand(256, 1, 28, 28) * 60).astype(np.uint8)
    Xs[ys == 1, :, 8:20, 12:16] = 255
    Xt = (255 - Xs).astype(np.uint8)
    kw = {"device": "cuda", "max_epochs": 10, "batch_size": 32, "lr": 3e-3, "random_state": 0}
    ref = DANNClassifier(**kw).fit(Xs, ys, Xt)
    clf = DANNClassifier(precision=precision, **kw).fit(Xs, ys, Xt)
    losses = clf.history_[:, "label_loss"]
    assert np.isfinite(clf.history_[:, "train_loss"]).all()
    assert losses[-1] < 0.5 * losses[0]
    assert clf.score(Xs, ys) >= ref.score(Xs, ys) - 0.05
