"""All-or-nothing commands: killed at any point (SIGKILL), a command leaves the project exactly as before
or exactly as after, no backup file behind, and a re-run succeeds; a second writer is refused."""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from livingreview.project.transaction import KILL_ENV, TXN_DIR, LockedError, ProjectLock, Transaction, recover
from scratch import next_version
from test_build import add_study

ROOT = Path(__file__).resolve().parents[1]
IGNORE = shutil.ignore_patterns(
    ".git",
    "_book",
    "_preview",
    "__pycache__",
    ".pytest_cache",
    ".ruff_cache",
    ".hypothesis",
    "bench",
    "tests",
)


def tree(root: Path) -> dict[str, str]:
    """Every file of the project with its hash (caches aside)."""
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts and ".cache" not in p.parts
    }


# --- the mechanism, killed at every step (in a forked child: fast) ----------------------------------


def _work(root: Path) -> int:
    with Transaction(root, "test") as txn:
        txn.write_text("a.txt", "new a\n")
        txn.write_text("sub/new.txt", "created\n")
        folder = txn.stage("releases/v9")
        folder.mkdir()
        (folder / "x.csv").write_text("x\n")
        txn.switch()
        out = txn.claim("_preview")
        out.mkdir()
        (out / "index.html").write_text("<p>new</p>\n")
        txn.write_text("b.txt", "new b\n")
        steps = txn.steps
    return steps + 1  # the commit's step


def _seed(root: Path) -> None:
    (root / "sub").mkdir(parents=True)
    (root / "a.txt").write_text("old a\n")
    (root / "b.txt").write_text("old b\n")
    (root / "_preview").mkdir()
    (root / "_preview" / "index.html").write_text("<p>old</p>\n")


def _killed_child(root: Path, step: int) -> None:
    pid = os.fork()
    if pid == 0:  # the child dies at ``step``
        os.environ[KILL_ENV] = str(step)
        try:
            _work(root)
        finally:
            os._exit(0)
    _, status = os.waitpid(pid, 0)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL


def test_transaction_killed_at_every_step(tmp_path: Path) -> None:
    reference = tmp_path / "reference"
    _seed(reference)
    before = tree(reference)
    steps = _work(reference)
    after = tree(reference)
    assert before != after and not (reference / TXN_DIR).exists()
    assert steps >= 10
    for step in range(1, steps + 1):
        root = tmp_path / f"kill{step}"
        _seed(root)
        _killed_child(root, step)
        assert (root / TXN_DIR).exists()
        recover(root)
        state = tree(root)
        assert state in (before, after), step
        assert not (root / TXN_DIR).exists()
        if state == before:
            _work(root)
        assert tree(root) == after, step


def test_failure_rolls_back(tmp_path: Path) -> None:
    _seed(tmp_path)
    before = tree(tmp_path)
    with pytest.raises(RuntimeError), Transaction(tmp_path, "test") as txn:
        txn.write_text("a.txt", "new a\n")
        txn.switch()
        txn.claim("_preview").mkdir()
        raise RuntimeError("a cell failed")
    assert tree(tmp_path) == before and not (tmp_path / TXN_DIR).exists()


def test_second_writer_is_refused(tmp_path: Path) -> None:
    refused = pytest.raises(LockedError, match="another livingreview command")
    with ProjectLock(tmp_path, "build"), refused, ProjectLock(tmp_path, "release"):
        pass
    with ProjectLock(tmp_path, "release"):  # released when the holder is done (or dies)
        pass


# --- the commands, killed with SIGKILL ------------------------------------------------------------


def _project(tmp: Path, name: str, notebooks: tuple[str, ...] | None = None, reference: bool = False) -> Path:
    root = tmp / name
    shutil.copytree(ROOT, root, ignore=IGNORE)
    if reference:  # the book's methods chapter shows the metafor validation summary
        shutil.copytree(ROOT / "tests" / "reference", root / "tests" / "reference")
    if notebooks is not None:
        for nb in (root / "analysis").glob("*.ipynb"):
            if nb.stem not in notebooks:
                nb.unlink()
    add_study(root)
    return root


def _run(
    root: Path,
    args: list[str],
    kill: Callable[[subprocess.Popen], None] | None = None,
    env: dict | None = None,
) -> int:
    proc = subprocess.Popen(
        [sys.executable, "-m", "livingreview", *args],
        cwd=root,
        env={**os.environ, **(env or {})},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    if kill:
        kill(proc)
    _, err = proc.communicate(timeout=600)
    assert "Traceback" not in err, err
    return proc.returncode


def _after(seconds: float) -> Callable[[subprocess.Popen], None]:
    def kill(proc: subprocess.Popen) -> None:
        time.sleep(seconds)
        proc.send_signal(signal.SIGKILL)

    return kill


RELEASE = ["release", next_version(ROOT, "minor"), "--trigger", "scheduled search"]  # dated today
EXECUTE = ["execute"]


@pytest.mark.parametrize(
    ("args", "notebooks", "kills"),
    [
        (RELEASE, None, [{"step": "7"}, {"seconds": 4.0}]),
        (EXECUTE, ("03-evidence",), [{"step": "5"}, {"seconds": 4.0}]),
    ],
    ids=["release", "execute"],
)
def test_command_killed_leaves_before_or_after(
    tmp_path: Path, args: list[str], notebooks, kills: list[dict]
) -> None:
    reference = _project(tmp_path, "reference", notebooks)
    before = tree(reference)
    assert _run(reference, args) == 0
    after = tree(reference)
    assert before != after
    for n, how in enumerate(kills):
        root = _project(tmp_path, f"kill{n}", notebooks)
        if "step" in how:
            code = _run(root, args, env={KILL_ENV: how["step"]})
            assert code == -signal.SIGKILL, how  # it did die at that step
        else:
            _run(root, args, kill=_after(how["seconds"]))
        recover(root)  # what the next command does first
        state = tree(root)
        assert state in (before, after), how
        if state == before:  # a re-run completes
            assert _run(root, args) == 0, how
        assert tree(root) == after, how


def test_build_killed_after_executing_is_rolled_back(tmp_path: Path) -> None:
    """Killed once the notebooks are switched in but before the preview: notebooks roll back too."""
    root = _project(tmp_path, "review", reference=True)
    before = tree(root)
    assert _run(root, ["build", "--preview"], env={KILL_ENV: "22"}) == -signal.SIGKILL
    assert (root / TXN_DIR).exists()
    done = subprocess.run(
        [sys.executable, "-m", "livingreview", "validate"], cwd=root, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr  # a read-only command recovers too
    assert tree(root) == before
    assert _run(root, ["build", "--preview"]) == 0
    assert not (root / TXN_DIR).exists() and (root / "_preview" / "index.html").is_file()


@pytest.mark.parametrize(
    "command", [["build", "--preview"], ["execute"], RELEASE], ids=["build", "execute", "release"]
)
def test_command_refused_while_another_writes(tmp_path: Path, command: list[str]) -> None:
    """`build` and `release` at once: the second writer says so in one line, exits 1 and writes nothing."""
    root = _project(tmp_path, "review")
    before = tree(root)
    with ProjectLock(root, "build"):  # what a running build or release holds
        done = subprocess.run(
            [sys.executable, "-m", "livingreview", *command],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert done.returncode == 1, done.stdout + done.stderr
    assert done.stdout == "" and "Traceback" not in done.stderr
    (line,) = done.stderr.splitlines()
    assert line.startswith(f"livingreview {command[0]}: another livingreview command is writing"), line
    assert tree(root) == before
