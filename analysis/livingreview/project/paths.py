"""Where things live in a project checkout."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path


def files_digest(root: Path, patterns: Sequence[str]) -> str:
    """SHA-256 of the files under ``root`` matching ``patterns`` (their relative paths and bytes)."""
    digest = hashlib.sha256()
    for path in sorted({f for pattern in patterns for f in root.glob(pattern) if f.is_file()}):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


class ProjectNotFoundError(RuntimeError):
    """Raised when no directory with a ``_quarto.yml`` is found."""


def find_root(start: Path | None = None) -> Path:
    """Return the project root: ``$LIVINGREVIEW_ROOT`` or the nearest parent holding ``_quarto.yml``."""
    env = os.environ.get("LIVINGREVIEW_ROOT")
    if env:
        return Path(env).resolve()
    here = (start or Path.cwd()).resolve()
    for candidate in (here, *here.parents):
        if (candidate / "_quarto.yml").is_file():
            return candidate
    raise ProjectNotFoundError(
        f"no _quarto.yml found in {here} or its parents; run inside the review's checkout"
    )


@dataclass(frozen=True)
class Project:
    """Paths of one checkout of the review."""

    root: Path

    @classmethod
    def locate(cls, start: Path | None = None) -> Project:
        return cls(find_root(start))

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def analysis(self) -> Path:
        return self.root / "analysis"

    @property
    def chapters(self) -> Path:
        return self.root / "chapters"

    @property
    def quarto_yml(self) -> Path:
        return self.root / "_quarto.yml"

    @property
    def variables_yml(self) -> Path:
        return self.root / "_variables.yml"

    @property
    def bibliography(self) -> Path:
        return self.root / "references.bib"

    @property
    def citation_cff(self) -> Path:
        return self.root / "CITATION.cff"

    @property
    def preview_dir(self) -> Path:
        return self.root / "_preview"

    def notebooks(self) -> list[Path]:
        """Analysis notebooks in their fixed (file-name) order."""
        return sorted(self.analysis.glob("*.ipynb"))
