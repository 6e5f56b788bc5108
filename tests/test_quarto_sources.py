"""Checks of the Quarto sources that need no Quarto: config, files, embeds, citations, refs, vars."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from livingreview.book.variables import flatten
from livingreview.data.bib import bibliography_keys
from livingreview.project.qmd import (
    book_files,
    citations,
    crossrefs,
    digits_in_prose,
    div_ids,
    embeds,
    heading_ids,
    labelled_cells,
    read_quarto_yml,
    var_keys,
)
from quarto_schema import schema_errors

SCHEMA = Path(__file__).parent / "vendor" / "quarto-1.10.18" / "all-schema-definitions.json"
SEVEN_PARTS = [
    "index.qmd",
    "chapters/background.qmd",
    "chapters/methods.qmd",
    "chapters/results.qmd",
    "chapters/mechanisms.qmd",
    "chapters/limitations.qmd",
    "chapters/implications.qmd",
]


@pytest.fixture(scope="module")
def config(root: Path) -> dict:
    return read_quarto_yml(root / "_quarto.yml")


@pytest.fixture(scope="module")
def sources(root: Path, config: dict) -> dict[str, str]:
    files = [f.path for f in book_files(config)]
    return {f: (root / f).read_text(encoding="utf-8") for f in files if (root / f).is_file()}


def test_quarto_yml_is_a_book_with_html_and_a_typst_pdf(config: dict) -> None:
    assert config["project"]["type"] == "book"
    assert {"html", "typst"} <= set(config["format"]) and "pdf" not in config["format"]


def test_quarto_yml_is_valid_against_quartos_schema(config: dict) -> None:
    assert schema_errors(config, SCHEMA) == []


def test_schema_check_catches_mistakes(config: dict) -> None:
    bad = yaml.safe_load(yaml.safe_dump(config))
    bad["book"]["downloads"] = ["typst"]
    bad["project"]["outptu-dir"] = "x"
    bad["book"]["title"] = 123
    errors = "\n".join(schema_errors(bad, SCHEMA))
    assert "book.downloads" in errors and "outptu-dir" in errors and "book.title" in errors


def test_book_lists_the_seven_parts_in_order_and_files_exist(root: Path, config: dict) -> None:
    files = [f.path for f in book_files(config)]
    assert files[: len(SEVEN_PARTS)] == SEVEN_PARTS
    missing = [f for f in files if not (root / f).is_file()]
    assert missing == []
    for extra in ("bibliography", "csl"):
        values = config[extra] if isinstance(config[extra], list) else [config[extra]]
        assert all((root / v).is_file() for v in values), extra


def test_every_embed_points_at_an_existing_notebook_and_label(root: Path, sources: dict[str, str]) -> None:
    problems = []
    count = 0
    for name, text in sources.items():
        for line, path, label in embeds(text):
            count += 1
            notebook = (root / name).parent / path
            if not notebook.is_file():
                problems.append(f"{name}:{line}: notebook {path} missing")
                continue
            cell = labelled_cells(notebook).get(label)
            if cell is None:
                problems.append(f"{name}:{line}: no cell labelled {label} in {path}")
            elif not cell.outputs:
                problems.append(f"{name}:{line}: {label} has no stored output (run livingreview execute)")
    assert count >= 6
    assert problems == []


def test_labelled_cells_have_captions_and_alt_text(root: Path) -> None:
    problems = []
    for notebook in sorted((root / "analysis").glob("*.ipynb")):
        for label, cell in labelled_cells(notebook).items():
            if "_" in label:
                problems.append(f"{notebook.name}: {label} has an underscore (breaks LaTeX)")
            if label.startswith("fig-") and not (cell.options.get("fig-cap") and cell.options.get("fig-alt")):
                problems.append(f"{notebook.name}: {label} needs fig-cap and fig-alt")
            if label.startswith("tbl-") and not cell.options.get("tbl-cap"):
                problems.append(f"{notebook.name}: {label} needs tbl-cap")
    assert problems == []


def test_every_citation_key_is_in_the_bibliography(root: Path, config: dict, sources: dict[str, str]) -> None:
    bibs = config["bibliography"] if isinstance(config["bibliography"], list) else [config["bibliography"]]
    keys = bibliography_keys(*(root / b for b in bibs))
    missing = [
        f"{name}:{line}: @{key}"
        for name, text in sources.items()
        for line, key in citations(text)
        if key not in keys
    ]
    assert missing == []


def test_every_crossref_has_a_target(root: Path, sources: dict[str, str]) -> None:
    targets: set[str] = set()
    for text in sources.values():
        targets |= {ident for _, ident, _ in heading_ids(text)}
        targets |= {label for _, _, label in embeds(text)}
        targets |= div_ids(text)
    missing = [
        f"{name}:{line}: @{ref}"
        for name, text in sources.items()
        for line, ref in crossrefs(text)
        if ref not in targets
    ]
    assert missing == []


def test_every_embedded_float_is_referenced(sources: dict[str, str]) -> None:
    used = {ref for text in sources.values() for _, ref in crossrefs(text)}
    embedded = {label for text in sources.values() for _, _, label in embeds(text)}
    assert embedded - used == set()


def test_every_var_key_exists(root: Path, sources: dict[str, str], config: dict) -> None:
    variables = flatten(yaml.safe_load((root / "_variables.yml").read_text(encoding="utf-8")))
    texts = dict(sources)
    texts["_quarto.yml"] = (root / "_quarto.yml").read_text(encoding="utf-8")
    missing = [
        f"{name}:{line}: {key}"
        for name, text in texts.items()
        for line, key in var_keys(text)
        if key not in variables
    ]
    assert missing == []


def test_no_hand_typed_numbers_in_prose(sources: dict[str, str]) -> None:
    found = [
        f"{name}:{line}: {snippet}"
        for name, text in sources.items()
        for line, snippet in digits_in_prose(text)
    ]
    assert found == []


@pytest.mark.parametrize(
    "text",
    [
        "Of the studies, 12 favoured the alliance.",
        "The pooled r was .30 across studies.",
        "We found {{< var studies.n_total >}} studies and 3 more.",
    ],
)
def test_digit_check_catches_typed_numbers(text: str) -> None:
    assert digits_in_prose(text)


@pytest.mark.parametrize(
    "text",
    [
        "We found {{< var studies.n_total >}} studies [@Krupnick1996; @ZilchaMano2015PPS].",
        "See @fig-direction and @tbl-direction.",
        "## Methods {#sec-methods2}",
        "<!-- a comment with 3 numbers -->",
    ],
)
def test_digit_check_allows_shortcodes_citations_and_ids(text: str) -> None:
    assert digits_in_prose(text) == []


def test_sections_ids_are_unique(sources: dict[str, str]) -> None:
    ids = [ident for text in sources.values() for _, ident, _ in heading_ids(text)]
    assert len(ids) == len(set(ids))


@pytest.mark.skipif(
    shutil.which("quarto") is None,
    reason="quarto is not installed here (pip install -e '.[render]' brings it)",
)
def test_quarto_renders_the_book(project_copy: Path) -> None:
    done = subprocess.run(
        ["quarto", "render", "--to", "html"], cwd=project_copy, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert (project_copy / "_book" / "index.html").is_file()
