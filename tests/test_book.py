"""The book as readers get it without Quarto: the HTML book (in headless Chromium) and the PDF (opened)."""

from __future__ import annotations

import html as htmllib
import re
import shutil
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from browser import CHROMIUM, load, outline
from livingreview.book.pdf import font_dir, missing_glyphs
from livingreview.book.preview import (
    Book,
    PreviewError,
    assemble_markdown,
    cap_rows,
    load_book,
)
from livingreview.book.render import build_preview
from livingreview.book.screenshots import take_screenshots
from livingreview.project.paths import Project
from livingreview.text.safe import plain_text

needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="Chromium not installed (apt-get install -y chromium)"
)
needs_poppler = pytest.mark.skipif(
    shutil.which("pdftotext") is None, reason="poppler-utils not installed (apt-get install -y poppler-utils)"
)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, root: Path) -> tuple[Book, Path]:
    """The book built once from a copy of the checkout (stored notebook outputs, no execution)."""
    dest = tmp_path_factory.mktemp("book") / "review"
    shutil.copytree(
        root, dest, ignore=shutil.ignore_patterns(".git", "_preview", "_book", "bench", ".*cache")
    )
    index = build_preview(Project(dest))
    return load_book(Project(dest)), index.parent


def pdf_of(out: Path) -> Path:
    (pdf,) = out.glob("*.pdf")
    return pdf


def pdf_text(pdf: Path) -> str:
    done = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout


def norm(text: str) -> str:
    """Whitespace collapsed, hyphenation at line ends (soft hyphens) undone."""
    return " ".join(re.sub(r"\u00ad\s*", "", text).replace("\u2060", "").split())


# --- the HTML book -------------------------------------------------------------------------------


def test_one_page_per_chapter_with_its_title_figures_and_tables(built: tuple[Book, Path]) -> None:
    book, out = built
    pages = sorted(out.glob("*.html"))
    assert len(pages) == len(book.chapters) >= 10
    for chapter in book.chapters:
        page = outline((out / chapter.page).read_text(encoding="utf-8"))
        assert ("h1", chapter.title) in page.headings, chapter.title
        for embed in chapter.embeds:
            assert embed.label in page.ids, (chapter.page, embed.label)
        assert page.scripts == 0 and page.handlers == []


def test_every_internal_link_and_image_resolves(built: tuple[Book, Path]) -> None:
    _, out = built
    ids = {p.name: outline(p.read_text(encoding="utf-8")).ids for p in out.glob("*.html")}
    checked = 0
    for path in out.glob("*.html"):
        page = outline(path.read_text(encoding="utf-8"))
        for href in page.links:
            parts = urlsplit(htmllib.unescape(href))
            if parts.scheme in ("http", "https"):
                continue
            assert parts.scheme == "", f"{path.name}: link {href!r}"
            target = parts.path or path.name
            assert (out / target).is_file(), f"{path.name}: link to missing {target}"
            if parts.fragment:
                assert parts.fragment in ids[target], f"{path.name}: {href} has no target"
            checked += 1
        for src in page.images:
            assert (out / src).is_file(), f"{path.name}: image {src} missing"
    assert checked > 200


def test_navigation_sidebar_and_previous_next(built: tuple[Book, Path]) -> None:
    book, out = built
    for i, chapter in enumerate(book.chapters):
        text = (out / chapter.page).read_text(encoding="utf-8")
        for other in book.chapters:
            assert f'href="{other.page}"' in text  # the sidebar lists every chapter
        if i:
            assert f'rel="prev" href="{book.chapters[i - 1].page}"' in text
        if i + 1 < len(book.chapters):
            assert f'rel="next" href="{book.chapters[i + 1].page}"' in text


def test_crossrefs_and_citations_work_across_pages(built: tuple[Book, Path]) -> None:
    book, out = built
    text = "".join(p.read_text(encoding="utf-8") for p in out.glob("*.html"))
    assert "{{&lt;" not in text and "{{<" not in text and "?fig-" not in text and "?sec-" not in text
    assert "[@" not in text
    results = (out / "results.html").read_text(encoding="utf-8")
    assert re.search(r'href="#fig-[\w-]+">Figure 3\.\d+</a>', results)
    index = (out / "index.html").read_text(encoding="utf-8")
    assert re.search(r'href="implications\.html#sec-implications">Chapter \d+</a>', index)
    refs = (out / book.references_page).read_text(encoding="utf-8")
    cited = set(re.findall(r'href="references\.html#(ref-[^"]+)"', text))
    assert len(cited) > 30
    assert cited <= outline(refs).ids
    assert "Krupnick" in refs


