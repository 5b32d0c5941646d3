"""What a search backend stores for one record: text fields, filter fields and a vector."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class IndexDocument:
    """One record as every backend indexes it. ``doc_id`` is the record's ``uid``."""

    doc_id: str
    title: str
    abstract: str = ""
    mesh_terms: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()
    evidence_level: str = "unknown"
    publication_year: int | None = None
    publication_types: tuple[str, ...] = ()
    journal: str = ""
    language: str = ""
    free_full_text: bool = False
    retracted: bool = False
    content_hash: str = ""
    vector: tuple[float, ...] | None = field(default=None, compare=False)
    # The model that produced ``vector``; backends store it and refuse a mismatch.
    vector_model: str = field(default="", compare=False)
