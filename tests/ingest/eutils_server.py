"""A small local E-utilities server that answers esearch/efetch from real PubMed records.

The records are real ``PubmedArticle`` elements read from ``../shared/data/pubmed/xml`` (or
copies of them with new PMIDs, to make a window larger than PubMed's 10,000 cap). It speaks
what the harvester uses: ``term`` (words that must all appear, or ``all[sb]``), ``datetype`` with
``mindate``/``maxdate``, ``usehistory`` with ``WebEnv``/``query_key``, ``retstart``/``retmax``
with the 10,000 cap, and efetch by ``id`` (GET or POST). Faults can be injected (429 or 500
bursts, truncated bodies) and every request is logged with its arrival time, so tests can count
requests per second.
"""

from __future__ import annotations

import gzip
import re
import threading
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import IO
from urllib.parse import parse_qs, urlparse
from xml.sax.saxutils import escape

CAP = 10_000
ESEARCH_HEAD = (
    b'<?xml version="1.0" encoding="UTF-8" ?>\n'
    b'<!DOCTYPE eSearchResult PUBLIC "-//NLM//DTD esearch 20060628//EN" '
    b'"https://eutils.ncbi.nlm.nih.gov/eutils/dtd/20060628/esearch.dtd">\n'
)
EFETCH_HEAD = (
    b'<?xml version="1.0" ?>\n<!DOCTYPE PubmedArticleSet PUBLIC "-//NLM//DTD PubMedArticle, 1st January 2025//EN" '
    b'"https://dtd.nlm.nih.gov/ncbi/pubmed/out/pubmed_250101.dtd">\n<PubmedArticleSet>\n'
)
EFETCH_TAIL = b"</PubmedArticleSet>\n"


@dataclass
class Article:
    """One served record: its XML, its dates by datetype, and its words for term matching."""

    pmid: str
    xml: bytes
    dates: dict[str, date]
    words: frozenset[str]


def _date_of(element: ET.Element | None) -> date | None:
    if element is None:
        return None
    try:
        return date(
            int(element.findtext("Year") or 0),
            int(element.findtext("Month") or 1) if (element.findtext("Month") or "1").isdigit() else 1,
            int(element.findtext("Day") or 1),
        )
    except ValueError:
        return None


def _words(text: str) -> frozenset[str]:
    return frozenset(re.findall(r"[a-z0-9]+", text.lower()))


def article_from_element(element: ET.Element) -> Article | None:
    """Return the served form of a ``PubmedArticle`` (or bare ``MedlineCitation``) element."""
    if element.tag == "MedlineCitation":
        wrapper = ET.Element("PubmedArticle")
        wrapper.append(element)
        element = wrapper
    citation = element.find("MedlineCitation")
    if citation is None:
        return None
    pmid = (citation.findtext("PMID") or "").strip()
    if not pmid:
        return None
    history = element.find("PubmedData/History")
    entrez = None
    if history is not None:
        for status in ("entrez", "pubmed"):
            entrez = _date_of(history.find(f"PubMedPubDate[@PubStatus='{status}']"))
            if entrez:
                break
    revised = _date_of(citation.find("DateRevised")) or _date_of(citation.find("DateCompleted"))
    created = _date_of(citation.find("DateCreated")) or _date_of(citation.find("DateCompleted"))
    edat = entrez or created or revised or date(2000, 1, 1)
    mdat = revised or edat
    text = " ".join(element.itertext())
    return Article(
        pmid=pmid,
        xml=ET.tostring(element, encoding="utf-8", xml_declaration=False),
        dates={"edat": edat, "mdat": mdat, "pdat": edat},
        words=_words(text),
    )


def _open(path: Path) -> IO[bytes]:
    return gzip.open(path, "rb") if path.suffix == ".gz" else path.open("rb")


def read_articles(paths: Iterable[Path]) -> list[Article]:
    """Return the articles of real PubMed XML files (duplicates by PMID kept once)."""
    seen: dict[str, Article] = {}
    for path in paths:
        with _open(path) as stream:
            depth = 0
            for event, element in ET.iterparse(stream, events=("start", "end")):
                if event == "start":
                    if element.tag in ("PubmedArticle", "MedlineCitation"):
                        depth += 1
                    continue
                if element.tag == "PubmedArticle" or (element.tag == "MedlineCitation" and depth == 1):
                    article = article_from_element(element)
                    if article is not None:
                        seen.setdefault(article.pmid, article)
                    element.clear()
                if element.tag in ("PubmedArticle", "MedlineCitation"):
                    depth -= 1
    return list(seen.values())


