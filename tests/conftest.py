"""Shared fixtures: the checkout under test and scratch copies of it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
COPY_IGNORE = shutil.ignore_patterns(
    ".git",
    "_book",
    "_preview",
    ".quarto",
    "__pycache__",
    "*.egg-info",
    ".pytest_cache",
    ".ruff_cache",
    "bench",
)


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


@pytest.fixture
def project_copy(tmp_path: Path) -> Path:
    """A scratch copy of the whole project (data, notebooks, chapters) to mutate freely."""
    dest = tmp_path / "review"
    shutil.copytree(ROOT, dest, ignore=COPY_IGNORE)
    return dest


@pytest.fixture
def data_copy(tmp_path: Path) -> Path:
    """A scratch copy of data/ with references.bib beside it; returns the data directory."""
    dest = tmp_path / "review"
    shutil.copytree(ROOT / "data", dest / "data")
    shutil.copy(ROOT / "references.bib", dest / "references.bib")
    return dest / "data"
