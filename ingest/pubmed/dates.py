"""Publication dates as PubMed writes them, reduced to the best single date.

PubMed dates come as ``Year``/``Month``/``Day`` parts (month as ``Jan`` or ``01``, sometimes a
``Season``) or as a free-text ``MedlineDate``/``DP`` string: ``2019 Winter``, ``1998 Dec-1999 Jan``,
``2000 Spring-Summer``, ``2015 Oct-Dec``, ``2000 Dec 21-28``, ``2019 Sep/Oct``, ``1976-1977``.
The best date is the start of the range; a missing month or day becomes 1.
"""

from __future__ import annotations

import re
from datetime import date

_MONTHS = {
    "jan": 1,
    "feb": 2,
    "mar": 3,
    "apr": 4,
    "may": 5,
    "jun": 6,
    "jul": 7,
    "aug": 8,
    "sep": 9,
    "oct": 10,
    "nov": 11,
    "dec": 12,
}
# A season starts the year's quarter it names; winter is taken as the start of the year
# (the first winter months of the named year), so a date is never pushed past the year.
_SEASONS = {"winter": 1, "spring": 3, "summer": 6, "fall": 9, "autumn": 9}

_YEAR = re.compile(r"\b(1[6-9]\d\d|2[01]\d\d)\b")
_TOKEN = re.compile(r"[A-Za-z]+|\d+")


def month_number(text: str) -> int | None:
    """Return 1-12 for ``Jan``/``January``/``01``/``Winter``..., or None when it names no month."""
    value = text.strip().lower()
    if not value:
        return None
    if value.isdigit():
        number = int(value)
        return number if 1 <= number <= 12 else None
    if value[:3] in _MONTHS:
        return _MONTHS[value[:3]]
    return _SEASONS.get(value)


def parse_date_text(text: str) -> date | None:
    """Return the first date a free-text PubMed date names, or None when it names no year.

    ``"2019 Winter"`` -> 2019-01-01, ``"1998 Dec-1999 Jan"`` -> 1998-12-01,
    ``"2000 Dec 21-28"`` -> 2000-12-21, ``"Summer 2019"`` -> 2019-06-01.
    """
    match = _YEAR.search(text)
    if not match:
        return None
    year = int(match.group(1))
    # Month and day are read from what follows the year (or, for "Summer 2019", precedes it).
    after = _TOKEN.findall(text[match.end() :])
    before = _TOKEN.findall(text[: match.start()])
    month = None
    day = None
    tokens = after if after and month_number(after[0]) is not None and not after[0].isdigit() else before
    if tokens:
        month = month_number(tokens[0]) if not tokens[0].isdigit() else None
        if month is not None and len(tokens) > 1 and tokens[1].isdigit():
            day = int(tokens[1])
    return safe_date(year, month or 1, day or 1)


def parse_date_parts(year: str, month: str = "", day: str = "", season: str = "") -> date | None:
    """Return the date of PubDate-style parts; the season (``Winter``, ``Jan-Feb``) stands in for a month."""
    if not year.strip().isdigit():
        return parse_date_text(" ".join(part for part in (year, month, day, season) if part))
    month_value = month_number(month) if month else None
    if month_value is None and season:
        first = _TOKEN.findall(season)
        month_value = month_number(first[0]) if first else None
    day_value = int(day) if day.strip().isdigit() else 1
    return safe_date(int(year), month_value or 1, day_value if month_value else 1)


def parse_compact_date(text: str) -> date | None:
    """Return the date of ``20190315`` (MEDLINE ``DEP``/``LR`` tags), or None."""
    value = text.strip()[:8]
    if len(value) == 8 and value.isdigit():
        return safe_date(int(value[:4]), int(value[4:6]), int(value[6:8]))
    return parse_date_text(value)


def safe_date(year: int, month: int, day: int) -> date | None:
    """Return ``date(year, month, day)``, falling back to the 1st and then January; None if the year is absurd."""
    if not 1000 <= year <= 2999:
        return None
    for candidate in ((year, month, day), (year, month, 1), (year, 1, 1)):
        try:
            return date(*candidate)
        except ValueError:
            continue
    return None
