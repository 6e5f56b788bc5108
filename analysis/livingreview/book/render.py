"""Writing the book without Quarto: the HTML book and the PDF into ``_preview/``, switched in one step."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from livingreview.book.html import write_html_book
from livingreview.book.pandoc import ConversionCache
from livingreview.book.pdf import write_pdf
from livingreview.book.preview import Prose, book_asts, load_book, parse_prose, write_figures
from livingreview.project.paths import Project

CACHE_DIR = ".cache/pandoc"  # git-ignored; a rebuild converts only the chapters that changed


def prepare_prose(project: Project, variables: dict) -> Prose | None:
    """The chapters parsed and cited from ``variables`` before they are written, while the
    kernels run (the prose needs no notebook output; the renderer checks that the texts match).

    None where the book cannot be read yet (for example, an embedded cell without a stored
    output); the renderer then parses, and reports, as usual.
    """
    from livingreview.book.variables import variables_text

    try:
        book = load_book(project, variables_yml=variables_text(variables))
        book.cache = ConversionCache(project.root / CACHE_DIR, book.nonce)
        return parse_prose(book)
    except Exception:  # the render meets the same problem, and names it
        return None


def build_preview(
    project: Project,
    log: Callable[[str], None] = lambda _: None,
    pdf: bool = True,
    prose: Prose | None = None,
) -> Path:
    """Write the HTML book (and the PDF) into ``_preview/``; return the path of ``index.html``.

    Everything is written into a staging directory first and switched in one step. ``prose``:
    the chapters parsed by ``prepare_prose``, used if the texts are still the same.
    """
    book = load_book(project, nonce=prose.nonce if prose is not None else None)
    book.cache = ConversionCache(project.root / CACHE_DIR, book.nonce)
    final = project.preview_dir
    stage = final.with_name(final.name + ".staging")
    shutil.rmtree(stage, ignore_errors=True)
    stage.mkdir(parents=True)
    try:
        asts = book_asts(book, prose)
        write_figures(book, stage)
        with ThreadPoolExecutor(max_workers=1) as pool:  # the PDF is written while the HTML pages are
            printed = pool.submit(write_pdf, book, asts, stage, log) if pdf else None
            pages = write_html_book(book, asts, stage)
            log(f"HTML book: {len(pages)} pages")
            if printed is not None:
                path, n_pages = printed.result()
                log(f"PDF: {path.name}, {n_pages} pages")
        old = final.with_name(final.name + ".old")
        shutil.rmtree(old, ignore_errors=True)
        if final.exists():
            final.rename(old)
        stage.rename(final)
        shutil.rmtree(old, ignore_errors=True)
        book.cache.prune()
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    return final / "index.html"
