"""Released versions on disk: version numbers and the unchanged snapshot of each release.

Every release keeps a copy of ``data/`` and ``references.bib`` under ``releases/vX.Y.Z/``; versions
are compared from these snapshots, never from git history.
"""

from __future__ import annotations

import re
from pathlib import Path

from livingreview.project.paths import Project

RELEASES = "releases"


VERSION_RE = re.compile(r"v?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)")


class VersionError(ValueError):
    """A version string that is not ``X.Y.Z``."""


def parse_version(text: str) -> tuple[int, int, int]:
    """``"0.2.0"`` or ``"v0.2.0"`` → ``(0, 2, 0)``."""
    match = VERSION_RE.fullmatch(str(text).strip())
    if not match:
        raise VersionError(f"{text!r} is not a version of the form X.Y.Z (e.g. 0.2.0)")
    major, minor, patch = (int(g) for g in match.groups())
    return major, minor, patch


def format_version(parts: tuple[int, int, int]) -> str:
    return ".".join(str(p) for p in parts)


def releases_dir(project: Project) -> Path:
    return project.root / RELEASES


def released_versions(directory: Path) -> list[str]:
    """Versions with a snapshot under ``directory`` (``vX.Y.Z`` folders holding ``data/``), oldest first."""
    if not directory.is_dir():
        return []
    found = [
        p.name[1:]
        for p in directory.iterdir()
        if p.is_dir() and VERSION_RE.fullmatch(p.name) and p.name[0] == "v"
    ]
    found = [v for v in found if (directory / f"v{v}" / "data").is_dir()]
    return sorted(found, key=parse_version)


def older_versions(directory: Path, current: str) -> list[str]:
    """Released versions strictly older than ``current``, oldest first."""
    return [v for v in released_versions(directory) if parse_version(v) < parse_version(current)]


def snapshot(project: Project, version: str) -> Path:
    return releases_dir(project) / f"v{format_version(parse_version(version))}"


def state_files(state: Path) -> dict[str, bytes]:
    """The files that define a state's data: everything in ``data/`` and ``references.bib``."""
    files = {f"data/{p.name}": p.read_bytes() for p in sorted((state / "data").iterdir()) if p.is_file()}
    bib = state / "references.bib"
    if bib.is_file():
        files["references.bib"] = bib.read_bytes()
    return files


def same_data(a: Path, b: Path) -> bool:
    return state_files(a) == state_files(b)
