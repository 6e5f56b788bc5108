"""The author's workflow end to end: validate → execute → preview, and what a bad row does."""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from conftest import ROOT
from livingreview.reporting.tables import study_label
from scratch import add_study, livingreview


def tracked(root: Path) -> list[Path]:
    """What execute writes: ``_variables.yml`` and every notebook."""
    return [root / "_variables.yml", *sorted((root / "analysis").glob("*.ipynb"))]


def digests(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest() for p in tracked(root)}


def test_invalid_data_stops_the_build_and_writes_nothing(project_copy: Path) -> None:
    before = digests(project_copy)
    path = project_copy / "data" / "effects.csv"
    text = path.read_text(encoding="utf-8").splitlines()
    text[1] = text[1].replace(",symptoms,", ",mood,", 1).replace(",adherence,", ",mood,", 1)
    path.write_text("\n".join(text) + "\n", encoding="utf-8")
    done = livingreview(project_copy, "build")
    assert done.returncode == 1
    assert "effects.csv:2:outcome_domain:" in done.stderr
    assert "nothing was executed or written" in done.stderr
    assert "Traceback" not in done.stderr
    assert digests(project_copy) == before
    assert not (project_copy / "_preview").exists()


def test_build_is_deterministic_and_adding_a_study_updates_the_review(project_copy: Path) -> None:
    before = digests(project_copy)
    done = livingreview(project_copy, "build")
    assert done.returncode == 0, done.stdout + done.stderr
    n = len(list((project_copy / "analysis").glob("*.ipynb")))
    assert f"[{n}/{n}]" in done.stdout and "preview written" in done.stdout
    assert "04-validation.ipynb: inputs unchanged, stored outputs kept" in done.stdout
    assert "without encryption" not in done.stdout + done.stderr, "a kernel transport warning"
    assert done.stdout.rstrip().splitlines()[-1].startswith("build finished in ")
    assert digests(project_copy) == before, "re-executing the committed notebooks changed them"
    n_before = yaml.safe_load((project_copy / "_variables.yml").read_text())["studies"]["n_total"]

    sid = add_study(project_copy)
    done = livingreview(project_copy, "build")
    assert done.returncode == 0, done.stdout + done.stderr
    variables = yaml.safe_load((project_copy / "_variables.yml").read_text())
    assert variables["studies"]["n_total"] == n_before + 1
    html = "".join(p.read_text(encoding="utf-8") for p in (project_copy / "_preview").glob("*.html"))
    assert study_label(sid) in html  # "Newauthor 2026"; "Newauthor 2026 (b)" if a release holds the first

    # The rebuild reused the first build's pandoc conversions of the unchanged chapters: a render
    # without the cache writes the same book.
    from livingreview.book.render import CACHE_DIR, build_preview
    from livingreview.project.paths import Project

    preview = project_copy / "_preview"
    cached = {p.name: p.read_bytes() for p in sorted(preview.glob("*.html")) + [preview / "book.typ"]}
    assert len(list((project_copy / CACHE_DIR).iterdir())) > len(cached)
    shutil.rmtree(project_copy / CACHE_DIR)
    build_preview(Project(project_copy))
    assert {name: (preview / name).read_bytes() for name in cached} == cached


def test_inputs_digest_follows_declared_inputs_and_cell_sources(project_copy: Path) -> None:
    import nbformat
    from livingreview.book.execute import inputs_digest

    path = project_copy / "analysis" / "04-validation.ipynb"
    nb = nbformat.read(path, as_version=4)
    first = inputs_digest(nb, project_copy)
    assert first is not None and first == nb.metadata["livingreview"]["inputs_digest"]
    reference = project_copy / "tests" / "reference" / "metafor_reference.json"
    reference.write_text(reference.read_text(encoding="utf-8") + "\n", encoding="utf-8")
    assert inputs_digest(nb, project_copy) != first
    nb.cells[-1].source += "\n"
    assert inputs_digest(nb, project_copy) not in {first, None}
    undeclared = nbformat.read(project_copy / "analysis" / "01-studies.ipynb", as_version=4)
    assert inputs_digest(undeclared, project_copy) is None


def test_a_skipped_notebook_is_one_that_nbval_checks_against_its_current_inputs(root: Path) -> None:
    """``execute`` keeps a notebook whose declared inputs are unchanged; that is safe only because
    its stored digest is that of the current inputs and the README's test command re-executes it
    (nbval) and compares every output with a fresh computation."""
    import nbformat
    from livingreview.book.execute import inputs_digest, is_current

    declared = [
        p for p in sorted((root / "analysis").glob("*.ipynb")) if inputs_digest(nbformat.read(p, 4), root)
    ]
    assert declared, "no notebook declares its inputs: nothing is ever skipped"
    for path in declared:
        assert is_current(nbformat.read(path, 4), root), f"{path.name}: stored outputs are from older inputs"
    readme = (root / "README.md").read_text(encoding="utf-8")
    assert "\npython -m pytest --nbval analysis tests\n" in readme


