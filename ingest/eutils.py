"""The thin network client for NCBI E-utilities, through Biopython's ``Bio.Entrez``.

``Bio.Entrez`` supplies the request building (``tool``, ``email`` and ``api_key`` on every
request, POST for long id lists) and the esearch result parser. Its own retry loop (15 s sleeps,
no timeout) and per-process pacing are not used: requests go out with a timeout through the
shared limiter of ``ingest.ratelimit``, and retries are the Celery task's job. Errors are
sorted into :class:`TransientEutilsError` (retry: 429, 5xx, timeouts, truncated bodies) and
:class:`EutilsError` (do not retry: a bad request, a malformed answer).
"""

from __future__ import annotations

import io
import xml.parsers.expat
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from http.client import HTTPException
from typing import Any
from urllib.error import HTTPError, URLError
from urllib.request import urlopen

from Bio import Entrez
from django.conf import settings

from ingest.ratelimit import acquire

# PubMed's esearch hands out at most this many ids for one query (retstart + retmax).
ESEARCH_CAP = 10_000


class EutilsError(Exception):
    """A request E-utilities answered with an error that retrying will not fix."""


class TransientEutilsError(EutilsError):
    """A failure worth retrying: 429, 5xx, a timeout, a dropped connection, a truncated body."""


@dataclass(frozen=True)
class SearchResult:
    """What esearch said: the total ``count`` and the history handle to page ids from."""

    count: int
    webenv: str
    query_key: str
    ids: tuple[str, ...] = ()


def configure_entrez() -> None:
    """Copy the NCBI identity from settings onto ``Bio.Entrez`` (done before every request)."""
    # Bio.Entrez declares these module globals as None in its stubs; they take strings.
    Entrez.email = settings.NCBI_EMAIL or "evidence-portal@localhost"  # type: ignore[assignment]
    Entrez.tool = settings.NCBI_TOOL
    Entrez.api_key = settings.NCBI_API_KEY  # type: ignore[assignment]
    Entrez.max_tries = 1


def _url(utility: str) -> str:
    base = str(settings.EUTILS_BASE_URL)
    return base if base.endswith("/") else base + "/"


def _request(utility: str, params: dict[str, Any]) -> bytes:
    configure_entrez()
    request = Entrez._build_request(_url(utility) + f"{utility}.fcgi", params)  # type: ignore[attr-defined]
    acquire(has_api_key=bool(settings.NCBI_API_KEY))
    timeout = float(getattr(settings, "EUTILS_TIMEOUT", 60))
    try:
        # The URL is always EUTILS_BASE_URL, validated as http(s) by settings.
        with urlopen(request, timeout=timeout) as response:  # noqa: S310
            body: bytes = response.read()
            expected = response.headers.get("Content-Length")
    except HTTPError as error:
        if error.code == 429 or error.code >= 500:
            raise TransientEutilsError(f"{utility}: HTTP {error.code} {error.reason}") from None
        raise EutilsError(f"{utility}: HTTP {error.code} {error.reason}") from None
    except TimeoutError as error:
        raise TransientEutilsError(f"{utility}: timed out after {timeout:g} s") from error
    except (URLError, HTTPException, ConnectionError) as error:
        raise TransientEutilsError(f"{utility}: {error}") from error
    if expected is not None and expected.isdigit() and len(body) < int(expected):
        raise TransientEutilsError(f"{utility}: truncated body ({len(body)} of {expected} bytes)")
    return body


def check_complete_xml(body: bytes, *, what: str) -> None:
    """Raise :class:`TransientEutilsError` when ``body`` is not one complete XML document.

    A body cut off in transit (or by a proxy) is the usual cause, so it is worth a retry.
    """
    parser = xml.parsers.expat.ParserCreate()
    try:
        parser.Parse(body, True)
    except xml.parsers.expat.ExpatError as error:
        raise TransientEutilsError(f"{what}: incomplete or malformed XML ({error})") from None


def _date(value: date) -> str:
    return value.strftime("%Y/%m/%d")


def _parse_search(body: bytes) -> dict[str, Any]:
    check_complete_xml(body, what="esearch")
    try:
        record: dict[str, Any] = Entrez.read(io.BytesIO(body), validate=False)
    except Exception as error:  # Bio.Entrez raises several parser errors; all mean a bad answer
        raise EutilsError(f"esearch: unreadable answer ({error})") from None
    if record.get("ERROR"):
        raise EutilsError(f"esearch: {record['ERROR']}")
    return record


def esearch(
    *,
    term: str,
    datetype: str,
    start: date,
    end: date,
    retstart: int = 0,
    retmax: int = ESEARCH_CAP,
    history: SearchResult | None = None,
) -> SearchResult:
    """Return the hit count of ``term`` in the window and one page of its PMIDs.

    The search is kept on the server (``usehistory``); pass the previous page's result as
    ``history`` to page through the same search. ``retstart + retmax`` may not pass 10,000, the
    most PubMed hands out for one query: a larger window has to be split.
    """
    if retstart + retmax > ESEARCH_CAP:
        raise EutilsError(f"esearch cannot page past {ESEARCH_CAP} ids (asked {retstart}+{retmax})")
    params: dict[str, Any] = {
        "db": "pubmed",
        "term": term,
        "usehistory": "y",
        "datetype": datetype,
        "mindate": _date(start),
        "maxdate": _date(end),
        "retstart": retstart,
        "retmax": retmax,
    }
    if history is not None and history.webenv:
        params["WebEnv"] = history.webenv
        params["query_key"] = history.query_key
    record = _parse_search(_request("esearch", params))
    return SearchResult(
        count=int(record["Count"]),
        webenv=str(record.get("WebEnv", "")),
        query_key=str(record.get("QueryKey", "")),
        ids=tuple(str(pmid) for pmid in record.get("IdList", [])),
    )


def efetch_pubmed(pmids: Sequence[str]) -> bytes:
    """Return the PubMed XML (a complete ``PubmedArticleSet``) for ``pmids``."""
    if not pmids:
        raise ValueError("efetch_pubmed needs at least one PMID")
    body = _request("efetch", {"db": "pubmed", "id": list(pmids), "retmode": "xml"})
    check_complete_xml(body, what="efetch")
    return body
