"""A local stand-in for NCBI E-utilities and Europe PMC, answering in their documented formats.

Runs ``http.server`` on 127.0.0.1 in a thread. Tests set what each service holds and how it
misbehaves (a malformed body, a delay longer than the client's time-out, HTTP 429 before success, a
rejected query) and read back the requests it received.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse
from xml.sax.saxutils import escape

ESEARCH_DOCTYPE = (
    '<!DOCTYPE eSearchResult PUBLIC "-//NLM//DTD esearch 20060628//EN" '
    '"https://eutils.ncbi.nlm.nih.gov/eutils/dtd/20060628/esearch.dtd">'
)
PUBMED_DOCTYPE = (
    '<!DOCTYPE PubmedArticleSet PUBLIC "-//NLM//DTD PubMedArticle, 1st January 2025//EN" '
    '"https://dtd.nlm.nih.gov/ncbi/pubmed/out/pubmed_250101.dtd">'
)


@dataclass
class Paper:
    """A record as both services can describe it."""

    title: str
    pmid: str = ""
    pmcid: str = ""
    doi: str = ""
    year: str = "2026"
    journal: str = "Journal of Affective Disorders"
    authors: tuple[tuple[str, str], ...] = (("Doe", "J"), ("Roe", "R"))
    abstract: str = "Background. Alliance and antidepressant response. Results. r = .30."


def pubmed_article(p: Paper) -> str:
    authors = "".join(
        f'<Author ValidYN="Y"><LastName>{last}</LastName><ForeName>{first}</ForeName>'
        f"<Initials>{first}</Initials></Author>"
        for last, first in p.authors
    )
    ids = f'<ArticleId IdType="pubmed">{p.pmid}</ArticleId>'
    if p.doi:
        ids += f'<ArticleId IdType="doi">{escape(p.doi)}</ArticleId>'
    if p.pmcid:
        ids += f'<ArticleId IdType="pmc">{p.pmcid}</ArticleId>'
    return (
        '<PubmedArticle><MedlineCitation Status="MEDLINE" Owner="NLM">'
        f'<PMID Version="1">{p.pmid}</PMID>'
        '<Article PubModel="Print"><Journal><JournalIssue CitedMedium="Internet">'
        f"<PubDate><Year>{p.year}</Year></PubDate></JournalIssue>"
        f"<Title>{escape(p.journal)}</Title></Journal>"
        f"<ArticleTitle>{escape(p.title)}</ArticleTitle>"
        f"<Abstract><AbstractText>{escape(p.abstract)}</AbstractText></Abstract>"
        f'<AuthorList CompleteYN="Y">{authors}</AuthorList>'
        "<Language>eng</Language></Article></MedlineCitation>"
        f"<PubmedData><ArticleIdList>{ids}</ArticleIdList></PubmedData></PubmedArticle>"
    )


def europepmc_hit(p: Paper) -> dict:
    hit = {
        "id": p.pmid or p.pmcid or "PPR1",
        "source": "MED" if p.pmid else "PPR",
        "title": p.title + ".",
        "authorString": ", ".join(f"{last} {first}" for last, first in p.authors) + ".",
        "pubYear": p.year,
        "journalInfo": {"journal": {"title": p.journal}},
        "abstractText": p.abstract,
    }
    for key in ("pmid", "pmcid", "doi"):
        if getattr(p, key):
            hit[key] = getattr(p, key)
    return hit


@dataclass
class Services:
    """What the fake services hold and how they behave (changed by tests between runs)."""

    pubmed: list[Paper] = field(default_factory=list)
    europepmc: list[Paper] = field(default_factory=list)
    malformed: set[str] = field(default_factory=set)  # "esearch", "efetch", "europepmc"
    delay: dict[str, float] = field(default_factory=dict)
    too_many: dict[str, int] = field(default_factory=dict)  # answer 429 this many times first
    reject: set[str] = field(default_factory=set)  # "esearch" (<ERROR>), "europepmc" (HTTP 400)
    requests: list[tuple[str, dict[str, list[str]]]] = field(default_factory=list)

    def paths(self) -> list[str]:
        return [path for path, _ in self.requests]


def _handler(services: Services) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:  # keep test output quiet
            pass

        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            url = urlparse(self.path)
            self._answer(url.path, parse_qs(url.query))

        def do_POST(self) -> None:  # noqa: N802
            length = int(self.headers.get("Content-Length", 0))
            self._answer(urlparse(self.path).path, parse_qs(self.rfile.read(length).decode()))

        def _send(self, status: int, body: str, kind: str, headers: dict[str, str] | None = None) -> None:
            data = body.encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(data)))
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data)

        def _answer(self, path: str, query: dict[str, list[str]]) -> None:
            services.requests.append((path, query))
            name = path.rsplit("/", 1)[-1].removesuffix(".fcgi")
            name = "europepmc" if name == "search" else name
            if services.delay.get(name):
                time.sleep(services.delay[name])
            if services.too_many.get(name, 0) > 0:
                services.too_many[name] -= 1
                self._send(429, "Too Many Requests", "text/plain", {"Retry-After": "0"})
                return
            if name in services.malformed:
                kind = "application/json" if name == "europepmc" else "text/xml"
                self._send(200, "<eSearchResult><Count>3</Count><IdList><Id>1", kind)
                return
            if name == "esearch":
                self._esearch(query)
            elif name == "efetch":
                self._efetch(query)
            elif name == "europepmc":
                self._europepmc(query)
            else:
                self._send(404, "not found", "text/plain")

        def _esearch(self, query: dict[str, list[str]]) -> None:
            head = f'<?xml version="1.0" encoding="UTF-8" ?>\n{ESEARCH_DOCTYPE}\n'
            if "esearch" in services.reject:
                self._send(
                    200, head + "<eSearchResult><ERROR>Invalid query</ERROR></eSearchResult>", "text/xml"
                )
                return
            start, size = int(query["retstart"][0]), int(query["retmax"][0])
            ids = [p.pmid for p in services.pubmed]
            page = "".join(f"<Id>{i}</Id>" for i in ids[start : start + size])
            body = (
                f"<eSearchResult><Count>{len(ids)}</Count><RetMax>{len(ids[start : start + size])}</RetMax>"
                f"<RetStart>{start}</RetStart><IdList>{page}</IdList><TranslationSet/>"
                "<QueryTranslation>alliance</QueryTranslation></eSearchResult>"
            )
            self._send(200, head + body, "text/xml")

        def _efetch(self, query: dict[str, list[str]]) -> None:
            wanted = query["id"][0].split(",")
            papers = [p for p in services.pubmed if p.pmid in wanted]
            body = "".join(pubmed_article(p) for p in papers)
            text = f'<?xml version="1.0" ?>\n{PUBMED_DOCTYPE}\n<PubmedArticleSet>{body}</PubmedArticleSet>'
            self._send(200, text, "text/xml")

        def _europepmc(self, query: dict[str, list[str]]) -> None:
            if "europepmc" in services.reject:
                self._send(400, json.dumps({"errCode": 400, "errMsg": "Syntax error"}), "application/json")
                return
            cursor, size = query["cursorMark"][0], int(query["pageSize"][0])
            start = 0 if cursor == "*" else int(cursor.removeprefix("c"))
            hits = [europepmc_hit(p) for p in services.europepmc[start : start + size]]
            end = start + len(hits)
            body = {
                "version": "6.9",
                "hitCount": len(services.europepmc),
                "nextCursorMark": f"c{end}" if hits else cursor,
                "request": {"queryString": query["query"][0], "cursorMark": cursor, "pageSize": size},
                "resultList": {"result": hits},
            }
            self._send(200, json.dumps(body), "application/json")

    return Handler


class FakeServer:
    """The fake services on a free port of 127.0.0.1; ``url`` is the base of both."""

    def __init__(self) -> None:
        self.services = Services()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self.services))
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> FakeServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
