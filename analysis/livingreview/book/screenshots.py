"""PNG screenshots of the first page of every chapter, from the PDF (pdftoppm) and the HTML book (Chromium).

So that anyone can look at what readers get before publishing: ``livingreview build --screenshots DIR``.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from pathlib import Path

# Headless, offline and quiet: no sandbox (containers), no GPU, no network of Chromium's own.
HEADLESS_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
CHROMIUM_FLAGS = [*HEADLESS_FLAGS, "--hide-scrollbars"]


class ScreenshotError(RuntimeError):
    """A tool needed for screenshots is missing or failed."""


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


def pdf_pages_text(pdf: Path) -> list[str]:
    """The text of each page of ``pdf`` (pdftotext, layout order)."""
    if not shutil.which("pdftotext"):
        raise ScreenshotError("pdftotext not found (apt-get install -y poppler-utils)")
    done = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True)
    if done.returncode != 0:
        raise ScreenshotError(f"pdftotext failed on {pdf.name}: {done.stderr.strip()[-300:]}")
    return done.stdout.split("\f")


def _norm(text: str) -> str:
    return " ".join(text.replace("\u00ad", "").split())


def chapter_start_pages(pdf: Path, titles: list[str]) -> dict[str, int]:
    """1-based page on which each chapter title opens a page (the contents page is skipped)."""
    pages = [_norm(p) for p in pdf_pages_text(pdf)]
    found: dict[str, int] = {}
    for title in titles:
        want = _norm(title)
        for number, text in enumerate(pages, start=1):
            if text.startswith(want) and "Contents" not in text[:40]:
                found[title] = number
                break
    return found


def slug(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:60] or "page"


def pdf_screenshots(pdf: Path, titles: list[str], out_dir: Path, dpi: int = 70) -> list[Path]:
    """``pdf-NN-<chapter>.png`` for the first page of each chapter, and the title page."""
    if not shutil.which("pdftoppm"):
        raise ScreenshotError("pdftoppm not found (apt-get install -y poppler-utils)")
    wanted = {"title page": 1, **chapter_start_pages(pdf, titles)}
    written = []
    for index, (title, page) in enumerate(wanted.items()):
        stem = out_dir / f"pdf-{index:02d}-{slug(title)}"
        command = ["pdftoppm", "-png", "-singlefile", "-r", str(dpi), "-f", str(page), "-l", str(page)]
        done = subprocess.run([*command, str(pdf), str(stem)], capture_output=True, text=True)
        if done.returncode != 0:
            raise ScreenshotError(f"pdftoppm failed on page {page}: {done.stderr.strip()[-300:]}")
        written.append(stem.with_suffix(".png"))
    return written


def html_screenshots(pages: list[Path], out_dir: Path, size: str = "1280,900") -> list[Path]:
    """``html-NN-<page>.png``: the first screen of each HTML page in headless Chromium."""
    browser = chromium()
    if browser is None:
        raise ScreenshotError("Chromium not found (apt-get install -y chromium)")
    written = []
    with tempfile.TemporaryDirectory() as profile:
        for index, page in enumerate(pages):
            shot = out_dir / f"html-{index:02d}-{slug(page.stem)}.png"
            done = subprocess.run(
                [
                    browser,
                    *CHROMIUM_FLAGS,
                    f"--user-data-dir={profile}",
                    f"--window-size={size}",
                    f"--screenshot={shot}",
                    page.resolve().as_uri(),
                ],
                capture_output=True,
                text=True,
                timeout=120,
            )
            if done.returncode != 0 or not shot.is_file():
                raise ScreenshotError(
                    f"Chromium could not screenshot {page.name}: {done.stderr.strip()[-300:]}"
                )
            written.append(shot)
    return written


def take_screenshots(
    html_pages: list[Path], pdf: Path | None, titles: list[str], out_dir: Path
) -> list[Path]:
    """All screenshots into ``out_dir`` (created); return the files written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = html_screenshots(html_pages, out_dir)
    if pdf is not None:
        written += pdf_screenshots(pdf, titles, out_dir)
    return written
