"""Clients for the databases a stored search strategy runs against: PubMed (Bio.Entrez) and Europe PMC (REST).

Each client returns the records a query finds within a range of entry dates, page by page, and raises
:class:`SearchError` with one readable sentence when the service is unreachable, times out, rejects the
query or answers in a form its documentation does not describe. Base addresses, contact details,
time-outs and retries are :class:`Settings`, read from environment variables so that a mirror or a
local test server can stand in for the real services.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import socket
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

EUTILS_URL = "https://eutils.ncbi.nlm.nih.gov/entrez/eutils"
EUROPEPMC_URL = "https://www.ebi.ac.uk/europepmc/webservices/rest"
TOOL = "livingreview"

Log = Callable[[str], None]


class SearchError(RuntimeError):
    """A search could not be run; the message is one line that says why."""


@dataclass(frozen=True)
class Found:
    """One bibliographic record as a database returns it."""

    source: str
    title: str
    pmid: str = ""
    pmcid: str = ""
    doi: str = ""
    authors: str = ""
    year: str = ""
    journal: str = ""
    abstract: str = ""


@dataclass(frozen=True)
class Settings:
    """Where the services are and how patiently to ask them (see :meth:`from_env`)."""

    eutils_url: str = EUTILS_URL
    europepmc_url: str = EUROPEPMC_URL
    email: str | None = None
    api_key: str | None = None
    timeout: float = 30.0
    retries: int = 3
    backoff: float = 2.0
    page_size: int = 200

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        """Settings from ``LIVINGREVIEW_EUTILS_URL``, ``LIVINGREVIEW_EUROPEPMC_URL``, ``NCBI_EMAIL``,
        ``NCBI_API_KEY``, ``LIVINGREVIEW_TIMEOUT`` (s), ``LIVINGREVIEW_RETRIES``, ``LIVINGREVIEW_BACKOFF``
        (s) and ``LIVINGREVIEW_PAGE_SIZE`` (records per request)."""
        env = dict(os.environ if env is None else env)

        def number(name: str, default: float, kind: type = float) -> Any:
            text = env.get(name, "").strip()
            if not text:
                return default
            try:
                value = kind(text)
            except ValueError:
                raise SearchError(f"{name}={text!r} is not a number") from None
            if value < 0 or (kind is int and name.endswith("PAGE_SIZE") and value < 1):
                raise SearchError(f"{name}={text!r} is out of range")
            return value

        return cls(
            eutils_url=env.get("LIVINGREVIEW_EUTILS_URL", "").strip().rstrip("/") or EUTILS_URL,
            europepmc_url=env.get("LIVINGREVIEW_EUROPEPMC_URL", "").strip().rstrip("/") or EUROPEPMC_URL,
            email=env.get("NCBI_EMAIL", "").strip() or None,
            api_key=env.get("NCBI_API_KEY", "").strip() or None,
            timeout=number("LIVINGREVIEW_TIMEOUT", 30.0),
            retries=number("LIVINGREVIEW_RETRIES", 3, int),
            backoff=number("LIVINGREVIEW_BACKOFF", 2.0),
            page_size=number("LIVINGREVIEW_PAGE_SIZE", 200, int),
        )


# --- PubMed through Bio.Entrez ------------------------------------------------------------------


@contextlib.contextmanager
def _entrez(settings: Settings) -> Iterator[Any]:
    """Bio.Entrez configured from ``settings`` (its module-level options), restored afterwards."""
    from Bio import Entrez

    saved = (Entrez.email, Entrez.tool, Entrez.api_key, Entrez.max_tries, Entrez.sleep_between_tries)
    old_timeout = socket.getdefaulttimeout()
    Entrez.email, Entrez.tool, Entrez.api_key = settings.email, TOOL, settings.api_key
    Entrez.max_tries = settings.retries + 1
    Entrez.sleep_between_tries = settings.backoff
    # Bio.Entrez opens its requests without a time-out of its own; the socket default applies.
    socket.setdefaulttimeout(settings.timeout)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=r"(?s).*Email address is not specified")
            yield Entrez
    finally:
        Entrez.email, Entrez.tool, Entrez.api_key, Entrez.max_tries, Entrez.sleep_between_tries = saved
        socket.setdefaulttimeout(old_timeout)


def _eutil(entrez: Any, settings: Settings, util: str, params: dict[str, Any]) -> Any:
    """Call one E-utility at ``settings.eutils_url`` and parse its XML with ``Entrez.read``.

    Bio.Entrez's public functions (``esearch``, ``efetch``) always address NCBI, so the request is
    built and sent with the same helpers they use (its rate limit of 3 requests per second, or 10
    with an API key, and its retries of HTTP 429 and 5xx answers apply) at the configured address.
    """
    from urllib.error import HTTPError, URLError

    from Bio.Entrez.Parser import CorruptedXMLError, NotXMLError, ValidationError

    request = entrez._build_request(f"{settings.eutils_url}/{util}.fcgi", dict(params))
    try:
        with contextlib.closing(entrez._open(request)) as handle:
            return entrez.read(handle)
    except HTTPError as err:
        if err.code == 400:
            raise SearchError(f"PubMed rejected the query (HTTP 400 from {util})") from None
        raise SearchError(f"PubMed answered HTTP {err.code} ({err.reason}) to {util}") from None
    except TimeoutError:
        raise SearchError(f"PubMed did not answer {util} within {settings.timeout:g} s") from None
    except URLError as err:
        if isinstance(err.reason, TimeoutError):
            raise SearchError(f"PubMed did not answer {util} within {settings.timeout:g} s") from None
        raise SearchError(f"PubMed is unreachable at {settings.eutils_url} ({err.reason})") from None
    except (NotXMLError, CorruptedXMLError, ValidationError) as err:
        raise SearchError(f"PubMed's {util} answer is not the documented XML ({err})") from None
    except RuntimeError as err:  # an <ERROR> element: E-utilities reject the query this way
        raise SearchError(f"PubMed rejected the query: {err}") from None
    except OSError as err:
        raise SearchError(f"PubMed could not be read ({err})") from None


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return " ".join(_text(v) for v in value if _text(v))
    return " ".join(str(value).split())


def _pubmed_record(article: dict[str, Any]) -> Found:
    citation = article.get("MedlineCitation", {})
    art = citation.get("Article", {})
    ids = {str(getattr(i, "attributes", {}).get("IdType", "")): str(i) for i in _ids(article)}
    authors = []
    for author in art.get("AuthorList", []) or []:
        if "CollectiveName" in author:
            authors.append(_text(author["CollectiveName"]))
        elif "LastName" in author:
            authors.append(f"{author['LastName']} {author.get('Initials', '')}".strip())
    journal = art.get("Journal", {})
    pub_date = journal.get("JournalIssue", {}).get("PubDate", {})
    year = str(pub_date.get("Year", "")) or str(pub_date.get("MedlineDate", ""))[:4]
    abstract = art.get("Abstract", {}).get("AbstractText", [])
    return Found(
        source="PubMed",
        title=_text(art.get("ArticleTitle", "")),
        pmid=str(citation.get("PMID", "")),
        pmcid=ids.get("pmc", ""),
        doi=ids.get("doi", "").lower(),
        authors=", ".join(authors),
        year=year if year.isdigit() else "",
        journal=_text(journal.get("Title", "")),
        abstract=_text(abstract),
    )


def _ids(article: dict[str, Any]) -> list[Any]:
    return list(article.get("PubmedData", {}).get("ArticleIdList", []) or [])


def search_pubmed(
    query: str, since: dt.date, until: dt.date, settings: Settings, log: Log = print
) -> tuple[int, list[Found]]:
    """(count PubMed reports, records) for ``query`` with entry dates (EDAT) ``since``–``until``."""
    dates = {"datetype": "edat", "mindate": f"{since:%Y/%m/%d}", "maxdate": f"{until:%Y/%m/%d}"}
    ids: list[str] = []
    count = None
    if not settings.email:
        log("  PubMed: NCBI_EMAIL is not set; NCBI asks every E-utilities user for a contact address")
    with _entrez(settings) as entrez:
        while count is None or len(ids) < count:
            params = {"db": "pubmed", "term": query, "retstart": len(ids), "retmax": settings.page_size}
            answer = _eutil(entrez, settings, "esearch", {**params, **dates})
            try:
                count = int(answer["Count"])
                page = [str(i) for i in answer["IdList"]]
            except (KeyError, TypeError, ValueError):
                raise SearchError("PubMed's esearch answer has no Count or IdList") from None
            for problem, items in (answer.get("ErrorList") or {}).items():
                if items:
                    log(f"  PubMed: {problem}: {', '.join(map(str, items))}")
            if not page:
                break
            ids.extend(page)
            log(f"  PubMed: {len(ids)} of {count} identifiers")
        found: list[Found] = []
        for start in range(0, len(ids), settings.page_size):
            batch = ids[start : start + settings.page_size]
            answer = _eutil(
                entrez,
                settings,
                "efetch",
                {"db": "pubmed", "id": batch, "retmode": "xml", "rettype": "abstract"},
            )
            try:
                articles = list(answer["PubmedArticle"])
            except (KeyError, TypeError):
                raise SearchError("PubMed's efetch answer is not a PubmedArticleSet") from None
            found.extend(_pubmed_record(a) for a in articles)
            log(f"  PubMed: {len(found)} of {len(ids)} records fetched")
    return count or 0, found


# --- Europe PMC through its REST API ---------------------------------------------------------------


def _session(settings: Settings) -> Any:
    """A requests session that retries connection errors, time-outs, HTTP 429 and 5xx with back-off."""
    import requests
    from requests.adapters import HTTPAdapter
    from urllib3.util.retry import Retry

    retry = Retry(
        total=settings.retries,
        connect=settings.retries,
        read=settings.retries,
        status=settings.retries,
        backoff_factor=settings.backoff,
        status_forcelist=(429, 500, 502, 503, 504),
        allowed_methods=frozenset({"GET"}),
        respect_retry_after_header=True,
        raise_on_status=False,
    )
    session = requests.Session()
    session.mount("http://", HTTPAdapter(max_retries=retry))
    session.mount("https://", HTTPAdapter(max_retries=retry))
    session.headers["User-Agent"] = f"{TOOL} (living systematic review search)"
    return session


def _europepmc_record(hit: Any) -> Found:
    if not isinstance(hit, dict):
        raise SearchError("Europe PMC's answer lists a record that is not a JSON object")
    journal = (hit.get("journalInfo") or {}).get("journal") or {}
    return Found(
        source="Europe PMC",
        title=_text(hit.get("title", "")),
        pmid=str(hit.get("pmid", "") or ""),
        pmcid=str(hit.get("pmcid", "") or ""),
        doi=str(hit.get("doi", "") or "").lower(),
        authors=_text(hit.get("authorString", "")).rstrip("."),
        year=str(hit.get("pubYear", "") or ""),
        journal=_text(journal.get("title") or hit.get("journalTitle") or ""),
        abstract=_text(hit.get("abstractText", "")),
    )


def europepmc_query(query: str, since: dt.date, until: dt.date) -> str:
    """The query as run: the stored strategy limited to record creation dates ``since``–``until``."""
    return f"({query}) AND CREATION_DATE:[{since.isoformat()} TO {until.isoformat()}]"


def search_europepmc(
    query: str, since: dt.date, until: dt.date, settings: Settings, log: Log = print
) -> tuple[int, list[Found]]:
    """(hit count Europe PMC reports, records) for ``query`` created ``since``–``until``."""
    import requests

    url = f"{settings.europepmc_url}/search"
    full = europepmc_query(query, since, until)
    cursor, count, found = "*", None, []
    with _session(settings) as session:
        while True:
            params = {
                "query": full,
                "format": "json",
                "resultType": "core",
                "pageSize": settings.page_size,
                "cursorMark": cursor,
            }
            try:
                response = session.get(url, params=params, timeout=settings.timeout)
            except requests.exceptions.ConnectionError as err:
                if "timed out" in str(err).lower() or "timeout" in type(err.__context__).__name__.lower():
                    raise SearchError(f"Europe PMC did not answer within {settings.timeout:g} s") from None
                raise SearchError(f"Europe PMC is unreachable at {settings.europepmc_url}") from None
            except requests.exceptions.Timeout:
                raise SearchError(f"Europe PMC did not answer within {settings.timeout:g} s") from None
            except requests.exceptions.RequestException as err:
                raise SearchError(f"Europe PMC could not be read ({type(err).__name__})") from None
            if response.status_code == 400:
                raise SearchError("Europe PMC rejected the query (HTTP 400)")
            if response.status_code != 200:
                raise SearchError(f"Europe PMC answered HTTP {response.status_code} after retries")
            try:
                body = response.json()
                count = int(body["hitCount"])
                hits = body["resultList"]["result"]
                next_cursor = body.get("nextCursorMark")
                if not isinstance(hits, list):
                    raise TypeError
            except (ValueError, KeyError, TypeError):
                raise SearchError("Europe PMC's answer is not the documented search JSON") from None
            found.extend(_europepmc_record(h) for h in hits)
            log(f"  Europe PMC: {len(found)} of {count} records")
            if not hits or not next_cursor or next_cursor == cursor or len(found) >= count:
                break
            cursor = next_cursor
    if any(not f.title for f in found):
        raise SearchError("Europe PMC's answer has a record without a title")
    return count, found


def pubmed_query(query: str, since: dt.date, until: dt.date) -> str:
    """The query as run, with the entry-date limits PubMed's esearch receives as parameters."""
    return f'({query}) AND ("{since:%Y/%m/%d}"[EDAT] : "{until:%Y/%m/%d}"[EDAT])'


CLIENTS = {"pubmed": (search_pubmed, pubmed_query), "europepmc": (search_europepmc, europepmc_query)}
SOURCE_NAMES = {"pubmed": "PubMed", "europepmc": "Europe PMC"}
