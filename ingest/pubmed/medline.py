"""Streaming parser for the MEDLINE/PubMed text format (``PMID- ``, ``TI  - `` tags; .txt/.nbib).

Each record is a block of ``TAG - value`` lines (continuations indented by six spaces), blocks
separated by blank lines. Only the record being read is held in memory.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

from ingest.pubmed.compressed import READ_ERRORS
from ingest.pubmed.dates import parse_compact_date, parse_date_text
from ingest.pubmed.normalize import (
    clean_text,
    normalise_doi,
    normalise_pmcid,
    publication_type_name,
    size_checked,
    unique,
)
from records.types import AbstractSection, MeshHeading, ParsedItem, ParsedRecord, ParseProblem

SOURCE = "pubmed"
_TAG_LINE = re.compile(r"^(?P<tag>[A-Z][A-Z0-9 ]{3})-(?: (?P<value>.*))?$")
# MEDLINE text tags of corrections and comments, as the XML CommentsCorrections RefType.
REF_TYPES = {
    "CIN": "CommentIn",
    "CON": "CommentOn",
    "EIN": "ErratumIn",
    "EFR": "ErratumFor",
    "RIN": "RetractionIn",
    "ROF": "RetractionOf",
    "PRIN": "PartialRetractionIn",
    "PROF": "PartialRetractionOf",
    "ECI": "ExpressionOfConcernIn",
    "ECF": "ExpressionOfConcernFor",
    "CRI": "RepublishedIn",
    "CRF": "RepublishedFrom",
    "RPI": "RepublishedIn",
    "RPF": "RepublishedFrom",
    "UIN": "UpdateIn",
    "UOF": "UpdateOf",
    "SPIN": "SummaryForPatientsIn",
    "ORI": "OriginalReportIn",
}
# The tags ``_record`` reads; the lines of every other field are skipped while reading.
READ_TAGS = frozenset(
    {"PMID", "TI", "BTI", "TT", "DP", "DEP", "AB", "JT", "TA", "AU", "CN", "FAU", "AID", "LID", "PMC", "LA"}
    | {"PT", "MH", "OT", "STAT", *REF_TYPES}
)
_PMID_IN_REF = re.compile(r"PMID:\s*(\d+)")
# "BACKGROUND: ..." / "METHODS AND RESULTS: ..." at the start of a section of a structured abstract.
_SECTION_LABEL = re.compile(r"(?:^|(?<=[.!?] ))([A-Z][A-Z0-9 ,&/()'-]{2,60}): ")


def parse_medline_text(lines: Iterable[str], *, location: str) -> Iterator[ParsedItem]:
    """Yield a ParsedRecord per MEDLINE record and a ParseProblem per unusable one; never raises.

    When ``lines`` breaks off (a truncated .gz raises while reading), the record being read is
    dropped (it may be incomplete) and one ParseProblem names the file.
    """
    fields: list[tuple[str, list[str]]] = []  # (tag, value lines) of the fields read, this record
    value: list[str] | None = None  # the lines of the field being read (None: a field not read)
    started = has_pmid = False
    start_line = 0
    records = 0
    stray_lines = 0
    line_number = 0
    try:
        for line_number, raw in enumerate(lines, start=1):
            line = raw.rstrip()
            if not line:
                if started:
                    records += 1
                    yield _record(fields, location=f"{location}: line {start_line}")
                    fields, value, started, has_pmid = [], None, False, False
                continue
            if line[0] in " \t":
                if value is not None:
                    value.append(line.strip())
                elif not started:
                    stray_lines += 1
                continue
            if not _TAG_LINE.match(line):
                stray_lines += 1
                continue
            tag = line[:4].rstrip()
            if tag == "PMID":
                if has_pmid:
                    records += 1
                    yield _record(fields, location=f"{location}: line {start_line}")
                    fields, started = [], False
                has_pmid = True
            if not started:
                started = True
                start_line = line_number
            if tag in READ_TAGS:
                value = [line[6:].strip()]
                fields.append((tag, value))
            else:
                value = None  # affiliations, history dates, grants...: not stored, so not kept
    except (*READ_ERRORS, UnicodeDecodeError) as error:
        yield ParseProblem(
            location=location,
            reason=f"file is truncated or unreadable after line {line_number} ({error}); "
            f"{records} record(s) before the break were read, the one being read was dropped",
        )
        return
    if started:
        records += 1
        yield _record(fields, location=f"{location}: line {start_line}")
    if records == 0:
        what = "has no MEDLINE records (no 'PMID- ' lines)" if stray_lines else "is empty"
        yield ParseProblem(location=location, reason=f"file {what}")


def _record(tagged: list[tuple[str, list[str]]], *, location: str) -> ParsedRecord | ParseProblem:
    """Return the ParsedRecord of one tagged block, or a ParseProblem without PMID or title."""
    fields = [(tag, " ".join(parts) if len(parts) > 1 else parts[0]) for tag, parts in tagged]
    values: dict[str, list[str]] = {}
    for tag, value in fields:
        values.setdefault(tag, []).append(value)

    def first(*tags: str) -> str:
        for tag in tags:
            for value in values.get(tag, []):
                cleaned = clean_text(value)
                if cleaned:
                    return cleaned
        return ""

    pmid = first("PMID")
    if not pmid:
        return ParseProblem(location=location, reason="record has no PMID; skipped")
    title = first("TI", "BTI", "TT")
    if not title:
        return ParseProblem(location=location, source_id=pmid, reason=f"PMID {pmid} has no title (TI/BTI/TT); skipped")

    date_raw = first("DP")
    date = parse_date_text(date_raw) if date_raw else None
    electronic = first("DEP")
    if date is None and electronic:
        date_raw = date_raw or electronic
        date = parse_compact_date(electronic)

    comments: dict[tuple[str, str], None] = {}
    ref_types = set()
    for tag, ref_type in REF_TYPES.items():
        for value in values.get(tag, []):
            ref_types.add(ref_type)
            found = _PMID_IN_REF.search(value)
            if found:
                comments[(ref_type, found.group(1))] = None
    publication_types = unique([publication_type_name(value) for value in values.get("PT", [])])
    pmc = first("PMC")
    record = ParsedRecord(
        source=SOURCE,
        source_id=pmid,
        title=title,
        abstract_sections=split_abstract(first("AB")),
        journal=first("JT"),
        journal_abbreviation=first("TA"),
        publication_date=date,
        publication_date_raw=date_raw,
        authors=_authors(fields),
        doi=_doi(values),
        pmcid=normalise_pmcid(pmc) if pmc else "",
        languages=unique([clean_text(value).lower() for value in values.get("LA", [])]),
        publication_types=publication_types,
        mesh_headings=tuple(heading for heading in (mesh_heading(value) for value in values.get("MH", [])) if heading),
        keywords=unique([clean_text(value) for value in values.get("OT", [])]),
        publication_status=first("STAT"),
        retracted="RetractionIn" in ref_types or "Retracted Publication" in publication_types,
        retraction_notice="RetractionOf" in ref_types or "Retraction of Publication" in publication_types,
        has_erratum="ErratumIn" in ref_types,
        comments_corrections=tuple(comments),
        url=f"https://pubmed.ncbi.nlm.nih.gov/{pmid}/",
    )
    return size_checked(record, location=location)


def split_abstract(text: str) -> tuple[AbstractSection, ...]:
    """Return the sections of a MEDLINE abstract: ``BACKGROUND: a. METHODS: b.`` -> two labelled sections."""
    if not text:
        return ()
    if not _SECTION_LABEL.match(text):
        return (AbstractSection(text=text),)
    sections = []
    matches = list(_SECTION_LABEL.finditer(text))
    for index, match in enumerate(matches):
        end = matches[index + 1].start() if index + 1 < len(matches) else len(text)
        body = text[match.end() : end].strip()
        if body:
            sections.append(AbstractSection(text=body, label=match.group(1).strip()))
    return tuple(sections)


def mesh_heading(value: str) -> MeshHeading | None:
    """Return the heading of ``*Hypertension/drug therapy`` or ``Hypertension/*drug therapy/prevention & control``."""
    parts = [part.strip() for part in clean_text(value).split("/")]
    if not parts or not parts[0].lstrip("*"):
        return None
    descriptor = parts[0]
    qualifiers = tuple((part.lstrip("*").strip(), part.startswith("*")) for part in parts[1:] if part.lstrip("*"))
    return MeshHeading(
        descriptor=descriptor.lstrip("*").strip(), major=descriptor.startswith("*"), qualifiers=qualifiers
    )


def _authors(fields: list[tuple[str, str]]) -> tuple[str, ...]:
    short = [clean_text(value) for tag, value in fields if tag in ("AU", "CN")]
    if any(tag == "AU" for tag, _ in fields):
        return unique(short)
    # Only full names (FAU "Smith, John A"): shorten to "Smith JA".
    names = []
    for tag, value in fields:
        if tag == "FAU":
            last, _, fore = clean_text(value).partition(",")
            initials = "".join(word[0] for word in fore.replace("-", " ").split() if word)
            names.append(f"{last.strip()} {initials}".strip())
        elif tag == "CN":
            names.append(clean_text(value))
    return unique(names)


def _doi(values: dict[str, list[str]]) -> str:
    for tag in ("AID", "LID"):
        for value in values.get(tag, []):
            if value.rstrip().endswith("[doi]"):
                doi = normalise_doi(value.rstrip()[: -len("[doi]")])
                if doi:
                    return doi
    return ""
