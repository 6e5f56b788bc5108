"""Executing the analysis notebooks in place (Quarto never executes embedded notebooks)."""

from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from livingreview.data import load_dataset
from livingreview.paths import Project
from livingreview.policy import policy_variables
from livingreview.release import read_metadata
from livingreview.transaction import Transaction
from livingreview.variables import compute_variables, write_variables
from livingreview.versions import versions_variables

KERNEL = "python3"
TIMEOUT_S = 600


def validation_variables(project: Project) -> dict | None:
    """Agreement with metafor from the committed reference (None where it is absent)."""
    from livingreview.meta_validation import summary_variables

    reference = project.root / "tests" / "reference" / "metafor_reference.json"
    return summary_variables(reference) if reference.is_file() else None


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
        nb,
        timeout=TIMEOUT_S,
        kernel_name=KERNEL,
        resources={"metadata": {"path": str(cwd)}},
        shutdown_kernel="immediate",  # outputs are complete; a graceful shutdown only adds seconds
    )


def run_notebook(path: Path, cwd: Path) -> nbformat.NotebookNode:
    """Execute every cell of ``path`` with working directory ``cwd``; return the executed copy."""
    nb = nbformat.read(path, as_version=4)
    _client(nb, cwd).execute()
    _strip_volatile(nb)
    return nb


def inputs_digest(nb: nbformat.NotebookNode, root: Path) -> str | None:
    """Digest of a notebook's cell sources and the files it declares as its only inputs.

    A notebook opts in with ``metadata.livingreview.inputs`` (glob patterns relative to the
    project root); notebooks that read ``data/`` do not declare inputs and always run.
    """
    patterns = nb.metadata.get("livingreview", {}).get("inputs")
    if not patterns:
        return None
    digest = hashlib.sha256()
    for cell in nb.cells:
        digest.update(cell.cell_type.encode() + b"\0" + cell.source.encode() + b"\0")
    files = sorted({f for pattern in patterns for f in root.glob(pattern) if f.is_file()})
    for path in files:
        digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


async def _run_many(
    paths: list[Path], root: Path, log: Callable[[str], None], workers: int, force: bool = False
) -> list[nbformat.NotebookNode]:
    """Execute notebooks concurrently (one kernel each, at most ``workers`` at a time).

    A notebook whose declared inputs are unchanged since its stored outputs were made is kept
    as it is (unless ``force``).
    """
    gate = asyncio.Semaphore(workers)
    total = len(paths)
    cwd = root / "analysis"

    async def one(i: int, path: Path) -> nbformat.NotebookNode:
        nb = nbformat.read(path, as_version=4)
        digest = inputs_digest(nb, root)
        meta = nb.metadata.setdefault("livingreview", {}) if digest else {}
        if digest and not force and meta.get("inputs_digest") == digest:
            log(f"[{i}/{total}] {path.name}: inputs unchanged, stored outputs kept")
            return nb
        async with gate:
            start = time.perf_counter()
            log(f"[{i}/{total}] executing {path.name} …")
            await _client(nb, cwd).async_execute()
            _strip_volatile(nb)
            if digest:
                meta["inputs_digest"] = digest
            log(f"[{i}/{total}] {path.name} done in {time.perf_counter() - start:.1f} s")
            return nb

    return list(await asyncio.gather(*(one(i, p) for i, p in enumerate(paths, start=1))))


def _strip_volatile(nb: nbformat.NotebookNode) -> None:
    """Drop timing metadata so that re-execution produces identical files."""
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
    nb.metadata.get("language_info", {}).pop("version", None)


def execute_all(
    project: Project, log: Callable[[str], None] = print, force: bool = False, txn: Transaction | None = None
) -> list[Path]:
    """Execute every notebook of ``analysis/`` (one kernel per core), then save them all.

    Nothing is written until every notebook has run, and then all of them and ``_variables.yml``
    are switched into place together (:mod:`livingreview.transaction`): a failing cell or a kill
    leaves them exactly as they were. With ``txn`` the outputs join that transaction (switched,
    not yet committed).
    """
    notebooks = project.notebooks()
    workers = max(1, min(len(notebooks), os.cpu_count() or 1))

    async def everything() -> tuple[dict, list[nbformat.NotebookNode]]:
        # The variables (incl. the metafor validation summary) are computed in this process
        # while the kernels run the notebooks in theirs.
        variables = asyncio.get_running_loop().run_in_executor(None, compute_project_variables, project)
        executed = await _run_many(notebooks, project.root, log, workers, force)
        return await variables, executed

    variables, executed = asyncio.run(everything())
    own = txn is None
    txn = txn or Transaction(project.root, "execute")
    try:
        staged = txn.stage(project.variables_yml.relative_to(project.root).as_posix())
        if project.variables_yml.is_file():
            shutil.copy2(project.variables_yml, staged)
        changed = write_variables(staged, variables)
        log(f"{project.variables_yml.name}: {'updated' if changed else 'unchanged'}")
        for path, nb in zip(notebooks, executed, strict=True):
            nbformat.write(nb, txn.stage(path.relative_to(project.root).as_posix()))
        txn.switch()
    except BaseException:
        if own:
            txn.rollback()
        raise
    if own:
        txn.commit()
    return notebooks
