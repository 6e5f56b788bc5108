"""A one-page HTML preview of the book made with pandoc, for machines without Quarto.

It resolves what Quarto would: ``{{< var >}}`` values, ``{{< embed >}}`` outputs (stored in the
executed notebooks), chapter/figure/table numbers and cross-references, and citations (pandoc
citeproc with the book's CSL). Quarto remains the real renderer; this is a faithful reading copy.
"""

from __future__ import annotations

import html
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from livingreview.paths import Project
from livingreview.qmd import (
    CITE_RE,
    CROSSREF_PREFIXES,
    EMBED_RE,
    HEADING_RE,
    ID_RE,
    VAR_RE,
    BookFile,
    LabelledCell,
    book_files,
    labelled_cells,
    read_quarto_yml,
    strip_front_matter,
)
from livingreview.variables import flatten

BANNER = """<div class="lr-banner" role="note">
<strong>Preview.</strong> This single page was made with pandoc because Quarto is not installed
on this machine. Figures, tables, numbers and citations are the book's own; layout is simplified.
For the full book (HTML site and PDF) run <code>pip install -e ".[render]"</code>, which brings
<code>quarto-cli</code>, then <code>livingreview build</code>.
</div>
"""

CSS = """
body { max-width: 60em; margin: 0 auto; padding: 1em 2em; font-family: system-ui, sans-serif;
       line-height: 1.5; color: #222; }
.lr-banner { background: #FFF4D6; border: 1px solid #E69F00; padding: .75em 1em; margin: 1em 0; }
h1 { border-bottom: 1px solid #ccc; padding-bottom: .2em; margin-top: 2em; }
figure { margin: 1.5em 0; } figure img { max-width: 100%; height: auto; }
figcaption, .lr-caption { font-size: .95em; color: #333; margin: .4em 0; }
.lr-table { overflow-x: auto; margin: 1.5em 0; }
div[class^="callout"] { border-left: 4px solid #0072B2; background: #F2F7FB; padding: .5em 1em;
       margin: 1em 0; }
#TOC { font-size: .9em; }
"""


class PreviewError(RuntimeError):
    """The sources cannot be turned into a preview (missing notebook, label or output)."""


@dataclass
class Numbering:
    """Quarto-style numbers of chapters, sections, figures and tables across the book."""

    labels: dict[str, str] = field(default_factory=dict)  # id -> "Figure 3.1", "Chapter 2", ...


def _chapter_prefix(book_file: BookFile, first_heading_attrs: str, counters: dict[str, int]) -> str:
    if ".unnumbered" in first_heading_attrs or "-}" in first_heading_attrs:
        return ""
    if book_file.appendix:
        counters["appendix"] += 1
        return chr(64 + counters["appendix"])
    counters["chapter"] += 1
    return str(counters["chapter"])


def _first_heading_attrs(text: str) -> str:
    for line in text.splitlines():
        match = HEADING_RE.match(line)
        if match and len(match.group("hashes")) == 1:
            return match.group("attrs") or ""
    return ""


def number_book(sources: list[tuple[BookFile, str]], project: Project) -> tuple[Numbering, list[str]]:
    """Number chapters/sections/floats and return the per-chapter prefixes ("" = unnumbered)."""
    numbering = Numbering()
    counters = {"chapter": 0, "appendix": 0}
    prefixes = []
    for book_file, text in sources:
        prefix = _chapter_prefix(book_file, _first_heading_attrs(text), counters)
        prefixes.append(prefix)
        section = [0, 0, 0]
        for line in text.splitlines():
            match = HEADING_RE.match(line)
            if not match:
                continue
            level = len(match.group("hashes"))
            ident = ID_RE.search(match.group("attrs") or "")
            if level > 1 and level <= 3:
                section[level - 2] += 1
                for i in range(level - 1, 3):
                    section[i] = 0
            if not ident or not prefix:
                continue
            if level == 1:
                kind = "Appendix" if book_file.appendix else "Chapter"
                numbering.labels[ident.group("id")] = f"{kind} {prefix}"
            else:
                numbers = ".".join(str(n) for n in section[: level - 1])
                numbering.labels[ident.group("id")] = f"Section {prefix}.{numbers}"
        counts = {"fig": 0, "tbl": 0}
        for match in EMBED_RE.finditer(text):
            kind = match.group("label").split("-", 1)[0]
            if kind in counts and prefix:
                counts[kind] += 1
                name = "Figure" if kind == "fig" else "Table"
                numbering.labels[match.group("label")] = f"{name} {prefix}.{counts[kind]}"
    return numbering, prefixes


def _resolve_vars(text: str, variables: dict[str, str], where: str) -> str:
    def repl(match: re.Match[str]) -> str:
        key = match.group("key")
        if key not in variables:
            raise PreviewError(f"{where}: unknown var {key!r} (not in _variables.yml)")
        return variables[key]

    return VAR_RE.sub(repl, text)


