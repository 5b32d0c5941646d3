"""PubMed records typed as guidelines become guidelines; their abstract's recommendations are split."""

from __future__ import annotations

import re
from collections.abc import Iterable

from ingest.guidelines.splitter import split_guideline_text
from ingest.guidelines.types import ParsedGuideline
from records.types import ParsedRecord

_YEAR = re.compile(r"\b(1[89]\d\d|20\d\d)\b")
GUIDELINE_TYPES = frozenset({"practice guideline", "guideline", "consensus development conference"})


def _year(raw: str) -> int | None:
    match = _YEAR.search(raw or "")
    return int(match.group(1)) if match else None


def is_guideline_type(publication_types: Iterable[str]) -> bool:
    """True when the publication types mark a guideline or consensus statement."""
    types = {str(t).strip().lower() for t in publication_types}
    return bool(types & GUIDELINE_TYPES) or any(t.startswith("consensus development conference") for t in types)


def is_guideline_record(record: ParsedRecord) -> bool:
    """True when PubMed types the record as a guideline or consensus statement."""
    return is_guideline_type(record.publication_types)


def guideline_from_pubmed(record: ParsedRecord) -> ParsedGuideline | None:
    """Return the guideline a PubMed record describes, or None when it is not typed as one.

    Recommendations are split from the abstract when it states them (labelled sections such as
    "RECOMMENDATIONS:" become section headings); otherwise the abstract is the summary.
    """
    if not is_guideline_record(record):
        return None
    lines = []
    for section in record.abstract_sections:
        if section.label:
            lines.append(f"# {section.label.strip().rstrip(':')}")
        lines.extend(section.text.splitlines() or [section.text])
    split = split_guideline_text("\n".join(lines))
    issuer = record.issuing_body or ""
    return ParsedGuideline(
        source="pubmed",
        source_id=record.source_id,
        title=record.title,
        issuer=issuer,
        year=record.publication_date.year if record.publication_date else _year(record.publication_date_raw),
        published=record.publication_date,
        url=record.url or (f"https://pubmed.ncbi.nlm.nih.gov/{record.source_id}/" if record.source == "pubmed" else ""),
        doi=record.doi,
        language=record.languages[0] if record.languages else "",
        summary=record.abstract if not split.recommendations else "",
        sections=split.sections,
        recommendations=split.recommendations,
        extra={"journal": record.journal, "publication_types": "; ".join(record.publication_types)},
    )
