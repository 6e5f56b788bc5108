"""Checksum manifests of release snapshots (``SHA256SUMS``, in the format ``sha256sum -c`` reads)."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

MANIFEST = "SHA256SUMS"
LINE_RE = re.compile(r"([0-9a-f]{64})  (\S(?:.*\S)?)")

Found = tuple[str, int, str, str]  # file, row, column, message


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def snapshot_files(folder: Path) -> list[str]:
    """Every file of a snapshot (relative POSIX paths, sorted), the manifest itself excepted."""
    return sorted(
        p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file() and p.name != MANIFEST
    )


def manifest_text(folder: Path) -> str:
    return "".join(f"{_sha256(folder / rel)}  {rel}\n" for rel in snapshot_files(folder))


def write_manifest(folder: Path) -> str:
    """Write ``folder/SHA256SUMS``; return the manifest's own digest (recorded in the changelog)."""
    text = manifest_text(folder)
    (folder / MANIFEST).write_text(text, encoding="utf-8", newline="\n")
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def manifest_digest(folder: Path) -> str | None:
    path = folder / MANIFEST
    return _sha256(path) if path.is_file() else None


def verify(folder: Path, label: str) -> list[Found]:
    """Problems of a snapshot against its manifest (empty when it is exactly as released)."""
    where = f"{label}/{MANIFEST}"
    path = folder / MANIFEST
    if not path.is_file():
        return [(where, 0, "-", "missing: a release snapshot needs its checksum manifest")]
    try:
        lines = path.read_bytes().decode("utf-8").split("\n")
    except UnicodeDecodeError:
        return [(where, 0, "-", "not valid UTF-8")]
    listed: dict[str, str] = {}
    out: list[Found] = []
    for number, line in enumerate(lines, start=1):
        if not line:
            continue
        match = LINE_RE.fullmatch(line)
        rel = match.group(2) if match else ""
        if not match or rel.startswith("/") or ".." in rel.split("/") or "\\" in rel:
            out.append((where, number, "-", "not a line of the form '<sha256>  <relative path>'"))
            continue
        listed[rel] = match.group(1)
    present = set(snapshot_files(folder))
    for rel, digest in sorted(listed.items()):
        if rel not in present:
            out.append((f"{label}/{rel}", 0, "-", f"listed in {MANIFEST} but missing from the snapshot"))
        elif _sha256(folder / rel) != digest:
            out.append(
                (f"{label}/{rel}", 0, "-", f"changed after the release (checksum differs from {MANIFEST})")
            )
    for rel in sorted(present - listed.keys()):
        out.append((f"{label}/{rel}", 0, "-", f"not part of the release (not listed in {MANIFEST})"))
    return out
