"""Running pandoc (from the ``pypandoc-binary`` wheel) on one chapter or one batch of tables at a time.

Small conversions keep memory bounded on large reviews, and run in parallel on all cores.
"""

from __future__ import annotations

import functools
import hashlib
import os
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


# Options whose value is a file pandoc reads: keyed by its bytes (citeproc's inputs).
FILE_OPTIONS = ("--bibliography", "--csl")
# Options that read other files (templates, filters, includes, ...): such a conversion is not cached.
UNCACHED_OPTIONS = (
    "--abbreviations",
    "--citation-abbreviations",
    "--css",
    "--data-dir",
    "--defaults",
    "--filter",
    "--include-after-body",
    "--include-before-body",
    "--include-in-header",
    "--lua-filter",
    "--metadata-file",
    "--reference-doc",
    "--resource-path",
    "--syntax-definition",
    "--template",
)


def files_read(options: list[str]) -> list[str] | None:
    """What the files named in ``options`` hold (option, path and digest), for a cache key;
    None when a conversion must not be cached (a file it reads is unknown to the key, or unreadable)."""
    parts = []
    for option in options:
        name, _, value = option.partition("=")
        if name in UNCACHED_OPTIONS:  # with or without a value (``name`` is the whole option then)
            return None
        if name in FILE_OPTIONS:
            try:
                parts.append(f"{name}={value}\0{hashlib.sha256(Path(value).read_bytes()).hexdigest()}")
            except OSError:
                return None
    return parts


class ConversionCache:
    """pandoc's outputs of earlier builds, so that a rebuild converts only the chapters that changed.

    One file per conversion under ``directory``, named by the digest of everything that decides
    the output: the pandoc binary (path, size, modification time), the formats and arguments,
    the sanitizing filter's code and the input. The build's nonce (random, so that no text in the
    data can forge a token) is masked in the key and in the stored output, and the current one
    is put back on use. A conversion that reads files named on the command line (citeproc's
    bibliographies and CSL style, ``FILE_OPTIONS``) has their contents in its key; one that names
    a file of any other kind, or a file that cannot be read, is never cached. ``prune`` keeps only
    what the last build used.
    """

    MASK = "\x00nonce\x00"  # no NUL reaches pandoc: data values lose control characters (text.safe)

    def __init__(self, directory: Path, nonce: str) -> None:
        self.directory = directory
        self.token = f"LRX{nonce}"
        self.used: set[str] = set()

    def key(self, pandoc: str, options: list[str], text: str) -> str:
        """The digest of the conversion; ``options`` name the filter by what it does, not by its
        temporary file."""
        binary = Path(pandoc).stat()
        digest = hashlib.sha256()
        for part in (pandoc, str(binary.st_size), str(binary.st_mtime_ns), SANITIZE_LUA, *options):
            digest.update(part.encode("utf-8") + b"\0")
        digest.update(text.replace(self.token, self.MASK).encode("utf-8"))
        return digest.hexdigest()

    def get(self, key: str) -> str | None:
        try:
            stored = (self.directory / key).read_text(encoding="utf-8")
        except OSError:
            return None
        self.used.add(key)
        return stored.replace(self.MASK, self.token)

    def put(self, key: str, output: str) -> None:
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            handle, name = tempfile.mkstemp(dir=self.directory, prefix=".tmp-")
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                out.write(output.replace(self.token, self.MASK))
            os.replace(name, self.directory / key)
            self.used.add(key)
        except OSError:  # a read-only checkout still builds, only without the cache
            pass

    def prune(self) -> None:
        """Delete the entries the last build did not use (the cache holds one build's worth)."""
        if not self.directory.is_dir():
            return
        for path in self.directory.iterdir():
            if path.name not in self.used:
                path.unlink(missing_ok=True)


def convert(
    text: str,
    source: str,
    target: str,
    args: Iterable[str] = (),
    where: str = "",
    sanitize: bool = True,
    cache: ConversionCache | None = None,
) -> str:
    """``text`` from pandoc format ``source`` to ``target``; citeproc (if asked) runs before the filter."""
    args = list(args)
    cite = ["--citeproc"] if "--citeproc" in args else []
    options = [f"--from={source}", f"--to={target}", "--wrap=none", *(a for a in args if a != "--citeproc")]
    pandoc = pandoc_path()
    command = [pandoc, *options, *cite, *([f"--lua-filter={sanitize_filter()}"] if sanitize else [])]
    files = files_read(options) if cache is not None else None
    key = (
        cache.key(pandoc, [*options, *cite, f"sanitize={sanitize}", *files], text)
        if cache is not None and files is not None
        else None
    )
    if key is not None and (cached := cache.get(key)) is not None:
        return cached
    done = subprocess.run(command, input=text.encode("utf-8"), capture_output=True)
    if done.returncode != 0:
        message = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise PandocError(
            f"{where or 'pandoc'}: pandoc failed: {message[-1] if message else done.returncode}"
        )
    output = done.stdout.decode("utf-8")
    if key is not None:
        cache.put(key, output)
    return output


def thread_pool() -> ThreadPoolExecutor:
    """A pool with a thread per core (each pandoc run is a process of its own)."""
    return ThreadPoolExecutor(max_workers=max(1, os.cpu_count() or 1))


def parallel_map(func: Callable[[T], R], items: list[T]) -> list[R]:
    """``func`` over ``items`` on all cores (pandoc runs are separate processes)."""
    with thread_pool() as pool:
        return list(pool.map(func, items))
