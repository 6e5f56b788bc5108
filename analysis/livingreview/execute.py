"""Executing the analysis notebooks in place (Quarto never executes embedded notebooks)."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from livingreview.data import load_dataset
from livingreview.paths import Project
from livingreview.policy import policy_variables
from livingreview.release import read_metadata
from livingreview.variables import compute_variables, write_variables
from livingreview.versions import versions_variables

KERNEL = "python3"
TIMEOUT_S = 600


def validation_variables(project: Project) -> dict | None:
    """Agreement with metafor from the committed reference, if the engine's summary is present."""
    reference = project.root / "tests" / "reference" / "metafor_reference.json"
    if not reference.is_file():
        return None
    try:
        from livingreview.meta_validation import summary_variables
    except ImportError:
        return None
    return summary_variables(reference)


def compute_project_variables(project: Project) -> dict:
    """All ``_variables.yml`` values for the data in ``project``."""
    data = load_dataset(project.data)
    meta = read_metadata(project.citation_cff, data.searches)
    out = compute_variables(data, meta, validation_variables(project), data_dir=project.data)
    out["versions"] = versions_variables(project, meta.version)
    out["living"] = policy_variables(project.root, meta.last_searched)
    return out


def update_variables(project: Project) -> bool:
    """Recompute ``_variables.yml`` from the data; return whether it changed."""
    return write_variables(project.variables_yml, compute_project_variables(project))


def _client(nb: nbformat.NotebookNode, cwd: Path) -> NotebookClient:
    return NotebookClient(
        nb, timeout=TIMEOUT_S, kernel_name=KERNEL, resources={"metadata": {"path": str(cwd)}}
    )


def run_notebook(path: Path, cwd: Path) -> nbformat.NotebookNode:
    """Execute every cell of ``path`` with working directory ``cwd``; return the executed copy."""
    nb = nbformat.read(path, as_version=4)
    _client(nb, cwd).execute()
    _strip_volatile(nb)
    return nb


async def _run_many(
    paths: list[Path], cwd: Path, log: Callable[[str], None], workers: int
) -> list[nbformat.NotebookNode]:
    """Execute notebooks concurrently (one kernel each, at most ``workers`` at a time)."""
    gate = asyncio.Semaphore(workers)
    total = len(paths)

    async def one(i: int, path: Path) -> nbformat.NotebookNode:
        async with gate:
            start = time.perf_counter()
            log(f"[{i}/{total}] executing {path.name} …")
            nb = nbformat.read(path, as_version=4)
            await _client(nb, cwd).async_execute()
            _strip_volatile(nb)
            log(f"[{i}/{total}] {path.name} done in {time.perf_counter() - start:.1f} s")
            return nb

    return list(await asyncio.gather(*(one(i, p) for i, p in enumerate(paths, start=1))))


def _strip_volatile(nb: nbformat.NotebookNode) -> None:
    """Drop timing metadata so that re-execution produces identical files."""
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
    nb.metadata.get("language_info", {}).pop("version", None)


def execute_all(project: Project, log: Callable[[str], None] = print) -> list[Path]:
    """Execute every notebook of ``analysis/`` (one kernel per core), then save them all.

    Nothing is written until every notebook has run: a failing cell leaves the stored notebooks
    and ``_variables.yml`` exactly as they were.
    """
    notebooks = project.notebooks()
    workers = max(1, min(len(notebooks), os.cpu_count() or 1))

    async def everything() -> tuple[dict, list[nbformat.NotebookNode]]:
        # The variables (incl. the metafor validation summary) are computed in this process
        # while the kernels run the notebooks in theirs.
        variables = asyncio.get_running_loop().run_in_executor(None, compute_project_variables, project)
        executed = await _run_many(notebooks, project.analysis, log, workers)
        return await variables, executed

    variables, executed = asyncio.run(everything())
    changed = write_variables(project.variables_yml, variables)
    log(f"{project.variables_yml.name}: {'updated' if changed else 'unchanged'}")
    for path, nb in zip(notebooks, executed, strict=True):
        staged = path.with_suffix(".ipynb.tmp")
        nbformat.write(nb, staged)
        staged.replace(path)
    return notebooks
