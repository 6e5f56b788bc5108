"""The preview's pandoc passes: a conversion cache that never returns stale text (a rebuild converts
only what changed) and one citation pass whose renderings go back where their citations were."""

from __future__ import annotations

from pathlib import Path

import pytest
from livingreview.book import pandoc
from livingreview.book.pandoc import ConversionCache, convert


def no_pandoc(*_args: object, **_kwargs: object) -> None:
    raise AssertionError("pandoc ran although the conversion was cached")


def test_a_cached_conversion_is_reused_with_the_current_builds_nonce(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = ConversionCache(tmp_path, "aaaaaaaaaaaa")
    out = convert("Some *text* LRXaaaaaaaaaaaaE0X.", "markdown", "html5", cache=first)
    assert "LRXaaaaaaaaaaaaE0X" in out and "<em>text</em>" in out
    assert len(list(tmp_path.iterdir())) == 1

    second = ConversionCache(tmp_path, "bbbbbbbbbbbb")  # the next build has another nonce
    monkeypatch.setattr(pandoc.subprocess, "run", no_pandoc)
    again = convert("Some *text* LRXbbbbbbbbbbbbE0X.", "markdown", "html5", cache=second)
    assert again == out.replace("aaaaaaaaaaaa", "bbbbbbbbbbbb")
    assert "\x00" not in again


def test_anything_that_decides_the_output_is_part_of_the_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = ConversionCache(tmp_path, "aaaaaaaaaaaa")
    convert("*a*", "markdown", "html5", cache=cache)
    outputs = {
        convert("*b*", "markdown", "html5", cache=cache),  # the input
        convert("*a*", "markdown", "typst", cache=cache),  # the target
        convert("*a*", "markdown", "html5", ["--metadata=x:1"], cache=cache),  # an argument
        convert("*a*", "markdown", "html5", sanitize=False, cache=cache),  # the filter
    }
    # five entries; the metadata and the filter leave *a*'s HTML as it is, so three texts
    assert len(list(tmp_path.iterdir())) == 5 and len(outputs) == 3

    (tmp_path / "stray").write_text("x", encoding="utf-8")
    cache.used.clear()
    monkeypatch.setattr(pandoc.subprocess, "run", no_pandoc)
    convert("*a*", "markdown", "html5", cache=cache)
    cache.prune()
    assert len(list(tmp_path.iterdir())) == 1  # only what this build used is kept


def test_citations_are_never_cached(tmp_path: Path) -> None:
    """citeproc reads the bibliography file named on the command line: its key could not see it change."""
    bib = tmp_path / "refs.bib"
    bib.write_text("@book{k, author = {Doe, Jane}, title = {T}, year = {2001}}\n", encoding="utf-8")
    cache = ConversionCache(tmp_path / "cache", "aaaaaaaaaaaa")
    out = convert("See @k.", "markdown", "html5", ["--citeproc", f"--bibliography={bib}"], cache=cache)
    assert "Doe" in out and not (tmp_path / "cache").exists()


def test_a_cache_that_cannot_be_written_only_costs_time(tmp_path: Path) -> None:
    blocked = tmp_path / "file"
    blocked.write_text("not a directory", encoding="utf-8")
    cache = ConversionCache(blocked / "pandoc", "aaaaaaaaaaaa")
    assert "<em>a</em>" in convert("*a*", "markdown", "html5", cache=cache)


def test_citations_are_collected_and_put_back_in_reading_order() -> None:
    """The citation pass renders every citation of the book at once; each rendering goes back to
    the place of its citation, wherever it sits (lists, notes), and the reference list to ``#refs``."""
    from livingreview.book.preview import _visit_citations

    def cite(key: str) -> dict:
        return {"t": "Cite", "c": [[{"citationId": key}], [{"t": "Str", "c": f"@{key}"}]]}

    blocks = [
        {
            "t": "Para",
            "c": [{"t": "Str", "c": "a"}, cite("k1"), {"t": "Note", "c": [{"t": "Para", "c": [cite("k2")]}]}],
        },
        {"t": "BulletList", "c": [[{"t": "Plain", "c": [cite("k3"), {"t": "Str", "c": "b"}]}]]},
        {"t": "Div", "c": [["refs", [], []], []]},
    ]
    seen: list[str] = []
    _visit_citations(blocks, lambda c: seen.append(c["c"][0][0]["citationId"]) or [c], lambda _d: None)
    assert seen == ["k1", "k2", "k3"]

    rendered = iter([[{"t": "Str", "c": "One"}], [{"t": "Str", "c": "Two"}], [{"t": "Str", "c": "3"}] * 2])
    refs = {"t": "Div", "c": [["refs", [], []], [{"t": "Para", "c": [{"t": "Str", "c": "Ref"}]}]]}
    _visit_citations(blocks, lambda _c: next(rendered), lambda div: div.update(refs))
    assert blocks[0]["c"][1] == {"t": "Str", "c": "One"}
    assert blocks[0]["c"][2]["c"][0]["c"] == [{"t": "Str", "c": "Two"}]
    assert blocks[1]["c"][0][0]["c"] == [
        {"t": "Str", "c": "3"},
        {"t": "Str", "c": "3"},
        {"t": "Str", "c": "b"},
    ]
    assert blocks[2] == refs
