"""Long fits survive interruption: DANNCheckpoint + DANNLoadInitState resume bit-identically."""

import subprocess
import sys
import textwrap

import numpy as np
import torch

from skdann import DANNCheckpoint, DANNClassifier, DANNLoadInitState
from skdann.datasets import make_domain_moons

PARAMS = dict(max_epochs=8, batch_size=64, random_state=0, averaging="ema", averaging_start=0.2,
              label_shift="iwdan")

KILLED_AFTER_EPOCH_3 = textwrap.dedent("""
    import os, signal, sys
    from skorch.callbacks import Callback
    from skdann import DANNClassifier
    from skdann import DANNCheckpoint
    from skdann.datasets import make_domain_moons

    class Kill(Callback):
        def on_epoch_end(self, net, **kwargs):
            if len(net.history) == 3:
                os.kill(os.getpid(), signal.SIGKILL)

    Xs, ys, Xt, _ = make_domain_moons(random_state=0)
    params = eval(sys.argv[2])
    DANNClassifier(callbacks=[DANNCheckpoint(dirname=sys.argv[1]), Kill()], **params).fit(Xs, ys, Xt)
""")


def test_a_killed_fit_resumes_to_the_same_model_as_an_uninterrupted_one(tmp_path):
    Xs, ys, Xt, _ = make_domain_moons(random_state=0)
    whole = DANNClassifier(**PARAMS).fit(Xs, ys, Xt)

    run = subprocess.run([sys.executable, "-c", KILLED_AFTER_EPOCH_3, str(tmp_path), repr(PARAMS)],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == -9, run.stderr  # killed, not finished
    assert (tmp_path / "training_state.pt").exists()

    cp = DANNCheckpoint(dirname=str(tmp_path))
    resumed = DANNClassifier(callbacks=[cp, DANNLoadInitState(cp)], **PARAMS).fit(Xs, ys, Xt)
    assert len(resumed.history_) == 8 and resumed.history_[-1, "steps"] == whole.history_[-1, "steps"]
    a, b = whole.net_.module_.state_dict(), resumed.net_.module_.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    np.testing.assert_array_equal(whole.predict_proba(Xt), resumed.predict_proba(Xt))


def test_training_state_is_readable_with_weights_only_loading(tmp_path):
    Xs, ys, Xt, _ = make_domain_moons(random_state=0)
    cp = DANNCheckpoint(dirname=str(tmp_path))
    DANNClassifier(max_epochs=2, random_state=0, callbacks=[cp]).fit(Xs, ys, Xt)
    state = torch.load(tmp_path / "training_state.pt", weights_only=True)
    assert state["progress"]["steps"] == 6 and state["streams"] is not None
