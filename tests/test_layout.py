"""The package's layout is its pipeline: layers import downwards, no cycles, no unused module,
notebooks use the subpackages' public faces."""

from __future__ import annotations

import ast
import importlib
import inspect
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "analysis" / "livingreview"
STAGES = ("cli", "releases", "book", "versions", "checks", "reporting", "synthesis", "data", "search",
          "meta", "project", "text")  # fmt: skip
ENTRY_POINTS = {"livingreview.cli", "livingreview.__main__", "livingreview.meta.cli"}


def lint_imports(config: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(PACKAGE.parent)}
    return subprocess.run(
        [sys.executable, "-c", "import sys; from importlinter.cli import lint_imports_command as c; c()",
         "--config", str(config), "--no-cache"],
        capture_output=True, text=True, cwd=ROOT, env=env,
    )  # fmt: skip


def test_import_contracts_are_kept() -> None:
    """import-linter: the layers contract and no cycle between siblings (see .importlinter)."""
    proc = lint_imports(ROOT / ".importlinter")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert "2 kept, 0 broken" in proc.stdout


def test_a_new_upward_import_or_cycle_breaks_the_contracts(tmp_path: Path) -> None:
    """The contracts can fail: a copy of the package with an upward import (data → book) and a
    cycle (reporting.scale ↔ reporting.palette) breaks both."""
    import shutil

    copy = tmp_path / "analysis"
    shutil.copytree(PACKAGE, copy / "livingreview", ignore=shutil.ignore_patterns("__pycache__"))
    with (copy / "livingreview" / "data" / "cells.py").open("a", encoding="utf-8") as f:
        f.write("\n\ndef _upward() -> None:\n    from livingreview.book import variables  # noqa: F401\n")
    for a, b in (("scale", "palette"), ("palette", "scale")):
        with (copy / "livingreview" / "reporting" / f"{a}.py").open("a", encoding="utf-8") as f:
            f.write(f"\n\ndef _cycle() -> None:\n    from livingreview.reporting import {b}  # noqa: F401\n")
    config = tmp_path / ".importlinter"
    config.write_text((ROOT / ".importlinter").read_text(encoding="utf-8"), encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(copy)}
    proc = subprocess.run(
        [sys.executable, "-c", "from importlinter.cli import lint_imports_command as c; c()",
         "--config", str(config), "--no-cache"],
        capture_output=True, text=True, cwd=tmp_path, env=env,
    )  # fmt: skip
    assert proc.returncode != 0
    assert "0 kept, 2 broken" in proc.stdout, proc.stdout[-2000:]


def test_every_module_sits_in_a_stage() -> None:
    top = {
        p.stem if p.is_file() else p.name
        for p in PACKAGE.iterdir()
        if p.suffix == ".py" or (p / "__init__.py").is_file()
    }
    assert top - {"__init__", "__main__"} == set(STAGES)  # fmt: skip
    for stage in STAGES:
        if (PACKAGE / stage).is_dir():
            init = (PACKAGE / stage / "__init__.py").read_text(encoding="utf-8")
            doc = ast.get_docstring(ast.parse(init)) or ""
            for module in (PACKAGE / stage).glob("*.py"):
                if module.stem != "__init__":
                    assert f"``{module.stem}``" in doc, f"{stage}/__init__.py does not describe {module.stem}"


def notebook_imports() -> Iterator[tuple[str, str, str]]:
    """(notebook, module, name) for every ``from livingreview… import name`` in a notebook's code."""
    for nb_path in sorted((ROOT / "analysis").glob("*.ipynb")):
        nb = json.loads(nb_path.read_text(encoding="utf-8"))
        for cell in nb["cells"]:
            if cell["cell_type"] != "code":
                continue
            lines = ["".join(cell["source"])]
            code = "\n".join(ln for ln in lines[0].splitlines() if not ln.lstrip().startswith(("%", "!")))
            for node in ast.walk(ast.parse(code)):
                if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("livingreview"):
                    for alias in node.names:
                        yield nb_path.name, node.module, alias.name


def test_every_module_has_a_docstring_and_is_used() -> None:
    """No dead module: each is imported by another module of the package or by a notebook, or is
    an entry point."""
    graph = grimp.build_graph("livingreview", cache_dir=None)
    used_by_notebooks = set()
    for _, module, name in notebook_imports():
        obj = getattr(importlib.import_module(module), name)
        used_by_notebooks.add(obj.__name__ if inspect.ismodule(obj) else obj.__module__)
    for module in sorted(graph.modules):
        path = PACKAGE.parent.joinpath(*module.split("."))
        source = path / "__init__.py" if path.is_dir() else path.with_suffix(".py")
        assert ast.get_docstring(ast.parse(source.read_text(encoding="utf-8"))), module
        if module == "livingreview" or module.count(".") == 1 and source.name == "__init__.py":
            continue
        importers = graph.find_modules_that_directly_import(module) - {module}
        assert importers or module in ENTRY_POINTS | used_by_notebooks, f"{module} is used by nothing"


def test_notebooks_import_only_public_faces() -> None:
    """Notebooks import from ``livingreview.<stage>`` (what its ``__init__`` exports), never a module path."""
    seen = 0
    for notebook, module, name in notebook_imports():
        parts = module.split(".")
        assert len(parts) == 2 and parts[1] in STAGES, (notebook, module)
        assert name in importlib.import_module(module).__all__, (notebook, module, name)
        seen += 1
    assert seen >= 7
