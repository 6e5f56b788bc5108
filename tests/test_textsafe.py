"""Escaping for Markdown and Typst, the link filter, and the escaped ``_variables.yml``: data stay text."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typst
import yaml
from livingreview.book.pandoc import convert
from livingreview.book.variables import compute_project_variables
from livingreview.project.paths import Project
from livingreview.text.safe import (
    MarkdownText,
    markdown_text,
    markdown_values,
    one_line,
    safe_url,
    typst_string,
)
from payloads import PAYLOADS


def pandoc_plain(markdown: str) -> str:
    """What a reader sees of ``markdown`` (straight quotes kept), read by pandoc as one paragraph."""
    doc = json.loads(convert(markdown, "markdown", "json"))
    assert len(doc["blocks"]) == 1 and doc["blocks"][0]["t"] == "Para", doc["blocks"]
    return convert(markdown, "markdown-smart", "plain", ["--wrap=none"]).strip()


def inline_kinds(nodes: list) -> set[str]:
    """Kinds of inline elements, recursively (``Quoted`` is typography: look inside it)."""
    kinds: set[str] = set()
    for node in nodes:
        kinds.add(node["t"])
        if node["t"] == "Quoted":
            kinds |= inline_kinds(node["c"][1])
        elif node["t"] == "Emph":
            kinds |= inline_kinds(node["c"])
    return kinds


@pytest.mark.parametrize("payload", PAYLOADS)
def test_markdown_text_is_read_back_as_the_same_literal_text(payload: str) -> None:
    escaped = markdown_text(payload)
    assert "\n" not in escaped
    doc = json.loads(convert(escaped, "markdown", "json"))
    kinds = inline_kinds(doc["blocks"][0]["c"])
    assert kinds <= {"Str", "Space", "Quoted"}, kinds  # no link, image, raw, cite, code, math …
    assert pandoc_plain(escaped) == one_line(payload)


@pytest.mark.parametrize("payload", ["# heading", "- item", "1. item", "+ x", "> quote", ": def", "::: div"])
def test_markdown_text_escapes_block_openers_at_the_start(payload: str) -> None:
    assert pandoc_plain(markdown_text(payload)) == payload


@pytest.mark.parametrize("payload", PAYLOADS)
def test_typst_string_is_printed_literally(payload: str, tmp_path: Path) -> None:
    source = tmp_path / "t.typ"
    source.write_text(f"#set page(width: 40cm, height: auto)\n#{typst_string(payload)}\n", encoding="utf-8")
    typst.compile(str(source), root=str(tmp_path))  # compiles: nothing was read, imported or evaluated
    assert typst.query(str(source), "heading", root=str(tmp_path)) == "[]"


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("https://doi.org/10.1/x", True),
        ("http://example.org", True),
        ("#fig-x", True),
        ("results.html#sec-x", True),
        ("javascript:alert(1)", False),
        (" JavaScript:alert(1)", False),
        ("data:text/html,<script>", False),
        ("vbscript:x", False),
        ("//evil.example/x", False),
        ("file:///etc/passwd", False),
    ],
)
def test_safe_url(url: str, ok: bool) -> None:
    assert safe_url(url) is ok


def test_sanitize_filter_unlinks_javascript_and_turns_raw_into_text() -> None:
    markdown = "[a](javascript:alert(1)) [b](https://example.org) `<b>x</b>`{=html} ![i](data:x)\n"
    out = convert(markdown, "markdown", "html5")
    assert "javascript:" not in out and 'href="https://example.org"' in out
    assert "<b>x</b>" not in out and "&lt;b&gt;x&lt;/b&gt;" in out
    assert "<img" not in out


def test_markdown_values_keep_safe_markdown_and_escape_the_rest() -> None:
    values = {"a": {"b": "<b>x</b>", "n": 3}, "c": MarkdownText("*title*"), "d": ["@x"]}
    assert markdown_values(values) == {"a": {"b": "\\<b\\>x\\</b\\>", "n": 3}, "c": "*title*", "d": ["\\@x"]}


def test_variables_from_hostile_metadata_are_literal_markdown(project_copy: Path) -> None:
    """CITATION.cff title/authors and living.yml triggers reach ``_variables.yml`` as literal text."""
    cff_path = project_copy / "CITATION.cff"
    cff = yaml.safe_load(cff_path.read_text(encoding="utf-8"))
    cff["title"] = PAYLOADS[0] + " " + PAYLOADS[3]
    cff["authors"] = [{"name": PAYLOADS[7]}]
    cff_path.write_text(yaml.safe_dump(cff, allow_unicode=True), encoding="utf-8")
    living_path = project_copy / "living.yml"
    living = yaml.safe_load(living_path.read_text(encoding="utf-8"))
    living["triggers"] = [PAYLOADS[12], PAYLOADS[9]]
    living_path.write_text(yaml.safe_dump(living, allow_unicode=True), encoding="utf-8")

    variables = compute_project_variables(Project(project_copy))
    review, triggers = variables["review"], variables["living"]["triggers"]
    assert pandoc_plain(review["title"]) == one_line(cff["title"])
    assert pandoc_plain(review["authors"]) == one_line(PAYLOADS[7])
    assert "\n" not in triggers and "Injected chapter" in pandoc_plain(triggers)
    citation = json.loads(convert(review["citation"], "markdown", "json"))["blocks"][0]["c"]
    assert inline_kinds(citation) <= {"Str", "Space", "Emph", "Quoted"}  # the title in italics, nothing else
    assert "script" in pandoc_plain(review["citation"])
