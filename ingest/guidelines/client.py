"""The only network access of the guideline readers: OAI-PMH pages, feeds and plain downloads.

Errors are sorted for the harvesting tasks: ``TransientFetchError`` (timeouts, dropped
connections, 429, 5xx, a truncated body) is worth retrying; ``FetchError`` (other 4xx, a body
that is not XML or not a feed, a body over the size limit) is not. OAI-PMH error responses
raise ``OaiError`` (``empty`` for noRecordsMatch). The OAI-PMH protocol (request building,
error mapping) goes through oaipmh-scythe, one page per call, so a caller can checkpoint the
resumption token between pages.
"""

from __future__ import annotations

import contextlib
import re
from datetime import date, datetime

import httpx2
import oaipmh_scythe
from oaipmh_scythe import exceptions as scythe_errors
from oaipmh_scythe.config import HTTPConfig, RetryConfig
from oaipmh_scythe.response import OAIResponse

from ingest.guidelines.feeds import FeedItem, parse_feed
from ingest.guidelines.oai import OaiError, OaiPage, parse_oai_response
from ingest.guidelines.types import GuidelineParseError

DEFAULT_TIMEOUT = 60.0
USER_AGENT = "evidence-portal guideline harvester"


class FetchError(Exception):
    """A request failed in a way a retry will not fix (4xx, not XML, too big)."""


class TransientFetchError(FetchError):
    """A request failed in a way a later retry may fix (timeout, dropped connection, 429, 5xx)."""


def max_guideline_bytes() -> int:
    """Return the GUIDELINE_MAX_BYTES setting (50 MB when Django is not configured)."""
    try:
        from django.conf import settings

        return int(getattr(settings, "GUIDELINE_MAX_BYTES", 50 * 1024 * 1024))
    except Exception:  # Django not configured: the documented default.
        return 50 * 1024 * 1024


def fetch_bytes(url: str, *, max_bytes: int, timeout: float = DEFAULT_TIMEOUT) -> bytes:
    """Return the body at ``url``, read up to ``max_bytes``.

    Raises TransientFetchError or FetchError (see the module docstring).
    """
    try:
        with (
            httpx2.Client(timeout=timeout, follow_redirects=True, headers={"user-agent": USER_AGENT}) as client,
            client.stream("GET", url) as response,
        ):
            _raise_for_status(response.status_code, url)
            declared = response.headers.get("content-length")
            if declared and declared.isdigit() and int(declared) > max_bytes:
                raise FetchError(f"{url}: the file is {int(declared)} bytes, over the limit of {max_bytes}")
            chunks: list[bytes] = []
            size = 0
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > max_bytes:
                    raise FetchError(f"{url}: the file is over the limit of {max_bytes} bytes")
                chunks.append(chunk)
            return b"".join(chunks)
    except httpx2.TransportError as exc:  # timeouts, refused or dropped connections, truncated bodies
        raise TransientFetchError(f"{url}: {type(exc).__name__}: {exc}") from exc


def feed_fetch(url: str, *, timeout: float = DEFAULT_TIMEOUT) -> list[FeedItem]:
    """Return the items of the RSS/Atom feed at ``url``.

    Raises TransientFetchError / FetchError; a body that is HTML or not a feed is a FetchError.
    """
    data = fetch_bytes(url, max_bytes=max_guideline_bytes(), timeout=timeout)
    try:
        return parse_feed(data, feed_url=url)
    except GuidelineParseError as exc:
        raise FetchError(f"{url}: {exc}") from exc


def oai_fetch_page(
    base_url: str,
    *,
    metadata_prefix: str = "oai_dc",
    set_spec: str | None = None,
    from_date: str | date | None = None,
    until_date: str | date | None = None,
    resumption_token: str | None = None,
    verb: str = "ListRecords",
    timeout: float = DEFAULT_TIMEOUT,
) -> OaiPage:
    """Return one page of an OAI-PMH ListRecords (or ``verb``) harvest.

    With ``resumption_token`` the other arguments are not sent (the protocol forbids it).
    Raises OaiError for an OAI-PMH error response (``empty`` for noRecordsMatch),
    TransientFetchError for what a retry may fix and FetchError for the rest.
    """
    if resumption_token:
        query = {"verb": verb, "resumptionToken": resumption_token}
    else:
        query = {"verb": verb, "metadataPrefix": metadata_prefix}
        if set_spec:
            query["set"] = set_spec
        if from_date:
            query["from"] = _oai_date(from_date)
        if until_date:
            query["until"] = _oai_date(until_date)
    scythe = oaipmh_scythe.Scythe(
        base_url,
        http_config=HTTPConfig(timeout=timeout, user_agent=USER_AGENT),
        retry_config=RetryConfig(max_retries=0),  # the Celery task retries, with its own backoff
    )
    try:
        with scythe:
            # The library's configured client sends the request; the status is checked before
            # the body is read as OAI-PMH (a 503 page is not an OAI error).
            http_response = scythe.client.get(scythe.endpoint, params=query)
            _raise_for_status(http_response.status_code, base_url)
            content = http_response.content
            if content.lstrip()[:1] == b"<":
                # AttributeError: the library's recovering parser found no document at all.
                with contextlib.suppress(AttributeError):
                    OAIResponse(http_response, params=query).raise_for_oaipmh_error()
    except scythe_errors.OAIPMHException as exc:
        raise OaiError(_oai_code(exc), str(exc)) from exc
    except httpx2.TransportError as exc:
        raise TransientFetchError(f"{base_url}: {type(exc).__name__}: {exc}") from exc
    if len(content) > max_guideline_bytes():
        raise FetchError(f"{base_url}: the response is over the limit of {max_guideline_bytes()} bytes")
    try:
        return parse_oai_response(content)
    except GuidelineParseError as exc:
        raise FetchError(f"{base_url}: {exc}") from exc


def _raise_for_status(status: int, url: str) -> None:
    if status == 429 or status >= 500:
        raise TransientFetchError(f"{url}: HTTP {status}")
    if status >= 400:
        raise FetchError(f"{url}: HTTP {status}")


def _oai_code(exc: Exception) -> str:
    name = type(exc).__name__
    if name in {"OAIPMHException", "GeneralOAIPMHError"}:
        match = re.search(r"\b([a-z]+[A-Z]\w+)\b", str(exc))
        return match.group(1) if match else "error"
    return name[0].lower() + name[1:]


def _oai_date(value: str | date) -> str:
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)