def test_citations_are_disambiguated_across_the_book(built: tuple[Book, Path]) -> None:
    """Citeproc runs once over the whole book: each work prints one in-text citation throughout, and
    two works never print the same one (per-chapter runs printed "Zilcha-Mano et al., 2015" in a
    chapter that cites only one of the author's 2015 papers, and a longer form elsewhere)."""
    book, out = built
    labels: dict[str, set[str]] = {}
    works: dict[str, set[str]] = {}
    for chapter in book.chapters:
        page = (out / chapter.page).read_text(encoding="utf-8")
        for key, text in re.findall(r'<a href="(?:references\.html)?#ref-([^"]+)">\(([^<;]*)\)</a>', page):
            label = htmllib.unescape(text)  # a parenthetical citation of one work
            labels.setdefault(label, set()).add(key)
            works.setdefault(key, set()).add(label)
    assert len(works) > 30
    assert {label: keys for label, keys in labels.items() if len(keys) > 1} == {}
    assert {key: found for key, found in works.items() if len(found) > 1} == {}


def test_long_tables_fold_and_short_ones_do_not(built: tuple[Book, Path]) -> None:
    _, out = built
    evidence = (out / "evidence.html").read_text(encoding="utf-8")  # one row per association
    assert re.search(r"<details><summary>Show all \d+ rows</summary>", evidence)
    index = (out / "results.html").read_text(encoding="utf-8")
    sof = index.split('id="tbl-sof"', 1)[1].split("</table>", 1)[0]
    assert "<details>" not in sof and "Symptoms" in sof


@needs_chromium
def test_every_page_loads_in_chromium_without_console_messages(
    built: tuple[Book, Path], tmp_path: Path
) -> None:
    book, out = built
    for chapter in book.chapters:
        loaded = load(out / chapter.page, tmp_path / "profile")
        assert loaded.console == [], (chapter.page, loaded.console)
        page = outline(loaded.dom)
        assert ("h1", chapter.title) in page.headings
        assert page.title.startswith(chapter.title)


@needs_chromium
def test_first_screen_shows_title_version_conclusion_flag_and_summary(
    built: tuple[Book, Path], tmp_path: Path
) -> None:
    """Measured in Chromium at 1280×900: the title block, the conclusion flag and the start of the
    plain-language key messages (their heading and the question) end within the first screen."""
    book, out = built
    probe = """<script>
    for (const [name, sel] of [["title", ".lr-titleblock"], ["flag", ".callout-important"],
                               ["summary", ".callout-tip h2"], ["question", ".callout-tip p"]]) {
      const el = document.querySelector(sel);
      document.body.setAttribute("data-" + name, el ? Math.round(el.getBoundingClientRect().bottom) : -1);
    }
    </script></body>"""
    index = (out / "index.html").read_text(encoding="utf-8")
    index = re.sub(r'<meta http-equiv="Content-Security-Policy"[^>]*>', "", index).replace("</body>", probe)
    (out / "probe.html").write_text(index, encoding="utf-8")
    try:
        dom = load(out / "probe.html", tmp_path / "profile").dom
    finally:
        (out / "probe.html").unlink()
    bottoms = {k: int(v) for k, v in re.findall(r'data-(title|flag|summary|question)="(-?\d+)"', dom)}
    assert set(bottoms) == {"title", "flag", "summary", "question"}
    assert all(0 < bottom <= 900 for bottom in bottoms.values()), bottoms
    first = outline(index)
    assert ("h2", "Key messages in plain words") in first.headings
    assert ("h2", "Summary of this version") in first.headings
    assert plain_text(book.var("versions.conclusion_flag")) in htmllib.unescape(index)
    assert f"Version {plain_text(book.var('review.version'))}" in index


# --- the PDF -------------------------------------------------------------------------------------


@needs_poppler
def test_pdf_has_title_page_chapters_captions_and_table_values(built: tuple[Book, Path]) -> None:
    book, out = built
    pdf = pdf_of(out)
    pages = pdf_text(pdf).split("\f")
    first = norm(pages[0])
    assert norm(book.title) in first and f"Version {plain_text(book.var('review.version'))}" in first
    assert "How to cite this version" in first
    text = norm("\n".join(pages))
    for chapter in book.chapters:
        assert norm(chapter.title) in text, chapter.title
        for embed in chapter.embeds:
            assert norm(embed.caption) in text, embed.caption
    sof = next(e for c in book.chapters for e in c.embeds if e.label == "tbl-sof")
    first_row = re.search(r"<tbody.*?<tr>(.*?)</tr>", sof.table_html or "", re.S).group(1)
    cells = [
        norm(htmllib.unescape(re.sub(r"<[^>]+>", "", c)))
        for c in re.findall(r"<td[^>]*>(.*?)</td>", first_row, re.S)
    ]
    assert len(cells) >= 5
    for cell in cells:
        assert cell in text, cell
    assert "Krupnick" in text and "References" in text


