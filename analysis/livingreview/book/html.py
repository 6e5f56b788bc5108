"""The HTML book without Quarto: one page per chapter, a sidebar, previous/next links, no script.

Each chapter is converted by its own pandoc run (citations through citeproc, links to the
reference page); embedded tables go through pandoc's HTML reader so that only their structure
and text survive; long tables fold into ``<details>``. A Content-Security-Policy forbids scripts.
"""

from __future__ import annotations

import html
import re
from pathlib import Path

from livingreview.book.pandoc import convert, parallel_map
from livingreview.book.preview import Book, Chapter, Embed, pdf_name
from livingreview.text.safe import plain_text

LONG_TABLE_ROWS = 20
CSP = (
    "default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"
)

CSS = """
:root { --accent: #0b5394; --muted: #555; --rule: #d9dee3; }
* { box-sizing: border-box; }
body { margin: 0; font: 16px/1.5 system-ui, -apple-system, "Segoe UI", "DejaVu Sans", sans-serif;
  color: #1d1d1f; }
a { color: var(--accent); }
.lr-top { display: flex; gap: 1em; align-items: baseline; padding: .5em 1.5em;
  border-bottom: 1px solid var(--rule);
  background: #f6f8fa; font-size: .9em; }
.lr-top a { font-weight: 600; text-decoration: none; }
.lr-top .lr-meta { color: var(--muted); margin-left: auto; }
.lr-layout { display: flex; align-items: flex-start; }
.lr-sidebar { flex: 0 0 17em; position: sticky; top: 0; max-height: 100vh; overflow-y: auto;
  padding: 1em 1em 2em 1.5em;
  font-size: .88em; border-right: 1px solid var(--rule); }
.lr-sidebar ol { list-style: none; padding: 0; margin: 0; }
.lr-sidebar li { margin: .25em 0; }
.lr-sidebar ol ol { margin: .2em 0 .4em .9em; font-size: .95em; }
.lr-sidebar .lr-current > a { font-weight: 700; color: #000; }
.lr-sidebar .lr-group { margin-top: .9em; color: var(--muted); text-transform: uppercase; font-size: .8em;
  letter-spacing: .04em; }
main { flex: 1 1 auto; min-width: 0; max-width: 52em; padding: 0 2em 2em; }
h1 { font-size: 1.8em; margin: .6em 0 .4em; line-height: 1.2; }
h2 { font-size: 1.3em; margin-top: 1.4em; border-bottom: 1px solid var(--rule); padding-bottom: .15em; }
.lr-titleblock { margin: 1em 0 0; padding: .8em 1em; background: #f2f6fa;
  border-left: 4px solid var(--accent); }
.lr-titleblock .lr-title { font-size: 1.35em; font-weight: 700; margin: 0; line-height: 1.25; }
.lr-titleblock .lr-subtitle { margin: .1em 0 .3em; color: var(--muted); }
.lr-titleblock .lr-version { margin: 0; font-size: .95em; }
.callout-important, .callout-note, .callout-tip { border-left: 4px solid #e69f00; background: #fff8e6;
  padding: .2em 1em; margin: 1em 0; }
.callout-note { border-left-color: var(--accent); background: #f2f6fa; }
.callout-tip { border-left-color: #009e73; background: #eef8f4; }
.callout-important h2, .callout-note h2, .callout-tip h2 { font-size: 1em; border: 0; margin: .5em 0 .2em; }
figure { margin: 1.5em 0; } figure img { max-width: 100%; height: auto; }
figcaption, .lr-caption { font-size: .92em; color: #333; margin: .4em 0; }
.lr-table { overflow-x: auto; margin: 1.5em 0; }
.lr-table table { border-collapse: collapse; font-size: .85em; width: 100%; }
.lr-table th, .lr-table td { border-bottom: 1px solid var(--rule); padding: .3em .5em;
  vertical-align: top; text-align: left; }
.lr-table thead th { border-bottom: 2px solid #999; }
.lr-table tfoot td { font-size: .9em; color: var(--muted); border: 0; }
details > summary { cursor: pointer; color: var(--accent); margin: .3em 0; }
.lr-pager { display: flex; justify-content: space-between; gap: 1em; margin-top: 3em; padding-top: 1em;
  border-top: 1px solid var(--rule); }
.lr-pager a { text-decoration: none; }
footer { padding: 1em 1.5em 2em; color: var(--muted); font-size: .85em; border-top: 1px solid var(--rule); }
.csl-entry { margin: .4em 0; padding-left: 1.5em; text-indent: -1.5em; }
code { font-size: .9em; }
@media (max-width: 900px) { .lr-layout { display: block; } .lr-sidebar { position: static; max-height: none;
  border-right: 0; border-bottom: 1px solid var(--rule); } }
"""

PAGE = """<!DOCTYPE html>
<html lang="{lang}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="{csp}">
<title>{page_title}</title>
<style>{css}</style>
</head>
<body>
<header class="lr-top"><a href="index.html">{short_title}</a><span class="lr-meta">{meta}</span></header>
<div class="lr-layout">
<nav class="lr-sidebar" aria-label="Chapters">
{sidebar}
</nav>
<main id="content">
{titleblock}{body}
<nav class="lr-pager" aria-label="Previous and next chapter">{pager}</nav>
</main>
</div>
<footer>{footer}</footer>
</body>
</html>
"""


