"""Executing the analysis notebooks in place (Quarto never executes embedded notebooks)."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import AsyncKernelManager
from traitlets import CaselessStrEnum, default

from livingreview.project.paths import Project, files_digest
from livingreview.project.transaction import Transaction

if TYPE_CHECKING:
    import nbformat
    from jupyter_client.asynchronous import AsyncKernelClient
    from nbclient import NotebookClient

    from livingreview.checks.validate import Report

# nbformat and nbclient (0.1 s, mostly jsonschema) are imported once the kernels are launching:
# a build starts them first, while this process still has a core to spare.

KERNEL = "python3"
TIMEOUT_S = 600


class IPCKernelManager(AsyncKernelManager):
    """A local kernel reached over IPC sockets: no TCP ports, no "running over TCP without encryption".

    The socket files get an absolute path in the temporary directory: the kernel runs in
    ``analysis/``, so a relative path would name different files for the kernel and for us.
    """

    transport = CaselessStrEnum(["tcp", "ipc"], default_value="ipc")

    @default("ip")
    def _ip_default(self) -> str:
        return os.path.join(tempfile.gettempdir(), f"livingreview-kernel-{uuid.uuid4().hex}-ipc")

    @default("kernel_spec_manager")
    def _kernel_spec_manager_default(self) -> KernelSpecManager:
        """No kernel directories to search: ``python3`` is then ipykernel's own spec, the interpreter
        that runs this build (``sys.executable``), whose environment has this package. Searching
        them would import IPython in this process (0.3 s) and could find another environment's
        ``python3`` kernel."""
        return KernelSpecManager(kernel_dirs=[])


def _client(nb: nbformat.NotebookNode, cwd: Path, kernel: Kernel | None = None) -> NotebookClient:
    from nbclient import NotebookClient

    client = NotebookClient(
        nb,
        timeout=TIMEOUT_S,
        kernel_name=KERNEL,
        kernel_manager_class=IPCKernelManager,
        resources={"metadata": {"path": str(cwd)}},
        shutdown_kernel="immediate",  # outputs are complete; a graceful shutdown only adds seconds
        km=kernel.km if kernel else None,
    )
    if kernel is not None:
        # NotebookClient.__init__ sets kc to None, and a client without one connects a new kernel
        # client (five channel threads and sockets, never stopped) and waits for it to be ready.
        client.kc = kernel.kc
    return client


def run_notebook(path: Path, cwd: Path) -> nbformat.NotebookNode:
    """Execute every cell of ``path`` in a fresh kernel with working directory ``cwd``."""
    import nbformat

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
    return _digest([(cell.cell_type, cell.source) for cell in nb.cells], patterns, root)


def _digest(cells: list[tuple[str, str]], patterns: list[str] | None, root: Path) -> str | None:
    if not patterns:
        return None
    digest = hashlib.sha256()
    for cell_type, source in cells:
        digest.update(cell_type.encode() + b"\0" + source.encode() + b"\0")
    digest.update(files_digest(root, patterns).encode())
    return digest.hexdigest()


def is_current(nb: nbformat.NotebookNode, root: Path) -> bool:
    """Whether the stored outputs were made from the notebook's current declared inputs."""
    digest = inputs_digest(nb, root)
    return digest is not None and nb.metadata.get("livingreview", {}).get("inputs_digest") == digest


def _stale(path: Path, root: Path) -> bool:
    """``not is_current`` read from the file's JSON (no nbformat; multi-line sources are lists)."""
    raw = json.loads(path.read_text(encoding="utf-8"))
    own = raw.get("metadata", {}).get("livingreview", {})
    cells = [
        (cell["cell_type"], "".join(src) if isinstance(src := cell["source"], list) else src)
        for cell in raw.get("cells", [])
    ]
    digest = _digest(cells, own.get("inputs"), root)
    return digest is None or own.get("inputs_digest") != digest


# Run between two notebooks in one kernel: a fresh namespace and matplotlib's settings as a new
# kernel has them, so that a notebook's outputs do not depend on the notebook run before it.
RESET = """\
%reset -f
import matplotlib as _mpl
import matplotlib.pyplot as _plt
_plt.close("all")
_mpl.rcParams.update({k: v for k, v in _mpl.rcParamsOrig.items() if k != "backend"})
del _mpl, _plt
"""


