"""The bibliography: complete entries for included studies, visible flags, kept proper nouns, safe links."""

from __future__ import annotations

import csv
import datetime as dt
import re
import shutil
import subprocess
import sys
from html import unescape
from pathlib import Path

import pytest
from livingreview.book.preview import load_book
from livingreview.book.render import build_preview
from livingreview.checks.bibliography import (
    AUTHOR_FLAG,
    BARE_IP,
    COPY_HOSTS,
    FLAG,
    TITLE_FLAG,
    YEAR_FLAG,
    included_keys,
)
from livingreview.checks.validate import validate_data
from livingreview.data.bib import read_bibliography
from livingreview.project.paths import Project

TODAY = dt.date(2026, 11, 30)
REF = re.compile(r'<div id="ref-([^"]+)" class="csl-entry"[^>]*>(.*?)</div>', re.S)
HREF = re.compile(r'href="([^"]*)"')
TDCRP = "National Institute of Mental Health Treatment of Depression Collaborative Research Program"
# Proper nouns and acronyms that APA sentence case would lower-case unless braced in the title.
KEPT = {
    "Krupnick1996": [TDCRP],
    "Meyer2002": [TDCRP],
    "Keller2010": ["PTSD"],
    "Matsunaga2019": ["Japanese", "STAR-J"],
    "VirtualCare2022": ["COVID-19"],
    "Bauer2014": ["Diabetes Study of Northern California", "DISTANCE"],
    "Santiago2005": ["CBASP"],
    "Viechtbauer2010": [" R "],
    "Page2021": ["PRISMA"],
}


# --- helpers ---------------------------------------------------------------------------------------


def text_of(fragment: str) -> str:
    return " ".join(unescape(re.sub(r"<[^>]+>", "", fragment)).split())


def render(root: Path, *bibs: Path) -> dict[str, str]:
    """Each entry's reference-list HTML as citeproc renders it with the book's CSL (as Quarto does)."""
    import pypandoc

    args = ["--citeproc", f"--csl={root / 'apa.csl'}", *(f"--bibliography={b}" for b in bibs)]
    html = pypandoc.convert_text('---\nnocite: "@*"\n---\n', "html5", format="markdown", extra_args=args)
    return dict(REF.findall(html))


def included(root: Path) -> set[str]:
    def rows(name: str) -> list[dict[str, str]]:
        with (root / "data" / f"{name}.csv").open(encoding="utf-8", newline="") as fh:
            return list(csv.DictReader(fh))

    return included_keys(rows("studies"), rows("screening"))


def unverified(root: Path) -> dict[str, set[str]]:
    out = {}
    for bib in ("references.bib", "methods.bib"):
        for entry in read_bibliography(root / bib).entries:
            names = {n.strip() for n in entry.fields.get("unverified", "").split(",") if n.strip()}
            out[entry.key] = names
    return out


def problems(data: Path) -> list[str]:
    return [str(p) for p in validate_data(data, today=TODAY).problems]


def mutate_entry(bib: Path, key: str, field: str, value: str | None) -> int:
    """Set (or with ``None`` delete) ``field`` of entry ``key``; return the entry's 1-based line."""
    lines = bib.read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if re.match(rf"@\w+\{{{re.escape(key)},", line))
    end = next(i for i in range(start, len(lines)) if lines[i] == "}")
    at = next((i for i in range(start, end) if re.match(rf"\s*{field}\s*=", lines[i])), None)
    if at is not None:
        del lines[at]
    if value is not None:
        lines.insert(start + 1, f"  {field} = {{{value}}},")
    bib.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return start + 1


def with_methods(data: Path, root: Path) -> Path:
    shutil.copy(root / "methods.bib", data.parent / "methods.bib")
    return data.parent / "methods.bib"


# --- the shipped bibliography ----------------------------------------------------------------------


def test_shipped_bibliographies_pass_the_rules(root: Path) -> None:
    found = [str(p) for p in validate_data(root / "data", root / "references.bib").problems]
    assert not [p for p in found if p.startswith(("references.bib", "methods.bib"))], found


