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


def test_citations_are_cached_by_what_the_bibliography_and_style_hold(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """citeproc reads the files named on the command line: their bytes are in the key, so an edited
    bibliography converts again, and an unchanged one is not read by pandoc a second time."""
    bib = tmp_path / "refs.bib"
    bib.write_text("@book{k, author = {Doe, Jane}, title = {T}, year = {2001}}\n", encoding="utf-8")
    cache = ConversionCache(tmp_path / "cache", "aaaaaaaaaaaa")
    args = ["--citeproc", f"--bibliography={bib}"]
    out = convert("See @k.", "markdown", "html5", args, cache=cache)
    assert "Doe" in out and len(list((tmp_path / "cache").iterdir())) == 1

    real_run = pandoc.subprocess.run
    monkeypatch.setattr(pandoc.subprocess, "run", no_pandoc)
    assert convert("See @k.", "markdown", "html5", args, cache=cache) == out
    assert "Doe" in convert("See @k.", "markdown", "html5", args, cache=cache)

    bib.write_text("@book{k, author = {Roe, Rick}, title = {T}, year = {2001}}\n", encoding="utf-8")
    monkeypatch.setattr(pandoc.subprocess, "run", real_run)
    again = convert("See @k.", "markdown", "html5", args, cache=cache)
    assert "Roe" in again and "Doe" not in again

    # A file the key cannot see (a template), or one that cannot be read: never cached.
    template = tmp_path / "t.html"
    template.write_text("$body$", encoding="utf-8")
    before = len(list((tmp_path / "cache").iterdir()))
    convert("*a*", "markdown", "html5", [f"--template={template}"], cache=cache)
    missing = ["--citeproc", f"--bibliography={tmp_path / 'none.bib'}"]
    with pytest.raises(pandoc.PandocError):
        convert("See @k.", "markdown", "html5", missing, cache=cache)
    assert len(list((tmp_path / "cache").iterdir())) == before


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


@pytest.fixture
def parsed(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The pages of the chapters pandoc parses from Markdown, in the order they are parsed."""
    from livingreview.book import preview

    pages: list[str] = []
    real_parse = preview._parse

    def counting(book: preview.Book, chapter: preview.Chapter, text: str) -> dict:
        pages.append(chapter.page)
        return real_parse(book, chapter, text)

    monkeypatch.setattr(preview, "_parse", counting)
    return pages


def _outputs(directory: Path) -> dict[str, bytes]:
    files = sorted(p for p in directory.rglob("*") if p.is_file())
    return {p.relative_to(directory).as_posix(): p.read_bytes() for p in files}


def test_prose_parsed_while_the_kernels_run_is_used_only_for_the_same_texts(
    project_copy: Path, parsed: list[str]
) -> None:
    """``build`` parses and cites the chapters from the variables it is about to write, while the
    kernels run; the renderer uses that only when its own texts are the same, and the book is
    byte for byte the one it would have made by itself."""
    import yaml
    from livingreview.book.render import build_preview, prepare_prose
    from livingreview.project.paths import Project

    project = Project(project_copy)
    variables = yaml.safe_load(project.variables_yml.read_text(encoding="utf-8"))
    alone = _outputs(build_preview(project).parent)
    chapters = len(parsed)
    assert chapters > 5
    # The PDF is dated by the release, not by the build (so that the comparisons below can hold).
    (pdf,) = (v for k, v in alone.items() if k.endswith(".pdf"))
    released = str(variables["review"]["date_released"]).replace("-", "")
    assert f"/CreationDate(D:{released}000000Z)".encode() in pdf

    parsed.clear()
    prose = prepare_prose(project, variables)
    assert prose is not None and len(parsed) == chapters
    parsed.clear()
    assert _outputs(build_preview(project, prose=prose).parent) == alone
    assert parsed == []  # nothing parsed again

    # Prose from other variables (one value differs): the renderer parses the book itself.
    changed = {**variables, "review": {**variables["review"], "version": "9.9.9"}}
    stale = prepare_prose(project, changed)
    assert stale is not None
    parsed.clear()
    assert _outputs(build_preview(project, prose=stale).parent) == alone
    assert len(parsed) == chapters

    # A book that cannot be read yet: no prose, and nothing raised.
    (project_copy / "chapters" / "methods.qmd").unlink()
    assert prepare_prose(project, variables) is None


def test_a_build_parses_each_chapter_once(project_copy: Path, parsed: list[str]) -> None:
    """Without Quarto, ``build`` hands the prose it parsed while the kernels ran to the renderer."""
    from livingreview.book import preview
    from livingreview.book.build import build
    from livingreview.project.paths import Project

    project = Project(project_copy)
    build(project, log=lambda _line: None, use_quarto=False)
    pages = [chapter.page for chapter in preview.load_book(project).chapters]
    assert sorted(parsed) == sorted(pages)