class Kernel:
    """One kernel that executes several notebooks in turn (imports are paid once per kernel)."""

    def __init__(self, cwd: Path) -> None:
        self.cwd = cwd
        self.km = IPCKernelManager(kernel_name=KERNEL)
        self.kc = None
        self.used = False

    async def start(self) -> Kernel:
        try:
            await self.km.start_kernel(cwd=str(self.cwd))
            self.kc = self.km.client()
            self.kc.start_channels()
            await _ready(self.kc, self.km, timeout=READY_TIMEOUT_S)
        except BaseException:
            await self.stop()
            raise
        return self

    async def run(self, nb: nbformat.NotebookNode) -> None:
        import nbformat

        if self.used:
            await _client(
                nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(RESET)]), self.cwd, self
            ).async_execute()
        self.used = True
        await _client(nb, self.cwd, self).async_execute()
        _renumber(nb)

    async def stop(self) -> None:
        if self.kc is not None:
            self.kc.stop_channels()
        if self.km.has_kernel:
            await self.km.shutdown_kernel(now=True)  # also removes the connection and socket files


READY_TIMEOUT_S = 120
RESEND_S = 0.5  # a kernel_info unanswered this long is sent again (the kernel may not listen yet)


async def _ready(kc: AsyncKernelClient, km: AsyncKernelManager, timeout: float) -> None:
    """Wait until the kernel answers ``kernel_info`` on its shell channel and its IOPub channel
    has carried the ``idle`` status of that very request (so IOPub is connected and drained).

    jupyter_client's ``wait_for_ready`` does the same, then listens to IOPub until it has been
    silent for 0.2 s; that wait, on every kernel, is on the build's critical path.
    """
    from queue import Empty

    deadline = time.monotonic() + timeout
    while True:
        msg_id = kc.kernel_info()
        replied = idle = False
        resend = time.monotonic() + RESEND_S
        while not (replied and idle) and time.monotonic() < resend:
            left = max(resend - time.monotonic(), 0.0)
            channel = kc.iopub_channel if replied else kc.shell_channel
            try:
                msg = await channel.get_msg(timeout=left)
            except Empty:
                break
            if msg.get("parent_header", {}).get("msg_id") != msg_id:
                continue  # an answer to an earlier request, or another message
            if msg["msg_type"] == "kernel_info_reply":
                kc._handle_kernel_info_reply(msg)  # protocol adaptation, as wait_for_ready does
                replied = True
            elif msg["msg_type"] == "status" and msg["content"].get("execution_state") == "idle":
                idle = True
        if replied and idle:
            return
        if not await km.is_alive():
            raise RuntimeError("the kernel died before it answered kernel_info")
        if time.monotonic() > deadline:
            raise RuntimeError(f"the kernel did not answer in {timeout:.0f} s")


def _renumber(nb: nbformat.NotebookNode) -> None:
    """Execution counts 1, 2, … as a fresh kernel gives them (a reused kernel counts on)."""
    count = 0
    for cell in nb.cells:
        if cell.cell_type != "code" or cell.get("execution_count") is None:
            continue
        count += 1
        cell.execution_count = count
        for output in cell.get("outputs", []):
            if "execution_count" in output:
                output["execution_count"] = count


async def _run_many(
    paths: list[Path],
    notebooks: list[nbformat.NotebookNode],
    root: Path,
    log: Callable[[str], None],
    kernels: list[asyncio.Task],
    stale: list[bool],
) -> list[nbformat.NotebookNode]:
    """Execute the ``stale`` notebooks, each kernel of ``kernels`` taking a fixed share in turn.

    A notebook whose declared inputs are unchanged since its stored outputs were made is kept as
    it is; ``tests`` re-execute it with nbval. The share of each kernel depends only on the
    notebooks' order, so that a build is the same whatever runs faster.
    """
    total = len(paths)
    todo = []
    for i, (path, run) in enumerate(zip(paths, stale, strict=True), start=1):
        if not run:
            log(f"[{i}/{total}] {path.name}: inputs unchanged, stored outputs kept")
        else:
            todo.append(i)

    async def share(k: int) -> None:
        kernel = await kernels[k]
        for i in todo[k :: len(kernels)]:
            path, nb = paths[i - 1], notebooks[i - 1]
            start = time.perf_counter()
            log(f"[{i}/{total}] executing {path.name} …")
            await kernel.run(nb)
            _strip_volatile(nb)
            digest = inputs_digest(nb, root)
            if digest:
                nb.metadata.setdefault("livingreview", {})["inputs_digest"] = digest
            log(f"[{i}/{total}] {path.name} done in {time.perf_counter() - start:.1f} s")

    if todo:
        await asyncio.gather(*(share(k) for k in range(min(len(kernels), len(todo)))))
    return notebooks


def _strip_volatile(nb: nbformat.NotebookNode) -> None:
    """Drop timing metadata so that re-execution produces identical files."""
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
    nb.metadata.get("language_info", {}).pop("version", None)


