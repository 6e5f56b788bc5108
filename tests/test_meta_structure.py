"""The engine is one self-contained algorithm: its imports, its single core and a light command."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "analysis" / "livingreview"
ENGINE = ("models", "core", "fisher", "downdate", "inference", "tau2", "sensitivity")


def _imports(module: str) -> set[str]:
    tree = ast.parse((PACKAGE / "meta" / f"{module}.py").read_text(encoding="utf-8"))
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            out.add(node.module)
        elif isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
    return out


def test_engine_imports_nothing_else_from_the_package() -> None:
    for module in ENGINE:
        ours = {m for m in _imports(module) if m.startswith("livingreview")}
        assert ours <= {f"livingreview.meta.{m}" for m in ENGINE}, (module, ours)


def test_one_fisher_loop() -> None:
    """Fisher scoring, step halving and the tau² = 0 check live in meta.fisher alone (the check's
    log-determinant is also downdated for leave-one-out fits in meta.downdate, which fisher calls)."""
    for module in ENGINE:
        text = (PACKAGE / "meta" / f"{module}.py").read_text(encoding="utf-8")
        count = text.count("adj / 2") + text.count("adj /= 2") + text.count("0.5 * neg")
        assert count == (1 if module == "fisher" else 0), module
        assert ("log1p" in text) == (module in ("fisher", "downdate")), module


def test_meta_command_imports_only_what_it_uses(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    path.write_text("yi,vi\n0.1,0.02\n0.3,0.01\n0.5,0.04\n", encoding="utf-8")
    probe = (
        "import sys, io, contextlib\n"
        "from livingreview.meta import cli as meta_cli\n"
        f"with contextlib.redirect_stdout(io.StringIO()): meta_cli.main(['meta', {str(path)!r}, '--json'])\n"
        "print(sorted(m for m in ('pandas', 'scipy.stats', 'matplotlib', 'statsmodels') if m in sys.modules))"
    )
    env_path = str(PACKAGE.parent)
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True,
                          env={"PYTHONPATH": env_path, "PATH": ""})  # fmt: skip
    assert json.loads(proc.stdout.strip().replace("'", '"')) == []


def test_fast_result_has_every_field() -> None:
    """MetaResult._of (the single-fit path) sets exactly the dataclass's fields."""
    import dataclasses

    from livingreview.meta import MetaResult, rma

    fit = rma([0.1, 0.3, 0.5, 0.2], [0.01, 0.02, 0.03, 0.01], test="knha")
    assert set(vars(fit)) == {f.name for f in dataclasses.fields(MetaResult)}
    assert dataclasses.replace(fit) == fit
