"""Keep clinical query text out of logs and error reports.

A doctor's query can describe a patient, so the search text (``q``) and the PICO fields never
reach a log line: URLs in the access log keep only the values of parameters known to be harmless
(filters, sort, page); every other value becomes ``-``. While a request is served, the values it
carries are remembered (a context variable) and the logging filter and the error reporter replace
any occurrence of them, wherever they appear (an exception message echoing the query, a
``repr`` of the request in a traceback).
"""

from __future__ import annotations

import contextvars
import html
import logging
import re
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qsl, quote, quote_plus, urlencode

from django.http import HttpRequest, HttpResponse
from django.views.debug import ExceptionReporter

# Parameters whose values are free text a user typed (never logged).
SENSITIVE_PARAMS = frozenset({"q", "population", "intervention", "comparison", "outcome", "query", "text"})
# Parameters whose values may be logged: they come from fixed choices or are numbers.
SAFE_PARAMS = frozenset(
    {"level", "year_from", "year_to", "type", "language", "free_full_text", "sort", "page", "page_size", "format"}
)
REDACTED = "-"
QUERY_PLACEHOLDER = "[query]"
# A value shorter than this is not scrubbed by occurrence (it would blank out common words).
MIN_SCRUB_LENGTH = 3

_request_values: contextvars.ContextVar[tuple[str, ...]] = contextvars.ContextVar("evidence_query_values", default=())
_URL_QUERY = re.compile(r"\?[^\s\"'<>]*")


def scrub_query_string(query_string: str) -> str:
    """Return ``query_string`` with every value not in :data:`SAFE_PARAMS` replaced by ``-``."""
    if not query_string:
        return query_string
    pairs = parse_qsl(query_string, keep_blank_values=True)
    return urlencode([(key, value if key in SAFE_PARAMS else REDACTED) for key, value in pairs], safe="-")


def scrub_urls_in_text(text: str) -> str:
    """Return ``text`` with the query string of every URL in it scrubbed."""
    if "?" not in text:
        return text
    return _URL_QUERY.sub(lambda match: "?" + scrub_query_string(match.group(0)[1:]), text)


def sensitive_values(params: Iterable[tuple[str, str]]) -> tuple[str, ...]:
    """Return the free-text values among ``params`` worth scrubbing, longest first."""
    values = {value.strip() for key, value in params if key not in SAFE_PARAMS and value}
    found = {value for value in values if len(value) >= MIN_SCRUB_LENGTH}
    return tuple(sorted(found, key=len, reverse=True))


def scrub_values(text: str, values: Iterable[str]) -> str:
    """Return ``text`` with each of ``values`` replaced, also in its escaped and quoted forms."""
    for value in values:
        for form in {value, html.escape(value), quote_plus(value), quote(value), repr(value)[1:-1]}:
            if form and form in text:
                text = text.replace(form, QUERY_PLACEHOLDER)
    return text


def scrub_text(text: str, values: Iterable[str] | None = None) -> str:
    """Return ``text`` scrubbed of URL query values and of the current request's free text."""
    current = _request_values.get() if values is None else tuple(values)
    return scrub_urls_in_text(scrub_values(text, current))


def request_sensitive_values(request: HttpRequest) -> tuple[str, ...]:
    """Return the free text ``request`` carries: query-string values, and posted search fields."""
    params = _flatten(request.GET.lists())
    if request.method == "POST" and request.content_type == "application/x-www-form-urlencoded":
        params += [(key, value) for key, value in _flatten(request.POST.lists()) if key in SENSITIVE_PARAMS]
    return sensitive_values(params)


def _flatten(lists: Iterable[tuple[str, list[str]]]) -> list[tuple[str, str]]:
    return [(key, value) for key, values in lists for value in values]


class QueryPrivacyMiddleware:
    """Remember the free text a request carries, so logs and error reports can scrub it."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        token = _request_values.set(request_sensitive_values(request))
        try:
            return self.get_response(request)
        finally:
            _request_values.reset(token)


class QueryScrubFilter(logging.Filter):
    """A logging filter (put on handlers) that removes query text from every record it passes."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string is the logging module's problem, not ours
            return True
        scrubbed = scrub_text(message)
        if scrubbed != message:
            record.msg, record.args = scrubbed, ()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = scrub_text(record.exc_text)
        return True


class ScrubbingExceptionReporter(ExceptionReporter):
    """Error reports (the 500 e-mail, the debug page) without the request's query text."""

    def _values(self) -> tuple[str, ...]:
        return request_sensitive_values(self.request) if self.request is not None else ()

    # Plain strings, not Django's SafeString: the scrubbed report is not marked safe again.
    def get_traceback_text(self) -> str:  # type: ignore[override]
        return scrub_text(str(super().get_traceback_text()), self._values())

    def get_traceback_html(self) -> str:  # type: ignore[override]
        return scrub_text(str(super().get_traceback_html()), self._values())


def scrub_gunicorn_atoms(atoms: dict[str, Any]) -> dict[str, Any]:
    """Return gunicorn's access-log atoms with query strings scrubbed in every value."""
    scrubbed: dict[str, Any] = {}
    for key, value in atoms.items():
        if key in ("q", "{query_string}e") and isinstance(value, str):
            scrubbed[key] = scrub_query_string(value)
        elif isinstance(value, str) and "?" in value:
            scrubbed[key] = scrub_urls_in_text(value)
        else:
            scrubbed[key] = value
    return scrubbed
