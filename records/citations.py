"""Citation export of evidence records: RIS and BibTeX, for one record or many.

Both functions are pure: they take records (anything with the ``EvidenceRecord`` fields) and
return text. RIS follows the tagged format reference managers import (``TY  - `` ... ``ER  - ``);
BibTeX entries are ``@article`` (or ``@misc`` for guidelines) keyed by PMID or source id, with
special characters escaped so that a title cannot break out of its braces.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any, Protocol


class CitableRecord(Protocol):
    """The fields of ``records.models.EvidenceRecord`` that a citation uses."""

    kind: str
    source: str
    source_id: str
    pmid: str
    title: str
    abstract: str
    journal: str
    journal_abbreviation: str
    publication_year: int | None
    publication_date_raw: str
    authors: Any
    doi: str
    pmcid: str
    language: str
    keywords: Any
    mesh_headings: Any
    issuing_body: str
    url: str
    retracted: bool


RIS_MEDIA_TYPE = "application/x-research-info-systems"
BIBTEX_MEDIA_TYPE = "application/x-bibtex"

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def _one_line(value: object) -> str:
    """Collapse whitespace and drop control characters: RIS is one field per line."""
    text = _CONTROL.sub(" ", str(value or ""))
    return " ".join(text.split())


def _author_names(record: CitableRecord) -> list[str]:
    names: list[str] = []
    for author in record.authors or []:
        if isinstance(author, dict):
            last = author.get("last_name") or author.get("last") or author.get("collective") or ""
            first = author.get("fore_name") or author.get("first") or author.get("initials") or ""
            name = f"{last}, {first}" if last and first else (last or first or author.get("name", ""))
        else:
            name = str(author)
        name = _one_line(name)
        if name:
            names.append(name)
    return names


def _mesh_terms(record: CitableRecord) -> list[str]:
    terms = []
    for heading in record.mesh_headings or []:
        descriptor = heading.get("descriptor") if isinstance(heading, dict) else heading
        if descriptor:
            terms.append(_one_line(descriptor))
    return terms


def _source_url(record: CitableRecord) -> str:
    if record.pmid:
        return f"https://pubmed.ncbi.nlm.nih.gov/{record.pmid}/"
    return record.url or ""


def record_to_ris(record: CitableRecord) -> str:
    """Return one RIS entry (ending in ``ER  - ``) for a record."""
    lines: list[tuple[str, str]] = [("TY", "GEN" if record.kind == "guideline" else "JOUR")]
    title = _one_line(record.title)
    if record.retracted:
        title = f"[Retracted] {title}"
    lines.append(("TI", title))
    lines.extend(("AU", name) for name in _author_names(record))
    if record.kind == "guideline" and record.issuing_body:
        lines.append(("PB", _one_line(record.issuing_body)))
    if record.journal:
        lines.append(("JO", _one_line(record.journal)))
    if record.journal_abbreviation:
        lines.append(("J2", _one_line(record.journal_abbreviation)))
    if record.publication_year:
        lines.append(("PY", str(record.publication_year)))
    if record.publication_date_raw:
        lines.append(("DA", _one_line(record.publication_date_raw)))
    if record.abstract:
        lines.append(("AB", _one_line(record.abstract)))
    lines.extend(("KW", term) for term in _mesh_terms(record))
    lines.extend(("KW", _one_line(keyword)) for keyword in record.keywords or [] if _one_line(keyword))
    if record.doi:
        lines.append(("DO", _one_line(record.doi)))
    if record.pmid:
        lines.append(("AN", f"PMID:{record.pmid}"))
    if record.pmcid:
        lines.append(("C2", _one_line(record.pmcid)))
    if record.language:
        lines.append(("LA", _one_line(record.language)))
    url = _source_url(record)
    if url:
        lines.append(("UR", url))
    lines.append(("ER", ""))
    return "".join(f"{tag}  - {value}\n" for tag, value in lines)


def records_to_ris(records: Iterable[CitableRecord]) -> str:
    """Return RIS text for the records, one entry each, separated by a blank line."""
    return "\n".join(record_to_ris(record) for record in records)


_BIBTEX_SPECIAL = {
    "\\": r"\textbackslash{}",
    # BibTeX counts braces even after a backslash, so a lone "\}" would end the field early.
    "{": r"\textbraceleft{}",
    "}": r"\textbraceright{}",
    "%": r"\%",
    "&": r"\&",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
}


def bibtex_escape(value: object) -> str:
    """Escape LaTeX special characters so the value is safe inside ``{...}``."""
    return "".join(_BIBTEX_SPECIAL.get(char, char) for char in _one_line(value))


def bibtex_key(record: CitableRecord) -> str:
    """Return a citation key: ``pmid<PMID>`` or ``<source><id>`` with only safe characters."""
    raw = f"pmid{record.pmid}" if record.pmid else f"{record.source}{record.source_id}"
    return re.sub(r"[^A-Za-z0-9_:-]", "", raw) or "record"


def record_to_bibtex(record: CitableRecord) -> str:
    """Return one BibTeX entry for a record."""
    entry_type = "misc" if record.kind == "guideline" else "article"
    fields: list[tuple[str, str]] = []
    title = bibtex_escape(record.title)
    # Double braces keep capitalisation (drug names, acronyms) as written.
    fields.append(("title", "{" + (f"[Retracted] {title}" if record.retracted else title) + "}"))
    authors = _author_names(record)
    if authors:
        fields.append(("author", " and ".join(bibtex_escape(name) for name in authors)))
    if record.journal:
        fields.append(("journal", bibtex_escape(record.journal)))
    if record.kind == "guideline" and record.issuing_body:
        fields.append(("publisher", bibtex_escape(record.issuing_body)))
    if record.publication_year:
        fields.append(("year", str(record.publication_year)))
    if record.doi:
        fields.append(("doi", bibtex_escape(record.doi)))
    if record.pmid:
        fields.append(("pmid", bibtex_escape(record.pmid)))
    if record.pmcid:
        fields.append(("pmcid", bibtex_escape(record.pmcid)))
    url = _source_url(record)
    if url:
        fields.append(("url", bibtex_escape(url)))
    if record.language:
        fields.append(("language", bibtex_escape(record.language)))
    keywords = _mesh_terms(record) + [_one_line(keyword) for keyword in record.keywords or [] if _one_line(keyword)]
    if keywords:
        fields.append(("keywords", bibtex_escape(", ".join(keywords))))
    if record.abstract:
        fields.append(("abstract", bibtex_escape(record.abstract)))
    body = ",\n".join(f"  {name} = {{{value}}}" for name, value in fields)
    return f"@{entry_type}{{{bibtex_key(record)},\n{body}\n}}\n"


def records_to_bibtex(records: Iterable[CitableRecord]) -> str:
    """Return BibTeX text for the records, one entry each, separated by a blank line."""
    return "\n".join(record_to_bibtex(record) for record in records)
