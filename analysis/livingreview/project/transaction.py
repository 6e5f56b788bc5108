"""All-or-nothing writes: outputs staged and switched into place under a journal, rolled back after a kill.

A command opens a :class:`Transaction`, writes each output to :meth:`Transaction.stage` (or claims a
path that another program writes in place, such as the preview folder), then :meth:`switch` moves
the staged outputs into place, keeping what they replace as backups, and :meth:`commit` drops the
backups. Until the commit the journal in ``.livingreview-txn/`` lets :func:`recover` put every
path back exactly as it was, which every writing command does first (under :class:`ProjectLock`).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

TXN_DIR = ".livingreview-txn"
JOURNAL = "journal.json"
KILL_ENV = "LIVINGREVIEW_TXN_KILL"  # tests only: die (SIGKILL) at the numbered step of a transaction


class LockedError(RuntimeError):
    """Another livingreview command is writing to this project."""


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _fsync_tree(path: Path) -> None:
    """Flush a staged file, or every file and folder of a staged folder, to disk."""
    if path.is_dir():
        for sub in sorted(path.rglob("*")):
            _fsync_tree(sub) if sub.is_file() else _fsync_dir(sub)
        _fsync_dir(path)
    elif path.is_file():
        with path.open("rb") as fh:
            os.fsync(fh.fileno())


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


def _write_journal(txn: Path, record: dict) -> None:
    tmp = txn / f"{JOURNAL}.tmp"
    with tmp.open("w", encoding="utf-8") as fh:
        json.dump(record, fh)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, txn / JOURNAL)
    _fsync_dir(txn)


def _step(txn: Transaction) -> None:
    """Count one step that changes the disk; the kill tests stop a command at each of them."""
    txn.steps += 1
    if os.environ.get(KILL_ENV) == str(txn.steps):
        import signal

        os.kill(os.getpid(), signal.SIGKILL)


class Transaction:
    """Outputs of one command, switched into the project together (see the module docstring)."""

    def __init__(self, root: Path, command: str) -> None:
        self.root = Path(root)
        self.dir = self.root / TXN_DIR
        recover(self.root)
        self.dir.mkdir()
        self.record: dict = {"command": command, "state": "open", "entries": []}
        self.pending: list[str] = []
        self.steps = 0
        _write_journal(self.dir, self.record)

    def _staged(self, rel: str) -> Path:
        return self.dir / "stage" / rel

    def _backup(self, rel: str) -> Path:
        return self.dir / "backup" / rel

    def stage(self, rel: str) -> Path:
        """Where to write the new version of ``rel`` (a file, or a folder to create)."""
        path = self._staged(rel)
        _remove(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        if rel not in self.pending:
            self.pending.append(rel)
        return path

    def write_text(self, rel: str, text: str) -> None:
        self.stage(rel).write_text(text, encoding="utf-8")

    def _enter(self, rel: str, kind: str) -> None:
        target = self.root / rel
        self.record["entries"].append({"path": rel, "kind": kind, "existed": target.exists()})
        _write_journal(self.dir, self.record)  # intent first: recovery knows what may have moved
        _step(self)
        if target.exists():
            backup = self._backup(rel)
            backup.parent.mkdir(parents=True, exist_ok=True)
            os.replace(target, backup)
            _step(self)

    def claim(self, rel: str) -> Path:
        """Let a writer produce ``rel`` in place; what was there is restored if the command dies."""
        self._enter(rel, "claimed")
        _fsync_dir((self.root / rel).parent)
        return self.root / rel

    def switch(self) -> None:
        """Move every staged output into place (what it replaces is kept until :meth:`commit`)."""
        for rel in self.pending:
            _fsync_tree(self._staged(rel))
        for rel in self.pending:
            target = self.root / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            self._enter(rel, "staged")
            os.replace(self._staged(rel), target)
            _fsync_dir(target.parent)
            _step(self)
        self.pending = []

    def commit(self) -> None:
        """Make the switched outputs final and delete the backups and the journal."""
        self.switch()
        for entry in self.record["entries"]:
            if entry["kind"] == "claimed":
                _fsync_tree(self.root / entry["path"])
        self.record["state"] = "committed"
        _write_journal(self.dir, self.record)
        _step(self)
        shutil.rmtree(self.dir)
        _fsync_dir(self.root)

    def rollback(self) -> None:
        _roll_back(self.root, self.record)

    def __enter__(self) -> Transaction:
        return self

    def __exit__(self, kind: object, *_: object) -> None:
        if self.dir.exists():
            if kind is None:
                self.commit()
            else:
                self.rollback()


def _roll_back(root: Path, record: dict) -> None:
    txn = root / TXN_DIR
    for entry in reversed(record.get("entries", [])):
        rel = entry["path"]
        target, backup = root / rel, txn / "backup" / rel
        if backup.exists():
            _remove(target)
            os.replace(backup, target)
        elif not entry["existed"]:
            _remove(target)
    _fsync_dir(root)
    shutil.rmtree(txn, ignore_errors=True)


def recover(root: Path) -> str | None:
    """Finish what a killed command left: roll back an unfinished switch, or clean up after a commit.

    Returns what was done (None when there was nothing to do).
    """
    txn = Path(root) / TXN_DIR
    if not txn.exists():
        return None
    try:
        record = json.loads((txn / JOURNAL).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        record = {"entries": []}  # killed before its first journal: nothing was moved yet
    if record.get("state") == "committed":
        shutil.rmtree(txn, ignore_errors=True)
        return f"finished the interrupted {record.get('command', 'command')}"
    _roll_back(Path(root), record)
    return f"rolled back the interrupted {record.get('command', 'command')}"


class ProjectLock:
    """An exclusive lock on the project folder (``flock``): released by the system if the holder dies."""

    def __init__(self, root: Path, command: str, wait: bool = False) -> None:
        self.root, self.command, self.wait, self.fd = Path(root), command, wait, None

    def __enter__(self) -> ProjectLock:
        try:
            import fcntl
        except ImportError:  # not POSIX: no lock, the journal still protects against interruption
            return self
        self.fd = os.open(self.root, os.O_RDONLY)
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | (0 if self.wait else fcntl.LOCK_NB))
        except BlockingIOError:
            os.close(self.fd)
            self.fd = None
            raise LockedError(
                f"livingreview {self.command}: another livingreview command is writing to {self.root}; "
                "nothing was done — run it again when that one has finished"
            ) from None
        return self

    def __exit__(self, *_: object) -> None:
        if self.fd is not None:
            os.close(self.fd)  # closing the descriptor releases the flock
            self.fd = None


@contextlib.contextmanager
def exclusive(root: Path, command: str) -> Iterator[str | None]:
    """Hold the project lock and recover from an interrupted command first; yields what recovery did."""
    with ProjectLock(root, command):
        yield recover(root)


def settle(root: Path) -> None:
    """For read-only commands: recover an interrupted command unless another one is still running."""
    if not (Path(root) / TXN_DIR).exists():
        return
    with contextlib.suppress(LockedError), exclusive(root, "recovery"):
        pass