def with_new_pmid(article: Article, pmid: str, *, day: date | None = None, title: str | None = None) -> Article:
    """Return a copy of ``article`` under a new PMID (and optionally a new date or title)."""
    body = re.sub(
        rb"<PMID( [^>]*)?>\s*" + article.pmid.encode() + rb"\s*</PMID>",
        rb"<PMID\1>" + pmid.encode() + b"</PMID>",
        article.xml,
        count=1,
    )
    body = body.replace(
        b'<ArticleId IdType="pubmed">' + article.pmid.encode() + b"</ArticleId>",
        b'<ArticleId IdType="pubmed">' + pmid.encode() + b"</ArticleId>",
    )
    if title is not None:
        body = re.sub(
            rb"<ArticleTitle>.*?</ArticleTitle>",
            b"<ArticleTitle>" + escape(title).encode() + b"</ArticleTitle>",
            body,
            count=1,
            flags=re.S,
        )
    dates = {kind: day for kind in article.dates} if day else dict(article.dates)
    return Article(pmid=pmid, xml=body, dates=dates, words=article.words)


def replicate(articles: list[Article], count: int, *, first_pmid: int, start: date, days: int) -> list[Article]:
    """Return ``count`` copies of ``articles`` (cycled) with new PMIDs spread over ``days``."""
    return [
        with_new_pmid(
            articles[index % len(articles)], str(first_pmid + index), day=start + timedelta(days=index % days)
        )
        for index in range(count)
    ]


def pubmed_file(articles: Iterable[Article], *, deleted: Iterable[str] = ()) -> bytes:
    """Return a PubMed XML file (``PubmedArticleSet``) of ``articles`` and deletions."""
    parts = [EFETCH_HEAD, *(article.xml + b"\n" for article in articles)]
    deleted = list(deleted)
    if deleted:
        parts.append(
            b"<DeleteCitation>\n"
            + b"".join(f'<PMID Version="1">{p}</PMID>\n'.encode() for p in deleted)
            + b"</DeleteCitation>\n"
        )
    parts.append(EFETCH_TAIL)
    return b"".join(parts)


HANG_SECONDS = 90.0


@dataclass
class Fault:
    utility: str  # "esearch", "efetch" or "*"
    kind: str  # "429", "500", "truncate" or "hang" (answer only after HANG_SECONDS)
    remaining: int


@dataclass
class LoggedRequest:
    at: float
    utility: str
    params: dict[str, str]
    status: int


@dataclass
class ServerState:
    articles: dict[str, Article] = field(default_factory=dict)
    histories: dict[str, list[str]] = field(default_factory=dict)
    faults: list[Fault] = field(default_factory=list)
    log: list[LoggedRequest] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


class EutilsServer:
    """The server, on 127.0.0.1 at a free port, run in a background thread."""

    def __init__(self, articles: Iterable[Article] = ()) -> None:
        self.state = ServerState()
        self.add(articles)
        state = self.state

        class Handler(_Handler):
            pass

        Handler.state = state
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host!s}:{port}/entrez/eutils/"

    def start(self) -> EutilsServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def add(self, articles: Iterable[Article]) -> None:
        with self.state.lock:
            for article in articles:
                self.state.articles[article.pmid] = article

    def inject(self, kind: str, count: int, *, utility: str = "*") -> None:
        """Make the next ``count`` requests to ``utility`` fail with ``kind``."""
        with self.state.lock:
            self.state.faults.append(Fault(utility=utility, kind=kind, remaining=count))

    def heal(self) -> None:
        """Drop every fault not yet served."""
        with self.state.lock:
            self.state.faults.clear()

    @property
    def requests(self) -> list[LoggedRequest]:
        with self.state.lock:
            return list(self.state.log)

    def max_requests_in_any_second(self) -> int:
        """Return the most requests that arrived within any sliding one-second window."""
        times = sorted(request.at for request in self.requests)
        best = 0
        start = 0
        for end, at in enumerate(times):
            while at - times[start] >= 1.0:
                start += 1
            best = max(best, end - start + 1)
        return best


