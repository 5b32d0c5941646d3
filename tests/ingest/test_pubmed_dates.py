"""PubMed dates, free-text and in parts, reduced to the best single date."""

from __future__ import annotations

from datetime import date

import pytest

from ingest.pubmed.dates import parse_compact_date, parse_date_parts, parse_date_text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2019 Winter", date(2019, 1, 1)),
        ("2000 Spring-Summer", date(2000, 3, 1)),
        ("2019 Fall", date(2019, 9, 1)),
        ("1998 Dec-1999 Jan", date(1998, 12, 1)),
        ("2015 Oct-Dec", date(2015, 10, 1)),
        ("2019 Sep/Oct", date(2019, 9, 1)),
        ("2017 Mar - Apr", date(2017, 3, 1)),
        ("2000 Dec 21-28", date(2000, 12, 21)),
        ("1976-1977", date(1976, 1, 1)),
        ("Summer 2019", date(2019, 6, 1)),
        ("2020 Mar 15", date(2020, 3, 15)),
        ("2020 Feb 31", date(2020, 2, 1)),
        ("2021", date(2021, 1, 1)),
    ],
)
def test_free_text_dates_give_the_start_of_the_range(text: str, expected: date) -> None:
    assert parse_date_text(text) == expected


@pytest.mark.parametrize("text", ["", "unknown", "n.d.", "0000"])
def test_text_without_a_year_gives_no_date(text: str) -> None:
    assert parse_date_text(text) is None


def test_date_parts_accept_month_names_numbers_and_seasons() -> None:
    assert parse_date_parts("2019", "Jan", "05") == date(2019, 1, 5)
    assert parse_date_parts("2019", "03") == date(2019, 3, 1)
    assert parse_date_parts("2019", season="Winter") == date(2019, 1, 1)
    assert parse_date_parts("2019", season="Jul-Aug") == date(2019, 7, 1)
    assert parse_date_parts("2019", "13", "40") == date(2019, 1, 1)


def test_compact_dates() -> None:
    assert parse_compact_date("20191201") == date(2019, 12, 1)
    assert parse_compact_date("2019") == date(2019, 1, 1)
