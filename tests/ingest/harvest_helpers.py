"""Shared pieces of the harvest tests: which real records the local E-utilities server serves."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.ingest.eutils_server import Article, EutilsServer, read_articles

# Real PubMed efetch/baseline files of ../shared/data/pubmed/xml, about 240 records in all.
SERVED_FILES = (
    "mattgrayson__pubmed__example-data--efetch.xml.gz",
    "net-synergy__pubmedparser__data--pubmed21n1004.xml.gz",
    "PathwayCommons__ncbiutils__tests--data--multiple.xml.gz",
)


def served_articles(shared_data: Path, names: tuple[str, ...] = SERVED_FILES) -> list[Article]:
    return read_articles(shared_data / "pubmed" / "xml" / name for name in names)


@pytest.fixture
def eutils_server() -> Iterator[EutilsServer]:
    server = EutilsServer().start()
    try:
        yield server
    finally:
        server.stop()


def stored_pmids() -> list[str]:
    from records.models import EvidenceRecord

    return list(
        EvidenceRecord.objects.filter(source="pubmed", deleted_at__isnull=True).values_list("source_id", flat=True)
    )