class _Handler(BaseHTTPRequestHandler):
    state: ServerState
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:  # quiet
        return

    def do_GET(self) -> None:
        self._serve(parse_qs(urlparse(self.path).query))

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self._serve(parse_qs(self.rfile.read(length).decode()))

    def _serve(self, raw: dict[str, list[str]]) -> None:
        params = {key: values[-1] for key, values in raw.items()}
        path = urlparse(self.path).path
        utility = path.rsplit("/", 1)[-1].removesuffix(".fcgi") if path.startswith("/entrez/eutils/") else ""
        fault = self._take_fault(utility)
        if fault == "hang":
            time.sleep(HANG_SECONDS)  # a server that stopped answering: the client times out first
        status = 200
        if fault in ("429", "500"):
            status = int(fault)
        elif utility == "esearch":
            body = self._esearch(params)
        elif utility == "efetch":
            body = self._efetch(params)
        else:
            status = 404
        with self.state.lock:
            self.state.log.append(LoggedRequest(at=time.monotonic(), utility=utility, params=params, status=status))
        if status != 200:
            message = b'{"error":"API rate limit exceeded"}' if status == 429 else b"server error"
            self.send_response(status)
            self.send_header("Content-Type", "application/json" if status == 429 else "text/plain")
            self.send_header("Content-Length", str(len(message)))
            self.end_headers()
            self.wfile.write(message)
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/xml; charset=UTF-8")
        if fault == "truncate":
            # Cut the body off mid-document and close, as a dropped proxy connection does.
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(body[: max(1, len(body) // 2)])
            self.close_connection = True
            return
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _take_fault(self, utility: str) -> str | None:
        with self.state.lock:
            for fault in self.state.faults:
                if fault.remaining > 0 and fault.utility in ("*", utility):
                    fault.remaining -= 1
                    return fault.kind
        return None

    def _matches(self, params: dict[str, str]) -> list[str]:
        term = params.get("term", "")
        words = _words(term.replace("all[sb]", ""))
        datetype = params.get("datetype", "pdat")
        low = _parse_day(params.get("mindate"))
        high = _parse_day(params.get("maxdate"))
        with self.state.lock:
            articles = list(self.state.articles.values())
        found = []
        for article in articles:
            if words and not words <= article.words:
                continue
            day = article.dates.get(datetype)
            if day is None or (low and day < low) or (high and day > high):
                continue
            found.append(article.pmid)
        # PubMed lists the newest first; PMIDs grow with time.
        return sorted(found, key=int, reverse=True)

    def _esearch(self, params: dict[str, str]) -> bytes:
        webenv = params.get("WebEnv")
        with self.state.lock:
            stored = self.state.histories.get(webenv or "")
        if stored is not None and params.get("query_key") == "1":
            ids = stored
        else:
            ids = self._matches(params)
            webenv = f"MCID_{uuid.uuid4().hex}"
            if params.get("usehistory") == "y":
                with self.state.lock:
                    self.state.histories[webenv] = ids
        retstart = int(params.get("retstart") or 0)
        retmax = int(params.get("retmax") or 20)
        parts = [ESEARCH_HEAD, b"<eSearchResult>"]
        parts.append(f"<Count>{len(ids)}</Count><RetMax>{retmax}</RetMax><RetStart>{retstart}</RetStart>".encode())
        if params.get("usehistory") == "y":
            parts.append(f"<QueryKey>1</QueryKey><WebEnv>{webenv}</WebEnv>".encode())
        if retstart >= CAP:
            parts.append(
                f"<IdList/><ERROR>Search Backend failed: Exception:\n'retstart' cannot be larger than {CAP - 1}. "
                "For PubMed, ESearch can only retrieve the first 9,999 records matching the query.</ERROR>".encode()
            )
        else:
            page = ids[:CAP][retstart : retstart + retmax]
            parts.append(b"<IdList>" + b"".join(f"<Id>{pmid}</Id>".encode() for pmid in page) + b"</IdList>")
        parts.append(f"<TranslationSet/><QueryTranslation>{escape(params.get('term', ''))}</QueryTranslation>".encode())
        parts.append(b"</eSearchResult>\n")
        return b"".join(parts)

    def _efetch(self, params: dict[str, str]) -> bytes:
        if params.get("WebEnv"):
            with self.state.lock:
                ids = self.state.histories.get(params["WebEnv"], [])
            retstart = int(params.get("retstart") or 0)
            ids = ids[retstart : retstart + int(params.get("retmax") or 20)]
        else:
            ids = [pmid.strip() for pmid in params.get("id", "").split(",") if pmid.strip()]
        with self.state.lock:
            found = [self.state.articles[pmid] for pmid in ids if pmid in self.state.articles]
        return pubmed_file(found)


def _parse_day(text: str | None) -> date | None:
    if not text:
        return None
    year, month, day = (int(part) for part in text.replace("-", "/").split("/"))
    return date(year, month, day)


def main(argv: list[str] | None = None) -> None:
    """Serve real PubMed XML files until killed: ``python -m tests.ingest.eutils_server FILE...``.

    Prints one line, ``EUTILS_BASE_URL=http://127.0.0.1:PORT/entrez/eutils/``, once it listens
    (scripts/prod_smoke.sh harvests from it).
    """
    import sys

    paths = [Path(arg) for arg in (sys.argv[1:] if argv is None else argv)]
    server = EutilsServer(read_articles(paths))
    print(f"EUTILS_BASE_URL={server.base_url}", flush=True)
    server.httpd.serve_forever()


if __name__ == "__main__":
    main()
