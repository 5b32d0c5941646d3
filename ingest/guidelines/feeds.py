"""RSS and Atom feeds of guideline publishers, read through feedparser (never executed)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

import feedparser

from ingest.guidelines.text import clean_inline, html_fragment_to_lines
from ingest.guidelines.types import GuidelineParseError


@dataclass(frozen=True)
class FeedItem:
    """One entry of a feed: what to fetch (``link``) and how to name it."""

    feed_url: str
    guid: str
    title: str
    link: str
    published: date | None = None
    summary: str = ""
    author: str = ""


def parse_feed(data: bytes, *, feed_url: str) -> list[FeedItem]:
    """Return the entries of an RSS or Atom document.

    Raises GuidelineParseError when the bytes are an HTML page or not a feed at all.
    """
    head = data[:2048].lstrip().lower()
    if head.startswith((b"<!doctype html", b"<html")) or (
        b"<html" in head and b"<rss" not in head and b"<feed" not in head
    ):
        raise GuidelineParseError("the feed URL returned an HTML page, not an RSS or Atom feed")
    parsed = feedparser.parse(data, sanitize_html=True, resolve_relative_uris=False)
    version = parsed.get("version") or ""
    if not version:
        reason = parsed.get("bozo_exception")
        raise GuidelineParseError(f"not an RSS or Atom feed{': ' + str(reason) if reason else ''}")
    items = []
    for entry in parsed.entries:
        link = str(entry.get("link") or "")
        title = clean_inline(str(entry.get("title") or ""))
        if not link and not title:
            continue
        stamp = entry.get("published_parsed") or entry.get("updated_parsed")
        summary_html = str(entry.get("summary") or "")
        summary = "\n".join(line.lstrip("#• ") for line in html_fragment_to_lines(summary_html))
        items.append(
            FeedItem(
                feed_url=feed_url,
                guid=str(entry.get("id") or link or title),
                title=title,
                link=link,
                published=date(stamp.tm_year, stamp.tm_mon, stamp.tm_mday) if stamp else None,
                summary=re.sub(r"\n{3,}", "\n\n", summary)[:4000],
                author=clean_inline(str(entry.get("author") or "")),
            )
        )
    return items