def test_kernels_started_during_validation_are_stopped_and_leave_no_socket_files(project_copy: Path) -> None:
    import tempfile

    from livingreview.book.execute import run_all
    from livingreview.project.paths import Project

    path = project_copy / "data" / "effects.csv"
    path.write_text(path.read_text(encoding="utf-8").replace(",symptoms,", ",mood,", 1), encoding="utf-8")
    before = set(Path(tempfile.gettempdir()).glob("livingreview-kernel-*"))
    started: list = []
    import livingreview.book.execute as execute

    original = execute.Kernel.start

    async def spy(self):  # noqa: ANN001, ANN202 - records the kernels this run starts
        started.append(self)
        return await original(self)

    execute.Kernel.start = spy
    try:
        problems = run_all(Project(project_copy), log=lambda _: None, force=True)
    finally:
        execute.Kernel.start = original
    assert problems and any("effects.csv" in p for p in problems)
    assert started, "no kernel was started while validating"
    left = set(Path(tempfile.gettempdir()).glob("livingreview-kernel-*")) - before
    assert not [f for f in left if any(f.name.startswith(Path(k.km.ip).name) for k in started)]
    assert not any(k.km.has_kernel and k.km.provisioner and k.km.provisioner.has_process for k in started)


def test_a_kernel_runs_several_notebooks_through_its_own_client(tmp_path: Path) -> None:
    """Each notebook reuses the kernel's client: no new client (channel threads, sockets, a
    readiness wait) per notebook, nothing left running after stop, outputs as a fresh kernel's."""
    import asyncio
    import threading

    import nbformat
    from livingreview.book.execute import Kernel

    def channel_threads() -> int:
        return sum(type(t).__module__.startswith("jupyter_client") for t in threading.enumerate())

    async def go() -> tuple[list[int], list[nbformat.NotebookNode]]:
        kernel = await Kernel(tmp_path).start()
        counts = [channel_threads()]
        notebooks = [
            nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(f"x = {i}\nx")]) for i in (1, 2)
        ]
        try:
            for nb in notebooks:
                await kernel.run(nb)
                counts.append(channel_threads())
        finally:
            await kernel.stop()
        counts.append(channel_threads())
        return counts, notebooks

    before = channel_threads()
    counts, notebooks = asyncio.run(go())
    assert counts[0] == counts[1] == counts[2] == before + 1  # the one heartbeat of the kernel's client
    assert counts[3] == before
    assert [nb.cells[0].outputs[0]["data"]["text/plain"] for nb in notebooks] == ["1", "2"]
    assert [nb.cells[0].execution_count for nb in notebooks] == [1, 1]