def _figure_html(embed: Embed) -> str:
    return (
        f'<figure id="{html.escape(embed.label)}" class="lr-figure">'
        f'<img src="figures/{html.escape(embed.label)}.png" width="{round(embed.width_px)}" '
        f'alt="{html.escape(embed.alt)}">'
        f"<figcaption>{html.escape(embed.caption)}</figcaption></figure>"
    )


def _table_html(embed: Embed, table: str) -> str:
    rows = len(re.findall(r"<tr\b", table.split("<tbody", 1)[-1].split("</tbody>", 1)[0]))
    caption = f'<p class="lr-caption">{html.escape(embed.caption)}</p>'
    if rows > LONG_TABLE_ROWS:
        table = f"<details><summary>Show all {rows} rows</summary>\n{table}\n</details>"
    return f'<div id="{html.escape(embed.label)}" class="lr-table">{caption}\n{table}\n</div>'


def chapter_body(book: Book, chapter: Chapter, ast: str) -> str:
    """The chapter's HTML from its pandoc AST, with its figures and tables in place of their tokens."""
    body = convert(ast, "json", "html5", where=chapter.book_file.path, sanitize=False, cache=book.cache)
    for embed in chapter.embeds:
        if embed.table_html is not None:
            pattern = rf"<p>{embed.token}</p>(.*?)<p>{embed.token}END</p>"
            body, n = re.subn(
                pattern, lambda m, e=embed: _table_html(e, m.group(1).strip()), body, flags=re.S
            )
        else:
            piece = _figure_html(embed) if embed.png is not None else _text_html(embed)
            body, n = re.subn(rf"<p>{embed.token}</p>", lambda _m, p=piece: p, body)
        if n != 1:
            raise RuntimeError(f"{chapter.book_file.path}: {embed.label} not found in pandoc output")
    return body


def _text_html(embed: Embed) -> str:
    return f'<div id="{html.escape(embed.label)}"><pre>{html.escape(embed.text or "")}</pre></div>'


def _sections(body: str) -> list[tuple[str, str]]:
    return [
        (ident, plain_html(title))
        for ident, title in re.findall(r'<h2 id="([^"]+)"[^>]*>(.*?)</h2>', body, re.S)
        if not ident.startswith(("conclusions-since", "how-to-cite"))
    ]


def plain_html(fragment: str) -> str:
    return html.escape(html.unescape(re.sub(r"<[^>]+>", "", fragment)).strip())


def _sidebar(book: Book, current: Chapter, sections: list[tuple[str, str]]) -> str:
    items = []
    appendix_started = False
    for chapter in book.chapters:
        if chapter.book_file.appendix and not appendix_started:
            appendix_started = True
            items.append('<li class="lr-group">Appendices</li>')
        link = f'<a href="{chapter.page}">{html.escape(chapter.title)}</a>'
        if chapter is current:
            subs = "".join(f'<li><a href="#{html.escape(i)}">{t}</a></li>' for i, t in sections)
            items.append(f'<li class="lr-current" aria-current="page">{link}<ol>{subs}</ol></li>')
        else:
            items.append(f"<li>{link}</li>")
    return "<ol>\n" + "\n".join(items) + "\n</ol>"


def _pager(book: Book, index: int) -> str:
    out = []
    if index > 0:
        prev = book.chapters[index - 1]
        out.append(f'<a rel="prev" href="{prev.page}">← {html.escape(prev.title)}</a>')
    else:
        out.append("<span></span>")
    if index + 1 < len(book.chapters):
        nxt = book.chapters[index + 1]
        out.append(f'<a rel="next" href="{nxt.page}">{html.escape(nxt.title)} →</a>')
    return "".join(out)


def write_html_book(book: Book, asts: list[str], out_dir: Path) -> list[Path]:
    """One page per chapter in ``out_dir`` (the first is ``index.html``); return their paths."""
    bodies = parallel_map(lambda pair: chapter_body(book, *pair), list(zip(book.chapters, asts, strict=True)))
    version = plain_text(book.var("review.version"))
    searched = plain_text(book.var("review.last_searched"))
    released = plain_text(book.var("review.date_released"))
    meta = html.escape(f"version {version} · literature searched up to {searched}")
    pdf = pdf_name(book.config)
    footer = (
        f'{html.escape(book.title)} · {meta} · <a href="{html.escape(pdf)}">PDF</a><br>'
        "Made with pandoc because Quarto is not installed on this machine; for the Quarto book run "
        '<code>pip install -e ".[render]"</code>, then <code>livingreview build</code>.'
    )
    paths = []
    for index, (chapter, body) in enumerate(zip(book.chapters, bodies, strict=True)):
        titleblock = ""
        if index == 0:
            titleblock = (
                f'<div class="lr-titleblock"><p class="lr-title">{html.escape(book.title)}</p>'
                f'<p class="lr-subtitle">{html.escape(book.subtitle)}</p>'
                f'<p class="lr-version">Version {html.escape(version)}, released {html.escape(released)} · '
                f"literature searched up to {html.escape(searched)} · "
                f'<a href="{html.escape(pdf)}">PDF of this version</a></p></div>\n'
            )
        page = PAGE.format(
            lang=html.escape(str(book.config.get("lang", "en"))),
            csp=CSP,
            page_title=html.escape(f"{chapter.title} – {book.title}"),
            css=CSS,
            short_title=html.escape(book.title),
            meta=meta,
            sidebar=_sidebar(book, chapter, _sections(body)),
            titleblock=titleblock,
            body=body,
            pager=_pager(book, index),
            footer=footer,
        )
        path = out_dir / chapter.page
        path.write_text(page, encoding="utf-8")
        paths.append(path)
    return paths
