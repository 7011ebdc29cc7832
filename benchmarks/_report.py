"""Write a benchmark's markdown table to benchmarks/results/ and into README.md.

The README holds each table between ``<!-- NAME:start -->`` and
``<!-- NAME:end -->`` markers, so every number there comes from a script.
"""

from __future__ import annotations

import platform
import re
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]


def machine() -> str:
    """One line describing where the numbers were measured."""
    import os
    return (f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
            f"torch {torch.__version__}")


def publish(name: str, markdown: str, readme: bool = True) -> None:
    """Save ``markdown`` as results/NAME.md and, if marked, in the README."""
    markdown = markdown.strip() + "\n"
    out = ROOT / "benchmarks" / "results" / f"{name}.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(markdown)
    print(markdown)
    if not readme:
        return
    path = ROOT / "README.md"
    text = path.read_text()
    pattern = re.compile(rf"(<!-- {name}:start -->\n).*?(<!-- {name}:end -->)", re.S)
    if not pattern.search(text):
        print(f"(README.md has no <!-- {name}:start/end --> markers; table saved to {out})")
        return
    path.write_text(pattern.sub(lambda m: m.group(1) + markdown + m.group(2), text))
    print(f"(written to {out} and README.md)")


def republish(names: list[str]) -> None:
    """Copy saved tables (``results/NAME.md``, written by their script) into the README.

    For runs too long to repeat when only the README changes: the table is the
    script's output as saved, its first line naming the command that made it.
    """
    for name in names:
        saved = ROOT / "benchmarks" / "results" / f"{name}.md"
        if not saved.exists():
            raise SystemExit(f"{saved} does not exist: run the benchmark that writes it first")
        publish(name, saved.read_text())


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(
        description="Copy saved benchmark tables (results/NAME.md) into README.md's markers.")
    parser.add_argument("names", nargs="+", help="table names, e.g. ablation_levers auto_lambda")
    republish(parser.parse_args().names)
