"""``livingreview search`` against a local stand-in for PubMed and Europe PMC (no real service is used)."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import pytest
from fake_services import FakeServer, Paper
from livingreview.checks.validate import validate_data
from livingreview.cli import main
from livingreview.search import candidates as Q
from livingreview.search.clients import SearchError, Settings
from livingreview.search.runner import run_search

TODAY = dt.date(2026, 11, 30)
# Titles and identifiers of records already in data/screening.csv
SCREENED_TITLE = (
    "The relationship between the therapeutic alliance and treatment outcome in two distinct "
    "psychotherapies for chronic depression"
)
SCREENED_PMID = "10771371"

NEW_A = Paper("Prescriber alliance and sertraline response in panic disorder", pmid="39000001", doi="10.1/a")
NEW_B = Paper("Pharmacotherapy alliance predicts adherence in late-life depression", pmid="39000002")
NEW_C = Paper(
    "Working alliance in a placebo arm of an escitalopram trial", pmid="39000003", pmcid="PMC900003"
)
PREPRINT = Paper("Alliance with the psychiatrist and ketamine outcomes: a cohort", doi="10.1101/2026.11.01.1")


def read(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture
def server():
    with FakeServer() as fake:
        yield fake


def settings(server: FakeServer, **kw: object) -> Settings:
    base = {
        "eutils_url": f"{server.url}/eutils",
        "europepmc_url": f"{server.url}/europepmc",
        "email": "test@example.org",
        "api_key": "test-key",  # Bio.Entrez then waits 0.1 s between requests instead of 0.37 s
        "timeout": 2.0,
        "retries": 2,
        "backoff": 0.0,
        "page_size": 200,
    }
    return Settings(**{**base, **kw})


def snapshot(data: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(data.iterdir())}


def quiet(_: str) -> None:
    pass


def test_new_records_are_queued_and_duplicates_dropped(server: FakeServer, data_copy: Path) -> None:
    server.services.pubmed = [NEW_A, NEW_B, Paper(SCREENED_TITLE.upper() + ".", pmid="23339536")]
    server.services.europepmc = [
        Paper(NEW_A.title, doi="10.1/A"),  # the same record by DOI (case differs), no PMID
        Paper("Communication style and satisfaction", pmid=SCREENED_PMID),  # screened, by PMID
        Paper("Pharmacotherapy alliance predicts adherence in late life depression!", pmcid="PMC7"),  # title
        PREPRINT,
        NEW_C,
    ]
    lines: list[str] = []
    outcome = run_search(data_copy, settings(server), TODAY, lines.append)

    queue = read(data_copy / "candidates.csv")
    assert [r["record_id"] for r in queue] == [
        "PMID39000001",
        "PMID39000002",
        "DOI:10.1101/2026.11.01.1",
        "PMID39000003",
    ]
    first = queue[0]
    assert first["source"] == "PubMed" and first["doi"] == "10.1/a" and first["authors"] == "Doe J, Roe R"
    assert first["year"] == "2026" and first["journal"] == "Journal of Affective Disorders"
    assert first["abstract"].startswith("Background.") and first["date_found"] == "2026-11-30"
    assert queue[3]["pmcid"] == "PMC900003" and queue[3]["source"] == "Europe PMC"
    assert queue[2]["title"] == PREPRINT.title + "."

    log = read(data_copy / "searches.csv")
    runs = [r for r in log if r["strategy_id"]]
    assert [(r["search_id"], r["strategy_id"], r["records_found"], r["records_new"]) for r in runs] == [
        ("S13", "PM1", "3", "2"),
        ("S14", "EP1", "5", "2"),
    ]
    assert runs[0]["date_from"] == "1900-01-01" and runs[0]["date_to"] == "2026-11-30"
    assert runs[0]["date_searched"] == "2026-11-30"
    assert '"therapeutic alliance"[tiab]' in runs[0]["strategy"] and "[EDAT]" in runs[0]["strategy"]
    assert "CREATION_DATE:[1900-01-01 TO 2026-11-30]" in runs[1]["strategy"]
    assert {r["search_id"] for r in queue} == {"S13", "S14"}
    assert sum(len(r.new) for r in outcome.runs) == 4
    # The service received the stored query with the entry-date limits and the contact settings
    esearch = next(q for p, q in server.services.requests if p.endswith("esearch.fcgi"))
    assert esearch["mindate"] == ["1900/01/01"] and esearch["maxdate"] == ["2026/11/30"]
    assert esearch["datetype"] == ["edat"] and esearch["tool"] == ["livingreview"]
    assert esearch["email"] == ["test@example.org"]
    assert any("EP1" in line and "5 found, 2 new" in line for line in lines)
    assert [str(p) for p in validate_data(data_copy).problems] == []


def test_the_validator_notices_a_queue_edited_by_hand(server: FakeServer, data_copy: Path) -> None:
    server.services.pubmed = [NEW_A, NEW_B]
    run_search(data_copy, settings(server), TODAY, quiet)
    queue = read(data_copy / "candidates.csv")
    (data_copy / "candidates.csv").write_text(Q.csv_text(queue[:1], Q.QUEUE_COLUMNS), encoding="utf-8")
    problems = [str(p) for p in validate_data(data_copy).problems]
    assert problems == [
        "candidates.csv:0:-: the search log records 2 new records, but 1 are queued and 0 were screened from "
        "the queue: records were added to or removed from the queue by hand"
    ]


def test_a_second_run_covers_the_days_since_and_skips_the_queue(server: FakeServer, data_copy: Path) -> None:
    server.services.pubmed = [NEW_A]
    run_search(data_copy, settings(server), TODAY, quiet)
    server.services.requests.clear()
    server.services.pubmed = [NEW_A, NEW_B]
    run_search(data_copy, settings(server), TODAY + dt.timedelta(days=31), quiet)
    esearch = next(q for p, q in server.services.requests if p.endswith("esearch.fcgi"))
    assert esearch["mindate"] == ["2026/11/30"] and esearch["maxdate"] == ["2026/12/31"]
    queue = read(data_copy / "candidates.csv")
    assert [r["record_id"] for r in queue] == ["PMID39000001", "PMID39000002"]
    runs = [r for r in read(data_copy / "searches.csv") if r["strategy_id"] == "PM1"]
    assert [(r["search_id"], r["records_found"], r["records_new"]) for r in runs] == [
        ("S13", "1", "1"),
        ("S15", "2", "1"),
    ]


def test_paging_beyond_one_batch(server: FakeServer, data_copy: Path) -> None:
    server.services.pubmed = [
        Paper(f"PubMed record number {i} on alliance", pmid=f"3800000{i}") for i in range(5)
    ]
    server.services.europepmc = [
        Paper(f"Europe PMC record number {i} on alliance", pmcid=f"PMC80{i}") for i in range(5)
    ]
    run_search(data_copy, settings(server, page_size=2), TODAY, quiet)
    paths = server.services.paths()
    assert paths.count("/eutils/esearch.fcgi") == 3 and paths.count("/eutils/efetch.fcgi") == 3
    assert paths.count("/europepmc/search") == 3
    queue = read(data_copy / "candidates.csv")
    assert len(queue) == 10 and len({r["record_id"] for r in queue}) == 10


def test_an_empty_result_is_logged_with_zero_counts(server: FakeServer, data_copy: Path) -> None:
    before = (data_copy / "candidates.csv").read_bytes()
    run_search(data_copy, settings(server), TODAY, quiet)
    assert (data_copy / "candidates.csv").read_bytes() == before
    runs = [r for r in read(data_copy / "searches.csv") if r["strategy_id"]]
    assert [(r["records_found"], r["records_new"]) for r in runs] == [("0", "0"), ("0", "0")]
    assert not any(p.endswith("efetch.fcgi") for p in server.services.paths())


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (lambda s: s.malformed.add("europepmc"), "Europe PMC's answer is not the documented search JSON"),
        (lambda s: s.malformed.add("esearch"), "PubMed's esearch answer is not the documented XML"),
        (lambda s: s.malformed.add("efetch"), "PubMed's efetch answer is not the documented XML"),
        (lambda s: s.reject.add("esearch"), "PubMed rejected the query: Invalid query"),
        (lambda s: s.reject.add("europepmc"), "Europe PMC rejected the query (HTTP 400)"),
        (lambda s: s.delay.update(europepmc=1.5), "Europe PMC did not answer within 0.4 s"),
        (lambda s: s.delay.update(esearch=1.5), "PubMed did not answer esearch within 0.4 s"),
        (lambda s: s.too_many.update(europepmc=5), "Europe PMC answered HTTP 429 after retries"),
    ],
    ids=[
        "malformed-json",
        "malformed-esearch",
        "malformed-efetch",
        "rejected-pubmed",
        "rejected-epmc",
        "timeout-epmc",
        "timeout-pubmed",
        "429-exhausted",
    ],
)
def test_a_failure_changes_nothing(server: FakeServer, data_copy: Path, setup, message: str) -> None:
    server.services.pubmed = [NEW_A]
    server.services.europepmc = [NEW_B]
    setup(server.services)
    before = snapshot(data_copy)
    with pytest.raises(SearchError) as err:
        run_search(data_copy, settings(server, timeout=0.4, retries=1), TODAY, quiet)
    assert message in str(err.value) and "\n" not in str(err.value)
    assert snapshot(data_copy) == before


def test_http_429_is_retried(server: FakeServer, data_copy: Path) -> None:
    server.services.pubmed = [NEW_A]
    server.services.europepmc = [NEW_B]
    server.services.too_many = {"europepmc": 2, "esearch": 1}
    run_search(data_copy, settings(server, retries=2), TODAY, quiet)
    assert server.services.too_many == {"europepmc": 0, "esearch": 0}
    assert server.services.paths().count("/europepmc/search") == 3
    assert [r["record_id"] for r in read(data_copy / "candidates.csv")] == ["PMID39000001", "PMID39000002"]


def test_an_unreachable_service_is_one_line_and_exit_1(
    server: FakeServer, data_copy: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    root = data_copy.parent
    (root / "_quarto.yml").write_text("project:\n  type: book\n", encoding="utf-8")
    monkeypatch.setenv("LIVINGREVIEW_ROOT", str(root))
    monkeypatch.setenv("LIVINGREVIEW_EUTILS_URL", "http://127.0.0.1:9/eutils")  # discard port: refused
    monkeypatch.setenv("LIVINGREVIEW_EUROPEPMC_URL", f"{server.url}/europepmc")
    monkeypatch.setenv("LIVINGREVIEW_RETRIES", "0")
    monkeypatch.setenv("LIVINGREVIEW_BACKOFF", "0")
    before = snapshot(data_copy)
    assert main(["search"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        "search failed: PubMed is unreachable at http://127.0.0.1:9/eutils ([Errno 111] Connection refused); "
        "nothing was written"
    ]
    assert snapshot(data_copy) == before


def test_cli_search_then_screen_with_settings_from_the_environment(
    server: FakeServer, data_copy: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    root = data_copy.parent
    (root / "_quarto.yml").write_text("project:\n  type: book\n", encoding="utf-8")
    server.services.pubmed = [NEW_A]
    server.services.europepmc = [NEW_B]
    monkeypatch.setenv("LIVINGREVIEW_ROOT", str(root))
    monkeypatch.setenv("LIVINGREVIEW_EUTILS_URL", f"{server.url}/eutils")
    monkeypatch.setenv("LIVINGREVIEW_EUROPEPMC_URL", f"{server.url}/europepmc/")
    monkeypatch.setenv("NCBI_API_KEY", "k")
    assert main(["search"]) == 0
    out = capsys.readouterr().out
    assert "[1/2] PM1: PubMed" in out and "[2/2] EP1: Europe PMC" in out
    assert "2 searches run, 2 new records queued in data/candidates.csv" in out
    assert main(["screen", "--list"]) == 0
    assert "PMID39000001\t2026\t" + NEW_A.title in capsys.readouterr().out


def test_settings_from_environment_defaults_and_errors() -> None:
    s = Settings.from_env({})
    assert s.eutils_url == "https://eutils.ncbi.nlm.nih.gov/entrez/eutils"
    assert s.europepmc_url == "https://www.ebi.ac.uk/europepmc/webservices/rest"
    assert (s.timeout, s.retries, s.email) == (30.0, 3, None)
    s = Settings.from_env({"LIVINGREVIEW_TIMEOUT": "5", "LIVINGREVIEW_EUTILS_URL": "http://mirror/x/"})
    assert s.timeout == 5.0 and s.eutils_url == "http://mirror/x"
    with pytest.raises(SearchError, match="LIVINGREVIEW_RETRIES='many' is not a number"):
        Settings.from_env({"LIVINGREVIEW_RETRIES": "many"})


def test_titles_are_matched_after_normalisation() -> None:
    assert Q.normalise_title("Alliance — and Sertraline: a Trial!") == "alliance and sertraline a trial"
    assert Q.normalise_title("Ångström\u200b effects") == "angstrom effects"
    seen = Q.screened([{"record_id": "X", "citation": f"Doe J. {SCREENED_TITLE}. J 2013", "source_url": ""}])
    assert seen.why_seen(_found(SCREENED_TITLE.upper())) == "title"
    assert seen.why_seen(_found("Depression")) is None  # too short to trust


def _found(title: str, **ids: str):
    from livingreview.search.clients import Found

    return Found(source="PubMed", title=title, **ids)


def test_a_short_title_inside_a_longer_citation_is_not_a_duplicate() -> None:
    seen = Q.screened(
        [{"record_id": "X", "citation": "Doe J. Alliance and anxiety care in general practice. J"}]
    )
    assert seen.why_seen(_found("Alliance and anxiety care")) is None  # four words only
    assert seen.why_seen(_found("Alliance and anxiety care in general practice")) == "title"


def test_a_search_log_without_the_run_columns_is_refused(data_copy: Path) -> None:
    log = (
        (data_copy / "searches.csv")
        .read_text(encoding="utf-8")
        .replace(",records_new,", ",records_new_x,", 1)
    )
    (data_copy / "searches.csv").write_text(log, encoding="utf-8")
    with pytest.raises(SearchError, match="missing column"):
        run_search(data_copy, Settings(), TODAY, quiet)
