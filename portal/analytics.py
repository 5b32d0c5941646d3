"""Optional query analytics: what doctors search for, never who searched or about whom.

With ``QUERY_ANALYTICS`` off (the default) nothing is stored. When on, each search stores its
text and PICO parts scrubbed of numbers, dates, e-mail addresses and personal names, with the
day only (no client address, no user, no time of day), and ``query_log_purge`` deletes entries
older than ``QUERY_ANALYTICS_RETENTION_DAYS`` (run daily by Celery beat).

Name detection is a heuristic (honorifics, runs of capitalised words, capitalised words after
the first); a lower-case name typed alone is not caught, which is why the store is off by default
and unlinkable to a person.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta

from django.conf import settings
from django.utils import timezone

from portal.models import QueryLogEntry
from search.types import SearchRequest

PICO_FIELDS = ("population", "intervention", "comparison", "outcome")
MAX_TEXT = 500

_EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")
_MONTHS = (
    r"jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
    r"sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?"
)
_DATE_WORDS = re.compile(
    rf"\b(?:\d{{1,2}}(?:st|nd|rd|th)?\s+(?:{_MONTHS})\.?(?:\s+\d{{2,4}})?|(?:{_MONTHS})\.?\s+\d{{1,2}}(?:st|nd|rd|th)?"
    rf"(?:,?\s+\d{{2,4}})?)\b",
    re.IGNORECASE,
)
_NUMBERISH = re.compile(r"\S*\d\S*")
_HONORIFIC = re.compile(r"\b(?:mr|mrs|ms|miss|mx|dr|prof|sir|dame)\.?\s+\S+", re.IGNORECASE)
_WORD = re.compile(r"[^\W\d_][\w'\u2019-]*", re.UNICODE)
# Capitalised words that are diseases or tests, not people (eponyms kept in analytics).
_EPONYM_WORDS = """addison alzheimer asperger barrett bell behcet burkitt chagas crohn cushing down ebola epstein
    barr ewing fallot gaucher gilbert graves guillain barré hashimoto hodgkin huntington kaposi kawasaki
    lyme marfan meniere parkinson raynaud reiter sjogren sjögren tourette turner whipple wilson wilms
    apgar glasgow gleason kaplan meier cox bayes pubmed medline cochrane grade"""
EPONYMS = frozenset(_EPONYM_WORDS.split())
REDACTED = "[x]"
NAME = "[name]"


def scrub_query_text(text: str) -> str:
    """Return ``text`` with e-mail addresses, dates, anything holding a digit and likely personal
    names replaced by placeholders, whitespace collapsed, cut to 500 characters."""
    text = _EMAIL.sub(REDACTED, text)
    text = _DATE_WORDS.sub(REDACTED, text)
    text = _NUMBERISH.sub(REDACTED, text)
    text = _HONORIFIC.sub(NAME, text)
    text = _scrub_capitalised(text)
    return " ".join(text.split())[:MAX_TEXT]


def _is_capitalised(word: str) -> bool:
    return word[:1].isupper() and (len(word) == 1 or not word[1:].isupper()) and word.lower() not in EPONYMS


def _scrub_capitalised(text: str) -> str:
    words = list(_WORD.finditer(text))
    names: set[int] = set()
    for index, match in enumerate(words):
        if not _is_capitalised(match.group(0)):
            continue
        # A capitalised first word is ordinary sentence case, unless a capitalised word follows.
        follows = index + 1 < len(words) and _is_capitalised(words[index + 1].group(0))
        if index > 0 or follows:
            names.add(index)
    for index in sorted(names, reverse=True):
        match = words[index]
        text = text[: match.start()] + NAME + text[match.end() :]
    return text


def analytics_enabled() -> bool:
    return bool(getattr(settings, "QUERY_ANALYTICS", False))


def query_record(*, search_request: SearchRequest, results: int, today: date | None = None) -> QueryLogEntry | None:
    """Store one scrubbed search when analytics is on (its first page only: paging is not a new
    search); return the entry, or None when nothing was stored."""
    if not analytics_enabled() or search_request.page > 1:
        return None
    pico = {name: scrub_query_text(getattr(search_request, name)) for name in PICO_FIELDS}
    return QueryLogEntry.objects.create(
        day=today or timezone.now().date(),
        text=scrub_query_text(search_request.text),
        pico={name: value for name, value in pico.items() if value},
        results=max(int(results), 0),
    )


def query_log_purge(*, today: date | None = None, retention_days: int | None = None) -> int:
    """Delete entries older than the retention period; return how many were deleted."""
    days = int(retention_days if retention_days is not None else settings.QUERY_ANALYTICS_RETENTION_DAYS)
    cutoff = (today or timezone.now().date()) - timedelta(days=days)
    deleted, _ = QueryLogEntry.objects.filter(day__lt=cutoff).delete()
    return int(deleted)


def failed_logins_purge(*, now: datetime | None = None) -> int:
    """Delete records of failed sign-ins once their lockout is over (at least a day old);
    return how many were deleted. They hold a user name and an address, kept no longer than the
    throttling needs them."""
    from axes.models import AccessAttempt, AccessFailureLog

    keep = max(timedelta(minutes=int(settings.LOGIN_LOCKOUT_MINUTES)), timedelta(days=1))
    cutoff = (now or timezone.now()) - keep
    attempts, _ = AccessAttempt.objects.filter(attempt_time__lt=cutoff).delete()
    failures, _ = AccessFailureLog.objects.filter(attempt_time__lt=cutoff).delete()
    return int(attempts + failures)
