"""The PDF of the book without Quarto: pandoc writes Typst chapter by chapter, the ``typst`` wheel compiles.

Title page (version, release date, citation), contents, numbered chapters and appendices, figures at
their design size from high-resolution PNGs, tables as real Typst tables with captions, references,
page numbers and a footer with the version and search date. Fonts are the DejaVu families shipped
with matplotlib (system fonts are ignored, so every machine makes the same PDF), and its creation
date is the release date (so a version's PDF is the same bytes whenever it is built);
``missing_glyphs`` lists any character they cannot show.
"""

from __future__ import annotations

import datetime
import re
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from livingreview.book.pandoc import convert, parallel_map
from livingreview.book.preview import Book, Chapter, Embed, pdf_name
from livingreview.text.safe import plain_text, typst_string

FONT_FILES = (
    "DejaVuSerif",
    "DejaVuSerif-Bold",
    "DejaVuSerif-Italic",
    "DejaVuSerif-BoldItalic",
    "DejaVuSans",
    "DejaVuSans-Bold",
    "DejaVuSans-Oblique",
    "DejaVuSansMono",
)
TEXT_WIDTH_IN = 6.3
MAX_FIGURE_HEIGHT_IN = 8.6
DESIGN_PPI = 100  # the figures' design size: matplotlib's figure.dpi in the book style

PREAMBLE = """#set document(title: {title}, author: {author})
#set page(paper: "a4", margin: (x: 2.3cm, top: 2.4cm, bottom: 2.6cm))
#set text(font: ("DejaVu Serif", "DejaVu Sans"), size: 9.5pt, lang: {lang})
#set par(justify: true, leading: 0.62em)
#show heading: set text(font: "DejaVu Sans")
#show heading.where(level: 1): it => {{
  pagebreak(weak: true)
  v(1.5cm)
  block(below: 1.2em, text(size: 20pt, weight: "bold", it.body))
}}
#show heading.where(level: 2): set text(size: 12.5pt)
#show heading.where(level: 3): set text(size: 10.5pt)
#show link: set text(fill: rgb("#0b5394"))
#set figure(numbering: none, gap: 0.6em)
#show figure.caption: it => align(left, text(size: 8.5pt, it.body))
#show figure.where(kind: table): set figure.caption(position: top)
#show figure.where(kind: table): set block(breakable: true)
#set table(stroke: none, inset: (x: 3pt, y: 2.5pt))
#show table: set text(size: 7.5pt)
#show table: set par(justify: false)
#show table: set text(hyphenate: true)
#show table: set align(left)
#show raw: set text(font: "DejaVu Sans Mono", size: 8pt)
#show table.cell.where(y: 0): set text(weight: "bold")

#page(footer: none)[
  #v(3.2cm)
  #set par(justify: false)
  #text(font: "DejaVu Sans", size: 22pt, weight: "bold", hyphenate: false)[#{title}]
  #v(0.4em)
  #text(size: 14pt)[#{subtitle}]
  #v(1.4cm)
  #text(size: 12pt)[#{version_line}]
  #v(0.3em)
  #text(size: 11pt)[#{search_line}]
  #v(1fr)
  #block(width: 100%, inset: 10pt, fill: rgb("#f2f6fa"))[
    *How to cite this version* \\
    {citation}
  ]
  #v(0.6cm)
  #text(size: 8pt, fill: gray)[#{made_with}]
]

#set page(numbering: "1", footer: context [
  #set text(size: 7.5pt, fill: rgb("#555555"))
  #{footer} #h(1fr) #counter(page).display()
])
#counter(page).update(1)
#outline(title: [Contents], depth: 1, indent: auto)
"""


def _figure(embed: Embed) -> str:
    width_in = embed.width_px / DESIGN_PPI
    height_in = embed.height_px / DESIGN_PPI
    scale = min(
        1.0,
        TEXT_WIDTH_IN / width_in if width_in else 1.0,
        MAX_FIGURE_HEIGHT_IN / height_in if height_in else 1.0,
    )
    return (
        f'#figure(image("figures/{embed.label}.png", width: {width_in * scale:.3f}in, '
        f"alt: {typst_string(embed.alt)}), caption: [#{typst_string(embed.caption)}], kind: image)"
        f" <{embed.label}>"
    )


def _table(embed: Embed, table: str) -> str:
    table = table.replace("table.footer(", "table.footer(repeat: false, ")
    return f"#figure(kind: table, caption: [#{typst_string(embed.caption)}])[\n{table}\n] <{embed.label}>"