def _output_html(cell: LabelledCell, label: str, caption_prefix: str) -> str:
    caption = cell.options.get("fig-cap") or cell.options.get("tbl-cap") or ""
    cap_html = html.escape(f"{caption_prefix}: {caption}" if caption_prefix else caption)
    alt = html.escape(cell.options.get("fig-alt", caption), quote=True)
    for output in cell.outputs:
        data = output.get("data", {})
        if label.startswith("fig-") and "image/png" in data:
            src = "data:image/png;base64," + "".join(data["image/png"]).replace("\n", "")
            return (
                f'<figure id="{label}"><img src="{src}" alt="{alt}">'
                f"<figcaption>{cap_html}</figcaption></figure>"
            )
        if "text/html" in data:
            body = "".join(data["text/html"])
            return f'<div id="{label}" class="lr-table"><p class="lr-caption">{cap_html}</p>{body}</div>'
    for output in cell.outputs:
        text = output.get("data", {}).get("text/plain") or output.get("text")
        if text:
            return f'<div id="{label}"><pre>{html.escape("".join(text))}</pre></div>'
    raise PreviewError(f"cell {label!r} has no output to embed; run `livingreview execute` first")


def _resolve_embeds(
    text: str, chapter: Path, numbering: Numbering, cache: dict[Path, dict[str, LabelledCell]]
) -> str:
    def repl(match: re.Match[str]) -> str:
        notebook = (chapter.parent / match.group("path")).resolve()
        if notebook not in cache:
            if not notebook.is_file():
                raise PreviewError(f"{chapter.name}: embedded notebook {match.group('path')} not found")
            cache[notebook] = labelled_cells(notebook)
        label = match.group("label")
        cell = cache[notebook].get(label)
        if cell is None:
            raise PreviewError(f"{chapter.name}: no cell labelled {label!r} in {notebook.name}")
        return "\n```{=html}\n" + _output_html(cell, label, numbering.labels.get(label, "")) + "\n```\n"

    return EMBED_RE.sub(repl, text)


def _resolve_crossrefs(text: str, numbering: Numbering) -> str:
    def repl(match: re.Match[str]) -> str:
        key = match.group("key")
        if not key.startswith(CROSSREF_PREFIXES):
            return match.group(0)
        label = numbering.labels.get(key, f"?{key}")
        return f"[{label}](#{key})"

    return CITE_RE.sub(repl, text)


def _number_headings(text: str, prefix: str) -> str:
    if not prefix:
        return text
    section = [0, 0, 0]
    lines = []
    for line in text.splitlines():
        match = HEADING_RE.match(line)
        if match and len(match.group("hashes")) <= 4:
            level = len(match.group("hashes"))
            if level == 1:
                number = prefix
            elif level <= 3:
                section[level - 2] += 1
                for i in range(level - 1, 3):
                    section[i] = 0
                number = prefix + "." + ".".join(str(n) for n in section[: level - 1])
            else:
                number = ""
            attrs = match.group("attrs")
            title = f"{number} {match.group('title')}".strip()
            line = f"{match.group('hashes')} {title}" + (f" {{{attrs}}}" if attrs else "")
        lines.append(line)
    return "\n".join(lines) + "\n"


def assemble_markdown(project: Project) -> tuple[str, dict]:
    """The whole book as one pandoc-markdown document (plus the book config)."""
    config = read_quarto_yml(project.quarto_yml)
    variables = flatten(yaml.safe_load(project.variables_yml.read_text(encoding="utf-8")) or {})
    files = book_files(config)
    sources = []
    for book_file in files:
        path = project.root / book_file.path
        if not path.is_file():
            raise PreviewError(f"_quarto.yml lists {book_file.path}, which does not exist")
        sources.append((book_file, strip_front_matter(path.read_text(encoding="utf-8"))))
    numbering, prefixes = number_book(sources, project)
    cache: dict[Path, dict[str, LabelledCell]] = {}
    parts = []
    for (book_file, text), prefix in zip(sources, prefixes, strict=True):
        path = project.root / book_file.path
        text = _resolve_vars(text, variables, book_file.path)
        text = _resolve_embeds(text, path, numbering, cache)
        text = _resolve_crossrefs(text, numbering)
        parts.append(_number_headings(text, prefix))
    return "\n\n".join(parts), config


def build_preview(project: Project) -> Path:
    """Write ``_preview/index.html`` (self-contained) and return its path."""
    import pypandoc

    markdown, config = assemble_markdown(project)
    book = config.get("book", {})
    bibliographies = config.get("bibliography", [])
    if isinstance(bibliographies, str):
        bibliographies = [bibliographies]
    out_dir = project.preview_dir
    with tempfile.TemporaryDirectory() as tmp:
        tmpdir = Path(tmp)
        (tmpdir / "banner.html").write_text(BANNER, encoding="utf-8")
        (tmpdir / "style.css").write_text(CSS, encoding="utf-8")
        target = tmpdir / "index.html"
        args = [
            "--standalone",
            "--embed-resources",
            "--citeproc",
            "--toc",
            "--toc-depth=2",
            f"--include-before-body={tmpdir / 'banner.html'}",
            f"--css={tmpdir / 'style.css'}",
            f"--metadata=title:{book.get('title', 'Living review')}",
            f"--metadata=lang:{config.get('lang', 'en')}",
            "--metadata=link-citations:true",
            f"--resource-path={project.root}",
        ]
        if book.get("subtitle"):
            args.append(f"--metadata=subtitle:{book['subtitle']}")
        args += [f"--bibliography={project.root / b}" for b in bibliographies]
        if config.get("csl"):
            args.append(f"--csl={project.root / config['csl']}")
        pypandoc.convert_text(markdown, "html5", format="markdown", extra_args=args, outputfile=str(target))
        out_dir.mkdir(exist_ok=True)
        final = out_dir / "index.html"
        staged = out_dir / ".index.html.tmp"
        staged.write_bytes(target.read_bytes())
        staged.replace(final)
    return final
