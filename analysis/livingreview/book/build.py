"""``livingreview build``: validate → execute → render (Quarto, or the pandoc HTML book and Typst PDF)."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from livingreview.book.execute import run_all  # the render modules are imported after execution
from livingreview.project.paths import Project
from livingreview.project.qmd import read_quarto_yml
from livingreview.project.transaction import Transaction

RENDER_HINT = 'pip install -e ".[render]"'


class BuildError(RuntimeError):
    """The build stopped; the message says where and why."""


def quarto_path() -> str | None:
    return shutil.which("quarto")


def build(
    project: Project,
    log: Callable[[str], None] = print,
    use_quarto: bool = True,
    force: bool = False,
    screenshots: Path | None = None,
) -> str:
    """Run the whole pipeline; return the path of what was produced (``_book`` or ``_preview/index.html``)."""
    # One transaction: notebooks, _variables.yml and the rendered output change together or not at all.
    quarto = quarto_path() if use_quarto else None
    prose: list = []  # without Quarto, the chapters' prose is parsed and cited while the kernels run

    def prepare(variables: dict) -> None:
        from livingreview.book.render import prepare_prose

        prose.append(prepare_prose(project, variables))

    with Transaction(project.root, "build") as txn:
        # validates while the kernels start
        problems = run_all(project, log, force=force, txn=txn, with_variables=None if quarto else prepare)
        if problems:
            raise BuildError(
                "\n".join(problems) + "\nbuild stopped: data invalid; nothing was executed or written"
            )
        if quarto:
            log("rendering the book with Quarto (HTML and Typst PDF) …")
            txn.claim("_book")
            done = subprocess.run([quarto, "render"], cwd=project.root)
            if done.returncode != 0:
                raise BuildError(f"quarto render failed (exit {done.returncode})")
            out = project.root / "_book"
            log(f"book written: {out}")
            pages = sorted(out.rglob("*.html"))
            pdfs = sorted(out.glob("*.pdf"))
            result = str(out)
        else:
            log(f"quarto not found: writing the HTML book and PDF with pandoc and Typst ({RENDER_HINT})")
            txn.claim(project.preview_dir.relative_to(project.root).as_posix())
            from livingreview.book.preview import pdf_name
            from livingreview.book.render import build_preview

            started = time.perf_counter()
            index = build_preview(project, log, prose=prose[0] if prose else None)
            pdf = index.parent / pdf_name(read_quarto_yml(project.quarto_yml))
            log(
                f"preview written: HTML book {index.relative_to(project.root)}, "
                f"PDF {pdf.relative_to(project.root)}"
            )
            log(f"book rendered in {time.perf_counter() - started:.1f} s")
            pages = [index, *sorted(p for p in index.parent.glob("*.html") if p != index)]
            pdfs = [pdf]
            result = str(index)
    if screenshots is not None:
        from livingreview.book.preview import load_book
        from livingreview.book.screenshots import take_screenshots

        titles = [chapter.title for chapter in load_book(project).chapters]
        written = take_screenshots(
            _reading_order(pages, project), pdfs[0] if pdfs else None, titles, screenshots
        )
        log(f"{len(written)} screenshots written to {screenshots}")
    return result


def _reading_order(pages: list[Path], project: Project) -> list[Path]:
    """HTML pages in the book's chapter order where their names match, the rest after."""
    from livingreview.book.preview import load_book

    order = [chapter.page for chapter in load_book(project).chapters]
    rank = {name: i for i, name in enumerate(order)}
    return sorted(pages, key=lambda p: (rank.get(p.name, len(rank)), str(p)))