def test_included_keys_follow_relevance_and_screening() -> None:
    studies = [
        {"study_id": "A1", "citation_key": "KA", "arm_relevance": "A"},
        {"study_id": "C1", "citation_key": "KC", "arm_relevance": "C"},
        {"study_id": "D1", "citation_key": "KD", "arm_relevance": "D"},
        {"study_id": "D2", "citation_key": "KD2", "arm_relevance": "D"},
    ]
    screening = [{"study_id": "D2", "decision": "included"}, {"study_id": "D1", "decision": "adjacent"}]
    assert included_keys(studies, screening) == {"KA", "KC", "KD2"}


# --- validator: mutated entries are rejected with references.bib:line:field ------------------------


@pytest.mark.parametrize(
    ("key", "field"),
    [("Cummings2013", "author"), ("Krupnick1996", "title"), ("Strunk2010", "year"), ("Weiss1997", "author")],
)
def test_included_study_needs_author_title_year(data_copy: Path, key: str, field: str) -> None:
    bib = data_copy.parent / "references.bib"
    line = mutate_entry(bib, key, field, None)
    assert f"references.bib:{line}:{field}: {key} is an included study" in "\n".join(problems(data_copy))


def test_an_adjacent_study_may_lack_authors(data_copy: Path) -> None:
    bib = data_copy.parent / "references.bib"
    mutate_entry(bib, "Zeber2008", "author", None)
    assert not [p for p in problems(data_copy) if "Zeber2008" in p]


def test_flag_and_unverified_list_must_agree(data_copy: Path) -> None:
    bib = data_copy.parent / "references.bib"
    mutate_entry(bib, "Zeber2008", "author", "{" + AUTHOR_FLAG + "}")  # flagged, not listed
    mutate_entry(bib, "Lin1995", "author", "Someone, A.")  # listed as unverified, not flagged
    mutate_entry(bib, "Bull2002", "unverified", "author, doi, pmid, colour")
    found = "\n".join(problems(data_copy))
    assert "Zeber2008: author is flagged 'not verified' but not listed in 'unverified'" in found
    assert "Lin1995: author is listed in 'unverified' but would render without a flag" in found
    assert "Bull2002: unknown field name 'colour'" in found


@pytest.mark.parametrize("year", ["1997a", "n.d.", "97", "[not seen]"])
def test_year_is_four_digits_or_the_flag(data_copy: Path, year: str) -> None:
    bib = data_copy.parent / "references.bib"
    line = mutate_entry(bib, "Zeber2008", "year", year)
    assert_line = f"references.bib:{line + 1}:year: Zeber2008: year {year!r} is not a four-digit year"
    assert assert_line in "\n".join(problems(data_copy))


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("title", r"\href{javascript:alert(1)}{x}", r"\href to 'javascript:alert(1)' would become a link"),
        ("title", r"\href{{javascript:alert(1)}}{x}", "would become a link"),
        ("title", r"\href {JavaScript:alert(1)}{x}", "would become a link"),
        ("note", r"see \url{data:text/html,<script>alert(1)</script>}", r"\url to 'data:text/html"),
        ("url", "javascript:alert(1)", "url 'javascript:alert(1)' is not an http(s) address"),
        ("url", "ftp://example.org/x", "is not an http(s) address"),
        ("url", "//example.org/x", "is not an http(s) address"),
        ("url", 'https://example.org/" onmouseover="alert(1)', "is not an http(s) address"),
        ("doi", '10.1/x"onmouseover="alert(1)', "is not a DOI"),
    ],
)
def test_only_http_links(data_copy: Path, field: str, value: str, message: str) -> None:
    bib = data_copy.parent / "references.bib"
    line = mutate_entry(bib, "Zeber2008", field, value)
    found = [p for p in problems(data_copy) if p.startswith(f"references.bib:{line + 1}:{field}: Zeber2008")]
    assert any(message in p for p in found), (message, found)


