"""The scripts in examples/ run in smoke mode (few rows, few epochs) and report sane results."""

import runpy
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def _main(name):
    """The ``main`` function of ``examples/<name>.py`` (its ``__main__`` block not run)."""
    return runpy.run_path(str(EXAMPLES / f"{name}.py"), run_name=f"example_{name}")["main"]


def _accuracies_ok(results):
    return all(0.0 <= v <= 1.0 for k, v in results.items() if "accuracy" in k or k in
               ("dann", "source_only"))


def test_every_example_is_tested():
    tested = {"tabular_pipeline", "pandas_categorical", "images_custom_extractor", "save_and_load"}
    assert {p.stem for p in EXAMPLES.glob("*.py")} == tested


def test_tabular_pipeline(tmp_path, capsys):
    pytest.importorskip("matplotlib").use("Agg")
    example = runpy.run_path(str(EXAMPLES / "tabular_pipeline.py"), run_name="example")
    results = example["main"](["--smoke", "--plot", str(tmp_path)])
    assert _accuracies_ok(results)
    # The refitted search model is the model a direct fit with the chosen λ
    # gives (same random_state, same stacked rows): the search reproduces.
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from skdann import DANNClassifier

    Xs, ys, Xt, yt = example["make_data"](60)
    direct = make_pipeline(StandardScaler(), DANNClassifier(
        max_epochs=2, batch_size=32, random_state=0, n_threads=1,
        lambda_max=results["best_lambda_max"])).fit(np.vstack([Xs, Xt]), np.r_[ys, np.full(60, -1)])
    assert results["target_accuracy"] == np.mean(direct.predict(Xt) == yt)
    assert {p.name for p in tmp_path.iterdir()} == {"tabular_history.png", "tabular_domains.png"}
    assert "GridSearchCV" in capsys.readouterr().out


def test_pandas_categorical(capsys):
    results = _main("pandas_categorical")(["--smoke"])
    assert set(results) == {"source_only", "dann"}
    assert _accuracies_ok(results)
    assert "ColumnTransformer makes" in capsys.readouterr().out


def test_images_custom_extractor(capsys):
    pytest.importorskip("mlxtend")
    pytest.importorskip("PIL")
    results = _main("images_custom_extractor")(["--smoke"])
    assert set(results) == {"source_only", "dann"}
    assert _accuracies_ok(results)
    assert "extractor: SmallCNN" in capsys.readouterr().out


def test_save_and_load(capsys):
    checks = _main("save_and_load")(["--smoke"])
    assert checks and all(checks.values())
    assert "FAILED" not in capsys.readouterr().out


def test_example_runs_as_a_script():
    out = subprocess.run([sys.executable, str(EXAMPLES / "save_and_load.py"), "--smoke"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "load_params" in out.stdout
