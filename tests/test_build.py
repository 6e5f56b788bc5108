"""The author's workflow end to end: validate → execute → preview, and what a bad row does."""

from __future__ import annotations

import csv
import hashlib
import subprocess
import sys
from pathlib import Path

import yaml

TRACKED = [
    "_variables.yml",
    "analysis/01-studies.ipynb",
    "analysis/02-synthesis.ipynb",
    "analysis/03-evidence.ipynb",
    "analysis/04-validation.ipynb",
    "analysis/05-versions.ipynb",
    "analysis/06-reporting.ipynb",
]


def livingreview(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "livingreview", *args], cwd=cwd, capture_output=True, text=True, timeout=900
    )


def digests(root: Path) -> dict[str, str]:
    return {name: hashlib.sha256((root / name).read_bytes()).hexdigest() for name in TRACKED}


def append_row(path: Path, row: dict[str, str]) -> None:
    with path.open(encoding="utf-8", newline="") as fh:
        header = next(csv.reader(fh))
    with path.open("a", encoding="utf-8", newline="") as fh:
        # extrasaction: the same study can be added to the data of an older release (fewer columns)
        csv.DictWriter(fh, header, lineterminator="\n", extrasaction="ignore").writerow(row)


def add_study(root: Path) -> None:
    """The README's add-a-study steps on a scratch copy: study, association, screening, reference."""
    data = root / "data"
    append_row(
        data / "studies.csv",
        {
            "study_id": "Newauthor2026",
            "citation_key": "Newauthor2026",
            "year": "2026",
            "design": "prospective_cohort",
            "diagnosis": "anxiety",
            "population": "test population",
            "country": "not reported",
            "setting": "not reported",
            "medication": "not specified",
            "arms": "single arm",
            "n_analysed": "40",
            "arm_relevance": "A",
            "extraction_level": "abstract",
            "source_url": "https://example.org/new",
            "notes": "scratch row for a test",
            "n_relevant_arms": "40",
            "n_relevant_arms_basis": "whole sample on medication (scratch row)",
        },
    )
    append_row(
        data / "effects.csv",
        {
            "effect_id": "Newauthor2026-1",
            "study_id": "Newauthor2026",
            "outcome_domain": "adherence",
            "outcome_measure": "pill count",
            "arm": "medication",
            "alliance_measure": "WAI",
            "rater": "patient",
            "timing": "week 4",
            "statistic_type": "r",
            "statistic_reported": "r = .30",
            "r": "0.3",
            "outcome_higher_is_better": "yes",
            "n": "40",
            "exposure": "validated_alliance_scale",
            "arm_relevance": "A",
            "direction": "positive",
            "significant": "yes",
            "direction_source": "printed_statistic",
            "adjusts_prior_change": "not_reported",
            "quote": "alliance predicted adherence (r = .30)",
            "source_url": "https://example.org/new",
        },
    )
    append_row(
        data / "screening.csv",
        {
            "record_id": "Newauthor2026",
            "citation": "Newauthor 2026",
            "study_id": "Newauthor2026",
            "decision": "included",
            "source_url": "https://example.org/new",
            "notes_file": "literature-notes-2.md",
            "full_text_retrieved": "no",
        },
    )
    bib = root / "references.bib"
    bib.write_text(
        bib.read_text(encoding="utf-8")
        + "\n@article{Newauthor2026,\n  author = {Newauthor, A.},\n"
        + "  title = {A new study},\n  year = {2026}\n}\n",
        encoding="utf-8",
    )


def test_invalid_data_stops_the_build_and_writes_nothing(project_copy: Path) -> None:
    before = digests(project_copy)
    path = project_copy / "data" / "effects.csv"
    text = path.read_text(encoding="utf-8").splitlines()
    text[1] = text[1].replace(",symptoms,", ",mood,", 1).replace(",adherence,", ",mood,", 1)
    path.write_text("\n".join(text) + "\n", encoding="utf-8")
    done = livingreview(project_copy, "build")
    assert done.returncode == 1
    assert "effects.csv:2:outcome_domain:" in done.stderr
    assert "nothing was executed or written" in done.stderr
    assert "Traceback" not in done.stderr
    assert digests(project_copy) == before
    assert not (project_copy / "_preview").exists()


def test_build_is_deterministic_and_adding_a_study_updates_the_review(project_copy: Path) -> None:
    before = digests(project_copy)
    done = livingreview(project_copy, "build")
    assert done.returncode == 0, done.stdout + done.stderr
    n = len(list((project_copy / "analysis").glob("*.ipynb")))
    assert f"[{n}/{n}]" in done.stdout and "preview written" in done.stdout
    assert "04-validation.ipynb: inputs unchanged, stored outputs kept" in done.stdout
    assert digests(project_copy) == before, "re-executing the committed notebooks changed them"
    n_before = yaml.safe_load((project_copy / "_variables.yml").read_text())["studies"]["n_total"]

    add_study(project_copy)
    done = livingreview(project_copy, "build")
    assert done.returncode == 0, done.stdout + done.stderr
    variables = yaml.safe_load((project_copy / "_variables.yml").read_text())
    assert variables["studies"]["n_total"] == n_before + 1
    html = (project_copy / "_preview" / "index.html").read_text(encoding="utf-8")
    assert "Newauthor 2026" in html


def test_inputs_digest_follows_declared_inputs_and_cell_sources(project_copy: Path) -> None:
    import nbformat
    from livingreview.execute import inputs_digest

    path = project_copy / "analysis" / "04-validation.ipynb"
    nb = nbformat.read(path, as_version=4)
    first = inputs_digest(nb, project_copy)
    assert first is not None and first == nb.metadata["livingreview"]["inputs_digest"]
    reference = project_copy / "tests" / "reference" / "metafor_reference.json"
    reference.write_text(reference.read_text(encoding="utf-8") + "\n", encoding="utf-8")
    assert inputs_digest(nb, project_copy) != first
    nb.cells[-1].source += "\n"
    assert inputs_digest(nb, project_copy) not in {first, None}
    undeclared = nbformat.read(project_copy / "analysis" / "01-studies.ipynb", as_version=4)
    assert inputs_digest(undeclared, project_copy) is None
