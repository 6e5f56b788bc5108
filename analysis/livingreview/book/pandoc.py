"""Running pandoc (from the ``pypandoc-binary`` wheel) on one chapter or one batch of tables at a time.

Small conversions keep memory bounded on large reviews, and run in parallel on all cores.
"""

from __future__ import annotations

import functools
import os
import re
import subprocess
import tempfile
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

from livingreview.text.safe import SANITIZE_LUA

T = TypeVar("T")
R = TypeVar("R")


class PandocError(RuntimeError):
    """pandoc failed on a chapter; the message names it."""


@functools.cache
def pandoc_path() -> str:
    """The pandoc of the ``pypandoc-binary`` wheel (pinned with the project), else the one pypandoc finds.

    Resolved once: every conversion of a build must use the same pandoc (their JSON must match).
    """
    import pypandoc

    files = Path(pypandoc.__file__).parent / "files"
    for name in ("pandoc", "pandoc.exe"):
        if (files / name).is_file():
            return str(files / name)
    return pypandoc.get_pandoc_path()


_FILTER: Path | None = None


def sanitize_filter() -> Path:
    """The Lua filter of ``textsafe`` as a file (written once per process)."""
    global _FILTER
    if _FILTER is None or not _FILTER.is_file():
        handle, name = tempfile.mkstemp(prefix="livingreview-sanitize-", suffix=".lua")
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(SANITIZE_LUA)
        _FILTER = Path(name)
    return _FILTER


def convert(
    text: str, source: str, target: str, args: Iterable[str] = (), where: str = "", sanitize: bool = True
) -> str:
    """``text`` from pandoc format ``source`` to ``target``; citeproc (if asked) runs before the filter."""
    args = list(args)
    cite = ["--citeproc"] if "--citeproc" in args else []
    rest = [a for a in args if a != "--citeproc"]
    command = [
        pandoc_path(),
        f"--from={source}",
        f"--to={target}",
        "--wrap=none",
        *rest,
        *cite,
        *([f"--lua-filter={sanitize_filter()}"] if sanitize else []),
    ]
    done = subprocess.run(command, input=text.encode("utf-8"), capture_output=True)
    if done.returncode != 0:
        message = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise PandocError(
            f"{where or 'pandoc'}: pandoc failed: {message[-1] if message else done.returncode}"
        )
    return done.stdout.decode("utf-8")


def parallel_map(func: Callable[[T], R], items: list[T]) -> list[R]:
    """``func`` over ``items`` on all cores (pandoc runs are separate processes)."""
    with ThreadPoolExecutor(max_workers=max(1, os.cpu_count() or 1)) as pool:
        return list(pool.map(func, items))


def convert_many(
    pieces: list[str], source: str, target: str, nonce: str, args: Iterable[str] = (), where: str = ""
) -> list[str]:
    """Several documents in one pandoc run (separated by tokens), returned one by one."""
    if not pieces:
        return []
    seps = [f"LRX{nonce}S{i}X" for i in range(len(pieces))]
    if source.startswith("html"):
        joined = "".join(f"<p>{sep}</p>\n{piece}\n" for sep, piece in zip(seps, pieces, strict=True))
    else:
        joined = "".join(f"\n\n{sep}\n\n{piece}\n" for sep, piece in zip(seps, pieces, strict=True))
    out = convert(joined, source, target, args, where)
    parts = re.split(rf"(?:<p>)?LRX{nonce}S\d+X(?:</p>)?", out)
    if len(parts) != len(pieces) + 1:
        raise PandocError(f"{where}: pandoc output could not be split into its {len(pieces)} parts")
    return [part.strip("\n") for part in parts[1:]]
