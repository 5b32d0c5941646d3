"""Small text clean-ups shared by the XML and MEDLINE parsers."""

from __future__ import annotations

import re

from records.types import ParsedRecord, ParseProblem

# PubMed publication types, so upper-case old exports (``JOURNAL ARTICLE``) map back to their names.
KNOWN_PUBLICATION_TYPES = (
    "Journal Article",
    "Review",
    "Systematic Review",
    "Meta-Analysis",
    "Randomized Controlled Trial",
    "Randomized Controlled Trial, Veterinary",
    "Controlled Clinical Trial",
    "Pragmatic Clinical Trial",
    "Clinical Trial",
    "Clinical Trial, Phase I",
    "Clinical Trial, Phase II",
    "Clinical Trial, Phase III",
    "Clinical Trial, Phase IV",
    "Clinical Trial, Veterinary",
    "Clinical Trial Protocol",
    "Clinical Study",
    "Clinical Conference",
    "Observational Study",
    "Observational Study, Veterinary",
    "Multicenter Study",
    "Comparative Study",
    "Evaluation Study",
    "Evaluation Studies",
    "Validation Study",
    "Validation Studies",
    "Twin Study",
    "Case Reports",
    "Practice Guideline",
    "Guideline",
    "Consensus Development Conference",
    "Consensus Development Conference, NIH",
    "Editorial",
    "Letter",
    "Comment",
    "News",
    "Newspaper Article",
    "Historical Article",
    "Biography",
    "Portrait",
    "Portraits",
    "Interview",
    "Lecture",
    "Address",
    "Congress",
    "Congresses",
    "Bibliography",
    "Dataset",
    "Preprint",
    "Technical Report",
    "Book",
    "Book Chapter",
    "Video-Audio Media",
    "Webcast",
    "Patient Education Handout",
    "Study Guide",
    "Introductory Journal Article",
    "English Abstract",
    "Published Erratum",
    "Retracted Publication",
    "Retraction of Publication",
    "Expression of Concern",
    "Corrected and Republished Article",
    "Duplicate Publication",
    "Overall",
    "In Vitro",
    "Research Support, N.I.H., Extramural",
    "Research Support, N.I.H., Intramural",
    "Research Support, Non-U.S. Gov't",
    "Research Support, U.S. Gov't, Non-P.H.S.",
    "Research Support, U.S. Gov't, P.H.S.",
    "Research Support, U.S. Gov't",
    "Research Support, American Recovery and Reinvestment Act",
    "Equivalence Trial",
    "Adaptive Clinical Trial",
    "Network Meta-Analysis",
    "Scoping Review",
    "Umbrella Review",
    "Government Publication",
    "Legal Case",
    "Legislation",
    "Autobiography",
    "Festschrift",
    "Personal Narrative",
    "Classical Article",
    "Collected Work",
    "Directory",
    "Interactive Tutorial",
    "Periodical Index",
    "Public Service Announcement",
    "Retraction of Publication",
)
_BY_CASEFOLD = {name.casefold(): name for name in KNOWN_PUBLICATION_TYPES}


def clean_text(text: str | None) -> str:
    """Return ``text`` with runs of whitespace (newlines, tabs) collapsed to one space and trimmed."""
    return " ".join(text.split()) if text else ""


def publication_type_name(raw: str) -> str:
    """Return the PubMed spelling of a publication type (``JOURNAL ARTICLE`` -> ``Journal Article``)."""
    name = clean_text(raw)
    known = _BY_CASEFOLD.get(name.casefold())
    if known:
        return known
    if name.isupper():
        # Unknown upper-case type: capitalise words, keep short joiners lower case.
        words = [
            word.lower() if word.lower() in {"of", "and", "in", "for", "the"} else word.capitalize()
            for word in name.split()
        ]
        return " ".join(words[:1] + words[1:]) if words else name
    return name


def unique(values: list[str]) -> tuple[str, ...]:
    """Return the non-empty values in first-seen order without duplicates."""
    seen: dict[str, None] = {}
    for value in values:
        if value and value not in seen:
            seen[value] = None
    return tuple(seen)


def normalise_pmcid(raw: str) -> str:
    """Return ``PMC1234567`` for ``PMC1234567``, ``pmc1234567`` or ``1234567`` (and drop trailing junk)."""
    match = re.search(r"(?:PMC)?\s*(\d+)", raw.strip(), flags=re.IGNORECASE)
    return f"PMC{match.group(1)}" if match else ""


def normalise_doi(raw: str) -> str:
    """Return the DOI without ``doi:``/``https://doi.org/`` prefixes, trimmed; empty when it is no DOI."""
    value = clean_text(raw)
    value = re.sub(r"^(?:doi:\s*|https?://(?:dx\.)?doi\.org/)", "", value, flags=re.IGNORECASE)
    return value if value.startswith("10.") else ""


# Longest title + abstract a record may have (real ones stay under ~100,000 characters); a longer
# one is hostile or broken input and is skipped with a reason rather than stored and indexed.
MAX_RECORD_TEXT = 1_000_000


def size_checked(record: ParsedRecord, *, location: str) -> ParsedRecord | ParseProblem:
    """Return ``record``, or a ParseProblem when its title and abstract exceed MAX_RECORD_TEXT."""
    size = len(record.title) + sum(len(section.text) for section in record.abstract_sections)
    if size <= MAX_RECORD_TEXT:
        return record
    return ParseProblem(
        location=location,
        reason=f"PMID {record.source_id}: title and abstract hold {size:,} characters "
        f"(more than {MAX_RECORD_TEXT:,}); skipped",
    )