@pytest.mark.parametrize(
    "url",
    [
        "http://47.251.13.51:8081/17822779",
        "https://it.scribd.com/document/241734548/ccp-a0031530-pdf",
        "https://c.coek.info/download/x.html",
    ],
)
def test_no_links_to_copies_or_mirrors(data_copy: Path, url: str) -> None:
    bib = data_copy.parent / "references.bib"
    line = mutate_entry(bib, "Zeber2008", "url", url)
    found = [p for p in problems(data_copy) if p.startswith(f"references.bib:{line + 1}:url: Zeber2008")]
    assert any("is a copy or a mirror" in p for p in found), found


def test_http_links_are_allowed(data_copy: Path) -> None:
    bib = data_copy.parent / "references.bib"
    mutate_entry(bib, "Zeber2008", "note", r"see \url{https://example.org/a?b=1} and \href{http://x.org}{x}")
    assert not [p for p in problems(data_copy) if "Zeber2008" in p]


def test_methods_bib_is_checked_too(data_copy: Path, root: Path) -> None:
    methods = with_methods(data_copy, root)
    line = mutate_entry(methods, "Riley2011", "url", "javascript:alert(1)")
    assert any(p.startswith(f"methods.bib:{line + 1}:url: Riley2011") for p in problems(data_copy))


def test_cli_prints_one_line_per_bibliography_problem(data_copy: Path, root: Path) -> None:
    bib = data_copy.parent / "references.bib"
    line = mutate_entry(bib, "Weiss1997", "title", None)
    result = subprocess.run(
        [sys.executable, "-m", "livingreview", "validate", str(data_copy)],
        capture_output=True,
        text=True,
        cwd=root,
    )
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert f"references.bib:{line}:title: Weiss1997 is an included study" in result.stdout


# --- rendering with citeproc and the book's CSL ----------------------------------------------------


@pytest.fixture(scope="module")
def rendered(root: Path) -> dict[str, str]:
    return render(root, root / "references.bib", root / "methods.bib")


def test_no_included_study_renders_without_author_or_date(rendered: dict[str, str], root: Path) -> None:
    keys = included(root)
    assert len(keys) >= 15
    for key in keys:
        text = text_of(rendered[key])
        assert "n.d." not in text, (key, text)
        assert re.match(r"^(\[|[^\W\d_])", text) and not text.startswith("("), (key, text)


def test_unverified_fields_render_flagged(rendered: dict[str, str], root: Path) -> None:
    flags = {"author": "not verified]", "title": TITLE_FLAG, "year": f"({YEAR_FLAG})"}
    seen = 0
    for key, names in unverified(root).items():
        text = text_of(rendered[key])
        for name in names & set(flags):
            assert flags[name] in text, (key, name, text)
            seen += 1
    assert seen >= 10
    weiss = text_of(rendered["Weiss1997"])
    assert weiss.startswith(f"{AUTHOR_FLAG}. ({YEAR_FLAG}). {TITLE_FLAG}.")


def test_flags_survive_a_conversion_to_csl_json(root: Path, tmp_path: Path) -> None:
    """A conversion to CSL JSON drops literal dates; the CSL's 'no date' term keeps the flag."""
    import pypandoc

    csl_json = tmp_path / "refs.json"
    bibs = [str(root / "references.bib"), str(root / "methods.bib")]
    pypandoc.convert_file(bibs, "csljson", format="bibtex", outputfile=str(csl_json))
    plain = {key: text_of(html) for key, html in render(root, csl_json).items()}
    assert not [key for key, text in plain.items() if "n.d." in text]
    assert plain["Weiss1997"].startswith(f"{AUTHOR_FLAG}. ({YEAR_FLAG}). {TITLE_FLAG}.")


def test_flags_match_what_is_unverified(root: Path) -> None:
    """A 'not verified' flag only where the entry says the field is unverified (and the reverse)."""
    listed = unverified(root)
    for bib in ("references.bib", "methods.bib"):
        for entry in read_bibliography(root / bib).entries:
            for name in ("author", "title", "year"):
                assert bool(FLAG.search(entry.fields.get(name, ""))) == (name in listed[entry.key]), (
                    entry.key,
                    name,
                )


