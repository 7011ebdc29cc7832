"""The package builds a wheel that installs and imports in a fresh environment."""

import os
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_wheel_builds_installs_and_imports(tmp_path):
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "-q",
                            "-w", str(tmp_path / "dist")], capture_output=True, text=True)
    if build.returncode != 0 and "Could not find a version" in build.stderr:
        pytest.skip("no package index reachable to fetch the build backend")
    assert build.returncode == 0, build.stderr[-2000:]
    (wheel,) = (tmp_path / "dist").glob("skdann-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "skdann/py.typed" in names and "skdann/_classifier.py" in names
    assert not any(n.startswith(("tests/", "benchmarks/")) for n in names)
    # A fresh environment; its dependencies (torch, ...) are borrowed from this
    # one through PYTHONPATH, which does not run this environment's editable-
    # install hooks, so only the wheel can provide skdann there.
    env_dir = tmp_path / "env"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-deps", str(wheel)], check=True)
    deps = os.path.dirname(os.path.dirname(torch.__file__))
    out = subprocess.run([str(python), "-c", "import skdann, os; print(skdann.__version__, "
                          "os.path.dirname(skdann.__file__))"], capture_output=True, text=True,
                         cwd=tmp_path, env={**os.environ, "PYTHONPATH": deps})
    assert out.returncode == 0, out.stderr[-2000:]
    out = out.stdout.split()
    assert out[0] == __import__("skdann").__version__
    assert out[1].startswith(str(env_dir))
