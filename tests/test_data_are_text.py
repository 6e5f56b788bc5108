"""Hostile text in every input reaches readers as text: HTML book (Chromium), PDF, Typst and Markdown.

The payload corpus goes into CITATION.cff (title, authors), living.yml (triggers), the release record
(trigger), references.bib (title, url) and the stored table outputs of a notebook (cells as raw,
unescaped HTML — worse than great-tables, which escapes); then the book is built and inspected.
"""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

import nbformat
import pytest
import yaml
from browser import CHROMIUM, load, outline
from livingreview.book.render import build_preview
from livingreview.book.variables import compute_project_variables, write_variables
from livingreview.project.paths import Project
from payloads import MARKERS, PAYLOADS
from scratch import current_version

EVIL_BIB = r"""
@article{Evil2026,
  author = {Mallory, Eve},
  title = {A study \href{javascript:document.title='pwned-bib'}{tex link}
           <script>document.title='pwned-bib2'</script>},
  journal = {Journal of \input{/etc/passwd}},
  year = {2026},
  url = {javascript:document.title='pwned-url'}
}
"""


def _inject(root: Path) -> None:
    cff_path = root / "CITATION.cff"
    cff = yaml.safe_load(cff_path.read_text(encoding="utf-8"))
    cff["title"] = "Review " + PAYLOADS[0] + " " + PAYLOADS[3]
    cff["authors"] = [{"name": PAYLOADS[1] + " " + PAYLOADS[7]}]
    cff_path.write_text(yaml.safe_dump(cff, allow_unicode=True), encoding="utf-8")

    living_path = root / "living.yml"
    living = yaml.safe_load(living_path.read_text(encoding="utf-8"))
    living["triggers"] = [PAYLOADS[12], PAYLOADS[5], PAYLOADS[10]]
    living_path.write_text(yaml.safe_dump(living, allow_unicode=True), encoding="utf-8")

    # the trigger recorded by `release --trigger` for the version the book shows (not an older one,
    # whose record no page reads)
    snapshot = root / "releases" / f"v{current_version(root)}"
    record_path = snapshot / "whats-new.json"
    record = json.loads(record_path.read_text(encoding="utf-8"))
    record["release"]["trigger"] = " ".join(PAYLOADS[6:10])
    record_path.write_text(json.dumps(record, indent=2), encoding="utf-8")

    with (root / "references.bib").open("a", encoding="utf-8") as bib:
        bib.write(EVIL_BIB)
    shutil.copy(root / "references.bib", snapshot)  # released with the entry: the book shows the trigger
    results = root / "chapters" / "results.qmd"
    results.write_text(results.read_text(encoding="utf-8") + "\nSee also [@Evil2026].\n", encoding="utf-8")

    notebook = root / "analysis" / "03-evidence.ipynb"
    nb = nbformat.read(notebook, as_version=4)
    raw_cells = [
        "<script>document.title='pwned-cell'</script>",
        "<img src=x onerror=\"document.title='pwned-cell-img'\">",
        "<a href=\"javascript:document.title='pwned-cell-link'\">cell link</a>",
        "quote\n```\n</div><script>document.title='pwned-cell-fence'</script>",
        "the direction plot, as in @fig-direction",
    ]
    row = "<tr>" + "".join(f"<td>{cell}</td>" for cell in raw_cells) + "</tr>"
    text_row = "<tr>" + "".join(f"<td>{html.escape(p)}</td>" for p in PAYLOADS) + "</tr>"
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if "text/html" in data and "tbl-evidence" in cell.source:
                table = "".join(data["text/html"])
                data["text/html"] = table.replace("</tbody>", row + text_row + "</tbody>", 1)
    nbformat.write(nb, notebook)
    write_variables(root / "_variables.yml", compute_project_variables(Project(root)))


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory, root: Path) -> Path:
    dest = tmp_path_factory.mktemp("hostile") / "review"
    shutil.copytree(
        root, dest, ignore=shutil.ignore_patterns(".git", "_preview", "_book", "bench", ".*cache")
    )
    _inject(dest)
    return build_preview(Project(dest)).parent