def test_rendered_titles_keep_proper_nouns_and_acronyms(rendered: dict[str, str]) -> None:
    for key, words in KEPT.items():
        text = text_of(rendered[key])
        for word in words:
            assert word in text, (key, word, text)


def test_braces_are_what_keeps_them(root: Path, tmp_path: Path) -> None:
    """Without the braces, APA sentence case lower-cases the same words: the check above can fail."""
    bib = tmp_path / "unbraced.bib"
    text = (root / "references.bib").read_text(encoding="utf-8")
    bib.write_text(re.sub(r"\{(Japanese|STAR-J|National Institute[^}]*)\}", r"\1", text), encoding="utf-8")
    plain = {k: text_of(v) for k, v in render(root, bib).items()}
    assert "japanese" in plain["Matsunaga2019"] and "STAR-j" in plain["Matsunaga2019"]
    assert "national institute of mental health" in plain["Krupnick1996"]


def test_every_rendered_link_is_http(rendered: dict[str, str]) -> None:
    links = [href for html in rendered.values() for href in HREF.findall(html)]
    assert links and all(re.match(r"https?://", unescape(h)) for h in links), links
    assert not [h for h in links if BARE_IP.match(h) or any(host in h for host in COPY_HOSTS)]


def test_citeproc_would_link_a_javascript_title(root: Path, tmp_path: Path) -> None:
    """Why the rule exists: citeproc turns \\href and \\url in any field into live links."""
    bib = tmp_path / "evil.bib"
    bib.write_text(
        "@article{Evil, author = {X, Y}, year = {2000}, journal = {J},\n"
        "  title = {\\href{javascript:alert(1)}{x}}, url = {javascript:alert(2)}}\n",
        encoding="utf-8",
    )
    html = render(root, bib)["Evil"]
    assert 'href="javascript:alert(1)"' in html
    shutil.copytree(root / "data", tmp_path / "review" / "data")
    shutil.copy(bib, tmp_path / "review" / "references.bib")
    found = [p for p in problems(tmp_path / "review" / "data") if p.startswith("references.bib:2:")]
    assert any("title: Evil" in p for p in found) and any("url: Evil" in p for p in found), found


# --- the built preview (pandoc citeproc, as readers get it without Quarto) --------------------------


@pytest.fixture(scope="module")
def preview_html(tmp_path_factory: pytest.TempPathFactory, root: Path) -> str:
    """Every HTML page the preview writes (one page, or a multi-page book), concatenated."""
    dest = tmp_path_factory.mktemp("bibpreview") / "review"
    shutil.copytree(root, dest, ignore=shutil.ignore_patterns(".git", "_preview", "_book", "bench"))
    index = build_preview(Project(dest), pdf=False)  # the HTML book: every page, in reading order
    pages = [index.parent / c.page for c in load_book(Project(dest)).chapters]
    return "\n".join(page.read_text(encoding="utf-8") for page in pages)


def test_preview_reference_list_has_no_undated_included_study(preview_html: str, root: Path) -> None:
    refs = dict(REF.findall(preview_html))
    cited = included(root) & set(refs)
    assert len(cited) >= 15
    for key in cited:
        assert "n.d." not in text_of(refs[key]), (key, text_of(refs[key]))
    assert not {key for key, html in refs.items() if "n.d." in text_of(html)}


def test_preview_shows_the_flags(preview_html: str) -> None:
    refs = {key: text_of(html) for key, html in REF.findall(preview_html)}
    assert refs["Weiss1997"].startswith(AUTHOR_FLAG) and TITLE_FLAG in refs["Weiss1997"]
    assert refs["Totura2018"].startswith(AUTHOR_FLAG)
    body = text_of(REF.sub("", preview_html))
    assert f"{AUTHOR_FLAG}, {YEAR_FLAG}" in body  # the in-text citation of Weiss1997
    assert "Treatment of Depression Collaborative Research Program" in refs["Krupnick1996"]
