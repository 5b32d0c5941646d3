"""Plain data that parsers produce and the record model stores."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from datetime import date
from typing import Any


@dataclass(frozen=True)
class AbstractSection:
    """One labelled part of a structured abstract (label as printed, NLM category if any)."""

    text: str
    label: str = ""
    category: str = ""


@dataclass(frozen=True)
class MeshHeading:
    """A MeSH descriptor with its major-topic flag and qualifiers as (name, major) pairs."""

    descriptor: str
    major: bool = False
    qualifiers: tuple[tuple[str, bool], ...] = ()


@dataclass(frozen=True)
class ParsedRecord:
    """One citable item as a parser read it, before it is stored.

    ``source`` and ``source_id`` identify it (``pubmed``/PMID, ``uspstf``/id, ...).
    """

    source: str
    source_id: str
    title: str
    kind: str = "article"
    abstract_sections: tuple[AbstractSection, ...] = ()
    journal: str = ""
    journal_abbreviation: str = ""
    publication_date: date | None = None
    publication_date_raw: str = ""
    authors: tuple[str, ...] = ()
    doi: str = ""
    pmcid: str = ""
    languages: tuple[str, ...] = ()
    publication_types: tuple[str, ...] = ()
    mesh_headings: tuple[MeshHeading, ...] = ()
    keywords: tuple[str, ...] = ()
    publication_status: str = ""
    retracted: bool = False
    retraction_notice: bool = False
    has_erratum: bool = False
    comments_corrections: tuple[tuple[str, str], ...] = ()
    issuing_body: str = ""
    recommendation_text: str = ""
    url: str = ""
    source_version: int = 1

    @property
    def abstract(self) -> str:
        """Return the abstract as plain text, sections joined with their labels."""
        parts = []
        for section in self.abstract_sections:
            parts.append(f"{section.label}: {section.text}" if section.label else section.text)
        return "\n".join(parts)

    @property
    def pmid(self) -> str | None:
        return self.source_id if self.source == "pubmed" else None

    def content_hash(self) -> str:
        """Return a stable SHA-256 of everything the record says (not when it was harvested)."""
        payload = json.dumps(_plain(dataclasses.asdict(self)), sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    if isinstance(value, date):
        return value.isoformat()
    return value


@dataclass
class ParseProblem:
    """A record or file the parser could not use, and why (shown to the person loading)."""

    location: str
    reason: str
    source_id: str = ""


@dataclass
class LoadCounts:
    """Counts a load or harvest reports."""

    read: int = 0
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    skipped: int = 0
    problems: list[ParseProblem] = field(default_factory=list)

    def add(self, other: LoadCounts) -> None:
        self.read += other.read
        self.new += other.new
        self.updated += other.updated
        self.unchanged += other.unchanged
        self.deleted += other.deleted
        self.skipped += other.skipped
        self.problems.extend(other.problems)


@dataclass(frozen=True)
class DeletedCitation:
    """A ``<DeleteCitation>`` entry of a PubMed update file: the record must be tombstoned."""

    source: str
    source_id: str


ParsedItem = ParsedRecord | DeletedCitation | ParseProblem