def chapter_typst(book: Book, chapter: Chapter, ast: str) -> str:
    """The chapter as Typst markup from its pandoc AST, with its figures and tables in place."""
    body = convert(ast, "json", "typst", where=chapter.book_file.path, sanitize=False, cache=book.cache)
    pages = "|".join(re.escape(c.page) for c in book.chapters)
    body = re.sub(rf'#link\("(?:{pages})#([A-Za-z_][\w:.-]*)"\)', r"#link(<\1>)", body)
    for embed in chapter.embeds:
        if embed.table_html is not None:
            pattern = rf"^{embed.token}$(.*?)^{embed.token}END$"
            body, n = re.subn(
                pattern, lambda m, e=embed: _table(e, m.group(1).strip()), body, flags=re.S | re.M
            )
        else:
            piece = _figure(embed) if embed.png is not None else _text(embed)
            body, n = re.subn(rf"^{embed.token}$", lambda _m, p=piece: p, body, flags=re.M)
        if n != 1:
            raise RuntimeError(f"{chapter.book_file.path}: {embed.label} not found in pandoc output")
    marker = (
        f"#context [#metadata((page: here().page(), page_name: {typst_string(chapter.page)})) <lr-chapter>]"
    )
    return f"{marker}\n{body}"


def _text(embed: Embed) -> str:
    return f"#raw({typst_string(embed.text or '')}, block: true) <{embed.label}>"


LABEL_DEF = re.compile(r"<([A-Za-z_][\w:.-]*)>\s*$", re.M)
LINK_TO_LABEL = re.compile(r"#link\(<([A-Za-z_][\w:.-]*)>\)")


def unlink_missing_labels(text: str) -> str:
    """Links to labels that are missing or defined twice become plain text (Typst would stop)."""
    counts: dict[str, int] = {}
    for label in LABEL_DEF.findall(text):
        counts[label] = counts.get(label, 0) + 1
    return LINK_TO_LABEL.sub(lambda m: m.group(0) if counts.get(m.group(1)) == 1 else "#box", text)


def typst_source(book: Book, asts: list[str]) -> str:
    """The whole book as one Typst document (chapters converted in parallel)."""
    bodies = parallel_map(
        lambda pair: chapter_typst(book, *pair), list(zip(book.chapters, asts, strict=True))
    )
    version = plain_text(book.var("review.version"))
    released = plain_text(book.var("review.date_released"))
    searched = plain_text(book.var("review.last_searched"))
    citation = convert(book.var("review.citation"), "markdown", "typst", where="review.citation")
    preamble = PREAMBLE.format(
        title=typst_string(book.title),
        author=typst_string(plain_text(book.var("review.authors")) or "Living review"),
        lang=typst_string(str(book.config.get("lang", "en"))),
        subtitle=typst_string(book.subtitle),
        version_line=typst_string(f"Version {version}, released {released}"),
        search_line=typst_string(f"Literature searched up to {searched}"),
        citation=citation.strip(),
        made_with=typst_string(
            "Made with pandoc and Typst from the review's sources (Quarto not installed)."
        ),
        footer=typst_string(f"Living review · version {version} · literature searched up to {searched}"),
    )
    return unlink_missing_labels(preamble + "\n".join(bodies))


def font_dir(into: Path) -> Path:
    """The DejaVu fonts that matplotlib ships, linked into ``into`` (the only fonts Typst may use)."""
    import matplotlib

    source = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
    into.mkdir(parents=True, exist_ok=True)
    for name in FONT_FILES:
        target = into / f"{name}.ttf"
        if not target.exists():
            target.symlink_to(source / f"{name}.ttf")
    return into


def missing_glyphs(text: str, fonts: Path) -> set[str]:
    """Characters of ``text`` that none of the fonts in ``fonts`` can show."""
    from fontTools.ttLib import TTFont

    covered: set[int] = set()
    for path in sorted(fonts.glob("*.ttf")):
        with TTFont(path, lazy=True) as font:
            covered |= set(font.getBestCmap())
    return {ch for ch in set(text) if ord(ch) > 126 and ord(ch) not in covered and not ch.isspace()}


def release_timestamp(book: Book) -> datetime.datetime | None:
    """Midnight UTC of the version's release date: the PDF's creation date, so that the same
    version gives the same PDF, byte for byte, wherever and whenever it is built (None: no date)."""
    try:
        day = datetime.date.fromisoformat(plain_text(book.var("review.date_released")))
    except ValueError:
        return None
    return datetime.datetime(day.year, day.month, day.day, tzinfo=datetime.UTC)


def write_pdf(
    book: Book, asts: list[str], out_dir: Path, log: Callable[[str], None] = print
) -> tuple[Path, int]:
    """Compile the book into ``out_dir`` (which holds ``figures/``); return the PDF and its page count."""
    import typst

    source = typst_source(book, asts)
    main = out_dir / "book.typ"
    main.write_text(source, encoding="utf-8")
    target = out_dir / pdf_name(book.config)
    with tempfile.TemporaryDirectory() as tmp, ThreadPoolExecutor(max_workers=1) as pool:
        fonts = font_dir(Path(tmp) / "fonts")
        compiled = pool.submit(  # Typst releases the GIL: the glyph check runs meanwhile
            typst.compile,
            str(main),
            root=str(out_dir),
            font_paths=[str(fonts)],
            ignore_system_fonts=True,
            timestamp=release_timestamp(book),
        )
        missing = missing_glyphs(source, fonts)
        if missing:
            log(f"warning: the PDF fonts cannot show {''.join(sorted(missing))!r}; they will print as boxes")
        pdf = compiled.result()
        target.write_bytes(pdf)
    pages = len(re.findall(rb"/Type\s*/Page(?![A-Za-z])", pdf))
    return target, pages
