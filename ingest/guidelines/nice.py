"""NICE guidance lists (metadata only): the 2014 XML catalogue and the guidance CSV export."""

from __future__ import annotations

import csv
import io
import re

import lxml.etree

from ingest.guidelines.text import clean_inline
from ingest.guidelines.types import GuidelineParseError, ParsedGuideline

ISSUER = "National Institute for Health and Care Excellence"
_PARSER = lxml.etree.XMLParser(resolve_entities=False, no_network=True)


def parse_nice_xml(data: bytes) -> list[ParsedGuideline]:
    """Return one metadata-only guideline per ``<guideline code=..>`` of a NICE XML list.

    Raises GuidelineParseError for malformed XML or a document with no guideline element.
    """
    try:
        root = lxml.etree.fromstring(data, parser=_PARSER)
    except lxml.etree.XMLSyntaxError as exc:
        raise GuidelineParseError(f"not well-formed XML: {exc}") from exc
    out = []
    for element in root.iter("guideline"):
        code = clean_inline(element.get("code") or "")
        title = clean_inline(element.findtext("title") or "")
        if not code or not title:
            continue
        url = clean_inline(element.findtext("url") or "")
        out.append(
            ParsedGuideline(
                source="nice",
                source_id=code.upper(),
                title=title,
                issuer=ISSUER,
                url=url,
                extra={"category": clean_inline(element.get("category") or "")},
            )
        )
    if not out:
        raise GuidelineParseError("no NICE guideline (with code and title) in the XML")
    return out


def parse_nice_csv(data: bytes) -> list[ParsedGuideline]:
    """Return one metadata-only guideline per row of a NICE guidance CSV (url, title, code, date).

    Raises GuidelineParseError when the header lacks a title or url column.
    """
    text = data.decode("utf-8-sig", errors="replace")
    reader = csv.DictReader(io.StringIO(text))
    fields = {f.strip().lower() for f in reader.fieldnames or []}
    if "title" not in fields or "url" not in fields:
        raise GuidelineParseError("not a NICE guidance CSV: the header needs url and title columns")
    out = []
    for row in reader:
        row = {(k or "").strip().lower(): (v or "").strip() for k, v in row.items()}
        url, title = row.get("url", ""), row.get("title", "")
        if not title:
            continue
        code = row.get("technology_type") or row.get("code") or url.rstrip("/").rsplit("/", 1)[-1]
        year_match = re.match(r"((?:19|20)\d\d)", row.get("decision_date") or row.get("published") or "")
        out.append(
            ParsedGuideline(
                source="nice",
                source_id=code.upper(),
                title=clean_inline(title),
                issuer=ISSUER,
                year=int(year_match.group(1)) if year_match else None,
                url=url,
            )
        )
    return out
