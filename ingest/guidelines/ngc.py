"""National Guideline Clearinghouse (NGC) XML summaries.

A summary is ``<Version><Section Name=..><Field FieldID=.. Name=..><FieldValue Value=".."/>``;
field values hold HTML escaped inside the attribute. "Major Recommendations" (FieldID 151) is
one block of HTML with many recommendations, each followed by its strength in the developer's
own scheme; the splitter separates and normalises them.
"""

from __future__ import annotations

import re

import lxml.etree

from ingest.guidelines.splitter import split_guideline_text
from ingest.guidelines.text import clean_inline, fix_mojibake, html_fragment_to_lines
from ingest.guidelines.types import GuidelineParseError, ParsedGuideline

F_TITLE = "161"
F_MAJOR_RECOMMENDATIONS = "151"
F_DATE_RELEASED = "128"
F_DEVELOPERS = "158"
F_STATUS = "120"
F_AVAILABILITY = "118"
F_RATING_RECOMMENDATIONS = "146"
F_RATING_EVIDENCE = "149"
F_BIBLIOGRAPHIC = "97"

_PARSER = lxml.etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False, recover=False)


def parse_ngc(data: bytes, *, source_id: str) -> ParsedGuideline:
    """Return the guideline an NGC XML summary describes.

    Raises GuidelineParseError when the bytes are not an NGC summary (not XML, no title).
    """
    try:
        root = lxml.etree.fromstring(data, parser=_PARSER)
    except lxml.etree.XMLSyntaxError as exc:
        raise GuidelineParseError(f"not well-formed XML: {exc}") from exc
    fields: dict[str, str] = {}
    for field in root.iter("Field"):
        fid = field.get("FieldID") or ""
        if fid in fields:
            continue
        values = [fv.get("Value") or "" for fv in field.iter("FieldValue")]
        fields[fid] = "\n".join(v for v in values if v)
    title = _plain(fields.get(F_TITLE, ""))
    if not title:
        raise GuidelineParseError("not an NGC summary: no Guideline Title field")
    lines = html_fragment_to_lines(fix_mojibake(fields.get(F_MAJOR_RECOMMENDATIONS, "")))
    split = split_guideline_text("\n".join(lines))
    released = clean_inline(fields.get(F_DATE_RELEASED, ""))
    return ParsedGuideline(
        source="ngc",
        source_id=source_id,
        title=title.rstrip("."),
        issuer=_developers(fields.get(F_DEVELOPERS, "")),
        year=release_year(released),
        url=_first_url(fields.get(F_AVAILABILITY, "")),
        summary="" if split.recommendations else "\n".join(lines)[:4000],
        sections=split.sections,
        recommendations=split.recommendations,
        rating_scheme=_plain(fields.get(F_RATING_RECOMMENDATIONS, "")),
        extra={
            "date_released": released,
            "evidence_rating_scheme": _plain(fields.get(F_RATING_EVIDENCE, ""))[:4000],
            "status": _plain(fields.get(F_STATUS, ""))[:2000],
        },
    )


def release_year(released: str) -> int | None:
    """Return the year of "Date Released": the revision year when it says "(revised YYYY ...)"."""
    revised = re.search(r"revised\s+((?:19|20)\d\d)", released or "", re.I)
    if revised:
        return int(revised.group(1))
    years = re.findall(r"\b((?:19|20)\d\d)\b", released or "")
    return int(years[0]) if years else None


def _plain(markup: str) -> str:
    if not markup:
        return ""
    lines = html_fragment_to_lines(fix_mojibake(markup)) if "<" in markup else [clean_inline(markup)]
    return "\n".join(line.lstrip("# ") for line in lines).strip()


def _developers(value: str) -> str:
    """Return "A; B" from NGC's "A - Federal Government Agency [U.S.]" list."""
    names = []
    for part in re.split(r"\n+", fix_mojibake(value or "")):
        name = re.split(r"\s+-\s+", part.strip(), maxsplit=1)[0].strip()
        if name and name not in names:
            names.append(name)
    return "; ".join(names)


def _first_url(markup: str) -> str:
    match = re.search(r"""href=["'](https?://[^"']+)["']""", markup or "")
    return match.group(1) if match else ""