def _check_page(name: str, dom: str) -> None:
    page = outline(dom)
    assert page.scripts == 0, f"{name}: script/iframe/object/form element injected"
    assert page.handlers == [], f"{name}: event handler attributes {page.handlers}"
    for href in page.links + page.images:
        scheme = urlsplit(html.unescape(href).strip()).scheme.lower()
        assert scheme in ("", "http", "https"), f"{name}: link {href!r}"
    assert not any(marker in page.title for marker in MARKERS), page.title
    assert "sec-injected" not in page.ids and not any("Injected chapter" in t for _, t in page.headings)


def test_static_html_has_no_injected_element_link_or_handler(hostile: Path) -> None:
    for path in sorted(hostile.glob("*.html")):
        _check_page(path.name, path.read_text(encoding="utf-8"))


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium not installed (apt-get install -y chromium)")
def test_no_script_runs_in_chromium_and_payloads_show_as_text(hostile: Path, tmp_path: Path) -> None:
    text = {}
    for path in sorted(hostile.glob("*.html")):
        loaded = load(path, tmp_path / "profile")
        _check_page(path.name, loaded.dom)
        assert not any("pwned" in line for line in loaded.console), loaded.console
        text[path.name] = html.unescape(re.sub(r"<[^>]+>", " ", loaded.dom))
    everything = " ".join(text.values())
    assert "<script>document.title='pwned-script'</script>" in everything  # the title, shown as text
    for payload in (PAYLOADS[0], PAYLOADS[1], PAYLOADS[3], PAYLOADS[9], PAYLOADS[10]):
        assert " ".join(payload.split()) in " ".join(text["evidence.html"].split())  # escaped cells: text
    assert "cell link" in text["evidence.html"]  # a raw link in a cell keeps its text, loses its target
    assert "as in @fig-direction" in text["evidence.html"]  # not rewritten into a cross-reference
    assert "{{< embed ../analysis/02-synthesis.ipynb#fig-direction >}}" in text["index.html"]
    assert "</div><script>document.title=" in text["index.html"]  # the release trigger, as text
    assert PAYLOADS[9] in text["index.html"]
    assert "tex link" in text["references.html"]


def test_pdf_and_typst_print_payloads_literally(hostile: Path) -> None:
    source = (hostile / "book.typ").read_text(encoding="utf-8")
    targets = re.findall(r'#link\("([^"]*)"', source)
    assert targets and all(t.startswith(("https://", "http://")) for t in targets), targets
    assert not re.search(r"(?m)^#(read|import|include|eval)\b", source)
    if shutil.which("pdftotext") is None:
        pytest.skip("poppler-utils not installed")
    (pdf,) = hostile.glob("*.pdf")
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True).stdout
    text = " ".join(text.translate(str.maketrans("“”‘’", "\"\"''")).split())  # typographic quotes
    squashed = re.sub(r"\s+", "", text)  # line breaks may fall anywhere
    assert "root:x:0" not in text
    assert '#read("/etc/passwd")#import"evil.typ":*$x$' in squashed  # the living.yml trigger, printed
    assert "<script>document.title='pwned-script'</script>" in squashed  # the title, on the title page
    assert "Mallory" in text and "tex link" in text


def test_variables_hold_literal_markdown(hostile: Path) -> None:
    variables = yaml.safe_load((hostile.parent / "_variables.yml").read_text(encoding="utf-8"))
    for key, value in (
        ("title", variables["review"]["title"]),
        ("trigger", variables["versions"]["trigger"]),
    ):
        assert "\n" not in value, key
        assert not re.search(r"(?<!\\)[<{@\[]", value), (key, value)
        assert "pwned" in value, (key, value)  # the payload did reach this value
