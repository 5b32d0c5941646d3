"""What a search backend stores for one record: text fields, filter fields and a vector."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

# Tag names a backend reports as facets (facet name = tag name).
TAG_FACETS = ("kind", "issuer", "strength")


def tag_facets(tag_lists: Iterable[Iterable[str]]) -> dict[str, dict[str, int]]:
    """Return {facet: {value: count}} over the tags of each document (each tag counted once per doc)."""
    facets: dict[str, dict[str, int]] = {name: {} for name in TAG_FACETS}
    for tags in tag_lists:
        for tag in set(tags):
            name, _, value = tag.partition(":")
            counts = facets.get(name)
            if counts is not None and value:
                counts[value] = counts.get(value, 0) + 1
    return facets


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
    # Exact ``name:value`` keywords filtered and counted as facets (``kind:recommendation``,
    # ``issuer:...``, ``strength:strong``); the names are TAG_FACETS.
    tags: tuple[str, ...] = ()
    content_hash: str = ""
    vector: tuple[float, ...] | None = field(default=None, compare=False)
    # The model that produced ``vector``; backends store it and refuse a mismatch.
    vector_model: str = field(default="", compare=False)