@needs_poppler
def test_pdf_footer_page_numbers_and_page_count(built: tuple[Book, Path]) -> None:
    book, out = built
    pdf = pdf_of(out)
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True).stdout
    n_pages = int(re.search(r"Pages:\s+(\d+)", info).group(1))
    assert 30 <= n_pages <= 400
    pages = pdf_text(pdf).split("\f")
    footer = f"version {plain_text(book.var('review.version'))} · literature searched up to"
    numbered = [p for p in pages[1:] if footer in norm(p)]
    assert len(numbered) >= n_pages - 2
    # page 11 of the file is page 10 after the title page; its number is the page's last line
    assert pages[10].split()[-1] == "10", pages[10][-200:]


@needs_poppler
def test_pdf_fonts_are_embedded_and_cover_every_glyph(built: tuple[Book, Path], tmp_path: Path) -> None:
    _, out = built
    pdf = pdf_of(out)
    fonts = subprocess.run(["pdffonts", str(pdf)], capture_output=True, text=True).stdout.splitlines()[2:]
    assert fonts and all(line.split()[-5] == "yes" for line in fonts), fonts  # "emb" column
    assert all("DejaVu" in line.split()[0] for line in fonts), fonts
    source = (out / "book.typ").read_text(encoding="utf-8")
    assert missing_glyphs(source, font_dir(tmp_path / "fonts")) == set()
    text = pdf_text(pdf)
    for glyph in "▲▼◆⊕◯–≥":
        if glyph in source:
            assert glyph in text, glyph
    assert "⊕◯◯◯" in text and "▲" in text


def test_missing_glyphs_finds_what_the_fonts_lack(tmp_path: Path) -> None:
    assert missing_glyphs("▲ ⊕◯ τ² ≥ é", font_dir(tmp_path / "f")) == set()
    assert missing_glyphs("漢 𓀀", font_dir(tmp_path / "f")) == {"漢", "𓀀"}


@needs_chromium
@needs_poppler
def test_screenshots_of_every_chapter(built: tuple[Book, Path], tmp_path: Path) -> None:
    book, out = built
    pages = [out / c.page for c in book.chapters[:2]]
    shots = take_screenshots(pages, pdf_of(out), [c.title for c in book.chapters], tmp_path / "shots")
    names = sorted(p.name for p in shots)
    assert len([n for n in names if n.startswith("pdf-")]) == len(book.chapters) + 1  # + title page
    assert len([n for n in names if n.startswith("html-")]) == 2
    assert all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and p.stat().st_size > 5_000 for p in shots)


# --- the model -----------------------------------------------------------------------------------


def test_chapters_are_numbered_like_the_book(root: Path) -> None:
    markdown, _ = assemble_markdown(Project(root))
    assert re.search(r"^# 1 Background", markdown, re.M)
    assert re.search(r"^# About this living review", markdown, re.M)
    assert re.search(r"^# A Evidence", markdown, re.M)


def test_an_unknown_var_is_refused(project_copy: Path) -> None:
    chapter = project_copy / "chapters" / "results.qmd"
    chapter.write_text(chapter.read_text(encoding="utf-8") + "\n{{< var results.nope >}}\n", encoding="utf-8")
    with pytest.raises(PreviewError, match="unknown var 'results.nope'"):
        assemble_markdown(Project(project_copy))


def test_a_missing_embed_label_is_refused(project_copy: Path) -> None:
    chapter = project_copy / "chapters" / "results.qmd"
    text = chapter.read_text(encoding="utf-8").replace("#fig-direction", "#fig-nowhere", 1)
    chapter.write_text(text, encoding="utf-8")
    with pytest.raises(PreviewError, match="fig-nowhere"):
        assemble_markdown(Project(project_copy))


def test_a_table_is_capped_with_a_note_saying_where_all_rows_are() -> None:
    rows = "".join(f"<tr><td>row {i}</td></tr>" for i in range(12))
    table = f"<table><thead><tr><th>h</th></tr></thead><tbody>{rows}</tbody></table>"
    capped = cap_rows(table, "analysis/x.ipynb", limit=5)
    assert capped.count("<tr>") == 6 and "row 4" in capped and "row 5" not in capped
    assert "first 5 of 12 rows" in capped and "analysis/x.ipynb" in capped
    assert cap_rows(table, "x", limit=12) == table


@pytest.mark.parametrize("name", ["_variables.yml", "_quarto.yml", "CITATION.cff"])
def test_the_book_reads_yaml_as_safe_load_does(name: str) -> None:
    """The book reads YAML through libyaml where PyYAML has it: the same values as ``yaml.safe_load``."""
    import yaml
    from livingreview.project.qmd import load_yaml

    text = (Path(__file__).resolve().parents[1] / name).read_text(encoding="utf-8")
    assert load_yaml(text) == yaml.safe_load(text)
    assert load_yaml("when: 2026-11-30\nn: 1_000\nx: .5\nflag: yes\n") == yaml.safe_load(
        "when: 2026-11-30\nn: 1_000\nx: .5\nflag: yes\n"
    )
