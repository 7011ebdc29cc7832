"""The README's promises: its quickstart runs, its commands exist, CI runs its test command."""

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def test_quickstart_runs_and_dann_beats_source_only(capsys):
    block = re.search(r"## Quickstart\n\n```python\n(.*?)```", README, re.S).group(1)
    namespace = {}
    exec(compile(block, "README quickstart", "exec"), namespace)
    dann, base = capsys.readouterr().out.split()
    assert 0.5 < float(base) < float(dann)


def test_ci_reads_the_test_command_from_the_readme():
    marker = README.index("<!-- test-command -->")
    command = README[marker:].split("```bash\n", 1)[1].split("\n```", 1)[0]
    script = (ROOT / ".ci" / "run").read_text()
    extracted = subprocess.run(
        ["awk", "/<!-- test-command -->/{grab=1; next} grab && /^```/{n++; if (n==2) exit; next} "
                "grab && n==1", str(ROOT / "README.md")], capture_output=True, text=True).stdout
    assert extracted.strip() == command.strip()
    assert "awk" in script and 'bash -euo pipefail -c "$cmd"' in script
    assert "pip install torch==2.13.0" in command and "pytest" in command


def test_demo_command_is_the_package_entry_point():
    assert "python -m skdann demo" in README


def test_lambda_search_recipe_runs_as_written(capsys):
    start = README.index("## Choosing λ without target labels")
    block = README[start:].split("```python\n", 1)[1].split("```", 1)[0]
    exec(compile(block, "README recipe", "exec"), {})
    out = capsys.readouterr().out
    assert "dannclassifier__lambda_max" in out
    assert 0.5 < float(out.split()[-1]) <= 1.0


@pytest.mark.slow  # three default-length fits
def test_seed_ensemble_recipe_runs_as_written(capsys):
    start = README.index("## Seed ensembles")
    block = README[start:].split("```python\n", 1)[1].split("```", 1)[0]
    exec(compile(block, "README ensemble recipe", "exec"), {})
    *members, ensemble = capsys.readouterr().out.replace("[", " ").replace("]", " ").replace(",", " ").split()
    assert len(members) == 3 and 0.5 < float(ensemble) <= 1.0
