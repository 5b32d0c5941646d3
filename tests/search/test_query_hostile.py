"""Hostile search text: the query parser and a real embedded index take anything a user can type
(syntax fragments, control characters, any Unicode, very long text) without an error."""

from __future__ import annotations

import time
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from search.query import ParsedQuery, parse_request
from search.services import search_records
from search.types import SearchRequest
from tests.factories import EvidenceRecordFactory

SYNTAX = [
    '"',
    "(",
    ")",
    ":",
    "-",
    "+",
    "*",
    "?",
    "~",
    "^",
    "\\",
    "/",
    "[",
    "]",
    "{",
    "}",
    "AND",
    "OR",
    "NOT",
    "year:",
    "year:2020-",
    "type:",
    "level:",
    "lang:",
    'title:"',
    "&&",
    "||",
    "!",
    "\x00",
    "\u202e",
    "\U0001d538",
]
hostile_text = st.lists(
    st.one_of(st.sampled_from(SYNTAX), st.text(max_size=20), st.from_regex(r"[a-z]{1,12}", fullmatch=True)),
    max_size=60,
).map(" ".join)


@given(text=hostile_text, pico=st.text(max_size=200))
@settings(max_examples=300, deadline=None, database=None)
def test_parser_accepts_any_text(text: str, pico: str) -> None:
    started = time.monotonic()
    parsed = parse_request(SearchRequest(text=text, population=pico, outcome=pico))
    assert isinstance(parsed, ParsedQuery)
    assert time.monotonic() - started < 1.0
    year_from, year_to = parsed.filters.year_from, parsed.filters.year_to
    assert year_from is None or isinstance(year_from, int)
    assert year_to is None or isinstance(year_to, int)


def test_very_long_text_is_parsed_quickly() -> None:
    started = time.monotonic()
    parse_request(SearchRequest(text=" ".join(['"a b" year:2020 (x OR y) trial'] * 20_000)))
    assert time.monotonic() - started < 10.0


@pytest.mark.django_db
def test_real_index_answers_any_text(search_index: Any) -> None:
    from search.indexing import records_index

    records = [EvidenceRecordFactory(title=f"Statin trial {n}", evidence_level="rct") for n in range(3)]
    records_index(record_ids=[record.pk for record in records])

    @given(text=hostile_text)
    @settings(max_examples=60, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    def check(text: str) -> None:
        page = search_records(SearchRequest(text=text))
        assert page.total >= 0

    check()
    assert search_records(SearchRequest(text="statin")).total == 3
