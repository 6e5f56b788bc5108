"""Data are text: escaping for Markdown, HTML and Typst, and a pandoc filter that keeps links safe.

Every value that comes from data, metadata or the command line must reach the reader as the literal
text it is. ``markdown_text`` makes a value literal pandoc/Quarto Markdown on one line;
``typst_string`` makes it a Typst string literal; ``SANITIZE_LUA`` runs in every pandoc conversion of
the book (in the citation pass after citeproc) and removes what escaping cannot reach (links from
bibliography fields, raw HTML/TeX/Typst, images from elsewhere).
"""

from __future__ import annotations

import re

# ASCII punctuation that can open a Markdown construct anywhere in a line (pandoc and Quarto):
# emphasis, code, links, raw HTML, attributes, shortcodes, citations, math, sub/superscript, tables.
_ALWAYS = set("\\`*[]{}<>#@$~^|!&")
_INTRAWORD_UNDERSCORE = re.compile(r"(?<![0-9A-Za-z])_|_(?![0-9A-Za-z])")
# …and characters that only matter at the start of a line (lists, block quotes, fenced divs, YAML).
_LEADING = set("-+:=%>")
_ORDERED = re.compile(r"^(\d+)([.)])(?=\s|$)")
_LINEBREAKS = re.compile(r"[\r\n\v\f\x1c-\x1e\x85\u2028\u2029]+")
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1b\x7f]")


def one_line(value: object) -> str:
    """``value`` as text on a single line: line and paragraph breaks become spaces."""
    return _CONTROL.sub("", _LINEBREAKS.sub(" ", str(value))).strip()


def markdown_text(value: object) -> str:
    """``value`` as literal Markdown text on one line (no markup, shortcode or citation survives)."""
    text = one_line(value)
    out = "".join("\\" + ch if ch in _ALWAYS else ch for ch in text)
    out = _INTRAWORD_UNDERSCORE.sub(r"\\_", out)  # snake_case stays as it is (intraword)
    if out[:1] in _LEADING:
        out = "\\" + out
    return _ORDERED.sub(r"\1\\\2", out)


def typst_string(value: object) -> str:
    """``value`` as a Typst string literal (``"…"``); in markup use ``#`` + this."""
    text = _CONTROL.sub("", str(value))
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")
    return '"' + escaped.replace("\t", "\\t") + '"'


def safe_url(url: str) -> bool:
    """http(s) addresses, in-page anchors and relative paths; nothing that runs or opens elsewhere."""
    u = url.strip().lower()
    if u.startswith(("http://", "https://", "#")):
        return True
    return not u.startswith("//") and ":" not in re.split(r"[/?#]", u, maxsplit=1)[0]


# Runs after --citeproc. Links whose target is not http(s), an anchor or a relative path are
# replaced by their text; raw HTML/TeX/Typst becomes visible literal text; images must be local
# (and are dropped altogether with ``lr-no-images``, as in notebook tables).
# Citations (already formatted by citeproc) become spans linking to their entry in the reference list
# (``lr-refs-page`` + "#ref-KEY"), so that no writer turns them into its own citation syntax; with
# ``lr-keep-cites`` (reading a chapter) they are left for the citation pass.
SANITIZE_LUA = r"""
local function safe(url)
  local u = url:lower():gsub("^%s+", "")
  if u:match("^https?://") or u:match("^#") then return true end
  if u:match("^//") then return false end
  return not u:match("^[^/?#]*:")
end

local refs_page = nil
local no_images = false
local keep_cites = false

function Meta(meta)
  if meta["lr-refs-page"] ~= nil then refs_page = pandoc.utils.stringify(meta["lr-refs-page"]) end
  no_images = meta["lr-no-images"] ~= nil
  keep_cites = meta["lr-keep-cites"] ~= nil
end

function Link(el)
  if not safe(el.target) then return el.content end
  el.attributes["onclick"] = nil
  return el
end

function Image(el)
  if no_images or not safe(el.src) or el.src:lower():match("^https?:") then
    return pandoc.Str(pandoc.utils.stringify(el.caption))
  end
  return el
end

function RawInline(el) return pandoc.Code(el.text) end
function RawBlock(el) return pandoc.CodeBlock(el.text) end

function Cite(el)
  if keep_cites then return nil end
  local content = pandoc.walk_inline(pandoc.Span(el.content), {
    Link = function(l) return l.content end,
  }).content
  if refs_page ~= nil and #el.citations > 0 then
    content = { pandoc.Link(content, refs_page .. "#ref-" .. el.citations[1].id) }
  end
  return pandoc.Span(content, { class = "citation" })
end

return { { Meta = Meta }, { Link = Link, Image = Image, RawInline = RawInline,
  RawBlock = RawBlock, Cite = Cite } }
"""


def plain_text(markdown: str) -> str:
    """A Markdown-safe value (from ``markdown_text``) back to its plain text, for titles and footers."""
    return re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", markdown)


class MarkdownText(str):
    """Markdown that is already safe (built from ``markdown_text`` parts); written as it is."""


def markdown_values(values: object) -> object:
    """A ``_variables.yml`` tree with every string made literal Markdown (``MarkdownText`` kept).

    Quarto reads ``{{< var >}}`` values as Markdown, so a title, author, trigger or data value
    holding ``<script>``, a shortcode or a ``@``-reference must be escaped before it is written.
    """
    if isinstance(values, dict):
        return {key: markdown_values(value) for key, value in values.items()}
    if isinstance(values, list | tuple):
        return [markdown_values(value) for value in values]
    if isinstance(values, MarkdownText):
        return one_line(str(values))
    if isinstance(values, str):
        return markdown_text(values)
    return values
