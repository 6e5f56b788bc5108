"""``livingreview build``: validate → execute → render (Quarto, or a pandoc preview)."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable

from livingreview.execute import run_all
from livingreview.paths import Project
from livingreview.preview import build_preview
from livingreview.transaction import Transaction

RENDER_HINT = 'pip install -e ".[render]"'


class BuildError(RuntimeError):
    """The build stopped; the message says where and why."""


def quarto_path() -> str | None:
    return shutil.which("quarto")


def build(
    project: Project, log: Callable[[str], None] = print, use_quarto: bool = True, force: bool = False
) -> str:
    """Run the whole pipeline; return the path of what was produced."""
    # One transaction: notebooks, _variables.yml and the rendered output change together or not at all.
    with Transaction(project.root, "build") as txn:
        problems = run_all(project, log, force=force, txn=txn)  # validates while the kernels start
        if problems:
            raise BuildError(
                "\n".join(problems) + "\nbuild stopped: data invalid; nothing was executed or written"
            )
        quarto = quarto_path() if use_quarto else None
        if quarto:
            log("rendering the book with Quarto …")
            txn.claim("_book")
            done = subprocess.run([quarto, "render"], cwd=project.root)
            if done.returncode != 0:
                raise BuildError(f"quarto render failed (exit {done.returncode})")
            return str(project.root / "_book")
        log(f"quarto not found: writing a pandoc preview instead (for the full book: {RENDER_HINT})")
        txn.claim(project.preview_dir.relative_to(project.root).as_posix())
        path = build_preview(project)
        log(f"preview written: {path.relative_to(project.root)}")
        return str(path)
