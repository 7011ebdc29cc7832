"""Every public name is documented (numpydoc) with an example that runs as a doctest."""

import importlib
import inspect

import pytest

MODULES = ["skdann", "skdann.model_selection", "skdann.datasets", "skdann.plot"]
PUBLIC = [(m, name) for m in MODULES for name in importlib.import_module(m).__all__
          if not name.startswith("__")]


@pytest.mark.parametrize("module, name", PUBLIC)
def test_public_name_has_a_numpydoc_docstring_with_an_example(module, name):
    obj = getattr(importlib.import_module(module), name)
    doc = inspect.getdoc(obj) or ""
    assert doc, f"{module}.{name} has no docstring"
    assert "Examples\n--------" in doc and ">>>" in doc, f"{module}.{name} has no example"
    if callable(obj) and not inspect.isclass(obj):
        params = [p for p in inspect.signature(obj).parameters if p not in ("self", "args", "kwargs")]
        if params:
            assert "Parameters\n----------" in doc, f"{module}.{name} documents no parameters"


@pytest.mark.parametrize("module, name", [p for p in PUBLIC if inspect.isclass(
    getattr(importlib.import_module(p[0]), p[1]))])
def test_public_methods_of_public_classes_are_documented(module, name):
    cls = getattr(importlib.import_module(module), name)
    for attr, member in vars(cls).items():
        if attr.startswith("_") or not callable(member):
            continue
        assert inspect.getdoc(member), f"{module}.{name}.{attr} has no docstring"


def test_readme_api_table_lists_every_public_name():
    from pathlib import Path
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    table = readme.split("## API overview", 1)[1].split("\n## ", 1)[0]
    missing = [f"{m}.{n}" for m, n in PUBLIC
               if f"`{m}.{n}`" not in table and not (m == "skdann" and f"`skdann.{n}`" in table)
               and f"`skdann.{n}`" not in table]
    assert not missing, missing
