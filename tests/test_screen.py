"""``livingreview screen``: a queued record moves into screening.csv and the PRISMA flow counts it."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest
from livingreview.checks.validate import validate_data
from livingreview.cli import main
from livingreview.search import candidates as Q
from livingreview.search import screen

QUEUED = {
    "record_id": "PMID39000001",
    "source": "PubMed",
    "pmid": "39000001",
    "pmcid": "",
    "doi": "10.1/a",
    "title": "Prescriber alliance and sertraline response in panic disorder",
    "authors": "Doe J, Roe R",
    "year": "2026",
    "journal": "Journal of Affective Disorders",
    "abstract": "Background. Alliance and antidepressant response.",
    "date_found": "2026-11-30",
    "search_id": "S13",
}
RUN = {
    "search_id": "S13",
    "source": "PubMed (PubMed via NCBI E-utilities (esearch, efetch))",
    "date_searched": "2026-11-30",
    "strategy": "alliance",
    "strategy_id": "PM1",
    "date_from": "1900-01-01",
    "date_to": "2026-11-30",
    "records_found": "3",
    "records_new": "2",
    "notes": "",
}


def read(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture
def queued(data_copy: Path) -> Path:
    """data/ with one logged search run and two records in its queue."""
    second = {**QUEUED, "record_id": "PMID39000002", "pmid": "39000002", "doi": "", "title": "Second record"}
    (data_copy / "candidates.csv").write_text(Q.csv_text([QUEUED, second], Q.QUEUE_COLUMNS), encoding="utf-8")
    log = read(data_copy / "searches.csv")
    (data_copy / "searches.csv").write_text(
        Q.csv_text([*log, RUN], Q.header(data_copy / "searches.csv")), encoding="utf-8"
    )
    return data_copy


def test_exclude_moves_the_record_into_screening(queued: Path) -> None:
    before = len(read(queued / "screening.csv"))
    row = screen.record_decision(
        queued, screen.Decision("PMID39000001", "exclude", "population", "bipolar disorder only")
    )
    assert row["decision"] == "excluded"
    assert row["reason"] == "Population not depression or anxiety: bipolar disorder only"
    assert row["source_url"] == "https://pubmed.ncbi.nlm.nih.gov/39000001/"
    assert row["notes_file"] == "candidates.csv"
    assert row["full_text_retrieved"] == "no"  # screened on title and abstract
    assert row["citation"] == (
        "Doe J, Roe R. Prescriber alliance and sertraline response in panic disorder. "
        "Journal of Affective Disorders 2026 (PMID 39000001; doi:10.1/a)"
    )
    rows = read(queued / "screening.csv")
    assert len(rows) == before + 1 and rows[-1]["record_id"] == "PMID39000001"
    assert [r["record_id"] for r in read(queued / "candidates.csv")] == ["PMID39000002"]
    assert [str(p) for p in validate_data(queued).problems] == []


def test_the_prisma_flow_counts_the_decision(queued: Path) -> None:
    from livingreview.reporting.prisma import exclusion_group, flow_problems, load_flow

    root = queued.parent
    # The previous version: everything screened so far, and the search log without the new run.
    previous = root / "releases" / "v0.1.0" / "data"
    previous.mkdir(parents=True)
    shutil.copy2(queued / "screening.csv", previous)
    log = read(queued / "searches.csv")
    assert log[-1]["search_id"] == RUN["search_id"]
    (previous / "searches.csv").write_text(Q.csv_text(log[:-1], log[0].keys()), encoding="utf-8")
    before = load_flow(root, "0.2.0")
    screen.record_decision(queued, screen.Decision("PMID39000001", "exclude", "outcome"))
    after = load_flow(root, "0.2.0")
    assert after.records_screened == before.records_screened + 1
    assert after.n_excluded == before.n_excluded + 1
    group = "Outcome not eligible or not measured"
    assert after.excluded.get(group, 0) == before.excluded.get(group, 0) + 1
    # The update's identification counts the run logged since the previous version (found 3, 2 new:
    # 1 duplicate removed) and the record still waiting in the queue is not counted as removed.
    assert (before.n_searches, before.records_found, before.queued) == (1, 3, 2)
    assert (after.records_found, after.queued, after.removed_before_screening) == (3, 1, 1)
    assert before.removed_before_screening == 1 and flow_problems(after) == []
    for code, text in screen.REASONS["excluded"].items():
        if code != "other":
            assert exclusion_group(text + ": a note") == text


@pytest.mark.parametrize(
    ("decision", "message"),
    [
        (screen.Decision("PMID39000001", "exclude"), "needs --reason, one of: population"),
        (screen.Decision("PMID39000001", "exclude", "because"), "reason 'because' is not one of"),
        (screen.Decision("PMID39000001", "exclude", "other"), "needs --note"),
        (screen.Decision("PMID39000001", "include"), "needs --study-id"),
        (screen.Decision("PMID39000001", "include", "population", study_id="Doe2026"), "takes no reason"),
        (screen.Decision("PMID39000001", "exclude", "outcome", study_id="Doe2026"), "names no study"),
        (screen.Decision("PMID1", "exclude", "outcome"), "'PMID1' is not in the screening queue"),
        (screen.Decision("PMID39000001", "maybe"), "decision 'maybe' is not one of"),
    ],
)
def test_bad_decisions_write_nothing(queued: Path, decision: screen.Decision, message: str) -> None:
    before = {p.name: p.read_bytes() for p in queued.iterdir()}
    with pytest.raises(screen.ScreenError, match=message.replace("(", r"\(")):
        screen.record_decision(queued, decision)
    assert {p.name: p.read_bytes() for p in queued.iterdir()} == before


def test_cli_records_one_decision(queued: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    root = queued.parent
    (root / "_quarto.yml").write_text("project:\n  type: book\n", encoding="utf-8")
    monkeypatch.setenv("LIVINGREVIEW_ROOT", str(root))
    args = ["screen", "--id", "PMID39000002", "--decision", "exclude", "--reason", "not-primary"]
    assert main(args) == 0
    assert "PMID39000002: excluded (Not a primary study" in capsys.readouterr().out
    assert read(queued / "screening.csv")[-1]["full_text_retrieved"] == "no"
    assert main(args) == 1
    assert capsys.readouterr().err.strip() == (
        "screen: 'PMID39000002' is not in the screening queue (candidates.csv); nothing was written"
    )
    assert main(["screen", "--reasons"]) == 0
    assert "no-medication = No medication arm" in capsys.readouterr().out


def test_interactive_screening_shows_each_record_and_records_answers(queued: Path) -> None:
    answers = iter(["x", "e", "same-sample", "Doe 2020 sample", "s"])
    shown: list[str] = []
    done = screen.interactive(queued, ask=lambda _: next(answers), log=shown.append)
    assert done == 1
    text = "\n".join(shown)
    assert "PMID39000001  (found 2026-11-30 by S13, PubMed)" in text and "Background. Alliance" in text
    assert "PMID 39000001" in text or "PMID 39000001".upper() in text.upper()
    assert read(queued / "screening.csv")[-1]["reason"] == "Same sample as an included study: Doe 2020 sample"
    assert [r["record_id"] for r in read(queued / "candidates.csv")] == ["PMID39000002"]


def test_the_validator_checks_the_reasons_of_records_screened_from_the_queue(queued: Path) -> None:
    screen.record_decision(queued, screen.Decision("PMID39000001", "exclude", "outcome"))
    path = queued / "screening.csv"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("Outcome not eligible or not measured", "did not like it"), encoding="utf-8")
    problems = [str(p) for p in validate_data(queued).problems]
    assert any(
        p.startswith("screening.csv:")
        and p.endswith(
            ":reason: 'did not like it' is not a reason the screening vocabulary allows for a record "
            "marked excluded (livingreview screen --reasons)"
        )
        for p in problems
    ), problems


def test_interactive_screening_stops_cleanly_at_the_end_of_input(queued: Path) -> None:
    def ask(_: str) -> str:
        raise EOFError

    shown: list[str] = []
    assert screen.interactive(queued, ask=ask, log=shown.append) == 0
    assert shown[-1] == "\nstopped: 0 decisions recorded, the rest stay in the queue"
