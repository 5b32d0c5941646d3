"""PubMed records typed as guidelines become guidelines through the hand-off."""

from __future__ import annotations

import pytest

from guidelines.models import Guideline
from guidelines.services import guidelines_from_pubmed
from records.models import EvidenceRecord
from tests.factories import EvidenceRecordFactory

pytestmark = pytest.mark.django_db

ABSTRACT = [
    {"label": "BACKGROUND", "category": "BACKGROUND", "text": "Asthma is common in adults."},
    {
        "label": "RECOMMENDATIONS",
        "category": "CONCLUSIONS",
        "text": (
            "1. We recommend inhaled corticosteroids for adults with persistent asthma "
            "(strong recommendation, moderate-quality evidence).\n"
            "2. We suggest against long-acting beta agonists without inhaled corticosteroids "
            "(conditional recommendation, low-quality evidence)."
        ),
    },
]


def test_a_pubmed_practice_guideline_gets_its_recommendations_split_out() -> None:
    article = EvidenceRecordFactory(
        source="pubmed",
        source_id="31000001",
        pmid="31000001",
        title="Management of persistent asthma in adults: a clinical practice guideline",
        abstract_sections=ABSTRACT,
        abstract="",
        publication_types=["Journal Article", "Practice Guideline"],
        publication_date=None,
        publication_date_raw="2020 Mar",
        doi="10.1000/asthma.2020",
    )
    other = EvidenceRecordFactory(source="pubmed", source_id="31000002", publication_types=["Journal Article"])
    changed = guidelines_from_pubmed(record_ids=[article.pk, other.pk])
    guideline = Guideline.objects.get()
    assert (guideline.source, guideline.source_id, guideline.year) == ("pubmed", "31000001", 2020)
    recs = EvidenceRecord.objects.filter(guideline=guideline).order_by("source_id")
    assert sorted(changed) == sorted(r.pk for r in recs)
    assert [
        (r.recommendation["strength"], r.recommendation["certainty"], r.recommendation["direction"]) for r in recs
    ] == [
        ("strong", "moderate", "for"),
        ("conditional", "low", "against"),
    ]
    assert guidelines_from_pubmed(record_ids=[article.pk]) == []  # idempotent
