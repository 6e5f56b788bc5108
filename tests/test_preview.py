"""The pandoc preview: one self-contained page with every chapter, table and figure resolved."""

from __future__ import annotations

import re
import shutil
import subprocess
from html import unescape
from html.parser import HTMLParser
from pathlib import Path

import pytest
from livingreview.paths import Project
from livingreview.preview import PreviewError, assemble_markdown, build_preview
from livingreview.qmd import book_files, embeds, read_quarto_yml

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


class Outline(HTMLParser):
    """Headings (text), figure ids, table-float ids and image sources of an HTML page."""

    def __init__(self) -> None:
        super().__init__()
        self.headings: list[str] = []
        self.figures: list[str] = []
        self.tables: list[str] = []
        self.images: list[str] = []
        self.scripts = 0
        self._in: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag in {"h1", "h2"}:
            self._in = tag
            self.headings.append("")
        if tag == "figure" and a.get("id", "").startswith("fig-"):
            self.figures.append(a["id"] or "")
        if tag == "div" and (a.get("id") or "").startswith("tbl-") and "lr-table" in (a.get("class") or ""):
            self.tables.append(a["id"] or "")
        if tag == "img":
            self.images.append(a.get("src") or "")
        if tag == "script":
            self.scripts += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == self._in:
            self._in = None
            self.headings[-1] = " ".join(self.headings[-1].split())

    def handle_data(self, data: str) -> None:
        if self._in:
            self.headings[-1] += data


def outline(html: str) -> Outline:
    parser = Outline()
    parser.feed(html)
    return parser


def expected(root: Path) -> tuple[list[str], set[str], set[str]]:
    """Chapter titles (first H1 of each file) and the fig/tbl labels the chapters embed."""
    titles, figs, tbls = [], set(), set()
    for book_file in book_files(read_quarto_yml(root / "_quarto.yml")):
        text = (root / book_file.path).read_text(encoding="utf-8")
        match = re.search(r"^# (.+?)(?:\s*\{.*\})?\s*$", text, re.M)
        titles.append(match.group(1))
        for _, _, label in embeds(text):
            (figs if label.startswith("fig-") else tbls).add(label)
    return titles, figs, tbls


@pytest.fixture(scope="module")
def preview(tmp_path_factory: pytest.TempPathFactory, root: Path) -> Path:
    dest = tmp_path_factory.mktemp("preview") / "review"
    shutil.copytree(root, dest, ignore=shutil.ignore_patterns(".git", "_preview", "_book", "bench"))
    return build_preview(Project(dest))


def test_preview_has_every_chapter_table_and_figure(preview: Path, root: Path) -> None:
    html = preview.read_text(encoding="utf-8")
    page = outline(html)
    titles, figs, tbls = expected(root)
    assert len(titles) >= 7
    for title in titles:
        assert any(title in h for h in page.headings), title
    assert set(page.figures) == figs
    assert set(page.tables) == tbls
    assert all(src.startswith("data:image/png;base64,") for src in page.images)
    assert "Preview." in html and 'pip install -e ".[render]"' in unescape(html)


def test_preview_resolves_vars_citations_and_crossrefs(preview: Path) -> None:
    html = preview.read_text(encoding="utf-8")
    assert "{{&lt;" not in html and "{{<" not in html
    assert "?fig-" not in html and "?tbl-" not in html and "?sec-" not in html
    assert re.search(r"Figure \d+\.\d+", html) and re.search(r"Table \d+\.\d+", html)
    assert 'id="refs"' in html and "Krupnick" in html
    assert "[@" not in html


def test_preview_numbers_chapters_like_the_book(root: Path) -> None:
    markdown, _ = assemble_markdown(Project(root))
    assert re.search(r"^# 1 Background", markdown, re.M)
    assert re.search(r"^# About this living review", markdown, re.M)
    assert re.search(r"^# A Evidence", markdown, re.M)


def test_preview_refuses_an_unknown_var(project_copy: Path) -> None:
    chapter = project_copy / "chapters" / "results.qmd"
    chapter.write_text(chapter.read_text(encoding="utf-8") + "\n{{< var results.nope >}}\n", encoding="utf-8")
    with pytest.raises(PreviewError, match="unknown var 'results.nope'"):
        assemble_markdown(Project(project_copy))


def test_preview_refuses_a_missing_embed_label(project_copy: Path) -> None:
    chapter = project_copy / "chapters" / "results.qmd"
    text = chapter.read_text(encoding="utf-8").replace("#fig-direction", "#fig-nowhere", 1)
    chapter.write_text(text, encoding="utf-8")
    with pytest.raises(PreviewError, match="fig-nowhere"):
        assemble_markdown(Project(project_copy))


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium not installed (apt-get install -y chromium)")
def test_preview_in_headless_chromium(preview: Path, root: Path, tmp_path: Path) -> None:
    profile = tmp_path / "profile"
    dom = subprocess.run(
        [CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--dump-dom", preview.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert dom.returncode == 0, dom.stderr[-2000:]
    page = outline(dom.stdout)
    titles, figs, tbls = expected(root)
    for title in titles:
        assert any(title in h for h in page.headings), title
    assert set(page.figures) == figs and set(page.tables) == tbls
    shot = tmp_path / "preview.png"
    done = subprocess.run(
        [
            CHROMIUM,
            *CHROMIUM_FLAGS,
            f"--user-data-dir={profile}",
            f"--screenshot={shot}",
            "--window-size=1200,1600",
            preview.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0 and shot.stat().st_size > 10_000
