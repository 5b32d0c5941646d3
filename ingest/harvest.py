"""Date windows for E-utilities harvests, and how to split one that PubMed cannot page through.

PubMed's esearch hands out at most 10,000 ids for one query. A window whose count is larger is
cut in two at its middle day, recursively, until every piece fits; a query with 250,000 hits
becomes a few dozen windows that are each harvested completely. Pure functions, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

# The earliest date PubMed indexes; the default start of a first, full harvest.
PUBMED_EPOCH = date(1781, 1, 1)


class WindowError(ValueError):
    """A date or window given by a person that cannot be used, with the reason."""


@dataclass(frozen=True, order=True)
class Window:
    """An inclusive range of days."""

    start: date
    end: date

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise WindowError(f"window ends ({self.end:%Y/%m/%d}) before it starts ({self.start:%Y/%m/%d})")

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def key(self) -> str:
        """Return a stable name for this window (a work item key)."""
        return f"window:{self.start:%Y%m%d}-{self.end:%Y%m%d}"

    def to_payload(self) -> dict[str, str]:
        return {"start": self.start.isoformat(), "end": self.end.isoformat()}

    @classmethod
    def from_payload(cls, payload: dict[str, str]) -> Window:
        return cls(date.fromisoformat(payload["start"]), date.fromisoformat(payload["end"]))

    def __str__(self) -> str:
        return f"{self.start:%Y/%m/%d}-{self.end:%Y/%m/%d}"


def parse_day(text: str) -> date:
    """Return the date written ``YYYY/MM/DD`` (or ``YYYY-MM-DD``); raise :class:`WindowError`."""
    cleaned = text.strip().replace("-", "/")
    try:
        return datetime.strptime(cleaned, "%Y/%m/%d").date()
    except ValueError:
        raise WindowError(f"{text!r} is not a date written YYYY/MM/DD") from None


def can_split(window: Window) -> bool:
    """Return whether ``window`` spans more than one day (PubMed dates have day resolution)."""
    return window.days > 1


def split_window(window: Window) -> tuple[Window, Window]:
    """Return the two halves of ``window``; raise :class:`WindowError` for a single day."""
    if not can_split(window):
        raise WindowError(f"window {window} is a single day and cannot be split")
    middle = window.start + timedelta(days=window.days // 2 - 1)
    return Window(window.start, middle), Window(middle + timedelta(days=1), window.end)


def plan_windows(window: Window, count_of: dict[Window, int], *, cap: int) -> list[Window]:
    """Return the windows to harvest for ``window`` given known hit counts (for planning tests).

    ``count_of`` maps each window to its hit count; a window over ``cap`` is split until every
    piece fits (a single day over the cap is returned as is: it cannot be split further).
    """
    count = count_of[window]
    if count <= cap or not can_split(window):
        return [window]
    left, right = split_window(window)
    return plan_windows(left, count_of, cap=cap) + plan_windows(right, count_of, cap=cap)


def batches(ids: list[str], *, size: int) -> list[list[str]]:
    """Return ``ids`` cut into consecutive lists of at most ``size``."""
    if size < 1:
        raise ValueError("batch size must be at least 1")
    return [ids[index : index + size] for index in range(0, len(ids), size)]