# The validator and the variables import pandas (0.7 s): they are imported in the worker thread,
# so that the event loop launches the kernels first and they start while this process imports.


def _check(project: Project) -> Report:
    from livingreview.checks.gate import check_project

    return check_project(project)


def _variables(project: Project, then: Callable[[dict], object] | None = None) -> dict:
    from livingreview.book.variables import compute_project_variables

    variables = compute_project_variables(project)
    if then is not None:
        then(variables)
    return variables


def run_all(
    project: Project,
    log: Callable[[str], None] = print,
    force: bool = False,
    validate: bool = True,
    txn: Transaction | None = None,
    with_variables: Callable[[dict], object] | None = None,
) -> list[str]:
    """Validate, then execute every notebook and compute ``_variables.yml``; write them all at once.

    The kernels start while the data are validated. Invalid data: return the problems, with
    nothing executed or written. A failing cell raises, with nothing written.
    ``with_variables`` is called with the variables, in this process, while the kernels run.
    """
    paths = project.notebooks()
    stale = [force or _stale(path, project.root) for path in paths]
    n_kernels = min(sum(stale), os.cpu_count() or 1)

    async def everything() -> tuple[list[str], dict | None, list[nbformat.NotebookNode]]:
        loop = asyncio.get_running_loop()
        kernels = [asyncio.ensure_future(Kernel(project.analysis).start()) for _ in range(n_kernels)]
        try:
            notebooks = await loop.run_in_executor(None, _read, paths)
            if validate:
                report = await loop.run_in_executor(None, _check, project)
                if not report.ok:
                    return [str(p) for p in report.problems], None, []
                log(report.summary())
            # The variables (incl. the metafor validation summary) are computed in this process
            # while the kernels run the notebooks in theirs.
            variables = loop.run_in_executor(None, _variables, project, with_variables)
            executed = await _run_many(paths, notebooks, project.root, log, kernels, stale)
            return [], await variables, executed
        finally:
            # Let every kernel finish starting (cancelling a start would orphan its process and
            # leave its socket files behind), then stop them all.
            started = await asyncio.gather(*kernels, return_exceptions=True)
            await asyncio.gather(
                *(k.stop() for k in started if isinstance(k, Kernel)), return_exceptions=True
            )

    problems, variables, executed = asyncio.run(everything())
    if problems:
        return problems
    write_outputs(project, variables, executed, log, txn)
    return []


def _read(paths: list[Path]) -> list[nbformat.NotebookNode]:
    import nbformat

    return [nbformat.read(path, as_version=4) for path in paths]


def write_outputs(
    project: Project,
    variables: dict,
    executed: list[nbformat.NotebookNode],
    log: Callable[[str], None] = print,
    txn: Transaction | None = None,
) -> None:
    """Write everything ``execute`` produces: ``_variables.yml``, ``results/`` and the executed notebooks.

    They are switched into place together (:mod:`livingreview.project.transaction`): a kill leaves them
    all as they were. With ``txn`` they join that transaction (switched, not yet committed).
    """
    import nbformat

    from livingreview.book.variables import write_variables
    from livingreview.versions.results import RESULTS_DIR, project_results

    own = txn is None
    txn = txn or Transaction(project.root, "execute")
    try:
        staged = txn.stage(project.variables_yml.relative_to(project.root).as_posix())
        if project.variables_yml.is_file():
            shutil.copy2(project.variables_yml, staged)
        changed = write_variables(staged, variables)
        log(f"{project.variables_yml.name}: {'updated' if changed else 'unchanged'}")
        changed = False
        for name, text in project_results(project.root, variables).items():
            current = project.root / RESULTS_DIR / name
            if current.is_file() and current.read_text(encoding="utf-8") == text:
                continue
            txn.write_text(f"{RESULTS_DIR}/{name}", text)
            changed = True
        log(f"{RESULTS_DIR}/ (results data package): {'updated' if changed else 'unchanged'}")
        for path, nb in zip(project.notebooks(), executed, strict=True):
            nbformat.write(nb, txn.stage(path.relative_to(project.root).as_posix()))
        txn.switch()
    except BaseException:
        if own:
            txn.rollback()
        raise
    if own:
        txn.commit()


def execute_project(project: Project, log: Callable[[str], None] = print, force: bool = False) -> list[str]:
    """``livingreview execute``: validate, then execute every notebook; return the problems that
    stopped it (empty when it ran)."""
    return run_all(project, log, force)


def execute_all(project: Project, log: Callable[[str], None] = print, force: bool = False) -> list[Path]:
    """Execute every notebook of ``analysis/`` and write ``_variables.yml`` (no validation)."""
    run_all(project, log, force, validate=False)
    return project.notebooks()