def test_kernels_run_the_interpreter_of_the_build(tmp_path: Path) -> None:
    """``python3`` is ipykernel's own spec for this interpreter, found without searching kernel
    directories (that search imports IPython in the build's process and could pick up a
    ``python3`` kernel of another environment)."""
    import subprocess
    import sys

    probe = (
        "import sys\n"
        "from livingreview.book.execute import IPCKernelManager\n"
        "spec = IPCKernelManager(kernel_name='python3').kernel_spec\n"
        "print(spec.argv[0] == sys.executable, spec.argv[1:3], 'IPython' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["True", "['-m',", "'ipykernel_launcher']", "False"]


def test_kernels_launch_before_notebooks_are_read(tmp_path: Path) -> None:
    """Which notebooks run is decided from their JSON, without nbformat (0.1 s of jsonschema), so
    that ``build`` launches its kernels first; the decision is the one ``is_current`` makes."""
    import subprocess
    import sys

    import nbformat
    from livingreview.book.execute import _stale, is_current

    probe = (
        "import sys\n"
        "from pathlib import Path\n"
        "from livingreview.book.build import build\n"
        "from livingreview.book.execute import _stale\n"
        f"root = Path({str(ROOT)!r})\n"
        "[_stale(p, root) for p in sorted((root / 'analysis').glob('*.ipynb'))]\n"
        "heavy = ('nbformat', 'nbclient', 'pandas', 'livingreview.book.render')\n"
        "print(sorted(m for m in heavy if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
    copy = tmp_path / "review"
    shutil.copytree(ROOT / "analysis", copy / "analysis", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "tests" / "reference", copy / "tests" / "reference")
    shutil.copytree(ROOT / "data", copy / "data")
    notebooks = sorted((copy / "analysis").glob("*.ipynb"))
    fresh = [not is_current(nbformat.read(p, as_version=4), copy) for p in notebooks]
    assert [_stale(p, copy) for p in notebooks] == fresh
    assert not all(fresh)  # the notebooks that declare their inputs are current
    engine = copy / "analysis" / "livingreview" / "meta" / "core.py"  # an input of every declaring notebook
    engine.write_text(engine.read_text(encoding="utf-8") + "\n", encoding="utf-8")
    assert all(_stale(p, copy) for p in notebooks)


def test_the_book_variables_load_no_drawing_library() -> None:
    """The build computes ``_variables.yml`` in its own process while the kernels draw: it needs
    the numbers, not great_tables or matplotlib (0.2 s of import each, on a core the kernels use)."""
    import subprocess
    import sys

    probe = (
        "import sys\n"
        "from pathlib import Path\n"
        "from livingreview.book.variables import compute_project_variables\n"
        "from livingreview.project.paths import Project\n"
        f"compute_project_variables(Project(Path({str(ROOT)!r})))\n"
        "print(sorted(m for m in ('great_tables', 'matplotlib') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


class _Channel:
    """A channel that hands out queued messages; empty: waits out the timeout, then raises Empty."""

    def __init__(self) -> None:
        self.queue: list[dict] = []

    async def get_msg(self, timeout: float) -> dict:
        import asyncio
        from queue import Empty

        if not self.queue:
            await asyncio.sleep(min(timeout, 0.01))
            raise Empty
        return self.queue.pop(0)


class _FakeKernel:
    """Answers each kernel_info as ``answer(n, msg_id)`` says (n counts the requests from 1)."""

    def __init__(self, answer: Callable[..., None], alive: bool = True) -> None:
        self.shell_channel, self.iopub_channel = _Channel(), _Channel()
        self.answer, self.alive, self.sent, self.adapted = answer, alive, 0, []

    def kernel_info(self) -> str:
        self.sent += 1
        msg_id = f"req{self.sent}"
        self.answer(self, self.sent, msg_id)
        return msg_id

    def reply(self, msg_id: str) -> None:
        parent = {"msg_id": msg_id}
        self.shell_channel.queue.append({"msg_type": "kernel_info_reply", "parent_header": parent})

    def status(self, msg_id: str, state: str) -> None:
        msg = {
            "msg_type": "status",
            "parent_header": {"msg_id": msg_id},
            "content": {"execution_state": state},
        }
        self.iopub_channel.queue.append(msg)

    def _handle_kernel_info_reply(self, msg: dict) -> None:
        self.adapted.append(msg["parent_header"]["msg_id"])

    async def is_alive(self) -> bool:
        return self.alive


def test_a_kernel_is_ready_once_it_answers_on_shell_and_iopub_without_a_silent_wait(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The build's own readiness check: the kernel_info reply and that request's idle status.
    Earlier answers are skipped, an unanswered request is sent again (IOPub may not be connected
    yet), and a kernel that dies or never answers is an error, not a hang."""
    import asyncio
    import time

    from livingreview.book import execute

    monkeypatch.setattr(execute, "RESEND_S", 0.05)

    def prompt(k: _FakeKernel, n: int, msg_id: str) -> None:
        k.status("old", "idle")  # left from an earlier request: not ours
        k.reply(msg_id)
        k.status(msg_id, "busy")
        k.status(msg_id, "idle")

    kernel = _FakeKernel(prompt)
    started = time.perf_counter()
    asyncio.run(execute._ready(kernel, kernel, timeout=5))
    assert time.perf_counter() - started < 0.15  # no 0.2 s of listening to a silent IOPub
    assert (kernel.sent, kernel.adapted) == (1, ["req1"])

    def slow_joiner(k: _FakeKernel, n: int, msg_id: str) -> None:  # IOPub connects for the 3rd request
        k.reply(msg_id)
        if n >= 3:
            k.status(msg_id, "idle")

    kernel = _FakeKernel(slow_joiner)
    asyncio.run(execute._ready(kernel, kernel, timeout=5))
    assert kernel.sent == 3

    dead = _FakeKernel(lambda *_: None, alive=False)
    with pytest.raises(RuntimeError, match="died"):
        asyncio.run(execute._ready(dead, dead, timeout=5))
    mute = _FakeKernel(lambda *_: None)
    with pytest.raises(RuntimeError, match="did not answer"):
        asyncio.run(execute._ready(mute, mute, timeout=0.2))
