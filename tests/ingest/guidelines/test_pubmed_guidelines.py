from __future__ import annotations

from datetime import date

from ingest.guidelines.pubmed import guideline_from_pubmed
from records.types import AbstractSection, ParsedRecord


def _record(types, sections):
    return ParsedRecord(
        source="pubmed",
        source_id="123",
        title="Guideline on X",
        publication_types=types,
        abstract_sections=tuple(AbstractSection(label=label, text=text) for label, text in sections),
        doi="10.1/x",
        publication_date=date(2020, 5, 1),
    )


def test_articles_are_not_guidelines():
    assert guideline_from_pubmed(_record(("Journal Article",), [("", "text")])) is None


def test_guideline_abstract_recommendations_are_split_and_doi_kept():
    record = _record(
        ("Practice Guideline", "Journal Article"),
        [
            ("BACKGROUND", "X is common."),
            (
                "RECOMMENDATIONS",
                "We recommend A for adults (strong recommendation, high-quality evidence). "
                "We suggest against B (weak recommendation, low-quality evidence).",
            ),
        ],
    )
    g = guideline_from_pubmed(record)
    assert g is not None and (g.doi, g.year, g.source) == ("10.1/x", 2020, "pubmed")
    assert "RECOMMENDATIONS" in g.sections
    assert [(r.strength, r.certainty, r.direction) for r in g.recommendations] == [
        ("strong", "high", "for"),
        ("conditional", "low", "against"),
    ]


def test_consensus_statement_without_recommendations_keeps_the_abstract():
    g = guideline_from_pubmed(_record(("Consensus Development Conference",), [("", "A panel met in 2019.")]))
    assert g is not None and g.recommendations == () and g.summary == "A panel met in 2019."
